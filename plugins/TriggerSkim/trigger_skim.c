/* TriggerSkim: selects events by the high-level-trigger decisions stored with them, with the semantics
 * of Belle II's calibration/modules/TriggerSkim. The return value (1 or 0) drives a condition in the
 * path, e.g. `conditions: [{if: "false"}]` to end the processing of rejected events. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "caf/module.h"

static const caf_param_spec params[] = {
    {"triggerLines", CAF_PARAM_NAME_INT_LIST, CAF_PARAM_REQUIRED, NULL,
     "trigger lines to test; an item is a name, or a [name, prescale] pair (prescale >= 1), mixed"},
    {"expectedResult", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "1",
     "the stored (prescaled) result a line must have to accept: -1 reject, 0 no result, 1 accept"},
    {"logicMode", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "or",
     "'and': every line must accept; 'or': at least one line must accept"},
    {"useRandomNumbersForPreScale", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "true",
     "prescale a [name, P] line by a random draw (1 in P); false: by a counter passing the 1st, P+1-th, "
     "2P+1-th ... matching event"},
    {"resultOnMissing", CAF_PARAM_INT, CAF_PARAM_OPTIONAL, NULL,
     "return this when an event has no trigger result, and count an unknown line as accepted when it is "
     "non-zero; unset: both are errors"},
    {"skipFirstEvent", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false",
     "return 1 for the first event without looking at it"},
    {NULL, 0, 0, NULL, NULL},
};

struct line {
    const char *name; /* owned by the parameters */
    int64_t prescale; /* 1 when the item was a bare name */
    uint64_t counter;
    ptrdiff_t index; /* in the current file's trigger lines; -1 when unknown */
    bool warned;     /* unknown in this file and already reported */
};

struct skim {
    struct line *lines;
    size_t n_lines;
    int64_t expected;
    bool and_mode;
    bool use_random;
    bool has_result_on_missing;
    int64_t result_on_missing;
    bool skip_first;
    const caf_event_schema *schema;
    const char *file;
};

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    const caf_params *p = caf_module_params(ctx);
    const char *mode = caf_params_string(p, "logicMode", "or");
    if (strcmp(mode, "and") && strcmp(mode, "or"))
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: logicMode must be 'and' or 'or', not '%s'",
                             caf_module_instance_name(ctx), mode);
    int64_t expected = caf_params_int(p, "expectedResult", 1);
    if (expected < -1 || expected > 1)
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: expectedResult must be -1, 0 or 1, not %" PRId64,
                             caf_module_instance_name(ctx), expected);
    const caf_param_value *lines = caf_params_get(p, "triggerLines");
    for (size_t i = 0; i < lines->count; i++)
        if (lines->name_ints[i].has_number && lines->name_ints[i].number < 1)
            return caf_error_set(err, CAF_ERR_INVALID, "module %s: triggerLines: prescale %" PRId64 " of line %s is below 1",
                                 caf_module_instance_name(ctx), lines->name_ints[i].number, lines->name_ints[i].name);
    caf_status st = caf_module_require(ctx, CAF_EVENT_SELECT_TRIGGER, err);
    if (st == CAF_OK)
        st = caf_module_require(ctx, CAF_EVENT_SELECT_EVENT, err); /* event ids in messages */
    if (st != CAF_OK)
        return st;
    struct skim *s = calloc(1, sizeof *s);
    if (!s || !(s->lines = calloc(lines->count ? lines->count : 1, sizeof *s->lines))) {
        free(s);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    s->n_lines = lines->count;
    for (size_t i = 0; i < lines->count; i++) {
        s->lines[i].name = lines->name_ints[i].name;
        s->lines[i].prescale = lines->name_ints[i].has_number ? lines->name_ints[i].number : 1;
        s->lines[i].index = -1;
    }
    s->expected = expected;
    s->and_mode = !strcmp(mode, "and");
    s->use_random = caf_params_bool(p, "useRandomNumbersForPreScale", true);
    s->has_result_on_missing = caf_params_has(p, "resultOnMissing");
    s->result_on_missing = caf_params_int(p, "resultOnMissing", 0);
    s->skip_first = caf_params_bool(p, "skipFirstEvent", false);
    *state = s;
    return CAF_OK;
}

