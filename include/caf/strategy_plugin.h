/* Strategy plugins: your own IoV strategy (the reference's AlgorithmStrategy subclass), written in C.
 *
 * A strategy plugin is a shared object PLUGIN.so on the plugin path (caf/plugin.h) that exports
 *
 *     const caf_strategy_descriptor *const *caf_strategy_plugin_v1(void);
 *
 * returning a NULL-terminated list of static descriptors. A campaign names one with `strategy:
 * PLUGIN[:STRATEGY]` (without ":STRATEGY" the plugin's strategy called PLUGIN, or its only one) and gives
 * its parameters in `strategy_parameters:`, checked against the declared caf_param_spec list by `caf
 * config check` (a wrong type is an error with FILE:LINE:COLUMN).
 *
 * The descriptor's run is called once per algorithm and iteration with the calibration's runs (ignored
 * runs removed, sorted). It asks for executions and commits through the functions below and never sees
 * the algorithm itself. Progress is recorded below the plugin: when an interrupted calibration resumes,
 * run is called again from the start, and every execution that was already recorded is answered from the
 * record (same result, no algorithm run), so a deterministic strategy gets resume for free. A strategy
 * must therefore decide only from its runs, its parameters and the results it got. The four built-in
 * strategies are descriptors of the same kind (docs/strategies.md is the user guide). */
#ifndef CAF_STRATEGY_PLUGIN_H
#define CAF_STRATEGY_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/iov.h"
#include "caf/module.h"
#include "caf/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The entry point every strategy plugin exports, and the descriptor version it returns. */
#define CAF_STRATEGY_ENTRY_SYMBOL "caf_strategy_plugin_v1"
#define CAF_STRATEGY_ABI_VERSION 1

/* One run of a strategy: its runs, parameters and recorded progress; owned by caf. */
typedef struct caf_strategy_context caf_strategy_context;

typedef struct caf_strategy_descriptor {
    uint32_t abi_version;              /* CAF_STRATEGY_ABI_VERSION */
    const char *name;                  /* unique within the plugin */
    const char *description;           /* one paragraph */
    const caf_param_spec *params;      /* terminated by an entry with name NULL; may be NULL */
    const char *const *granularities;  /* collector granularities it accepts ("run", "all"), NULL-terminated;
                                          NULL accepts both */
    /* Required. Runs the strategy to its end: execute, commit, fail. A non-OK return is an error of caf
     * (a callback's, passed on) that leaves the calibration resumable, not an algorithm failure. */
    caf_status (*run)(caf_strategy_context *ctx, caf_error *err);
} caf_strategy_descriptor;

/* The type of the entry point: a NULL-terminated list of descriptors owned by the plugin. */
typedef const caf_strategy_descriptor *const *(*caf_strategy_entry_fn)(void);

/* ---- What run sees ---- */

/* The strategy's name: a built-in's reference name or "PLUGIN[:STRATEGY]" (owned by caf). */
const char *caf_strategy_name(const caf_strategy_context *ctx);

/* The runs to calibrate: collected, ignored ones removed, sorted, unique, never empty (owned by caf). */
const caf_exprun *caf_strategy_runs(const caf_strategy_context *ctx, size_t *count);

/* The calibration iteration (0 for the first). */
int caf_strategy_iteration(const caf_strategy_context *ctx);

/* The parameter values (read them with caf_params_int, ... of caf/module.h); owned by caf. A built-in
 * strategy's typed parameters are not here (its caf_strategy_params are). */
const caf_params *caf_strategy_parameters(const caf_strategy_context *ctx);

/* ---- What run asks for ---- */

/* Executes the algorithm on count sorted runs whose payloads get iov, or answers from the record when this
 * execution was already made before an interruption; *result is its result and *index (may be NULL) its
 * number, for caf_strategy_commit. A recorded execution with other runs or another IoV is CAF_ERR_STATE. */
caf_status caf_strategy_execute(caf_strategy_context *ctx, const caf_exprun *runs, size_t count, caf_iov iov,
                                caf_execution_result *result, size_t *index, caf_error *err);

/* Commits execution index's payloads to the iteration's output database (once: a committed one is left
 * alone). Commit only OK and ITERATE results; committing another result is CAF_ERR_INVALID. */
caf_status caf_strategy_commit(caf_strategy_context *ctx, size_t index, caf_error *err);

