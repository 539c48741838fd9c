/* Small HDF5 helpers shared by the event-file reader, writer and metadata reader: type mapping,
 * attribute and string reads that accept what h5py writes (variable- or fixed-length strings, any
 * integer width), and HDF5 failures turned into one-line caf_error messages. Internal to src/events. */
#ifndef CAF_EVENTS_HDF5_UTIL_H
#define CAF_EVENTS_HDF5_UTIL_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/event_file.h"

/* The native HDF5 memory type of a column type (a library constant; do not close). */
hid_t caf_h5_native_type(caf_column_type type);

/* Maps a dataset's stored type to the caf column type it is read as; false for non-numeric types. */
bool caf_h5_column_type_of(hid_t h5type, caf_column_type *out);

/* Fills err with "PATH: WHAT: <innermost HDF5 message>" (code) and returns code. */
caf_status caf_h5_fail(caf_error *err, caf_status code, const char *path, const char *what);

/* Opens path read-only, with "PATH: not an HDF5 file" / "PATH: ..." errors; returns the file id or -1. */
hid_t caf_h5_open_read(const char *path, caf_error *err);

/* True if object name exists below loc (intermediate groups must exist or the answer is false). */
bool caf_h5_exists(hid_t loc, const char *name);

/* Reads string attribute attr of object obj into *out (malloc'd, caller frees). */
caf_status caf_h5_attr_string(hid_t obj, const char *attr, char **out, const char *path, const char *where,
                              caf_error *err);

/* Reads integer attribute attr (a scalar or a 1-element array of any integer type) as int64. */
caf_status caf_h5_attr_int64(hid_t obj, const char *attr, int64_t *out, const char *path, const char *where,
                             caf_error *err);

/* Reads integer array attribute attr into out (exactly n values of any integer type). */
caf_status caf_h5_attr_int_array(hid_t obj, const char *attr, int64_t *out, size_t n, const char *path,
                                 const char *where, caf_error *err);

/* Writes a scalar variable-length UTF-8 string attribute. */
caf_status caf_h5_write_attr_string(hid_t obj, const char *attr, const char *value, const char *path,
                                    caf_error *err);

/* Writes an attribute of n values (n == 0: scalar) of the given native type. */
caf_status caf_h5_write_attr(hid_t obj, const char *attr, hid_t memtype, const void *value, size_t n,
                             const char *path, caf_error *err);

/* Length of the 1-D dataset name below loc into *len; CAF_ERR_FORMAT naming it when missing or not 1-D. */
caf_status caf_h5_dataset_length(hid_t loc, const char *name, hsize_t *len, const char *path, caf_error *err);

/* Reads the whole 1-D integer dataset name as n values converted to memtype into *out (malloc'd). */
caf_status caf_h5_read_whole(hid_t loc, const char *name, hid_t memtype, size_t elem_size, void **out, size_t *n,
                             const char *path, caf_error *err);

/* Reads the 1-D string dataset name into *out (array of malloc'd strings, caller frees each and it). */
caf_status caf_h5_read_strings(hid_t loc, const char *name, char ***out, size_t *n, const char *path,
                               caf_error *err);

/* Writes a 1-D dataset of n variable-length UTF-8 strings (contiguous; n may be 0). */
caf_status caf_h5_write_strings(hid_t loc, const char *name, const char *const *values, size_t n,
                                const char *path, caf_error *err);

/* Writes a contiguous 1-D dataset of n values of native memtype. */
caf_status caf_h5_write_array(hid_t loc, const char *name, hid_t memtype, const void *values, size_t n,
                              const char *path, caf_error *err);

/* Creates group name below loc without modification times (equal content gives equal bytes); -1 on failure. */
hid_t caf_h5_create_group(hid_t loc, const char *name);

/* A new dataset-creation property list without modification times (caller closes it). */
hid_t caf_h5_untimed_dcpl(void);

/* Frees an array of n malloc'd strings. */
void caf_h5_free_strings(char **strings, size_t n);

#endif
