/* A strategy's progress as JSON, so that the run loop can save it and an interrupted calibration can
 * continue without executing its finished executions again. */
#include <stdlib.h>
#include <string.h>

#include "caf/json.h"
#include "orchestration/strategy_internal.h"

static json_t *runs_json(const caf_exprun *runs, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        if (json_array_append_new(list, json_pack("[ii]", runs[i].exp, runs[i].run)) != 0) {
            json_decref(list);
            return NULL;
        }
    return list;
}

static json_t *iov_json(caf_iov iov)
{
    return json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}

json_t *caf_strategy_state_to_json(const caf_strategy_state *state)
{
    json_t *executions = json_array(), *found = json_array(), *responsible = json_array();
    for (size_t i = 0; executions && i < state->execution_count; i++) {
        const caf_execution *e = &state->executions[i];
        json_t *item = json_pack("{s:I, s:i, s:o*, s:o*, s:s, s:b}", "index", (json_int_t)e->index, "iteration",
                                 e->iteration, "runs", runs_json(e->runs, e->run_count), "iov", iov_json(e->iov),
                                 "result", caf_algorithm_result_name(e->result), "committed", e->committed);
        if (!item || json_array_append_new(executions, item) != 0) {
            json_decref(executions);
            executions = NULL;
        }
    }
    for (size_t i = 0; found && i < state->found_count; i++) {
        json_t *item = json_pack("{s:i, s:o*}", "exp", state->found[i].exp, "boundaries",
                                 runs_json(state->found[i].boundaries, state->found[i].count));
        if (!item || json_array_append_new(found, item) != 0) {
            json_decref(found);
            found = NULL;
        }
    }
    for (size_t i = 0; responsible && i < state->responsible_count; i++)
        if (json_array_append_new(responsible, iov_json(state->responsible[i])) != 0) {
            json_decref(responsible);
            responsible = NULL;
        }
    if (!executions || !found || !responsible) {
        json_decref(executions);
        json_decref(found);
        json_decref(responsible);
        return NULL;
    }
    return json_pack("{s:s, s:i, s:o, s:o, s:o, s:s, s:s}", "strategy",
                     state->kind == CAF_STRATEGY_PLUGIN ? state->plugin : caf_strategy_kind_name(state->kind),
                     "iteration", state->iteration, "executions", executions, "found_boundaries", found,
                     "responsible", responsible, "outcome", caf_strategy_outcome_name(state->outcome), "reason",
                     state->reason);
}

static caf_status runs_from_json(const json_t *list, const char *where, caf_exprun **out, size_t *count,
                                 caf_error *err)
{
    if (!json_is_array(list))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: not a list of [exp, run]", where);
    size_t n = json_array_size(list);
    caf_exprun *runs = malloc((n ? n : 1) * sizeof *runs);
    if (!runs)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_int_t e, r;
        if (json_unpack(json_array_get(list, i), "[II]", &e, &r) != 0) {
            free(runs);
            return caf_error_set(err, CAF_ERR_FORMAT, "%s[%zu]: not [exp, run]", where, i);
        }
        runs[i] = (caf_exprun){(int)e, (int)r};
    }
    *out = runs;
    *count = n;
    return CAF_OK;
}

static caf_status iov_from_json(const json_t *value, const char *where, caf_iov *out, caf_error *err)
{
    json_int_t a, b, c, d;
    if (json_unpack((json_t *)value, "[IIII]", &a, &b, &c, &d) != 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: not [e1, r1, e2, r2]", where);
    *out = (caf_iov){(int)a, (int)b, (int)c, (int)d};
    return caf_iov_validate(*out, err) == CAF_OK ? CAF_OK : caf_error_prefix(err, "%s: ", where);
}

static caf_status execution_from_json(const json_t *item, size_t i, caf_strategy_state *state, caf_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "executions[%zu]", i);
    json_t *runs, *iov;
    const char *result;
    json_int_t index;
    int iteration, committed;
    if (json_unpack((json_t *)item, "{s:I, s:i, s:o, s:o, s:s, s:b}", "index", &index, "iteration", &iteration,
                    "runs", &runs, "iov", &iov, "result", &result, "committed", &committed) != 0)
        return caf_error_set(err, CAF_ERR_FORMAT,
                             "%s: needs index, iteration, runs, iov, result and committed", where);
    if (index != (json_int_t)i)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: index is %lld", where, (long long)index);
    caf_execution *e = &state->executions[i];
    memset(e, 0, sizeof *e);
    e->index = i;
    e->iteration = iteration;
    e->committed = committed;
    if (!caf_algorithm_result_parse(result, &e->result))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: unknown result \"%s\"", where, result);
    caf_status rc = iov_from_json(iov, where, &e->iov, err);
    if (rc == CAF_OK)
        rc = runs_from_json(runs, where, &e->runs, &e->run_count, err);
    return rc;
}

