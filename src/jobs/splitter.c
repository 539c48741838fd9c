/* Splitting a job into subjobs: by files per subjob, by a number of subjobs, or by argument sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/job.h"

/* Fills the derived paths and per-attempt resources of subjob index. */
static caf_status subjob_init(caf_job *job, caf_subjob *sub, size_t index, caf_error *err)
{
    memset(sub, 0, sizeof *sub);
    sub->index = index;
    sub->exit_code = -1;
    sub->memory_mb = job->backend_args.memory_mb;
    sub->time_s = job->backend_args.time_s;
    char number[32];
    snprintf(number, sizeof number, "%zu", index);
    char *subjobs = caf_path_join(job->working_dir, "subjobs");
    sub->dir = subjobs ? caf_path_join(subjobs, number) : NULL;
    free(subjobs);
    sub->script_path = sub->dir ? caf_path_join(sub->dir, "run.sh") : NULL;
    sub->exit_code_file = sub->dir ? caf_path_join(sub->dir, "exit_code") : NULL;
    sub->output_dir = caf_path_join(job->output_dir, number);
    if (!sub->dir || !sub->script_path || !sub->exit_code_file || !sub->output_dir)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    return CAF_OK;
}

static caf_status add_files(caf_subjob *sub, const caf_strings *files, size_t from, size_t to, caf_error *err)
{
    for (size_t i = from; i < to; i++) {
        caf_status rc = caf_strings_push(&sub->input_files, files->items[i], err);
        if (rc != CAF_OK)
            return rc;
    }
    return CAF_OK;
}

caf_status caf_job_split(caf_job *job, caf_error *err)
{
    caf_job_free_subjobs(job);
    const caf_splitter *sp = &job->splitter;
    int rules = (sp->max_files_per_subjob > 0) + (sp->max_subjobs > 0) + (sp->arg_sets != NULL);
    if (rules > 1)
        return caf_error_set(err, CAF_ERR_INVALID,
                             "job %s: choose one of max_files_per_subjob, max_subjobs and arg_sets", job->name);
    if (!job->working_dir || !job->output_dir)
        return caf_error_set(err, CAF_ERR_INVALID, "job %s: no working_dir or output_dir", job->name);
    size_t n_files = job->input_files.count;
    size_t n = 1, per = n_files;
    if (sp->arg_sets) {
        n = sp->n_arg_sets;
    } else if (sp->max_files_per_subjob > 0 && n_files > 0) {
        per = (size_t)sp->max_files_per_subjob;
        n = (n_files + per - 1) / per;
    } else if (sp->max_subjobs > 0 && n_files > 0) {
        n = (size_t)sp->max_subjobs < n_files ? (size_t)sp->max_subjobs : n_files;
    }
    if (n == 0)
        return caf_error_set(err, CAF_ERR_INVALID, "job %s: arg_sets is empty", job->name);
    job->subjobs = calloc(n, sizeof *job->subjobs);
    if (!job->subjobs)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    job->n_subjobs = n;
    caf_status rc = CAF_OK;
    size_t next_file = 0;
    for (size_t i = 0; i < n && rc == CAF_OK; i++) {
        caf_subjob *sub = &job->subjobs[i];
        rc = subjob_init(job, sub, i, err);
        if (rc != CAF_OK)
            break;
        if (sp->arg_sets) {
            for (size_t a = 0; a < sp->arg_sets[i].count && rc == CAF_OK; a++)
                rc = caf_strings_push(&sub->args, sp->arg_sets[i].items[a], err);
            if (rc == CAF_OK)
                rc = add_files(sub, &job->input_files, 0, n_files, err);
        } else if (sp->max_subjobs > 0) {
            /* even spread: the first (n_files % n) subjobs take one file more */
            size_t take = n_files / n + (i < n_files % n ? 1 : 0);
            rc = add_files(sub, &job->input_files, next_file, next_file + take, err);
            next_file += take;
        } else {
            size_t end = next_file + per < n_files ? next_file + per : n_files;
            rc = add_files(sub, &job->input_files, next_file, end, err);
            next_file = end;
        }
    }
    if (rc != CAF_OK)
        caf_job_free_subjobs(job);
    return rc;
}
