/* Ntuples: typed columns, rows appended. Values are stored per column (contiguous arrays), so a column
 * can be read without copies and an ntuple encodes into row blocks of at most CAF_OBJECT_CHUNK_MAX bytes. */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector/object_internal.h"

#define NTUPLE_MAX_COLUMNS 1024

typedef struct column {
    char *name;
    caf_column_type type;
    size_t elem;
    unsigned char *data;
} column;

typedef struct ntuple {
    caf_object base;
    size_t ncols;
    column *cols;
    size_t rows, capacity;
} ntuple;

static const ntuple *nt(const caf_object *t, const char *fn)
{
    obj_expect(t, CAF_OBJECT_NTUPLE, fn);
    return (const ntuple *)t;
}

static bool valid_column_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* Gives t (zeroed) the columns cols. */
static caf_status ntuple_setup(ntuple *t, const caf_ntuple_column *cols, size_t ncols, caf_error *err)
{
    if (ncols < 1 || ncols > NTUPLE_MAX_COLUMNS)
        return caf_error_set(err, CAF_ERR_INVALID, "ntuple: %zu columns is not in 1..%d", ncols, NTUPLE_MAX_COLUMNS);
    if (!(t->cols = calloc(ncols, sizeof *t->cols)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    t->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        if (!valid_column_name(cols[i].name))
            return caf_error_set(err, CAF_ERR_INVALID, "ntuple column %zu: name '%s' is not letters, digits and '_'", i,
                                 cols[i].name ? cols[i].name : "");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cols[j].name, cols[i].name))
                return caf_error_set(err, CAF_ERR_INVALID, "ntuple column '%s' appears twice", cols[i].name);
        if ((unsigned)cols[i].type > CAF_COLUMN_FLOAT64)
            return caf_error_set(err, CAF_ERR_INVALID, "ntuple column '%s': unknown type %d", cols[i].name,
                                 (int)cols[i].type);
        if (!(t->cols[i].name = strdup(cols[i].name)))
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        t->cols[i].type = cols[i].type;
        t->cols[i].elem = caf_column_type_size(cols[i].type);
    }
    return CAF_OK;
}

static caf_status ntuple_reserve(ntuple *t, size_t rows, caf_error *err)
{
    if (rows <= t->capacity)
        return CAF_OK;
    size_t cap = t->capacity ? t->capacity : 64;
    while (cap < rows)
        cap *= 2;
    for (size_t i = 0; i < t->ncols; i++) {
        unsigned char *n = realloc(t->cols[i].data, cap * t->cols[i].elem);
        if (!n)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory for %zu ntuple rows", cap);
        t->cols[i].data = n;
    }
    t->capacity = cap;
    return CAF_OK;
}

static caf_status ntuple_init_like(caf_object *dst, const caf_object *src, caf_error *err)
{
    const ntuple *s = (const ntuple *)src;
    caf_ntuple_column *cols = calloc(s->ncols, sizeof *cols);
    if (!cols)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->ncols; i++)
        cols[i] = (caf_ntuple_column){s->cols[i].name, s->cols[i].type};
    caf_status st = ntuple_setup((ntuple *)dst, cols, s->ncols, err);
    free(cols);
    return st;
}

static void ntuple_free(caf_object *obj)
{
    ntuple *t = (ntuple *)obj;
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].data);
    }
    free(t->cols);
}

static void ntuple_reset(caf_object *obj)
{
    ((ntuple *)obj)->rows = 0;
}

static bool ntuple_compatible(const caf_object *a, const caf_object *b, caf_error *err)
{
    const ntuple *x = (const ntuple *)a, *y = (const ntuple *)b;
    if (x->ncols != y->ncols) {
        caf_error_set(err, CAF_ERR_INVALID, "ntuple column count differs: %zu vs %zu", x->ncols, y->ncols);
        return false;
    }
    for (size_t i = 0; i < x->ncols; i++)
        if (strcmp(x->cols[i].name, y->cols[i].name) || x->cols[i].type != y->cols[i].type) {
            caf_error_set(err, CAF_ERR_INVALID, "ntuple column %zu differs: %s %s vs %s %s", i, x->cols[i].name,
                          caf_column_type_name(x->cols[i].type), y->cols[i].name, caf_column_type_name(y->cols[i].type));
            return false;
        }
    return true;
}

