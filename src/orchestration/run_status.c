/* `caf status` and `caf reset` over a run's output folder: the state database read as JSON, and a
 * calibration rewound (rows and folders) without editing the database by hand. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/log.h"
#include "orchestration/run_internal.h"

static caf_status open_existing(const char *dir, run_db_mode mode, sqlite3 **db, caf_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, CAF_RUN_STATE_FILE) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a caf run output folder (no %s)", dir,
                             CAF_RUN_STATE_FILE);
    fclose(f);
    return run_db_open(dir, mode, db, err);
}

static json_t *text_or_empty(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return json_string(t ? (const char *)t : "");
}

/* Subjob counts by status of a calibration's iteration; collection NULL: of every collection. */
static json_t *subjob_counts(sqlite3 *db, const char *name, int iteration, const char *collection)
{
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "total", 0, "init", 0, "submitted", 0,
                               "running", 0, "completed", 0, "failed", 0, "attempts", 0);
    sqlite3_stmt *st = collection ? run_db_prepare(db, NULL, "SELECT status, COUNT(*), SUM(attempt) FROM subjobs "
                                                             "WHERE calibration = ? AND iteration = ? AND "
                                                             "collection = ? GROUP BY status", "tit", name,
                                                   iteration, collection)
                                  : run_db_prepare(db, NULL, "SELECT status, COUNT(*), SUM(attempt) FROM subjobs "
                                                             "WHERE calibration = ? AND iteration = ? GROUP BY "
                                                             "status", "ti", name, iteration);
    int total = 0, attempts = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_object_set_new(counts, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int(st, 1)));
        total += sqlite3_column_int(st, 1);
        attempts += sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    json_object_set_new(counts, "total", json_integer(total));
    json_object_set_new(counts, "attempts", json_integer(attempts));
    return counts;
}

/* The subjobs of the iteration whose last attempt failed (waiting for a retry, or failed for good):
 * [{subjob, attempt, status, reason}], at most 20, e.g. a hold reason while the retry is pending. */
static json_t *subjob_problems(sqlite3 *db, const char *name, int iteration)
{
    json_t *list = json_array();
    sqlite3_stmt *st = run_db_prepare(db, NULL, "SELECT idx, attempt, status, reason FROM subjobs WHERE "
                                                "calibration = ? AND iteration = ? AND status != 'completed' AND "
                                                "reason IS NOT NULL AND reason != '' ORDER BY idx LIMIT 20",
                                      "ti", name, iteration);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:i, s:i, s:s, s:s}", "subjob", sqlite3_column_int(st, 0), "attempt",
                                              sqlite3_column_int(st, 1), "status", sqlite3_column_text(st, 2),
                                              "reason", sqlite3_column_text(st, 3)));
    sqlite3_finalize(st);
    return list;
}

/* The database chain the iteration resolved (recorded when its collector phase opened), [] before. */
static json_t *recorded_chain(const char *dir, const char *name, int iteration)
{
    char *path = NULL;
    json_t *chain = NULL;
    if (asprintf(&path, "%s/%s/iteration_%d/%s", dir, name, iteration, RUN_CHAIN_FILE) >= 0 && access(path, F_OK) == 0)
        caf_json_load_file(path, &chain, NULL);
    free(path);
    if (!json_is_array(chain)) {
        json_decref(chain);
        chain = json_array();
    }
    return chain;
}

/* {collection: counts} of the named collections (empty for the short form, whose rows name none, and for
 * folders written before collections existed, which have no such column). */
