/* The collected-object contract as a vtable, and the little-endian encoding helpers the types share. */
#ifndef CAF_COLLECTOR_OBJECT_INTERNAL_H
#define CAF_COLLECTOR_OBJECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "caf/collected.h"

/* A growable byte buffer that encodes little-endian numbers. Errors are sticky (failed = out of memory). */
typedef struct obj_buf {
    unsigned char *data;
    size_t size, capacity;
    bool failed;
} obj_buf;

void obj_buf_put(obj_buf *b, const void *data, size_t size);
void obj_buf_u32(obj_buf *b, uint32_t v);
void obj_buf_u64(obj_buf *b, uint64_t v);
void obj_buf_f64(obj_buf *b, double v);
void obj_buf_str(obj_buf *b, const char *s);
/* Appends n doubles / n values of elem bytes each, little-endian. */
void obj_buf_f64s(obj_buf *b, const double *v, size_t n);
void obj_buf_values(obj_buf *b, const void *v, size_t n, size_t elem);
void obj_buf_free(obj_buf *b);

/* A cursor over encoded bytes; reading past the end sets failed. */
typedef struct obj_rd {
    const unsigned char *p, *end;
    bool failed;
} obj_rd;

uint32_t obj_rd_u32(obj_rd *r);
uint64_t obj_rd_u64(obj_rd *r);
double obj_rd_f64(obj_rd *r);
/* Returns a malloc'd copy of the string (NULL and failed on error). */
char *obj_rd_str(obj_rd *r);
bool obj_rd_f64s(obj_rd *r, double *v, size_t n);
bool obj_rd_values(obj_rd *r, void *v, size_t n, size_t elem);

struct obj_vtable {
    caf_object_kind kind;
    const char *type_name; /* NULL for user objects (the name is per object) */
    size_t size;           /* of the type's struct, which starts with caf_object */
    /* Makes dst (a zeroed struct with base filled) an empty object shaped like src. */
    caf_status (*init_like)(caf_object *dst, const caf_object *src, caf_error *err);
    void (*free_content)(caf_object *obj);
    void (*reset)(caf_object *obj);
    bool (*compatible)(const caf_object *a, const caf_object *b, caf_error *err);
    caf_status (*merge_one)(caf_object *into, const caf_object *other, caf_error *err);
    bool (*is_empty)(const caf_object *obj);
    /* Encodes the shape into the header chunk. */
    void (*write_shape)(const caf_object *obj, obj_buf *b);
    /* Reads the shape from the header, making obj (zeroed, base filled) an empty object of type_name. */
    caf_status (*read_shape)(caf_object *obj, const char *type_name, obj_rd *r, caf_error *err);
    /* Emits the content chunks. */
    caf_status (*write_content)(const caf_object *obj, caf_chunk_sink sink, void *ud, caf_error *err);
    /* Consumes one content chunk. */
    caf_status (*read_content)(caf_object *obj, const void *data, size_t size, caf_error *err);
    /* Optional: adds one content chunk of an object of the same shape to obj (merging without decoding
     * into a temporary object). */
    caf_status (*add_content)(caf_object *obj, const void *data, size_t size, caf_error *err);
    void (*print)(const caf_object *obj, FILE *out, long max_rows);
    /* Adds the content's members to o. */
    void (*to_json)(const caf_object *obj, json_t *o, long max_rows);
};

struct caf_object {
    const struct obj_vtable *vt;
    char *title;
};

/* The vtable of each type (functions, not exported globals: plugins carry their own copy of libcaf, and
 * two definitions of one global would be an ODR violation). */
const struct obj_vtable *obj_hist1d_vtable(void);
const struct obj_vtable *obj_hist2d_vtable(void);
const struct obj_vtable *obj_profile_vtable(void);
const struct obj_vtable *obj_counter_vtable(void);
const struct obj_vtable *obj_ntuple_vtable(void);
const struct obj_vtable *obj_user_object_vtable(void);

/* The vtable of kind, or NULL. */
const struct obj_vtable *obj_vtable_of_kind(uint32_t kind);

/* Allocates a zeroed object of vt's size with a copy of title; NULL when out of memory. */
caf_object *obj_alloc(const struct obj_vtable *vt, const char *title);

/* Fixed binning shared by histograms and profiles: checks nbins >= 1, low < high, both finite. */
caf_status obj_check_axis(const char *what, int nbins, double low, double high, caf_error *err);

/* The bin of x on a fixed axis: 0 underflow, 1..n, n+1 overflow (NaN: -1). */
int obj_axis_bin(int n, double low, double high, double x);

/* True if axes agree exactly; otherwise sets err naming what. */
bool obj_axes_equal(const char *what, int na, double la, double ha, int nb, double lb, double hb, caf_error *err);

/* Checks the kind of obj before a type-specific call; aborts with a message on misuse (a programming
 * error, like passing a counter to caf_hist1d_fill). */
void obj_expect(const caf_object *obj, caf_object_kind kind, const char *fn);

/* Copies s into buf (size n) with every byte that is not printable ASCII replaced by '?': names and
 * titles read from files go into one-line error messages. Returns buf. */
const char *obj_printable(const char *s, char *buf, size_t n);

/* Sends one buffer as a chunk, failing with NOMEM if the buffer failed. */
caf_status obj_emit(obj_buf *b, caf_chunk_sink sink, void *ud, caf_error *err);

/* Merges the object that source delivers into acc: straight from the chunks when acc's type can add
 * them and the stored header equals acc's, else by reading it and merging. */
caf_status obj_merge_from_source(caf_object *acc, caf_chunk_source source, void *ud, caf_error *err);

/* Prints an axis-binned array of weights the way every binned type does. */
void obj_print_bins(FILE *out, int n, double low, double high, const double *w, const double *w2);

#endif
