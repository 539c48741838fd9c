/* An algorithm instance: a loaded algorithm plugin with its parameters, input files (collector outputs)
 * and database chain, executed in the calling process. This is Belle II's CalibrationAlgorithm seen from
 * the caller: execute(runs, iteration, iov), the payload list and result of the last execution, commit,
 * the JSON state passed between executions and payload-boundary finding.
 *
 * Callers that must survive a crashing algorithm use the runner (caf/algorithm_runner.h), which does all
 * of this in a child process. */
#ifndef CAF_ALGORITHM_INSTANCE_H
#define CAF_ALGORITHM_INSTANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "caf/algorithm.h"
#include "caf/collected.h"
#include "caf/error.h"
#include "caf/iov.h"
#include "caf/run_range.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_algorithm caf_algorithm;

/* One saved payload: the bytes are in format ext (its file extension). */
typedef struct caf_algo_payload {
    char *name;
    char *ext;
    void *data;
    size_t size;
    caf_iov iov;
    char *revision; /* set once committed, else NULL */
} caf_algo_payload;

/* Frees the strings and bytes of count payloads, then the array itself (NULL is fine). */
void caf_algo_payloads_free(caf_algo_payload *payloads, size_t count);

/* Splits "PLUGIN:ALGORITHM" into *plugin and *algorithm (both malloc'd, caller frees). "PLUGIN" alone
 * leaves *algorithm NULL (the plugin's only algorithm); "python:MODULE:FUNCTION" (an algorithm in Python,
 * caf/python_algorithm.h) gives "python" and "MODULE:FUNCTION". */
caf_status caf_algorithm_split_name(const char *text, char **plugin, char **algorithm, caf_error *err);

/* Loads algorithm name (NULL = the only one) from plugin PLUGIN.so on the plugin path, checks its
 * descriptor and parses no parameters yet (defaults apply). Fails with CAF_ERR_NOT_FOUND or
 * CAF_ERR_PLUGIN and a message naming the algorithm and the culprit. *out is caller-owned. */
caf_status caf_algorithm_open(const char *plugin, const char *name, caf_algorithm **out, caf_error *err);

/* Makes an instance of an algorithm linked into the program (no plugin), named "builtin:NAME". The
 * descriptor must outlive the instance. *out is caller-owned. */
caf_status caf_algorithm_new(const caf_algorithm_descriptor *descriptor, caf_algorithm **out, caf_error *err);

/* Like caf_algorithm_new, for algorithms that come from elsewhere than a plugin: the instance is named
 * "SOURCE:NAME" (e.g. "python:my.module:calibrate"). *out is caller-owned. */
caf_status caf_algorithm_new_as(const char *source, const caf_algorithm_descriptor *descriptor, caf_algorithm **out,
                                caf_error *err);

/* Frees the instance and unloads the plugin (NULL is fine). */
void caf_algorithm_close(caf_algorithm *alg);

/* The descriptors of every algorithm in plugin (NULL-terminated, owned by the plugin, valid while the
 * plugin stays loaded: *handle_out receives an opaque handle to close with caf_algorithm_plugin_close). */
caf_status caf_algorithm_plugin_list(const char *plugin, const caf_algorithm_descriptor *const **list,
                                     void **handle_out, caf_error *err);

/* The names of the hooks descriptor d has, in declaration order ("calibrate", "boundary_setup",
 * "is_boundary_required", "boundary_teardown", "setup_experiment", "pre_algorithm"): a new JSON array. */
json_t *caf_algorithm_hooks_json(const caf_algorithm_descriptor *d);

/* Loads algorithm plugin PLUGIN in a child process (search_path, when not NULL, replaces $CAF_PLUGIN_PATH
 * there) and describes each algorithm it holds: *out is a new JSON array of {"name", "collector",
 * "abi_version", "hooks", and "error" when the algorithm cannot be used}. A file the loader refuses (not
 * a shared object, no entry point, an unknown descriptor version) is CAF_ERR_FORMAT with the loader's
 * message; a plugin that crashes, exits or takes longer than timeout_s seconds while loading is
 * CAF_ERR_PLUGIN saying so. The caller is never affected. */
caf_status caf_algorithm_plugin_probe(const char *plugin, const char *search_path, double timeout_s, json_t **out,
                                      caf_error *err);

/* Unloads a plugin opened by caf_algorithm_plugin_list. */
void caf_algorithm_plugin_close(void *handle);

/* The descriptor (owned by the plugin). */
const caf_algorithm_descriptor *caf_algorithm_descriptor_of(const caf_algorithm *alg);

/* "PLUGIN:ALGORITHM" (owned by alg), the name messages use. */
const char *caf_algorithm_full_name(const caf_algorithm *alg);

/* Parses count (name, YAML value) parameter pairs; unknown names, ill-typed values and missing required
 * parameters fail naming the algorithm and the parameter. Replaces earlier values. */
caf_status caf_algorithm_set_params(caf_algorithm *alg, size_t count, const char *const *names,
                                    const char *const *values, caf_error *err);

/* Sets the collector name (prefix) the input files must come from; default: the descriptor's. */
caf_status caf_algorithm_set_collector(caf_algorithm *alg, const char *collector, caf_error *err);

