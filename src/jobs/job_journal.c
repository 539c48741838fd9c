/* The journal of a job's saved state (include/caf/job_journal.h): subjob records appended between two
 * saves of the whole state, and the state read back with them applied. */
#include "caf/job_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"

#define JOURNAL_NAME "caf-job.journal"

char *caf_job_journal_path(const caf_job *job)
{
    return caf_path_join(job->working_dir, JOURNAL_NAME);
}

json_t *caf_subjob_progress_json(const caf_subjob *sub)
{
    json_t *s = json_object();
    if (!s)
        return NULL;
    json_object_set_new(s, "index", json_integer((json_int_t)sub->index));
    json_object_set_new(s, "status", json_string(caf_job_status_name(sub->status)));
    json_object_set_new(s, "attempt", json_integer(sub->attempt));
    json_object_set_new(s, "batch_id", sub->batch_id ? json_string(sub->batch_id) : json_null());
    json_object_set_new(s, "exit_code", sub->exit_code >= 0 ? json_integer(sub->exit_code) : json_null());
    json_object_set_new(s, "memory_mb", json_integer(sub->memory_mb));
    json_object_set_new(s, "time_s", json_integer(sub->time_s));
    json_object_set_new(s, "lost_since", json_real(sub->lost_since));
    json_object_set_new(s, "reason", sub->reason ? json_string(sub->reason) : json_null());
    return s;
}

/* A growing text buffer; false once out of memory. */
typedef struct text_buffer {
    char *data;
    size_t size, cap;
} text_buffer;

static bool buffer_add_line(text_buffer *b, const json_t *value)
{
    char *line = value ? caf_json_dump_compact(value) : NULL;
    size_t n = line ? strlen(line) : 0;
    if (line && b->size + n + 2 > b->cap) {
        size_t cap = (b->size + n + 2) * 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            free(line);
            return false;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (!line)
        return false;
    memcpy(b->data + b->size, line, n);
    b->size += n;
    b->data[b->size++] = '\n';
    free(line);
    return true;
}

caf_status caf_job_journal_append(caf_job *job, caf_error *err)
{
    if (job->state_bytes == 0 || job->journal_bytes == SIZE_MAX)
        return caf_error_set(err, CAF_ERR_STATE, "job %s: no saved state to journal changes to", job->name);
    text_buffer b = {0};
    bool ok = true;
    bool starts = job->journal_bytes == 0;
    if (starts) {
        json_t *header = json_pack("{s:s}", "journal_id", job->journal_id);
        ok = buffer_add_line(&b, header);
        json_decref(header);
    }
    size_t records = 0;
    for (size_t i = 0; ok && i < job->n_subjobs; i++) {
        if (!job->subjobs[i].unsaved)
            continue;
        json_t *record = caf_subjob_progress_json(&job->subjobs[i]);
        ok = buffer_add_line(&b, record);
        json_decref(record);
        records++;
    }
    if (!ok) {
        free(b.data);
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    }
    if (records == 0) {
        free(b.data);
        return CAF_OK;
    }
    char *path = caf_job_journal_path(job);
    if (!path) {
        free(b.data);
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (starts ? O_TRUNC : 0), 0644);
    caf_status rc = fd < 0 ? caf_error_errno(err, errno, "%s", path) : caf_write_all(fd, b.data, b.size, path, err);
    if (rc == CAF_OK && fdatasync(fd) != 0)
        rc = caf_error_errno(err, errno, "%s: fdatasync", path);
    if (fd >= 0 && close(fd) != 0 && rc == CAF_OK)
        rc = caf_error_errno(err, errno, "%s: close", path);
    if (rc == CAF_OK && starts) /* the journal's name must survive a crash as its records do */
        rc = caf_fsync_dir(job->working_dir, err);
    free(path);
    free(b.data);
    if (rc != CAF_OK) {
        job->journal_bytes = SIZE_MAX; /* maybe torn: only a save may follow */
        return rc;
    }
    job->journal_bytes += b.size;
    for (size_t i = 0; i < job->n_subjobs; i++)
        job->subjobs[i].unsaved = false;
    return CAF_OK;
}

/* The journal beside state_path: its path (malloc'd), NULL when out of memory. */
static char *journal_beside(const char *state_path)
{
    const char *slash = strrchr(state_path, '/');
    char *p = NULL;
    if (!slash)
        return strdup(JOURNAL_NAME);
    return asprintf(&p, "%.*s/%s", (int)(slash - state_path), state_path, JOURNAL_NAME) < 0 ? NULL : p;
}

/* Applies one journal line (text, NUL-terminated) to state; line_no names it in messages. */
static caf_status apply_record(json_t *state, const char *text, const char *path, size_t line_no, caf_error *err)
{
    json_t *subjobs = json_object_get(state, "subjobs");
    json_t *record = json_loads(text, 0, NULL);
    json_t *index = json_object_get(record, "index");
    json_t *target = json_is_integer(index) && json_integer_value(index) >= 0
                         ? json_array_get(subjobs, (size_t)json_integer_value(index))
                         : NULL;
    caf_status rc = CAF_OK;
    if (!json_is_object(record) || !json_is_object(target) ||
        !json_equal(json_object_get(target, "index"), index))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s:%zu: not a record of a subjob of the saved state", path, line_no);
    else if (json_object_update(target, record) != 0)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    json_decref(record);
    return rc;
}

/* Applies the records of the journal text (size bytes) to state when its header names the state's id. */
static caf_status apply_journal(json_t *state, char *text, size_t size, const char *path, caf_error *err)
{
    const char *id = json_string_value(json_object_get(state, "journal_id"));
    char *end = memchr(text, '\n', size);
    if (!id || !end)
        return CAF_OK;
    *end = '\0';
    json_t *header = json_loads(text, 0, NULL);
    bool ours = json_is_string(json_object_get(header, "journal_id")) &&
                !strcmp(json_string_value(json_object_get(header, "journal_id")), id);
    json_decref(header);
    if (!ours) /* the journal of an earlier state, whose removal a kill prevented */
        return CAF_OK;
    caf_status rc = CAF_OK;
    size_t line_no = 1;
    for (char *line = end + 1; rc == CAF_OK && line < text + size; line = end + 1) {
        line_no++;
        end = memchr(line, '\n', (size_t)(text + size - line));
        if (!end) /* torn by a kill inside the write: that change was never recorded */
            break;
        *end = '\0';
        rc = apply_record(state, line, path, line_no, err);
    }
    return rc;
}

caf_status caf_job_state_read(const char *state_path, json_t **state, caf_error *err)
{
    *state = NULL;
    json_t *saved = NULL;
    caf_status rc = caf_json_load_file(state_path, &saved, err);
    if (rc != CAF_OK)
        return rc;
    char *path = journal_beside(state_path);
    char *text = NULL;
    size_t size = 0;
    if (!path)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    else if (caf_path_exists(path) && (rc = caf_file_read(path, &text, &size, err)) == CAF_OK)
        rc = apply_journal(saved, text, size, path, err);
    free(text);
    free(path);
    if (rc != CAF_OK) {
        json_decref(saved);
        return rc;
    }
    *state = saved;
    return CAF_OK;
}