static caf_status begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err)
{
    (void)ctx;
    (void)err;
    struct skim *s = state;
    s->schema = caf_event_reader_schema(reader);
    s->file = caf_event_reader_path(reader);
    for (size_t i = 0; i < s->n_lines; i++) {
        s->lines[i].index = caf_event_schema_find_trigger_line(s->schema, s->lines[i].name);
        s->lines[i].warned = false;
    }
    return CAF_OK;
}

/* The prescale draw of an accepted line: random 1 in P, or the counter passing the 1st, P+1-th, ... */
static bool prescale_passes(struct skim *s, struct line *l, caf_module_context *ctx)
{
    if (l->prescale == 1)
        return true;
    if (s->use_random)
        return caf_random_below(caf_module_random(ctx), (uint64_t)l->prescale) == 0;
    if (l->counter % (uint64_t)l->prescale == 0) {
        l->counter = 1;
        return true;
    }
    l->counter++;
    return false;
}

/* "mumu=1 bhabha=-1 ..." for messages about unknown lines. */
static void describe_lines(const struct skim *s, const caf_event *ev, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l < s->schema->n_trigger_lines && used < size; l++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%d", l ? " " : "", s->schema->trigger_lines[l],
                                 ev->batch->trigger_result[ev->row * s->schema->n_trigger_lines + l]);
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    struct skim *s = state;
    if (s->skip_first) {
        s->skip_first = false;
        caf_module_set_return_value(ctx, 1);
        return CAF_OK;
    }
    bool present = s->schema->has_trigger && ev->batch->trigger_result &&
                   (!ev->batch->trigger_present || ev->batch->trigger_present[ev->row]);
    if (!present) {
        if (!s->has_result_on_missing)
            return caf_error_set(err, CAF_ERR_NOT_FOUND,
                                 "module %s: %s: event %" PRId64 " of run %d.%d has no trigger result "
                                 "(set resultOnMissing to accept that)",
                                 caf_module_instance_name(ctx), s->file, ev->event, ev->exprun.exp, ev->exprun.run);
        caf_module_set_return_value(ctx, s->result_on_missing);
        return CAF_OK;
    }
    size_t accepted = 0;
    for (size_t i = 0; i < s->n_lines; i++) {
        struct line *l = &s->lines[i];
        if (l->index < 0) {
            char lines[600];
            describe_lines(s, ev, lines, sizeof lines);
            if (!s->has_result_on_missing)
                return caf_error_set(err, CAF_ERR_NOT_FOUND,
                                     "module %s: %s: no trigger line '%s' in event %" PRId64 " of run %d.%d (lines: %s)",
                                     caf_module_instance_name(ctx), s->file, l->name, ev->event, ev->exprun.exp,
                                     ev->exprun.run, lines);
            if (!l->warned)
                caf_warning("module %s: %s: no trigger line '%s' in event %" PRId64 " of run %d.%d (lines: %s); "
                            "counted as %s, as resultOnMissing is %" PRId64 " (not repeated for this file)",
                            caf_module_instance_name(ctx), s->file, l->name, ev->event, ev->exprun.exp,
                            ev->exprun.run, lines, s->result_on_missing ? "accepted" : "rejected",
                            s->result_on_missing);
            l->warned = true;
            if (s->result_on_missing != 0)
                accepted++;
            continue;
        }
        int result = ev->batch->trigger_result[ev->row * s->schema->n_trigger_lines + (size_t)l->index];
        if (result == s->expected && prescale_passes(s, l, ctx))
            accepted++;
    }
    caf_module_set_return_value(ctx, s->and_mode ? accepted == s->n_lines : accepted > 0);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)ctx;
    (void)success;
    (void)err;
    struct skim *s = state;
    free(s->lines);
    free(s);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "TriggerSkim",
    .description = "Selects events by their stored high-level-trigger decisions (Belle II's TriggerSkim). Each "
                   "listed line accepts when its result after prescale equals expectedResult and, for a "
                   "[name, P] item, the prescale passes. Return value: 1 if all lines accept ('and') or at "
                   "least one does ('or'), else 0; an empty list gives 1 for 'and' and 0 for 'or'.",
    .params = params,
    .initialize = initialize,
    .begin_file = begin_file,
    .event = event,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
