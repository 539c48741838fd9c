/* The sequential merging shared by SequentialRunByRun (units = runs) and SequentialBoundaries (units =
 * segments): payloads tile the experiment without gaps, a success is held back until the next one, and
 * trailing units without enough data are merged into the held-back success and executed again. */
#include <stdlib.h>

#include "orchestration/strategy_internal.h"

/* The low end L and high end H of experiment k (0-based) of n. */
static void experiment_ends(const caf_strategy_params *params, const caf_run_group *experiment, size_t k,
                            size_t n, caf_exprun *low, caf_exprun *high)
{
    int exp = experiment->runs[0].exp;
    if (k > 0)
        *low = (caf_exprun){exp, 0};
    else if (params->has_iov_coverage)
        *low = (caf_exprun){params->iov_coverage.exp_low, params->iov_coverage.run_low};
    else
        *low = experiment->runs[0];
    if (k + 1 < n)
        *high = (caf_exprun){exp, -1};
    else if (params->has_iov_coverage)
        *high = (caf_exprun){params->iov_coverage.exp_high, params->iov_coverage.run_high};
    else
        *high = experiment->runs[experiment->count - 1];
}

static caf_iov iov_between(caf_exprun low, caf_exprun high)
{
    return (caf_iov){low.exp, low.run, high.exp, high.run};
}

caf_status sequential_split(strategy_run *run, const caf_exprun *runs, size_t count, caf_run_group **experiments,
                            size_t *experiment_count, caf_iov **spans, caf_error *err)
{
    *spans = NULL;
    caf_status rc = caf_runs_split_by_experiment(runs, count, experiments, experiment_count, err);
    if (rc != CAF_OK)
        return rc;
    size_t n = *experiment_count;
    if (!(*spans = malloc(n * sizeof **spans))) {
        free(*experiments);
        *experiments = NULL;
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    /* Every experiment's span is known up front, so the gaps cover experiments a failure never reached. */
    for (size_t k = 0; k < n && rc == CAF_OK; k++) {
        caf_exprun low, high;
        experiment_ends(run->params, &(*experiments)[k], k, n, &low, &high);
        (*spans)[k] = iov_between(low, high);
        rc = caf_strategy_add_responsible(run, (*spans)[k], err);
    }
    return rc;
}

/* The point just before a unit's start: its payload's predecessor ends there. Starts after the first
 * unit are never run 0 (runs are unique and boundaries add (e, 0) only as the first). */
static caf_exprun just_before(caf_exprun start)
{
    return (caf_exprun){start.exp, start.run - 1};
}

/* The runs of units [begin, end) are one contiguous slice of the experiment's runs. */
static caf_status execute_range(strategy_run *run, const caf_exprun *runs, const sequential_unit *units,
                                size_t begin, size_t end, caf_iov iov, caf_execution_result *result,
                                size_t *index, caf_error *err)
{
    size_t first = units[begin].first;
    size_t last = units[end - 1].first + units[end - 1].count;
    return caf_strategy_execute(run, runs + first, last - first, iov, result, index, err);
}

static void fail_on(strategy_run *run, const caf_exprun *runs, const sequential_unit *units, size_t begin,
                    size_t end, const char *what)
{
    char text[96];
    size_t first = units[begin].first;
    strategy_format_runs(runs + first, units[end - 1].first + units[end - 1].count - first, text, sizeof text);
    if (run->state->outcome == CAF_OUTCOME_FAILED) /* an earlier experiment failed: the name is already there */
        caf_strategy_fail(run, "%s on %s (experiment %d)", what, text, runs[first].exp);
    else
        caf_strategy_fail(run, "%s: %s on %s (experiment %d)", caf_strategy_kind_name(run->params->kind), what, text,
                      runs[first].exp);
}

caf_status sequential_execute_units(strategy_run *run, const caf_exprun *runs, const sequential_unit *units,
                                    size_t unit_count, size_t step, caf_iov span, caf_error *err)
{
    const caf_exprun low = {span.exp_low, span.run_low}, high = {span.exp_high, span.run_high};
    size_t begin = 0, end = step < unit_count ? step : unit_count;
    bool held = false;
    size_t held_index = 0, held_begin = 0;
    caf_status rc;
    for (;;) {
        caf_exprun from = held ? units[begin].start : low;
        caf_exprun to = end < unit_count ? just_before(units[end].start) : high;
        caf_execution_result result;
        size_t index;
        if ((rc = execute_range(run, runs, units, begin, end, iov_between(from, to), &result, &index, err)))
            return rc;
        if (strategy_result_is_success(result)) {
            if (held && (rc = caf_strategy_commit(run, held_index, err)) != CAF_OK)
                return rc;
            held = true;
            held_index = index;
            held_begin = begin;
            begin = end;
            if (begin == unit_count)
                return caf_strategy_commit(run, held_index, err);
            end = begin + step < unit_count ? begin + step : unit_count;
            continue;
        }
        if (result == CAF_RESULT_FAILURE) {
            fail_on(run, runs, units, begin, end, "the algorithm failed");
            return CAF_OK;
        }
        if (end < unit_count) { /* not enough data: take the next step's units in */
            end = end + step < unit_count ? end + step : unit_count;
            continue;
        }
        if (!held) {
            fail_on(run, runs, units, begin, end, "not enough data in all the input");
            return CAF_OK;
        }
        /* The trailing units lack data: drop the held-back success and redo it together with them. */
        const caf_iov held_iov = run->state->executions[held_index].iov;
        caf_iov merged = {held_iov.exp_low, held_iov.run_low, high.exp, high.run};
        if ((rc = execute_range(run, runs, units, held_begin, unit_count, merged, &result, &index, err)))
            return rc;
        if (strategy_result_is_success(result))
            return caf_strategy_commit(run, index, err);
        fail_on(run, runs, units, held_begin, unit_count,
                result == CAF_RESULT_FAILURE ? "the merged execution failed"
                                             : "the merged execution still had not enough data");
        return CAF_OK;
    }
}
