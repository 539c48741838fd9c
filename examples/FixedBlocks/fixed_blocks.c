/* FixedBlocks: an example strategy plugin (caf/strategy_plugin.h, docs/strategies.md). Per experiment the
 * runs are cut into blocks of block_size consecutive runs, and each block gets one execution and one
 * payload. A block's IoV starts at its first run and ends just before the next block's first run (the
 * experiment's last block ends at the experiment's last run), so the payloads of an experiment leave no
 * gap between the runs calibrated. OK and ITERATE are committed; a block that fails or lacks data is
 * named in the failure reason and the next block goes on (the calibration then ends failed).
 *
 * Used in a campaign as
 *
 *     algorithms:
 *       - plugin: ExampleGainAlgorithm:gains
 *         strategy: FixedBlocks
 *         strategy_parameters: {block_size: 2}
 *
 * The strategy never sees the algorithm: it asks caf_strategy_execute for results and caf_strategy_commit
 * for commits. On resume caf answers the executions recorded before the interruption, so the strategy
 * only has to decide from its runs, its parameters and the results it gets. */
#include <stdio.h>
#include <stdlib.h>

#include "caf/strategy_plugin.h"

static const caf_param_spec params[] = {
    {"block_size", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "3", "runs per block (and per payload), at least 1"},
    {"has_experiment_settings", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false",
     "call the algorithm's setup_experiment hook before each experiment's blocks"},
    {NULL, 0, 0, NULL, NULL},
};

static const char *const granularities[] = {"run", NULL};

/* Runs [first, first + count) of one experiment's sorted runs, with next the first run after the block
 * (NULL for the experiment's last block). */
static caf_status run_block(caf_strategy_context *ctx, const caf_exprun *block, size_t count,
                            const caf_exprun *next, caf_error *err)
{
    caf_exprun last = next ? (caf_exprun){next->exp, next->run - 1} : block[count - 1];
    caf_iov iov = {block[0].exp, block[0].run, last.exp, last.run};
    caf_execution_result result;
    size_t index;
    caf_status rc = caf_strategy_execute(ctx, block, count, iov, &result, &index, err);
    if (rc != CAF_OK)
        return rc;
    if (result == CAF_RESULT_OK || result == CAF_RESULT_ITERATE)
        return caf_strategy_commit(ctx, index, err);
    caf_strategy_fail(ctx, "%s: block %d.%d..%d.%d returned %s", caf_strategy_name(ctx), block[0].exp,
                      block[0].run, block[count - 1].exp, block[count - 1].run, caf_algorithm_result_name(result));
    return CAF_OK;
}

static caf_status fixed_blocks(caf_strategy_context *ctx, caf_error *err)
{
    const caf_params *p = caf_strategy_parameters(ctx);
    int64_t block_size = caf_params_int(p, "block_size", 3);
    if (block_size < 1) {
        caf_strategy_fail(ctx, "%s: block_size must be at least 1, not %lld", caf_strategy_name(ctx),
                          (long long)block_size);
        return CAF_OK;
    }
    size_t count;
    const caf_exprun *runs = caf_strategy_runs(ctx, &count);
    caf_run_group *experiments = NULL;
    size_t exp_count = 0;
    caf_status rc = caf_runs_split_by_experiment(runs, count, &experiments, &exp_count, err);
    for (size_t k = 0; rc == CAF_OK && k < exp_count; k++) {
        const caf_run_group *g = &experiments[k];
        rc = caf_strategy_add_responsible(ctx, caf_iov_span_of_runs(g->runs, g->count), err);
        if (rc == CAF_OK && caf_params_bool(p, "has_experiment_settings", false))
            rc = caf_strategy_apply_experiment_settings(ctx, g->runs[0].exp, err);
        for (size_t first = 0; rc == CAF_OK && first < g->count; first += (size_t)block_size) {
            size_t n = g->count - first < (size_t)block_size ? g->count - first : (size_t)block_size;
            const caf_exprun *next = first + n < g->count ? &g->runs[first + n] : NULL;
            rc = run_block(ctx, g->runs + first, n, next, err);
        }
    }
    free(experiments);
    return rc;
}

static const caf_strategy_descriptor fixed_blocks_descriptor = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "FixedBlocks",
    .description = "Blocks of block_size consecutive runs per experiment, one execution and one payload each.",
    .params = params,
    .granularities = granularities,
    .run = fixed_blocks,
};

static const caf_strategy_descriptor *const strategies[] = {&fixed_blocks_descriptor, NULL};

const caf_strategy_descriptor *const *caf_strategy_plugin_v1(void);

const caf_strategy_descriptor *const *caf_strategy_plugin_v1(void)
{
    return strategies;
}
