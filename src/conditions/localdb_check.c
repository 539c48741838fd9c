/* caf_localdb_check: the whole database examined, every problem reported, none fatal but unreadability. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "caf/temp_file.h"
#include "conditions/localdb_internal.h"

static void report_entry_problems(caf_localdb *db, const caf_db_entry *e, caf_localdb_problem_fn report,
                                  void *userdata, size_t *problems)
{
    char message[CAF_ERROR_MESSAGE_MAX + 64];
    caf_error err = {0};
    char *file = localdb_find_payload_file(db, e->name, e->revision, &err);
    if (!file) {
        snprintf(message, sizeof message, "%s:%d: %s", db->text_path, e->line, err.message);
        if (report)
            report(message, userdata);
        (*problems)++;
        return;
    }
    if (caf_db_revision_is_hash(e->revision)) {
        char digest[CAF_MD5_HEX_SIZE];
        if (caf_md5_file_hex(file, digest, &err) != CAF_OK) {
            snprintf(message, sizeof message, "%s:%d: %s", db->text_path, e->line, err.message);
            if (report)
            report(message, userdata);
            (*problems)++;
        } else if (strncasecmp(digest, e->revision, strlen(e->revision)) != 0) {
            snprintf(message, sizeof message, "%s:%d: revision %s does not match the MD5 %s of %s", db->text_path,
                     e->line, e->revision, digest, file);
            if (report)
            report(message, userdata);
            (*problems)++;
        }
    }
    free(file);
}

/* Payload files no line references (orphans: what a killed commit leaves) and temporary files whose writer
 * has ended or is unknown (live writers' files are in use, not problems). */
static void report_leftovers(caf_localdb *db, bool parsed, const caf_db_entry *entries, size_t count,
                             caf_localdb_problem_fn report, void *userdata, size_t *problems)
{
    DIR *d = opendir(db->dir);
    if (!d)
        return;
    char message[CAF_ERROR_MESSAGE_MAX + 64];
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        caf_temp_writer w = caf_temp_writer_of(e->d_name);
        message[0] = '\0';
        if (w == CAF_TEMP_WRITER_GONE || w == CAF_TEMP_WRITER_UNKNOWN) {
            snprintf(message, sizeof message, "%s/%s: %s left by a %s", db->dir, e->d_name,
                     localdb_is_intent_name(e->d_name) ? "the intent file of a commit" : "temporary file",
                     w == CAF_TEMP_WRITER_GONE ? "writer that has ended (the next commit removes it)"
                                               : "writer on another machine or before a reboot (the next commit "
                                                 "removes it)");
        } else if (w == CAF_TEMP_NOT_TEMPORARY && parsed && !strncmp(e->d_name, "dbstore_", 8) &&
                   !localdb_file_referenced(entries, count, e->d_name)) {
            snprintf(message, sizeof message, "%s/%s: orphan payload file: no line of %s references it", db->dir,
                     e->d_name, db->text_path);
        }
        if (message[0]) {
            if (report)
                report(message, userdata);
            (*problems)++;
        }
    }
    closedir(d);
}

