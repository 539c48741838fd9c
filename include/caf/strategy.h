/* IoV strategies: which runs each algorithm execution sees and which IoV its payloads get, with the
 * semantics of the reference CAF (docs/ARCHITECTURE.md, ## orchestration, and the strategies spec).
 *
 * A strategy talks to the algorithm only through caf_strategy_callbacks, so the real algorithm runner and
 * a scripted test algorithm plug in the same way. Its progress is data (caf_strategy_state: every
 * execution with its runs, IoV, result and whether it was committed, plus the boundaries the algorithm
 * found); running a strategy again on a saved state replays the recorded executions instead of calling
 * the algorithm again, so an interrupted calibration continues where it stopped. */
#ifndef CAF_STRATEGY_H
#define CAF_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_strategy_kind {
    CAF_STRATEGY_SINGLE_IOV = 0,
    CAF_STRATEGY_SIMPLE_RUN_BY_RUN = 1,
    CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN = 2,
    CAF_STRATEGY_SEQUENTIAL_BOUNDARIES = 3,
    CAF_STRATEGY_PLUGIN = 4, /* a strategy plugin (caf/strategy_plugin.h), named by caf_strategy_params.plugin */
} caf_strategy_kind;

/* The longest "PLUGIN[:STRATEGY]" name of a strategy plugin, with its terminating NUL. */
#define CAF_STRATEGY_NAME_MAX 256

/* The result an algorithm execution reports (the reference's AlgResult). */
typedef enum caf_execution_result {
    CAF_RESULT_OK = 0,
    CAF_RESULT_NOT_ENOUGH_DATA = 1,
    CAF_RESULT_ITERATE = 2,
    CAF_RESULT_FAILURE = 3,
} caf_execution_result;

/* How a strategy ended: the calibration completes, iterates, or fails. */
typedef enum caf_strategy_outcome {
    CAF_OUTCOME_NONE = 0, /* not finished (interrupted, or never run) */
    CAF_OUTCOME_COMPLETED = 1,
    CAF_OUTCOME_ITERATE = 2,
    CAF_OUTCOME_FAILED = 3,
} caf_strategy_outcome;

/* A strategy and its parameters. Initialise with caf_strategy_params_init; the boundary array and the
 * plugin's parameters are owned by the params (caf_strategy_params_clear frees them). */
typedef struct caf_strategy_params {
    caf_strategy_kind kind;
    bool has_apply_iov; /* SingleIOV */
    caf_iov apply_iov;
    int step_size; /* SequentialRunByRun, >= 1, default 1 */
    bool has_iov_coverage; /* sequential strategies */
    caf_iov iov_coverage;
    bool has_experiment_settings; /* sequential strategies */
    bool has_payload_boundaries;  /* SequentialBoundaries */
    caf_exprun *payload_boundaries;
    size_t payload_boundary_count;
    char plugin[CAF_STRATEGY_NAME_MAX]; /* CAF_STRATEGY_PLUGIN: "PLUGIN[:STRATEGY]" */
    json_t *plugin_parameters; /* CAF_STRATEGY_PLUGIN: an object checked against its declared parameters */
} caf_strategy_params;

/* One algorithm execution: the runs it saw, the IoV its payloads were given, its result. */
typedef struct caf_execution {
    size_t index;     /* 0, 1, ... in the order the strategy asked for them */
    int iteration;    /* the calibration iteration it belongs to */
    caf_exprun *runs; /* sorted; owned by the state */
    size_t run_count;
    caf_iov iov;
    caf_execution_result result;
    bool committed; /* its payloads are in the output database */
} caf_execution;

/* Boundaries the algorithm found for one experiment (recorded so that a resume does not ask again). */
typedef struct caf_found_boundaries {
    int exp;
    caf_exprun *boundaries; /* owned by the state */
    size_t count;
} caf_found_boundaries;

/* A strategy's progress and result. Zero-initialise or caf_strategy_state_init; free with _clear. */
typedef struct caf_strategy_state {
    caf_strategy_kind kind;
    char plugin[CAF_STRATEGY_NAME_MAX]; /* CAF_STRATEGY_PLUGIN: which one */
    int iteration;
    caf_execution *executions;
    size_t execution_count, execution_capacity;
    caf_found_boundaries *found;
    size_t found_count;
    caf_iov *responsible; /* the IoVs the strategy had to cover (one per experiment, or one span) */
    size_t responsible_count;
    caf_strategy_outcome outcome;
    char reason[512]; /* why it failed, empty otherwise */
} caf_strategy_state;

/* What a strategy calls. execute and commit are required; find_boundaries is required by
 * SequentialBoundaries without payload_boundaries (and by a strategy plugin that asks for boundaries);
 * apply_experiment_settings is called (when set and has_experiment_settings is on, or when a plugin asks)
 * before an experiment's executions; progress (optional) is called after
 * every change to the state so the caller can save it, and a non-OK return stops the strategy there.
 * A non-OK status from any callback stops the strategy with that error and leaves the state resumable. */
typedef struct caf_strategy_callbacks {
    /* Runs the algorithm on execution->runs with execution->iteration; its payloads get execution->iov. */
    caf_status (*execute)(void *ctx, const caf_execution *execution, caf_execution_result *result,
                          caf_error *err);
    /* Commits the payloads that execution produced to the output database. */
    caf_status (*commit)(void *ctx, const caf_execution *execution, caf_error *err);
    /* Finds payload boundaries in runs (one experiment); *out is malloc'd (caller frees), may be empty. */
    caf_status (*find_boundaries)(void *ctx, const caf_exprun *runs, size_t count, caf_exprun **out,
                                  size_t *out_count, caf_error *err);
    /* Applies the settings that depend on the experiment before its runs are processed. */
    caf_status (*apply_experiment_settings)(void *ctx, int exp, caf_error *err);
    /* Observes the state after each change (to save it). */
    caf_status (*progress)(void *ctx, const caf_strategy_state *state, caf_error *err);
    void *ctx;
} caf_strategy_callbacks;

