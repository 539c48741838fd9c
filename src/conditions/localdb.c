/* Reading a local database: database.txt into entries, lookups by (name, run), payload files by prefix. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "conditions/localdb_internal.h"

void localdb_free_entries(caf_db_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        caf_db_entry_clear(&entries[i]);
    free(entries);
}

caf_status localdb_parse_text(const char *path, const char *text, caf_db_entry **entries, size_t *count,
                              caf_error *err)
{
    *entries = NULL;
    *count = 0;
    size_t capacity = 0;
    caf_db_entry *list = NULL;
    size_t n = 0;
    int line_no = 0;
    const char *p = text;
    while (*p) {
        line_no++;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *line = strndup(p, len);
        if (!line) {
            localdb_free_entries(list, n);
            return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
        }
        caf_db_entry entry;
        bool is_entry;
        caf_status rc = caf_db_line_parse(line, &entry, &is_entry, err);
        free(line);
        if (rc != CAF_OK) {
            localdb_free_entries(list, n);
            return caf_error_prefix(err, "%s:%d: ", path, line_no);
        }
        if (is_entry) {
            if (n == capacity) {
                capacity = capacity ? capacity * 2 : 16;
                caf_db_entry *bigger = realloc(list, capacity * sizeof *list);
                if (!bigger) {
                    caf_db_entry_clear(&entry);
                    localdb_free_entries(list, n);
                    return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
                }
                list = bigger;
            }
            entry.line = line_no;
            list[n++] = entry;
        }
        p = end ? end + 1 : p + len;
    }
    *entries = list;
    *count = n;
    return CAF_OK;
}

/* Accepts a folder, or a path to a database.txt inside one. */
static char *database_dir_of(const char *path)
{
    size_t n = strlen(path);
    size_t suffix = strlen(CAF_LOCALDB_TEXT_FILE);
    if (n >= suffix && strcmp(path + n - suffix, CAF_LOCALDB_TEXT_FILE) == 0 && !caf_path_is_dir(path)) {
        if (n == suffix)
            return strdup(".");
        if (path[n - suffix - 1] == '/')
            return strndup(path, n - suffix - 1 ? n - suffix - 1 : 1);
    }
    return strdup(path);
}

caf_status caf_localdb_reload(caf_localdb *db, caf_error *err)
{
    char *text = NULL;
    size_t size = 0;
    caf_status rc = caf_file_read(db->text_path, &text, &size, err);
    if (rc != CAF_OK)
        return rc;
    if (memchr(text, '\0', size)) {
        free(text);
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: contains NUL bytes; not a database.txt", db->text_path);
    }
    caf_db_entry *entries;
    size_t count;
    rc = localdb_parse_text(db->text_path, text, &entries, &count, err);
    free(text);
    if (rc != CAF_OK)
        return rc;
    localdb_index *index;
    rc = localdb_index_build(entries, count, &index, err);
    if (rc != CAF_OK) {
        localdb_free_entries(entries, count);
        return caf_error_prefix(err, "%s: ", db->text_path);
    }
    localdb_free_entries(db->entries, db->count);
    localdb_index_free(db->index);
    db->entries = entries;
    db->count = count;
    db->index = index;
    localdb_forget_listing(db);
    return CAF_OK;
}

caf_status localdb_new_handle(const char *path, caf_localdb **out, caf_error *err)
{
    *out = NULL;
    caf_localdb *db = calloc(1, sizeof *db);
    if (!db)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
    db->dir = database_dir_of(path);
    db->text_path = db->dir ? caf_path_join(db->dir, CAF_LOCALDB_TEXT_FILE) : NULL;
    db->lock_path = db->dir ? caf_path_join(db->dir, ".database.txt.lock") : NULL;
    if (!db->dir || !db->text_path || !db->lock_path) {
        caf_localdb_close(db);
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
    }
    *out = db;
    return CAF_OK;
}

/* Creates the folder and an empty database.txt under the lock, so that two creators do not race. */
static caf_status create_empty(caf_localdb *db, caf_error *err)
{
    caf_status rc = caf_mkdir_p(db->dir, err);
    if (rc != CAF_OK)
        return rc;
    caf_file_lock lock;
    rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK)
        return rc;
    if (!caf_path_exists(db->text_path))
        rc = caf_file_write_atomic(db->text_path, "", 0, err);
    caf_file_lock_release(&lock);
    return rc;
}

