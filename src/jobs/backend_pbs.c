/* PBS (Torque, OpenPBS/PBS Pro, and the PBS commands of Slurm's slurm-wlm-torque): one qsub per
 * subjob, since the PBS flavours disagree on arrays (-t, -J) and on how array members are named; one
 * qstat call per poll for all subjobs; qdel to cancel. Finished jobs leave qstat sooner or later, so a
 * subjob qstat no longer lists is reported unknown and its exit-code file decides. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "jobs/batch.h"

typedef struct pbs_backend {
    batch_settings settings; /* first: batch_backend_open fills it */
} pbs_backend;

static caf_status pbs_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    return batch_backend_open(backend, "pbs", settings, sizeof(pbs_backend), err);
}

bool pbs_log_path(const caf_job *job, const caf_subjob *sub, char *buf, size_t size)
{
    size_t wlen = strlen(job->working_dir);
    /* Slurm's PBS commands run sbatch in the working folder, and Slurm expands %-patterns (and a
     * backslash disables them) in the log path made absolute with it: no log for such folders. */
    if (strpbrk(job->working_dir, "%\\"))
        return false;
    if (!sub->dir || strncmp(sub->dir, job->working_dir, wlen) != 0 || sub->dir[wlen] != '/')
        return false;
    int len = snprintf(buf, size, "%s/pbs.log", sub->dir + wlen + 1);
    return len > 0 && (size_t)len < size && strspn(buf, "abcdefghijklmnopqrstuvwxyz0123456789_./-") == (size_t)len;
}

caf_status pbs_submit_command(const caf_job *job, const batch_settings *settings, const caf_subjob *sub,
                              const char *script_path, batch_command *cmd, caf_error *err)
{
    char name[48], duration[32];
    batch_safe_name(job->name, name, sizeof name);
    const caf_backend_args *args = &job->backend_args;
    caf_status rc = batch_command_add(cmd, "qsub", err);
    if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "-N");
    if (rc == CAF_OK)
        rc = batch_command_addf(cmd, err, "caf-%s-%zu", name, sub->index);
    /* The wrapper script keeps the command's output; PBS's own log (joined -j oe) only says why PBS
     * ended a job, e.g. "walltime exceeded". qsub runs in the working folder and gets the log path
     * relative to it: plain characters, since some qsub front ends pass it through a shell. */
    char log[64];
    const char *log_arg = pbs_log_path(job, sub, log, sizeof log) ? log : "/dev/null";
    const char *fixed[] = {"-j", "oe", "-o", log_arg, NULL};
    for (size_t i = 0; rc == CAF_OK && fixed[i]; i++)
        rc = batch_command_add(cmd, fixed[i], err);
    if (rc == CAF_OK && args->queue) {
        rc = batch_command_add(cmd, "-q", err);
        if (rc == CAF_OK)
            rc = batch_command_add(cmd, args->queue, err);
    }
    if (rc == CAF_OK && sub->time_s > 0) {
        batch_format_duration(sub->time_s, false, duration, sizeof duration);
        rc = batch_command_add(cmd, "-l", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "walltime=%s", duration);
    }
    if (rc == CAF_OK && sub->memory_mb > 0) {
        rc = batch_command_add(cmd, "-l", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "mem=%ldmb", sub->memory_mb);
    }
    if (rc == CAF_OK && args->cores > 0) {
        rc = batch_command_add(cmd, "-l", err);
        if (rc == CAF_OK)
            rc = batch_command_addf(cmd, err, "nodes=1:ppn=%d", args->cores);
    }
    for (size_t i = 0; rc == CAF_OK && i < settings->submit_args.count; i++)
        rc = batch_command_add(cmd, settings->submit_args.items[i], err);
    if (rc == CAF_OK)
        rc = batch_command_add(cmd, script_path, err);
    return rc;
}

/* The id qsub printed: its last non-empty line ("1234.server", or "1234" from slurm-wlm-torque). */
static caf_status parse_submitted(const char *out, char *id, size_t size, caf_error *err)
{
    const char *last = NULL;
    size_t last_len = 0;
    for (const char *p = out; p && *p;) {
        size_t len = strcspn(p, "\r\n");
        size_t lead = strspn(p, " \t");
        if (len > lead) {
            last = p + lead;
            last_len = len - lead;
        }
        p += len;
        p += strspn(p, "\r\n");
    }
    while (last && last_len > 0 && (last[last_len - 1] == ' ' || last[last_len - 1] == '\t'))
        last_len--;
    if (!last || last_len == 0 || last_len >= size || !(last[0] >= '0' && last[0] <= '9') ||
        memchr(last, ' ', last_len))
        return caf_error_set(err, CAF_ERR_FORMAT, "qsub printed no job id (output: \"%.80s\")", out);
    memcpy(id, last, last_len);
    id[last_len] = '\0';
    return CAF_OK;
}

