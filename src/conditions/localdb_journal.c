/* The commit journal of a local database (DB/commit-journal.jsonl): how a commit that carries a lineage
 * record is made durable with one fsync for the record and the lines together, instead of one for the
 * record, one for its folder and one for database.txt.
 *
 * A journaled commit (caf_db_commit_set_lineage), under the database lock:
 *   1. writes its new payload files (data fsync'ed, renamed) and fsyncs the folder once: the files exist;
 *   2. appends one JSON line to the journal, {"at": OFFSET, "lines": TEXT, "lineage": {"file", "record"}},
 *      and fdatasyncs it: this is the commit point;
 *   3. writes the record file DB/lineage/NAME (renamed into place, not fsync'ed);
 *   4. appends TEXT to database.txt at OFFSET (not fdatasync'ed).
 * Three fsyncs for a commit of one new payload. A killed process loses nothing it did (the page cache
 * keeps 3 and 4); a power loss may lose 3 and 4, and the journal has them. So whoever opens the database
 * to write (caf_localdb_open with CAF_LOCALDB_CREATE, a handle's first commit, caf db check --repair)
 * first replays the journal: each entry's TEXT must be in database.txt at its OFFSET and its record file
 * must hold its record. What a power loss can leave (database.txt shorter, or NUL bytes where the lost
 * text was) is restored; anything else (database.txt edited by hand) is refused, naming the byte, and
 * nothing is changed.
 *
 * The journal does not grow without end: every LOCALDB_JOURNAL_CHECKPOINT_ENTRIES entries (or bytes), and
 * when the writing handle is closed, database.txt is fdatasync'ed and the file system synced (syncfs: one
 * call for every record file since the last checkpoint), after which the journal is emptied. So two more
 * syncs per thousand commits, and an empty journal after a clean end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/log.h"
#include "conditions/localdb_internal.h"

#define LOCALDB_JOURNAL_CHECKPOINT_ENTRIES 1000
#define LOCALDB_JOURNAL_CHECKPOINT_BYTES (16 << 20)

static char *journal_path(const caf_localdb *db)
{
    return caf_path_join(db->dir, LOCALDB_JOURNAL_FILE);
}

caf_status localdb_journal_open(caf_localdb *db, bool *created, caf_error *err)
{
    *created = false;
    if (db->journal_fd >= 0)
        return CAF_OK;
    char *path = journal_path(db);
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        *created = fd >= 0;
    }
    caf_status rc = fd < 0 ? caf_error_errno(err, errno, "%s: cannot open", path) : CAF_OK;
    free(path);
    db->journal_fd = fd;
    return rc;
}

caf_status localdb_journal_append(caf_localdb *db, off_t at, const char *lines, size_t len, const char *record_file,
                                  const json_t *record, caf_error *err)
{
    json_t *entry = json_pack("{s:I, s:s%, s:{s:s, s:O}}", "at", (json_int_t)at, "lines", lines, len, "lineage",
                              "file", record_file, "record", record);
    char *text = entry ? json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(entry);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: cannot encode the journal entry", db->dir);
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps's NUL becomes the line's end; the buffer is not a string any more */
    off_t before = lseek(db->journal_fd, 0, SEEK_END);
    caf_status rc = caf_write_all(db->journal_fd, text, n + 1, LOCALDB_JOURNAL_FILE, err);
    if (rc == CAF_OK && fdatasync(db->journal_fd) != 0)
        rc = caf_error_errno(err, errno, "%s/%s: fdatasync", db->dir, LOCALDB_JOURNAL_FILE);
    if (rc != CAF_OK && before >= 0 && ftruncate(db->journal_fd, before) == 0)
        fdatasync(db->journal_fd); /* a failed entry is no commit: it must not be replayed */
    if (rc == CAF_OK) {
        db->journal_entries++;
        db->journal_bytes += (off_t)n + 1;
    }
    free(text);
    return rc;
}

bool localdb_record_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 5 && name[0] != '.' && !strchr(name, '/') && !strcmp(name + n - 5, ".json");
}