static caf_status ntuple_merge_one(caf_object *into, const caf_object *other, caf_error *err)
{
    ntuple *d = (ntuple *)into;
    const ntuple *s = (const ntuple *)other;
    caf_status st = ntuple_reserve(d, d->rows + s->rows, err);
    if (st != CAF_OK)
        return st;
    for (size_t i = 0; i < d->ncols && s->rows; i++)
        memcpy(d->cols[i].data + d->rows * d->cols[i].elem, s->cols[i].data, s->rows * s->cols[i].elem);
    d->rows += s->rows;
    return CAF_OK;
}

static bool ntuple_is_empty(const caf_object *obj)
{
    return ((const ntuple *)obj)->rows == 0;
}

static void ntuple_write_shape(const caf_object *obj, obj_buf *b)
{
    const ntuple *t = (const ntuple *)obj;
    obj_buf_u32(b, (uint32_t)t->ncols);
    for (size_t i = 0; i < t->ncols; i++) {
        obj_buf_str(b, t->cols[i].name);
        obj_buf_str(b, caf_column_type_name(t->cols[i].type));
    }
}

static caf_status ntuple_read_shape(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err)
{
    (void)type_name;
    uint32_t n = obj_rd_u32(r);
    if (r->failed || n < 1 || n > NTUPLE_MAX_COLUMNS)
        return caf_error_set(err, CAF_ERR_FORMAT, "ntuple header: bad column count");
    caf_ntuple_column *cols = calloc(n, sizeof *cols);
    char **names = calloc(n, sizeof *names);
    caf_status st = cols && names ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; st == CAF_OK && i < n; i++) {
        names[i] = obj_rd_str(r);
        char *type = obj_rd_str(r);
        if (r->failed || !caf_column_type_parse(type, &cols[i].type))
            st = caf_error_set(err, CAF_ERR_FORMAT, "ntuple header: column %u has a bad name or type", i);
        cols[i].name = names[i];
        free(type);
    }
    if (st == CAF_OK)
        st = ntuple_setup((ntuple *)obj, cols, n, err);
    for (uint32_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(cols);
    return st;
}

static size_t row_bytes(const ntuple *t)
{
    size_t s = 0;
    for (size_t i = 0; i < t->ncols; i++)
        s += t->cols[i].elem;
    return s;
}

static caf_status ntuple_write_content(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err)
{
    const ntuple *t = (const ntuple *)obj;
    size_t per_chunk = CAF_OBJECT_CHUNK_MAX / row_bytes(t);
    if (per_chunk < 1)
        per_chunk = 1;
    caf_status st = CAF_OK;
    for (size_t first = 0; st == CAF_OK && first < t->rows; first += per_chunk) {
        size_t n = t->rows - first < per_chunk ? t->rows - first : per_chunk;
        obj_buf b = {0};
        obj_buf_u64(&b, n);
        for (size_t i = 0; i < t->ncols; i++)
            obj_buf_values(&b, t->cols[i].data + first * t->cols[i].elem, n, t->cols[i].elem);
        st = obj_emit(&b, sink, ud, err);
        obj_buf_free(&b);
    }
    return st;
}

static caf_status ntuple_read_content(caf_object *obj, const void *data, size_t size, caf_error *err)
{
    ntuple *t = (ntuple *)obj;
    obj_rd r = {data, (const unsigned char *)data + size, false};
    uint64_t n = obj_rd_u64(&r);
    if (r.failed || n > size / row_bytes(t))
        return caf_error_set(err, CAF_ERR_FORMAT, "ntuple row block of %zu bytes claims %" PRIu64 " rows", size, n);
    if (n == 0) /* nothing to copy; an empty ntuple has no column buffers to offset into */
        return r.p == r.end ? CAF_OK
                            : caf_error_set(err, CAF_ERR_FORMAT, "ntuple row block of %zu bytes holds 0 rows", size);
    caf_status st = ntuple_reserve(t, t->rows + n, err);
    if (st != CAF_OK)
        return st;
    for (size_t i = 0; i < t->ncols; i++)
        obj_rd_values(&r, t->cols[i].data + t->rows * t->cols[i].elem, n, t->cols[i].elem);
    if (r.failed || r.p != r.end)
        return caf_error_set(err, CAF_ERR_FORMAT, "ntuple row block of %zu bytes does not hold %" PRIu64 " rows", size,
                             n);
    t->rows += n;
    return CAF_OK;
}

