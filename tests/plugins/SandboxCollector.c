/* A collector that reads a file from its working folder (the collector subjob's), as a real collector reads
 * a configuration or a weights file shipped with the job: the number in `file` is filled for every event into
 * the 1-D histogram "sandbox" (0..100), so its mean tells the algorithm which content the subjobs read. A
 * missing or unreadable file fails the subjob. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "caf/collector.h"

static const caf_param_spec params[] = {
    {"file", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "'sandbox.txt'", "the file to read, relative to the job's folder"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    double *kept = malloc(sizeof *kept);
    if (!kept)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = kept;
    const char *name = caf_params_string(caf_collector_params(c), "file", "sandbox.txt");
    FILE *f = fopen(name, "r");
    if (!f)
        return caf_error_errno(err, errno, "SandboxCollector: %s", name);
    double value = 0;
    int read = fscanf(f, "%lf", &value);
    fclose(f);
    if (read != 1)
        return caf_error_set(err, CAF_ERR_FORMAT, "SandboxCollector: %s holds no number", name);
    *kept = value;
    caf_object *h;
    caf_status st = caf_hist1d_new("sandbox", 100, 0, 100, &h, err);
    return st == CAF_OK ? caf_collector_register(c, "sandbox", h, err) : st;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    (void)ev, (void)err;
    caf_hist1d_fill(caf_collector_object(c, "sandbox"), *(const double *)state, 1);
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor sandbox_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "SandboxCollector",
    .description = "Fills the number in a file of its working folder into the histogram 'sandbox' (tests).",
    .params = params,
    .prepare = prepare,
    .collect = collect,
    .finish = finish,
};

CAF_COLLECTOR_PLUGIN(sandbox_collector)