/* The sequence number that names a PBS job whatever the server suffix or column truncation:
 * "1234.server.example.org" and "1234.serv*" are both job 1234. */
static size_t id_key_len(const char *id)
{
    return strspn(id, "0123456789[]");
}

struct pbs_ctx {
    caf_subjob **subs;
    size_t n;
    caf_batch_report *reports;
    bool *seen;
};

static void pbs_line(char *line, void *ctx)
{
    struct pbs_ctx *c = ctx;
    char *tokens[6] = {0};
    char *save = NULL;
    size_t count = 0;
    for (char *t = strtok_r(line, " \t", &save); t && count < 6; t = strtok_r(NULL, " \t", &save))
        tokens[count++] = t;
    if (count < 6 || !(tokens[0][0] >= '0' && tokens[0][0] <= '9') || strlen(tokens[4]) != 1)
        return; /* headers, separators, anything else */
    size_t klen = id_key_len(tokens[0]);
    for (size_t i = 0; i < c->n; i++) {
        const char *id = c->subs[i]->batch_id;
        if (!id || id_key_len(id) != klen || strncmp(id, tokens[0], klen) != 0)
            continue;
        switch (tokens[4][0]) {
        case 'Q': case 'H': case 'W': case 'T': case 'S': case 'U': case 'M':
            batch_report(&c->reports[i], CAF_BATCH_PENDING, NULL);
            break;
        case 'R': case 'E': case 'B':
            batch_report(&c->reports[i], CAF_BATCH_RUNNING, NULL);
            break;
        case 'C': case 'F': case 'X':
            batch_report(&c->reports[i], CAF_BATCH_FINISHED, NULL);
            break;
        default:
            batch_report(&c->reports[i], CAF_BATCH_PENDING, NULL);
        }
        c->seen[i] = true;
        return;
    }
}

void pbs_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen)
{
    struct pbs_ctx ctx = {subs, n, reports, seen};
    batch_for_each_line(text, pbs_line, &ctx);
}

/* qstat and qdel complain about ids the server no longer knows (finished and purged): that is news,
 * not a failure. Any other complaint (server down, permission) is. */
static bool only_unknown_ids(const caf_process_result *res)
{
    const char *text = res->err_text ? res->err_text : "";
    /* slurm-wlm-torque's qstat (153) and qdel (count of failures) say nothing about ids that are done
     * or unknown, and print real errors to stdout. */
    if (!text[0])
        return !res->out_text || !strstr(res->out_text, "error");
    char *copy = strdup(text);
    if (!copy)
        return false;
    bool all = true;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\r\n", &save); line && all; line = strtok_r(NULL, "\r\n", &save))
        all = strstr(line, "Unknown Job") || strstr(line, "has finished") || strstr(line, "Invalid job id") ||
              strstr(line, "already completing or completed") || strstr(line, "does not exist");
    free(copy);
    return all;
}

static caf_status submit_one(pbs_backend *s, const caf_job *job, caf_subjob *sub, const char *script_path,
                             caf_error *err)
{
    char *text = batch_driver_script("#!/bin/bash", &job->backend_args.extra_lines, NULL, 0, &sub, 1);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_file_write_atomic(script_path, text, strlen(text), err);
    free(text);
    batch_command cmd = {0};
    caf_process_result res = {0};
    if (rc == CAF_OK)
        rc = pbs_submit_command(job, &s->settings, sub, script_path, &cmd, err);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, job->working_dir, s->settings.submit_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0)
        rc = batch_command_failed(&cmd, &res, err);
    char id[128];
    if (rc == CAF_OK)
        rc = parse_submitted(res.out_text, id, sizeof id, err);
    if (rc == CAF_OK)
        rc = batch_set_id(sub, id, err);
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    return rc;
}

