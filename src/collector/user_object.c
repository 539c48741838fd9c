/* User objects: opaque bytes plus a merge function found by type name in the user-type registry. */
#include <stdlib.h>
#include <string.h>

#include "collector/object_internal.h"
#include "collector/object_registry.h"

typedef struct user_object {
    caf_object base;
    char *type_name;
    caf_user_bytes bytes;
} user_object;

static user_object *uo(const caf_object *obj, const char *fn)
{
    obj_expect(obj, CAF_OBJECT_USER, fn);
    return (user_object *)obj;
}

static caf_status user_init_like(caf_object *dst, const caf_object *src, caf_error *err)
{
    user_object *d = (user_object *)dst;
    if (!(d->type_name = strdup(((const user_object *)src)->type_name)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return CAF_OK;
}

static void user_free(caf_object *obj)
{
    user_object *u = (user_object *)obj;
    free(u->type_name);
    free(u->bytes.data);
}

static void user_reset(caf_object *obj)
{
    user_object *u = (user_object *)obj;
    free(u->bytes.data);
    u->bytes = (caf_user_bytes){0};
}

static bool user_compatible(const caf_object *a, const caf_object *b, caf_error *err)
{
    const user_object *x = (const user_object *)a, *y = (const user_object *)b;
    if (strcmp(x->type_name, y->type_name)) {
        caf_error_set(err, CAF_ERR_INVALID, "user type differs: %s vs %s", x->type_name, y->type_name);
        return false;
    }
    return true;
}

static caf_status user_merge_one(caf_object *into, const caf_object *other, caf_error *err)
{
    user_object *d = (user_object *)into;
    const user_object *s = (const user_object *)other;
    if (d->bytes.size == 0 && s->bytes.size) /* an empty accumulator takes the other's bytes as they are */
        return caf_user_object_set(into, s->bytes.data, s->bytes.size, err);
    if (s->bytes.size == 0)
        return CAF_OK;
    caf_user_type type;
    if (!registry_user_type(d->type_name, &type))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "cannot merge objects of user type '%s': the type is not registered",
                             d->type_name);
    caf_status st = type.merge(&d->bytes, &s->bytes, type.userdata, err);
    if (st != CAF_OK)
        caf_error_prefix(err, "merging user type '%s': ", d->type_name);
    return st;
}

static bool user_is_empty(const caf_object *obj)
{
    return ((const user_object *)obj)->bytes.size == 0;
}

static void user_write_shape(const caf_object *obj, obj_buf *b)
{
    (void)obj, (void)b; /* the type name in the header is the whole shape */
}

static caf_status user_read_shape(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err)
{
    (void)r;
    char shown[128];
    if (!registry_valid_user_type_name(type_name))
        return caf_error_set(err, CAF_ERR_FORMAT, "bad user type name '%s'", obj_printable(type_name, shown, sizeof shown));
    user_object *u = (user_object *)obj;
    if (!(u->type_name = strdup(type_name)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return CAF_OK;
}

static caf_status user_write_content(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err)
{
    const user_object *u = (const user_object *)obj;
    for (size_t off = 0; off < u->bytes.size; off += CAF_OBJECT_CHUNK_MAX) {
        size_t n = u->bytes.size - off < CAF_OBJECT_CHUNK_MAX ? u->bytes.size - off : CAF_OBJECT_CHUNK_MAX;
        caf_status st = sink(ud, u->bytes.data + off, n, err);
        if (st != CAF_OK)
            return st;
    }
    return CAF_OK;
}

static caf_status user_read_content(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    return caf_user_object_append(obj, data, size, err);
}

static void hex_dump(const caf_user_bytes *b, FILE *out)
{
    size_t shown = b->size < 256 ? b->size : 256;
    for (size_t i = 0; i < shown; i++)
        fprintf(out, "%s%02x", i % 32 == 0 ? "\n  " : "", b->data[i]);
    fprintf(out, "%s\n", shown < b->size ? "\n  ..." : "");
}

static void user_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const user_object *u = (const user_object *)obj;
    fprintf(out, ": user object, %zu bytes", u->bytes.size);
    caf_user_type type;
    if (registry_user_type(u->type_name, &type) && type.print) {
        fputc('\n', out);
        type.print(&u->bytes, out, type.userdata);
    } else {
        hex_dump(&u->bytes, out);
    }
}

static void user_to_json(const caf_object *obj, json_t *o, long max_rows)
{
    (void)max_rows;
    const user_object *u = (const user_object *)obj;
    json_object_set_new(o, "size", json_integer((json_int_t)u->bytes.size));
    size_t shown = u->bytes.size < 4096 ? u->bytes.size : 4096;
    char *hex = malloc(2 * shown + 1);
    if (!hex)
        return;
    for (size_t i = 0; i < shown; i++)
        snprintf(hex + 2 * i, 3, "%02x", u->bytes.data[i]);
    hex[2 * shown] = '\0';
    json_object_set_new(o, "hex", json_string(hex));
    json_object_set_new(o, "truncated", json_boolean(shown < u->bytes.size));
    free(hex);
}

static const struct obj_vtable user_object_vtable = {
    .kind = CAF_OBJECT_USER,
    .type_name = NULL,
    .size = sizeof(user_object),
    .init_like = user_init_like,
    .free_content = user_free,
    .reset = user_reset,
    .compatible = user_compatible,
    .merge_one = user_merge_one,
    .is_empty = user_is_empty,
    .write_shape = user_write_shape,
    .read_shape = user_read_shape,
    .write_content = user_write_content,
    .read_content = user_read_content,
    .print = user_print,
    .to_json = user_to_json,
};

const char *user_object_type_name(const caf_object *obj)
{
    return ((const user_object *)obj)->type_name;
}

caf_status caf_user_object_new(const char *type_name, const char *title, caf_object **out, caf_error *err)
{
    *out = NULL;
    if (!registry_valid_user_type_name(type_name))
        return caf_error_set(err, CAF_ERR_INVALID, "user type name '%s' is not letters, digits, '_', '.', ':' or is taken "
                             "by a built-in type", type_name ? type_name : "");
    user_object *u = (user_object *)obj_alloc(&user_object_vtable, title);
    if (!u)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (!(u->type_name = strdup(type_name))) {
        caf_object_free(&u->base);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *out = &u->base;
    return CAF_OK;
}

const caf_user_bytes *caf_user_object_bytes(const caf_object *obj)
{
    return &uo(obj, __func__)->bytes;
}

caf_status caf_user_object_set(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    user_object *u = uo(obj, __func__);
    unsigned char *copy = NULL;
    if (size && !(copy = malloc(size)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory for %zu bytes", size);
    if (size)
        memcpy(copy, data, size);
    free(u->bytes.data);
    u->bytes = (caf_user_bytes){copy, size};
    return CAF_OK;
}

caf_status caf_user_object_append(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    user_object *u = uo(obj, __func__);
    if (!size)
        return CAF_OK;
    unsigned char *n = realloc(u->bytes.data, u->bytes.size + size);
    if (!n)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory for %zu bytes", u->bytes.size + size);
    memcpy(n + u->bytes.size, data, size);
    u->bytes.data = n;
    u->bytes.size += size;
    return CAF_OK;
}

const struct obj_vtable *obj_user_object_vtable(void)
{
    return &user_object_vtable;
}
