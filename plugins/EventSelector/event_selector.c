/* EventSelector: selects events by ranges of experiment, run and event number. Return value 1 when the
 * event lies in every range given, 0 otherwise. */
#include <inttypes.h>
#include <stdlib.h>

#include "caf/module.h"

static const caf_param_spec params[] = {
    {"expRange", CAF_PARAM_INT_LIST, CAF_PARAM_DEFAULTED, "[]",
     "[low, high]: experiments low..high (inclusive; -1 leaves a side open); [] = any"},
    {"runRange", CAF_PARAM_INT_LIST, CAF_PARAM_DEFAULTED, "[]", "[low, high]: runs low..high, as expRange"},
    {"eventRange", CAF_PARAM_INT_LIST, CAF_PARAM_DEFAULTED, "[]",
     "[low, high]: event numbers low..high, as expRange"},
    {NULL, 0, 0, NULL, NULL},
};

struct range {
    bool active;
    int64_t low, high; /* -1 = open */
};

struct selector {
    struct range exp, run, event;
};

static caf_status read_range(caf_module_context *ctx, const char *name, struct range *r, caf_error *err)
{
    const caf_param_value *v = caf_params_get(caf_module_params(ctx), name);
    r->active = v->count > 0;
    if (!r->active)
        return CAF_OK;
    if (v->count != 2)
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: %s must be [low, high] or [], not %zu numbers",
                             caf_module_instance_name(ctx), name, v->count);
    r->low = v->ints[0];
    r->high = v->ints[1];
    if (r->low < -1 || r->high < -1 || (r->low >= 0 && r->high >= 0 && r->low > r->high))
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: %s [%" PRId64 ", %" PRId64 "] is not a range",
                             caf_module_instance_name(ctx), name, r->low, r->high);
    return CAF_OK;
}

static bool in_range(const struct range *r, int64_t x)
{
    return !r->active || ((r->low < 0 || x >= r->low) && (r->high < 0 || x <= r->high));
}

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    struct selector sel;
    caf_status st = read_range(ctx, "expRange", &sel.exp, err);
    if (st == CAF_OK)
        st = read_range(ctx, "runRange", &sel.run, err);
    if (st == CAF_OK)
        st = read_range(ctx, "eventRange", &sel.event, err);
    if (st == CAF_OK && sel.event.active)
        st = caf_module_require(ctx, CAF_EVENT_SELECT_EVENT, err);
    if (st != CAF_OK)
        return st;
    struct selector *s = malloc(sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *s = sel;
    *state = s;
    return CAF_OK;
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    (void)err;
    const struct selector *s = state;
    bool keep = in_range(&s->exp, ev->exprun.exp) && in_range(&s->run, ev->exprun.run) &&
                in_range(&s->event, ev->event);
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
    .name = "EventSelector",
    .description = "Selects events by experiment, run and event-number ranges: return value 1 when the event "
                   "lies in every range given, else 0.",
    .params = params,
    .initialize = initialize,
    .event = event,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
