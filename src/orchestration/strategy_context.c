/* What a running strategy (built-in or plugin) can see of its run: name, runs, iteration, parameters and
 * the executions recorded so far. */
#include "orchestration/strategy_internal.h"

const char *caf_strategy_name(const caf_strategy_context *ctx)
{
    return caf_strategy_params_name(ctx->params);
}

const caf_exprun *caf_strategy_runs(const caf_strategy_context *ctx, size_t *count)
{
    *count = ctx->run_count;
    return ctx->runs;
}

int caf_strategy_iteration(const caf_strategy_context *ctx)
{
    return ctx->iteration;
}

const caf_params *caf_strategy_parameters(const caf_strategy_context *ctx)
{
    return ctx->plugin_params;
}

const caf_execution *caf_strategy_execution(const caf_strategy_context *ctx, size_t index)
{
    return index < ctx->state->execution_count ? &ctx->state->executions[index] : NULL;
}
