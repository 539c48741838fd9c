/* The benchmark's reference for the collector framework's cost: a plain module doing what
 * TrivialCollector does (fill a 100-bin histogram per run from a float32 column, in bulk), with no
 * framework around it and no output. */
#include <stdlib.h>

#include "caf/collected.h"
#include "caf/event_file.h"
#include "caf/module.h"

typedef struct fill {
    size_t index;
    caf_object *h;
} fill;

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    fill *f = calloc(1, sizeof *f);
    if (!f)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = f;
    caf_status st = caf_hist1d_new("x", 100, 0, 1000, &f->h, err);
    return st == CAF_OK ? caf_module_require(ctx, "x", err) : st;
}

static caf_status begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err)
{
    fill *f = state;
    ptrdiff_t i = caf_event_schema_find_column(caf_event_reader_schema(reader), "x");
    if (i < 0)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "module %s: no column x", caf_module_instance_name(ctx));
    f->index = (size_t)i;
    return CAF_OK;
}

static caf_status begin_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)ctx, (void)run, (void)err;
    caf_object_reset(((fill *)state)->h);
    return CAF_OK;
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    (void)ctx, (void)err;
    fill *f = state;
    caf_hist1d_fill(f->h, ((const float *)ev->batch->columns[f->index])[ev->row], 1.0);
    return CAF_OK;
}

static caf_status events(caf_module_context *ctx, void *state, const caf_event_batch *batch, size_t first,
                         size_t count, caf_exprun run, caf_error *err)
{
    (void)ctx, (void)run, (void)err;
    fill *f = state;
    caf_hist1d_fill_floats(f->h, (const float *)batch->columns[f->index] + first, count, 1.0);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)ctx, (void)success, (void)err;
    fill *f = state;
    caf_object_free(f->h);
    free(f);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "HistFillModule",
    .description = "Fills a histogram per run from column x and discards it (the collector benchmark's reference).",
    .initialize = initialize,
    .begin_file = begin_file,
    .begin_run = begin_run,
    .event = event,
    .events = events,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void);
const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
