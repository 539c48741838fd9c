/* What an algorithm sees of the side files its collector jobs kept: per job, the files and the runs it
 * held, for the jobs that held a run of the current execution (basf2: the files of output_patterns that
 * Algorithm.data_input hands to the algorithm, e.g. Millepede's binaries). */
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"

void caf_algo_side_answers_clear(caf_algorithm *alg)
{
    for (size_t i = 0; i < alg->side_answer_count; i++) {
        caf_algo_side_files *list = alg->side_answers[i];
        for (size_t j = 0; list && list[j].job_runs; j++)
            free((void *)list[j].runs);
        free(list);
    }
    free(alg->side_answers);
    alg->side_answers = NULL;
    alg->side_answer_count = alg->side_answer_capacity = 0;
}

void caf_algo_side_files_close(caf_algorithm *alg)
{
    caf_algo_side_answers_clear(alg);
    for (size_t i = 0; alg->side_jobs && alg->side_job_counts && i < alg->input_count; i++)
        caf_side_files_jobs_free(alg->side_jobs[i], alg->side_job_counts[i]);
    free(alg->side_jobs);
    free(alg->side_job_counts);
    alg->side_jobs = NULL;
    alg->side_job_counts = NULL;
    alg->side_files_read = false;
}

/* Reads the manifest of every input once. */
static caf_status read_manifests(caf_algorithm *alg, caf_error *err)
{
    if (alg->side_files_read)
        return CAF_OK;
    alg->side_jobs = calloc(alg->input_count + 1, sizeof *alg->side_jobs);
    alg->side_job_counts = calloc(alg->input_count + 1, sizeof *alg->side_job_counts);
    caf_status rc = alg->side_jobs && alg->side_job_counts ? CAF_OK
                                                           : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < alg->input_count; i++) {
        char *manifest = caf_side_files_manifest_path(alg->input_paths[i]);
        rc = manifest ? caf_side_files_read(manifest, &alg->side_jobs[i], &alg->side_job_counts[i], err)
                      : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(manifest);
    }
    if (rc != CAF_OK) {
        caf_error_prefix(err, "algorithm %s: side files: ", alg->full_name);
        caf_algo_side_files_close(alg);
        return rc;
    }
    alg->side_files_read = true;
    return CAF_OK;
}

/* The runs of job that are among the sorted requested runs (malloc'd into *out; *count may be 0). */
static caf_status requested_runs_of(const caf_algorithm *alg, const caf_side_files_job *job, caf_exprun **out,
                                    size_t *count, caf_error *err)
{
    *count = 0;
    *out = malloc((job->run_count + 1) * sizeof **out);
    if (!*out)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0, j = 0; i < job->run_count && j < alg->run_count;) {
        int c = caf_exprun_compare(job->runs[i], alg->runs[j]);
        if (c == 0)
            (*out)[(*count)++] = job->runs[i];
        i += c <= 0;
        j += c >= 0;
    }
    return CAF_OK;
}

/* Lists the jobs of the inputs of collection (NULL: every input) that held a requested run. */
static caf_status list_jobs(caf_algorithm *alg, const char *collection, const caf_algo_side_files **out,
                            size_t *count, caf_error *err)
{
    *out = NULL;
    *count = 0;
    caf_status rc = caf_algo_require_execution(alg, "listing side files", err);
    if (rc == CAF_OK)
        rc = read_manifests(alg, err);
    size_t total = 0;
    bool any_input = false;
    for (size_t i = 0; rc == CAF_OK && i < alg->input_count; i++) {
        const char *of = alg->input_collections ? alg->input_collections[i] : NULL;
        if (collection && !(of && strcmp(of, collection) == 0))
            continue;
        any_input = true;
        total += alg->side_job_counts[i];
    }
    if (rc == CAF_OK && collection && !any_input)
        return caf_algo_unknown_collection(alg, collection, err);
    if (rc == CAF_OK)
        rc = caf_algo_reserve((void **)&alg->side_answers, &alg->side_answer_capacity, alg->side_answer_count + 1,
                              sizeof *alg->side_answers, err);
    caf_algo_side_files *list = NULL;
    if (rc == CAF_OK && !(list = calloc(total + 1, sizeof *list))) /* a zeroed entry ends the list */
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc != CAF_OK)
        return rc;
    alg->side_answers[alg->side_answer_count++] = list;
    size_t n = 0;
    for (size_t i = 0; rc == CAF_OK && i < alg->input_count; i++) {
        const char *of = alg->input_collections ? alg->input_collections[i] : NULL;
        if (collection && !(of && strcmp(of, collection) == 0))
            continue;
        for (size_t k = 0; rc == CAF_OK && k < alg->side_job_counts[i]; k++) {
            const caf_side_files_job *job = &alg->side_jobs[i][k];
            caf_exprun *runs = NULL;
            size_t run_count = 0;
            rc = requested_runs_of(alg, job, &runs, &run_count, err);
            if (rc != CAF_OK || run_count == 0) {
                free(runs);
                continue;
            }
            list[n++] = (caf_algo_side_files){
                .collection = of,
                .job = job->job,
                .runs = runs,
                .run_count = run_count,
                .job_runs = job->runs, /* never NULL: the reader allocates one more than needed */
                .job_run_count = job->run_count,
                .files = (const char *const *)job->files,
                .file_count = job->file_count,
            };
        }
    }
    *out = list;
    *count = n;
    return rc;
}

caf_status caf_algo_side_files_list(caf_algo_context *ctx, const caf_algo_side_files **out, size_t *count,
                                    caf_error *err)
{
    return list_jobs(ctx->alg, NULL, out, count, err);
}

caf_status caf_algo_collection_side_files(caf_algo_context *ctx, const char *collection,
                                          const caf_algo_side_files **out, size_t *count, caf_error *err)
{
    return list_jobs(ctx->alg, collection, out, count, err);
}