/* ---- names and parameters ---- */

/* Returns the reference name ("SingleIOV", ...; "plugin" for CAF_STRATEGY_PLUGIN); never NULL. */
const char *caf_strategy_kind_name(caf_strategy_kind kind);

/* The strategy's name for messages and saved states: the built-in's name or the plugin's
 * "PLUGIN[:STRATEGY]" (owned by params). */
const char *caf_strategy_params_name(const caf_strategy_params *params);

/* Makes params a strategy plugin named name ("PLUGIN[:STRATEGY]") with parameters (an object, or NULL for
 * none; a new reference is taken). Fails when the name is empty, too long or holds '/'. */
caf_status caf_strategy_params_set_plugin(caf_strategy_params *params, const char *name, json_t *parameters,
                                          caf_error *err);

/* Parses a built-in strategy's reference name into *out; returns false when it names none (it may then
 * name a strategy plugin). */
bool caf_strategy_kind_parse(const char *name, caf_strategy_kind *out);

/* Returns "ok", "not_enough_data", "iterate" or "failure"; never NULL. */
const char *caf_algorithm_result_name(caf_execution_result result);

/* Parses a result name into *out; returns false when unknown. */
bool caf_algorithm_result_parse(const char *name, caf_execution_result *out);

/* Returns "none", "completed", "iterate" or "failed"; never NULL. */
const char *caf_strategy_outcome_name(caf_strategy_outcome outcome);

/* Sets params to kind with default parameters (step_size 1, nothing else set). */
void caf_strategy_params_init(caf_strategy_params *params, caf_strategy_kind kind);

/* Frees the boundary array and the plugin parameters, and resets params to SingleIOV defaults. */
void caf_strategy_params_clear(caf_strategy_params *params);

/* Deep-copies src into *dst (dst is overwritten, not cleared first). */
caf_status caf_strategy_params_copy(caf_strategy_params *dst, const caf_strategy_params *src, caf_error *err);

/* Copies count boundaries into params and sets has_payload_boundaries. */
caf_status caf_strategy_params_set_boundaries(caf_strategy_params *params, const caf_exprun *boundaries,
                                              size_t count, caf_error *err);

/* True if the parameter called key ("apply_iov", "step_size", "iov_coverage", "has_experiment_settings",
 * "payload_boundaries") is one that kind understands. */
bool caf_strategy_param_applies(caf_strategy_kind kind, const char *key);

/* Checks the parameters' values (step_size >= 1, valid IoVs, non-empty apply_iov). */
caf_status caf_strategy_params_validate(const caf_strategy_params *params, caf_error *err);

/* Checks that kind can work on collector output of granularity ("run" or "all"): the run-based strategies
 * refuse "all". A plugin's granularities are checked when it is loaded (caf_strategy_plugin_check). */
caf_status caf_strategy_check_granularity(caf_strategy_kind kind, const char *granularity, caf_error *err);

/* ---- running ---- */

/* Zero-initialises state. */
void caf_strategy_state_init(caf_strategy_state *state);

/* Frees everything the state owns and zero-initialises it. */
void caf_strategy_state_clear(caf_strategy_state *state);

/* Runs the strategy for one algorithm and one iteration on the collector's runs (ignored runs are removed
 * and the rest sorted here). A strategy plugin is loaded from the plugin path for the call (its parameters
 * are checked first). Executions already recorded in state are replayed, not executed again; a
 * recorded execution that does not match what the strategy asks for now (other runs or IoV) is
 * CAF_ERR_STATE. Returns CAF_OK when the strategy came to an outcome (which may be FAILED: see
 * state->outcome and state->reason), or the error of a callback that stopped it. A plain synchronous
 * call: whoever needs isolation from a crashing plugin calls it in a child process. */
caf_status caf_strategy_run(const caf_strategy_params *params, int iteration, const caf_exprun *runs,
                            size_t run_count, const caf_exprun *ignored, size_t ignored_count,
                            const caf_strategy_callbacks *callbacks, caf_strategy_state *state,
                            caf_error *err);

/* The IoVs of the committed executions, in execution order (malloc'd into *out, caller frees). */
caf_status caf_strategy_committed_iovs(const caf_strategy_state *state, caf_iov **out, size_t *count,
                                       caf_error *err);

/* The parts of the responsible IoVs that no committed payload covers, sorted (malloc'd, caller frees). */
caf_status caf_strategy_iov_gaps(const caf_strategy_state *state, caf_iov **out, size_t *count, caf_error *err);

/* Writes the gaps as a JSON list of [e1, r1, e2, r2] to DIR/<algorithm>_iov_gaps.json, atomically. */
caf_status caf_strategy_write_iov_gaps(const caf_strategy_state *state, const char *dir, const char *algorithm,
                                       caf_error *err);

/* ---- saving and loading progress ---- */

/* Returns the state as a JSON object (new reference, caller decrefs), or NULL when out of memory. */
json_t *caf_strategy_state_to_json(const caf_strategy_state *state);

/* Reads a state from JSON into *state (which must be initialised and is cleared first). Errors name the
 * key at fault. */
caf_status caf_strategy_state_from_json(const json_t *json, caf_strategy_state *state, caf_error *err);

/* Saves the state to path atomically. */
caf_status caf_strategy_state_save(const caf_strategy_state *state, const char *path, caf_error *err);

/* Loads a state saved by caf_strategy_state_save; errors are prefixed with path. */
caf_status caf_strategy_state_load(const char *path, caf_strategy_state *state, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
