/* Algorithms: the half of a calibration that reads merged collector output for a set of runs and
 * computes constants, written as plugins.
 *
 * An algorithm plugin is a shared object PLUGIN.so on the plugin path (caf/plugin.h) that exports
 *
 *     const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);
 *
 * returning a NULL-terminated list of static descriptors, one per algorithm it holds (`caf algo run
 * PLUGIN:ALGORITHM` picks one by name). An algorithm declares its parameters as modules do
 * (caf_param_spec), implements calibrate, and may implement the payload-boundary hooks.
 *
 * Inside calibrate, the functions below give the runs requested, the iteration, the parameters, the
 * collected objects merged over the requested runs and every input file, the payloads of the database
 * chain, the side files the collector jobs kept, and the JSON state of the previous execution; they save
 * payloads and the JSON state for the next execution. Saved payloads are committed by the caller, all together, only when calibrate returns OK or
 * ITERATE. docs/algorithms.md is the user guide. */
#ifndef CAF_ALGORITHM_H
#define CAF_ALGORITHM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/collected.h"
#include "caf/constants.h"
#include "caf/error.h"
#include "caf/iov.h"
#include "caf/module.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The entry point every algorithm plugin exports, and the descriptor version it returns. */
#define CAF_ALGORITHM_ENTRY_SYMBOL "caf_algorithm_plugin_v1"
/* 3: the descriptor gained pre_algorithm; 2: it gained setup_experiment. Fields are only ever added at
 * the end, so a plugin built against an older version still loads: the loader copies the fields its
 * version has and leaves the later hooks unset (caf_algorithm_descriptor_size). */
#define CAF_ALGORITHM_ABI_VERSION 3

/* The outcome of an execution, with the values Belle II's CalibrationAlgorithm uses. */
typedef enum caf_algo_result {
    CAF_ALGO_OK = 0,              /* done; payloads valid */
    CAF_ALGO_ITERATE = 1,         /* payloads valid, but collect and calibrate again */
    CAF_ALGO_NOT_ENOUGH_DATA = 2, /* too little data in the requested runs; retry with more */
    CAF_ALGO_FAILURE = 3,         /* failed; nothing is committed */
    CAF_ALGO_UNDEFINED = 4,       /* not executed yet */
} caf_algo_result;

/* Returns the static name of a result ("OK", "ITERATE", "NOT_ENOUGH_DATA", "FAILURE", "UNDEFINED"). */
const char *caf_algo_result_name(caf_algo_result result);

/* Parses a result name (any case) or its number into *out; returns false when text is neither. */
bool caf_algo_result_parse(const char *text, caf_algo_result *out);

/* True for OK and ITERATE: the results whose payloads are committed. */
bool caf_algo_result_is_success(caf_algo_result result);

/* What calibrate and the boundary hooks see of the framework; owned by the framework. */
typedef struct caf_algo_context caf_algo_context;

/* ---- The descriptor a plugin returns ---- */

typedef struct caf_algorithm_descriptor {
    uint32_t abi_version;         /* CAF_ALGORITHM_ABI_VERSION */
    const char *name;             /* unique within the plugin */
    const char *description;      /* a paragraph for `caf algo list` */
    const char *collector;        /* the collector whose output it reads (its default prefix) */
    const caf_param_spec *params; /* terminated by an entry with name NULL; may be NULL */
    /* Required. Computes and saves payloads; on NOT_ENOUGH_DATA or FAILURE it should say why in err. */
    caf_algo_result (*calibrate)(caf_algo_context *ctx, caf_error *err);
    /* Optional boundary finding (caf_algorithm_find_boundaries). setup sees every run considered and may
     * keep state in *state or pre-set boundaries (caf_algo_add_boundary); is_boundary_required is asked
     * once per run, in order, with the requested runs set to just that run, and sets *required when a new
     * payload must start at it; teardown frees the state. setup and teardown may be NULL. */
    caf_status (*boundary_setup)(caf_algo_context *ctx, const caf_exprun *runs, size_t count, void **state,
                                 caf_error *err);
    caf_status (*is_boundary_required)(caf_algo_context *ctx, void *state, caf_exprun run, bool *required,
                                       caf_error *err);
    void (*boundary_teardown)(caf_algo_context *ctx, void *state);
    /* Optional; required by has_experiment_settings: called before calibrate with the experiment of the
     * execution's runs so the algorithm can load per-experiment settings (kept in its own state). */
    caf_status (*setup_experiment)(caf_algo_context *ctx, int exp, caf_error *err);
    /* Optional (version 3; basf2's pre_algorithm): called in the execution's process before every
     * execution (and boundary finding), before setup_experiment and calibrate, with the iteration, for
     * set-up that depends on it. It sees the parameters and the database chain, not the data; a non-OK
     * return fails the execution with its message. */
    caf_status (*pre_algorithm)(caf_algo_context *ctx, int iteration, caf_error *err);
} caf_algorithm_descriptor;

