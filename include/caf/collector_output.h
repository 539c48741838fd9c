/* Collector output files: what one collector job leaves behind and what algorithms read.
 *
 * One SQLite file per collector (per job) holds the collector's instance name (the algorithm's prefix),
 * its plugin name and parameters, the RunRange (runs collected + granularity), and every object per key:
 * the key is the (exp, run) for granularity "run" and (-1, -1) for "all". A key may hold several
 * pieces (indices 1, 2, ...) of one object, e.g. when a run was visited twice in one job or when a
 * merge flushed early; readers merge them. Layout: docs/collector-format.md.
 *
 * Files are written to a temporary name beside the target and renamed when complete, so a file at the
 * final path is always complete; a failed or interrupted write leaves no file there. */
#ifndef CAF_COLLECTOR_OUTPUT_H
#define CAF_COLLECTOR_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/collected.h"
#include "caf/error.h"
#include "caf/iov.h"
#include "caf/run_range.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format version written into every file (the `meta` table). */
#define CAF_COLLECTOR_FORMAT_VERSION 1

/* ---- Reading ---- */

/* An open collector output (read-only). */
typedef struct caf_collector_output caf_collector_output;

/* One registered object as listed in a file. */
typedef struct caf_collector_object_info {
    const char *name;      /* owned by the file handle */
    const char *type_name; /* "hist1d", ..., or a user type name */
    size_t key_count;      /* keys ((exp, run) or (-1, -1)) holding data */
} caf_collector_object_info;

/* Opens the collector output at path and reads its metadata, RunRange and object list. A file that is
 * not a collector output, or of a newer format version, fails with CAF_ERR_FORMAT naming path. Close
 * with caf_collector_output_close. */
caf_status caf_collector_output_open(const char *path, caf_collector_output **out, caf_error *err);

/* As caf_collector_output_open, but the RunRange and the objects' key counts, which take time in proportion
 * to the runs and pieces, are read when first asked for (caf_collector_output_load_run_range, or
 * caf_collector_output_has_run for one run; key_count by caf_collector_output_object / _find_object): what
 * an algorithm execution reading a few runs of a large file opens. Close with caf_collector_output_close. */
caf_status caf_collector_output_open_lazy(const char *path, caf_collector_output **out, caf_error *err);

/* Closes the file and frees the handle (NULL is fine). */
void caf_collector_output_close(caf_collector_output *f);

/* The path the file was opened with (owned by f). */
const char *caf_collector_output_path(const caf_collector_output *f);

/* The collector instance name (the prefix algorithms look for), owned by f. */
const char *caf_collector_output_collector(const caf_collector_output *f);

/* The collector plugin's name (e.g. "ExampleHitCollector"), owned by f. */
const char *caf_collector_output_module(const caf_collector_output *f);

/* The collector's parameters as a JSON object {name: value} (borrowed; lives as long as f). */
const json_t *caf_collector_output_parameters(const caf_collector_output *f);

/* The RunRange: runs collected and granularity (owned by f). A lazily opened file reads it now; if it cannot
 * (a malformed row), the error is logged and the range is empty: use caf_collector_output_load_run_range
 * to get the error. */
const caf_run_range *caf_collector_output_run_range(const caf_collector_output *f);

/* The RunRange in *out (owned by f; empty on failure), read now if the file was opened lazily; a malformed
 * row is CAF_ERR_FORMAT naming the file, table and row. */
caf_status caf_collector_output_load_run_range(const caf_collector_output *f, const caf_run_range **out,
                                               caf_error *err);

/* Whether run was collected (*has), with one indexed lookup when the RunRange is not read yet. */
caf_status caf_collector_output_has_run(const caf_collector_output *f, caf_exprun run, bool *has, caf_error *err);

/* The granularity (the same as the RunRange's). */
caf_granularity caf_collector_output_granularity(const caf_collector_output *f);

/* Number of registered objects. */
size_t caf_collector_output_object_count(const caf_collector_output *f);

/* Object i's description (owned by f; objects sorted by name), or NULL when out of range. */
const caf_collector_object_info *caf_collector_output_object(const caf_collector_output *f, size_t i);

/* Whether the file registers an object called name (never reads key counts). */
bool caf_collector_output_has_object(const caf_collector_output *f, const char *name);

/* The description of the object called name, or NULL when the file has no such object. */
const caf_collector_object_info *caf_collector_output_find_object(const caf_collector_output *f,
                                                                  const char *name);

