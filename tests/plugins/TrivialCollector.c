/* The benchmark's collector: fills one 100-bin histogram per run with a float32 column, nothing else.
 * It measures what the collector framework costs per event. */
#include <stdlib.h>

#include "caf/collector.h"
#include "caf/event_file.h"

typedef struct trivial {
    const char *column;
    size_t index;
} trivial;

static const caf_param_spec params[] = {
    {"column", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "x", "the float32 column filled"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    trivial *t = calloc(1, sizeof *t);
    if (!t)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = t;
    t->column = caf_params_string(caf_collector_params(c), "column", "x");
    caf_object *h;
    caf_status st = caf_hist1d_new(t->column, 100, 0, 1000, &h, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "h", h, err);
    return st == CAF_OK ? caf_collector_require(c, t->column, err) : st;
}

static caf_status begin_file(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err)
{
    trivial *t = state;
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    ptrdiff_t i = caf_event_schema_find_column(schema, t->column);
    if (i < 0 || schema->columns[i].type != CAF_COLUMN_FLOAT32)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "collector %s: no float32 column '%s'", caf_collector_name(c),
                             t->column);
    t->index = (size_t)i;
    return CAF_OK;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    (void)err;
    trivial *t = state;
    caf_hist1d_fill(caf_collector_object(c, "h"), ((const float *)ev->batch->columns[t->index])[ev->row], 1.0);
    return CAF_OK;
}

static caf_status collect_events(caf_collector *c, void *state, const caf_event_batch *batch, size_t first,
                                 size_t count, caf_exprun run, caf_error *err)
{
    (void)run, (void)err;
    trivial *t = state;
    caf_hist1d_fill_floats(caf_collector_object(c, "h"), (const float *)batch->columns[t->index] + first, count, 1.0);
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor trivial_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "TrivialCollector",
    .description = "Fills one histogram per run from a float32 column (for the benchmark).",
    .params = params,
    .prepare = prepare,
    .begin_file = begin_file,
    .collect = collect,
    .finish = finish,
    .collect_events = collect_events,
};

CAF_COLLECTOR_PLUGIN(trivial_collector)
