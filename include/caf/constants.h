/* Constants payloads: named numbers, number arrays and strings that an algorithm saves as a payload.
 * They are written as canonical JSON (keys sorted, no spaces, every double with 17 significant digits,
 * -0 written as 0) so that equal constants always give the same bytes, hence the same MD5 revision in
 * the conditions database, and a value read back is bit-identical to the value saved. */
#ifndef CAF_CONSTANTS_H
#define CAF_CONSTANTS_H

#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_constants caf_constants;

/* Creates an empty set; *out is caller-owned (caf_constants_free). */
caf_status caf_constants_new(caf_constants **out, caf_error *err);

/* Frees the set (NULL is fine). */
void caf_constants_free(caf_constants *constants);

/* Sets name to a finite double (NaN and infinities are refused: JSON cannot hold them). */
caf_status caf_constants_set_double(caf_constants *constants, const char *name, double value, caf_error *err);

/* Sets name to an integer. */
caf_status caf_constants_set_int(caf_constants *constants, const char *name, int64_t value, caf_error *err);

/* Sets name to a string. */
caf_status caf_constants_set_string(caf_constants *constants, const char *name, const char *value,
                                    caf_error *err);

/* Sets name to an array of count finite doubles (copied). */
caf_status caf_constants_set_array(caf_constants *constants, const char *name, const double *values, size_t count,
                                   caf_error *err);

/* The value of name as a double (integers convert); CAF_ERR_NOT_FOUND or CAF_ERR_INVALID naming it. */
caf_status caf_constants_get_double(const caf_constants *constants, const char *name, double *out,
                                    caf_error *err);

/* The value of name as an integer. */
caf_status caf_constants_get_int(const caf_constants *constants, const char *name, int64_t *out, caf_error *err);

/* The string value of name (owned by constants). */
caf_status caf_constants_get_string(const caf_constants *constants, const char *name, const char **out,
                                    caf_error *err);

/* The array value of name: *values (malloc'd, caller frees; NULL when empty) and *count. */
caf_status caf_constants_get_array(const caf_constants *constants, const char *name, double **values,
                                   size_t *count, caf_error *err);

/* Writes the canonical JSON text (malloc'd, caller frees; NUL-terminated) and its length. */
caf_status caf_constants_serialize(const caf_constants *constants, char **text, size_t *size, caf_error *err);

/* Parses text written by caf_constants_serialize (or any JSON object of numbers, strings and number
 * arrays; -0 becomes 0); *out is caller-owned. */
caf_status caf_constants_parse(const char *text, size_t size, caf_constants **out, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
