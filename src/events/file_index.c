/* File index: input files -> runs, from metadata alone. A production has up to 100,000 files; opening
 * each one at every start would cost minutes, so what was read is kept in an SQLite cache keyed by the
 * file's real path, size and modification time. An unchanged file is never opened again; a file whose
 * size or mtime changed is read afresh. */
#include "caf/file_index.h"
#include "caf/stat_cache.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* New files whose metadata is read (in child processes) per call of caf_event_files_check. */
#define FILE_INDEX_CHECK_BATCH 1024

typedef struct entry {
    caf_indexed_file pub;
    char *path;
    caf_run_count *runs;
} entry;

struct caf_file_index {
    sqlite3 *db;
    char *cache_path;
    sqlite3_stmt *lookup, *store;
    bool in_transaction;
    entry *entries;
    size_t n_entries, cap_entries;
    /* open-addressing set of entry indices + 1, keyed by path, so that adding 100,000 files stays linear */
    size_t *slots;
    size_t n_slots;
    caf_file_index_stats stats;
    /* the result of caf_file_index_runs */
    caf_run_files *runs;
    size_t n_runs;
    const caf_indexed_file **run_file_ptrs;
    /* paths matching it are skipped (caf_file_index_set_exclude) */
    regex_t exclude;
    bool has_exclude;
    char exclude_cwd[PATH_MAX]; /* relative paths are made absolute against it, read once */
    /* one line per file that could not be added, naming it */
    char **bad;
    size_t n_bad, cap_bad;
};

static uint64_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t *find_slot(caf_file_index *ix, const char *path)
{
    size_t mask = ix->n_slots - 1;
    for (size_t i = hash_path(path) & mask;; i = (i + 1) & mask)
        if (!ix->slots[i] || strcmp(ix->entries[ix->slots[i] - 1].path, path) == 0)
            return &ix->slots[i];
}

static bool grow_slots(caf_file_index *ix)
{
    size_t n = ix->n_slots ? ix->n_slots * 2 : 1024;
    size_t *old = ix->slots, old_n = ix->n_slots;
    ix->slots = calloc(n, sizeof *ix->slots);
    if (!ix->slots) {
        ix->slots = old;
        return false;
    }
    ix->n_slots = n;
    for (size_t i = 0; i < old_n; i++)
        if (old[i])
            *find_slot(ix, ix->entries[old[i] - 1].path) = old[i];
    free(old);
    return true;
}

static caf_status db_fail(caf_file_index *ix, caf_error *err, const char *what)
{
    return caf_error_set(err, CAF_ERR_IO, "%s: %s: %s", ix->cache_path, what, sqlite3_errmsg(ix->db));
}