static caf_status pbs_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_error *err)
{
    pbs_backend *s = backend->state;
    /* qsub copies the script when it accepts the job. Some qsub front ends (slurm-wlm-torque's) pass
     * the script path through a shell, so it lives under a private folder whose name is plain. */
    const char *tmp = getenv("TMPDIR");
    char dir[4096], script[4200];
    snprintf(dir, sizeof dir, "%s/caf-pbs-XXXXXX", tmp && tmp[0] && !strpbrk(tmp, " '\"$`\\\n;&|<>*?()") ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return caf_error_errno(err, errno, "job %s: cannot create a folder for qsub scripts in %s", job->name,
                               dir);
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        snprintf(script, sizeof script, "%s/subjob-%zu.sh", dir, subs[i]->index);
        rc = submit_one(s, job, subs[i], script, err);
        unlink(script);
    }
    rmdir(dir);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

/* True when sub's exit-code file is there and says the command ended normally (not by a signal). */
static bool ended_by_itself(const caf_subjob *sub)
{
    FILE *f = fopen(sub->exit_code_file, "r");
    if (!f)
        return false;
    int code = -1;
    bool read = fscanf(f, "%d", &code) == 1;
    fclose(f);
    return read && code >= 0 && code < 128;
}

/* A subjob PBS ended without an exit-code file, or whose command a signal ended: its PBS log may say why
 * (Torque/OpenPBS: "PBS: job killed: walltime 70 exceeded limit 60"; Slurm's PBS commands: "CANCELLED ...
 * DUE TO TIME LIMIT"). At the walltime PBS sends SIGTERM to every process of the job: when the command
 * dies before the wrapper script is signalled, the script still records exit code 143. */
static void reason_from_log(const caf_job *job, const caf_subjob *sub, caf_batch_report *r)
{
    char rel[64], path[4200], text[4096];
    if (ended_by_itself(sub) || !pbs_log_path(job, sub, rel, sizeof rel))
        return;
    snprintf(path, sizeof path, "%s/%s", job->working_dir, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    if (strstr(text, "DUE TO TIME LIMIT") || (strstr(text, "walltime") && strstr(text, "exceeded")))
        batch_report(r, CAF_BATCH_FAILED, "PBS killed it for exceeding its walltime (see %s)", path);
    else if (strstr(text, "OUT_OF_MEMORY") || strstr(text, "xceeded job memory") || strstr(text, "oom-kill"))
        batch_report(r, CAF_BATCH_FAILED, "PBS killed it for exceeding its memory (see %s)", path);
}

static caf_status pbs_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                           caf_batch_report *reports, caf_error *err)
{
    pbs_backend *s = backend->state;
    bool *seen = calloc(n, sizeof *seen);
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = seen ? batch_command_add(&cmd, "qstat", err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        rc = batch_command_add(&cmd, subs[i]->batch_id, err);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0 && !only_unknown_ids(&res))
        rc = batch_command_failed(&cmd, &res, err);
    if (rc == CAF_OK) {
        for (size_t i = 0; i < n; i++)
            batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
        pbs_apply_status(res.out_text, subs, n, reports, seen);
        for (size_t i = 0; i < n; i++)
            if (reports[i].state == CAF_BATCH_FINISHED || reports[i].state == CAF_BATCH_UNKNOWN)
                reason_from_log(job, subs[i], &reports[i]);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    free(seen);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

static caf_status pbs_cancel(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_error *err)
{
    pbs_backend *s = backend->state;
    caf_status rc = batch_cancel_ids("qdel", subs, n, NULL, 0, s->settings.query_timeout_s, only_unknown_ids, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

/* One line of `qstat -u` inside a job table: counts it unless the job has ended; false for a line that is
 * no job line. */
static bool count_job_line(const char *line, long *n)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", line);
    char *tok[16], *save = NULL;
    size_t count = 0;
    for (char *t = strtok_r(copy, " \t", &save); t && count < 16; t = strtok_r(NULL, " \t", &save))
        tok[count++] = t;
    if (count < 3 || tok[0][0] < '0' || tok[0][0] > '9')
        return false;
    const char *state = tok[count - 2]; /* S, before the elapsed time */
    if (strlen(state) != 1 || !strchr("BCEFHMQRSTUWX", state[0]))
        return false;
    *n += !strchr("CFX", state[0]); /* completed, finished, expired */
    return true;
}

caf_status pbs_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count, caf_error *err)
{
    (void)err_text;
    if (exit_code != 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "qstat failed");
    long n = 0;
    bool in_table = false; /* after the dashes under the column names, until a blank line */
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n"), lead = strspn(line, " \t");
        char text[512];
        snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1), line);
        if (lead >= len)
            in_table = false;
        else if (strspn(text, "- \t") == strlen(text))
            in_table = true;
        else if (in_table && !count_job_line(text, &n))
            return caf_error_set(err, CAF_ERR_FORMAT, "a line that is no job line: %.80s", text);
        line += len + (line[len] == '\n');
    }
    *count = n;
    return CAF_OK;
}

/* Every job of the user that has not ended (the alternative listing, which every PBS flavour prints for
 * -u, with the state next to last). */
static caf_status pbs_count_user_jobs(caf_backend *backend, long *count, caf_error *err)
{
    static const char *const argv[] = {"qstat", "-u", BATCH_USER, NULL};
    return batch_count_user_jobs(backend, argv, pbs_parse_user_jobs, count, err);
}

const caf_backend_ops caf_backend_ops_pbs = {
    .name = "pbs",
    .summary = "PBS/Torque: one qsub per subjob, one qstat call per poll, qdel",
    .open = pbs_open,
    .submit = pbs_submit,
    .poll = pbs_poll,
    .cancel = pbs_cancel,
    .count_user_jobs = pbs_count_user_jobs,
    .wait = NULL,
    .close = batch_backend_close,
};
