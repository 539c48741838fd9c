/* Writing a local database. A commit holds the database lock while it re-reads database.txt, writes the
 * payload files (each atomically, named by content hash) and replaces database.txt with the old text plus
 * the new lines. Readers therefore see the lines of a commit all together or not at all, and concurrent
 * writers in other processes are serialised by the lock instead of overwriting each other's lines. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "conditions/localdb_internal.h"

typedef struct staged_payload {
    char *name;
    char *ext;
    caf_iov iov;
    char *data; /* owned copy, or NULL when source_path is set */
    size_t size;
    char *source_path;
} staged_payload;

struct caf_db_commit {
    caf_localdb *db;
    staged_payload *items;
    size_t count;
    size_t capacity;
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
}

void caf_db_commit_abort(caf_db_commit *commit)
{
    if (!commit)
        return;
    for (size_t i = 0; i < commit->count; i++)
        free_staged(&commit->items[i]);
    free(commit->items);
    free(commit);
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

/* Picks the revision for one payload: the shortest digest prefix (6 digits or more) whose file name is
 * free or already holds the same content in the same format. Writes the file when it is new. */
static caf_status store_payload(caf_localdb *db, const staged_payload *p, char revision[CAF_MD5_HEX_SIZE],
                                created_files *created, localdb_intent *intent, caf_error *err)
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
    for (size_t len = 6; rc == CAF_OK && len <= 32; len++) {
        memcpy(revision, digest, len);
        revision[len] = '\0';
        caf_error lookup_err = {0};
        char *existing = localdb_find_payload_file(db, p->name, revision, &lookup_err);
        if (!existing && lookup_err.code != CAF_ERR_NOT_FOUND) {
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
        rc = localdb_intent_add(intent, file_name, err); /* on disk before the file: see localdb_leftovers.c */
        if (rc == CAF_OK)
            rc = caf_file_write_atomic(path, data, size, err);
        if (rc != CAF_OK) {
            free(path);
            break;
        }
        created->paths[created->count++] = path;
        localdb_forget_listing(db);
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

caf_status caf_db_commit_finish(caf_db_commit *commit, caf_error *err)
{
    caf_localdb *db = commit->db;
    caf_file_lock lock;
    caf_status rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK) {
        caf_db_commit_abort(commit);
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    rc = caf_file_read(db->text_path, &text, &len, err);
    size_t capacity = len + 1;
    /* Another writer may have committed since we opened: parse what is there now, so a malformed file
     * stops the commit instead of being extended. */
    if (rc == CAF_OK) {
        caf_db_entry *entries;
        size_t count;
        rc = localdb_parse_text(db->text_path, text, &entries, &count, err);
        if (rc == CAF_OK) {
            localdb_remove_leftovers(db, entries, count); /* no other writer can be active: we hold the lock */
            localdb_free_entries(entries, count);
        }
    }
    localdb_intent intent = {.fd = -1};
    if (rc == CAF_OK && commit->count > 0)
        rc = localdb_intent_open(&intent, db, err);
    if (rc == CAF_OK && len > 0 && text[len - 1] != '\n' && append_line(&text, &len, &capacity, "\n") != CAF_OK)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    localdb_forget_listing(db);
    created_files created = {0};
    for (size_t i = 0; rc == CAF_OK && i < commit->count; i++) {
        const staged_payload *p = &commit->items[i];
        char revision[CAF_MD5_HEX_SIZE];
        rc = store_payload(db, p, revision, &created, &intent, err);
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
    if (rc == CAF_OK && commit->count > 0)
        rc = caf_file_write_atomic(db->text_path, text, len, err);
    if (rc == CAF_OK)
        forget_created(&created);
    else
        remove_created(&created);
    localdb_intent_close(&intent);
    free(text);
    caf_file_lock_release(&lock);
    caf_db_commit_abort(commit);
    if (rc != CAF_OK)
        return rc;
    return caf_localdb_reload(db, err);
}