static void print_value(const ntuple *t, size_t row, size_t col, FILE *out)
{
    caf_column_type ty = t->cols[col].type;
    if (ty == CAF_COLUMN_FLOAT32 || ty == CAF_COLUMN_FLOAT64)
        fprintf(out, " %g", caf_ntuple_get_f64(&t->base, row, col));
    else if (ty == CAF_COLUMN_UINT64)
        fprintf(out, " %" PRIu64, *(const uint64_t *)(t->cols[col].data + row * 8));
    else
        fprintf(out, " %" PRId64, caf_ntuple_get_i64(&t->base, row, col));
}

static void ntuple_print(const caf_object *obj, FILE *out, long max_rows)
{
    const ntuple *t = (const ntuple *)obj;
    fprintf(out, ": %zu rows, %zu columns\n ", t->rows, t->ncols);
    for (size_t i = 0; i < t->ncols; i++)
        fprintf(out, " %s:%s", t->cols[i].name, caf_column_type_name(t->cols[i].type));
    fputc('\n', out);
    size_t shown = max_rows > 0 && (size_t)max_rows < t->rows ? (size_t)max_rows : t->rows;
    for (size_t r = 0; r < shown; r++) {
        fputc(' ', out);
        for (size_t c = 0; c < t->ncols; c++)
            print_value(t, r, c, out);
        fputc('\n', out);
    }
    if (shown < t->rows)
        fprintf(out, "  ... %zu more rows\n", t->rows - shown);
}

static void ntuple_to_json(const caf_object *obj, json_t *o, long max_rows)
{
    const ntuple *t = (const ntuple *)obj;
    json_t *cols = json_array();
    for (size_t i = 0; i < t->ncols; i++)
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", t->cols[i].name, "type",
                                              caf_column_type_name(t->cols[i].type)));
    json_object_set_new(o, "columns", cols);
    json_object_set_new(o, "rows", json_integer((json_int_t)t->rows));
    size_t shown = max_rows > 0 && (size_t)max_rows < t->rows ? (size_t)max_rows : t->rows;
    json_t *data = json_array();
    for (size_t r = 0; r < shown; r++) {
        json_t *row = json_array();
        for (size_t c = 0; c < t->ncols; c++) {
            caf_column_type ty = t->cols[c].type;
            json_array_append_new(row, ty == CAF_COLUMN_FLOAT32 || ty == CAF_COLUMN_FLOAT64
                                           ? json_real(caf_ntuple_get_f64(obj, r, c))
                                           : json_integer(caf_ntuple_get_i64(obj, r, c)));
        }
        json_array_append_new(data, row);
    }
    json_object_set_new(o, "data", data);
}

static const struct obj_vtable ntuple_vtable = {
    .kind = CAF_OBJECT_NTUPLE,
    .type_name = "ntuple",
    .size = sizeof(ntuple),
    .init_like = ntuple_init_like,
    .free_content = ntuple_free,
    .reset = ntuple_reset,
    .compatible = ntuple_compatible,
    .merge_one = ntuple_merge_one,
    .is_empty = ntuple_is_empty,
    .write_shape = ntuple_write_shape,
    .read_shape = ntuple_read_shape,
    .write_content = ntuple_write_content,
    .read_content = ntuple_read_content,
    .print = ntuple_print,
    .to_json = ntuple_to_json,
};

caf_status caf_ntuple_new(const char *title, const caf_ntuple_column *cols, size_t ncols, caf_object **out,
                          caf_error *err)
{
    *out = NULL;
    ntuple *t = (ntuple *)obj_alloc(&ntuple_vtable, title);
    if (!t)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status st = ntuple_setup(t, cols, ncols, err);
    if (st != CAF_OK) {
        caf_object_free(&t->base);
        return st;
    }
    *out = &t->base;
    return CAF_OK;
}

