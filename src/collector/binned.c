/* Histograms and profiles share their storage (see binned.h), so merging, encoding and JSON are written
 * once here; the type files add filling and accessors. */
#include <stdlib.h>
#include <string.h>

#include "collector/binned.h"

/* Gives o its shape without allocating the cell arrays (binned_alloc does). */
static caf_status binned_shape(binned *o, int nx, double xlow, double xhigh, int ny, double ylow, double yhigh,
                               int narrays, caf_error *err)
{
    const char *what = caf_object_type_name(&o->base);
    caf_status st = obj_check_axis(what, nx, xlow, xhigh, err);
    if (st == CAF_OK && ny)
        st = obj_check_axis(what, ny, ylow, yhigh, err);
    if (st != CAF_OK)
        return st;
    o->nx = nx;
    o->ny = ny;
    o->xlow = xlow;
    o->xhigh = xhigh;
    o->ylow = ny ? ylow : 0;
    o->yhigh = ny ? yhigh : 0;
    o->ncells = (size_t)(nx + 2) * (ny ? (size_t)(ny + 2) : 1);
    if (o->ncells > 200000000)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: %zu cells are too many", what, o->ncells);
    o->narrays = narrays;
    return CAF_OK;
}

static caf_status binned_alloc(binned *o, caf_error *err)
{
    for (int i = 0; i < o->narrays; i++)
        if (!o->a[i] && !(o->a[i] = calloc(o->ncells, sizeof(double))))
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory for %zu bins", o->ncells);
    return CAF_OK;
}

caf_status binned_setup(binned *o, int nx, double xlow, double xhigh, int ny, double ylow, double yhigh,
                        int narrays, caf_error *err)
{
    caf_status st = binned_shape(o, nx, xlow, xhigh, ny, ylow, yhigh, narrays, err);
    return st == CAF_OK ? binned_alloc(o, err) : st;
}

/* Adds entry counts, failing (naming the object) where the sum would leave int64. */
static caf_status add_entries(binned *o, int64_t n, caf_error *err)
{
    int64_t sum;
    if (__builtin_add_overflow(o->entries, n, &sum)) {
        char shown[128];
        const char *title = obj_printable(caf_object_title(&o->base), shown, sizeof shown);
        return caf_error_set(err, CAF_ERR_INVALID, "%s%s%s%s: %lld + %lld entries overflow 64 bits",
                             caf_object_type_name(&o->base), *title ? " '" : "", title, *title ? "'" : "",
                             (long long)o->entries, (long long)n);
    }
    o->entries = sum;
    return CAF_OK;
}

caf_status binned_new(const struct obj_vtable *vt, const char *title, int nx, double xlow, double xhigh, int ny,
                      double ylow, double yhigh, int narrays, caf_object **out, caf_error *err)
{
    *out = NULL;
    binned *o = (binned *)obj_alloc(vt, title);
    if (!o)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status st = binned_setup(o, nx, xlow, xhigh, ny, ylow, yhigh, narrays, err);
    if (st != CAF_OK) {
        caf_object_free(&o->base);
        return st;
    }
    *out = &o->base;
    return CAF_OK;
}

long binned_cell(const binned *o, int ix, int iy)
{
    if (ix < 0 || ix > o->nx + 1)
        return -1;
    if (!o->ny)
        return iy == 0 ? ix : -1;
    if (iy < 0 || iy > o->ny + 1)
        return -1;
    return (long)iy * (o->nx + 2) + ix;
}

void binned_stats_fill(binned *o, double w, double x, double y)
{
    o->stats[STAT_W] += w;
    o->stats[STAT_WX] += w * x;
    o->stats[STAT_WX2] += w * x * x;
    o->stats[STAT_WY] += w * y;
    o->stats[STAT_WY2] += w * y * y;
}

caf_status binned_init_like(caf_object *dst, const caf_object *src, caf_error *err)
{
    const binned *s = (const binned *)src;
    return binned_setup((binned *)dst, s->nx, s->xlow, s->xhigh, s->ny, s->ylow, s->yhigh, s->narrays, err);
}

void binned_free(caf_object *obj)
{
    binned *o = (binned *)obj;
    for (int i = 0; i < BINNED_MAX_ARRAYS; i++)
        free(o->a[i]);
}

void binned_reset(caf_object *obj)
{
    binned *o = (binned *)obj;
    for (int i = 0; i < o->narrays; i++)
        memset(o->a[i], 0, o->ncells * sizeof(double));
    o->entries = 0;
    memset(o->stats, 0, sizeof o->stats);
}

bool binned_compatible(const caf_object *a, const caf_object *b, caf_error *err)
{
    const binned *x = (const binned *)a, *y = (const binned *)b;
    return obj_axes_equal("x axis", x->nx, x->xlow, x->xhigh, y->nx, y->xlow, y->xhigh, err) &&
           obj_axes_equal("y axis", x->ny, x->ylow, x->yhigh, y->ny, y->ylow, y->yhigh, err);
}

caf_status binned_merge_one(caf_object *into, const caf_object *other, caf_error *err)
{
    binned *d = (binned *)into;
    const binned *s = (const binned *)other;
    caf_status st = add_entries(d, s->entries, err);
    if (st != CAF_OK)
        return st;
    for (int k = 0; k < d->narrays; k++) {
        double *restrict dst = d->a[k];
        const double *restrict src = s->a[k];
        for (size_t i = 0; i < d->ncells; i++)
            dst[i] += src[i];
    }
    for (int i = 0; i < STAT_COUNT; i++)
        d->stats[i] += s->stats[i];
    return CAF_OK;
}

