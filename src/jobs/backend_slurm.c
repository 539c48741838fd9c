/* Slurm: subjobs go out as sbatch job arrays (one sbatch per group of subjobs asking for the same
 * memory and time, normally one per job), throttled with --array=0-N%M. One squeue call per poll
 * answers for every subjob; those squeue no longer lists are asked of sacct (if the cluster keeps
 * accounting) and otherwise reported unknown, so the scheduler fails them once their exit-code file
 * does not appear. */
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "jobs/batch.h"

/* Slurm's default MaxArraySize is 1001 (indices 0..1000): bigger submissions are split. */
#define SLURM_MAX_ARRAY 1000

typedef struct slurm_backend {
    batch_settings settings; /* first: batch_backend_open fills it */
    bool no_sacct; /* sacct said accounting is disabled: do not ask again */
} slurm_backend;

static caf_status slurm_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    caf_status rc = batch_backend_open(backend, "slurm", settings, sizeof(slurm_backend), err);
    slurm_backend *s = backend->state;
    if (rc == CAF_OK && s->settings.max_running == 0)
        s->settings.max_running = 256;
    return rc;
}

caf_status slurm_submit_command(const caf_job *job, const batch_settings *settings, caf_subjob **subs,
                                size_t n, batch_command *cmd, caf_error *err)
{
    char name[48], duration[32];
    batch_safe_name(job->name, name, sizeof name);
    const caf_backend_args *args = &job->backend_args;
    caf_status rc = batch_command_add(cmd, "sbatch", err);
    if (rc == CAF_OK)
        rc = batch_command_add(cmd, "--parsable", err);
    if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "--job-name=caf-%s", name);
    if (rc == CAF_OK && settings->max_running > 0)
        rc = batch_command_addf(cmd, err, "--array=0-%zu%%%d", n - 1, settings->max_running);
    else if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "--array=0-%zu", n - 1);
    /* The driver and wrapper scripts are found by absolute path; sbatch runs in the working folder so
     * that Slurm's own log needs no path with characters sbatch would expand (%, \). */
    if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "--chdir=%s", job->working_dir);
    /* Slurm expands %-patterns in the log path made absolute with the working folder, and a
     * backslash there turns expansion off: such folders get no Slurm log rather than a failed launch. */
    if (rc == CAF_OK)
        rc = batch_command_add(cmd, strpbrk(job->working_dir, "%\\") ? "--output=/dev/null"
                                                                     : "--output=subjobs/slurm-%A_%a.log", err);
    if (rc == CAF_OK && args->queue)
        rc = batch_command_addf(cmd, err, "--partition=%s", args->queue);
    if (rc == CAF_OK && subs[0]->memory_mb > 0)
        rc = batch_command_addf(cmd, err, "--mem=%ldM", subs[0]->memory_mb);
    if (rc == CAF_OK && subs[0]->time_s > 0) {
        batch_format_duration(subs[0]->time_s, true, duration, sizeof duration);
        rc = batch_command_addf(cmd, err, "--time=%s", duration);
    }
    if (rc == CAF_OK && args->cores > 0)
        rc = batch_command_addf(cmd, err, "--cpus-per-task=%d", args->cores);
    for (size_t i = 0; rc == CAF_OK && i < settings->submit_args.count; i++)
        rc = batch_command_add(cmd, settings->submit_args.items[i], err);
    if (rc != CAF_OK)
        return rc;
    /* No script argument: sbatch reads the driver from stdin (it spools a copy, so nothing to clean). */
    cmd->stdin_text = batch_driver_script("#!/bin/bash", &args->extra_lines, "SLURM_ARRAY_TASK_ID", 0, subs, n);
    if (!cmd->stdin_text)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory writing the sbatch script", job->name);
    return CAF_OK;
}

caf_status slurm_parse_submitted(const char *out, char *id, size_t size, caf_error *err)
{
    /* --parsable prints "jobid" or "jobid;cluster", possibly after warnings on earlier lines. */
    const char *line = out, *p = out;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        if (p[0] >= '0' && p[0] <= '9')
            line = p;
        p = nl ? nl + 1 : NULL;
    }
    size_t len = strspn(line, "0123456789");
    if (len == 0 || len >= size)
        return caf_error_set(err, CAF_ERR_FORMAT, "sbatch printed no job id (output: \"%.80s\")", out);
    memcpy(id, line, len);
    id[len] = '\0';
    return CAF_OK;
}

