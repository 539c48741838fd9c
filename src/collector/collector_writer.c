/* Writing collector outputs: a SQLite file under a temporary name beside the target, filled in
 * transactions (one per flush), closed, fsync'ed and renamed at commit. The rollback journal is kept in
 * memory: the temporary file is discarded on any failure, so only the final rename needs to be durable.
 * Pages of 64 kB hold a typical histogram's chunk whole, so readers get it without assembling overflow
 * pages; the page cache is capped explicitly (4 MB), as it would otherwise grow with the page size. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/temp_file.h"
#include "caf/version.h"
#include "collector/output_internal.h"

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs(exp INTEGER NOT NULL, run INTEGER NOT NULL, PRIMARY KEY(exp, run));"
    "CREATE TABLE objects(name TEXT PRIMARY KEY, type TEXT NOT NULL);"
    "CREATE TABLE pieces(id INTEGER PRIMARY KEY, name TEXT NOT NULL REFERENCES objects(name),"
    " exp INTEGER NOT NULL, run INTEGER NOT NULL, idx INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    " chunks INTEGER NOT NULL, UNIQUE(name, exp, run, idx));"
    "CREATE TABLE chunks(piece INTEGER NOT NULL REFERENCES pieces(id), seq INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(piece, seq));"
    "CREATE VIEW object_keys AS SELECT name, exp || '.' || run AS key, idx, bytes FROM pieces"
    " ORDER BY name, exp, run, idx;";

typedef struct declared {
    char *name;
    char *type;
} declared;

struct caf_collector_writer {
    sqlite3 *db;
    char *path, *temp_path, *collector;
    caf_run_range runs;
    declared *objects;
    size_t n_objects;
    bool in_transaction;
    int64_t uncommitted; /* bytes put since the last commit */
    char pending[256]; /* the objects put since the last flush, for messages: "'a' for 1.2, ..." */
    sqlite3_stmt *insert_piece, *insert_chunk, *update_piece;
    /* the piece being written */
    sqlite3_int64 piece;
    int64_t seq, bytes;
};

caf_status output_sqlite_error(caf_error *err, sqlite3 *db, int rc, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int primary = rc & 0xff;
    caf_status code = primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
                              primary == SQLITE_READONLY || primary == SQLITE_PERM
                          ? CAF_ERR_IO
                      : primary == SQLITE_NOMEM                            ? CAF_ERR_NOMEM
                      : primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT ? CAF_ERR_FORMAT
                                                                           : CAF_ERR_EXTERNAL;
    const char *msg = db && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int sys = db && code == CAF_ERR_IO ? sqlite3_system_errno(db) : 0;
    if (sys)
        return caf_error_set(err, code, "%s: %s (%s)", what, msg, strerror(sys));
    return caf_error_set(err, code, "%s: %s", what, msg);
}

static caf_status exec(caf_collector_writer *w, const char *sql, caf_error *err)
{
    int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, w->db, rc, "collector %s: writing %s", w->collector, w->path);
    return CAF_OK;
}

static caf_status prepare(caf_collector_writer *w, const char *sql, sqlite3_stmt **stmt, caf_error *err)
{
    int rc = sqlite3_prepare_v2(w->db, sql, -1, stmt, NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, w->db, rc, "collector %s: preparing %s", w->collector, w->path);
    return CAF_OK;
}

