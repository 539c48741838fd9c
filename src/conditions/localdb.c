/* Reading a local database: database.txt into entries, lookups by (name, run), payload files by prefix. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "conditions/localdb_internal.h"

void localdb_free_entries(caf_db_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        caf_db_entry_clear(&entries[i]);
    free(entries);
}

/* Parses text[0..size) (lines numbered from first_line) and appends its entries to *entries; *lines is
 * the number of lines it held. On failure the entries it appended are freed again. */
static caf_status parse_lines(const char *path, const char *text, size_t size, int first_line, caf_db_entry **entries,
                              size_t *count, size_t *capacity, int *lines, caf_error *err)
{
    size_t kept = *count;
    int line_no = first_line - 1;
    const char *p = text, *stop = text + size;
    caf_status rc = CAF_OK;
    while (p < stop && rc == CAF_OK) {
        line_no++;
        const char *end = memchr(p, '\n', (size_t)(stop - p));
        size_t len = end ? (size_t)(end - p) : (size_t)(stop - p);
        char *line = strndup(p, len);
        if (!line) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        caf_db_entry entry;
        bool is_entry;
        rc = caf_db_line_parse(line, &entry, &is_entry, err);
        free(line);
        if (rc != CAF_OK) {
            caf_error_prefix(err, "%s:%d: ", path, line_no);
            break;
        }
        if (is_entry) {
            if (*count == *capacity) {
                size_t grown = *capacity ? *capacity * 2 : 16;
                caf_db_entry *bigger = realloc(*entries, grown * sizeof *bigger);
                if (!bigger) {
                    caf_db_entry_clear(&entry);
                    rc = caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                *entries = bigger;
                *capacity = grown;
            }
            entry.line = line_no;
            (*entries)[(*count)++] = entry;
        }
        p = end ? end + 1 : stop;
    }
    if (rc != CAF_OK) {
        for (size_t i = kept; i < *count; i++)
            caf_db_entry_clear(&(*entries)[i]);
        *count = kept;
        return rc;
    }
    *lines = line_no - first_line + 1;
    return CAF_OK;
}

caf_status localdb_parse_text(const char *path, const char *text, caf_db_entry **entries, size_t *count,
                              caf_error *err)
{
    *entries = NULL;
    *count = 0;
    size_t capacity = 0;
    int lines;
    caf_status rc = parse_lines(path, text, strlen(text), 1, entries, count, &capacity, &lines, err);
    if (rc != CAF_OK) {
        free(*entries);
        *entries = NULL;
    }
    return rc;
}

bool localdb_torn_tail(const char *text, size_t size, int *line)
{
    if (size == 0 || text[size - 1] == '\n')
        return false;
    const char *start = text + size;
    while (start > text && start[-1] != '\n')
        start--;
    bool content = false;
    for (const char *p = start; p < text + size && *p != '#'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            content = true;
    if (content) {
        *line = 1;
        for (const char *p = text; p < start; p++)
            *line += *p == '\n';
    }
    return content;
}

/* Reads size bytes at offset from fd into a NUL-terminated buffer (malloc'd). */
static caf_status read_range(int fd, const char *path, off_t offset, size_t size, char **out, caf_error *err)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, offset + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            if (n == 0)
                return caf_error_set(err, CAF_ERR_IO, "%s: shrank while it was read", path);
            return caf_error_errno(err, errno, "%s", path);
        }
        done += (size_t)n;
    }
    buf[size] = '\0';
    *out = buf;
    return CAF_OK;
}

/* Remembers what the entries now reflect: the file's identity and length, its lines and last bytes
 * (those kept so far followed by chunk, the size bytes just read). */
static void note_read(caf_localdb *db, const struct stat *st, const char *chunk, size_t size, int lines)
{
    db->loaded = true;
    db->text_dev = st->st_dev;
    db->text_ino = st->st_ino;
    db->text_size = st->st_size;
    db->lines += lines;
    if (size > 0)
        db->ends_in_newline = chunk[size - 1] == '\n';
    else if (st->st_size == 0)
        db->ends_in_newline = true;
    char joined[LOCALDB_TAIL_BYTES];
    size_t from_chunk = size < LOCALDB_TAIL_BYTES ? size : LOCALDB_TAIL_BYTES;
    size_t from_old = LOCALDB_TAIL_BYTES - from_chunk;
    if (from_old > db->tail_len)
        from_old = db->tail_len;
    memcpy(joined, db->tail + db->tail_len - from_old, from_old);
    memcpy(joined + from_old, chunk + size - from_chunk, from_chunk);
    db->tail_len = from_old + from_chunk;
    memcpy(db->tail, joined, db->tail_len);
}