void slurm_state_report(const char *state, const char *reason, const char *time_limit, caf_batch_report *r)
{
    static const char *const pending[] = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                                          "RESIZING", "SUSPENDED", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT",
                                          NULL};
    static const char *const running[] = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", NULL};
    for (size_t i = 0; pending[i]; i++)
        if (strcmp(state, pending[i]) == 0)
            return batch_report(r, CAF_BATCH_PENDING, NULL);
    for (size_t i = 0; running[i]; i++)
        if (strcmp(state, running[i]) == 0)
            return batch_report(r, CAF_BATCH_RUNNING, NULL);
    if (strcmp(state, "COMPLETED") == 0)
        return batch_report(r, CAF_BATCH_FINISHED, NULL);
    /* A non-zero exit of the wrapper: its exit-code file tells the rest. */
    if (strcmp(state, "FAILED") == 0 && (!reason || !reason[0] || strcmp(reason, "NonZeroExitCode") == 0))
        return batch_report(r, CAF_BATCH_FINISHED, NULL);
    if (strcmp(state, "TIMEOUT") == 0)
        return batch_report(r, CAF_BATCH_FAILED, "Slurm TIMEOUT: exceeded its time limit%s%s%s",
                            time_limit && time_limit[0] ? " of " : "", time_limit ? time_limit : "",
                            time_limit && time_limit[0] ? " (raise backend_args.time_s)" : "");
    if (strcmp(state, "OUT_OF_MEMORY") == 0)
        return batch_report(r, CAF_BATCH_FAILED, "Slurm OUT_OF_MEMORY: exceeded its memory limit");
    if (strcmp(state, "NODE_FAIL") == 0)
        return batch_report(r, CAF_BATCH_FAILED, "Slurm NODE_FAIL: its node failed while it ran");
    if (strcmp(state, "CANCELLED") == 0)
        return batch_report(r, CAF_BATCH_FAILED, "Slurm CANCELLED: removed from the batch system%s%s",
                            reason && reason[0] && strcmp(reason, "None") != 0 ? ": " : "",
                            reason && strcmp(reason, "None") != 0 ? reason : "");
    return batch_report(r, CAF_BATCH_FAILED, "Slurm %s%s%s", state, reason && reason[0] ? ": " : "",
                        reason ? reason : "");
}

struct status_ctx {
    caf_subjob **sorted;
    caf_subjob **subs;
    size_t n;
    caf_batch_report *reports;
    bool *seen;
};

/* Position of sorted[k] in the caller's subs (reports are indexed like subs). */
static size_t caller_index(const struct status_ctx *c, const caf_subjob *sub)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->subs[i] == sub)
            return i;
    return c->n;
}

static void apply_line(char *line, void *ctx)
{
    struct status_ctx *c = ctx;
    char *fields[4] = {NULL, "", "", ""};
    char *save = NULL;
    fields[0] = strtok_r(line, "|", &save);
    for (int i = 1; i < 4 && fields[0]; i++) {
        char *f = strtok_r(NULL, "|", &save);
        if (!f)
            break;
        fields[i] = f;
    }
    if (!fields[0] || !fields[1][0])
        return;
    fields[0] += strspn(fields[0], " ");
    /* sacct writes "CANCELLED by 0": the first word is the state. */
    char *state = fields[1];
    state[strcspn(state, " ")] = '\0';
    if (!strchr(fields[0], '_')) {
        /* A whole array cancelled while pending is listed once, as "123": it speaks for every task of
         * the array that has no line of its own. */
        size_t len = strlen(fields[0]);
        for (size_t i = 0; i < c->n; i++) {
            const char *id = c->subs[i]->batch_id;
            if (!c->seen[i] && id && strncmp(id, fields[0], len) == 0 && id[len] == '_')
                slurm_state_report(state, fields[2], fields[3], &c->reports[i]);
        }
        return;
    }
    long k = batch_find_id(c->sorted, c->n, fields[0]);
    if (k < 0)
        return;
    size_t at = caller_index(c, c->sorted[k]);
    if (at >= c->n)
        return;
    slurm_state_report(state, fields[2], fields[3], &c->reports[at]);
    c->seen[at] = true;
}

void slurm_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen)
{
    caf_subjob **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return;
    batch_sort_by_id(subs, n, sorted);
    struct status_ctx ctx = {sorted, subs, n, reports, seen};
    batch_for_each_line(text, apply_line, &ctx);
    free(sorted);
}

/* "123,456": the array job ids of the subjobs (comma-separated, each once), or of those not yet seen. */
static char *array_ids(caf_subjob **subs, size_t n, const bool *seen)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (seen && seen[i])
            continue;
        const char *id = subs[i]->batch_id;
        size_t idlen = strcspn(id, "_");
        bool dup = false;
        for (const char *p = out; *p && !dup; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0))
            dup = strcspn(p, ",") == idlen && strncmp(p, id, idlen) == 0;
        if (dup)
            continue;
        if (len + idlen + 2 > cap) {
            cap = (len + idlen + 2) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        if (len > 0)
            out[len++] = ',';
        memcpy(out + len, id, idlen);
        len += idlen;
        out[len] = '\0';
    }
    return out;
}

