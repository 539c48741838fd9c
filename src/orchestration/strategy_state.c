/* A strategy's progress: recording executions, commits and found boundaries, and replaying them when a
 * saved state is run again, so that finished executions are never redone. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestration/strategy_internal.h"

void caf_strategy_state_init(caf_strategy_state *state)
{
    memset(state, 0, sizeof *state);
}

void caf_strategy_state_clear(caf_strategy_state *state)
{
    for (size_t i = 0; i < state->execution_count; i++)
        free(state->executions[i].runs);
    free(state->executions);
    for (size_t i = 0; i < state->found_count; i++)
        free(state->found[i].boundaries);
    free(state->found);
    free(state->responsible);
    caf_strategy_state_init(state);
}

void strategy_format_runs(const caf_exprun *runs, size_t count, char *buf, size_t size)
{
    if (count == 0)
        snprintf(buf, size, "no runs");
    else if (count == 1)
        snprintf(buf, size, "run %d.%d", runs[0].exp, runs[0].run);
    else
        snprintf(buf, size, "%zu runs %d.%d..%d.%d", count, runs[0].exp, runs[0].run, runs[count - 1].exp,
                 runs[count - 1].run);
}

caf_status strategy_progress(strategy_run *run, caf_error *err)
{
    if (!run->callbacks->progress)
        return CAF_OK;
    return run->callbacks->progress(run->callbacks->ctx, run->state, err);
}

void caf_strategy_fail(strategy_run *run, const char *fmt, ...)
{
    caf_strategy_state *s = run->state;
    size_t used = 0;
    if (s->outcome == CAF_OUTCOME_FAILED) {
        used = strlen(s->reason);
        if (used + 3 >= sizeof s->reason)
            return;
        memcpy(s->reason + used, "; ", 3);
        used += 2;
    }
    s->outcome = CAF_OUTCOME_FAILED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason + used, sizeof s->reason - used, fmt, ap);
    va_end(ap);
}

caf_status caf_strategy_add_responsible(strategy_run *run, caf_iov iov, caf_error *err)
{
    caf_strategy_state *s = run->state;
    caf_iov *grown = realloc(s->responsible, (s->responsible_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    s->responsible = grown;
    s->responsible[s->responsible_count++] = iov;
    return CAF_OK;
}

static bool same_runs(const caf_execution *e, const caf_exprun *runs, size_t count)
{
    if (e->run_count != count)
        return false;
    for (size_t i = 0; i < count; i++)
        if (caf_exprun_compare(e->runs[i], runs[i]) != 0)
            return false;
    return true;
}

/* Checks that the recorded execution at the cursor is the one asked for now. */
static caf_status check_replay(strategy_run *run, const caf_exprun *runs, size_t count, caf_iov iov,
                               caf_error *err)
{
    const caf_execution *e = &run->state->executions[run->cursor];
    if (same_runs(e, runs, count) && caf_iov_equal(e->iov, iov))
        return CAF_OK;
    char had_runs[96], want_runs[96], had_iov[CAF_IOV_TEXT_MAX], want_iov[CAF_IOV_TEXT_MAX];
    strategy_format_runs(e->runs, e->run_count, had_runs, sizeof had_runs);
    strategy_format_runs(runs, count, want_runs, sizeof want_runs);
    return caf_error_set(err, CAF_ERR_STATE,
                         "saved strategy state does not match: execution %zu ran on %s with IoV %s, now %s with "
                         "IoV %s is due (the input or the parameters changed)",
                         run->cursor, had_runs, caf_iov_format(e->iov, had_iov, sizeof had_iov), want_runs,
                         caf_iov_format(iov, want_iov, sizeof want_iov));
}

/* Appends a new execution record (without a result yet). */
static caf_status append_execution(strategy_run *run, const caf_exprun *runs, size_t count, caf_iov iov,
                                   caf_execution *pending, caf_error *err)
{
    memset(pending, 0, sizeof *pending);
    pending->index = run->state->execution_count;
    pending->iteration = run->iteration;
    pending->iov = iov;
    pending->run_count = count;
    pending->runs = malloc((count ? count : 1) * sizeof *pending->runs);
    if (!pending->runs)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory recording an execution on %zu runs", count);
    memcpy(pending->runs, runs, count * sizeof *runs);
    return CAF_OK;
}

