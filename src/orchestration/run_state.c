/* The CAF run's state database: SQLite in WAL mode, one row per change (a state transition, a subjob's
 * new status or attempt, an execution, a commit), never a snapshot of the whole state, so saving stays
 * cheap however long the campaign. Schema: docs/ARCHITECTURE.md, "## orchestration". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/file.h"

#include "orchestration/run_internal.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS calibrations(name TEXT PRIMARY KEY, position INTEGER NOT NULL,"
    "  state TEXT NOT NULL, iteration INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
    "  config TEXT NOT NULL, config_hash TEXT NOT NULL, updated REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS transitions(id INTEGER PRIMARY KEY, calibration TEXT NOT NULL,"
    "  iteration INTEGER NOT NULL, from_state TEXT, to_state TEXT NOT NULL, reason TEXT, at REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS subjobs(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
    "  idx INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL, batch_id TEXT,"
    "  files INTEGER NOT NULL, reason TEXT, collection TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY(calibration, iteration, idx));"
    "CREATE TABLE IF NOT EXISTS subjob_attempts(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
    "  idx INTEGER NOT NULL, attempt INTEGER NOT NULL, batch_id TEXT, at REAL NOT NULL,"
    "  PRIMARY KEY(calibration, iteration, idx, attempt));"
    "CREATE TABLE IF NOT EXISTS executions(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
    "  algorithm INTEGER NOT NULL, idx INTEGER NOT NULL, runs TEXT NOT NULL, iov TEXT NOT NULL,"
    "  result TEXT NOT NULL, committed INTEGER NOT NULL, message TEXT, state TEXT,"
    "  PRIMARY KEY(calibration, iteration, algorithm, idx));"
    "CREATE TABLE IF NOT EXISTS boundaries(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
    "  algorithm INTEGER NOT NULL, exp INTEGER NOT NULL, runs TEXT NOT NULL,"
    "  PRIMARY KEY(calibration, iteration, algorithm, exp));"
    "CREATE TABLE IF NOT EXISTS algorithms(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
    "  algorithm INTEGER NOT NULL, plugin TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,"
    "  PRIMARY KEY(calibration, iteration, algorithm));";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static caf_status db_error(sqlite3 *db, caf_error *err, const char *what)
{
    return caf_error_set(err, CAF_ERR_IO, "state database: %s: %s", what, sqlite3_errmsg(db));
}

/* True when path + suffix exists. */
static bool sibling_exists(const char *path, const char *suffix)
{
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return access(p, F_OK) == 0;
}

/* "file:PATH?immutable=1" with PATH percent-encoded where URI syntax would misread it. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *uri = malloc(3 * n + 32);
    if (!uri)
        return NULL;
    char *o = uri + sprintf(uri, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p >= 0x7f)
            o += sprintf(o, "%%%02X", *p);
        else
            *o++ = (char)*p;
    }
    strcpy(o, "?immutable=1");
    return uri;
}

/* A reader of a folder no caf run holds, whose database has no write-ahead log or journal beside it, reads
 * the file as immutable: a WAL-mode database opened even read-only would otherwise create -wal and -shm
 * files that nobody removes. With a live writer (or a killed one, whose -wal holds committed rows) those
 * files exist already and the ordinary read-only open is the correct one. */
static bool can_read_immutable(const char *dir, const char *path)
{
    if (sibling_exists(path, "-wal") || sibling_exists(path, "-journal"))
        return false;
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/%s", dir, CAF_RUN_LOCK_FILE);
    caf_file_lock lock = {.fd = -1};
    bool free_lock = caf_file_lock_try(&lock, lock_path, NULL) == CAF_OK;
    caf_file_lock_release(&lock);
    return free_lock;
}