caf_status caf_localdb_check(const char *path, caf_localdb_problem_fn report, void *userdata, size_t *problems,
                             caf_error *err)
{
    *problems = 0;
    caf_localdb *db;
    caf_status rc = localdb_new_handle(path, &db, err);
    if (rc != CAF_OK)
        return rc;
    char *text = NULL;
    size_t size = 0;
    rc = caf_file_read(db->text_path, &text, &size, err);
    if (rc != CAF_OK) {
        caf_localdb_close(db);
        return rc;
    }
    char *pending = NULL; /* before text is cut into lines */
    localdb_journal_check(db, text, size, report, userdata, problems, &pending);
    char message[CAF_ERROR_MESSAGE_MAX + 64];
    /* the lines as a commit reads them, to know which payload files are referenced (none when malformed) */
    caf_db_entry *entries = NULL;
    size_t count = 0;
    caf_error parse_err = {0};
    bool parsed = !memchr(text, '\0', size) &&
                  localdb_parse_text(db->text_path, text, &entries, &count, &parse_err) == CAF_OK;
    if (memchr(text, '\0', size)) {
        snprintf(message, sizeof message, "%s: contains NUL bytes; not a database.txt (at the end, what a write cut "
                 "short leaves: caf db check --repair)", db->text_path);
        if (report)
            report(message, userdata);
        (*problems)++;
    }
    int torn_line;
    if (localdb_torn_tail(text, size, &torn_line)) {
        snprintf(message, sizeof message, "%s:%d: the last line has no newline: a write was cut short "
                 "(caf db check --repair removes it; end the line if it is complete)", db->text_path, torn_line);
        if (report)
            report(message, userdata);
        (*problems)++;
        char *start = text + size;
        while (start > text && start[-1] != '\n')
            start--;
        *start = '\0'; /* not checked as a line too */
    }
    int line_no = 0;
    char *save = NULL;
    /* strtok_r would skip empty lines and so miscount; split by hand. */
    for (char *line = text; line && *line; line = save) {
        line_no++;
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        caf_db_entry entry;
        bool is_entry;
        caf_error line_err = {0};
        if (caf_db_line_parse(line, &entry, &is_entry, &line_err) != CAF_OK) {
            snprintf(message, sizeof message, "%s:%d: %s", db->text_path, line_no, line_err.message);
            if (report)
            report(message, userdata);
            (*problems)++;
            continue;
        }
        if (!is_entry)
            continue;
        entry.line = line_no;
        report_entry_problems(db, &entry, report, userdata, problems);
        caf_db_entry_clear(&entry);
    }
    free(text);
    caf_db_entry *restored = NULL;
    size_t restored_count = 0;
    if (parsed && pending && localdb_parse_text(db->text_path, pending, &restored, &restored_count, NULL) == CAF_OK) {
        caf_db_entry *all = realloc(entries, (count + restored_count) * sizeof *all);
        if (all) { /* the journal's lines reference their payload files as well */
            memcpy(all + count, restored, restored_count * sizeof *all);
            entries = all;
            count += restored_count;
            free(restored);
            restored = NULL;
            restored_count = 0;
        }
    }
    localdb_free_entries(restored, restored_count);
    free(pending);
    report_leftovers(db, parsed, entries, count, report, userdata, problems);
    localdb_free_entries(entries, count);
    caf_localdb_close(db);
    return CAF_OK;
}

caf_status caf_localdb_repair(const char *path, int *removed_line, size_t *removed_bytes, caf_error *err)
{
    *removed_line = 0;
    *removed_bytes = 0;
    caf_localdb *db;
    caf_status rc = localdb_new_handle(path, &db, err);
    if (rc != CAF_OK)
        return rc;
    caf_file_lock lock;
    rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK) {
        caf_localdb_close(db);
        return rc;
    }
    /* what the commit journal holds goes back first: restored, not cut off */
    int fd = open(db->text_path, O_RDWR | O_APPEND | O_CLOEXEC);
    bool replayed = false;
    rc = fd < 0 ? caf_error_errno(err, errno, "%s", db->text_path) : localdb_journal_recover(db, fd, &replayed, err);
    if (fd >= 0)
        close(fd);
    char *text = NULL;
    size_t size = 0;
    if (rc == CAF_OK)
        rc = caf_file_read(db->text_path, &text, &size, err);
    size_t keep = size;
    if (rc == CAF_OK) {
        const char *nul = memchr(text, '\0', size);
        size_t end = nul ? (size_t)(nul - text) : size;
        for (size_t i = end; i < size; i++)
            if (text[i] != '\0') {
                rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: NUL bytes followed by more text: not what a write cut "
                                   "short leaves; not repaired", db->text_path);
                break;
            }
        keep = end;
        while (keep > 0 && text[keep - 1] != '\n')
            keep--;
        /* a last line without newline that is only a comment or blanks is complete: it stays */
        int torn_line;
        if (rc == CAF_OK && !nul && !localdb_torn_tail(text, size, &torn_line))
            keep = size;
    }
    if (rc == CAF_OK && keep < size) {
        int line = 1;
        for (size_t i = 0; i < keep; i++)
            line += text[i] == '\n';
        if (truncate(db->text_path, (off_t)keep) != 0)
            rc = caf_error_errno(err, errno, "%s: cannot truncate", db->text_path);
        if (rc == CAF_OK) {
            *removed_line = line;
            *removed_bytes = size - keep;
        }
    }
    free(text);
    caf_file_lock_release(&lock);
    caf_localdb_close(db);
    return rc;
}
