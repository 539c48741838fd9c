/* A module for the engine tests: appends one line per hook call to the file `log`, so a test can check
 * which hooks ran in which order for which events; optionally sets return value event % returnModulo
 * and fails at one event number. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "caf/module.h"

static const caf_param_spec params[] = {
    {"log", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "file the hook calls are appended to"},
    {"returnModulo", CAF_PARAM_INT, CAF_PARAM_OPTIONAL, NULL, "sets return value event % returnModulo"},
    {"failAtEvent", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "-1", "event number whose event call fails"},
    {"column", CAF_PARAM_STRING, CAF_PARAM_OPTIONAL, NULL, "a float32 column whose value is logged"},
    {NULL, 0, 0, NULL, NULL},
};

struct recorder {
    FILE *log;
    ptrdiff_t column;
};

static void note(caf_module_context *ctx, struct recorder *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(caf_module_context *ctx, struct recorder *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->log, "%s ", caf_module_instance_name(ctx));
    vfprintf(r->log, fmt, ap);
    fputc('\n', r->log);
    fflush(r->log);
    va_end(ap);
}

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    struct recorder *r = calloc(1, sizeof *r);
    const char *path = caf_params_string(caf_module_params(ctx), "log", "");
    if (!r || !(r->log = fopen(path, "a"))) {
        free(r);
        return caf_error_errno(err, errno, "cannot open %s", path);
    }
    caf_status st = caf_module_require(ctx, CAF_EVENT_SELECT_EVENT, err);
    const char *column = caf_params_string(caf_module_params(ctx), "column", NULL);
    if (st == CAF_OK && column)
        st = caf_module_require(ctx, column, err);
    if (st != CAF_OK) { /* a failed initialize keeps nothing: terminate will not be called */
        fclose(r->log);
        free(r);
        return st;
    }
    *state = r;
    note(ctx, r, "initialize");
    return CAF_OK;
}

static caf_status begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err)
{
    (void)err;
    struct recorder *r = state;
    const char *column = caf_params_string(caf_module_params(ctx), "column", NULL);
    r->column = column ? caf_event_schema_find_column(caf_event_reader_schema(reader), column) : -1;
    note(ctx, r, "begin_file");
    return CAF_OK;
}

static caf_status begin_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)err;
    note(ctx, state, "begin_run %d %d", run.exp, run.run);
    return CAF_OK;
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    struct recorder *r = state;
    const caf_params *p = caf_module_params(ctx);
    if (ev->event == caf_params_int(p, "failAtEvent", -1))
        return caf_error_set(err, CAF_ERR_INVALID, "failing at event %" PRId64 " as asked", ev->event);
    if (r->column >= 0)
        note(ctx, r, "event %d %d %" PRId64 " %g", ev->exprun.exp, ev->exprun.run, ev->event,
             (double)caf_batch_float32(ev->batch, (size_t)r->column, ev->row));
    else
        note(ctx, r, "event %d %d %" PRId64, ev->exprun.exp, ev->exprun.run, ev->event);
    if (caf_params_has(p, "returnModulo"))
        caf_module_set_return_value(ctx, ev->event % caf_params_int(p, "returnModulo", 1));
    return CAF_OK;
}

static caf_status end_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)err;
    note(ctx, state, "end_run %d %d", run.exp, run.run);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)err;
    struct recorder *r = state;
    note(ctx, r, "terminate %s", success ? "ok" : "failed");
    fclose(r->log);
    free(r);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "TestRecorder",
    .description = "Test module: logs every hook call.",
    .params = params,
    .initialize = initialize,
    .begin_file = begin_file,
    .begin_run = begin_run,
    .event = event,
    .end_run = end_run,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
