/* The collected-object contract: dispatch through each type's vtable, the chunked encoding shared by all
 * types (a header chunk with magic, version, kind, type name, title and shape; then content chunks), and
 * the little-endian helpers. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collector/object_internal.h"

#define OBJ_MAGIC 0x4a424f43u /* "COBJ" */
#define OBJ_VERSION 1u

/* ---- Encoding helpers ---- */

static bool buf_reserve(obj_buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->size + more <= b->capacity)
        return true;
    size_t cap = b->capacity ? b->capacity : 256;
    while (cap < b->size + more)
        cap *= 2;
    unsigned char *n = realloc(b->data, cap);
    if (!n) {
        b->failed = true;
        return false;
    }
    b->data = n;
    b->capacity = cap;
    return true;
}

void obj_buf_put(obj_buf *b, const void *data, size_t size)
{
    if (size && buf_reserve(b, size)) {
        memcpy(b->data + b->size, data, size);
        b->size += size;
    }
}

void obj_buf_u32(obj_buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    obj_buf_put(b, x, 4);
}

void obj_buf_u64(obj_buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    obj_buf_put(b, x, 8);
}

void obj_buf_f64(obj_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    obj_buf_u64(b, u);
}

void obj_buf_str(obj_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    obj_buf_u32(b, (uint32_t)n);
    obj_buf_put(b, s, n);
}

void obj_buf_values(obj_buf *b, const void *v, size_t n, size_t elem)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    obj_buf_put(b, v, n * elem);
#else
    if (!buf_reserve(b, n * elem))
        return;
    const unsigned char *src = v;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < elem; k++)
            b->data[b->size++] = src[i * elem + elem - 1 - k];
#endif
}

void obj_buf_f64s(obj_buf *b, const double *v, size_t n)
{
    obj_buf_values(b, v, n, sizeof *v);
}

void obj_buf_free(obj_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static bool rd_take(obj_rd *r, size_t n, const unsigned char **p)
{
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return false;
    }
    *p = r->p;
    r->p += n;
    return true;
}

