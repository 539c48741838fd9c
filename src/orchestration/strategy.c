/* Strategies: names, parameters, the granularity rule, and the common steps before any strategy runs
 * (remove ignored runs, sort, load a plugin and parse its parameters) and after it (the outcome). Built-ins
 * and plugins run the same way: a descriptor's run on a caf_strategy_context. */
#include <stdlib.h>
#include <string.h>

#include "orchestration/strategy_internal.h"

static const char *const kind_names[] = {"SingleIOV", "SimpleRunByRun", "SequentialRunByRun",
                                         "SequentialBoundaries", "plugin"};
static const char *const result_names[] = {"ok", "not_enough_data", "iterate", "failure"};
static const char *const outcome_names[] = {"none", "completed", "iterate", "failed"};

/* The index of name in a table of n names, or -1. */
static int find_name(const char *const *table, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, table[i]) == 0)
            return i;
    return -1;
}

const char *caf_strategy_kind_name(caf_strategy_kind kind)
{
    return (unsigned)kind <= CAF_STRATEGY_PLUGIN ? kind_names[kind] : "unknown";
}

const char *caf_strategy_params_name(const caf_strategy_params *params)
{
    return params->kind == CAF_STRATEGY_PLUGIN ? params->plugin : caf_strategy_kind_name(params->kind);
}

caf_status caf_strategy_params_set_plugin(caf_strategy_params *params, const char *name, json_t *parameters,
                                          caf_error *err)
{
    if (!name || !*name || strchr(name, '/') || *name == ':' || strlen(name) >= sizeof params->plugin)
        return caf_error_set(err, CAF_ERR_INVALID, "'%s' is not a strategy plugin name (PLUGIN or PLUGIN:STRATEGY)",
                             name ? name : "");
    if (parameters && !json_is_object(parameters))
        return caf_error_set(err, CAF_ERR_INVALID, "strategy %s: parameters must be a mapping", name);
    params->kind = CAF_STRATEGY_PLUGIN;
    snprintf(params->plugin, sizeof params->plugin, "%s", name);
    json_decref(params->plugin_parameters);
    params->plugin_parameters = parameters ? json_incref(parameters) : NULL;
    return CAF_OK;
}

bool caf_strategy_kind_parse(const char *name, caf_strategy_kind *out)
{
    int i = find_name(kind_names, 4, name);
    if (i >= 0)
        *out = (caf_strategy_kind)i;
    return i >= 0;
}

const char *caf_algorithm_result_name(caf_execution_result result)
{
    return (unsigned)result < 4 ? result_names[result] : "unknown";
}

bool caf_algorithm_result_parse(const char *name, caf_execution_result *out)
{
    int i = find_name(result_names, 4, name);
    if (i >= 0)
        *out = (caf_execution_result)i;
    return i >= 0;
}

const char *caf_strategy_outcome_name(caf_strategy_outcome outcome)
{
    return (unsigned)outcome < 4 ? outcome_names[outcome] : "unknown";
}

void caf_strategy_params_init(caf_strategy_params *params, caf_strategy_kind kind)
{
    memset(params, 0, sizeof *params);
    params->kind = kind;
    params->step_size = 1;
    params->apply_iov = CAF_IOV_EMPTY;
    params->iov_coverage = CAF_IOV_EMPTY;
}

void caf_strategy_params_clear(caf_strategy_params *params)
{
    free(params->payload_boundaries);
    json_decref(params->plugin_parameters);
    caf_strategy_params_init(params, CAF_STRATEGY_SINGLE_IOV);
}

caf_status caf_strategy_params_set_boundaries(caf_strategy_params *params, const caf_exprun *boundaries,
                                              size_t count, caf_error *err)
{
    caf_exprun *copy = malloc((count ? count : 1) * sizeof *copy);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory copying %zu payload boundaries", count);
    if (count)
        memcpy(copy, boundaries, count * sizeof *copy);
    free(params->payload_boundaries);
    params->payload_boundaries = copy;
    params->payload_boundary_count = count;
    params->has_payload_boundaries = true;
    return CAF_OK;
}