static json_t *collection_counts(sqlite3 *db, const char *name, int iteration)
{
    json_t *out = json_object();
    sqlite3_stmt *st = run_db_prepare(db, NULL, "SELECT collection FROM subjobs WHERE calibration = ? AND "
                                                "iteration = ? AND collection != '' GROUP BY collection ORDER BY "
                                                "MIN(idx)", "ti", name, iteration);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *collection = (const char *)sqlite3_column_text(st, 0);
        json_object_set_new(out, collection, subjob_counts(db, name, iteration, collection));
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *algorithm_results(sqlite3 *db, const char *name, int iteration)
{
    json_t *list = json_array();
    sqlite3_stmt *st = run_db_prepare(db, NULL, "SELECT DISTINCT algorithm FROM executions WHERE calibration = ? "
                                                "AND iteration = ? UNION SELECT algorithm FROM algorithms WHERE "
                                                "calibration = ? AND iteration = ? ORDER BY 1",
                                      "titi", name, iteration, name, iteration);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int a = sqlite3_column_int(st, 0);
        json_t *execs = json_array();
        sqlite3_stmt *e = run_db_prepare(db, NULL, "SELECT idx, runs, iov, result, committed, message FROM "
                                                   "executions WHERE calibration = ? AND iteration = ? AND "
                                                   "algorithm = ? ORDER BY idx", "tii", name, iteration, a);
        while (e && sqlite3_step(e) == SQLITE_ROW)
            json_array_append_new(execs, json_pack("{s:i, s:o, s:s, s:s, s:b, s:o}", "index",
                                                   sqlite3_column_int(e, 0), "runs",
                                                   json_loads((const char *)sqlite3_column_text(e, 1), 0, NULL),
                                                   "iov", sqlite3_column_text(e, 2), "result",
                                                   sqlite3_column_text(e, 3), "committed", sqlite3_column_int(e, 4),
                                                   "message", text_or_empty(e, 5)));
        sqlite3_finalize(e);
        json_t *item = json_pack("{s:i, s:s, s:s, s:o}", "algorithm", a, "outcome", "running", "reason", "",
                                 "executions", execs);
        e = run_db_prepare(db, NULL, "SELECT plugin, outcome, reason FROM algorithms WHERE calibration = ? AND "
                                     "iteration = ? AND algorithm = ?", "tii", name, iteration, a);
        if (e && sqlite3_step(e) == SQLITE_ROW) {
            json_object_set_new(item, "plugin", text_or_empty(e, 0));
            json_object_set_new(item, "outcome", text_or_empty(e, 1));
            json_object_set_new(item, "reason", text_or_empty(e, 2));
        }
        sqlite3_finalize(e);
        json_array_append_new(list, item);
    }
    sqlite3_finalize(st);
    return list;
}

caf_status caf_run_status(const char *dir, json_t **out, caf_error *err)
{
    *out = NULL;
    sqlite3 *db;
    caf_status rc = open_existing(dir, RUN_DB_READ, &db, err);
    if (rc != CAF_OK)
        return rc;
    char *lock_path = NULL;
    caf_file_lock lock = {.fd = -1};
    bool running = false;
    if (asprintf(&lock_path, "%s/%s", dir, CAF_RUN_LOCK_FILE) >= 0) {
        running = caf_file_lock_try(&lock, lock_path, NULL) == CAF_ERR_EXISTS;
        caf_file_lock_release(&lock);
    }
    free(lock_path);
    json_t *cals = json_array();
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT name, state, iteration, reason FROM calibrations ORDER BY "
                                               "position", NULL);
    if (!st) {
        run_db_close(db);
        json_decref(cals);
        return err ? err->code : CAF_ERR_IO;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int iteration = sqlite3_column_int(st, 2);
        json_array_append_new(cals, json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "name", name,
                                              "state", sqlite3_column_text(st, 1), "iteration", iteration, "reason",
                                              text_or_empty(st, 3), "subjobs",
                                              subjob_counts(db, name, iteration, NULL), "subjob_problems",
                                              subjob_problems(db, name, iteration), "collections",
                                              collection_counts(db, name, iteration), "database_chain",
                                              recorded_chain(dir, name, iteration), "algorithms",
                                              algorithm_results(db, name, iteration)));
    }
    sqlite3_finalize(st);
    /* What a running calibration's submissions wait for (the user's job limit); nothing once no run holds
     * the folder. */
    size_t k;
    json_t *cal;
    json_array_foreach(cals, k, cal) {
        char key[300];
        snprintf(key, sizeof key, "%s%s", RUN_HELD_BACK_KEY, json_string_value(json_object_get(cal, "name")));
        char *held = running ? run_db_meta(db, key) : NULL;
        json_object_set_new(cal, "held_back", held ? json_string(held) : json_null());
        free(held);
    }
    /* The IoV the run is limited to (caf run --iov), recorded with the run-wide configuration. */
    char *global = run_db_meta(db, "campaign");
    json_t *config = global ? json_loads(global, 0, NULL) : NULL;
    json_t *iov = json_is_string(json_object_get(config, "iov")) ? json_incref(json_object_get(config, "iov"))
                                                                  : json_null();
    json_decref(config);
    free(global);
    run_db_close(db);
    *out = json_pack("{s:s, s:b, s:o, s:o}", "output_dir", dir, "running", running, "iov", iov, "calibrations", cals);
    return *out ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

