/* Collected objects: the per-run summaries a collector fills and an algorithm reads.
 *
 * Every type shares one contract (a small vtable behind the opaque caf_object):
 *   - create empty from a template (caf_object_clone_empty): same type, binning or columns, no content;
 *   - fill (type-specific functions below);
 *   - merge a list of objects of the same type and shape into one (caf_object_merge): histograms and
 *     profiles add bin by bin, counters add, ntuples append rows, user objects call the merge function
 *     registered for their type name;
 *   - write to / read from a sequence of byte chunks (caf_object_write / caf_object_read), the form
 *     stored in collector output files (docs/collector-format.md). Chunks keep every piece small
 *     enough for SQLite even when an ntuple holds millions of rows;
 *   - print as text or JSON.
 *
 * Types: 1-D and 2-D histograms with fixed binning, weights, sums of squared weights and under/overflow
 * (bin 0 and bin n+1 per axis, as ROOT numbers them); profiles (mean of y per x bin); counters (an
 * event count and a sum of weights); ntuples (typed columns, rows appended; storage is per column);
 * user objects (opaque bytes plus a merge function registered under a type name).
 *
 * Objects are not thread-safe; one thread fills one object. */
#ifndef CAF_COLLECTED_H
#define CAF_COLLECTED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "caf/error.h"
#include "caf/event_file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_object_kind {
    CAF_OBJECT_HIST1D = 1,
    CAF_OBJECT_HIST2D = 2,
    CAF_OBJECT_PROFILE = 3,
    CAF_OBJECT_COUNTER = 4,
    CAF_OBJECT_NTUPLE = 5,
    CAF_OBJECT_USER = 6,
} caf_object_kind;

/* A collected object of any kind. */
typedef struct caf_object caf_object;

/* ---- The shared contract ---- */

/* The kind of obj. */
caf_object_kind caf_object_kind_of(const caf_object *obj);

/* The type name: "hist1d", "hist2d", "profile", "counter", "ntuple", or a user object's type name.
 * Owned by obj (or static). */
const char *caf_object_type_name(const caf_object *obj);

/* The title (may be ""), owned by obj. */
const char *caf_object_title(const caf_object *obj);

/* Replaces the title (copied). */
caf_status caf_object_set_title(caf_object *obj, const char *title, caf_error *err);

/* Creates an empty object of the same type and shape (binning, columns, user type) and title as tmpl;
 * *out is caller-owned (caf_object_free). */
caf_status caf_object_clone_empty(const caf_object *tmpl, caf_object **out, caf_error *err);

/* Creates a full copy of obj (content included); *out is caller-owned. */
caf_status caf_object_clone(const caf_object *obj, caf_object **out, caf_error *err);

/* Empties obj, keeping its type and shape. */
void caf_object_reset(caf_object *obj);

/* True if a and b have the same type and shape, so that they can be merged; otherwise false and, when
 * err is given, CAF_ERR_INVALID saying what differs (binning, column list, type name). */
bool caf_object_compatible(const caf_object *a, const caf_object *b, caf_error *err);

/* Merges count objects into into (they are not changed). All must be compatible with into; on an
 * incompatible one nothing is merged and the message says which index and what differs. */
caf_status caf_object_merge(caf_object *into, const caf_object *const *others, size_t count, caf_error *err);

/* True if obj holds nothing (no fill, no row, no bytes). */
bool caf_object_is_empty(const caf_object *obj);

/* Frees obj (NULL is fine). */
void caf_object_free(caf_object *obj);

/* Receives one chunk of a written object; the data are only valid during the call. */
typedef caf_status (*caf_chunk_sink)(void *userdata, const void *data, size_t size, caf_error *err);

/* Delivers the next chunk into *data and *size (valid until the next call); sets *size = 0 and *data = NULL
 * after the last one. */
typedef caf_status (*caf_chunk_source)(void *userdata, const void **data, size_t *size, caf_error *err);

/* Largest chunk caf_object_write produces (an ntuple is cut into row blocks below this size). */
#define CAF_OBJECT_CHUNK_MAX (4u << 20)

/* Writes obj as a sequence of chunks: the first is a self-describing header (format version, type,
 * shape, title), the rest hold content. Platform-independent (little-endian). */
caf_status caf_object_write(const caf_object *obj, caf_chunk_sink sink, void *userdata, caf_error *err);

/* Reads an object written by caf_object_write; *out is caller-owned. Malformed data fail with
 * CAF_ERR_FORMAT naming what is wrong. A user object whose type is not registered is still read (its
 * bytes are kept); only merging it needs the type. */
caf_status caf_object_read(caf_chunk_source source, void *userdata, caf_object **out, caf_error *err);

/* Writes obj into one buffer (*data malloc'd, caller frees): the chunks concatenated with length
 * prefixes. Convenient for small objects and tests. */
caf_status caf_object_to_bytes(const caf_object *obj, void **data, size_t *size, caf_error *err);