caf_status caf_strategy_params_copy(caf_strategy_params *dst, const caf_strategy_params *src, caf_error *err)
{
    *dst = *src;
    dst->payload_boundaries = NULL;
    dst->payload_boundary_count = 0;
    dst->plugin_parameters = NULL;
    if (src->plugin_parameters && !(dst->plugin_parameters = json_deep_copy(src->plugin_parameters)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory copying the parameters of %s", src->plugin);
    if (!src->has_payload_boundaries)
        return CAF_OK;
    return caf_strategy_params_set_boundaries(dst, src->payload_boundaries, src->payload_boundary_count, err);
}

bool caf_strategy_param_applies(caf_strategy_kind kind, const char *key)
{
    bool sequential = kind == CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN || kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES;
    if (strcmp(key, "apply_iov") == 0)
        return kind == CAF_STRATEGY_SINGLE_IOV;
    if (strcmp(key, "step_size") == 0)
        return kind == CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN;
    if (strcmp(key, "iov_coverage") == 0 || strcmp(key, "has_experiment_settings") == 0)
        return sequential;
    if (strcmp(key, "payload_boundaries") == 0)
        return kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES;
    return false;
}

caf_status caf_strategy_params_validate(const caf_strategy_params *params, caf_error *err)
{
    const char *name = caf_strategy_kind_name(params->kind);
    if ((unsigned)params->kind > CAF_STRATEGY_PLUGIN)
        return caf_error_set(err, CAF_ERR_INVALID, "unknown strategy %d", (int)params->kind);
    if (params->kind == CAF_STRATEGY_PLUGIN) /* its own parameters are checked against its declarations */
        return !params->plugin[0] || strchr(params->plugin, '/')
                   ? caf_error_set(err, CAF_ERR_INVALID, "'%s' is not a strategy plugin name", params->plugin)
                   : CAF_OK;
    if (params->step_size < 1)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: step_size must be at least 1, not %d", name,
                             params->step_size);
    if (params->has_apply_iov) {
        if (caf_iov_validate(params->apply_iov, err) != CAF_OK)
            return caf_error_prefix(err, "%s: apply_iov: ", name);
        if (caf_iov_is_empty(params->apply_iov))
            return caf_error_set(err, CAF_ERR_INVALID, "%s: apply_iov must not be empty", name);
    }
    if (params->has_iov_coverage) {
        if (caf_iov_validate(params->iov_coverage, err) != CAF_OK)
            return caf_error_prefix(err, "%s: iov_coverage: ", name);
        if (caf_iov_is_empty(params->iov_coverage))
            return caf_error_set(err, CAF_ERR_INVALID, "%s: iov_coverage must not be empty", name);
    }
    for (size_t i = 0; i < params->payload_boundary_count; i++)
        if (params->payload_boundaries[i].exp < 0 || params->payload_boundaries[i].run < 0)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: payload boundary %d,%d has a negative number", name,
                                 params->payload_boundaries[i].exp, params->payload_boundaries[i].run);
    return CAF_OK;
}

caf_status caf_strategy_check_granularity(caf_strategy_kind kind, const char *granularity, caf_error *err)
{
    if (kind == CAF_STRATEGY_PLUGIN) { /* its descriptor says, once it is loaded */
        if (strcmp(granularity, "run") == 0 || strcmp(granularity, "all") == 0)
            return CAF_OK;
        return caf_error_set(err, CAF_ERR_INVALID, "collector granularity must be \"run\" or \"all\", not \"%s\"",
                             granularity);
    }
    if ((unsigned)kind > CAF_STRATEGY_SEQUENTIAL_BOUNDARIES)
        return caf_error_set(err, CAF_ERR_INVALID, "unknown strategy %d", (int)kind);
    return caf_strategy_descriptor_check_granularity(strategy_builtin(kind), granularity, err);
}

/* The runs the strategy works on: the collector's runs without the ignored ones, sorted, unique. */
static caf_status prepare_runs(const caf_exprun *runs, size_t count, const caf_exprun *ignored,
                               size_t ignored_count, caf_exprun **out, size_t *out_count, caf_error *err)
{
    caf_exprun *kept = malloc((count ? count : 1) * sizeof *kept);
    if (!kept)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory copying %zu runs", count);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        bool skip = false;
        for (size_t j = 0; j < ignored_count && !skip; j++)
            skip = caf_exprun_compare(runs[i], ignored[j]) == 0;
        if (!skip)
            kept[n++] = runs[i];
    }
    *out = kept;
    *out_count = caf_exprun_sort_unique(kept, n);
    return CAF_OK;
}

