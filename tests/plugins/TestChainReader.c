/* A module for the campaign tests: at each begin_run looks up a payload in the database chain a collector
 * job gets ($CAF_DATABASE_CHAIN, folders separated by ':') and appends "EXP RUN REVISION DATABASE" (or
 * "EXP RUN none") to a log file, so a test can check which database a collector job's lookup found. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/module.h"

static const caf_param_spec params[] = {
    {"payload", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "payload name to look up at every run"},
    {"log", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "file the lookups are appended to"},
    {NULL, 0, 0, NULL, NULL},
};

struct reader {
    caf_dbchain *chain;
    FILE *log;
};

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    struct reader *r = calloc(1, sizeof *r);
    const char *path = caf_params_string(caf_module_params(ctx), "log", "");
    if (!r)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (!(r->log = fopen(path, "a"))) {
        free(r);
        return caf_error_errno(err, errno, "cannot open %s", path);
    }
    caf_status st = caf_dbchain_open_text(getenv("CAF_DATABASE_CHAIN"), &r->chain, err);
    if (st != CAF_OK) {
        fclose(r->log);
        free(r);
        return st;
    }
    *state = r;
    return CAF_OK;
}

static caf_status begin_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    struct reader *r = state;
    caf_dbchain_match m;
    caf_error lookup_err = {0};
    caf_status st = caf_dbchain_lookup(r->chain, caf_params_string(caf_module_params(ctx), "payload", ""), run, &m,
                                       &lookup_err);
    if (st == CAF_OK)
        fprintf(r->log, "%d %d %s %s\n", run.exp, run.run, m.entry->revision,
                m.database ? caf_localdb_dir(m.database) : "server");
    else if (st == CAF_ERR_NOT_FOUND)
        fprintf(r->log, "%d %d none\n", run.exp, run.run);
    caf_dbchain_match_clear(&m);
    if (st != CAF_OK && st != CAF_ERR_NOT_FOUND)
        return caf_error_set(err, st, "%s", lookup_err.message);
    fflush(r->log);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)ctx, (void)success, (void)err;
    struct reader *r = state;
    caf_dbchain_close(r->chain);
    fclose(r->log);
    free(r);
    return CAF_OK;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "TestChainReader",
    .description = "Test module: logs which database of $CAF_DATABASE_CHAIN holds a payload at each run.",
    .params = params,
    .initialize = initialize,
    .begin_run = begin_run,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
