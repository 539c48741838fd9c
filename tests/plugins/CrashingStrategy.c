/* A strategy plugin that crashes: "Crash" executes its first run once and then dies with SIGSEGV inside
 * run, so a test can show that a crashing strategy fails only its calibration. With CAF_TEST_CRASH_ON_LOAD
 * set, the entry point itself crashes (what `caf config check` must survive). */
#include <signal.h>
#include <stdlib.h>

#include "caf/strategy_plugin.h"

static const caf_param_spec params[] = {
    {"executions_before_crash", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "1", "executions made before crashing"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status crash(caf_strategy_context *ctx, caf_error *err)
{
    size_t count;
    const caf_exprun *runs = caf_strategy_runs(ctx, &count);
    int64_t before = caf_params_int(caf_strategy_parameters(ctx), "executions_before_crash", 1);
    for (int64_t i = 0; i < before && (size_t)i < count; i++) {
        caf_execution_result result;
        caf_status rc = caf_strategy_execute(ctx, &runs[i], 1, caf_iov_of_run(runs[i]), &result, NULL, err);
        if (rc != CAF_OK)
            return rc;
    }
    raise(SIGSEGV);
    return CAF_OK;
}

static const caf_strategy_descriptor crash_descriptor = {
    .abi_version = CAF_STRATEGY_ABI_VERSION,
    .name = "Crash",
    .description = "Crashes inside run.",
    .params = params,
    .run = crash,
};

static const caf_strategy_descriptor *const strategies[] = {&crash_descriptor, NULL};

const caf_strategy_descriptor *const *caf_strategy_plugin_v1(void);

const caf_strategy_descriptor *const *caf_strategy_plugin_v1(void)
{
    if (getenv("CAF_TEST_CRASH_ON_LOAD"))
        raise(SIGSEGV);
    return strategies;
}