/* Opens the collector outputs at paths (sorted, duplicates dropped). Every file must come from the
 * algorithm's collector and all must have one granularity; otherwise the message names the file. */
caf_status caf_algorithm_set_inputs(caf_algorithm *alg, const char *const *paths, size_t count, caf_error *err);

/* Like caf_algorithm_set_inputs for inputs that belong to named collections: collections[i] names the
 * collection of paths[i] (caf_algo_get_collection_object reads one collection alone) and collectors[i]
 * the collector it must come from (NULL entry or array: the algorithm's collector). Both arrays may be
 * NULL. */
caf_status caf_algorithm_set_collection_inputs(caf_algorithm *alg, const char *const *paths,
                                               const char *const *collections, const char *const *collectors,
                                               size_t count, caf_error *err);

/* Sets the database chain payloads are read from (first match wins); paths are copied. The databases are
 * opened on the first payload read, so an error in one is reported there, and an execution that reads no
 * payload never reads them. */
caf_status caf_algorithm_set_chain(caf_algorithm *alg, const char *const *paths, size_t count, caf_error *err);

/* Sets the input JSON state from text (must be a JSON object). The input state is kept across
 * executions until replaced. */
caf_status caf_algorithm_set_input_state(caf_algorithm *alg, const char *json_text, caf_error *err);

/* The union of the runs of every input file (owned by alg; valid until set_inputs), read from the files on
 * the first call (a file that cannot give its runs: logged, and the range is empty). */
const caf_run_range *caf_algorithm_collected(const caf_algorithm *alg);

/* Executes calibrate for runs (NULL/0 = every collected run; sorted and de-duplicated) at iteration,
 * with iov as the default payload IoV (NULL = the span of the runs). Requested runs that were never
 * collected are dropped with a warning each; if none is left the result is NOT_ENOUGH_DATA without
 * calling calibrate. Returns CAF_OK whenever calibrate ran (or was skipped) and sets *result; the
 * reason of a FAILURE or NOT_ENOUGH_DATA is in caf_algorithm_message. */
caf_status caf_algorithm_execute(caf_algorithm *alg, const caf_exprun *runs, size_t count, int iteration,
                                 const caf_iov *iov, caf_algo_result *result, caf_error *err);

/* Calls the descriptor's pre_algorithm hook, if it has one, with iteration (do it before everything else
 * of an execution or boundary finding); CAF_OK without the hook. */
caf_status caf_algorithm_pre_algorithm(caf_algorithm *alg, int iteration, caf_error *err);

/* Calls the descriptor's setup_experiment hook with exp (do it before caf_algorithm_execute);
 * CAF_ERR_STATE naming the algorithm when it has no such hook. */
caf_status caf_algorithm_setup_experiment(caf_algorithm *alg, int exp, caf_error *err);

/* The result of the last execution (UNDEFINED before any). */
caf_algo_result caf_algorithm_result(const caf_algorithm *alg);

/* Why the last execution returned what it did ("" when nothing was said); owned by alg. */
const char *caf_algorithm_message(const caf_algorithm *alg);

/* The runs of the last execution (owned by alg). */
const caf_exprun *caf_algorithm_runs(const caf_algorithm *alg, size_t *count);

/* The default IoV of the last execution. */
caf_iov caf_algorithm_iov(const caf_algorithm *alg);

/* The payloads saved by the last execution (owned by alg; count in *count). */
const caf_algo_payload *caf_algorithm_payloads(const caf_algorithm *alg, size_t *count);

/* Moves the last execution's payloads to the caller (*payloads malloc'd; caf_algo_payloads_free). */
void caf_algorithm_take_payloads(caf_algorithm *alg, caf_algo_payload **payloads, size_t *count);

/* The output JSON state of the last execution (an object; owned by alg). */
const json_t *caf_algorithm_output_state(const caf_algorithm *alg);

/* Commits the last execution's payloads to the database at db_path (created if missing), all together
 * or none; only after OK or ITERATE (CAF_ERR_STATE otherwise). No payloads is a successful no-op. */
caf_status caf_algorithm_commit(caf_algorithm *alg, const char *db_path, caf_error *err);

/* Commits count payloads to db_path all together or none, and records their revisions. open_flags are
 * caf_localdb_open's (CAF_LOCALDB_CREATE is always added). */
caf_status caf_algo_payloads_commit(caf_algo_payload *payloads, size_t count, const char *db_path,
                                    unsigned open_flags, caf_error *err);

/* Finds payload boundaries over runs (NULL/0 = every collected run) at iteration: calls the boundary
 * hooks and returns the boundaries sorted and without duplicates (*boundaries malloc'd, caller frees).
 * Needs granularity "run" and an is_boundary_required hook; otherwise CAF_ERR_STATE saying so. */
caf_status caf_algorithm_find_boundaries(caf_algorithm *alg, const caf_exprun *runs, size_t count, int iteration,
                                         caf_exprun **boundaries, size_t *boundary_count, caf_error *err);

/* Number of merges done for the object cache so far (a cache hit does none); for tests and benchmarks. */
size_t caf_algorithm_merge_count(const caf_algorithm *alg);

#ifdef __cplusplus
}
#endif
#endif
