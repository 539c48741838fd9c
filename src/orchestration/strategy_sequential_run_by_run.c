/* SequentialRunByRun: per experiment, runs are taken step_size at a time through the sequential merging. As in
 * the reference, a FAILURE (or NOT_ENOUGH_DATA that cannot be merged away) ends only the current experiment:
 * the later experiments still execute and commit, and the outcome is FAILED with every bad experiment named. */
#include <stdlib.h>

#include "orchestration/strategy_internal.h"

caf_status strategy_run_sequential_run_by_run(strategy_run *run, const caf_exprun *runs, size_t count,
                                              caf_error *err)
{
    caf_run_group *experiments = NULL;
    caf_iov *spans = NULL;
    size_t n = 0;
    sequential_unit *units = NULL;
    caf_status rc = sequential_split(run, runs, count, &experiments, &n, &spans, err);
    if (rc == CAF_OK && !(units = malloc(count * sizeof *units)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n && rc == CAF_OK; k++) {
        const caf_run_group *g = &experiments[k];
        for (size_t i = 0; i < g->count; i++)
            units[i] = (sequential_unit){.first = i, .count = 1, .start = g->runs[i]};
        if ((rc = strategy_apply_experiment_settings(run, g->runs[0].exp, err)) != CAF_OK)
            break;
        rc = sequential_execute_units(run, g->runs, units, g->count, (size_t)run->params->step_size, spans[k],
                                      err);
    }
    free(units);
    free(spans);
    free(experiments);
    return rc;
}