static caf_status put_meta(caf_collector_writer *w, const char *key, const char *value, caf_error *err)
{
    sqlite3_stmt *s;
    caf_status st = prepare(w, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &s, err);
    if (st != CAF_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return output_sqlite_error(err, w->db, rc, "collector %s: writing metadata '%s' into %s", w->collector, key,
                                   w->path);
    return CAF_OK;
}

static caf_status begin(caf_collector_writer *w, caf_error *err)
{
    if (w->in_transaction)
        return CAF_OK;
    caf_status st = exec(w, "BEGIN", err);
    w->in_transaction = st == CAF_OK;
    return st;
}

static void writer_finalize(caf_collector_writer *w)
{
    sqlite3_finalize(w->insert_piece);
    sqlite3_finalize(w->insert_chunk);
    sqlite3_finalize(w->update_piece);
    w->insert_piece = w->insert_chunk = w->update_piece = NULL;
}

static void writer_free(caf_collector_writer *w)
{
    writer_finalize(w);
    sqlite3_close(w->db);
    for (size_t i = 0; i < w->n_objects; i++) {
        free(w->objects[i].name);
        free(w->objects[i].type);
    }
    free(w->objects);
    caf_run_range_clear(&w->runs);
    free(w->path);
    free(w->temp_path);
    free(w->collector);
    free(w);
}

void caf_collector_writer_abort(caf_collector_writer *w)
{
    if (!w)
        return;
    writer_finalize(w); /* a connection with live statements would not close */
    sqlite3_close(w->db);
    w->db = NULL;
    if (w->temp_path)
        unlink(w->temp_path);
    writer_free(w);
}

caf_status caf_collector_writer_open(const char *path, const caf_collector_info *info, caf_collector_writer **out,
                                     caf_error *err)
{
    *out = NULL;
    caf_collector_writer *w = calloc(1, sizeof *w);
    if (!w)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    w->path = strdup(path);
    w->collector = strdup(info->collector ? info->collector : "");
    w->temp_path = caf_temp_template(path); /* names its writer, so a dead writer's leftover can be swept */
    if (!w->path || !w->collector || !w->temp_path) {
        caf_collector_writer_abort(w);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    caf_run_range_init(&w->runs, info->granularity);
    int fd = mkstemp(w->temp_path);
    if (fd < 0) {
        caf_status st = caf_error_errno(err, errno, "collector %s: creating a temporary file for %s", w->collector, path);
        free(w->temp_path);
        w->temp_path = NULL;
        caf_collector_writer_abort(w);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; outputs are shared like every other caf file */
    close(fd);
    int rc = sqlite3_open_v2(w->temp_path, &w->db, SQLITE_OPEN_READWRITE, NULL);
    caf_status st = rc == SQLITE_OK ? CAF_OK
                                    : output_sqlite_error(err, w->db, rc, "collector %s: creating %s", w->collector, path);
    if (st == CAF_OK)
        st = exec(w, "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA page_size=65536; PRAGMA cache_size=-4096;", err);
    if (st == CAF_OK)
        st = begin(w, err);
    if (st == CAF_OK)
        st = exec(w, schema_sql, err);
    char version[16];
    snprintf(version, sizeof version, "%d", CAF_COLLECTOR_FORMAT_VERSION);
    char *params = info->parameters ? json_dumps(info->parameters, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (st == CAF_OK && !params)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st == CAF_OK)
        st = put_meta(w, "format", OUTPUT_FORMAT_NAME, err);
    if (st == CAF_OK)
        st = put_meta(w, "format_version", version, err);
    if (st == CAF_OK)
        st = put_meta(w, "collector", w->collector, err);
    if (st == CAF_OK)
        st = put_meta(w, "module", info->module ? info->module : "", err);
    if (st == CAF_OK)
        st = put_meta(w, "granularity", caf_granularity_name(info->granularity), err);
    if (st == CAF_OK)
        st = put_meta(w, "parameters", params, err);
    if (st == CAF_OK)
        st = put_meta(w, "caf_version", CAF_VERSION_STRING, err);
    free(params);
    /* the next index of (name, key) in the same statement: a revisited run gets 2, 3, ... */
    if (st == CAF_OK)
        st = prepare(w,
                     "INSERT INTO pieces(name, exp, run, idx, bytes, chunks) VALUES(?1, ?2, ?3, (SELECT COALESCE(MAX(idx), "
                     "0) + 1 FROM pieces WHERE name = ?1 AND exp = ?2 AND run = ?3), 0, 0)",
                     &w->insert_piece, err);
    if (st == CAF_OK)
        st = prepare(w, "INSERT INTO chunks(piece, seq, data) VALUES(?, ?, ?)", &w->insert_chunk, err);
    if (st == CAF_OK)
        st = prepare(w, "UPDATE pieces SET bytes = ?, chunks = ? WHERE id = ?", &w->update_piece, err);
    if (st != CAF_OK) {
        caf_collector_writer_abort(w);
        return st;
    }
    *out = w;
    return CAF_OK;
}

caf_status caf_collector_writer_declare(caf_collector_writer *w, const char *name, const caf_object *tmpl,
                                        caf_error *err)
{
    return output_writer_declare_type(w, name, caf_object_type_name(tmpl), err);
}

caf_status output_writer_declare_type(caf_collector_writer *w, const char *name, const char *type, caf_error *err)
{
    for (size_t i = 0; i < w->n_objects; i++)
        if (!strcmp(w->objects[i].name, name)) {
            if (!strcmp(w->objects[i].type, type))
                return CAF_OK;
            return caf_error_set(err, CAF_ERR_EXISTS, "collector %s: object '%s' is already declared as a %s, not a %s",
                                 w->collector, name, w->objects[i].type, type);
        }
    declared *n = realloc(w->objects, (w->n_objects + 1) * sizeof *n);
    if (!n)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    w->objects = n;
    declared d = {strdup(name), strdup(type)};
    if (!d.name || !d.type) {
        free(d.name);
        free(d.type);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    w->objects[w->n_objects++] = d;
    caf_status st = begin(w, err);
    if (st != CAF_OK)
        return st;
    sqlite3_stmt *s;
    if ((st = prepare(w, "INSERT INTO objects(name, type) VALUES(?, ?)", &s, err)) != CAF_OK)
        return st;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return output_sqlite_error(err, w->db, rc, "collector %s: declaring object '%s' in %s", w->collector, name,
                                   w->path);
    return CAF_OK;
}

static caf_status chunk_sink(void *ud, const void *data, size_t size, caf_error *err)
{
    caf_collector_writer *w = ud;
    sqlite3_stmt *s = w->insert_chunk;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, w->piece);
    sqlite3_bind_int64(s, 2, w->seq);
    sqlite3_bind_blob64(s, 3, data, size, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return output_sqlite_error(err, w->db, rc, "chunk %lld", (long long)w->seq);
    w->seq++;
    w->bytes += (int64_t)size;
    return CAF_OK;
}

static caf_status step_done(caf_collector_writer *w, sqlite3_stmt *s, caf_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CAF_OK : output_sqlite_error(err, w->db, rc, "statement");
}

caf_status caf_collector_writer_put(caf_collector_writer *w, const char *name, caf_exprun key, const caf_object *obj,
                                    caf_error *err)
{
    caf_status st = caf_collector_writer_declare(w, name, obj, err);
    if (st == CAF_OK)
        st = begin(w, err);
    if (st == CAF_OK) {
        sqlite3_stmt *s = w->insert_piece;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, key.exp);
        sqlite3_bind_int(s, 3, key.run);
        st = step_done(w, s, err);
        w->piece = sqlite3_last_insert_rowid(w->db);
        w->seq = w->bytes = 0;
    }
    if (st == CAF_OK)
        st = caf_object_write(obj, chunk_sink, w, err);
    if (st == CAF_OK) {
        sqlite3_stmt *s = w->update_piece;
        sqlite3_bind_int64(s, 1, w->bytes);
        sqlite3_bind_int64(s, 2, w->seq);
        sqlite3_bind_int64(s, 3, w->piece);
        st = step_done(w, s, err);
    }
    char key_text[CAF_EXPRUN_TEXT_MAX];
    caf_exprun_format(key, key_text, sizeof key_text);
    if (st != CAF_OK) {
        caf_error_prefix(err, "collector %s: writing object '%s' for %s into %s: ", w->collector, name, key_text,
                         w->path);
    } else {
        w->uncommitted += w->bytes;
        size_t used = strlen(w->pending);
        if (used + 8 < sizeof w->pending)
            snprintf(w->pending + used, sizeof w->pending - used, "%s'%s' for %s", used ? ", " : "", name, key_text);
    }
    return st;
}

caf_status caf_collector_writer_add_run(caf_collector_writer *w, caf_exprun run, caf_error *err)
{
    return caf_run_range_add(&w->runs, run, err);
}

caf_status caf_collector_writer_flush(caf_collector_writer *w, caf_error *err)
{
    if (!w->in_transaction)
        return CAF_OK;
    w->in_transaction = false;
    int rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    caf_status st = CAF_OK;
    if (rc != SQLITE_OK)
        st = output_sqlite_error(err, w->db, rc, "collector %s: writing object %s into %s", w->collector,
                                 w->pending[0] ? w->pending : "metadata", w->path);
    w->pending[0] = '\0';
    w->uncommitted = 0;
    return st;
}

caf_status output_writer_flush_if(caf_collector_writer *w, int64_t threshold, caf_error *err)
{
    return w->uncommitted >= threshold ? caf_collector_writer_flush(w, err) : CAF_OK;
}

/* Writes the RunRange rows and commits the last transaction. */
static caf_status finish_content(caf_collector_writer *w, caf_error *err)
{
    caf_status st = begin(w, err);
    sqlite3_stmt *s = NULL;
    if (st == CAF_OK)
        st = prepare(w, "INSERT OR IGNORE INTO runs(exp, run) VALUES(?, ?)", &s, err);
    for (size_t i = 0; st == CAF_OK && i < w->runs.count; i++) {
        sqlite3_bind_int(s, 1, w->runs.runs[i].exp);
        sqlite3_bind_int(s, 2, w->runs.runs[i].run);
        st = step_done(w, s, err);
    }
    sqlite3_finalize(s);
    if (st != CAF_OK)
        caf_error_prefix(err, "collector %s: writing the RunRange into %s: ", w->collector, w->path);
    if (st == CAF_OK)
        st = caf_collector_writer_flush(w, err);
    return st;
}

caf_status caf_collector_writer_commit(caf_collector_writer *w, caf_error *err)
{
    caf_status st = finish_content(w, err);
    writer_finalize(w);
    int rc = sqlite3_close(w->db);
    w->db = NULL;
    if (st == CAF_OK && rc != SQLITE_OK)
        st = output_sqlite_error(err, NULL, rc, "collector %s: closing %s", w->collector, w->path);
    if (st == CAF_OK) {
        int fd = open(w->temp_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            st = caf_error_errno(err, errno, "collector %s: syncing %s", w->collector, w->temp_path);
        if (fd >= 0)
            close(fd);
    }
    if (st == CAF_OK && rename(w->temp_path, w->path) != 0)
        st = caf_error_errno(err, errno, "collector %s: renaming %s to %s", w->collector, w->temp_path, w->path);
    if (st == CAF_OK) {
        char *dir = strdup(w->path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (dir) {
            if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
            st = caf_fsync_dir(slash ? dir : ".", err);
        }
        free(dir);
        free(w->temp_path);
        w->temp_path = NULL; /* renamed: nothing to remove */
    }
    caf_collector_writer_abort(w);
    return st;
}
