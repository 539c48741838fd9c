/* The job model: statuses, string lists, the derived job status and the retry rule. */
#include "caf/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"

static const char *const status_names[] = {"init", "submitted", "running", "completed", "failed"};

const char *caf_job_status_name(caf_job_status status)
{
    if ((unsigned)status < sizeof status_names / sizeof *status_names)
        return status_names[status];
    return "unknown";
}

caf_status caf_job_status_parse(const char *name, caf_job_status *out)
{
    for (size_t i = 0; i < sizeof status_names / sizeof *status_names; i++)
        if (name && strcmp(name, status_names[i]) == 0) {
            *out = (caf_job_status)i;
            return CAF_OK;
        }
    return CAF_ERR_INVALID;
}

caf_status caf_strings_push(caf_strings *list, const char *text, caf_error *err)
{
    char *copy = strdup(text);
    char **grown = copy ? realloc(list->items, (list->count + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    grown[list->count++] = copy;
    list->items = grown;
    return CAF_OK;
}

void caf_strings_free(caf_strings *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static void subjob_free(caf_subjob *sub)
{
    caf_strings_free(&sub->args);
    caf_strings_free(&sub->input_files);
    free(sub->batch_id);
    free(sub->dir);
    free(sub->script_path);
    free(sub->exit_code_file);
    free(sub->output_dir);
    free(sub->reason);
}

void caf_job_free_subjobs(caf_job *job)
{
    for (size_t i = 0; i < job->n_subjobs; i++)
        subjob_free(&job->subjobs[i]);
    free(job->subjobs);
    job->subjobs = NULL;
    job->n_subjobs = 0;
}

void caf_job_close(caf_job *job)
{
    if (!job)
        return;
    caf_job_free_subjobs(job);
    free(job->name);
    free(job->command);
    caf_strings_free(&job->args);
    caf_strings_free(&job->input_files);
    free(job->working_dir);
    free(job->output_dir);
    caf_strings_free(&job->output_patterns);
    caf_strings_free(&job->input_sandbox);
    caf_strings_free(&job->setup_commands);
    caf_strings_free(&job->env_names);
    caf_strings_free(&job->env_values);
    free(job->backend_args.queue);
    caf_strings_free(&job->backend_args.extra_lines);
    for (size_t i = 0; i < job->splitter.n_arg_sets; i++)
        caf_strings_free(&job->splitter.arg_sets[i]);
    free(job->splitter.arg_sets);
    free(job->backend);
    json_decref(job->backend_settings);
    json_decref(job->policy);
    memset(job, 0, sizeof *job);
}

caf_job_status caf_job_status_of(const caf_job *job)
{
    size_t count[5] = {0};
    for (size_t i = 0; i < job->n_subjobs; i++)
        if ((unsigned)job->subjobs[i].status < 5)
            count[job->subjobs[i].status]++;
    if (count[CAF_JOB_RUNNING])
        return CAF_JOB_RUNNING;
    bool unfinished = count[CAF_JOB_INIT] || count[CAF_JOB_SUBMITTED];
    if (!unfinished && count[CAF_JOB_FAILED])
        return CAF_JOB_FAILED;
    if (!unfinished)
        return CAF_JOB_COMPLETED; /* includes a job with no subjobs: nothing left to do */
    if (count[CAF_JOB_SUBMITTED] || count[CAF_JOB_COMPLETED] || count[CAF_JOB_FAILED])
        return CAF_JOB_SUBMITTED;
    return CAF_JOB_INIT;
}

char *caf_job_state_path(const caf_job *job)
{
    return caf_path_join(job->working_dir, "caf-job.json");
}

static long raised(long value, double factor)
{
    if (value <= 0 || factor <= 1.0)
        return value;
    double next = ceil((double)value * factor);
    return next > 1e15 ? value : (long)next;
}

bool caf_job_fail_attempt(caf_job *job, caf_subjob *sub, const char *reason)
{
    free(sub->reason);
    sub->reason = strdup(reason ? reason : "failed");
    free(sub->batch_id);
    sub->batch_id = NULL;
    sub->lost_since = 0;
    sub->unsaved = true;
    if (sub->attempt <= job->retry.max_retries) {
        sub->status = CAF_JOB_INIT;
        sub->memory_mb = raised(sub->memory_mb, job->retry.memory_factor);
        sub->time_s = raised(sub->time_s, job->retry.time_factor);
        return true;
    }
    sub->status = CAF_JOB_FAILED;
    return false;
}

size_t caf_job_retry_failed(caf_job *job)
{
    size_t n = 0;
    for (size_t i = 0; i < job->n_subjobs; i++) {
        caf_subjob *sub = &job->subjobs[i];
        if (sub->status != CAF_JOB_FAILED)
            continue;
        sub->status = CAF_JOB_INIT; /* the attempt count goes on: attempts stay numbered uniquely */
        free(sub->batch_id);
        sub->batch_id = NULL;
        sub->lost_since = 0;
        sub->unsaved = true;
        n++;
    }
    return n;
}
