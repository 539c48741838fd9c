/* JSON files through jansson: load with a message naming file, line and column; save atomically with
 * sorted keys so that equal content gives equal bytes. */
#ifndef CAF_JSON_H
#define CAF_JSON_H

#include <jansson.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads the JSON file at path into *out (a new reference, caller json_decref's it). A syntax error is
 * CAF_ERR_FORMAT with "PATH:LINE:COLUMN: reason". */
caf_status caf_json_load_file(const char *path, json_t **out, caf_error *err);

/* Writes value to path atomically, indented, keys sorted, with a trailing newline. */
caf_status caf_json_save_file(const char *path, const json_t *value, caf_error *err);

/* Returns value as caf_json_save_file writes it (indented, keys sorted, trailing newline; malloc'd, caller
 * frees; *size its length), or NULL when it cannot be encoded. */
char *caf_json_dump_file_text(const json_t *value, size_t *size);

/* Returns value as compact text with sorted keys (malloc'd, caller frees), or NULL when out of memory. */
char *caf_json_dump_compact(const json_t *value);

/* [[exp, run], ...] (a new reference; NULL when out of memory). */
json_t *caf_json_runs(const caf_exprun *runs, size_t count);

/* [exp_low, run_low, exp_high, run_high] (a new reference; NULL when out of memory). */
json_t *caf_json_iov(caf_iov iov);

#ifdef __cplusplus
}
#endif
#endif