caf_status run_db_open(const char *dir, run_db_mode mode, sqlite3 **out, caf_error *err)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CAF_RUN_STATE_FILE);
    sqlite3 *db = NULL;
    int flags = mode == RUN_DB_CREATE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                : mode == RUN_DB_WRITE ? SQLITE_OPEN_READWRITE
                                       : SQLITE_OPEN_READONLY;
    char *uri = mode == RUN_DB_READ && can_read_immutable(dir, path) ? immutable_uri(path) : NULL;
    int opened = uri ? sqlite3_open_v2(uri, &db, flags | SQLITE_OPEN_URI, NULL) : sqlite3_open_v2(path, &db, flags, NULL);
    free(uri);
    if (opened != SQLITE_OK) {
        caf_status rc = caf_error_set(err, mode == RUN_DB_CREATE ? CAF_ERR_IO : CAF_ERR_NOT_FOUND, "%s: %s", path,
                                      db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 30000);
    if (mode == RUN_DB_READ) { /* a reader (caf status) writes nothing, so it never disturbs the run */
        *out = db;
        return CAF_OK;
    }
    /* WAL: readers never block the run; NORMAL sync is durable against a killed process. Switching to WAL
     * needs the file to itself, so a reader that has it open makes the switch wait. */
    char *msg = NULL;
    int rc = SQLITE_BUSY;
    for (int tries = 0; rc == SQLITE_BUSY && tries < 300; tries++) {
        sqlite3_free(msg);
        msg = NULL;
        if ((rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg)) ==
            SQLITE_BUSY)
            sqlite3_sleep(100);
    }
    /* Folders started before collections existed get the column (rows of the short form keep ''). */
    if (rc == SQLITE_OK && (rc = sqlite3_exec(db, schema, NULL, NULL, &msg)) == SQLITE_OK &&
        sqlite3_exec(db, "SELECT collection FROM subjobs LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
        rc = sqlite3_exec(db, "ALTER TABLE subjobs ADD COLUMN collection TEXT NOT NULL DEFAULT ''", NULL, NULL, &msg);
    /* ... and executions their output state (NULL in older rows: it is then read from the folder's state.json) */
    if (rc == SQLITE_OK && sqlite3_exec(db, "SELECT state FROM executions LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
        rc = sqlite3_exec(db, "ALTER TABLE executions ADD COLUMN state TEXT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        caf_status st = caf_error_set(err, CAF_ERR_IO, "%s: %s", path, msg ? msg : "cannot set up");
        sqlite3_free(msg);
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return CAF_OK;
}

void run_db_close(sqlite3 *db)
{
    if (!db)
        return;
    /* A writer leaves the database in rollback-journal mode, so that later readers (caf status) find one
     * self-contained file and create nothing beside it. Busy (a reader has it open): it stays in WAL mode,
     * which is still correct, and the reader's open of a WAL database creates nothing new either. */
    if (!sqlite3_db_readonly(db, "main")) {
        sqlite3_busy_timeout(db, 2000);
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
    }
    sqlite3_close(db);
}

static sqlite3_stmt *prepare_v(sqlite3 *db, caf_error *err, const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(db, err, "prepare");
        return NULL;
    }
    for (int i = 0; types && types[i]; i++) {
        int rc = SQLITE_OK;
        switch (types[i]) {
        case 'i': rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int)); break;
        case 'I': rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, long long)); break;
        case 'd': rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double)); break;
        case 't': {
            const char *text = va_arg(ap, const char *);
            rc = text ? sqlite3_bind_text(st, i + 1, text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
            break;
        }
        }
        if (rc != SQLITE_OK) {
            db_error(db, err, "bind");
            sqlite3_finalize(st);
            return NULL;
        }
    }
    return st;
}

sqlite3_stmt *run_db_prepare(sqlite3 *db, caf_error *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = prepare_v(db, err, sql, types, ap);
    va_end(ap);
    return st;
}

caf_status run_db_exec(sqlite3 *db, caf_error *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = prepare_v(db, err, sql, types, ap);
    va_end(ap);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CAF_OK : db_error(db, err, "write");
}

caf_status run_db_begin(sqlite3 *db, caf_error *err)
{
    return run_db_exec(db, err, "BEGIN IMMEDIATE", NULL);
}

caf_status run_db_commit(sqlite3 *db, caf_error *err)
{
    return run_db_exec(db, err, "COMMIT", NULL);
}

char *run_db_meta(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = run_db_prepare(db, NULL, "SELECT value FROM meta WHERE key = ?", "t", key);
    char *value = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        value = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return value;
}

caf_status run_db_load_calibration(sqlite3 *db, const char *name, run_cal_row *row, caf_error *err)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT state, iteration, reason, config FROM calibrations "
                                               "WHERE name = ?", "t", name);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    caf_status rc = CAF_OK;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        row->found = true;
        snprintf(row->state, sizeof row->state, "%s", (const char *)sqlite3_column_text(st, 0));
        row->iteration = sqlite3_column_int(st, 1);
        snprintf(row->reason, sizeof row->reason, "%s", (const char *)sqlite3_column_text(st, 2));
        if (!(row->config = strdup((const char *)sqlite3_column_text(st, 3))))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    } else if (step != SQLITE_DONE) {
        rc = db_error(db, err, "read calibrations");
    }
    sqlite3_finalize(st);
    return rc;
}