/* The keys holding data of object name, sorted (*keys malloc'd, caller frees; NULL when count is 0).
 * An unregistered name is CAF_ERR_NOT_FOUND naming the object and file. */
caf_status caf_collector_output_keys(const caf_collector_output *f, const char *name, caf_exprun **keys,
                                     size_t *count, caf_error *err);

/* Reads object name for one key (all its pieces merged); *out caller-owned. Fails with
 * CAF_ERR_NOT_FOUND when the object is not registered, or has no data for key (message names object,
 * key and file). */
caf_status caf_collector_output_read(const caf_collector_output *f, const char *name, caf_exprun key,
                                     caf_object **out, caf_error *err);

/* Merges object name over runs (count runs; runs NULL = every key of the file). With granularity "all"
 * the single (-1, -1) object is returned when runs is NULL or any of them is in the RunRange. Runs
 * without data are skipped; if nothing at all is found the result is CAF_ERR_NOT_FOUND ("no data for
 * object NAME ..."). *out caller-owned. */
caf_status caf_collector_output_merge_runs(const caf_collector_output *f, const char *name,
                                           const caf_exprun *runs, size_t count, caf_object **out,
                                           caf_error *err);

/* Like caf_collector_output_merge_runs over several files: opens each path in turn, checks that all
 * are from the same collector name and granularity, and merges what each holds for runs into one
 * object. *out caller-owned; CAF_ERR_NOT_FOUND if no file holds data. */
caf_status caf_collected_merge_files(const char *const *paths, size_t npaths, const char *name,
                                     const caf_exprun *runs, size_t count, caf_object **out, caf_error *err);

/* The union of the RunRanges of several files (all of one granularity) into *out (caller clears it
 * with caf_run_range_clear). */
caf_status caf_collected_run_range_of_files(const char *const *paths, size_t npaths, caf_run_range *out,
                                            caf_error *err);

/* ---- Writing ---- */

/* What a new file says about its collector. */
typedef struct caf_collector_info {
    const char *collector;    /* instance name */
    const char *module;       /* plugin name */
    caf_granularity granularity;
    const json_t *parameters; /* JSON object, may be NULL (stored as {}) */
} caf_collector_info;

/* A collector output being written. */
typedef struct caf_collector_writer caf_collector_writer;

/* Starts writing a collector output that will appear at path on commit (a temporary file beside it is
 * used until then). *out is owned by the caller until caf_collector_writer_commit or _abort. */
caf_status caf_collector_writer_open(const char *path, const caf_collector_info *info,
                                     caf_collector_writer **out, caf_error *err);

/* Registers object name (with the type of tmpl) so readers list it even if it never gets data.
 * Registering a name twice is CAF_ERR_EXISTS unless the types match. */
caf_status caf_collector_writer_declare(caf_collector_writer *w, const char *name, const caf_object *tmpl,
                                        caf_error *err);

/* Stores obj as a new piece of object name under key (declaring name if needed). On failure (e.g. a
 * full disk) the message names the collector, object and key; the writer must then be aborted. */
caf_status caf_collector_writer_put(caf_collector_writer *w, const char *name, caf_exprun key,
                                    const caf_object *obj, caf_error *err);

/* Adds a run to the file's RunRange. */
caf_status caf_collector_writer_add_run(caf_collector_writer *w, caf_exprun run, caf_error *err);

/* Makes everything put so far durable in the temporary file (one transaction per flush), so memory can
 * be released; the file still appears only on commit. */
caf_status caf_collector_writer_flush(caf_collector_writer *w, caf_error *err);

/* Writes the RunRange, finishes the file, and renames it onto its path. Frees w in every case; on
 * failure the temporary file is removed and nothing appears at the path. */
caf_status caf_collector_writer_commit(caf_collector_writer *w, caf_error *err);

/* Discards the temporary file and frees w (NULL is fine). */
void caf_collector_writer_abort(caf_collector_writer *w);

/* ---- Merging files ---- */

/* Options of caf_collector_output_merge_files. */
typedef struct caf_collector_merge_options {
    size_t memory_budget; /* bytes of merged objects held before they are written out; 0 = 256 MiB */
} caf_collector_merge_options;

/* Merges the collector outputs inputs into one file at out_path (written atomically): same collector
 * name and granularity required, RunRanges united, each object's pieces per key merged (one piece per
 * key unless the memory budget forced an early flush). options may be NULL. */
caf_status caf_collector_output_merge_files(const char *out_path, const char *const *inputs, size_t ninputs,
                                            const caf_collector_merge_options *options, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
