/* Prescale: keeps a fraction of the events at random (from the engine's seeded generator, so a run with
 * the same seed keeps the same events). Return value 1 for a kept event, 0 otherwise. */
#include <stdlib.h>

#include "caf/module.h"

static const caf_param_spec params[] = {
    {"prescale", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "1.0",
     "fraction of events kept, in [0, 1]: 1 keeps all, 0 none"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    double f = caf_params_double(caf_module_params(ctx), "prescale", 1.0);
    if (!(f >= 0.0 && f <= 1.0))
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: prescale must be in [0, 1], not %g",
                             caf_module_instance_name(ctx), f);
    double *fraction = malloc(sizeof *fraction);
    if (!fraction)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *fraction = f;
    *state = fraction;
    return CAF_OK;
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    (void)ev;
    (void)err;
    double f = *(double *)state;
    /* 1 and 0 are exact so that they never consume a draw */
    bool keep = f >= 1.0 ? true : f <= 0.0 ? false : caf_random_uniform(caf_module_random(ctx)) < f;
    caf_module_set_return_value(ctx, keep);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)ctx;
    (void)success;
    (void)err;
    free(state);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "Prescale",
    .description = "Keeps a random fraction of the events: return value 1 with probability prescale, else 0. "
                   "Pair it with a condition such as {if: \"false\"} to end the processing of the others.",
    .params = params,
    .initialize = initialize,
    .event = event,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