caf_status caf_ntuple_append(caf_object *obj, const caf_cell *row, caf_error *err)
{
    ntuple *t = (ntuple *)nt(obj, __func__);
    if (t->rows == t->capacity) {
        caf_status st = ntuple_reserve(t, t->rows + 1, err);
        if (st != CAF_OK)
            return st;
    }
    /* Every member of a union starts at its first byte, so the matching member is the first elem bytes. */
    for (size_t i = 0; i < t->ncols; i++)
        memcpy(t->cols[i].data + t->rows * t->cols[i].elem, &row[i], t->cols[i].elem);
    t->rows++;
    return CAF_OK;
}

size_t caf_ntuple_rows(const caf_object *t)
{
    return nt(t, __func__)->rows;
}

size_t caf_ntuple_ncols(const caf_object *t)
{
    return nt(t, __func__)->ncols;
}

const char *caf_ntuple_column_name(const caf_object *t, size_t col)
{
    const ntuple *n = nt(t, __func__);
    return col < n->ncols ? n->cols[col].name : NULL;
}

caf_column_type caf_ntuple_column_type(const caf_object *t, size_t col)
{
    const ntuple *n = nt(t, __func__);
    return col < n->ncols ? n->cols[col].type : CAF_COLUMN_FLOAT64;
}

long caf_ntuple_column_index(const caf_object *t, const char *name)
{
    const ntuple *n = nt(t, __func__);
    for (size_t i = 0; i < n->ncols; i++)
        if (!strcmp(n->cols[i].name, name))
            return (long)i;
    return -1;
}

const void *caf_ntuple_column_data(const caf_object *t, size_t col)
{
    const ntuple *n = nt(t, __func__);
    return col < n->ncols ? n->cols[col].data : NULL;
}

/* Reads cell (row, col) into a union (only the member of its type is meaningful). */
static caf_cell cell_at(const ntuple *t, size_t row, size_t col)
{
    caf_cell c = {0};
    memcpy(&c, t->cols[col].data + row * t->cols[col].elem, t->cols[col].elem);
    return c;
}

double caf_ntuple_get_f64(const caf_object *obj, size_t row, size_t col)
{
    const ntuple *t = nt(obj, __func__);
    if (row >= t->rows || col >= t->ncols)
        return 0;
    caf_cell c = cell_at(t, row, col);
    switch (t->cols[col].type) {
    case CAF_COLUMN_INT8: return c.i8;
    case CAF_COLUMN_UINT8: return c.u8;
    case CAF_COLUMN_INT16: return c.i16;
    case CAF_COLUMN_UINT16: return c.u16;
    case CAF_COLUMN_INT32: return c.i32;
    case CAF_COLUMN_UINT32: return c.u32;
    case CAF_COLUMN_INT64: return (double)c.i64;
    case CAF_COLUMN_UINT64: return (double)c.u64;
    case CAF_COLUMN_FLOAT32: return c.f32;
    case CAF_COLUMN_FLOAT64: return c.f64;
    }
    return 0;
}

/* Truncates toward zero; NaN and values outside int64 give 0 rather than undefined behaviour. */
static int64_t float_to_i64(double v)
{
    return v > -9.2e18 && v < 9.2e18 ? (int64_t)v : 0;
}

int64_t caf_ntuple_get_i64(const caf_object *obj, size_t row, size_t col)
{
    const ntuple *t = nt(obj, __func__);
    if (row >= t->rows || col >= t->ncols)
        return 0;
    caf_cell c = cell_at(t, row, col);
    switch (t->cols[col].type) {
    case CAF_COLUMN_INT8: return c.i8;
    case CAF_COLUMN_UINT8: return c.u8;
    case CAF_COLUMN_INT16: return c.i16;
    case CAF_COLUMN_UINT16: return c.u16;
    case CAF_COLUMN_INT32: return c.i32;
    case CAF_COLUMN_UINT32: return c.u32;
    case CAF_COLUMN_INT64: return c.i64;
    case CAF_COLUMN_UINT64: return (int64_t)c.u64;
    case CAF_COLUMN_FLOAT32: return float_to_i64(c.f32);
    case CAF_COLUMN_FLOAT64: return float_to_i64(c.f64);
    }
    return 0;
}

const struct obj_vtable *obj_ntuple_vtable(void)
{
    return &ntuple_vtable;
}
