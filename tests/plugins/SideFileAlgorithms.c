/* An algorithm that reads the side files of SideFileCollector's jobs through caf_algo_side_files_list (or
 * one collection's, caf_algo_collection_side_files) and saves what they say about the requested runs as
 * the payload SideFileCounts: events (from seen.txt, only the lines of the runs the job held that were
 * requested), events_bin (the same from the run-EXP-RUN.bin files), events_counter (the collected counter
 * over the requested runs, to compare), jobs, files, job_runs (every run of the listed jobs) and runs
 * ([exp, run, ...] of the listed runs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm.h"
#include "caf/log.h"

static const caf_param_spec params[] = {
    {"collection", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "read only this collection's side files "
     "(empty: every collection's)"},
    {NULL, 0, 0, NULL, NULL},
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool listed(const caf_algo_side_files *job, int exp, int run)
{
    for (size_t i = 0; i < job->run_count; i++)
        if (job->runs[i].exp == exp && job->runs[i].run == run)
            return true;
    return false;
}

/* Adds the events of seen.txt's lines whose run the job lists (the requested ones). */
static caf_status read_seen(const caf_algo_side_files *job, const char *path, int64_t *events, caf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return caf_error_set(err, CAF_ERR_IO, "cannot open %s", path);
    int exp, run;
    unsigned long long n;
    while (fscanf(f, "%d %d %llu", &exp, &run, &n) == 3)
        if (listed(job, exp, run))
            *events += (int64_t)n;
    fclose(f);
    return CAF_OK;
}

/* Adds the count of run-EXP-RUN.bin when the job lists that run. */
static caf_status read_bin(const caf_algo_side_files *job, const char *path, int64_t *events, caf_error *err)
{
    int exp, run;
    if (sscanf(base_name(path), "run-%d-%d.bin", &exp, &run) != 2 || !listed(job, exp, run))
        return CAF_OK;
    FILE *f = fopen(path, "rb");
    uint64_t n = 0;
    bool ok = f && fread(&n, sizeof n, 1, f) == 1;
    if (f)
        fclose(f);
    if (!ok)
        return caf_error_set(err, CAF_ERR_IO, "cannot read %s", path);
    *events += (int64_t)n;
    return CAF_OK;
}

static caf_algo_result count_calibrate(caf_algo_context *ctx, caf_error *err)
{
    const char *collection = caf_params_string(caf_algo_params(ctx), "collection", "");
    const caf_algo_side_files *jobs;
    size_t count;
    caf_status st = *collection ? caf_algo_collection_side_files(ctx, collection, &jobs, &count, err)
                                : caf_algo_side_files_list(ctx, &jobs, &count, err);
    if (st != CAF_OK)
        return CAF_ALGO_FAILURE;
    if (count == 0) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "no collector job kept side files for these runs");
        return CAF_ALGO_NOT_ENOUGH_DATA;
    }
    int64_t events = 0, events_bin = 0, files = 0, job_runs = 0;
    size_t run_values = 0;
    double *runs = NULL;
    for (size_t j = 0; j < count && st == CAF_OK; j++) {
        caf_info("side files: %s job %zu: %zu of its %zu runs requested, %zu files",
                 jobs[j].collection ? jobs[j].collection : "-", jobs[j].job, jobs[j].run_count,
                 jobs[j].job_run_count, jobs[j].file_count);
        files += (int64_t)jobs[j].file_count;
        job_runs += (int64_t)jobs[j].job_run_count;
        double *grown = realloc(runs, (run_values + 2 * jobs[j].run_count + 1) * sizeof *runs);
        if (!grown) {
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        runs = grown;
        for (size_t r = 0; r < jobs[j].run_count; r++) {
            runs[run_values++] = jobs[j].runs[r].exp;
            runs[run_values++] = jobs[j].runs[r].run;
        }
        for (size_t f = 0; f < jobs[j].file_count && st == CAF_OK; f++)
            st = !strcmp(base_name(jobs[j].files[f]), "seen.txt") ? read_seen(&jobs[j], jobs[j].files[f], &events, err)
                                                                  : read_bin(&jobs[j], jobs[j].files[f], &events_bin, err);
    }
    const caf_object *counter = NULL;
    if (st == CAF_OK)
        st = caf_algo_get_object(ctx, "events", &counter, err);
    caf_constants *c = NULL;
    if (st == CAF_OK)
        st = caf_constants_new(&c, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "events", events, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "events_bin", events_bin, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "events_counter", caf_counter_count(counter), err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "jobs", (int64_t)count, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "files", files, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "job_runs", job_runs, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "runs", runs, run_values, err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, "SideFileCounts", c, NULL, err);
    caf_constants_free(c);
    free(runs);
    return st == CAF_OK ? CAF_ALGO_OK : CAF_ALGO_FAILURE;
}

static const caf_algorithm_descriptor count_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "count",
    .description = "Counts the requested runs' events from the side files of SideFileCollector's jobs (tests).",
    .collector = "SideFileCollector",
    .params = params,
    .calibrate = count_calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&count_algorithm, NULL};
    return list;
}