caf_status run_db_set_state(sqlite3 *db, const char *name, const char *from, const char *state, int iteration,
                            const char *reason, caf_error *err)
{
    caf_status rc = run_db_begin(db, err);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "UPDATE calibrations SET state = ?, iteration = ?, reason = ?, updated = ? "
                                  "WHERE name = ?", "titdt", state, iteration, reason ? reason : "", now(), name);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "INSERT INTO transitions(calibration, iteration, from_state, to_state, reason, at)"
                                  " VALUES(?, ?, ?, ?, ?, ?)", "titttd", name, iteration, from, state, reason, now());
    if (rc == CAF_OK)
        return run_db_commit(db, err);
    run_db_exec(db, NULL, "ROLLBACK", NULL);
    return rc;
}

static json_t *runs_json(const caf_exprun *runs, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        json_array_append_new(a, json_pack("[ii]", runs[i].exp, runs[i].run));
    return a;
}

static caf_status runs_from_json(const char *text, caf_exprun **out, size_t *count, caf_error *err)
{
    *out = NULL;
    *count = 0;
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return caf_error_set(err, CAF_ERR_FORMAT, "state database: bad run list '%s'", text);
    }
    size_t n = json_array_size(a);
    caf_exprun *runs = n ? calloc(n, sizeof *runs) : NULL;
    if (n && !runs) {
        json_decref(a);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(a, i);
        runs[i].exp = (int)json_integer_value(json_array_get(pair, 0));
        runs[i].run = (int)json_integer_value(json_array_get(pair, 1));
    }
    json_decref(a);
    *out = runs;
    *count = n;
    return CAF_OK;
}

caf_status run_db_save_execution(sqlite3 *db, const char *cal, int algorithm, const caf_execution *e,
                                 const char *message, const char *state, caf_error *err)
{
    json_t *runs = runs_json(e->runs, e->run_count);
    char *text = runs ? json_dumps(runs, JSON_COMPACT) : NULL;
    json_decref(runs);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char iov[96];
    caf_iov_format(e->iov, iov, sizeof iov);
    caf_status rc = run_db_exec(
        db, err,
        "INSERT INTO executions(calibration, iteration, algorithm, idx, runs, iov, result, committed, message, state) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(calibration, iteration, algorithm, idx) DO UPDATE SET "
        "result = excluded.result, committed = excluded.committed, "
        "message = COALESCE(excluded.message, executions.message), state = COALESCE(excluded.state, executions.state)",
        "tiiitttitt", cal, e->iteration, algorithm, (int)e->index, text, iov, caf_algorithm_result_name(e->result),
        e->committed ? 1 : 0, message, state);
    free(text);
    return rc;
}

