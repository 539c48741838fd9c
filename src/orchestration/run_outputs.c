/* What a CAF run leaves at the end: the merged database of every completed calibration and the summary.
 * Also the payload copy that commits an execution's payloads: repeated after a crash between the commit
 * and its record, it finds the database already ending with those lines and adds nothing. And the sweep
 * of temporary files that killed or crashed writers left in the output folder, run when caf run starts. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "caf/log.h"
#include "caf/temp_file.h"
#include "caf/wrapper_script.h"
#include "orchestration/run_internal.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void run_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool same_line(const caf_db_entry *a, const caf_db_entry *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->revision, b->revision) && caf_iov_equal(a->iov, b->iov);
}

/* True when dst already ends with src's lines: the copy was done, and its record was lost. */
static bool ends_with(const caf_localdb *dst, const caf_localdb *src)
{
    size_t n = caf_localdb_entry_count(src), m = caf_localdb_entry_count(dst);
    if (n == 0 || m < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!same_line(caf_localdb_entry(dst, m - n + i), caf_localdb_entry(src, i)))
            return false;
    return true;
}

/* The lineage record of a commit found already done (a crash between it and the state's record of it):
 * written again, durably, only when its file is missing (a commit made before the journal existed). */
static caf_status ensure_record(const caf_localdb *out, const char *record_file, const json_t *record, caf_error *err)
{
    char *dir = caf_path_join(caf_localdb_dir(out), CAF_LINEAGE_DIR), *path = dir ? caf_path_join(dir, record_file) : NULL;
    caf_status rc = path ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && !caf_path_exists(path)) {
        rc = caf_mkdir_p(dir, err);
        if (rc == CAF_OK)
            rc = caf_json_save_file(path, record, err);
    }
    free(path);
    free(dir);
    return rc;
}

/* Copies src's lines into the open database out; staged: src is a staging database, each file checked;
 * record_file and record (or NULL): the lineage record committed with them. */
static caf_status copy_into(const char *src, caf_localdb *out, bool once, bool staged, const char *record_file,
                            json_t *record, caf_error *err)
{
    char *text = NULL;
    if (asprintf(&text, "%s/%s", src, CAF_LOCALDB_TEXT_FILE) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    bool exists = access(text, F_OK) == 0;
    free(text);
    if (!exists) /* the execution saved no payload */
        return CAF_OK;
    caf_localdb *in = NULL;
    caf_db_commit *commit = NULL;
    /* out holds every line: it was opened fresh or its handle made every commit since (the commit
     * itself reads, under the lock, whatever another writer appended) */
    caf_status rc = caf_localdb_open(src, 0, &in, err);
    bool done = rc == CAF_OK && once && ends_with(out, in);
    if (done && record)
        rc = ensure_record(out, record_file, record, err);
    if (rc == CAF_OK && !done)
        rc = caf_db_commit_begin(out, &commit, err);
    if (rc == CAF_OK && commit && record)
        rc = caf_db_commit_set_lineage(commit, record_file, record, err);
    size_t added = 0;
    for (size_t i = 0; rc == CAF_OK && commit && i < caf_localdb_entry_count(in); i++) {
        const caf_db_entry *e = caf_localdb_entry(in, i);
        char *file = caf_localdb_payload_path(in, e, err);
        if (!file)
            rc = err ? err->code : CAF_ERR_IO;
        else if (staged)
            rc = caf_db_commit_add_staged_file(commit, e->name, file, e->iov, e->revision, err);
        else
            rc = caf_db_commit_add_file(commit, e->name, file, e->iov, err);
        free(file);
        added++;
    }
    if (rc == CAF_OK && added > 0)
        rc = caf_db_commit_finish(commit, err);
    else
        caf_db_commit_abort(commit);
    caf_localdb_close(in);
    return rc;
}

caf_status run_db_copy_payloads(const char *src, const char *dst, bool once, caf_error *err)
{
    caf_localdb *out = NULL;
    caf_status rc = caf_localdb_open(dst, CAF_LOCALDB_CREATE, &out, err);
    if (rc == CAF_OK)
        rc = copy_into(src, out, once, false, NULL, NULL, err);
    caf_localdb_close(out);
    return rc;
}

caf_status run_db_copy_staged(const char *src, caf_localdb *dst, caf_error *err)
{
    return copy_into(src, dst, true, true, NULL, NULL, err);
}

caf_status run_db_copy_staged_with_lineage(const char *src, caf_localdb *dst, const char *record_file, json_t *record,
                                           caf_error *err)
{
    return copy_into(src, dst, true, true, record_file, record, err);
}

static json_t *iov_list(const char *database, size_t *payloads)
{
    json_t *list = json_array();
    caf_localdb *db = NULL;
    if (caf_localdb_open(database, 0, &db, NULL) != CAF_OK)
        return list;
    *payloads = caf_localdb_entry_count(db);
    for (size_t i = 0; i < caf_localdb_entry_count(db); i++) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        char iov[96];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", e->name, "revision", e->revision, "iov",
                                              caf_iov_format(e->iov, iov, sizeof iov)));
    }
    caf_localdb_close(db);
    return list;
}

