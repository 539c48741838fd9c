/* Counters: an event count and a sum of weights. The count is exact, so a sum that leaves int64 is an
 * error (checked with the compiler's overflow builtins), never a wrapped or undefined value. */
#include <inttypes.h>

#include "collector/object_internal.h"

typedef struct counter {
    caf_object base;
    int64_t count;
    double sum;
    bool overflowed; /* a caf_counter_add left int64; the count is stuck at the limit */
} counter;

/* Fails naming the counter (by its title when it has one) and the two counts whose sum overflows. */
static caf_status overflow_error(const counter *c, int64_t a, int64_t b, caf_error *err)
{
    char shown[128];
    const char *title = obj_printable(caf_object_title(&c->base), shown, sizeof shown);
    return caf_error_set(err, CAF_ERR_INVALID, "counter%s%s%s: count %" PRId64 " + %" PRId64 " overflows 64 bits",
                         *title ? " '" : "", title, *title ? "'" : "", a, b);
}

static caf_status counter_init_like(caf_object *dst, const caf_object *src, caf_error *err)
{
    (void)dst, (void)src, (void)err;
    return CAF_OK;
}

static void counter_free(caf_object *obj)
{
    (void)obj;
}

static void counter_reset(caf_object *obj)
{
    counter *c = (counter *)obj;
    c->count = 0;
    c->sum = 0;
    c->overflowed = false;
}

static bool counter_compatible(const caf_object *a, const caf_object *b, caf_error *err)
{
    (void)a, (void)b, (void)err;
    return true;
}

static caf_status counter_merge_one(caf_object *into, const caf_object *other, caf_error *err)
{
    counter *c = (counter *)into;
    const counter *o = (const counter *)other;
    int64_t sum;
    if (c->overflowed || o->overflowed || __builtin_add_overflow(c->count, o->count, &sum))
        return overflow_error(c, c->count, o->count, err);
    c->count = sum;
    c->sum += o->sum;
    return CAF_OK;
}

static bool counter_is_empty(const caf_object *obj)
{
    return ((const counter *)obj)->count == 0 && ((const counter *)obj)->sum == 0;
}

static void counter_write_shape(const caf_object *obj, obj_buf *b)
{
    (void)obj, (void)b;
}

static caf_status counter_read_shape(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err)
{
    (void)obj, (void)type_name, (void)r, (void)err;
    return CAF_OK;
}

static caf_status counter_write_content(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err)
{
    const counter *c = (const counter *)obj;
    if (c->overflowed)
        return overflow_error(c, c->count, 0, err);
    obj_buf b = {0};
    obj_buf_u64(&b, (uint64_t)c->count);
    obj_buf_f64(&b, c->sum);
    caf_status st = obj_emit(&b, sink, ud, err);
    obj_buf_free(&b);
    return st;
}

static caf_status counter_read_content(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    counter *c = (counter *)obj;
    obj_rd r = {data, (const unsigned char *)data + size, false};
    c->count = (int64_t)obj_rd_u64(&r);
    c->sum = obj_rd_f64(&r);
    if (r.failed || r.p != r.end)
        return caf_error_set(err, CAF_ERR_FORMAT, "counter content has %zu bytes, not 16", size);
    return CAF_OK;
}

static void counter_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const counter *c = (const counter *)obj;
    fprintf(out, ": count %lld, sum of weights %g\n", (long long)c->count, c->sum);
}

static void counter_to_json(const caf_object *obj, json_t *o, long max_rows)
{
    (void)max_rows;
    const counter *c = (const counter *)obj;
    json_object_set_new(o, "count", json_integer(c->count));
    json_object_set_new(o, "sum", json_real(c->sum));
}

static const struct obj_vtable counter_vtable = {
    .kind = CAF_OBJECT_COUNTER,
    .type_name = "counter",
    .size = sizeof(counter),
    .init_like = counter_init_like,
    .free_content = counter_free,
    .reset = counter_reset,
    .compatible = counter_compatible,
    .merge_one = counter_merge_one,
    .is_empty = counter_is_empty,
    .write_shape = counter_write_shape,
    .read_shape = counter_read_shape,
    .write_content = counter_write_content,
    .read_content = counter_read_content,
    .print = counter_print,
    .to_json = counter_to_json,
};

caf_status caf_counter_new(const char *title, caf_object **out, caf_error *err)
{
    *out = obj_alloc(&counter_vtable, title);
    return *out ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

bool caf_counter_add(caf_object *obj, int64_t n, double w)
{
    obj_expect(obj, CAF_OBJECT_COUNTER, __func__);
    counter *c = (counter *)obj;
    c->sum += w;
    if (c->overflowed)
        return false;
    if (__builtin_add_overflow(c->count, n, &c->count)) {
        c->count = n < 0 ? INT64_MIN : INT64_MAX;
        c->overflowed = true;
        return false;
    }
    return true;
}

int64_t caf_counter_count(const caf_object *obj)
{
    obj_expect(obj, CAF_OBJECT_COUNTER, __func__);
    return ((const counter *)obj)->count;
}

double caf_counter_sum(const caf_object *obj)
{
    obj_expect(obj, CAF_OBJECT_COUNTER, __func__);
    return ((const counter *)obj)->sum;
}

const struct obj_vtable *obj_counter_vtable(void)
{
    return &counter_vtable;
}