static bool only_unknown_ids(const caf_process_result *res)
{
    return res->err_text && strstr(res->err_text, "Invalid job id") != NULL;
}

static caf_status slurm_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_error *err)
{
    static const batch_array_style style = {slurm_submit_command, slurm_parse_submitted, SLURM_MAX_ARRAY, 0, "_", ""};
    slurm_backend *s = backend->state;
    return batch_submit_arrays(job, &s->settings, subs, n, &style, err);
}

/* Asks sacct about the subjobs squeue no longer lists (finished longer ago than MinJobAge). */
static void ask_sacct(slurm_backend *s, const caf_job *job, caf_subjob **subs, size_t n,
                      caf_batch_report *reports, bool *seen)
{
    char *ids = array_ids(subs, n, seen);
    if (!ids || !ids[0]) {
        free(ids);
        return;
    }
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_error err = {0};
    caf_status rc = batch_command_add(&cmd, "sacct", &err);
    const char *fixed[] = {"--noheader", "--parsable2", "--allocations", "--format=JobID,State", NULL};
    for (size_t i = 0; rc == CAF_OK && fixed[i]; i++)
        rc = batch_command_add(&cmd, fixed[i], &err);
    if (rc == CAF_OK)
        rc = batch_command_addf(&cmd, &err, "--jobs=%s", ids);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, &err);
    if (rc == CAF_OK && res.exit_code == 0) {
        slurm_apply_status(res.out_text, subs, n, reports, seen);
    } else if (rc == CAF_OK && res.err_text && strstr(res.err_text, "accounting storage is disabled")) {
        caf_info("job %s: this Slurm keeps no accounting; subjobs squeue forgot are judged by their "
                 "exit-code files alone", job->name);
        s->no_sacct = true;
    } else if (rc == CAF_OK) {
        batch_command_failed(&cmd, &res, &err);
    }
    if (err.code != CAF_OK)
        caf_debug("job %s: sacct gave no answer: %s", job->name, err.message);
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    free(ids);
}

static caf_status slurm_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_batch_report *reports, caf_error *err)
{
    slurm_backend *s = backend->state;
    bool *seen = calloc(n, sizeof *seen);
    char *ids = array_ids(subs, n, NULL);
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = seen && ids ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const char *fixed[] = {"squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r|%l", NULL};
    for (size_t i = 0; rc == CAF_OK && fixed[i]; i++)
        rc = batch_command_add(&cmd, fixed[i], err);
    if (rc == CAF_OK)
        rc = batch_command_addf(&cmd, err, "--jobs=%s", ids);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0 && !only_unknown_ids(&res))
        rc = batch_command_failed(&cmd, &res, err);
    if (rc == CAF_OK) {
        for (size_t i = 0; i < n; i++)
            batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
        if (res.exit_code == 0)
            slurm_apply_status(res.out_text, subs, n, reports, seen);
        if (!s->no_sacct)
            ask_sacct(s, job, subs, n, reports, seen);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    free(ids);
    free(seen);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

static caf_status slurm_cancel(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    slurm_backend *s = backend->state;
    /* scancel takes array task ids ("123_4"); a few hundred per call keeps the argv modest. */
    caf_status rc = batch_cancel_ids("scancel", subs, n, NULL, 500, s->settings.query_timeout_s, only_unknown_ids, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

caf_status slurm_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count, caf_error *err)
{
    (void)err_text;
    if (exit_code != 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "squeue failed");
    long n = 0;
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n"), lead = strspn(line, " \t");
        if (lead < len && (line[lead] < '0' || line[lead] > '9'))
            return caf_error_set(err, CAF_ERR_FORMAT, "a line that is no job id: %.*s", (int)(len < 80 ? len : 80),
                                 line);
        n += lead < len;
        line += len + (line[len] == '\n');
    }
    *count = n;
    return CAF_OK;
}

/* Every pending and running job and array task of the user (--array: one line per task, as MaxSubmitJobs
 * counts them). */
static caf_status slurm_count_user_jobs(caf_backend *backend, long *count, caf_error *err)
{
    static const char *const argv[] = {"squeue", "--noheader", "--array", "--format=%i", "-u", BATCH_USER, NULL};
    return batch_count_user_jobs(backend, argv, slurm_parse_user_jobs, count, err);
}

const caf_backend_ops caf_backend_ops_slurm = {
    .name = "slurm",
    .summary = "Slurm: sbatch job arrays (--array=0-N%M), one squeue (+ sacct) call per poll",
    .open = slurm_open,
    .submit = slurm_submit,
    .poll = slurm_poll,
    .cancel = slurm_cancel,
    .count_user_jobs = slurm_count_user_jobs,
    .wait = NULL,
    .close = batch_backend_close,
};
