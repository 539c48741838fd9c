/* SingleIOV: one execution on all runs; the payload IoV is apply_iov, or else the span of the runs. */
#include "orchestration/strategy_internal.h"

caf_status strategy_run_single_iov(strategy_run *run, const caf_exprun *runs, size_t count, caf_error *err)
{
    caf_iov iov = run->params->has_apply_iov ? run->params->apply_iov : caf_iov_span_of_runs(runs, count);
    caf_status rc = caf_strategy_add_responsible(run, iov, err);
    if (rc != CAF_OK)
        return rc;
    caf_execution_result result;
    size_t index;
    if ((rc = caf_strategy_execute(run, runs, count, iov, &result, &index, err)) != CAF_OK)
        return rc;
    if (strategy_result_is_success(result))
        return caf_strategy_commit(run, index, err);
    char what[96];
    strategy_format_runs(runs, count, what, sizeof what);
    caf_strategy_fail(run, "SingleIOV: the algorithm returned %s on %s", caf_algorithm_result_name(result), what);
    return CAF_OK;
}