static caf_status store_execution(caf_strategy_state *s, caf_execution *e, caf_error *err)
{
    if (s->execution_count == s->execution_capacity) {
        size_t cap = s->execution_capacity ? 2 * s->execution_capacity : 8;
        caf_execution *grown = realloc(s->executions, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory recording execution %zu", e->index);
        s->executions = grown;
        s->execution_capacity = cap;
    }
    s->executions[s->execution_count++] = *e;
    return CAF_OK;
}

caf_status caf_strategy_execute(strategy_run *run, const caf_exprun *runs, size_t count, caf_iov iov,
                                caf_execution_result *result, size_t *index, caf_error *err)
{
    caf_status rc;
    size_t ignored_index;
    if (!index)
        index = &ignored_index;
    if (count == 0 || !runs)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: an execution needs at least one run",
                             caf_strategy_name(run));
    if (caf_iov_validate(iov, err) != CAF_OK || caf_iov_is_empty(iov))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: an execution needs a valid, non-empty IoV",
                             caf_strategy_name(run));
    if (run->cursor < run->state->execution_count) {
        if ((rc = check_replay(run, runs, count, iov, err)) != CAF_OK)
            return rc;
        *result = run->state->executions[run->cursor].result;
        *index = run->cursor++;
        run->replayed++;
        return CAF_OK;
    }
    caf_execution pending;
    if ((rc = append_execution(run, runs, count, iov, &pending, err)) != CAF_OK)
        return rc;
    rc = run->callbacks->execute(run->callbacks->ctx, &pending, &pending.result, err);
    if (rc == CAF_OK && (unsigned)pending.result > CAF_RESULT_FAILURE)
        rc = caf_error_set(err, CAF_ERR_PLUGIN, "execution %zu returned an unknown result %d", pending.index,
                           (int)pending.result);
    if (rc == CAF_OK)
        rc = store_execution(run->state, &pending, err);
    if (rc != CAF_OK) {
        free(pending.runs);
        return rc;
    }
    *result = pending.result;
    *index = run->cursor++;
    return strategy_progress(run, err);
}

caf_status caf_strategy_commit(strategy_run *run, size_t index, caf_error *err)
{
    if (index >= run->state->execution_count)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: there is no execution %zu to commit", caf_strategy_name(run),
                             index);
    caf_execution *e = &run->state->executions[index];
    if (!strategy_result_is_success(e->result))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: execution %zu returned %s and cannot be committed",
                             caf_strategy_name(run), index, caf_algorithm_result_name(e->result));
    if (e->committed)
        return CAF_OK;
    caf_status rc = run->callbacks->commit(run->callbacks->ctx, e, err);
    if (rc != CAF_OK)
        return rc;
    e->committed = true;
    return strategy_progress(run, err);
}

static caf_status record_boundaries(caf_strategy_state *s, int exp, caf_exprun *found, size_t count,
                                    caf_error *err)
{
    caf_found_boundaries *grown = realloc(s->found, (s->found_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory recording boundaries");
    s->found = grown;
    s->found[s->found_count++] = (caf_found_boundaries){.exp = exp, .boundaries = found, .count = count};
    return CAF_OK;
}

caf_status caf_strategy_find_boundaries(strategy_run *run, int exp, const caf_exprun *runs, size_t count,
                                        const caf_exprun **boundaries, size_t *boundary_count, caf_error *err)
{
    caf_strategy_state *s = run->state;
    for (size_t i = 0; i < s->found_count; i++)
        if (s->found[i].exp == exp) {
            *boundaries = s->found[i].boundaries;
            *boundary_count = s->found[i].count;
            return CAF_OK;
        }
    if (!run->callbacks->find_boundaries)
        return caf_error_set(err, CAF_ERR_INVALID,
                             "%s needs the algorithm's boundary finding, and none was given",
                             run->params->kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES
                                 ? "SequentialBoundaries without payload_boundaries"
                                 : caf_strategy_name(run));
    caf_exprun *found = NULL;
    size_t n = 0;
    caf_status rc = run->callbacks->find_boundaries(run->callbacks->ctx, runs, count, &found, &n, err);
    if (rc != CAF_OK)
        return rc;
    if ((rc = record_boundaries(s, exp, found, n, err)) != CAF_OK) {
        free(found);
        return rc;
    }
    *boundaries = found;
    *boundary_count = n;
    return strategy_progress(run, err);
}

caf_status caf_strategy_apply_experiment_settings(strategy_run *run, int exp, caf_error *err)
{
    if (!run->callbacks->apply_experiment_settings)
        return caf_error_set(err, CAF_ERR_INVALID, "%s asks for experiment settings but the algorithm has no "
                             "experiment settings hook", caf_strategy_name(run));
    return run->callbacks->apply_experiment_settings(run->callbacks->ctx, exp, err);
}

caf_status strategy_apply_experiment_settings(strategy_run *run, int exp, caf_error *err)
{
    if (!run->params->has_experiment_settings)
        return CAF_OK;
    if (!run->callbacks->apply_experiment_settings)
        return caf_error_set(err, CAF_ERR_INVALID,
                             "has_experiment_settings is set but the algorithm has no experiment settings hook");
    return caf_strategy_apply_experiment_settings(run, exp, err);
}