/* True when every collection of the recorded configuration has its merged output in the iteration. */
static bool has_collector_outputs(const char *dir, const char *name, int iteration, const char *config)
{
    json_t *cfg = config ? json_loads(config, 0, NULL) : NULL;
    json_t *collections = json_object_get(cfg, "collections");
    size_t n = json_array_size(collections);
    bool ok = true;
    for (size_t k = 0; ok && k < (n ? n : 1); k++) {
        char *path = NULL;
        int w = n ? asprintf(&path, "%s/%s/iteration_%d/collections/%s/collector_output.sqlite", dir, name, iteration,
                             json_string_value(json_object_get(json_array_get(collections, k), "name")))
                  : asprintf(&path, "%s/%s/iteration_%d/collector_output.sqlite", dir, name, iteration);
        ok = w >= 0 && caf_path_exists(path);
        free(w >= 0 ? path : NULL);
    }
    json_decref(cfg);
    return ok;
}

/* Removes DIR/NAME/iteration_K for every K >= first (and, with keep_collector, keeps iteration first's
 * collector files: only its algorithms, database and gap files go). */
static void remove_iterations(const char *dir, const char *name, int first, bool keep_collector)
{
    char *cal_dir = NULL;
    if (asprintf(&cal_dir, "%s/%s", dir, name) < 0)
        return;
    DIR *d = opendir(cal_dir);
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        int k;
        char tail;
        if (sscanf(ent->d_name, "iteration_%d%c", &k, &tail) != 1 || k < first)
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", cal_dir, ent->d_name) < 0)
            continue;
        if (k == first && keep_collector) {
            DIR *it = opendir(path);
            struct dirent *e;
            while (it && (e = readdir(it))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "collector") ||
                    !strcmp(e->d_name, "collections") || !strcmp(e->d_name, "collector_output.sqlite"))
                    continue;
                char *p = NULL;
                if (asprintf(&p, "%s/%s", path, e->d_name) >= 0)
                    run_remove_tree(p);
                free(p);
            }
            if (it)
                closedir(it);
        } else {
            run_remove_tree(path);
        }
        free(path);
    }
    if (d)
        closedir(d);
    free(cal_dir);
}

static caf_status rewind_calibration(sqlite3 *db, const char *dir, const char *name, int iteration, const char *state,
                                     bool keep_collector, const char *why, caf_error *err)
{
    run_cal_row row;
    caf_status rc = run_db_load_calibration(db, name, &row, err);
    free(row.config);
    if (rc != CAF_OK)
        return rc;
    if ((rc = run_db_begin(db, err)) != CAF_OK)
        return rc;
    rc = run_db_drop(db, name, iteration, keep_collector, err);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "UPDATE calibrations SET state = ?, iteration = ?, reason = '' WHERE name = ?",
                         "tit", state, iteration, name);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "INSERT INTO transitions(calibration, iteration, from_state, to_state, reason, at) "
                                  "VALUES(?, ?, ?, ?, ?, strftime('%s','now'))", "tittt", name, iteration, row.state,
                         state, why);
    if (rc != CAF_OK) {
        run_db_exec(db, NULL, "ROLLBACK", NULL);
        return rc;
    }
    if ((rc = run_db_commit(db, err)) != CAF_OK)
        return rc;
    remove_iterations(dir, name, iteration, keep_collector);
    caf_info("%s: reset to %s at iteration %d (%s)", name, state, iteration, why);
    return CAF_OK;
}