/* Reads an object from a buffer made by caf_object_to_bytes; *out is caller-owned. */
caf_status caf_object_from_bytes(const void *data, size_t size, caf_object **out, caf_error *err);

/* Prints obj as text to out (a summary line, then the content: bins, rows up to max_rows, bytes);
 * max_rows <= 0 prints every row. */
caf_status caf_object_print(const caf_object *obj, FILE *out, long max_rows, caf_error *err);

/* Returns obj as JSON (a new reference, caller json_decref's it): {"type", "title", ...content}. Ntuple
 * rows are included up to max_rows (<= 0: all). */
json_t *caf_object_to_json(const caf_object *obj, long max_rows);

/* ---- 1-D histograms ---- */

/* A histogram of nbins (>= 1) equal bins over [low, high) (low < high, both finite). */
caf_status caf_hist1d_new(const char *title, int nbins, double low, double high, caf_object **out,
                          caf_error *err);

/* Adds weight w at x. NaN goes nowhere (counted in entries only); x < low to bin 0, x >= high to
 * bin nbins+1. */
void caf_hist1d_fill(caf_object *h, double x, double w);

/* Adds weight w at each of the n values x (a float32 column): the same as n caf_hist1d_fill calls,
 * faster. */
void caf_hist1d_fill_floats(caf_object *h, const float *x, size_t n, double w);

/* The bin of x: 0 underflow, 1..nbins, nbins+1 overflow. */
int caf_hist1d_find_bin(const caf_object *h, double x);

/* Number of regular bins. */
int caf_hist1d_nbins(const caf_object *h);

/* Lower edge of the axis. */
double caf_hist1d_low(const caf_object *h);

/* Upper edge of the axis (excluded). */
double caf_hist1d_high(const caf_object *h);

/* Sum of weights in bin (0..nbins+1; out of range gives 0). */
double caf_hist1d_content(const caf_object *h, int bin);

/* Sum of squared weights in bin; sqrt of it is the bin's error. */
double caf_hist1d_sumw2(const caf_object *h, int bin);

/* Number of fill calls. */
int64_t caf_hist1d_entries(const caf_object *h);

/* Sum of weights in the regular bins (no under/overflow). */
double caf_hist1d_integral(const caf_object *h);

/* Weighted mean of the filled x values inside the axis range (from exact sums kept at fill time, not
 * from bin centres); 0 when empty. */
double caf_hist1d_mean(const caf_object *h);

/* Weighted standard deviation of the filled x values inside the axis range; 0 when empty. */
double caf_hist1d_stddev(const caf_object *h);

/* ---- 2-D histograms ---- */

/* nx x ny equal bins over [xlow, xhigh) x [ylow, yhigh). */
caf_status caf_hist2d_new(const char *title, int nx, double xlow, double xhigh, int ny, double ylow,
                          double yhigh, caf_object **out, caf_error *err);

/* Adds weight w at (x, y); each axis has its own under/overflow bins (0 and n+1). */
void caf_hist2d_fill(caf_object *h, double x, double y, double w);

/* Number of regular x bins. */
int caf_hist2d_nx(const caf_object *h);

/* Number of regular y bins. */
int caf_hist2d_ny(const caf_object *h);

/* Lower edge of the x axis. */
double caf_hist2d_xlow(const caf_object *h);

/* Upper edge of the x axis (excluded). */
double caf_hist2d_xhigh(const caf_object *h);

/* Lower edge of the y axis. */
double caf_hist2d_ylow(const caf_object *h);

/* Upper edge of the y axis (excluded). */
double caf_hist2d_yhigh(const caf_object *h);

/* Sum of weights in bin (ix, iy), each 0..n+1 (out of range gives 0). */
double caf_hist2d_content(const caf_object *h, int ix, int iy);

/* Sum of squared weights in bin (ix, iy). */
double caf_hist2d_sumw2(const caf_object *h, int ix, int iy);

/* Number of fill calls. */
int64_t caf_hist2d_entries(const caf_object *h);

/* ---- Profiles ---- */

/* The mean of y in nbins equal x bins over [low, high), with under/overflow bins. */
caf_status caf_profile_new(const char *title, int nbins, double low, double high, caf_object **out,
                           caf_error *err);

/* Adds (x, y) with weight w. */
void caf_profile_fill(caf_object *p, double x, double y, double w);

/* Number of regular bins. */
int caf_profile_nbins(const caf_object *p);

/* Lower edge of the axis. */
double caf_profile_low(const caf_object *p);

/* Upper edge of the axis (excluded). */
double caf_profile_high(const caf_object *p);

/* Sum of weights in bin (0..nbins+1). */
double caf_profile_sumw(const caf_object *p, int bin);

/* Weighted mean of y in bin; 0 for an empty bin. */
double caf_profile_mean(const caf_object *p, int bin);

/* Error of the mean in bin: the weighted spread of y divided by sqrt of the effective entries
 * (sumw^2 / sumw2); 0 for an empty bin. */
