/* SimpleRunByRun: one execution per run with that run's IoV. Unsuccessful runs are recorded and the next
 * run goes on; the database keeps the successful ones, but the calibration then fails (it can neither
 * complete nor iterate nor feed its dependents). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestration/strategy_internal.h"

/* Appends " e.r" to the list of unsuccessful runs while it fits, then "...". */
static void note_run(char *list, size_t size, caf_exprun r)
{
    size_t used = strlen(list);
    if (used + 32 >= size) {
        if (used + 4 < size && strcmp(list + used - 3, "...") != 0)
            strcat(list, " ...");
        return;
    }
    snprintf(list + used, size - used, " %d.%d", r.exp, r.run);
}

caf_status strategy_run_simple_run_by_run(strategy_run *run, const caf_exprun *runs, size_t count,
                                          caf_error *err)
{
    caf_run_group *experiments;
    size_t exp_count;
    caf_status rc = caf_runs_split_by_experiment(runs, count, &experiments, &exp_count, err);
    if (rc != CAF_OK)
        return rc;
    for (size_t k = 0; k < exp_count && rc == CAF_OK; k++)
        rc = caf_strategy_add_responsible(run, caf_iov_span_of_runs(experiments[k].runs, experiments[k].count), err);
    free(experiments);
    char unsuccessful[384] = "";
    size_t failures = 0;
    for (size_t i = 0; i < count && rc == CAF_OK; i++) {
        caf_execution_result result;
        size_t index;
        if ((rc = caf_strategy_execute(run, &runs[i], 1, caf_iov_of_run(runs[i]), &result, &index, err)) != CAF_OK)
            break;
        if (strategy_result_is_success(result)) {
            rc = caf_strategy_commit(run, index, err);
        } else {
            failures++;
            note_run(unsuccessful, sizeof unsuccessful, runs[i]);
        }
    }
    if (rc == CAF_OK && failures > 0)
        caf_strategy_fail(run, "SimpleRunByRun: %zu of %zu runs unsuccessful:%s", failures, count, unsuccessful);
    return rc;
}
