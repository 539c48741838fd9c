/* Reading and copying payload lineage records (caf/lineage.h). The records are written by the run loop
 * (src/orchestration/run_lineage.c); here they are found for a payload and copied with it. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/dbchain.h"
#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_record_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

/* The record file names of a database's lineage folder, sorted (NULL-terminated, malloc'd); *missing when
 * the folder does not exist. */
static caf_status record_names(const char *lineage_dir, char ***out, bool *missing, caf_error *err)
{
    *out = NULL;
    *missing = false;
    DIR *d = opendir(lineage_dir);
    if (!d) {
        if (errno == ENOENT) {
            *missing = true;
            return CAF_OK;
        }
        return caf_error_errno(err, errno, "%s: cannot list", lineage_dir);
    }
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    caf_status rc = names ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    struct dirent *e;
    while (rc == CAF_OK && (e = readdir(d)) != NULL) {
        if (!is_record_name(e->d_name))
            continue;
        if (n + 1 >= cap) {
            char **grown = realloc(names, (cap *= 2) * sizeof *grown);
            if (!grown) {
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (names)
        names[n] = NULL;
    if (rc == CAF_OK)
        qsort(names, n, sizeof *names, compare_names);
    *out = names;
    return rc;
}

static void free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

caf_status caf_lineage_copy(const char *src_db, const char *dst_db, caf_error *err)
{
    return caf_lineage_copy_with(src_db, dst_db, CAF_ATOMIC_SYNC_ALL, err);
}

caf_status caf_lineage_copy_with(const char *src_db, const char *dst_db, enum caf_atomic_sync sync, caf_error *err)
{
    char *src = caf_path_join(src_db, CAF_LINEAGE_DIR), *dst = caf_path_join(dst_db, CAF_LINEAGE_DIR);
    char **names = NULL;
    bool missing = false;
    caf_status rc = src && dst ? record_names(src, &names, &missing, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && !missing && names[0])
        rc = caf_mkdir_p(dst, err);
    for (size_t i = 0; rc == CAF_OK && !missing && names[i]; i++) {
        char *from = caf_path_join(src, names[i]), *to = caf_path_join(dst, names[i]);
        rc = from && to ? caf_file_copy_atomic_with(from, to, sync, err)
                        : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(from);
        free(to);
    }
    free_names(names);
    free(src);
    free(dst);
    return rc;
}

/* The database folder of path: path itself when it holds database.txt, else path/database (a caf output
 * folder); NULL with err set when neither. */
static char *database_of(const char *path, caf_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        caf_error_errno(err, errno, "%s", path);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        caf_error_set(err, CAF_ERR_INVALID, "%s: not a caf output folder or conditions database (not a folder)", path);
        return NULL;
    }
    char *text = caf_path_join(path, CAF_LOCALDB_TEXT_FILE);
    bool direct = text && access(text, F_OK) == 0;
    free(text);
    if (direct)
        return strdup(path);
    char *db = caf_path_join(path, "database");
    text = db ? caf_path_join(db, CAF_LOCALDB_TEXT_FILE) : NULL;
    bool output = text && access(text, F_OK) == 0;
    free(text);
    if (output)
        return db;
    free(db);
    caf_error_set(err, CAF_ERR_INVALID,
                  "%s: not a caf output folder or conditions database (no database.txt, no database/database.txt)",
                  path);
    return NULL;
}

static bool iov_is(const json_t *a, caf_iov iov)
{
    return json_array_size(a) == 4 && json_integer_value(json_array_get(a, 0)) == iov.exp_low &&
           json_integer_value(json_array_get(a, 1)) == iov.run_low &&
           json_integer_value(json_array_get(a, 2)) == iov.exp_high &&
           json_integer_value(json_array_get(a, 3)) == iov.run_high;
}

/* True when the record lists the entry's payload: same name and IoV, content whose MD5 starts with the
 * revision. */
static bool explains(const json_t *record, const caf_db_entry *e)
{
    size_t i;
    json_t *p;
    size_t rev = strlen(e->revision);
    json_array_foreach(json_object_get(record, "payloads"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *md5 = json_string_value(json_object_get(p, "md5"));
        if (name && md5 && !strcmp(name, e->name) && iov_is(json_object_get(p, "iov"), e->iov) &&
            strlen(md5) >= rev && !strncmp(md5, e->revision, rev))
            return true;
    }
    return false;
}

/* Marks the record's input files whose size or modification time changed since it was written. */
static void mark_changed_inputs(json_t *record)
{
    size_t i, j;
    json_t *job, *f;
    json_array_foreach(json_object_get(record, "collector_jobs"), i, job) {
        json_array_foreach(json_object_get(job, "input_files"), j, f) {
            const char *path = json_string_value(json_object_get(f, "path"));
            struct stat st;
            if (!path || json_is_true(json_object_get(f, "missing")))
                continue;
            bool same = stat(path, &st) == 0 && json_integer_value(json_object_get(f, "size")) == st.st_size &&
                        json_integer_value(json_object_get(f, "mtime_ns")) ==
                            (json_int_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            if (!same)
                json_object_set_new(f, "changed", json_true());
        }
    }
}

/* Finds the record explaining e among the database's records (the first in name order). */
static caf_status find_record(const char *db_dir, const caf_db_entry *e, json_t **record, char **record_path,
                              caf_error *err)
{
    char *dir = caf_path_join(db_dir, CAF_LINEAGE_DIR), **names = NULL;
    bool missing = false;
    char iov[CAF_IOV_TEXT_MAX];
    caf_iov_format(e->iov, iov, sizeof iov);
    caf_status rc = dir ? record_names(dir, &names, &missing, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *record = NULL;
    *record_path = NULL;
    if (rc == CAF_OK && missing)
        rc = caf_error_set(err, CAF_ERR_NOT_FOUND,
                           "%s: no lineage records (no %s/ folder): the database was not written by caf run, or by "
                           "a caf older than lineage records",
                           db_dir, CAF_LINEAGE_DIR);
    char unreadable[512] = "";
    for (size_t i = 0; rc == CAF_OK && names[i] && !*record; i++) {
        char *path = caf_path_join(dir, names[i]);
        json_t *r = NULL;
        caf_error load_err = {0};
        if (!path)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else if (caf_json_load_file(path, &r, &load_err) != CAF_OK || !json_is_object(r)) {
            if (!unreadable[0])
                snprintf(unreadable, sizeof unreadable, "; %s could not be read: %s", path,
                         load_err.message[0] ? load_err.message : "not a JSON object");
        } else if (explains(r, e)) {
            *record = r;
            *record_path = path;
            path = NULL;
            r = NULL;
        }
        json_decref(r);
        free(path);
    }
    if (rc == CAF_OK && !*record)
        rc = caf_error_set(err, CAF_ERR_NOT_FOUND,
                           "%s/%s: no lineage record explains %s revision %s IoV %s (added by caf db add, or by a caf "
                           "older than lineage records)%s",
                           db_dir, CAF_LINEAGE_DIR, e->name, e->revision, iov, unreadable);
    free_names(names);
    free(dir);
    return rc;
}

caf_status caf_lineage_why(const char *path, const char *name, caf_exprun run, json_t **answer, caf_error *err)
{
    *answer = NULL;
    caf_status rc = caf_payload_name_check(name, err);
    if (rc != CAF_OK)
        return rc;
    char *db_dir = database_of(path, err);
    if (!db_dir)
        return err ? err->code : CAF_ERR_INVALID;
    caf_localdb *db = NULL;
    rc = caf_localdb_open(db_dir, 0, &db, err);
    const caf_db_entry *e = rc == CAF_OK ? caf_localdb_find(db, name, run) : NULL;
    if (rc == CAF_OK && !e)
        rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no payload '%s' covers run %d.%d", db_dir, name, run.exp,
                           run.run);
    json_t *record = NULL;
    char *record_path = NULL, *file = NULL;
    if (rc == CAF_OK)
        rc = find_record(db_dir, e, &record, &record_path, err);
    if (rc == CAF_OK && !(file = caf_localdb_payload_path(db, e, err)))
        rc = err ? err->code : CAF_ERR_IO;
    if (rc == CAF_OK) {
        mark_changed_inputs(record);
        *answer = json_pack("{s:s, s:[ii], s:{s:s, s:s, s:[iiii], s:s}, s:s, s:o}", "database", db_dir, "run",
                            run.exp, run.run, "payload", "name", e->name, "revision", e->revision, "iov",
                            e->iov.exp_low, e->iov.run_low, e->iov.exp_high, e->iov.run_high, "file", file,
                            "record", record_path, "lineage", record);
        record = NULL;
        if (!*answer)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    json_decref(record);
    free(record_path);
    free(file);
    caf_localdb_close(db);
    free(db_dir);
    return rc;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

static void print_runs(FILE *out, const json_t *runs)
{
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
        fprintf(out, "%s%lld.%lld", i ? ", " : "", (long long)json_integer_value(json_array_get(r, 0)),
                (long long)json_integer_value(json_array_get(r, 1)));
}

static void print_iov(FILE *out, const json_t *iov)
{
    fprintf(out, "%lld,%lld,%lld,%lld", (long long)json_integer_value(json_array_get(iov, 0)),
            (long long)json_integer_value(json_array_get(iov, 1)), (long long)json_integer_value(json_array_get(iov, 2)),
            (long long)json_integer_value(json_array_get(iov, 3)));
}

void caf_lineage_print(FILE *out, const json_t *answer)
{
    const json_t *p = json_object_get(answer, "payload"), *l = json_object_get(answer, "lineage");
    const json_t *alg = json_object_get(l, "algorithm"), *ex = json_object_get(l, "execution");
    const json_t *run = json_object_get(answer, "run");
    fprintf(out, "run %lld.%lld gets %s revision %s, IoV ", (long long)json_integer_value(json_array_get(run, 0)),
            (long long)json_integer_value(json_array_get(run, 1)), str(p, "name"), str(p, "revision"));
    print_iov(out, json_object_get(p, "iov"));
    fprintf(out, "\n  payload file:   %s\n", str(p, "file"));
    fprintf(out, "  written by:     calibration %s, iteration %lld, algorithm %lld %s (strategy %s)\n",
            str(l, "calibration"), (long long)json_integer_value(json_object_get(l, "iteration")),
            (long long)json_integer_value(json_object_get(alg, "index")), str(alg, "plugin"), str(alg, "strategy"));
    fprintf(out, "  execution %lld:    runs ", (long long)json_integer_value(json_object_get(ex, "index")));
    print_runs(out, json_object_get(ex, "runs"));
    fprintf(out, "; IoV ");
    print_iov(out, json_object_get(ex, "iov"));
    fprintf(out, "; result %s", str(ex, "result"));
    const char *message = json_string_value(json_object_get(ex, "message"));
    fprintf(out, "%s%s\n", message && *message ? "; message: " : "", message && *message ? message : "");
    char *params = caf_json_dump_compact(json_object_get(alg, "parameters"));
    fprintf(out, "  parameters:     %s\n", params ? params : "{}");
    free(params);
    const char *md5 = json_string_value(json_object_get(alg, "plugin_md5"));
    fprintf(out, "  plugin file:    %s%s%s%s\n", str(alg, "plugin_file"), md5 ? " (MD5 " : "", md5 ? md5 : "",
            md5 ? ")" : "");
    size_t i, j;
    json_t *d, *job, *f;
    json_array_foreach(json_object_get(l, "database_chain"), i, d) {
        char *described = caf_dbchain_entry_describe(str(d, "database"));
        fprintf(out, "  %s %s (%s)\n", i ? "               " : "database chain:",
                described ? described : str(d, "database"), str(d, "source"));
        free(described);
    }
    fprintf(out, "  collector jobs: %zu\n", json_array_size(json_object_get(l, "collector_jobs")));
    json_array_foreach(json_object_get(l, "collector_jobs"), i, job) {
        fprintf(out, "    %s subjob %lld (collection %s, %s, attempt %lld, %s), runs ", str(job, "job"),
                (long long)json_integer_value(json_object_get(job, "subjob")), str(job, "collection"),
                str(job, "collector"), (long long)json_integer_value(json_object_get(job, "attempt")),
                str(job, "status"));
        print_runs(out, json_object_get(job, "runs"));
        fputc('\n', out);
        json_array_foreach(json_object_get(job, "input_files"), j, f) {
            if (json_is_true(json_object_get(f, "missing")))
                fprintf(out, "      %s (missing when the payload was written)\n", str(f, "path"));
            else
                fprintf(out, "      %s  %lld bytes, modified %s%s\n", str(f, "path"),
                        (long long)json_integer_value(json_object_get(f, "size")), str(f, "mtime"),
                        json_is_true(json_object_get(f, "changed")) ? "  CHANGED SINCE" : "");
        }
    }
    fprintf(out, "  caf version:    %s (record written %s)\n  record:         %s\n", str(l, "caf_version"),
            str(l, "written"), str(answer, "record"));
}