caf_status localdb_journal_write_record(const caf_localdb *db, const char *record_file, const json_t *record,
                                        caf_error *err)
{
    if (!localdb_record_name_ok(record_file))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: '%s' is not a lineage record file name", db->dir,
                             record_file ? record_file : "");
    char *dir = caf_path_join(db->dir, CAF_LINEAGE_DIR), *path = dir ? caf_path_join(dir, record_file) : NULL;
    size_t size = 0;
    char *text = path ? caf_json_dump_file_text(record, &size) : NULL;
    caf_status rc = text ? caf_mkdir_p(dir, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK) /* the journal holds it */
        rc = caf_file_write_atomic_with(path, text, size, CAF_ATOMIC_SYNC_NONE, err);
    free(text);
    free(path);
    free(dir);
    return rc;
}

caf_status localdb_journal_checkpoint(caf_localdb *db, int text_fd, caf_error *err)
{
    if (db->journal_fd < 0 || db->journal_entries == 0)
        return CAF_OK;
    if (fdatasync(text_fd) != 0)
        return caf_error_errno(err, errno, "%s: fdatasync", db->text_path);
    /* the record files of every entry since the last checkpoint, in one call */
    if (syncfs(text_fd) != 0)
        return caf_error_errno(err, errno, "%s: syncfs", db->dir);
    if (ftruncate(db->journal_fd, 0) != 0)
        return caf_error_errno(err, errno, "%s/%s: cannot empty", db->dir, LOCALDB_JOURNAL_FILE);
    db->journal_entries = 0;
    db->journal_bytes = 0;
    return CAF_OK;
}

caf_status localdb_journal_committed(caf_localdb *db, int text_fd, caf_error *err)
{
    if (db->journal_entries < LOCALDB_JOURNAL_CHECKPOINT_ENTRIES && db->journal_bytes < LOCALDB_JOURNAL_CHECKPOINT_BYTES)
        return CAF_OK;
    return localdb_journal_checkpoint(db, text_fd, err);
}

caf_status caf_localdb_checkpoint(caf_localdb *db, caf_error *err)
{
    if (db->journal_fd < 0 || db->journal_entries == 0)
        return CAF_OK;
    caf_file_lock lock;
    caf_status rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK)
        return rc;
    int fd = open(db->text_path, O_RDONLY | O_CLOEXEC);
    rc = fd < 0 ? caf_error_errno(err, errno, "%s", db->text_path) : localdb_journal_checkpoint(db, fd, err);
    if (fd >= 0)
        close(fd);
    caf_file_lock_release(&lock);
    return rc;
}

void localdb_journal_close(caf_localdb *db)
{
    if (db->journal_fd < 0)
        return;
    caf_error err = {0};
    if (caf_localdb_checkpoint(db, &err) != CAF_OK)
        caf_warning("%s; the commit journal is kept and replayed when the database is next written", err.message);
    close(db->journal_fd);
    db->journal_fd = -1;
}

/* One entry read back from the journal. */
typedef struct journal_entry {
    off_t at;
    const char *lines; /* borrowed from entry */
    size_t len;
    const char *record_file;
    json_t *record;
    json_t *entry;
} journal_entry;

static void free_entries(journal_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(e[i].entry);
    free(e);
}

/* True when an entry's lines are what a commit appends: complete database.txt lines that parse. */
static bool lines_ok(const char *path, const char *lines, size_t len)
{
    if (len == 0 || lines[len - 1] != '\n' || memchr(lines, '\0', len))
        return false;
    caf_db_entry *entries = NULL;
    size_t count = 0;
    bool ok = localdb_parse_text(path, lines, &entries, &count, NULL) == CAF_OK && count > 0;
    localdb_free_entries(entries, count);
    return ok;
}

/* Parses the journal's text; a last line cut short (no newline, or not an entry) was no commit: it is
 * left out (*torn set). Any other line that is not an entry is refused, naming it. */