static caf_status fill_state(const json_t *json, caf_strategy_state *state, caf_error *err)
{
    const char *kind, *outcome, *reason;
    json_t *executions, *found, *responsible;
    if (json_unpack((json_t *)json, "{s:s, s:i, s:o, s:o, s:o, s:s, s:s}", "strategy", &kind, "iteration",
                    &state->iteration, "executions", &executions, "found_boundaries", &found, "responsible",
                    &responsible, "outcome", &outcome, "reason", &reason) != 0 ||
        !json_is_array(executions) || !json_is_array(found) || !json_is_array(responsible))
        return caf_error_set(err, CAF_ERR_FORMAT,
                             "strategy state needs strategy, iteration, executions, found_boundaries, "
                             "responsible, outcome and reason");
    if (!caf_strategy_kind_parse(kind, &state->kind)) { /* any other name is a strategy plugin's */
        if (!*kind || strchr(kind, '/') || strlen(kind) >= sizeof state->plugin)
            return caf_error_set(err, CAF_ERR_FORMAT, "strategy: \"%s\" names no strategy", kind);
        state->kind = CAF_STRATEGY_PLUGIN;
        snprintf(state->plugin, sizeof state->plugin, "%s", kind);
    }
    state->outcome = CAF_OUTCOME_NONE;
    for (int o = CAF_OUTCOME_NONE; o <= CAF_OUTCOME_FAILED; o++)
        if (strcmp(outcome, caf_strategy_outcome_name((caf_strategy_outcome)o)) == 0)
            state->outcome = (caf_strategy_outcome)o;
    snprintf(state->reason, sizeof state->reason, "%s", reason);

    size_t n = json_array_size(executions);
    if (n && !(state->executions = calloc(n, sizeof *state->executions)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    state->execution_capacity = n;
    for (size_t i = 0; i < n; i++) {
        caf_status rc = execution_from_json(json_array_get(executions, i), i, state, err);
        state->execution_count = i + 1; /* so that clear frees a partly filled record */
        if (rc != CAF_OK)
            return rc;
    }
    n = json_array_size(found);
    if (n && !(state->found = calloc(n, sizeof *state->found)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *list;
        if (json_unpack(json_array_get(found, i), "{s:i, s:o}", "exp", &state->found[i].exp, "boundaries", &list))
            return caf_error_set(err, CAF_ERR_FORMAT, "found_boundaries[%zu]: needs exp and boundaries", i);
        state->found_count = i + 1;
        caf_status rc = runs_from_json(list, "found_boundaries", &state->found[i].boundaries,
                                       &state->found[i].count, err);
        if (rc != CAF_OK)
            return rc;
    }
    n = json_array_size(responsible);
    if (n && !(state->responsible = calloc(n, sizeof *state->responsible)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        caf_status rc = iov_from_json(json_array_get(responsible, i), "responsible", &state->responsible[i], err);
        if (rc != CAF_OK)
            return rc;
        state->responsible_count = i + 1;
    }
    return CAF_OK;
}

caf_status caf_strategy_state_from_json(const json_t *json, caf_strategy_state *state, caf_error *err)
{
    caf_strategy_state_clear(state);
    caf_status rc = fill_state(json, state, err);
    if (rc != CAF_OK)
        caf_strategy_state_clear(state);
    return rc;
}

caf_status caf_strategy_state_save(const caf_strategy_state *state, const char *path, caf_error *err)
{
    json_t *json = caf_strategy_state_to_json(state);
    if (!json)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory encoding the strategy state", path);
    caf_status rc = caf_json_save_file(path, json, err);
    json_decref(json);
    return rc;
}

caf_status caf_strategy_state_load(const char *path, caf_strategy_state *state, caf_error *err)
{
    json_t *json;
    caf_status rc = caf_json_load_file(path, &json, err);
    if (rc != CAF_OK)
        return rc;
    rc = caf_strategy_state_from_json(json, state, err);
    json_decref(json);
    return rc == CAF_OK ? CAF_OK : caf_error_prefix(err, "%s: ", path);
}