/* True when the file behind fd (stat st) is db's file with lines appended after what db read. */
static bool appended_since(const caf_localdb *db, int fd, const struct stat *st)
{
    if (!db->loaded || !db->ends_in_newline || st->st_dev != db->text_dev || st->st_ino != db->text_ino ||
        st->st_size < db->text_size)
        return false;
    char tail[LOCALDB_TAIL_BYTES];
    off_t at = db->text_size - (off_t)db->tail_len;
    return pread(fd, tail, db->tail_len, at) == (ssize_t)db->tail_len && memcmp(tail, db->tail, db->tail_len) == 0;
}

caf_status localdb_add_appended(caf_localdb *db, const char *text, size_t size, off_t new_size, caf_error *err)
{
    size_t before = db->count;
    int lines;
    caf_status rc = parse_lines(db->text_path, text, size, db->lines + 1, &db->entries, &db->count, &db->capacity,
                                &lines, err);
    for (size_t i = before; rc == CAF_OK && i < db->count; i++)
        rc = localdb_index_append(db->index, db->entries, i, err);
    if (rc != CAF_OK) { /* the index may hold some of the new lines: read everything again next time */
        db->loaded = false;
        return rc;
    }
    struct stat st = {.st_dev = db->text_dev, .st_ino = db->text_ino, .st_size = new_size};
    note_read(db, &st, text, size, lines);
    return CAF_OK;
}

caf_status localdb_catch_up(caf_localdb *db, int fd, bool *changed, caf_error *err)
{
    *changed = false;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return caf_error_errno(err, errno, "%s", db->text_path);
    bool append = appended_since(db, fd, &st);
    if (append && st.st_size == db->text_size)
        return CAF_OK;
    off_t from = append ? db->text_size : 0;
    size_t size = (size_t)(st.st_size - from);
    char *text = NULL;
    caf_status rc = read_range(fd, db->text_path, from, size, &text, err);
    if (rc != CAF_OK)
        return rc;
    int torn_line;
    if (memchr(text, '\0', size))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: contains NUL bytes; not a database.txt (a write cut short "
                           "leaves them too: caf db check --repair)", db->text_path);
    else if (localdb_torn_tail(text, size, &torn_line))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s:%d: the last line has no newline: a write was cut short "
                           "(caf db check --repair removes it; end the line if it is complete)", db->text_path,
                           (append ? db->lines : 0) + torn_line);
    *changed = true;
    if (rc == CAF_OK && append) {
        rc = localdb_add_appended(db, text, size, st.st_size, err);
    } else if (rc == CAF_OK) {
        caf_db_entry *entries = NULL;
        size_t count = 0, capacity = 0;
        int lines = 0;
        localdb_index *index = NULL;
        rc = parse_lines(db->text_path, text, size, 1, &entries, &count, &capacity, &lines, err);
        if (rc == CAF_OK && (rc = localdb_index_build(entries, count, &index, err)) != CAF_OK)
            caf_error_prefix(err, "%s: ", db->text_path);
        if (rc != CAF_OK) {
            localdb_free_entries(entries, count);
        } else {
            localdb_free_entries(db->entries, db->count);
            localdb_index_free(db->index);
            db->entries = entries;
            db->count = count;
            db->capacity = capacity;
            db->index = index;
            db->lines = 0;
            db->tail_len = 0;
            note_read(db, &st, text, size, lines);
        }
    }
    free(text);
    if (rc == CAF_OK)
        localdb_forget_listing(db); /* another writer may have added payload files */
    return rc;
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

