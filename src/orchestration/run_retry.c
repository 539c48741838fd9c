/* Make-like reruns: a plain `caf run` on a folder where a calibration failed retries it from the step
 * that failed, keeping what finished. The step is read from the state database's last transition into
 * "failed":
 *  - from collector_failed (a subjob failed for good, the inputs could not be read, the merge failed):
 *    back to running_collector; the collector job is re-opened, its completed subjobs kept and its failed
 *    ones submitted again (run_collect_open, retry_failed_subjobs);
 *  - from algorithms_failed: back to running_algorithms; each failed algorithm's outcome row is dropped
 *    and its executions from the first one that was neither OK nor ITERATE on, so the strategy replays the
 *    recorded prefix and executes again from there (committed payloads stay committed);
 *  - from init (a dependency failed, nothing of its own ran): back to init, so it starts once its
 *    dependencies complete (or fails again with them).
 * A retried failure that happens again ends the same way: the rerun changes nothing then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "orchestration/run_internal.h"

/* The state the last transition into failed came from ("" when none is recorded). */
static void failed_from(sqlite3 *db, const char *cal, char *from, size_t size)
{
    from[0] = '\0';
    sqlite3_stmt *st = run_db_prepare(db, NULL, "SELECT from_state FROM transitions WHERE calibration = ? AND "
                                                "to_state = 'failed' ORDER BY id DESC LIMIT 1", "t", cal);
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(from, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* Drops the failed algorithms' outcomes and their executions from the first unsuccessful one on. */
static caf_status forget_failed_algorithms(sqlite3 *db, const char *cal, int iteration, caf_error *err)
{
    caf_status rc = run_db_begin(db, err);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err,
                         "DELETE FROM executions WHERE calibration = ?1 AND iteration = ?2 AND algorithm IN "
                         "(SELECT algorithm FROM algorithms WHERE calibration = ?1 AND iteration = ?2 AND outcome = "
                         "'failed') AND idx >= (SELECT MIN(e.idx) FROM executions e WHERE e.calibration = ?1 AND "
                         "e.iteration = ?2 AND e.algorithm = executions.algorithm AND e.result NOT IN ('ok', "
                         "'iterate'))",
                         "ti", cal, iteration);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err,
                         "DELETE FROM algorithms WHERE calibration = ? AND iteration = ? AND outcome = 'failed'", "ti",
                         cal, iteration);
    if (rc == CAF_OK)
        return run_db_commit(db, err);
    run_db_exec(db, NULL, "ROLLBACK", NULL);
    return rc;
}

caf_status run_retry_failed(run_cal *c, caf_error *err)
{
    sqlite3 *db = c->loop->db;
    const char *name = c->cfg->name;
    char from[40];
    failed_from(db, name, from, sizeof from);
    const char *to, *what;
    if (!strcmp(from, "init") || !strcmp(from, "")) {
        to = "init";
        what = "it never started (a dependency had failed); it starts again once its dependencies complete";
    } else if (!strcmp(from, "collector_failed") || !strcmp(from, "running_collector")) {
        to = "running_collector";
        what = "retrying its collector: completed subjobs are kept, failed ones submitted again";
        c->retry_failed_subjobs = true;
    } else if (!strcmp(from, "algorithms_failed") || !strcmp(from, "running_algorithms") ||
               !strcmp(from, "collector_completed") || !strcmp(from, "algorithms_completed")) {
        to = "running_algorithms";
        what = "retrying its algorithms from the first execution that failed; recorded successes are kept";
        caf_status rc = forget_failed_algorithms(db, name, c->cm.iteration, err);
        if (rc != CAF_OK)
            return rc;
    } else {
        return CAF_OK; /* nothing known to retry from: it stays failed */
    }
    caf_info("%s: iteration %d: failed before (%s); %s", name, c->cm.iteration, c->reason, what);
    caf_status rc = caf_machine_set_state(c->cm.machine, to, err);
    if (rc != CAF_OK)
        return rc;
    c->reason[0] = '\0';
    c->started = strcmp(to, "init") != 0;
    return run_db_set_state(db, name, "failed", to, c->cm.iteration, "retried by caf run", err);
}
