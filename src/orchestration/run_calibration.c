/* One calibration in a CAF run: its machine (every transition recorded as a row with its reason), its
 * folders, and the database chains its iteration reads through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "orchestration/run_internal.h"

const char *run_cal_state(const run_cal *c)
{
    return caf_machine_state(c->cm.machine);
}

bool run_cal_finished(const run_cal *c)
{
    const char *s = run_cal_state(c);
    return !strcmp(s, "completed") || !strcmp(s, "failed");
}

caf_status run_cal_fire(run_cal *c, const char *transition, const char *reason, caf_error *err)
{
    char from[40];
    snprintf(from, sizeof from, "%s", run_cal_state(c));
    caf_status rc = caf_machine_fire(c->cm.machine, transition, err);
    if (rc != CAF_OK)
        return rc;
    if (reason)
        snprintf(c->reason, sizeof c->reason, "%s", reason);
    caf_log(reason ? CAF_LOG_WARNING : CAF_LOG_INFO, "%s: iteration %d: %s -> %s%s%s", c->cfg->name,
            c->cm.iteration, from, run_cal_state(c), reason ? ": " : "", reason ? reason : "");
    return run_db_set_state(c->loop->db, c->cfg->name, from, run_cal_state(c), c->cm.iteration, c->reason, err);
}

caf_status run_cal_fail(run_cal *c, const char *reason, caf_error *err)
{
    char from[40];
    snprintf(from, sizeof from, "%s", run_cal_state(c));
    caf_status rc = caf_machine_set_state(c->cm.machine, "failed", err);
    if (rc != CAF_OK)
        return rc;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    caf_warning("%s: iteration %d: %s -> failed: %s", c->cfg->name, c->cm.iteration, from, reason);
    return run_db_set_state(c->loop->db, c->cfg->name, from, "failed", c->cm.iteration, c->reason, err);
}

char *run_cal_iteration_dir(const run_cal *c, int iteration)
{
    char *p = NULL;
    return asprintf(&p, "%s/iteration_%d", c->dir, iteration) < 0 ? NULL : p;
}

char *run_cal_database(const run_cal *c, int iteration)
{
    char *p = NULL;
    return asprintf(&p, "%s/iteration_%d/database", c->dir, iteration) < 0 ? NULL : p;
}

static caf_status chain_add(run_cal *c, char *path, caf_error *err)
{
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char **grown = realloc(c->chain, (c->chain_count + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    c->chain = grown;
    c->chain[c->chain_count++] = path;
    return CAF_OK;
}

/* First match wins: this iteration's output, the previous iteration's, the dependencies' final outputs
 * (in depends_on order), then the configured database_chain. */
caf_status run_cal_build_chain(run_cal *c, caf_error *err)
{
    for (size_t i = 0; i < c->chain_count; i++)
        free(c->chain[i]);
    free(c->chain);
    c->chain = NULL;
    c->chain_count = 0;
    caf_status rc = chain_add(c, run_cal_database(c, c->cm.iteration), err);
    if (rc == CAF_OK && c->cm.iteration > 0)
        rc = chain_add(c, run_cal_database(c, c->cm.iteration - 1), err);
    for (size_t d = 0; rc == CAF_OK && d < c->cfg->depends_on.count; d++) {
        size_t k = caf_campaign_index(c->loop->campaign, c->cfg->depends_on.items[d]);
        const run_cal *dep = &c->loop->cals[k];
        rc = chain_add(c, run_cal_database(dep, dep->cm.iteration), err);
    }
    for (size_t i = 0; rc == CAF_OK && i < c->cfg->database_chain.count; i++) {
        const char *db = c->cfg->database_chain.items[i];
        char *path = NULL;
        if (db[0] == '/' || !c->loop->base_dir)
            path = strdup(db);
        else if (asprintf(&path, "%s/%s", c->loop->base_dir, db) < 0)
            path = NULL;
        rc = chain_add(c, path, err);
    }
    return rc;
}