/* The size of the descriptor a plugin built against abi_version provides (1 to
 * CAF_ALGORITHM_ABI_VERSION), 0 for a version this caf does not know. */
size_t caf_algorithm_descriptor_size(uint32_t abi_version);

/* The type of the entry point: a NULL-terminated list of descriptors owned by the plugin. */
typedef const caf_algorithm_descriptor *const *(*caf_algorithm_entry_fn)(void);

/* ---- What an execution offers the algorithm ---- */

/* The algorithm's name (owned by the framework). */
const char *caf_algo_name(const caf_algo_context *ctx);

/* The requested runs, sorted and without duplicates (count in *count; owned by the framework). */
const caf_exprun *caf_algo_runs(const caf_algo_context *ctx, size_t *count);

/* The iteration of this execution (0 for the first). */
int caf_algo_iteration(const caf_algo_context *ctx);

/* The IoV payloads get when saved without one: the caller's, or the span of the requested runs. */
caf_iov caf_algo_default_iov(const caf_algo_context *ctx);

/* The granularity of the input ("run" or "all"; owned by the framework). */
const char *caf_algo_granularity(const caf_algo_context *ctx);

/* The parameter values (read them with caf_params_int, caf_params_double, ... of caf/module.h). */
const caf_params *caf_algo_params(const caf_algo_context *ctx);

/* The input files (collector outputs), sorted (owned by the framework). */
const char *const *caf_algo_input_files(const caf_algo_context *ctx, size_t *count);

/* ---- Collected objects ---- */

/* The collected object name merged over the requested runs and every input file (granularity "all": the
 * one object of every file, merged); ntuples come back as one table with the rows of every run and file.
 * Cached per (name, run set): asking again returns the same object without merging again. *out is owned
 * by the framework and lives until the execution ends. An object no input file has is CAF_ERR_NOT_FOUND
 * listing the names there are; no data in the requested runs is CAF_ERR_NOT_FOUND too. */
caf_status caf_algo_get_object(caf_algo_context *ctx, const char *name, const caf_object **out, caf_error *err);

/* Like caf_algo_get_object over the given runs (any order, duplicates allowed) instead of the requested
 * ones, e.g. one run at a time. */
caf_status caf_algo_get_object_for_runs(caf_algo_context *ctx, const char *name, const caf_exprun *runs,
                                        size_t count, const caf_object **out, caf_error *err);

/* ---- Collections (a calibration whose `collections:` feed it; docs/algorithms.md) ---- */

/* Like caf_algo_get_object, but merged only over the input files of the named collection (objects of
 * the other collections are left out). An unknown collection is CAF_ERR_NOT_FOUND listing those there
 * are. *out is owned by the framework and lives until the execution ends. */
caf_status caf_algo_get_collection_object(caf_algo_context *ctx, const char *collection, const char *name,
                                          const caf_object **out, caf_error *err);