caf_status caf_file_index_open(caf_file_index **out, const char *cache_path, caf_error *err)
{
    *out = NULL;
    caf_file_index *ix = calloc(1, sizeof *ix);
    if (!ix || !grow_slots(ix)) {
        free(ix);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *out = ix;
    if (!cache_path)
        return CAF_OK;
    ix->cache_path = strdup(cache_path);
    caf_status rc = CAF_OK;
    if (sqlite3_open_v2(cache_path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        rc = db_fail(ix, err, "cannot open file-index cache");
    else {
        sqlite3_busy_timeout(ix->db, 30000);
        const char *schema = "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                             "mtime_ns INTEGER NOT NULL, n_events INTEGER NOT NULL, runs TEXT NOT NULL)";
        if (sqlite3_exec(ix->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(ix->db, "SELECT size, mtime_ns, n_events, runs FROM files WHERE path = ?", -1,
                               &ix->lookup, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", -1, &ix->store,
                               NULL) != SQLITE_OK)
            rc = db_fail(ix, err, "cannot prepare file-index cache");
    }
    if (rc) {
        caf_file_index_close(ix);
        *out = NULL;
    }
    return rc;
}

static caf_status commit(caf_file_index *ix, caf_error *err)
{
    if (!ix->in_transaction)
        return CAF_OK;
    ix->in_transaction = false;
    if (sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(ix, err, "cannot commit file-index cache");
    return CAF_OK;
}

caf_status caf_file_index_set_exclude(caf_file_index *ix, const char *pattern, caf_error *err)
{
    regex_t compiled;
    if (pattern) {
        int rc = regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            regerror(rc, &compiled, why, sizeof why);
            return caf_error_set(err, CAF_ERR_INVALID, "bad file filter '%s': %s", pattern, why);
        }
    }
    if (ix->has_exclude)
        regfree(&ix->exclude);
    ix->has_exclude = pattern != NULL;
    if (pattern)
        ix->exclude = compiled;
    if (pattern && !getcwd(ix->exclude_cwd, sizeof ix->exclude_cwd))
        ix->exclude_cwd[0] = '\0'; /* no working folder: relative paths are matched as given */
    return CAF_OK;
}

/* True when path is to be skipped: the pattern is matched against the absolute path as basf2 matches
 * it, not the resolved one, so that a filter on a symlink's folder name works. */
static bool is_excluded(const caf_file_index *ix, const char *path)
{
    if (!ix->has_exclude)
        return false;
    if (path[0] == '/' || !ix->exclude_cwd[0])
        return regexec(&ix->exclude, path, 0, NULL, 0) == 0;
    char abs[2 * PATH_MAX];
    const char *rel = strncmp(path, "./", 2) == 0 ? path + 2 : path;
    snprintf(abs, sizeof abs, "%s/%s", ix->exclude_cwd, rel);
    return regexec(&ix->exclude, abs, 0, NULL, 0) == 0;
}

void caf_file_index_close(caf_file_index *ix)
{
    if (!ix)
        return;
    if (ix->db) {
        caf_error ignored;
        if (commit(ix, &ignored))
            fprintf(stderr, "caf: warning: %s\n", ignored.message);
        sqlite3_finalize(ix->lookup);
        sqlite3_finalize(ix->store);
        sqlite3_close(ix->db);
    }
    for (size_t i = 0; i < ix->n_entries; i++) {
        free(ix->entries[i].path);
        free(ix->entries[i].runs);
    }
    free(ix->entries);
    for (size_t i = 0; i < ix->n_bad; i++)
        free(ix->bad[i]);
    free(ix->bad);
    free(ix->slots);
    free(ix->runs);
    free(ix->run_file_ptrs);
    free(ix->cache_path);
    if (ix->has_exclude)
        regfree(&ix->exclude);
    free(ix);
}

/* Runs as JSON text [[exp, run, events], ...]: compact, and readable with the sqlite3 shell. */
static char *runs_to_text(const caf_run_count *runs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("[i, i, I]", runs[i].exp, runs[i].run, (json_int_t)runs[i].events));
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

static bool runs_from_text(const char *text, caf_run_count **runs, size_t *n)
{
    json_t *a = json_loads(text, 0, NULL);
    bool ok = json_is_array(a);
    size_t count = ok ? json_array_size(a) : 0;
    caf_run_count *out = ok ? calloc(count + 1, sizeof *out) : NULL;
    ok = ok && out;
    for (size_t i = 0; ok && i < count; i++) {
        json_int_t e, r, c;
        ok = json_unpack(json_array_get(a, i), "[I, I, I]", &e, &r, &c) == 0;
        out[i] = (caf_run_count){(int)e, (int)r, (int64_t)c};
    }
    json_decref(a);
    if (!ok) {
        free(out);
        return false;
    }
    *runs = out;
    *n = count;
    return true;
}

/* Looks the file up in the cache; true (and *runs etc. filled) on a hit with equal size and mtime. */
static bool cache_lookup(caf_file_index *ix, const char *path, int64_t size, int64_t mtime_ns, int64_t *n_events,
                         caf_run_count **runs, size_t *n_runs)
{
    if (!ix->db)
        return false;
    sqlite3_reset(ix->lookup);
    sqlite3_bind_text(ix->lookup, 1, path, -1, SQLITE_TRANSIENT);
    bool hit = false;
    if (sqlite3_step(ix->lookup) == SQLITE_ROW && sqlite3_column_int64(ix->lookup, 0) == size &&
        sqlite3_column_int64(ix->lookup, 1) == mtime_ns) {
        *n_events = sqlite3_column_int64(ix->lookup, 2);
        const char *text = (const char *)sqlite3_column_text(ix->lookup, 3);
        hit = text && runs_from_text(text, runs, n_runs);
    }
    sqlite3_reset(ix->lookup);
    return hit;
}

static caf_status cache_store(caf_file_index *ix, const caf_indexed_file *f, caf_error *err)
{
    if (!ix->db)
        return CAF_OK;
    if (!ix->in_transaction) {
        if (sqlite3_exec(ix->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return db_fail(ix, err, "cannot write file-index cache");
        ix->in_transaction = true;
    }
    char *text = runs_to_text(f->runs, f->n_runs);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    sqlite3_reset(ix->store);
    sqlite3_bind_text(ix->store, 1, f->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ix->store, 2, f->size);
    sqlite3_bind_int64(ix->store, 3, f->mtime_ns);
    sqlite3_bind_int64(ix->store, 4, f->n_events);
    sqlite3_bind_text(ix->store, 5, text, -1, SQLITE_TRANSIENT);
    int st = sqlite3_step(ix->store);
    sqlite3_reset(ix->store);
    free(text);
    if (st != SQLITE_DONE)
        return db_fail(ix, err, "cannot write file-index cache");
    return CAF_OK;
}

/* Appends e (its path and runs now owned by the index). */
static caf_status append_entry(caf_file_index *ix, entry e, caf_error *err)
{
    if (ix->n_entries == ix->cap_entries) {
        size_t cap = ix->cap_entries ? ix->cap_entries * 2 : 64;
        entry *grown = realloc(ix->entries, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        ix->entries = grown;
        ix->cap_entries = cap;
    }
    if (2 * (ix->n_entries + 1) > ix->n_slots && !grow_slots(ix))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    ix->entries[ix->n_entries++] = e;
    *find_slot(ix, e.path) = ix->n_entries;
    ix->stats.files++;
    return CAF_OK;
}

static caf_status note_bad(caf_file_index *ix, const char *message, caf_error *err)
{
    if (ix->n_bad == ix->cap_bad) {
        size_t cap = ix->cap_bad ? ix->cap_bad * 2 : 8;
        char **grown = realloc(ix->bad, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        ix->bad = grown;
        ix->cap_bad = cap;
    }
    if (!(ix->bad[ix->n_bad] = strdup(message)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    ix->n_bad++;
    return CAF_OK;
}

/* One line naming every bad file of this call: with their reasons when that fits, else their names. */
static caf_status bad_files_error(caf_file_index *ix, size_t first, caf_status first_code, const char *const *given,
                                  const size_t *bad_at, caf_error *err)
{
    size_t n = ix->n_bad - first;
    if (n == 1)
        return caf_error_set(err, first_code, "%s", ix->bad[first]);
    char line[CAF_ERROR_MESSAGE_MAX];
    size_t used = (size_t)snprintf(line, sizeof line, "%zu bad input files:", n);
    bool fits = true;
    for (size_t i = 0; i < n && fits; i++) {
        int w = snprintf(line + used, sizeof line - used, "%s %s", i ? ";" : "", ix->bad[first + i]);
        fits = w >= 0 && (size_t)w < sizeof line - used;
        used += fits ? (size_t)w : 0;
    }
    if (!fits) {
        used = (size_t)snprintf(line, sizeof line, "%zu bad input files (the first: %s):", n, ix->bad[first]);
        if (used >= sizeof line)
            used = (size_t)snprintf(line, sizeof line, "%zu bad input files:", n);
        for (size_t i = 0; i < n; i++) {
            int w = snprintf(line + used, sizeof line - used, "%s %s", i ? "," : "", given[bad_at[i]]);
            if (w < 0 || (size_t)w >= sizeof line - used - 24) {
                snprintf(line + used, sizeof line - used, " and %zu more", n - i);
                break;
            }
            used += (size_t)w;
        }
    }
    return caf_error_set(err, CAF_ERR_FORMAT, "%s", line);
}

/* The real path of the folder of the previous file: the files of one add call mostly share a folder, and
 * resolving it once instead of every path's components saves most of the system calls at 100,000 files. */
typedef struct real_folder {
    char given[PATH_MAX]; /* the folder as written in the path */
    char real[PATH_MAX];  /* realpath of it */
    bool valid;
    caf_stat_cache stats;
} real_folder;

/* realpath(path) into real and stat of it into *st; false with errno set when it cannot be resolved. A
 * path whose last component is a plain name that is no symbolic link resolves through its folder's cached
 * real path with one lookup; anything else (links, "." or "..") through realpath(3). */
static bool real_path_of(const char *path, real_folder *cache, char *real, struct stat *st)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dir_len = slash ? (size_t)(slash - path) : 0;
    bool plain = *base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0 && dir_len > 0 && dir_len < PATH_MAX;
    if (plain && !(cache->valid && strlen(cache->given) == dir_len && !strncmp(cache->given, path, dir_len))) {
        memcpy(cache->given, path, dir_len);
        cache->given[dir_len] = '\0';
        cache->valid = realpath(cache->given, cache->real) != NULL;
    }
    if (plain && cache->valid && caf_stat_cached(&cache->stats, path, st, false) == 0 && !S_ISLNK(st->st_mode)) {
        int w = snprintf(real, PATH_MAX, "%s/%s", strcmp(cache->real, "/") ? cache->real : "", base);
        if (w > 0 && w < PATH_MAX)
            return true;
    }
    return realpath(path, real) && stat(real, st) == 0;
}

/* A file of one add call: where it stands while the files missing from the cache are read. */
typedef struct pending {
    char *real;
    entry e;
    bool bad, duplicate, excluded, read;
} pending;

caf_status caf_file_index_add_files(caf_file_index *ix, const char *const *paths, size_t n, caf_error *err)
{
    pending *p = calloc(n ? n : 1, sizeof *p);
    const char **to_read = calloc(n ? n : 1, sizeof *to_read);
    size_t *read_at = calloc(n ? n : 1, sizeof *read_at), *bad_at = calloc(n ? n : 1, sizeof *bad_at);
    caf_event_file_meta *metas = NULL;
    caf_error *errs = NULL;
    size_t n_read = 0, first_bad = ix->n_bad, n_bad_here = 0;
    caf_status first_code = CAF_OK;
    caf_status rc = p && to_read && read_at && bad_at ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    real_folder folder = {0};
    /* One read transaction around the lookups: SQLite then locks and checks the file once, not per file. */
    bool reading = rc == CAF_OK && ix->db && !ix->in_transaction &&
                   sqlite3_exec(ix->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    /* 1. resolve, refuse what is not a regular file, answer from the cache where possible */
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        char real[PATH_MAX];
        struct stat st;
        caf_error why = {0};
        if (is_excluded(ix, paths[i])) {
            p[i].excluded = true;
            ix->stats.excluded++;
            continue;
        }
        if (!real_path_of(paths[i], &folder, real, &st))
            caf_error_errno(&why, errno, "%s", paths[i]);
        else if (!S_ISREG(st.st_mode))
            caf_event_file_check_regular(paths[i], &why);
        if (why.code) {
            first_code = first_code ? first_code : why.code;
            p[i].bad = true;
            bad_at[n_bad_here++] = i;
            rc = note_bad(ix, why.message, err);
            continue;
        }
        if (*find_slot(ix, real)) {
            p[i].duplicate = true;
            continue;
        }
        if (!(p[i].real = strdup(real))) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        p[i].e.pub.size = (int64_t)st.st_size;
        p[i].e.pub.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        size_t n_runs = 0;
        if (cache_lookup(ix, real, p[i].e.pub.size, p[i].e.pub.mtime_ns, &p[i].e.pub.n_events, &p[i].e.runs, &n_runs)) {
            p[i].e.pub.from_cache = true;
            p[i].e.pub.n_runs = n_runs;
        } else {
            p[i].read = true;
            read_at[n_read] = i;
            to_read[n_read++] = p[i].real;
        }
    }
    if (reading)
        sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL);
    caf_stat_cache_close(&folder.stats);
    /* 2. files caf has not seen: their metadata is read in child processes (HDF5 may crash on them), a
     * batch at a time, so that the answers (a whole error message each) take memory for one batch, not
     * for every new file of the campaign */
    size_t batch = n_read < FILE_INDEX_CHECK_BATCH ? n_read : FILE_INDEX_CHECK_BATCH;
    if (rc == CAF_OK && n_read) {
        metas = calloc(batch, sizeof *metas);
        errs = calloc(batch, sizeof *errs);
        if (!metas || !errs)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    for (size_t from = 0; rc == CAF_OK && from < n_read; from += batch) {
        size_t in_batch = n_read - from < batch ? n_read - from : batch;
        for (size_t k = 0; k < batch; k++) {
            caf_event_file_meta_free(&metas[k]);
            memset(&metas[k], 0, sizeof metas[k]);
            caf_error_clear(&errs[k]);
        }
        caf_event_files_check(to_read + from, in_batch, NULL, metas, errs);
        ix->stats.files_opened += in_batch;
        for (size_t b = 0; rc == CAF_OK && b < in_batch; b++) {
            size_t k = from + b;
            pending *f = &p[read_at[k]];
            if (errs[b].code) {
                first_code = first_code ? first_code : errs[b].code;
                f->bad = true;
                bad_at[n_bad_here++] = read_at[k];
                /* the child names the real path; name the file as the caller gave it */
                char message[CAF_ERROR_MESSAGE_MAX];
                size_t len = strlen(f->real);
                if (strncmp(errs[b].message, f->real, len) == 0)
                    snprintf(message, sizeof message, "%s%s", paths[read_at[k]], errs[b].message + len);
                else
                    snprintf(message, sizeof message, "%s", errs[b].message);
                rc = note_bad(ix, message, err);
                continue;
            }
            f->e.pub.n_events = metas[b].n_events;
            f->e.pub.n_runs = metas[b].n_runs;
            f->e.runs = metas[b].runs;
            metas[b].runs = NULL;
            metas[b].n_runs = 0;
        }
    }
    /* 3. in the order given: append and cache the good ones (a bad file is never cached) */
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        if (p[i].bad || p[i].duplicate || p[i].excluded || *find_slot(ix, p[i].real))
            continue;
        entry e = p[i].e;
        e.path = p[i].real;
        e.pub.path = e.path;
        e.pub.runs = e.runs;
        if (e.pub.from_cache)
            ix->stats.cache_hits++;
        else
            rc = cache_store(ix, &e.pub, err);
        if (rc == CAF_OK)
            rc = append_entry(ix, e, err);
        if (rc == CAF_OK)
            p[i].real = NULL, p[i].e.runs = NULL; /* now the index's */
    }
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].real);
        free(p[i].e.runs);
    }
    for (size_t k = 0; metas && k < batch; k++)
        caf_event_file_meta_free(&metas[k]);
    if (rc == CAF_OK && n_bad_here)
        rc = bad_files_error(ix, first_bad, first_code, paths, bad_at, err);
    free(p);
    free(to_read);
    free(read_at);
    free(bad_at);
    free(metas);
    free(errs);
    return rc;
}

caf_status caf_file_index_add(caf_file_index *ix, const char *path, caf_error *err)
{
    return caf_file_index_add_files(ix, &path, 1, err);
}

size_t caf_file_index_bad_count(const caf_file_index *ix)
{
    return ix->n_bad;
}

const char *caf_file_index_bad_message(const caf_file_index *ix, size_t i)
{
    return i < ix->n_bad ? ix->bad[i] : NULL;
}

static bool is_event_file_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 3 && strcmp(name + n - 3, ".h5") == 0) ||
                              (n > 5 && strcmp(name + n - 5, ".hdf5") == 0));
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

typedef struct path_list {
    char **items;
    size_t n, cap;
} path_list;

static caf_status collect_dir(const char *dir, path_list *out, caf_error *err)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, compare_names);
    if (n < 0)
        return caf_error_errno(err, errno, "%s", dir);
    caf_status rc = CAF_OK;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            size_t len = strlen(dir) + strlen(name) + 2;
            char *child = malloc(len);
            if (!child) {
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            } else {
                snprintf(child, len, "%s/%s", dir, name);
                struct stat st;
                if (stat(child, &st) == 0 && S_ISDIR(st.st_mode) && name[0] != '.') {
                    rc = collect_dir(child, out, err);
                } else if (stat(child, &st) == 0 && S_ISREG(st.st_mode) && is_event_file_name(name)) {
                    if (out->n == out->cap) {
                        size_t cap = out->cap ? out->cap * 2 : 256;
                        char **grown = realloc(out->items, cap * sizeof *grown);
                        if (!grown)
                            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                        else
                            out->items = grown, out->cap = cap;
                    }
                    if (!rc) {
                        out->items[out->n++] = child;
                        child = NULL;
                    }
                }
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

caf_status caf_file_index_add_dir(caf_file_index *ix, const char *dir, caf_error *err)
{
    path_list files = {0};
    caf_status rc = collect_dir(dir, &files, err);
    if (rc == CAF_OK)
        rc = caf_file_index_add_files(ix, (const char *const *)files.items, files.n, err);
    for (size_t i = 0; i < files.n; i++)
        free(files.items[i]);
    free(files.items);
    caf_error commit_err = {0};
    caf_status crc = commit(ix, &commit_err);
    if (!rc && crc) {
        if (err)
            *err = commit_err;
        rc = crc;
    }
    return rc;
}

caf_status caf_file_index_add_path(caf_file_index *ix, const char *path, caf_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return caf_file_index_add_dir(ix, path, err);
    return caf_file_index_add(ix, path, err);
}

size_t caf_file_index_count(const caf_file_index *ix)
{
    return ix->n_entries;
}

const caf_indexed_file *caf_file_index_file(const caf_file_index *ix, size_t i)
{
    return i < ix->n_entries ? &ix->entries[i].pub : NULL;
}

caf_file_index_stats caf_file_index_get_stats(const caf_file_index *ix)
{
    return ix->stats;
}

typedef struct run_ref {
    caf_exprun run;
    size_t file;
    int64_t events;
} run_ref;

static int compare_refs(const void *a, const void *b)
{
    const run_ref *x = a, *y = b;
    if (x->run.exp != y->run.exp)
        return x->run.exp < y->run.exp ? -1 : 1;
    if (x->run.run != y->run.run)
        return x->run.run < y->run.run ? -1 : 1;
    return x->file < y->file ? -1 : x->file > y->file;
}

caf_status caf_file_index_runs(caf_file_index *ix, const caf_run_files **runs, size_t *n_runs, caf_error *err)
{
    caf_status rc = commit(ix, err);
    if (rc)
        return rc;
    free(ix->runs);
    free(ix->run_file_ptrs);
    ix->runs = NULL;
    ix->run_file_ptrs = NULL;
    ix->n_runs = 0;
    size_t total = 0;
    for (size_t i = 0; i < ix->n_entries; i++)
        total += ix->entries[i].pub.n_runs;
    run_ref *refs = malloc((total + 1) * sizeof *refs);
    ix->run_file_ptrs = malloc((total + 1) * sizeof *ix->run_file_ptrs);
    ix->runs = malloc((total + 1) * sizeof *ix->runs);
    if (!refs || !ix->run_file_ptrs || !ix->runs) {
        free(refs);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < ix->n_entries; i++)
        for (size_t r = 0; r < ix->entries[i].pub.n_runs; r++) {
            const caf_run_count *rc_ = &ix->entries[i].pub.runs[r];
            refs[k++] = (run_ref){{rc_->exp, rc_->run}, i, rc_->events};
        }
    qsort(refs, total, sizeof *refs, compare_refs);
    for (size_t i = 0; i < total; i++) {
        ix->run_file_ptrs[i] = &ix->entries[refs[i].file].pub;
        caf_run_files *last = ix->n_runs ? &ix->runs[ix->n_runs - 1] : NULL;
        if (last && last->run.exp == refs[i].run.exp && last->run.run == refs[i].run.run) {
            last->n_files++;
            last->events += refs[i].events;
        } else {
            ix->runs[ix->n_runs++] = (caf_run_files){refs[i].run, refs[i].events, &ix->run_file_ptrs[i], 1};
        }
    }
    free(refs);
    *runs = ix->runs;
    *n_runs = ix->n_runs;
    return CAF_OK;
}

json_t *caf_file_index_to_json(caf_file_index *ix)
{
    const caf_run_files *runs;
    size_t n_runs;
    if (caf_file_index_runs(ix, &runs, &n_runs, NULL))
        return NULL;
    json_t *files = json_array(), *jruns = json_array();
    for (size_t i = 0; i < ix->n_entries; i++) {
        const caf_indexed_file *f = &ix->entries[i].pub;
        json_t *fr = json_array();
        for (size_t r = 0; r < f->n_runs; r++)
            json_array_append_new(fr, json_pack("{s:i, s:i, s:I}", "exp", f->runs[r].exp, "run", f->runs[r].run,
                                                "events", (json_int_t)f->runs[r].events));
        json_array_append_new(files, json_pack("{s:s, s:I, s:I, s:I, s:o, s:b}", "path", f->path, "size",
                                               (json_int_t)f->size, "mtime_ns", (json_int_t)f->mtime_ns, "n_events",
                                               (json_int_t)f->n_events, "runs", fr, "from_cache", f->from_cache));
    }
    for (size_t r = 0; r < n_runs; r++) {
        json_t *paths = json_array();
        for (size_t i = 0; i < runs[r].n_files; i++)
            json_array_append_new(paths, json_string(runs[r].files[i]->path));
        json_array_append_new(jruns, json_pack("{s:i, s:i, s:I, s:o}", "exp", runs[r].run.exp, "run", runs[r].run.run,
                                               "events", (json_int_t)runs[r].events, "files", paths));
    }
    return json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "files", files, "runs", jruns, "stats", "files",
                     (json_int_t)ix->stats.files, "cache_hits", (json_int_t)ix->stats.cache_hits, "files_opened",
                     (json_int_t)ix->stats.files_opened, "excluded", (json_int_t)ix->stats.excluded);
}