double caf_profile_error(const caf_object *p, int bin);

/* Number of fill calls. */
int64_t caf_profile_entries(const caf_object *p);

/* ---- Counters ---- */

/* A counter: a count and a sum of weights, both 0. */
caf_status caf_counter_new(const char *title, caf_object **out, caf_error *err);

/* Adds n to the count and w to the sum of weights. Returns false when the count leaves int64: the counter
 * then keeps the limit it passed and is marked overflowed, so writing or merging it fails naming it. */
bool caf_counter_add(caf_object *c, int64_t n, double w);

/* The count. */
int64_t caf_counter_count(const caf_object *c);

/* The sum of weights. */
double caf_counter_sum(const caf_object *c);

/* ---- Ntuples ---- */

/* One column: a name (letters, digits, '_'; unique in the ntuple) and a type. */
typedef struct caf_ntuple_column {
    const char *name;
    caf_column_type type; /* the event-file column types (caf/event_file.h) */
} caf_ntuple_column;

/* Names from the first version of this header, kept so that code written against it still builds. */
typedef caf_ntuple_column caf_column_spec;
#define CAF_COLUMN_I32 CAF_COLUMN_INT32
#define CAF_COLUMN_I64 CAF_COLUMN_INT64
#define CAF_COLUMN_F32 CAF_COLUMN_FLOAT32
#define CAF_COLUMN_F64 CAF_COLUMN_FLOAT64

/* One value of a row, in the member matching its column's type. */
typedef union caf_cell {
    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f32;
    double f64;
} caf_cell;

/* An ntuple with ncols (1..1024) columns (names copied). */
caf_status caf_ntuple_new(const char *title, const caf_ntuple_column *cols, size_t ncols, caf_object **out,
                          caf_error *err);

/* Appends a row of ncols cells (cell i in the member matching column i's type). Fails only when out
 * of memory. */
caf_status caf_ntuple_append(caf_object *t, const caf_cell *row, caf_error *err);

/* Number of rows. */
size_t caf_ntuple_rows(const caf_object *t);

/* Number of columns. */
size_t caf_ntuple_ncols(const caf_object *t);

/* Column col's name (owned by t), or NULL when out of range. */
const char *caf_ntuple_column_name(const caf_object *t, size_t col);

/* Column col's type. */
caf_column_type caf_ntuple_column_type(const caf_object *t, size_t col);

/* The index of column name, or -1. */
long caf_ntuple_column_index(const caf_object *t, const char *name);

/* The contiguous values of column col (rows entries of its type; owned by t, valid until the next
 * append, merge or reset). */
const void *caf_ntuple_column_data(const caf_object *t, size_t col);

/* Value at (row, col) converted to double (0 when out of range). */
double caf_ntuple_get_f64(const caf_object *t, size_t row, size_t col);

/* Value at (row, col) converted to int64 (floats truncated toward zero; NaN and out of range give 0). */
int64_t caf_ntuple_get_i64(const caf_object *t, size_t row, size_t col);

/* ---- User objects ---- */

/* The bytes of a user object. data is malloc'd (or NULL when size is 0). */
typedef struct caf_user_bytes {
    unsigned char *data;
    size_t size;
} caf_user_bytes;

/* A user type: its name and how to merge (and optionally print) its bytes. merge folds other into acc;
 * it may realloc acc->data (which is malloc'd memory or NULL) and must leave acc valid on failure. */
typedef struct caf_user_type {
    const char *name; /* letters, digits, '_', '.', ':' ; not a built-in type name */
    caf_status (*merge)(caf_user_bytes *acc, const caf_user_bytes *other, void *userdata, caf_error *err);
    void (*print)(const caf_user_bytes *bytes, FILE *out, void *userdata); /* may be NULL: hex dump */
    void *userdata;
} caf_user_type;

/* Registers type (copied) in the process-wide table of user types. The table is process-wide on
 * purpose: an object read from any file must find its merge function whichever layer reads it.
 * Registering the same name again with the same functions is fine; with different ones it fails with
 * CAF_ERR_EXISTS. A plugin that registers must unregister before it is unloaded. Thread-safe. */
caf_status caf_user_type_register(const caf_user_type *type, caf_error *err);

/* Removes the type called name (nothing if absent). Objects of that type stay readable, not mergeable. */
void caf_user_type_unregister(const char *name);

/* True if a user type called name is registered. */
bool caf_user_type_registered(const char *name);

/* An empty user object of type type_name (which need not be registered yet). */
caf_status caf_user_object_new(const char *type_name, const char *title, caf_object **out, caf_error *err);

/* The object's bytes (owned by obj). */
const caf_user_bytes *caf_user_object_bytes(const caf_object *obj);

/* Replaces the object's bytes with a copy of size bytes at data. */
caf_status caf_user_object_set(caf_object *obj, const void *data, size_t size, caf_error *err);

/* Appends size bytes at data to the object's bytes. */
caf_status caf_user_object_append(caf_object *obj, const void *data, size_t size, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