caf_status caf_localdb_open(const char *path, unsigned flags, caf_localdb **out, caf_error *err)
{
    *out = NULL;
    caf_localdb *db;
    caf_status rc = localdb_new_handle(path, &db, err);
    if (rc != CAF_OK)
        return rc;
    if (!caf_path_exists(db->text_path)) {
        if (flags & CAF_LOCALDB_CREATE)
            rc = create_empty(db, err);
        else
            rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a database (no %s)", db->dir, CAF_LOCALDB_TEXT_FILE);
    }
    if (rc == CAF_OK)
        rc = caf_localdb_reload(db, err);
    if (rc != CAF_OK) {
        caf_localdb_close(db);
        return rc;
    }
    *out = db;
    return CAF_OK;
}

void localdb_forget_listing(caf_localdb *db)
{
    for (size_t i = 0; i < db->file_count; i++)
        free(db->file_names[i]);
    free(db->file_names);
    db->file_names = NULL;
    db->file_count = 0;
}

void caf_localdb_close(caf_localdb *db)
{
    if (!db)
        return;
    localdb_free_entries(db->entries, db->count);
    localdb_index_free(db->index);
    localdb_forget_listing(db);
    free(db->dir);
    free(db->text_path);
    free(db->lock_path);
    free(db);
}

const char *caf_localdb_dir(const caf_localdb *db)
{
    return db->dir;
}

size_t caf_localdb_entry_count(const caf_localdb *db)
{
    return db->count;
}

const caf_db_entry *caf_localdb_entry(const caf_localdb *db, size_t i)
{
    return i < db->count ? &db->entries[i] : NULL;
}

const caf_db_entry *caf_localdb_find(const caf_localdb *db, const char *name, caf_exprun r)
{
    size_t i = localdb_index_find(db->index, name, r);
    return i < db->count ? &db->entries[i] : NULL;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the folder's payload file names once; lookups then search the sorted list. */
static caf_status load_listing(caf_localdb *db, caf_error *err)
{
    if (db->file_names)
        return CAF_OK;
    DIR *d = opendir(db->dir);
    if (!d)
        return caf_error_errno(err, errno, "%s", db->dir);
    size_t capacity = 16, n = 0;
    char **names = malloc(capacity * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        if (strncmp(e->d_name, "dbstore_", 8) != 0)
            continue;
        if (n == capacity) {
            char **bigger = realloc(names, (capacity *= 2) * sizeof *names);
            if (!bigger)
                break;
            names = bigger;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    bool complete = names && e == NULL;
    closedir(d);
    if (!complete) {
        for (size_t i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory listing payload files", db->dir);
    }
    qsort(names, n, sizeof *names, compare_names);
    db->file_names = names;
    db->file_count = n;
    if (n == 0) { /* keep a non-NULL marker so that an empty folder is not listed again */
        free(names);
        db->file_names = malloc(1);
    }
    return CAF_OK;
}

static char *search_listing(const caf_localdb *db, const char *prefix)
{
    size_t plen = strlen(prefix);
    size_t lo = 0, hi = db->file_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(db->file_names[mid], prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < db->file_count && strncmp(db->file_names[lo], prefix, plen) == 0)
        return caf_path_join(db->dir, db->file_names[lo]);
    return NULL;
}

char *localdb_find_payload_file(caf_localdb *db, const char *name, const char *revision, caf_error *err)
{
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "dbstore_%s_rev_%s.", name, revision);
    bool was_cached = db->file_names != NULL;
    if (load_listing(db, err) != CAF_OK)
        return NULL;
    char *path = search_listing(db, prefix);
    if (!path && was_cached) {
        /* Another process may have added the file since the folder was listed. */
        localdb_forget_listing(db);
        if (load_listing(db, err) != CAF_OK)
            return NULL;
        path = search_listing(db, prefix);
    }
    if (!path)
        caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: payload file %s* is missing", db->dir, prefix);
    return path;
}

char *caf_localdb_payload_path(const caf_localdb *db, const caf_db_entry *entry, caf_error *err)
{
    /* The listing cache is an internal detail; lookups stay logically const. */
    return localdb_find_payload_file((caf_localdb *)db, entry->name, entry->revision, err);
}
