/* Writing a local database. A commit holds the database lock while it reads the lines other writers
 * appended since the handle last looked, writes the payload files (each atomically, named by content
 * hash) and appends all its lines to database.txt with one write. Its cost does not depend on the size of
 * the database: nothing is read again or rewritten.
 *
 * Crash safety (see docs/conditions-db.md, "Writing"):
 * - order: payload files (data fsync'ed, renamed into place), one fsync of the folder, then the append
 *   and its fdatasync. A line therefore never reaches the disk before its payload file does.
 * - all or nothing: the lines of a commit go in one write(2) under the lock. A process killed in the
 *   middle of it, or a power loss before the fdatasync, can leave the last line without its newline (or
 *   NUL bytes after it): readers and the next commit refuse such a file naming the line, and
 *   `caf db check --repair` cuts it off. A failed write is cut off at once (ftruncate to the old length).
 *   A complete line is only ever read when its whole write reached the file, so no line is misread.
 * - leftovers: payload files created before the append are listed in an intent file first; a commit
 *   that dies leaves them unreferenced and the first commit of the next handle removes them
 *   (localdb_leftovers.c). The intent file is not fsync'ed: after a power loss it may be gone, and its
 *   payload files are then reported by `caf db check` as orphans (harmless: content-addressed, and no
 *   line names them).
 * - readers never take the lock, except to wait out a writer when they find a last line without its
 *   newline (an append in progress) before calling the file damaged. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "caf/lineage.h"
#include "conditions/localdb_internal.h"

typedef struct staged_payload {
    char *name;
    char *ext;
    caf_iov iov;
    char *data; /* owned copy, or NULL when source_path is set */
    size_t size;
    char *source_path;
    char *staged_revision; /* the revision in the staging database the file comes from, or NULL */
} staged_payload;

struct caf_db_commit {
    caf_localdb *db;
    staged_payload *items;
    size_t count;
    size_t capacity;
    char *record_file; /* caf_db_commit_set_lineage: the record written with the lines, through the journal */
    json_t *record;
};

caf_status caf_db_commit_begin(caf_localdb *db, caf_db_commit **out, caf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    (*out)->db = db;
    return CAF_OK;
}

static void free_staged(staged_payload *p)
{
    free(p->name);
    free(p->ext);
    free(p->data);
    free(p->source_path);
    free(p->staged_revision);
}

void caf_db_commit_abort(caf_db_commit *commit)
{
    if (!commit)
        return;
    for (size_t i = 0; i < commit->count; i++)
        free_staged(&commit->items[i]);
    free(commit->items);
    free(commit->record_file);
    json_decref(commit->record);
    free(commit);
}

caf_status caf_db_commit_set_lineage(caf_db_commit *commit, const char *record_file, json_t *record, caf_error *err)
{
    if (!localdb_record_name_ok(record_file))
        return caf_error_set(err, CAF_ERR_INVALID, "'%s' is not a lineage record file name (NAME.json)",
                             record_file ? record_file : "");
    if (!json_is_object(record))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: a lineage record is a JSON object", record_file);
    char *copy = strdup(record_file);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(commit->record_file);
    json_decref(commit->record);
    commit->record_file = copy;
    commit->record = json_incref(record);
    return CAF_OK;
}

