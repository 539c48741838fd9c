/* The storage shared by histograms and profiles: one or two fixed axes (each with under/overflow bins)
 * and a few per-cell arrays of sums, plus exact fill statistics. */
#ifndef CAF_COLLECTOR_BINNED_H
#define CAF_COLLECTOR_BINNED_H

#include "collector/object_internal.h"

enum { BINNED_SUMW = 0, BINNED_SUMW2 = 1, BINNED_SUMWY = 2, BINNED_SUMWY2 = 3, BINNED_MAX_ARRAYS = 4 };
enum { STAT_W = 0, STAT_WX, STAT_WX2, STAT_WY, STAT_WY2, STAT_COUNT };

typedef struct binned {
    caf_object base;
    int nx, ny; /* ny = 0 for one axis */
    double xlow, xhigh, ylow, yhigh;
    size_t ncells; /* (nx+2) * (ny+2), or nx+2 */
    int narrays;   /* 2 for histograms (sumw, sumw2), 4 for profiles (+ sumwy, sumwy2) */
    double *a[BINNED_MAX_ARRAYS];
    int64_t entries;
    double stats[STAT_COUNT]; /* sums over fills inside the axis range */
} binned;

/* Makes o (allocated with the type's vtable) an empty binned object of that shape. */
caf_status binned_setup(binned *o, int nx, double xlow, double xhigh, int ny, double ylow, double yhigh,
                        int narrays, caf_error *err);

/* Creates a new binned object of type vt. */
caf_status binned_new(const struct obj_vtable *vt, const char *title, int nx, double xlow, double xhigh, int ny,
                      double ylow, double yhigh, int narrays, caf_object **out, caf_error *err);

/* The cell index of (ix, iy), or -1 when out of 0..n+1. */
long binned_cell(const binned *o, int ix, int iy);

/* Vtable entries shared by every binned type. */
caf_status binned_init_like(caf_object *dst, const caf_object *src, caf_error *err);
void binned_free(caf_object *obj);
void binned_reset(caf_object *obj);
bool binned_compatible(const caf_object *a, const caf_object *b, caf_error *err);
caf_status binned_merge_one(caf_object *into, const caf_object *other, caf_error *err);
bool binned_is_empty(const caf_object *obj);
void binned_write_shape(const caf_object *obj, obj_buf *b);
caf_status binned_read_shape(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err);
caf_status binned_write_content(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err);
caf_status binned_read_content(caf_object *obj, const void *data, size_t size, caf_error *err);
caf_status binned_add_content(caf_object *obj, const void *data, size_t size, caf_error *err);
void binned_to_json(const caf_object *obj, json_t *o, long max_rows);

/* Fills the exact sums of an in-range fill. */
void binned_stats_fill(binned *o, double w, double x, double y);

/* The object vtable of a binned type: every operation is binned_*'s but the kind, name and printer. */
#define BINNED_VTABLE(KIND, NAME, PRINT)                                                                        \
    {                                                                                                           \
        .kind = (KIND), .type_name = (NAME), .size = sizeof(binned), .init_like = binned_init_like,             \
        .free_content = binned_free, .reset = binned_reset, .compatible = binned_compatible,                    \
        .merge_one = binned_merge_one, .is_empty = binned_is_empty, .write_shape = binned_write_shape,          \
        .read_shape = binned_read_shape, .write_content = binned_write_content,                                 \
        .read_content = binned_read_content, .add_content = binned_add_content, .print = (PRINT),               \
        .to_json = binned_to_json,                                                                              \
    }

#endif