/* Completed, or iterate when a committed payload came from an execution that asked to iterate. */
static void set_success_outcome(caf_strategy_state *state)
{
    state->outcome = CAF_OUTCOME_COMPLETED;
    for (size_t i = 0; i < state->execution_count; i++)
        if (state->executions[i].committed && state->executions[i].result == CAF_RESULT_ITERATE)
            state->outcome = CAF_OUTCOME_ITERATE;
}

caf_status caf_strategy_run_descriptor(const caf_strategy_descriptor *desc, const caf_strategy_params *params,
                                       int iteration, const caf_exprun *runs, size_t run_count,
                                       const caf_exprun *ignored, size_t ignored_count,
                                       const caf_strategy_callbacks *callbacks, caf_strategy_state *state,
                                       caf_error *err)
{
    caf_status rc = caf_strategy_params_validate(params, err);
    if (rc != CAF_OK)
        return rc;
    const char *name = caf_strategy_params_name(params);
    if (!callbacks || !callbacks->execute || !callbacks->commit)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: execute and commit callbacks are required", name);
    const char *saved_name = state->kind == CAF_STRATEGY_PLUGIN ? state->plugin : caf_strategy_kind_name(state->kind);
    if (state->execution_count > 0 &&
        (state->kind != params->kind || strcmp(saved_name, name) != 0 || state->iteration != iteration))
        return caf_error_set(err, CAF_ERR_STATE, "saved strategy state is for %s iteration %d, not %s iteration %d",
                             saved_name, state->iteration, name, iteration);
    state->kind = params->kind;
    snprintf(state->plugin, sizeof state->plugin, "%s", params->kind == CAF_STRATEGY_PLUGIN ? params->plugin : "");
    state->iteration = iteration;
    state->outcome = CAF_OUTCOME_NONE;
    state->reason[0] = '\0';
    free(state->responsible);
    state->responsible = NULL;
    state->responsible_count = 0;

    strategy_run run = {.params = params, .desc = desc, .iteration = iteration, .callbacks = callbacks,
                        .state = state};
    if (params->kind == CAF_STRATEGY_PLUGIN &&
        (rc = caf_strategy_descriptor_parse_params(desc, params->plugin_parameters, &run.plugin_params, err)))
        return caf_error_prefix(err, "%s: ", name);
    caf_exprun *sorted = NULL;
    size_t n = 0;
    if ((rc = prepare_runs(runs, run_count, ignored, ignored_count, &sorted, &n, err)) != CAF_OK) {
        caf_params_free(run.plugin_params);
        return rc;
    }
    run.runs = sorted;
    run.run_count = n;
    if (n == 0)
        caf_strategy_fail(&run, "no runs to calibrate (%zu recorded, %zu ignored)", run_count, ignored_count);
    else
        rc = desc->run(&run, err);
    free(sorted);
    caf_params_free(run.plugin_params);
    if (rc != CAF_OK) {
        state->outcome = CAF_OUTCOME_NONE;
        return rc;
    }
    if (run.cursor < state->execution_count) {
        state->outcome = CAF_OUTCOME_NONE;
        return caf_error_set(err, CAF_ERR_STATE,
                             "saved strategy state has %zu executions but %s needed only %zu: the input or "
                             "the parameters changed",
                             state->execution_count, name, run.cursor);
    }
    if (state->outcome == CAF_OUTCOME_NONE)
        set_success_outcome(state);
    return strategy_progress(&run, err);
}

caf_status caf_strategy_run(const caf_strategy_params *params, int iteration, const caf_exprun *runs,
                            size_t run_count, const caf_exprun *ignored, size_t ignored_count,
                            const caf_strategy_callbacks *callbacks, caf_strategy_state *state,
                            caf_error *err)
{
    if ((unsigned)params->kind < CAF_STRATEGY_PLUGIN)
        return caf_strategy_run_descriptor(strategy_builtin(params->kind), params, iteration, runs, run_count,
                                           ignored, ignored_count, callbacks, state, err);
    caf_status rc = caf_strategy_params_validate(params, err);
    if (rc != CAF_OK)
        return rc;
    caf_strategy_plugin plugin;
    if ((rc = caf_strategy_plugin_open(&plugin, params->plugin, err)) != CAF_OK)
        return rc;
    rc = caf_strategy_run_descriptor(plugin.desc, params, iteration, runs, run_count, ignored, ignored_count,
                                     callbacks, state, err);
    caf_strategy_plugin_close(&plugin);
    return rc;
}