/* Execution index as recorded (owned by caf, valid until the next caf_strategy_execute), or NULL. */
const caf_execution *caf_strategy_execution(const caf_strategy_context *ctx, size_t index);

/* The payload boundaries the algorithm finds in one experiment's runs (recorded, answered from the record
 * on resume); the array is owned by caf. */
caf_status caf_strategy_find_boundaries(caf_strategy_context *ctx, int exp, const caf_exprun *runs, size_t count,
                                        const caf_exprun **boundaries, size_t *boundary_count, caf_error *err);

/* Has the algorithm load the settings of experiment exp for the executions that follow (its
 * setup_experiment hook); CAF_ERR_INVALID when the caller gave no such callback. */
caf_status caf_strategy_apply_experiment_settings(caf_strategy_context *ctx, int exp, caf_error *err);

/* Declares an IoV the strategy means to cover: the parts no committed payload covers are the IoV gaps
 * written to <algorithm>_iov_gaps.json. */
caf_status caf_strategy_add_responsible(caf_strategy_context *ctx, caf_iov iov, caf_error *err);

/* Marks the strategy FAILED with a one-line reason; later reasons are appended after "; ". run should
 * still return CAF_OK: a failed calibration is an outcome, not an error. */
void caf_strategy_fail(caf_strategy_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Loading and checking (for caf itself and tools) ---- */

/* A strategy plugin opened from the plugin path. */
typedef struct caf_strategy_plugin {
    void *handle;                        /* dlopen handle; NULL when closed */
    char *path;                          /* the file (owned) */
    const caf_strategy_descriptor *desc; /* owned by the plugin */
} caf_strategy_plugin;

/* Opens "PLUGIN[:STRATEGY]" from the plugin path and checks its descriptor (ABI version, name, run, the
 * parameter declarations). Close with caf_strategy_plugin_close. */
caf_status caf_strategy_plugin_open(caf_strategy_plugin *plugin, const char *name, caf_error *err);

/* Opens the strategy of the plugin file at path (name as for caf_strategy_plugin_open, for the
 * ":STRATEGY" part and messages). */
caf_status caf_strategy_plugin_open_file(caf_strategy_plugin *plugin, const char *path, const char *name,
                                         caf_error *err);

/* Unloads the plugin (safe on a zeroed one). */
void caf_strategy_plugin_close(caf_strategy_plugin *plugin);

/* Checks a descriptor: ABI version, a name, run, and parameter declarations that are valid. */
caf_status caf_strategy_descriptor_check(const caf_strategy_descriptor *desc, caf_error *err);

/* Parses parameters (a JSON object, NULL for none) against desc's declarations; *out is caller-owned
 * (caf_params_free). An unknown parameter, a wrong type or a missing required one is CAF_ERR_INVALID. */
caf_status caf_strategy_descriptor_parse_params(const caf_strategy_descriptor *desc, const json_t *parameters,
                                                caf_params **out, caf_error *err);

/* Checks that desc accepts collector granularity ("run" or "all"). */
caf_status caf_strategy_descriptor_check_granularity(const caf_strategy_descriptor *desc, const char *granularity,
                                                     caf_error *err);

/* Like caf_strategy_run with a descriptor instead of a named strategy: params->kind must be
 * CAF_STRATEGY_PLUGIN (params->plugin names it in the state). For tests and embedding programs. */
caf_status caf_strategy_run_descriptor(const caf_strategy_descriptor *desc, const caf_strategy_params *params,
                                       int iteration, const caf_exprun *runs, size_t run_count,
                                       const caf_exprun *ignored, size_t ignored_count,
                                       const caf_strategy_callbacks *callbacks, caf_strategy_state *state,
                                       caf_error *err);

/* One problem a strategy plugin check found: the parameter at fault (empty: the strategy itself) and the
 * message. */
typedef struct caf_strategy_check_problem {
    char parameter[128];
    char message[512];
} caf_strategy_check_problem;

/* Loads the strategy plugin at path in a child process (so that a plugin crashing or hanging while loaded
 * cannot take the caller down) and checks its descriptor, granularity (NULL: not checked) and each
 * parameter; fills up to max problems and sets *count. Returns CAF_OK when the check ran (problems or
 * not); a child that crashed or timed out is one problem naming the signal. */
caf_status caf_strategy_plugin_check(const char *path, const char *name, const json_t *parameters,
                                     const char *granularity, caf_strategy_check_problem *problems, size_t max,
                                     size_t *count, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