/* Makes the rebuilt folder durable before it is renamed into place: one syncfs for all its files, then its
 * folders, instead of two fsyncs per payload and per lineage record (20,000 at 10,000 executions). */
static caf_status sync_rebuilt(const char *tmp, caf_error *err)
{
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s", tmp);
    caf_status rc = syncfs(fd) == 0 ? CAF_OK : caf_error_errno(err, errno, "%s: syncfs", tmp);
    close(fd);
    char *lineage = caf_path_join(tmp, CAF_LINEAGE_DIR);
    if (rc == CAF_OK && lineage && caf_path_exists(lineage))
        rc = caf_fsync_dir(lineage, err);
    free(lineage);
    return rc == CAF_OK ? caf_fsync_dir(tmp, err) : rc;
}

caf_status run_db_rebuild(const char *dir, const char *const *sources, size_t count, caf_error *err)
{
    char *final = NULL, *tmp = NULL, *old = NULL;
    if (asprintf(&final, "%s/database", dir) < 0 || asprintf(&tmp, "%s/.database.tmp", dir) < 0 ||
        asprintf(&old, "%s/.database.old", dir) < 0) {
        free(final), free(tmp);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    /* Leftovers of an interrupted rebuild go first. */
    run_remove_tree(tmp);
    run_remove_tree(old);
    caf_localdb *out = NULL;
    caf_status rc = caf_localdb_open(tmp, CAF_LOCALDB_CREATE | CAF_LOCALDB_STAGING, &out, err);
    for (size_t k = 0; rc == CAF_OK && k < count; k++) {
        rc = copy_into(sources[k], out, false, false, NULL, NULL, err);
        if (rc == CAF_OK) /* every payload keeps its lineage in the merged database */
            rc = caf_lineage_copy_with(sources[k], tmp, CAF_ATOMIC_SYNC_NONE, err);
    }
    caf_localdb_close(out);
    if (rc == CAF_OK)
        rc = sync_rebuilt(tmp, err);
    if (rc == CAF_OK) {
        rename(final, old);
        if (rename(tmp, final) != 0)
            rc = caf_error_errno(err, errno, "%s: cannot rename into place", final);
        else
            rc = caf_fsync_dir(dir, err);
    }
    run_remove_tree(old); /* the previous database, now aside */
    free(final);
    free(tmp);
    free(old);
    return rc;
}

/* The merged database of every completed calibration whose payloads are saved, in dependency order. */
static caf_status write_final_database(run_loop *loop, const size_t *order, caf_error *err)
{
    char **sources = calloc(loop->count ? loop->count : 1, sizeof *sources);
    size_t n = 0;
    caf_status rc = sources ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; rc == CAF_OK && k < loop->count; k++) {
        run_cal *c = &loop->cals[order[k]];
        if (strcmp(run_cal_state(c), "completed") != 0 || !c->cfg->save_payloads)
            continue; /* save_payloads: false: its payloads fed its dependents, they stay out of the result */
        if (!(sources[n++] = run_cal_database(c, c->cm.iteration)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (rc == CAF_OK)
        rc = run_db_rebuild(loop->dir, (const char *const *)sources, n, err);
    for (size_t k = 0; k < n; k++)
        free(sources[k]);
    free(sources);
    return rc;
}

static json_t *calibration_summary(run_loop *loop, run_cal *c)
{
    json_t *algs = json_array();
    sqlite3_stmt *st = run_db_prepare(loop->db, NULL,
                                      "SELECT plugin, outcome, reason FROM algorithms WHERE calibration = ? "
                                      "AND iteration = ? ORDER BY algorithm", "ti", c->cfg->name, c->cm.iteration);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(algs, json_pack("{s:s, s:s, s:s}", "plugin", sqlite3_column_text(st, 0), "outcome",
                                              sqlite3_column_text(st, 1), "reason",
                                              sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2)
                                                                         : ""));
    sqlite3_finalize(st);
    char *db = run_cal_database(c, c->cm.iteration);
    size_t payloads = 0;
    json_t *iovs = db ? iov_list(db, &payloads) : json_array();
    json_t *out = json_pack("{s:s, s:s, s:i, s:s, s:s?, s:o, s:o, s:b}", "name", c->cfg->name, "state",
                            run_cal_state(c), "iterations", c->cm.iteration + 1, "reason", c->reason, "database", db,
                            "algorithms", algs, "payloads", iovs, "saved", c->cfg->save_payloads);
    free(db);
    return out;
}

caf_status run_write_outputs(run_loop *loop, caf_error *err)
{
    size_t *order = calloc(loop->count ? loop->count : 1, sizeof *order);
    if (!order)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_campaign_order(loop->campaign, order, err);
    if (rc == CAF_OK)
        rc = write_final_database(loop, order, err);
    json_t *cals = json_array();
    size_t completed = 0;
    for (size_t k = 0; rc == CAF_OK && k < loop->count; k++) {
        run_cal *c = &loop->cals[order[k]];
        completed += !strcmp(run_cal_state(c), "completed");
        json_array_append_new(cals, calibration_summary(loop, c));
    }
    char *json_path = NULL, *text_path = NULL, *database = NULL;
    if (rc == CAF_OK && (asprintf(&json_path, "%s/summary.json", loop->dir) < 0 ||
                         asprintf(&text_path, "%s/summary.txt", loop->dir) < 0 ||
                         asprintf(&database, "%s/database", loop->dir) < 0))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    json_t *summary = json_pack("{s:s, s:I, s:I, s:s, s:O}", "output_dir", loop->dir, "calibrations_completed",
                                (json_int_t)completed, "calibrations", (json_int_t)loop->count, "database",
                                database ? database : "", "results", cals);
    if (rc == CAF_OK)
        rc = caf_json_save_file(json_path, summary, err);
    if (rc == CAF_OK) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (f) {
            fprintf(f, "%zu of %zu calibrations completed; database: %s\n", completed, loop->count, database);
            size_t i;
            json_t *cal;
            json_array_foreach(cals, i, cal) {
                fprintf(f, "%s: %s after %d iteration(s)%s%s%s\n", json_string_value(json_object_get(cal, "name")),
                        json_string_value(json_object_get(cal, "state")),
                        (int)json_integer_value(json_object_get(cal, "iterations")),
                        json_is_false(json_object_get(cal, "saved")) ? " (save_payloads: false, not in the database)"
                                                                     : "",
                        *json_string_value(json_object_get(cal, "reason")) ? ": " : "",
                        json_string_value(json_object_get(cal, "reason")));
                size_t j;
                json_t *p;
                json_array_foreach(json_object_get(cal, "payloads"), j, p)
                    fprintf(f, "  %s rev %s IoV %s\n", json_string_value(json_object_get(p, "name")),
                            json_string_value(json_object_get(p, "revision")),
                            json_string_value(json_object_get(p, "iov")));
            }
            fclose(f);
            rc = caf_file_write_atomic(text_path, text, size, err);
        }
        free(text);
    }
    json_decref(summary);
    json_decref(cals);
    free(json_path);
    free(text_path);
    free(database);
    free(order);
    return rc;
}

/* True when folder is a subjob folder whose wrapper lock nobody holds: no copy of the subjob runs, so
 * whatever temporary file is in it, whoever wrote it, is stale. */
static bool idle_subjob_folder(const char *folder)
{
    char *lock = caf_path_join(folder, CAF_SUBJOB_LOCK_FILE);
    int fd = lock ? open(lock, O_RDONLY | O_CLOEXEC) : -1;
    free(lock);
    if (fd < 0)
        return false;
    int rc;
    while ((rc = flock(fd, LOCK_SH | LOCK_NB)) != 0 && errno == EINTR)
        ;
    close(fd);
    return rc == 0;
}

static void sweep_found(const char *path, caf_temp_writer writer, bool removed, void *userdata)
{
    size_t *count = userdata;
    if (removed) {
        (*count)++;
        caf_debug("removed %s (its writer has ended)", path);
        return;
    }
    if (writer != CAF_TEMP_WRITER_UNKNOWN)
        return;
    char *folder = strdup(path);
    char *slash = folder ? strrchr(folder, '/') : NULL;
    if (slash) {
        *slash = '\0';
        if (idle_subjob_folder(folder) && unlink(path) == 0) {
            (*count)++;
            caf_debug("removed %s (no copy of its subjob runs)", path);
        }
    }
    free(folder);
}

void run_sweep_temporaries(const char *dir)
{
    size_t removed = 0;
    caf_error err = {0};
    if (caf_temp_sweep(dir, CAF_TEMP_SWEEP_RECURSIVE, sweep_found, &removed, NULL, &err) != CAF_OK)
        caf_warning("cannot look for temporary files left in %s: %s", dir, err.message);
    else if (removed)
        caf_info("removed %zu temporary file%s that killed or crashed writers left in %s", removed,
                 removed == 1 ? "" : "s", dir);
}