static caf_status reload_once(caf_localdb *db, caf_error *err)
{
    int fd = open(db->text_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s", db->text_path);
    bool changed;
    caf_status rc = localdb_catch_up(db, fd, &changed, err);
    close(fd);
    return rc;
}

caf_status caf_localdb_reload(caf_localdb *db, caf_error *err)
{
    localdb_forget_listing(db); /* payload files may have been added or removed, even with no new line */
    caf_status rc = reload_once(db, err);
    if (rc != CAF_ERR_FORMAT)
        return rc;
    /* A commit appending right now can show a last line without its newline yet: read again once the
     * writer is done (under the lock), and only then call the file damaged. */
    caf_file_lock lock;
    caf_error lock_err = {0};
    if (caf_file_lock_acquire(&lock, db->lock_path, &lock_err) != CAF_OK)
        return rc;
    rc = reload_once(db, err);
    caf_file_lock_release(&lock);
    return rc;
}

caf_status localdb_new_handle(const char *path, caf_localdb **out, caf_error *err)
{
    *out = NULL;
    caf_localdb *db = calloc(1, sizeof *db);
    if (!db)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
    db->journal_fd = -1;
    db->intent_fd = -1;
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

/* A writer's open replays what a power loss kept out of database.txt (localdb_journal.c); an empty or
 * missing journal, the usual case, costs one stat and no lock. */
static caf_status replay_journal(caf_localdb *db, caf_error *err)
{
    char *path = caf_path_join(db->dir, LOCALDB_JOURNAL_FILE);
    struct stat st;
    bool pending = path && stat(path, &st) == 0 && st.st_size > 0;
    free(path);
    if (!pending)
        return CAF_OK;
    caf_file_lock lock;
    caf_status rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK)
        return rc;
    int fd = open(db->text_path, O_RDWR | O_APPEND | O_CLOEXEC);
    bool changed = false;
    rc = fd < 0 ? caf_error_errno(err, errno, "%s", db->text_path) : localdb_journal_recover(db, fd, &changed, err);
    if (fd >= 0)
        close(fd);
    caf_file_lock_release(&lock);
    return rc;
}

/* Creates the folder and an empty database.txt under the lock, so that two creators do not race. A
 * staging database has one writer (its execution's driver): no lock file; and when its folder is new, its
 * payload listing is known to be empty without reading it. */
static caf_status create_empty(caf_localdb *db, bool *fresh, caf_error *err)
{
    bool new_folder = db->staging && mkdir(db->dir, 0755) == 0;
    caf_status rc = new_folder ? CAF_OK : caf_mkdir_p(db->dir, err);
    if (rc != CAF_OK)
        return rc;
    caf_file_lock lock = {.fd = -1};
    if (!db->staging && (rc = caf_file_lock_acquire(&lock, db->lock_path, err)) != CAF_OK)
        return rc;
    /* an empty file needs no temporary copy: creating it is atomic */
    int fd = open(db->text_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
        rc = caf_error_errno(err, errno, "%s: cannot create", db->text_path);
    if (fd >= 0) {
        close(fd);
        if (!db->staging)
            rc = caf_fsync_dir(db->dir, err);
    }
    *fresh = rc == CAF_OK && new_folder && fd >= 0;
    if (!db->staging)
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
    db->staging = (flags & CAF_LOCALDB_STAGING) != 0;
    bool fresh = false;
    if (!caf_path_exists(db->text_path)) {
        if (flags & CAF_LOCALDB_CREATE)
            rc = create_empty(db, &fresh, err);
        else
            rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a database (no %s)", db->dir, CAF_LOCALDB_TEXT_FILE);
    }
    if (rc == CAF_OK && (flags & CAF_LOCALDB_CREATE) && !db->staging)
        rc = replay_journal(db, err);
    if (rc == CAF_OK)
        rc = caf_localdb_reload(db, err);
    struct stat st;
    if (rc == CAF_OK && fresh && stat(db->dir, &st) == 0 && (db->file_names = malloc(1))) {
        db->file_count = 0; /* a folder this handle made: its payload listing is empty, valid while its mtime stays */
        db->listing_mtime = st.st_mtim;
    }
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
    localdb_journal_close(db);
    localdb_intent_close(db);
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

char *localdb_listing_lookup(caf_localdb *db, const char *name, const char *revision, caf_error *err)
{
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "dbstore_%s_rev_%s.", name, revision);
    if (load_listing(db, err) != CAF_OK)
        return NULL;
    char *path = search_listing(db, prefix);
    if (!path && err)
        err->code = CAF_OK;
    return path;
}

caf_status localdb_listing_add(caf_localdb *db, const char *file_name, caf_error *err)
{
    if (!db->file_names)
        return CAF_OK;
    size_t lo = 0, hi = db->file_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(db->file_names[mid], file_name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char *copy = strdup(file_name);
    char **bigger = copy ? realloc(db->file_names, (db->file_count + 1) * sizeof *bigger) : NULL;
    if (!bigger) {
        free(copy);
        localdb_forget_listing(db);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    db->file_names = bigger;
    memmove(&db->file_names[lo + 1], &db->file_names[lo], (db->file_count - lo) * sizeof *bigger);
    db->file_names[lo] = copy;
    db->file_count++;
    return CAF_OK;
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