/* Like caf_algo_get_collection_object over the given runs instead of the requested ones. */
caf_status caf_algo_get_collection_object_for_runs(caf_algo_context *ctx, const char *collection, const char *name,
                                                   const caf_exprun *runs, size_t count, const caf_object **out,
                                                   caf_error *err);

/* The collection input file index (as caf_algo_input_files lists them) belongs to; NULL when the inputs
 * carry no collection names or index is out of range. Owned by the framework. */
const char *caf_algo_input_collection(const caf_algo_context *ctx, size_t index);

/* ---- Side files (collection `output_patterns`, basf2 Algorithm.data_input; docs/algorithms.md) ---- */

/* One collector job's side files: the files it kept through output_patterns, and its runs. */
typedef struct caf_algo_side_files {
    const char *collection;     /* the job's collection; NULL for a calibration without `collections:` */
    size_t job;                 /* the job's index within its collection (its folder outputs/N) */
    const caf_exprun *runs;     /* the job's runs that this execution requested, sorted (at least one) */
    size_t run_count;
    const caf_exprun *job_runs; /* every run the job held, sorted (its files may hold the others too) */
    size_t job_run_count;
    const char *const *files;   /* absolute paths of its side files, sorted by name; may be none */
    size_t file_count;
} caf_algo_side_files;

/* The collector jobs, of every collection, that held at least one requested run, with their side files
 * (*out, *count; in input order, then job order). *out and everything it points to are owned by the
 * framework and live until the execution ends. Inputs without side files give no jobs (not an error); a
 * manifest naming a file outside its folder is CAF_ERR_FORMAT naming the manifest and the file. */
caf_status caf_algo_side_files_list(caf_algo_context *ctx, const caf_algo_side_files **out, size_t *count,
                                    caf_error *err);

/* Like caf_algo_side_files_list for the jobs of the named collection only; an unknown collection is
 * CAF_ERR_NOT_FOUND listing those there are. */
caf_status caf_algo_collection_side_files(caf_algo_context *ctx, const char *collection,
                                          const caf_algo_side_files **out, size_t *count, caf_error *err);

/* ---- Payloads ---- */

/* Adds a payload of size bytes (copied) in format ext ("json", "bin", ...) to this execution; iov NULL
 * means the default IoV. An empty or invalid IoV, a bad name or extension fails naming the payload. */
caf_status caf_algo_save_bytes(caf_algo_context *ctx, const char *name, const char *ext, const void *data,
                               size_t size, const caf_iov *iov, caf_error *err);

/* Adds constants as a canonical JSON payload (extension "json"): equal constants give equal bytes. */
caf_status caf_algo_save_constants(caf_algo_context *ctx, const char *name, const caf_constants *constants,
                                   const caf_iov *iov, caf_error *err);

/* Reads the payload name valid at run r from the database chain: its bytes (*data, malloc'd and
 * NUL-terminated, caller frees), size and extension (*ext, malloc'd, caller frees; may be NULL).
 * CAF_ERR_NOT_FOUND when no database of the chain has one. */
caf_status caf_algo_read_payload(const caf_algo_context *ctx, const char *name, caf_exprun r, char **data,
                                 size_t *size, char **ext, caf_error *err);

/* Reads a constants payload (as saved by caf_algo_save_constants) valid at run r from the chain; *out is
 * caller-owned (caf_constants_free). */
caf_status caf_algo_read_constants(const caf_algo_context *ctx, const char *name, caf_exprun r,
                                   caf_constants **out, caf_error *err);

/* ---- JSON state between executions ---- */

/* The state the previous execution wrote (an object, {} when none); owned by the framework. */
const json_t *caf_algo_input_state(const caf_algo_context *ctx);

/* The state for the next execution: an object, empty at the start of every execution; set keys with
 * json_object_set_new. Owned by the framework. */
json_t *caf_algo_output_state(caf_algo_context *ctx);

/* ---- Boundaries ---- */

/* Marks r as a payload boundary (from boundary_setup or is_boundary_required). */
caf_status caf_algo_add_boundary(caf_algo_context *ctx, caf_exprun r, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
