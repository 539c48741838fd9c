/* ColumnSum: sums a float32 column over the events that reach it and reports the count, sum and mean
 * per run and in total. The smallest useful module, and the example of docs/modules.md: it declares a
 * parameter, asks the engine for one column, looks the column up per file and takes events in bulk. */
#include <inttypes.h>
#include <stdlib.h>

#include "caf/log.h"
#include "caf/module.h"

static const caf_param_spec params[] = {
    {"column", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "the float32 column to sum"},
    {NULL, 0, 0, NULL, NULL},
};

struct column_sum {
    const char *column;
    size_t index; /* of the column in the current file */
    double run_sum, total_sum;
    int64_t run_count, total_count;
};

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    const char *column = caf_params_string(caf_module_params(ctx), "column", "");
    caf_status st = caf_module_require(ctx, column, err); /* the engine reads only what modules ask for */
    if (st != CAF_OK)
        return st;
    struct column_sum *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    s->column = column;
    *state = s;
    return CAF_OK;
}

static caf_status begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err)
{
    struct column_sum *s = state;
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    ptrdiff_t i = caf_event_schema_find_column(schema, s->column);
    if (i < 0 || schema->columns[i].type != CAF_COLUMN_FLOAT32)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "module %s: %s has no float32 column '%s'",
                             caf_module_instance_name(ctx), caf_event_reader_path(reader), s->column);
    s->index = (size_t)i;
    return CAF_OK;
}

static caf_status begin_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)ctx, (void)run, (void)err;
    struct column_sum *s = state;
    s->run_sum = 0;
    s->run_count = 0;
    return CAF_OK;
}

/* The values come straight from the reader's batch: no copy, one pass. */
static caf_status events(caf_module_context *ctx, void *state, const caf_event_batch *batch, size_t first,
                         size_t count, caf_exprun run, caf_error *err)
{
    (void)ctx, (void)run, (void)err;
    struct column_sum *s = state;
    const float *v = (const float *)batch->columns[s->index] + first;
    double sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += v[i];
    s->run_sum += sum;
    s->run_count += (int64_t)count;
    return CAF_OK;
}

static caf_status end_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)err;
    struct column_sum *s = state;
    caf_debug("module %s: run %d.%d: %" PRId64 " events, sum of %s %.17g", caf_module_instance_name(ctx), run.exp,
              run.run, s->run_count, s->column, s->run_sum);
    s->total_sum += s->run_sum;
    s->total_count += s->run_count;
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)err;
    struct column_sum *s = state;
    if (success)
        caf_info("module %s: %" PRId64 " events, sum of %s %.17g, mean %.17g", caf_module_instance_name(ctx),
                 s->total_count, s->column, s->total_sum, s->total_count ? s->total_sum / (double)s->total_count : 0.0);
    free(s);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "ColumnSum",
    .description = "Sums a float32 column over the events that reach it; reports count, sum and mean per run "
                   "(debug) and in total (info).",
    .params = params,
    .initialize = initialize,
    .begin_file = begin_file,
    .begin_run = begin_run,
    .events = events,
    .end_run = end_run,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
