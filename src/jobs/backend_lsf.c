/* IBM Spectrum LSF: bsub job arrays (-J "name[1-N]%M", the driver script on stdin; one bsub per group
 * of subjobs asking for the same memory and time), one `bjobs -a -w` call per poll, bkill to cancel.
 * Array elements are "JOBID[INDEX]" to LSF; INDEX starts at 1 and picks the subjob via LSB_JOBINDEX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

typedef struct lsf_backend {
    batch_settings settings; /* first: batch_backend_open fills it */
} lsf_backend;

/* LSF's default MAX_JOB_ARRAY_SIZE is 1000. */
#define LSF_MAX_ARRAY 1000

static caf_status lsf_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    caf_status rc = batch_backend_open(backend, "lsf", settings, sizeof(lsf_backend), err);
    lsf_backend *s = backend->state;
    if (rc == CAF_OK && s->settings.max_running == 0)
        s->settings.max_running = 256;
    return rc;
}

caf_status lsf_submit_command(const caf_job *job, const batch_settings *settings, caf_subjob **subs,
                              size_t n, batch_command *cmd, caf_error *err)
{
    char name[48];
    batch_safe_name(job->name, name, sizeof name);
    const caf_backend_args *args = &job->backend_args;
    caf_status rc = batch_command_add(cmd, "bsub", err);
    if (rc == CAF_OK)
        rc = batch_command_add(cmd, "-J", err);
    if (rc == CAF_OK && settings->max_running > 0)
        rc = batch_command_addf(cmd, err, "caf-%s[1-%zu]%%%d", name, n, settings->max_running);
    else if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "caf-%s[1-%zu]", name, n);
    /* Relative to the working folder bsub runs in; %J and %I are LSF's job id and array index. Without
     * -o LSF would mail the output. */
    if (rc == CAF_OK)
        rc = batch_command_add(cmd, "-o", err);
    if (rc == CAF_OK) /* like Slurm's, a % in the folder could be taken for a pattern */
        rc = batch_command_add(cmd, strpbrk(job->working_dir, "%\\") ? "/dev/null" : "subjobs/lsf-%J_%I.log", err);
    if (rc == CAF_OK && args->queue) {
        rc = batch_command_add(cmd, "-q", err);
        if (rc == CAF_OK)
            rc = batch_command_add(cmd, args->queue, err);
    }
    if (rc == CAF_OK && subs[0]->memory_mb > 0) {
        rc = batch_command_add(cmd, "-M", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "%ldMB", subs[0]->memory_mb);
    }
    if (rc == CAF_OK && subs[0]->time_s > 0) {
        /* -W takes [hour:]minute; round up so the limit is never shorter than asked. */
        long minutes = (subs[0]->time_s + 59) / 60;
        rc = batch_command_add(cmd, "-W", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "%ld:%02ld", minutes / 60, minutes % 60);
    }
    if (rc == CAF_OK && args->cores > 0) {
        rc = batch_command_add(cmd, "-n", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "%d", args->cores);
    }
    for (size_t i = 0; rc == CAF_OK && i < settings->submit_args.count; i++)
        rc = batch_command_add(cmd, settings->submit_args.items[i], err);
    if (rc != CAF_OK)
        return rc;
    /* No command argument: bsub reads the job script, #BSUB lines included, from stdin. */
    cmd->stdin_text = batch_driver_script("#!/bin/bash", &args->extra_lines, "LSB_JOBINDEX", 1, subs, n);
    if (!cmd->stdin_text)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory writing the bsub script", job->name);
    return CAF_OK;
}

caf_status lsf_parse_submitted(const char *out, char *id, size_t size, caf_error *err)
{
    /* "Job <1234> is submitted to default queue <normal>." */
    const char *p = strstr(out, "Job <");
    size_t len = p ? strspn(p + 5, "0123456789") : 0;
    if (!p || len == 0 || p[5 + len] != '>' || len >= size)
        return caf_error_set(err, CAF_ERR_FORMAT, "bsub printed no job id (output: \"%.80s\")", out);
    memcpy(id, p + 5, len);
    id[len] = '\0';
    return CAF_OK;
}

struct lsf_ctx {
    caf_subjob **subs;
    size_t n;
    caf_batch_report *reports;
    bool *seen;
};

