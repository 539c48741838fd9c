/* SequentialBoundaries: per experiment, segments between payload boundaries (given, or found by the
 * algorithm) go through the sequential merging; segments without runs are dropped so that their
 * neighbours close the gap. */
#include <stdlib.h>
#include <string.h>

#include "orchestration/strategy_internal.h"

/* The experiment's boundaries: the given ones of experiment exp (or the found ones) plus (exp, 0), sorted
 * and unique, malloc'd into *out. Sets *none_found when the algorithm found none. */
static caf_status experiment_boundaries(strategy_run *run, const caf_run_group *g, caf_exprun **out,
                                        size_t *out_count, bool *none_found, caf_error *err)
{
    int exp = g->runs[0].exp;
    const caf_exprun *source = run->params->payload_boundaries;
    size_t source_count = run->params->payload_boundary_count;
    *none_found = false;
    if (!run->params->has_payload_boundaries) {
        caf_status rc = caf_strategy_find_boundaries(run, exp, g->runs, g->count, &source, &source_count, err);
        if (rc != CAF_OK)
            return rc;
        if (source_count == 0) {
            *none_found = true;
            return CAF_OK;
        }
    }
    caf_exprun *b = malloc((source_count + 1) * sizeof *b);
    if (!b)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    b[n++] = (caf_exprun){exp, 0};
    for (size_t i = 0; i < source_count; i++)
        if (source[i].exp == exp)
            b[n++] = source[i];
    *out = b;
    *out_count = caf_exprun_sort_unique(b, n);
    return CAF_OK;
}

/* Cuts the runs into segments [b_i, b_{i+1} - 1] and keeps the ones holding runs. */
static size_t make_segments(const caf_run_group *g, const caf_exprun *b, size_t bn, sequential_unit *units)
{
    size_t count = 0, r = 0;
    for (size_t i = 0; i < bn; i++) {
        size_t first = r;
        while (r < g->count && (i + 1 == bn || caf_exprun_compare(g->runs[r], b[i + 1]) < 0))
            r++;
        if (r > first)
            units[count++] = (sequential_unit){.first = first, .count = r - first, .start = b[i]};
    }
    return count;
}

static caf_status run_experiment(strategy_run *run, const caf_run_group *g, caf_iov span, caf_error *err)
{
    caf_exprun *b = NULL;
    size_t bn = 0;
    bool none_found;
    caf_status rc = experiment_boundaries(run, g, &b, &bn, &none_found, err);
    if (rc != CAF_OK)
        return rc;
    if (none_found) {
        caf_strategy_fail(run, "SequentialBoundaries: the algorithm found no payload boundaries in experiment %d",
                      g->runs[0].exp);
        return CAF_OK;
    }
    sequential_unit *units = malloc(bn * sizeof *units);
    if (!units) {
        free(b);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t count = make_segments(g, b, bn, units);
    rc = strategy_apply_experiment_settings(run, g->runs[0].exp, err);
    if (rc == CAF_OK)
        rc = sequential_execute_units(run, g->runs, units, count, 1, span, err);
    free(units);
    free(b);
    return rc;
}

caf_status strategy_run_sequential_boundaries(strategy_run *run, const caf_exprun *runs, size_t count,
                                              caf_error *err)
{
    caf_run_group *experiments = NULL;
    caf_iov *spans = NULL;
    size_t n = 0;
    caf_status rc = sequential_split(run, runs, count, &experiments, &n, &spans, err);
    /* Unlike SequentialRunByRun, the reference stops at the first experiment that fails. */
    for (size_t k = 0; k < n && rc == CAF_OK && run->state->outcome != CAF_OUTCOME_FAILED; k++)
        rc = run_experiment(run, &experiments[k], spans[k], err);
    free(spans);
    free(experiments);
    return rc;
}