/* Every calibration whose recorded configuration depends on name, directly or not, gets start_all. */
static caf_status reset_dependents(sqlite3 *db, const char *dir, const char *name, caf_error *err)
{
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT name, config FROM calibrations ORDER BY position", NULL);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    char **names = NULL;
    size_t count = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *cfg = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        size_t i;
        json_t *dep;
        json_array_foreach(json_object_get(cfg, "depends_on"), i, dep) {
            if (json_is_string(dep) && !strcmp(json_string_value(dep), name)) {
                char **grown = realloc(names, (count + 1) * sizeof *names);
                if (grown) {
                    names = grown;
                    names[count++] = strdup((const char *)sqlite3_column_text(st, 0));
                }
                break;
            }
        }
        json_decref(cfg);
    }
    sqlite3_finalize(st);
    caf_status rc = CAF_OK;
    for (size_t i = 0; i < count; i++) {
        char why[300];
        snprintf(why, sizeof why, "depends on %s, which was reset", name);
        if (rc == CAF_OK && names[i])
            rc = rewind_calibration(db, dir, names[i], 0, "init", false, why, err);
        if (rc == CAF_OK && names[i])
            rc = reset_dependents(db, dir, names[i], err);
        free(names[i]);
    }
    free(names);
    return rc;
}

caf_status caf_run_reset(const char *dir, const char *name, int iteration, const char *from, caf_error *err)
{
    bool algorithms = from && !strcmp(from, "algorithms");
    if (from && !algorithms && strcmp(from, "collector") != 0)
        return caf_error_set(err, CAF_ERR_INVALID, "--from must be collector or algorithms, not '%s'", from);
    sqlite3 *db;
    caf_status rc = open_existing(dir, RUN_DB_WRITE, &db, err);
    if (rc != CAF_OK)
        return rc;
    char *lock_path = NULL;
    caf_file_lock lock = {.fd = -1};
    if (asprintf(&lock_path, "%s/%s", dir, CAF_RUN_LOCK_FILE) < 0)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    else if ((rc = caf_file_lock_try(&lock, lock_path, err)) == CAF_ERR_EXISTS)
        rc = caf_error_set(err, CAF_ERR_EXISTS, "%s is in use by a caf run; stop it before resetting", dir);
    run_cal_row row = {0};
    if (rc == CAF_OK && (rc = run_db_load_calibration(db, name, &row, err)) == CAF_OK && !row.found)
        rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no calibration '%s' was run there", dir, name);
    if (rc == CAF_OK && iteration < 0)
        iteration = row.iteration;
    if (rc == CAF_OK && iteration > row.iteration)
        rc = caf_error_set(err, CAF_ERR_INVALID, "%s: calibration '%s' is at iteration %d; cannot reset to %d", dir,
                           name, row.iteration, iteration);
    if (rc == CAF_OK && algorithms) {
        sqlite3_stmt *st = run_db_prepare(db, err, "SELECT COUNT(*) FROM subjobs WHERE calibration = ? AND "
                                                   "iteration = ? AND status != 'completed'", "ti", name, iteration);
        int unfinished = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
        sqlite3_finalize(st);
        if (unfinished != 0 || !has_collector_outputs(dir, name, iteration, row.config))
            rc = caf_error_set(err, CAF_ERR_STATE, "%s: calibration '%s' has no finished collector output in iteration "
                                                   "%d; reset with --from collector", dir, name, iteration);
    }
    if (rc == CAF_OK) {
        const char *state = algorithms ? "collector_completed" : iteration == 0 ? "init" : "running_collector";
        rc = rewind_calibration(db, dir, name, iteration, state, algorithms, "caf reset", err);
    }
    if (rc == CAF_OK)
        rc = reset_dependents(db, dir, name, err);
    if (rc == CAF_OK) { /* the merged outputs are rebuilt by the next run */
        const char *stale[] = {"summary.json", "summary.txt", "database"};
        for (size_t i = 0; i < 3; i++) {
            char *p = NULL;
            if (asprintf(&p, "%s/%s", dir, stale[i]) >= 0)
                run_remove_tree(p);
            free(p);
        }
    }
    free(row.config);
    caf_file_lock_release(&lock);
    free(lock_path);
    run_db_close(db);
    return rc;
}