static caf_status parse_journal(const char *path, const char *text, size_t size, journal_entry **out, size_t *count,
                                bool *torn, caf_error *err)
{
    *out = NULL;
    *count = 0;
    *torn = false;
    size_t cap = 0, n = 0, line = 0;
    journal_entry *entries = NULL;
    for (size_t pos = 0; pos < size;) {
        line++;
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - text) : size;
        json_t *entry = json_loadb(text + pos, end - pos, JSON_DISABLE_EOF_CHECK, NULL);
        json_t *lineage = json_object_get(entry, "lineage");
        journal_entry e = {
            .at = (off_t)json_integer_value(json_object_get(entry, "at")),
            .lines = json_string_value(json_object_get(entry, "lines")),
            .len = json_string_length(json_object_get(entry, "lines")),
            .record_file = json_string_value(json_object_get(lineage, "file")),
            .record = json_object_get(lineage, "record"),
            .entry = entry,
        };
        bool valid = json_is_integer(json_object_get(entry, "at")) && e.at >= 0 && e.lines &&
                     localdb_record_name_ok(e.record_file) && json_is_object(e.record) && lines_ok(path, e.lines, e.len);
        pos = end + 1;
        if (!valid) {
            json_decref(entry);
            if (!nl || pos >= size) { /* the last line: an append that did not finish */
                *torn = true;
                break;
            }
            free_entries(entries, n);
            return caf_error_set(err, CAF_ERR_FORMAT, "%s:%zu: not a commit journal entry; nothing was replayed",
                                 path, line);
        }
        if (n == cap) {
            journal_entry *grown = realloc(entries, (cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown) {
                json_decref(entry);
                free_entries(entries, n);
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            }
            entries = grown;
        }
        entries[n++] = e;
    }
    *out = entries;
    *count = n;
    return CAF_OK;
}

/* What a replay would write again into database.txt (text, size bytes): *first is the first entry whose
 * lines are not at their offset (n when every one is), when what stands from there on is what a power loss
 * leaves (the same bytes cut short, or NUL bytes where they were); an error naming the byte otherwise. */
static caf_status lines_to_restore(const caf_localdb *db, const char *text, size_t size, const journal_entry *e,
                                   size_t n, size_t *first, caf_error *err)
{
    size_t k = 0;
    while (k < n && (size_t)e[k].at + e[k].len <= size && !memcmp(text + e[k].at, e[k].lines, e[k].len))
        k++;
    *first = k;
    if (k == n)
        return CAF_OK;
    size_t expected_len = 0;
    for (size_t j = k; j < n; j++) {
        if (j > k && e[j].at != e[j - 1].at + (off_t)e[j - 1].len)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: differs from its commit journal at byte %lld and the "
                                 "journal's entries after it are not contiguous; nothing was replayed",
                                 db->text_path, (long long)e[k].at);
        expected_len += e[j].len;
    }
    size_t start = (size_t)e[k].at;
    if (start > size)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: ends at byte %zu, before its commit journal's entry at byte %lld: "
                             "not what a power loss leaves; nothing was replayed", db->text_path, size, (long long)start);
    if (size - start > expected_len)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: differs from its commit journal (%s) from byte %zu and goes on "
                             "after it: changed by hand? Nothing was replayed", db->text_path, LOCALDB_JOURNAL_FILE, start);
    /* what stands there must be the journal's own bytes, some of them lost (NUL) */
    size_t j = k, off = 0;
    for (size_t i = start; i < size; i++) {
        while (off >= e[j].len) {
            j++;
            off = 0;
        }
        if (text[i] != '\0' && text[i] != e[j].lines[off])
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: byte %zu differs from its commit journal (%s): changed by "
                                 "hand? Nothing was replayed", db->text_path, i, LOCALDB_JOURNAL_FILE);
        off++;
    }
    return CAF_OK;
}

/* Brings database.txt (text, size bytes, open as fd) in line with the entries (lines_to_restore): the
 * entries from the first one not in place on are written again. *restored counts them. */
static caf_status restore_lines(caf_localdb *db, int fd, const char *text, size_t size, const journal_entry *e,
                                size_t n, size_t *restored, caf_error *err)
{
    *restored = 0;
    size_t k;
    caf_status rc = lines_to_restore(db, text, size, e, n, &k, err);
    if (rc != CAF_OK || k == n)
        return rc;
    size_t start = (size_t)e[k].at;
    if (ftruncate(fd, (off_t)start) != 0)
        return caf_error_errno(err, errno, "%s: cannot truncate", db->text_path);
    for (size_t i = k; i < n && rc == CAF_OK; i++)
        rc = caf_write_all(fd, e[i].lines, e[i].len, db->text_path, err);
    if (rc == CAF_OK)
        *restored = n - k;
    return rc;
}

/* True when the record file of e holds its record, byte for byte. */
static bool record_intact(const caf_localdb *db, const journal_entry *e)
{
    char *dir = caf_path_join(db->dir, CAF_LINEAGE_DIR), *path = dir ? caf_path_join(dir, e->record_file) : NULL;
    size_t want_size = 0, have_size = 0;
    char *want = caf_json_dump_file_text(e->record, &want_size), *have = NULL;
    bool same = path && want && caf_file_read(path, &have, &have_size, NULL) == CAF_OK && have_size == want_size &&
                !memcmp(have, want, want_size);
    free(have);
    free(want);
    free(path);
    free(dir);
    return same;
}