static caf_status check_extension(const char *ext, caf_error *err)
{
    if (!*ext)
        return caf_error_set(err, CAF_ERR_INVALID, "payload format extension is empty");
    for (const char *p = ext; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._+-", *p))
            return caf_error_set(err, CAF_ERR_INVALID, "payload format extension '%s' has a character other than "
                                 "letters, digits, '.', '_', '+' or '-'", ext);
    if (strstr(ext, ".."))
        return caf_error_set(err, CAF_ERR_INVALID, "payload format extension '%s' contains '..'", ext);
    return CAF_OK;
}

static caf_status stage(caf_db_commit *commit, const char *name, const char *ext, caf_iov iov, caf_error *err,
                        staged_payload **slot)
{
    caf_status rc = caf_payload_name_check(name, err);
    if (rc == CAF_OK)
        rc = check_extension(ext, err);
    if (rc == CAF_OK)
        rc = caf_iov_validate(iov, err);
    if (rc == CAF_OK && caf_iov_is_empty(iov))
        rc = caf_error_set(err, CAF_ERR_INVALID, "payload '%s' has an empty IoV (use 0,0,-1,-1 for always)", name);
    if (rc != CAF_OK)
        return rc;
    if (commit->count == commit->capacity) {
        size_t capacity = commit->capacity ? commit->capacity * 2 : 8;
        staged_payload *bigger = realloc(commit->items, capacity * sizeof *bigger);
        if (!bigger)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        commit->items = bigger;
        commit->capacity = capacity;
    }
    staged_payload *p = &commit->items[commit->count];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->ext = strdup(ext);
    p->iov = iov;
    if (!p->name || !p->ext) {
        free_staged(p);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *slot = p;
    return CAF_OK;
}

caf_status caf_db_commit_add_bytes(caf_db_commit *commit, const char *name, const char *ext, const void *data,
                                   size_t size, caf_iov iov, caf_error *err)
{
    staged_payload *p;
    caf_status rc = stage(commit, name, ext, iov, err, &p);
    if (rc != CAF_OK)
        return rc;
    p->data = malloc(size ? size : 1);
    if (!p->data) {
        free_staged(p);
        return caf_error_set(err, CAF_ERR_NOMEM, "payload '%s': out of memory", name);
    }
    memcpy(p->data, data, size);
    p->size = size;
    commit->count++;
    return CAF_OK;
}

caf_status caf_db_commit_add_file(caf_db_commit *commit, const char *name, const char *path, caf_iov iov,
                                  caf_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    const char *ext = dot && dot != base && dot[1] ? dot + 1 : "bin";
    if (!caf_path_exists(path))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no such payload file", path);
    staged_payload *p;
    caf_status rc = stage(commit, name, ext, iov, err, &p);
    if (rc != CAF_OK)
        return rc;
    p->source_path = strdup(path);
    if (!p->source_path) {
        free_staged(p);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    commit->count++;
    return CAF_OK;
}

caf_status caf_db_commit_add_staged_file(caf_db_commit *commit, const char *name, const char *path, caf_iov iov,
                                         const char *revision, caf_error *err)
{
    caf_status rc = caf_db_commit_add_file(commit, name, path, iov, err);
    if (rc != CAF_OK)
        return rc;
    staged_payload *p = &commit->items[commit->count - 1];
    if (!(p->staged_revision = strdup(revision))) {
        free_staged(p);
        commit->count--;
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

/* The files this commit created, removed again if the commit fails. */
typedef struct created_files {
    char **paths;
    size_t count;
} created_files;

static void remove_created(created_files *created)
{
    for (size_t i = 0; i < created->count; i++) {
        unlink(created->paths[i]);
        free(created->paths[i]);
    }
    free(created->paths);
}

static void forget_created(created_files *created)
{
    for (size_t i = 0; i < created->count; i++)
        free(created->paths[i]);
    free(created->paths);
}

/* Returns the extension part of an existing payload file name after its "..._rev_<rev>." prefix. */
static const char *extension_after(const char *path, size_t prefix_len_in_base)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return base + prefix_len_in_base;
}

/* Creates path (which must not exist) with size bytes of data; removes it again on failure. */
static caf_status write_in_place(const char *path, const char *data, size_t size, caf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s: cannot create", path);
    caf_status rc = caf_write_all(fd, data, size, path, err);
    if (close(fd) != 0 && rc == CAF_OK)
        rc = caf_error_errno(err, errno, "%s: cannot write", path);
    if (rc != CAF_OK)
        unlink(path);
    return rc;
}

/* Writes a new payload file atomically; its data is fsync'ed (not for a staging database), the folder
 * once for all files of the commit by the caller. */
static caf_status write_payload_file(const char *path, const char *data, size_t size, bool staging, caf_error *err)
{
    if (staging) /* one writer, nothing durable, checked against its revision when copied: written in place */
        return write_in_place(path, data, size, err);
    return caf_file_write_atomic_with(path, data, size, CAF_ATOMIC_SYNC_DATA, err);
}

/* Picks the revision for one payload: the shortest digest prefix (6 digits or more) whose file name is
 * free or already holds the same content in the same format. Writes the file when it is new. */
static caf_status store_payload(caf_localdb *db, const staged_payload *p, char revision[CAF_MD5_HEX_SIZE],
                                created_files *created, caf_error *err)
{
    char *owned = NULL;
    const char *data = p->data;
    size_t size = p->size;
    if (p->source_path) {
        caf_status rc = caf_file_read(p->source_path, &owned, &size, err);
        if (rc != CAF_OK)
            return rc;
        data = owned;
    }
    char digest[CAF_MD5_HEX_SIZE];
    caf_status rc = caf_md5_hex(data, size, digest, err);
    if (rc == CAF_OK && p->staged_revision && caf_db_revision_is_hash(p->staged_revision) &&
        strncasecmp(digest, p->staged_revision, strlen(p->staged_revision)) != 0)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: its MD5 %s does not start with its revision %s: the staged "
                           "copy is damaged (a crash before it reached the disk?)", p->source_path, digest,
                           p->staged_revision);
    for (size_t len = 6; rc == CAF_OK && len <= 32; len++) {
        memcpy(revision, digest, len);
        revision[len] = '\0';
        caf_error lookup_err = {0};
        char *existing = localdb_listing_lookup(db, p->name, revision, &lookup_err);
        if (!existing && lookup_err.code != CAF_OK) {
            rc = caf_error_set(err, lookup_err.code, "%s", lookup_err.message);
            break;
        }
        if (existing) {
            char prefix[1024];
            int plen = snprintf(prefix, sizeof prefix, "dbstore_%s_rev_%s.", p->name, revision);
            char existing_digest[CAF_MD5_HEX_SIZE];
            rc = caf_md5_file_hex(existing, existing_digest, err);
            bool same = rc == CAF_OK && strcmp(existing_digest, digest) == 0 &&
                        strcmp(extension_after(existing, (size_t)plen), p->ext) == 0;
            free(existing);
            if (rc != CAF_OK || same)
                break; /* an identical file is reused as it is */
            continue;  /* a different file has this prefix: one more digit */
        }
        char file_name[1200];
        snprintf(file_name, sizeof file_name, "dbstore_%s_rev_%s.%s", p->name, revision, p->ext);
        char *path = caf_path_join(db->dir, file_name);
        char **grown = path ? realloc(created->paths, (created->count + 1) * sizeof *grown) : NULL;
        if (!grown) {
            free(path);
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        created->paths = grown;
        rc = localdb_intent_add(db, file_name, err); /* listed before the file exists: localdb_leftovers.c */
        if (rc == CAF_OK)
            rc = write_payload_file(path, data, size, db->staging, err);
        if (rc != CAF_OK) {
            free(path);
            break;
        }
        created->paths[created->count++] = path;
        rc = localdb_listing_add(db, file_name, err);
        break;
    }
    free(owned);
    return rc;
}

static caf_status append_line(char **text, size_t *len, size_t *capacity, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 1 > *capacity) {
        size_t grown = (*len + n + 1) * 2;
        char *bigger = realloc(*text, grown);
        if (!bigger)
            return CAF_ERR_NOMEM;
        *text = bigger;
        *capacity = grown;
    }
    memcpy(*text + *len, line, n + 1);
    *len += n;
    return CAF_OK;
}

/* Appends text to database.txt (fd opened with O_APPEND, old_size bytes long) with one write, retrying
 * a short one; on failure cuts the file back to old_size so that no partial line stays. */
static caf_status append_text(caf_localdb *db, int fd, off_t old_size, const char *text, size_t len, bool sync,
                              caf_error *err)
{
    caf_status rc = caf_write_all(fd, text, len, db->text_path, err);
    if (rc == CAF_OK && sync && !db->staging && fdatasync(fd) != 0)
        rc = caf_error_errno(err, errno, "%s: fdatasync", db->text_path);
    if (rc != CAF_OK && ftruncate(fd, old_size) == 0 && sync && !db->staging)
        fdatasync(fd);
    return rc;
}

/* The journal entry of a commit with a lineage record, then the record file: both before database.txt is
 * appended to, so that a line never stands without its record. */
static caf_status journal_commit(caf_localdb *db, const caf_db_commit *commit, off_t at, bool newline_first,
                                 const char *text, size_t len, caf_error *err)
{
    char *lines = malloc(len + 2);
    if (!lines)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    if (newline_first)
        lines[n++] = '\n';
    memcpy(lines + n, text, len);
    n += len;
    lines[n] = '\0';
    caf_status rc = localdb_journal_append(db, at, lines, n, commit->record_file, commit->record, err);
    free(lines);
    return rc;
}

/* The folder's modification time: a listing taken at that time is still complete while it is unchanged. */
static struct timespec folder_mtime(const caf_localdb *db)
{
    struct stat st;
    return stat(db->dir, &st) == 0 ? st.st_mtim : (struct timespec){0, 0};
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

caf_status caf_db_commit_finish(caf_db_commit *commit, caf_error *err)
{
    caf_localdb *db = commit->db;
    caf_file_lock lock = {.fd = -1};
    /* a staging database has a single writer (its execution's driver): no lock, nothing of other writers
     * to sweep (its folder is removed whole before its execution runs again) */
    caf_status rc = db->staging ? CAF_OK : caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK) {
        caf_db_commit_abort(commit);
        return rc;
    }
    if (db->staging)
        db->swept = true;
    int fd = open(db->text_path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        rc = caf_error_errno(err, errno, "%s", db->text_path);
    /* Lines other writers appended meanwhile are read (and checked: a malformed or torn file stops the
     * commit instead of being extended). */
    bool changed = false;
    if (rc == CAF_OK && !db->swept && !db->staging) {
        bool replayed = false;
        rc = localdb_journal_recover(db, fd, &replayed, err);
        if (replayed)
            db->loaded = false; /* read it whole again */
    }
    if (rc == CAF_OK)
        rc = localdb_catch_up(db, fd, &changed, err);
    if (rc == CAF_OK && !db->swept) {
        localdb_remove_leftovers(db, db->entries, db->count); /* no other writer can be active: we hold the lock */
        db->swept = true;
    }
    /* The cached listing of payload files stays valid while the folder is unchanged since this handle's
     * last commit; anything else (another writer, a file put there by hand) lists it again. */
    if (rc == CAF_OK && db->file_names && !same_time(folder_mtime(db), db->listing_mtime))
        localdb_forget_listing(db);
    char *text = NULL;
    size_t len = 0, capacity = 0;
    created_files created = {0};
    for (size_t i = 0; rc == CAF_OK && i < commit->count; i++) {
        const staged_payload *p = &commit->items[i];
        char revision[CAF_MD5_HEX_SIZE];
        rc = store_payload(db, p, revision, &created, err);
        if (rc != CAF_OK) {
            caf_error_prefix(err, "payload '%s': ", p->name);
            break;
        }
        char iov_text[CAF_IOV_TEXT_MAX];
        char line[1200];
        snprintf(line, sizeof line, "dbstore/%s %s %s\n", p->name, revision,
                 caf_iov_format(p->iov, iov_text, sizeof iov_text));
        if (append_line(&text, &len, &capacity, line) != CAF_OK)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    bool journaled = rc == CAF_OK && commit->count > 0 && commit->record && !db->staging, journal_created = false;
    if (journaled)
        rc = localdb_journal_open(db, &journal_created, err);
    /* the new payload files' names (and a new journal's) are durable before any line that names them */
    if (rc == CAF_OK && (created.count > 0 || journal_created) && !db->staging)
        rc = caf_fsync_dir(db->dir, err);
    /* a last line without newline here is a comment or blank (a torn entry was refused above) */
    bool newline_first = rc == CAF_OK && commit->count > 0 && !db->ends_in_newline;
    off_t old_size = db->text_size;
    bool committed = false; /* past the journal's commit point: what follows is restored if it fails */
    if (journaled && rc == CAF_OK) { /* the commit point: lines and record durable together (localdb_journal.c) */
        rc = journal_commit(db, commit, old_size, newline_first, text, len, err);
        committed = rc == CAF_OK;
        if (committed) /* before the lines, so that a line never stands without its record */
            rc = localdb_journal_write_record(db, commit->record_file, commit->record, err);
    } else if (rc == CAF_OK && commit->count > 0) {
        if (newline_first) {
            rc = append_text(db, fd, old_size, "\n", 1, true, err);
            old_size += 1;
        }
        if (rc == CAF_OK)
            rc = append_text(db, fd, old_size, text, len, true, err);
    }
    if (committed && rc == CAF_OK) {
        if (newline_first) {
            rc = append_text(db, fd, old_size, "\n", 1, false, err);
            old_size += 1;
        }
        if (rc == CAF_OK)
            rc = append_text(db, fd, old_size, text, len, false, err);
    }
    if (committed && rc != CAF_OK) /* the journal has the commit: a writer's next open restores it */
        caf_error_prefix(err, "the commit is in %s/%s and is restored when the database is next written: ", db->dir,
                         LOCALDB_JOURNAL_FILE);
    if (rc == CAF_OK || committed)
        forget_created(&created);
    else
        remove_created(&created);
    localdb_intent_reset(db);
    if (rc == CAF_OK && commit->count > 0) {
        if (newline_first) { /* rare: read the whole file again */
            db->loaded = false;
            rc = localdb_catch_up(db, fd, &changed, err);
        } else {
            rc = localdb_add_appended(db, text, len, old_size + (off_t)len, err);
        }
    }
    if (rc == CAF_OK && journaled)
        rc = localdb_journal_committed(db, fd, err);
    if (db->file_names)
        db->listing_mtime = folder_mtime(db);
    free(text);
    if (fd >= 0)
        close(fd);
    if (!db->staging)
        caf_file_lock_release(&lock);
    caf_db_commit_abort(commit);
    return rc;
}