static void lsf_line(char *line, void *ctx)
{
    struct lsf_ctx *c = ctx;
    char *tok[12] = {0};
    char *save = NULL;
    size_t count = 0;
    for (char *t = strtok_r(line, " \t", &save); t && count < 12; t = strtok_r(NULL, " \t", &save))
        tok[count++] = t;
    if (count < 4 || !(tok[0][0] >= '0' && tok[0][0] <= '9'))
        return; /* the header, "Job <123> is not found", anything else */
    /* The element index: in JOBID ("1234[3]", with LSB_BJOBS_DISPLAY_ENH) or at the end of JOB_NAME
     * ("caf-x[3]"), whose column moves left when EXEC_HOST is still empty. */
    char id[96];
    size_t idlen = strspn(tok[0], "0123456789");
    const char *index = NULL;
    if (tok[0][idlen] == '[')
        index = tok[0] + idlen;
    for (size_t i = 4; !index && i < count; i++) {
        size_t len = strlen(tok[i]);
        char *open = strrchr(tok[i], '[');
        if (len > 2 && tok[i][len - 1] == ']' && open && strspn(open + 1, "0123456789") == len - (size_t)(open - tok[i]) - 2)
            index = open;
    }
    if (index)
        snprintf(id, sizeof id, "%.*s%.*s", (int)idlen, tok[0], (int)strcspn(index, "]") + 1, index);
    else
        snprintf(id, sizeof id, "%.*s", (int)idlen, tok[0]); /* a job that is not an array element */
    for (size_t k = 0; k < c->n; k++) {
        if (c->seen[k] || !c->subs[k]->batch_id || strcmp(c->subs[k]->batch_id, id) != 0)
            continue;
        const char *stat = tok[2];
        caf_batch_report *r = &c->reports[k];
        if (strcmp(stat, "RUN") == 0 || strcmp(stat, "USUSP") == 0 || strcmp(stat, "SSUSP") == 0 ||
            strcmp(stat, "PROV") == 0)
            batch_report(r, CAF_BATCH_RUNNING, NULL);
        else if (strcmp(stat, "DONE") == 0 || strcmp(stat, "EXIT") == 0)
            batch_report(r, CAF_BATCH_FINISHED, NULL); /* the exit-code file says how */
        else if (strcmp(stat, "ZOMBI") == 0 || strcmp(stat, "UNKWN") == 0)
            batch_report(r, CAF_BATCH_FAILED, "LSF lost track of it (state %s)", stat);
        else
            batch_report(r, CAF_BATCH_PENDING, NULL); /* PEND, PSUSP, WAIT */
        c->seen[k] = true;
        return;
    }
}

void lsf_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen)
{
    struct lsf_ctx ctx = {subs, n, reports, seen};
    batch_for_each_line(text, lsf_line, &ctx);
}

/* bjobs and bkill complain about ids LSF no longer knows; that is news, not a failure. */
static bool only_unknown_ids(const caf_process_result *res)
{
    const char *text = res->err_text ? res->err_text : "";
    return strstr(text, "is not found") || strstr(text, "No matching job found") ||
           strstr(text, "has already finished") || strstr(text, "No unfinished job found");
}

static caf_status lsf_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_error *err)
{
    static const batch_array_style style = {lsf_submit_command, lsf_parse_submitted, LSF_MAX_ARRAY, 1, "[", "]"};
    lsf_backend *s = backend->state;
    return batch_submit_arrays(job, &s->settings, subs, n, &style, err);
}

static caf_status lsf_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                           caf_batch_report *reports, caf_error *err)
{
    lsf_backend *s = backend->state;
    bool *seen = calloc(n, sizeof *seen);
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = seen ? batch_command_add(&cmd, "bjobs", err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "-a", err); /* finished jobs too, while LSF remembers them */
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "-w", err); /* no truncated names */
    /* The array job ids, each once: bjobs lists every element of an array given by its id. */
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        size_t len = strcspn(subs[i]->batch_id, "[");
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcspn(subs[j]->batch_id, "[") == len && strncmp(subs[j]->batch_id, subs[i]->batch_id, len) == 0;
        if (!dup)
            rc = batch_command_addf(&cmd, err, "%.*s", (int)len, subs[i]->batch_id);
    }
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0 && !only_unknown_ids(&res))
        rc = batch_command_failed(&cmd, &res, err);
    if (rc == CAF_OK) {
        for (size_t i = 0; i < n; i++)
            batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
        lsf_apply_status(res.out_text, subs, n, reports, seen);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    free(seen);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

static caf_status lsf_cancel(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_error *err)
{
    lsf_backend *s = backend->state;
    caf_status rc = batch_cancel_ids("bkill", subs, n, NULL, 0, s->settings.query_timeout_s, only_unknown_ids, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

caf_status lsf_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count, caf_error *err)
{
    if (strstr(err_text, "No unfinished job found") || strstr(out, "No unfinished job found")) {
        *count = 0; /* bjobs's answer when the user has none (exit code 255 on some versions) */
        return CAF_OK;
    }
    if (exit_code != 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "bjobs failed");
    long n = 0;
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        char text[512], *tok[4] = {0}, *save = NULL;
        snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1), line);
        line += len + (line[len] == '\n');
        size_t k = 0;
        for (char *t = strtok_r(text, " \t", &save); t && k < 4; t = strtok_r(NULL, " \t", &save))
            tok[k++] = t;
        if (k == 0 || strcmp(tok[0], "JOBID") == 0)
            continue; /* blank, the header */
        if (k < 3 || tok[0][0] < '0' || tok[0][0] > '9')
            return caf_error_set(err, CAF_ERR_FORMAT, "a line that is no job line: %.80s", tok[0]);
        n += strcmp(tok[2], "DONE") != 0 && strcmp(tok[2], "EXIT") != 0;
    }
    *count = n;
    return CAF_OK;
}

/* Every unfinished job of the user, array elements one by one (bjobs lists each). */
static caf_status lsf_count_user_jobs(caf_backend *backend, long *count, caf_error *err)
{
    static const char *const argv[] = {"bjobs", "-w", "-u", BATCH_USER, NULL};
    return batch_count_user_jobs(backend, argv, lsf_parse_user_jobs, count, err);
}

const caf_backend_ops caf_backend_ops_lsf = {
    .name = "lsf",
    .summary = "IBM LSF: bsub job arrays (-J name[1-N]%M), one bjobs call per poll, bkill",
    .open = lsf_open,
    .submit = lsf_submit,
    .poll = lsf_poll,
    .cancel = lsf_cancel,
    .count_user_jobs = lsf_count_user_jobs,
    .wait = NULL,
    .close = batch_backend_close,
};
