/* What a killed commit leaves in a local database folder, and how the next commit removes it. A commit
 * writes each new payload file under its final name before database.txt names it, so a commit killed in
 * between leaves payload files no line references. Before creating one, a commit lists its name in an
 * intent file (".commit-intent" + a temporary file's writer mark, caf/temp_file.h); the commit removes
 * the intent file once database.txt is replaced. The next commit, holding the database lock, finds intent
 * files whose writer has ended and removes the payload files they list that database.txt does not
 * reference; temporary files of writers that have ended (or cannot be identified: no writer can hold the
 * lock besides this one) go too. Live writers' files are never touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "caf/temp_file.h"
#include "conditions/localdb_internal.h"

bool localdb_is_intent_name(const char *name)
{
    return !strncmp(name, LOCALDB_INTENT_PREFIX, strlen(LOCALDB_INTENT_PREFIX)) && strstr(name, CAF_TEMP_MARK);
}

bool localdb_file_referenced(const caf_db_entry *entries, size_t count, const char *file_name)
{
    for (size_t i = 0; i < count; i++) {
        char prefix[1024];
        int n = snprintf(prefix, sizeof prefix, "dbstore_%s_rev_%s.", entries[i].name, entries[i].revision);
        if (n > 0 && (size_t)n < sizeof prefix && !strncmp(file_name, prefix, (size_t)n))
            return true;
    }
    return false;
}

/* Creates the handle's intent file in db's folder, named as a temporary file of this process. */
static caf_status intent_create(caf_localdb *db, caf_error *err)
{
    char *final = caf_path_join(db->dir, LOCALDB_INTENT_PREFIX + 1); /* the template adds the leading dot */
    db->intent_path = final ? caf_temp_template(final) : NULL;
    free(final);
    if (!db->intent_path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    db->intent_fd = mkostemp(db->intent_path, O_CLOEXEC);
    if (db->intent_fd < 0) {
        caf_status rc = caf_error_errno(err, errno, "%s: cannot create the commit's intent file", db->intent_path);
        free(db->intent_path);
        db->intent_path = NULL;
        return rc;
    }
    return CAF_OK;
}

caf_status localdb_intent_add(caf_localdb *db, const char *file_name, caf_error *err)
{
    if (db->staging) /* thrown away whole when its execution runs again: no intent file */
        return CAF_OK;
    if (db->intent_fd < 0) {
        caf_status rc = intent_create(db, err);
        if (rc != CAF_OK)
            return rc;
    }
    size_t n = strlen(file_name);
    /* Not fsync'ed: a killed process leaves the written bytes in the page cache, which is what this file
     * is for; after a power loss the payload files it listed show up as orphans in caf db check. */
    if (write(db->intent_fd, file_name, n) != (ssize_t)n || write(db->intent_fd, "\n", 1) != 1)
        return caf_error_errno(err, errno ? errno : EIO, "%s: cannot write", db->intent_path);
    return CAF_OK;
}

void localdb_intent_reset(caf_localdb *db)
{
    /* once the lines name the files (or the files are removed), the list has done its work; the file
     * stays for the handle's next commit, which saves creating one per commit */
    if (db->intent_fd >= 0 && (ftruncate(db->intent_fd, 0) != 0 || lseek(db->intent_fd, 0, SEEK_SET) != 0))
        localdb_intent_close(db); /* a stale list would be undone as if it were a dead commit's: drop it */
}

void localdb_intent_close(caf_localdb *db)
{
    if (db->intent_fd >= 0)
        close(db->intent_fd);
    if (db->intent_path)
        unlink(db->intent_path);
    free(db->intent_path);
    db->intent_fd = -1;
    db->intent_path = NULL;
}

/* Removes the payload files an ended commit's intent file lists that no line references, then the file. */
static void undo_dead_commit(const caf_localdb *db, const char *intent_path, const caf_db_entry *entries,
                             size_t count)
{
    char *text = NULL;
    if (caf_file_read(intent_path, &text, NULL, NULL) != CAF_OK)
        return;
    size_t removed = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "dbstore_", 8) != 0 || strchr(line, '/') || localdb_file_referenced(entries, count, line))
            continue;
        char *path = caf_path_join(db->dir, line);
        if (path && unlink(path) == 0)
            removed++;
        free(path);
    }
    free(text);
    unlink(intent_path);
    if (removed)
        caf_info("%s: removed %zu payload file%s that a killed commit wrote but never added to database.txt",
                 db->dir, removed, removed == 1 ? "" : "s");
}

void localdb_remove_leftovers(caf_localdb *db, const caf_db_entry *entries, size_t count)
{
    DIR *d = opendir(db->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!localdb_is_intent_name(e->d_name) || caf_temp_writer_of(e->d_name) == CAF_TEMP_WRITER_ALIVE)
                continue;
            char *path = caf_path_join(db->dir, e->d_name);
            if (path)
                undo_dead_commit(db, path, entries, count);
            free(path);
        }
        closedir(d);
    }
    size_t removed = 0;
    caf_error err = {0};
    if (caf_temp_sweep(db->dir, CAF_TEMP_SWEEP_EXCLUSIVE, NULL, NULL, &removed, &err) == CAF_OK && removed)
        caf_info("%s: removed %zu temporary file%s of ended writers", db->dir, removed, removed == 1 ? "" : "s");
    localdb_forget_listing(db);
}