uint32_t obj_rd_u32(obj_rd *r)
{
    const unsigned char *p;
    if (!rd_take(r, 4, &p))
        return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t obj_rd_u64(obj_rd *r)
{
    const unsigned char *p;
    if (!rd_take(r, 8, &p))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

double obj_rd_f64(obj_rd *r)
{
    uint64_t u = obj_rd_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

char *obj_rd_str(obj_rd *r)
{
    uint32_t n = obj_rd_u32(r);
    const unsigned char *p;
    if (!rd_take(r, n, &p))
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->failed = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

bool obj_rd_values(obj_rd *r, void *v, size_t n, size_t elem)
{
    if (elem && n > SIZE_MAX / elem) {
        r->failed = true;
        return false;
    }
    const unsigned char *p;
    if (!rd_take(r, n * elem, &p))
        return false;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n)
        memcpy(v, p, n * elem);
#else
    unsigned char *dst = v;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < elem; k++)
            dst[i * elem + k] = p[i * elem + elem - 1 - k];
#endif
    return true;
}

bool obj_rd_f64s(obj_rd *r, double *v, size_t n)
{
    return obj_rd_values(r, v, n, sizeof *v);
}

const char *obj_printable(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n)
        buf[i] = '\0';
    return buf;
}

caf_status obj_emit(obj_buf *b, caf_chunk_sink sink, void *ud, caf_error *err)
{
    if (b->failed)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory while encoding an object");
    return sink(ud, b->data, b->size, err);
}

/* ---- Shared helpers of the binned types ---- */

caf_status obj_check_axis(const char *what, int nbins, double low, double high, caf_error *err)
{
    if (nbins < 1 || nbins > 100000000)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: number of bins %d is not in 1..100000000", what, nbins);
    if (!isfinite(low) || !isfinite(high) || !(low < high))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: axis range [%g, %g) is empty or not finite", what, low, high);
    return CAF_OK;
}

int obj_axis_bin(int n, double low, double high, double x)
{
    if (isnan(x))
        return -1;
    if (x < low)
        return 0;
    if (x >= high)
        return n + 1;
    int b = 1 + (int)((x - low) / (high - low) * n);
    return b > n ? n : b; /* rounding just below high */
}

bool obj_axes_equal(const char *what, int na, double la, double ha, int nb, double lb, double hb, caf_error *err)
{
    if (na == nb && la == lb && ha == hb)
        return true;
    caf_error_set(err, CAF_ERR_INVALID, "%s differs: %d bins [%g, %g) vs %d bins [%g, %g)", what, na, la, ha, nb, lb,
                  hb);
    return false;
}

void obj_expect(const caf_object *obj, caf_object_kind kind, const char *fn)
{
    if (!obj || obj->vt->kind != kind) {
        fprintf(stderr, "caf: %s called on a %s\n", fn, obj ? caf_object_type_name(obj) : "NULL object");
        abort();
    }
}

void obj_print_bins(FILE *out, int n, double low, double high, const double *w, const double *w2)
{
    double width = (high - low) / n;
    fprintf(out, "  underflow %-14g +- %g\n", w[0], sqrt(w2[0]));
    for (int i = 1; i <= n; i++)
        if (w[i] != 0 || w2[i] != 0)
            fprintf(out, "  bin %-6d [%g, %g) %-14g +- %g\n", i, low + (i - 1) * width, low + i * width, w[i],
                    sqrt(w2[i]));
    fprintf(out, "  overflow  %-14g +- %g\n", w[n + 1], sqrt(w2[n + 1]));
}

/* ---- The contract ---- */

const struct obj_vtable *obj_vtable_of_kind(uint32_t kind)
{
    switch (kind) {
    case CAF_OBJECT_HIST1D: return obj_hist1d_vtable();
    case CAF_OBJECT_HIST2D: return obj_hist2d_vtable();
    case CAF_OBJECT_PROFILE: return obj_profile_vtable();
    case CAF_OBJECT_COUNTER: return obj_counter_vtable();
    case CAF_OBJECT_NTUPLE: return obj_ntuple_vtable();
    case CAF_OBJECT_USER: return obj_user_object_vtable();
    default: return NULL;
    }
}

caf_object *obj_alloc(const struct obj_vtable *vt, const char *title)
{
    caf_object *o = calloc(1, vt->size);
    if (!o)
        return NULL;
    o->vt = vt;
    o->title = strdup(title ? title : "");
    if (!o->title) {
        free(o);
        return NULL;
    }
    return o;
}

caf_object_kind caf_object_kind_of(const caf_object *obj)
{
    return obj->vt->kind;
}

const char *caf_object_title(const caf_object *obj)
{
    return obj->title;
}

caf_status caf_object_set_title(caf_object *obj, const char *title, caf_error *err)
{
    char *t = strdup(title ? title : "");
    if (!t)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(obj->title);
    obj->title = t;
    return CAF_OK;
}

void caf_object_free(caf_object *obj)
{
    if (!obj)
        return;
    obj->vt->free_content(obj);
    free(obj->title);
    free(obj);
}

caf_status caf_object_clone_empty(const caf_object *tmpl, caf_object **out, caf_error *err)
{
    *out = NULL;
    caf_object *o = obj_alloc(tmpl->vt, tmpl->title);
    if (!o)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status st = tmpl->vt->init_like(o, tmpl, err);
    if (st != CAF_OK) {
        caf_object_free(o);
        return st;
    }
    *out = o;
    return CAF_OK;
}

caf_status caf_object_clone(const caf_object *obj, caf_object **out, caf_error *err)
{
    caf_status st = caf_object_clone_empty(obj, out, err);
    if (st != CAF_OK)
        return st;
    st = obj->vt->merge_one(*out, obj, err);
    if (st != CAF_OK) {
        caf_object_free(*out);
        *out = NULL;
    }
    return st;
}

void caf_object_reset(caf_object *obj)
{
    obj->vt->reset(obj);
}

bool caf_object_is_empty(const caf_object *obj)
{
    return obj->vt->is_empty(obj);
}

bool caf_object_compatible(const caf_object *a, const caf_object *b, caf_error *err)
{
    if (a->vt->kind != b->vt->kind) {
        caf_error_set(err, CAF_ERR_INVALID, "type differs: %s vs %s", caf_object_type_name(a), caf_object_type_name(b));
        return false;
    }
    return a->vt->compatible(a, b, err);
}

caf_status caf_object_merge(caf_object *into, const caf_object *const *others, size_t count, caf_error *err)
{
    for (size_t i = 0; i < count; i++)
        if (!caf_object_compatible(into, others[i], err))
            return caf_error_prefix(err, "cannot merge object %zu of %zu: ", i + 1, count);
    for (size_t i = 0; i < count; i++) {
        caf_status st = into->vt->merge_one(into, others[i], err);
        if (st != CAF_OK)
            return st;
    }
    return CAF_OK;
}

static void write_header(const caf_object *obj, obj_buf *b)
{
    obj_buf_u32(b, OBJ_MAGIC);
    obj_buf_u32(b, OBJ_VERSION);
    obj_buf_u32(b, (uint32_t)obj->vt->kind);
    obj_buf_str(b, caf_object_type_name(obj));
    obj_buf_str(b, obj->title);
    obj->vt->write_shape(obj, b);
}

caf_status caf_object_write(const caf_object *obj, caf_chunk_sink sink, void *userdata, caf_error *err)
{
    obj_buf b = {0};
    write_header(obj, &b);
    caf_status st = obj_emit(&b, sink, userdata, err);
    obj_buf_free(&b);
    if (st == CAF_OK)
        st = obj->vt->write_content(obj, sink, userdata, err);
    return st;
}

/* Reads the header chunk and makes an empty object of its type and shape. */
static caf_status read_header(const void *data, size_t size, caf_object **out, caf_error *err)
{
    obj_rd r = {data, (const unsigned char *)data + size, false};
    uint32_t magic = obj_rd_u32(&r), version = obj_rd_u32(&r), kind = obj_rd_u32(&r);
    if (r.failed || magic != OBJ_MAGIC)
        return caf_error_set(err, CAF_ERR_FORMAT, "not a collected object (bad magic)");
    if (version != OBJ_VERSION)
        return caf_error_set(err, CAF_ERR_FORMAT, "collected object format version %u is not supported (this caf reads %u)",
                             version, OBJ_VERSION);
    const struct obj_vtable *vt = obj_vtable_of_kind(kind);
    if (!vt)
        return caf_error_set(err, CAF_ERR_FORMAT, "unknown collected object kind %u", kind);
    char *type_name = obj_rd_str(&r);
    char *title = obj_rd_str(&r);
    caf_status st = CAF_OK;
    caf_object *o = NULL;
    if (r.failed) {
        st = caf_error_set(err, CAF_ERR_FORMAT, "truncated collected-object header");
    } else if (vt->type_name && strcmp(vt->type_name, type_name) != 0) {
        char shown[128];
        st = caf_error_set(err, CAF_ERR_FORMAT, "collected object of kind %u calls itself '%s'", kind,
                           obj_printable(type_name, shown, sizeof shown));
    } else if (!(o = obj_alloc(vt, title))) {
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    } else {
        st = vt->read_shape(o, type_name, &r, err);
        if (st == CAF_OK && r.failed)
            st = caf_error_set(err, CAF_ERR_FORMAT, "truncated %s shape", type_name);
    }
    free(type_name);
    free(title);
    if (st != CAF_OK) {
        caf_object_free(o);
        return st;
    }
    *out = o;
    return CAF_OK;
}

caf_status caf_object_read(caf_chunk_source source, void *userdata, caf_object **out, caf_error *err)
{
    *out = NULL;
    const void *data;
    size_t size;
    caf_status st = source(userdata, &data, &size, err);
    if (st != CAF_OK)
        return st;
    if (!size)
        return caf_error_set(err, CAF_ERR_FORMAT, "collected object has no header");
    caf_object *o = NULL;
    if ((st = read_header(data, size, &o, err)) != CAF_OK)
        return st;
    size_t content_chunks = 0;
    for (;;) {
        if ((st = source(userdata, &data, &size, err)) != CAF_OK)
            break;
        if (!size)
            break;
        if ((st = o->vt->read_content(o, data, size, err)) != CAF_OK)
            break;
        content_chunks++;
    }
    /* Fixed-size types always write exactly one content chunk; ntuples and user objects any number. */
    bool fixed = o->vt->kind != CAF_OBJECT_NTUPLE && o->vt->kind != CAF_OBJECT_USER;
    if (st == CAF_OK && fixed && content_chunks != 1)
        st = caf_error_set(err, CAF_ERR_FORMAT, "%s has %zu content chunks, not 1", caf_object_type_name(o),
                           content_chunks);
    if (st != CAF_OK) {
        caf_object_free(o);
        return st;
    }
    *out = o;
    return CAF_OK;
}

/* A source whose first chunk was already taken: hands it out again, then continues with the source. */
typedef struct replay {
    const void *first;
    size_t first_size;
    bool replayed;
    caf_chunk_source source;
    void *ud;
} replay;

static caf_status replay_source(void *ud, const void **data, size_t *size, caf_error *err)
{
    replay *r = ud;
    if (!r->replayed) {
        r->replayed = true;
        *data = r->first;
        *size = r->first_size;
        return CAF_OK;
    }
    return r->source(r->ud, data, size, err);
}

caf_status obj_merge_from_source(caf_object *acc, caf_chunk_source source, void *ud, caf_error *err)
{
    const void *data;
    size_t size;
    caf_status st = source(ud, &data, &size, err);
    if (st != CAF_OK)
        return st;
    if (!size)
        return caf_error_set(err, CAF_ERR_FORMAT, "collected object has no header");
    bool direct = false;
    if (acc->vt->add_content) {
        obj_buf h = {0};
        write_header(acc, &h);
        direct = !h.failed && h.size == size && memcmp(h.data, data, size) == 0;
        obj_buf_free(&h);
    }
    if (!direct) {
        /* The header may live in the source's buffer only until the next call: keep a copy. */
        void *copy = malloc(size);
        if (!copy)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        memcpy(copy, data, size);
        replay r = {copy, size, false, source, ud};
        caf_object *obj;
        st = caf_object_read(replay_source, &r, &obj, err);
        free(copy);
        if (st != CAF_OK)
            return st;
        const caf_object *list[1] = {obj};
        st = caf_object_merge(acc, list, 1, err);
        caf_object_free(obj);
        return st;
    }
    size_t chunks = 0;
    while ((st = source(ud, &data, &size, err)) == CAF_OK && size) {
        if ((st = acc->vt->add_content(acc, data, size, err)) != CAF_OK)
            return st;
        chunks++;
    }
    if (st == CAF_OK && chunks != 1)
        st = caf_error_set(err, CAF_ERR_FORMAT, "%s has %zu content chunks, not 1", caf_object_type_name(acc), chunks);
    return st;
}

/* ---- Single-buffer form: chunks with 8-byte length prefixes ---- */

static caf_status bytes_sink(void *ud, const void *data, size_t size, caf_error *err)
{
    obj_buf *b = ud;
    obj_buf_u64(b, size);
    obj_buf_put(b, data, size);
    return b->failed ? caf_error_set(err, CAF_ERR_NOMEM, "out of memory") : CAF_OK;
}

caf_status caf_object_to_bytes(const caf_object *obj, void **data, size_t *size, caf_error *err)
{
    obj_buf b = {0};
    caf_status st = caf_object_write(obj, bytes_sink, &b, err);
    if (st != CAF_OK) {
        obj_buf_free(&b);
        return st;
    }
    *data = b.data;
    *size = b.size;
    return CAF_OK;
}

static caf_status bytes_source(void *ud, const void **data, size_t *size, caf_error *err)
{
    obj_rd *r = ud;
    *data = NULL;
    *size = 0;
    if (r->p == r->end)
        return CAF_OK;
    uint64_t n = obj_rd_u64(r);
    const unsigned char *p;
    if (r->failed || !rd_take(r, (size_t)n, &p) || n == 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "truncated collected-object bytes");
    *data = p;
    *size = (size_t)n;
    return CAF_OK;
}

caf_status caf_object_from_bytes(const void *data, size_t size, caf_object **out, caf_error *err)
{
    obj_rd r = {data, (const unsigned char *)data + size, false};
    return caf_object_read(bytes_source, &r, out, err);
}

/* ---- Printing ---- */

caf_status caf_object_print(const caf_object *obj, FILE *out, long max_rows, caf_error *err)
{
    fprintf(out, "%s", caf_object_type_name(obj));
    if (obj->title[0])
        fprintf(out, " \"%s\"", obj->title);
    obj->vt->print(obj, out, max_rows);
    if (ferror(out))
        return caf_error_errno(err, errno, "writing the printed object");
    return CAF_OK;
}

json_t *caf_object_to_json(const caf_object *obj, long max_rows)
{
    json_t *o = json_pack("{s:s, s:s}", "type", caf_object_type_name(obj), "title", obj->title);
    if (o)
        obj->vt->to_json(obj, o, max_rows);
    return o;
}