caf_status run_db_load_last_state(sqlite3 *db, const char *cal, int iteration, int algorithm, char **state,
                                  caf_error *err)
{
    *state = NULL;
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT state FROM executions WHERE calibration = ? AND iteration = ? "
                                               "AND algorithm = ? ORDER BY idx DESC LIMIT 1", "tii", cal, iteration,
                                      algorithm);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    caf_status rc = CAF_OK;
    const unsigned char *text = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    if (text && !(*state = strdup((const char *)text)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    sqlite3_finalize(st);
    return rc;
}

caf_status run_db_save_boundaries(sqlite3 *db, const char *cal, int iteration, int algorithm,
                                  const caf_found_boundaries *found, caf_error *err)
{
    json_t *runs = runs_json(found->boundaries, found->count);
    char *text = runs ? json_dumps(runs, JSON_COMPACT) : NULL;
    json_decref(runs);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = run_db_exec(db, err,
                                "INSERT OR REPLACE INTO boundaries(calibration, iteration, algorithm, exp, runs) "
                                "VALUES(?, ?, ?, ?, ?)", "tiiit", cal, iteration, algorithm, found->exp, text);
    free(text);
    return rc;
}

static caf_status append_execution(caf_strategy_state *s, sqlite3_stmt *st, int iteration, caf_error *err)
{
    if (s->execution_count == s->execution_capacity) {
        size_t cap = s->execution_capacity ? 2 * s->execution_capacity : 16;
        caf_execution *grown = realloc(s->executions, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        s->executions = grown;
        s->execution_capacity = cap;
    }
    caf_execution *e = &s->executions[s->execution_count];
    memset(e, 0, sizeof *e);
    e->index = (size_t)sqlite3_column_int(st, 0);
    e->iteration = iteration;
    caf_status rc = runs_from_json((const char *)sqlite3_column_text(st, 1), &e->runs, &e->run_count, err);
    if (rc == CAF_OK)
        rc = caf_iov_parse((const char *)sqlite3_column_text(st, 2), &e->iov, err);
    if (rc == CAF_OK && !caf_algorithm_result_parse((const char *)sqlite3_column_text(st, 3), &e->result))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "state database: unknown result '%s'", sqlite3_column_text(st, 3));
    e->committed = sqlite3_column_int(st, 4) != 0;
    if (rc != CAF_OK) {
        free(e->runs);
        return rc;
    }
    if (e->index != s->execution_count)
        return caf_error_set(err, CAF_ERR_FORMAT, "state database: execution %zu is missing", s->execution_count);
    s->execution_count++;
    return CAF_OK;
}

caf_status run_db_load_strategy(sqlite3 *db, const char *cal, int iteration, int algorithm,
                                caf_strategy_state *state, caf_error *err)
{
    caf_strategy_state_clear(state);
    state->iteration = iteration;
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT idx, runs, iov, result, committed FROM executions "
                                               "WHERE calibration = ? AND iteration = ? AND algorithm = ? "
                                               "ORDER BY idx", "tii", cal, iteration, algorithm);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    caf_status rc = CAF_OK;
    while (rc == CAF_OK && sqlite3_step(st) == SQLITE_ROW)
        rc = append_execution(state, st, iteration, err);
    sqlite3_finalize(st);
    if (rc != CAF_OK)
        return rc;
    st = run_db_prepare(db, err, "SELECT exp, runs FROM boundaries WHERE calibration = ? AND iteration = ? "
                                 "AND algorithm = ? ORDER BY rowid", "tii", cal, iteration, algorithm);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    while (rc == CAF_OK && sqlite3_step(st) == SQLITE_ROW) {
        caf_found_boundaries *grown = realloc(state->found, (state->found_count + 1) * sizeof *grown);
        if (!grown) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        state->found = grown;
        caf_found_boundaries *f = &state->found[state->found_count];
        f->exp = sqlite3_column_int(st, 0);
        if ((rc = runs_from_json((const char *)sqlite3_column_text(st, 1), &f->boundaries, &f->count, err)) ==
            CAF_OK)
            state->found_count++;
    }
    sqlite3_finalize(st);
    return rc;
}

caf_status run_db_save_outcome(sqlite3 *db, const char *cal, int iteration, int algorithm, const char *plugin,
                               caf_strategy_outcome outcome, const char *reason, caf_error *err)
{
    return run_db_exec(db, err,
                       "INSERT OR REPLACE INTO algorithms(calibration, iteration, algorithm, plugin, outcome, reason)"
                       " VALUES(?, ?, ?, ?, ?, ?)", "tiittt", cal, iteration, algorithm, plugin,
                       caf_strategy_outcome_name(outcome), reason);
}

caf_status run_db_load_outcome(sqlite3 *db, const char *cal, int iteration, int algorithm,
                               caf_strategy_outcome *outcome, char *reason, size_t reason_size, caf_error *err)
{
    *outcome = CAF_OUTCOME_NONE;
    sqlite3_stmt *st = run_db_prepare(db, err, "SELECT outcome, reason FROM algorithms WHERE calibration = ? AND "
                                               "iteration = ? AND algorithm = ?", "tii", cal, iteration, algorithm);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int o = CAF_OUTCOME_NONE; o <= CAF_OUTCOME_FAILED; o++)
            if (!strcmp(name, caf_strategy_outcome_name((caf_strategy_outcome)o)))
                *outcome = (caf_strategy_outcome)o;
        if (reason)
            snprintf(reason, reason_size, "%s",
                     sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
    }
    sqlite3_finalize(st);
    return CAF_OK;
}

caf_status run_db_drop(sqlite3 *db, const char *cal, int iteration, bool keep_collector, caf_error *err)
{
    static const char *const tables[] = {"executions", "boundaries", "algorithms"};
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < sizeof tables / sizeof *tables; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE calibration = ? AND iteration >= ?", tables[i]);
        rc = run_db_exec(db, err, sql, "ti", cal, iteration);
    }
    int first_subjob_iteration = keep_collector ? iteration + 1 : iteration;
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "DELETE FROM subjobs WHERE calibration = ? AND iteration >= ?", "ti", cal,
                         first_subjob_iteration);
    if (rc == CAF_OK)
        rc = run_db_exec(db, err, "DELETE FROM subjob_attempts WHERE calibration = ? AND iteration >= ?", "ti", cal,
                         first_subjob_iteration);
    return rc;
}
