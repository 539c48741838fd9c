/* The four built-in strategies as descriptors of the strategy plugin API (caf/strategy_plugin.h): the same
 * entry point, the same execute/commit/fail functions a plugin uses. Their parameters are typed fields of
 * caf_strategy_params (IoVs, run lists) read by the campaign loader, so they declare no caf_param_spec. */
#include "orchestration/strategy_internal.h"

static const char *const run_only[] = {"run", NULL};

static caf_status single_iov(caf_strategy_context *ctx, caf_error *err)
{
    return strategy_run_single_iov(ctx, ctx->runs, ctx->run_count, err);
}

static caf_status simple_run_by_run(caf_strategy_context *ctx, caf_error *err)
{
    return strategy_run_simple_run_by_run(ctx, ctx->runs, ctx->run_count, err);
}

static caf_status sequential_run_by_run(caf_strategy_context *ctx, caf_error *err)
{
    return strategy_run_sequential_run_by_run(ctx, ctx->runs, ctx->run_count, err);
}

static caf_status sequential_boundaries(caf_strategy_context *ctx, caf_error *err)
{
    return strategy_run_sequential_boundaries(ctx, ctx->runs, ctx->run_count, err);
}

static const caf_strategy_descriptor single_iov_desc = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "SingleIOV",
    .description = "One execution on all runs; the payload IoV is apply_iov or the span of the runs.",
    .run = single_iov,
};
static const caf_strategy_descriptor simple_run_by_run_desc = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "SimpleRunByRun",
    .description = "One execution per run with that run's IoV; unsuccessful runs fail the calibration.",
    .granularities = run_only,
    .run = simple_run_by_run,
};
static const caf_strategy_descriptor sequential_run_by_run_desc = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "SequentialRunByRun",
    .description = "Per experiment, runs are added step_size at a time until there is enough data; payloads "
                   "tile the experiment.",
    .granularities = run_only,
    .run = sequential_run_by_run,
};
static const caf_strategy_descriptor sequential_boundaries_desc = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "SequentialBoundaries",
    .description = "Per experiment, segments between payload boundaries go through the sequential merging.",
    .granularities = run_only,
    .run = sequential_boundaries,
};

/* A function, not an exported table: plugins carry their own copy of libcaf, and two copies of one
 * global object would be an ODR violation. */
const caf_strategy_descriptor *strategy_builtin(caf_strategy_kind kind)
{
    static const caf_strategy_descriptor *const builtins[] = {&single_iov_desc, &simple_run_by_run_desc,
                                                              &sequential_run_by_run_desc,
                                                              &sequential_boundaries_desc};
    return (unsigned)kind < sizeof builtins / sizeof *builtins ? builtins[kind] : NULL;
}