bool binned_is_empty(const caf_object *obj)
{
    return ((const binned *)obj)->entries == 0;
}

void binned_write_shape(const caf_object *obj, obj_buf *b)
{
    const binned *o = (const binned *)obj;
    obj_buf_u32(b, (uint32_t)o->nx);
    obj_buf_f64(b, o->xlow);
    obj_buf_f64(b, o->xhigh);
    obj_buf_u32(b, (uint32_t)o->ny);
    obj_buf_f64(b, o->ylow);
    obj_buf_f64(b, o->yhigh);
}

caf_status binned_read_shape(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err)
{
    (void)type_name;
    int nx = (int)obj_rd_u32(r);
    double xlow = obj_rd_f64(r), xhigh = obj_rd_f64(r);
    int ny = (int)obj_rd_u32(r);
    double ylow = obj_rd_f64(r), yhigh = obj_rd_f64(r);
    if (r->failed)
        return caf_error_set(err, CAF_ERR_FORMAT, "truncated %s shape", caf_object_type_name(obj));
    int narrays = obj->vt->kind == CAF_OBJECT_PROFILE ? 4 : 2;
    /* The cells are allocated when the content arrives and its size matches: a stored shape alone must not
     * make a reader allocate gigabytes. */
    caf_status st = binned_shape((binned *)obj, nx, xlow, xhigh, ny, ylow, yhigh, narrays, err);
    if (st == CAF_OK)
        return st;
    caf_error_prefix(err, "bad stored shape: ");
    if (err)
        err->code = CAF_ERR_FORMAT;
    return CAF_ERR_FORMAT;
}

caf_status binned_write_content(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err)
{
    const binned *o = (const binned *)obj;
    obj_buf b = {0};
    obj_buf_u64(&b, (uint64_t)o->entries);
    obj_buf_f64s(&b, o->stats, STAT_COUNT);
    for (int k = 0; k < o->narrays; k++)
        obj_buf_f64s(&b, o->a[k], o->ncells);
    caf_status st = obj_emit(&b, sink, ud, err);
    obj_buf_free(&b);
    return st;
}

/* The size of the one content chunk of o: entries, the fill statistics and every cell array. */
static size_t content_size(const binned *o)
{
    return 8 + 8 * STAT_COUNT + (size_t)o->narrays * o->ncells * 8;
}

caf_status binned_read_content(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    binned *o = (binned *)obj;
    if (size != content_size(o))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s content has %zu bytes, not the %zu that %zu bins need",
                             caf_object_type_name(obj), size, content_size(o), o->ncells);
    caf_status st = binned_alloc(o, err);
    if (st != CAF_OK)
        return st;
    obj_rd r = {data, (const unsigned char *)data + size, false};
    o->entries = (int64_t)obj_rd_u64(&r);
    obj_rd_f64s(&r, o->stats, STAT_COUNT);
    for (int k = 0; k < o->narrays; k++)
        obj_rd_f64s(&r, o->a[k], o->ncells);
    if (r.failed || r.p != r.end)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s content has %zu bytes, not what %zu bins need",
                             caf_object_type_name(obj), size, o->ncells);
    return CAF_OK;
}

caf_status binned_add_content(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    binned *o = (binned *)obj;
    if (size != content_size(o))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s content has %zu bytes, not the %zu that %zu bins need",
                             caf_object_type_name(obj), size, content_size(o), o->ncells);
    obj_rd r = {data, (const unsigned char *)data + size, false};
    caf_status st = add_entries(o, (int64_t)obj_rd_u64(&r), err);
    if (st != CAF_OK)
        return st;
    for (int i = 0; i < STAT_COUNT; i++)
        o->stats[i] += obj_rd_f64(&r);
    for (int k = 0; k < o->narrays; k++) {
        double *restrict dst = o->a[k];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const unsigned char *p = r.p;
        for (size_t i = 0; i < o->ncells; i++) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] += v;
        }
        r.p += 8 * o->ncells;
#else
        for (size_t i = 0; i < o->ncells; i++)
            dst[i] += obj_rd_f64(&r);
#endif
    }
    return CAF_OK;
}

static json_t *array_json(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

void binned_to_json(const caf_object *obj, json_t *o, long max_rows)
{
    (void)max_rows;
    const binned *h = (const binned *)obj;
    json_object_set_new(o, "entries", json_integer(h->entries));
    json_object_set_new(o, "x", json_pack("{s:i, s:f, s:f}", "bins", h->nx, "low", h->xlow, "high", h->xhigh));
    if (h->ny)
        json_object_set_new(o, "y", json_pack("{s:i, s:f, s:f}", "bins", h->ny, "low", h->ylow, "high", h->yhigh));
    /* Cells in storage order, under/overflow included: index = iy * (nx + 2) + ix. */
    static const char *const names[BINNED_MAX_ARRAYS] = {"sumw", "sumw2", "sumwy", "sumwy2"};
    for (int k = 0; k < h->narrays; k++)
        json_object_set_new(o, names[k], array_json(h->a[k], h->ncells));
}
