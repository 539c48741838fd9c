/* After a collection's collector jobs: the manifest of the side files each job kept through the
 * collection's output_patterns, with the runs the job held (its collector output's RunRange), beside the
 * merged collector output, where the algorithms find it (caf/side_files.h). */
#include <stdlib.h>
#include <string.h>

#include "caf/collector_output.h"
#include "caf/file.h"
#include "caf/side_files.h"
#include "orchestration/run_internal.h"

/* Job i's entry: the runs of its collector output and the names of its side files relative to folder. */
static caf_status describe_job(const run_collection *col, size_t i, const char *output_name, const char *folder,
                               caf_side_files_job *job, char *reason, size_t reason_size, caf_error *err)
{
    const caf_subjob *s = &col->job.subjobs[i];
    size_t prefix = strlen(folder);
    job->job = i;
    if (strncmp(s->output_dir, folder, prefix) != 0 || s->output_dir[prefix] != '/')
        return caf_error_set(err, CAF_ERR_STATE, "collector subjob %zu's outputs %s are not inside %s", i,
                             s->output_dir, folder);
    char *output = caf_path_join(s->output_dir, output_name);
    caf_collector_output *f = NULL;
    caf_status rc = output ? caf_collector_output_open(output, &f, err)
                           : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(output);
    if (rc != CAF_OK)
        return rc;
    const caf_run_range *rr = caf_collector_output_run_range(f);
    if (!(job->runs = malloc((rr->count + 1) * sizeof *job->runs)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    else if (rr->count > 0) /* a job whose skim kept no event holds no run, and rr->runs is NULL */
        memcpy(job->runs, rr->runs, rr->count * sizeof *job->runs);
    job->run_count = rc == CAF_OK ? rr->count : 0;
    caf_collector_output_close(f);
    char **names = NULL;
    size_t n = 0;
    caf_error scan_err = {0};
    if (rc == CAF_OK && caf_side_files_scan(s->output_dir, (const char *const *)col->cfg.output_patterns.items,
                                            col->cfg.output_patterns.count, output_name, &names, &n,
                                            &scan_err) != CAF_OK) {
        snprintf(reason, reason_size, "collector subjob %zu%s%s%s: %s", col->first + i,
                 col->named ? " of collection '" : "", col->named ? col->cfg.name : "", col->named ? "'" : "",
                 scan_err.message);
        rc = CAF_ERR_STATE;
    }
    if (rc == CAF_OK && !(job->files = calloc(n + 1, sizeof *job->files)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; rc == CAF_OK && k < n; k++) {
        if (asprintf(&job->files[k], "%s/%s", s->output_dir + prefix + 1, names[k]) < 0) {
            job->files[k] = NULL;
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else {
            job->file_count++;
        }
    }
    caf_side_files_strings_free(names, n);
    return rc;
}

caf_status run_side_files_record(const run_cal *c, size_t k, const char *merged, const char *output_name,
                                 char *reason, size_t reason_size, caf_error *err)
{
    const run_collection *col = &c->cols[k];
    char *folder = strdup(merged), *manifest = caf_side_files_manifest_path(merged);
    char *slash = folder ? strrchr(folder, '/') : NULL;
    caf_side_files_job *jobs = calloc(col->job.n_subjobs + 1, sizeof *jobs);
    caf_status rc = folder && manifest && slash && jobs ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (slash)
        *slash = '\0';
    size_t n = 0;
    for (; rc == CAF_OK && n < col->job.n_subjobs; n++)
        rc = describe_job(col, n, output_name, folder, &jobs[n], reason, reason_size, err);
    if (rc == CAF_OK)
        rc = caf_side_files_write(manifest, jobs, n, err);
    caf_side_files_jobs_free(jobs, n);
    free(folder);
    free(manifest);
    return rc;
}