caf_status localdb_journal_recover(caf_localdb *db, int fd, bool *changed, caf_error *err)
{
    *changed = false;
    char *path = journal_path(db), *journal = NULL, *text = NULL;
    size_t journal_size = 0, size = 0;
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size == 0) { /* the usual case: nothing to replay */
        free(path);
        return CAF_OK;
    }
    journal_entry *e = NULL;
    size_t n = 0, lines_restored = 0, records_restored = 0;
    bool torn = false;
    caf_status rc = caf_file_read(path, &journal, &journal_size, err);
    if (rc == CAF_OK)
        rc = parse_journal(path, journal, journal_size, &e, &n, &torn, err);
    if (rc == CAF_OK)
        rc = caf_file_read(db->text_path, &text, &size, err);
    if (rc == CAF_OK)
        rc = restore_lines(db, fd, text, size, e, n, &lines_restored, err);
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        if (!record_intact(db, &e[i])) {
            rc = localdb_journal_write_record(db, e[i].record_file, e[i].record, err);
            records_restored++;
        }
    /* everything the journal held is now in place: made durable, the journal can go */
    bool created = false;
    if (rc == CAF_OK)
        rc = localdb_journal_open(db, &created, err);
    if (rc == CAF_OK) {
        db->journal_entries += n + torn; /* so that the checkpoint empties it */
        rc = localdb_journal_checkpoint(db, fd, err);
    }
    if (rc == CAF_OK && (lines_restored || records_restored || torn))
        caf_info("%s: replayed the commit journal after an unclean end: %zu commit%s restored to database.txt, %zu "
                 "lineage record%s rewritten%s", db->dir, lines_restored, lines_restored == 1 ? "" : "s",
                 records_restored, records_restored == 1 ? "" : "s",
                 torn ? ", an unfinished last entry dropped" : "");
    *changed = lines_restored > 0;
    free_entries(e, n);
    free(text);
    free(journal);
    free(path);
    return rc;
}

void localdb_journal_check(const caf_localdb *db, const char *text, size_t size, caf_localdb_problem_fn report,
                           void *userdata, size_t *problems, char **pending)
{
    *pending = NULL;
    char *path = journal_path(db), *journal = NULL;
    size_t journal_size = 0;
    struct stat st;
    if (!path || stat(path, &st) != 0 || st.st_size == 0) {
        free(path);
        return;
    }
    journal_entry *e = NULL;
    size_t n = 0, first = 0, records = 0;
    bool torn = false;
    caf_error why = {0};
    caf_status rc = caf_file_read(path, &journal, &journal_size, &why);
    if (rc == CAF_OK)
        rc = parse_journal(path, journal, journal_size, &e, &n, &torn, &why);
    if (rc == CAF_OK)
        rc = lines_to_restore(db, text, size, e, n, &first, &why);
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        records += !record_intact(db, &e[i]);
    size_t pending_len = 0;
    for (size_t i = first; rc == CAF_OK && i < n; i++)
        pending_len += e[i].len;
    if (rc == CAF_OK && first < n && (*pending = malloc(pending_len + 1)) != NULL) {
        size_t at = 0;
        for (size_t i = first; i < n; i++) {
            memcpy(*pending + at, e[i].lines, e[i].len);
            at += e[i].len;
        }
        (*pending)[at] = '\0';
    }
    char message[CAF_ERROR_MESSAGE_MAX + 256];
    if (rc != CAF_OK)
        snprintf(message, sizeof message, "%s", why.message);
    else if (first < n || records > 0)
        snprintf(message, sizeof message, "%s: %zu commit%s not in database.txt and %zu lineage record%s missing or "
                 "damaged: a writer ended uncleanly (a power loss?); caf db check --repair, or the next writer, "
                 "restores them from the journal", path, n - first, n - first == 1 ? "" : "s", records,
                 records == 1 ? "" : "s");
    if (rc != CAF_OK || first < n || records > 0) {
        if (report)
            report(message, userdata);
        (*problems)++;
    }
    free_entries(e, n);
    free(journal);
    free(path);
}
