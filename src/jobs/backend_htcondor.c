/* HTCondor: one condor_submit per group of subjobs (same memory and time request, normally the whole
 * job) with `queue N`; process $(Process) runs the wrapper script of the group's subjob N through a
 * driver script. condor_submit runs in the job's working folder and the submit description names
 * only relative paths caf chose (subjobs/condor-*.sh), so no user file name ever meets the submit
 * language's quoting. Polls: one `condor_q -nobatch` for all clusters, then `condor_history` for the
 * subjobs that left the queue. Held subjobs are removed (a hold needs a human) and reported failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "jobs/batch.h"

typedef struct htcondor_backend {
    batch_settings settings; /* first: batch_backend_open fills it */
    unsigned long submissions; /* makes driver file names unique within this process */
} htcondor_backend;

static caf_status htcondor_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    return batch_backend_open(backend, "htcondor", settings, sizeof(htcondor_backend), err);
}

char *htcondor_submit_description(const caf_job *job, caf_subjob **subs, size_t n, const char *driver_name,
                                  const char *log_name)
{
    char name[48];
    batch_safe_name(job->name, name, sizeof name);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f,
            "# Written by caf for job %s\n"
            "universe = vanilla\n"
            "batch_name = caf-%s\n"
            "executable = /bin/bash\n"
            "transfer_executable = false\n"
            "should_transfer_files = NO\n"
            "arguments = \"%s $(Process)\"\n"
            "log = %s\n"
            "output = /dev/null\n"
            "error = %s.$(Process).err\n",
            name, name, driver_name, log_name, driver_name);
    if (subs[0]->memory_mb > 0)
        fprintf(f, "request_memory = %ld\n", subs[0]->memory_mb);
    if (job->backend_args.cores > 0)
        fprintf(f, "request_cpus = %d\n", job->backend_args.cores);
    if (subs[0]->time_s > 0)
        fprintf(f,
                "periodic_remove = (JobStatus == 2) && (time() - EnteredCurrentStatus > %ld)\n"
                "+CafTimeLimit = %ld\n",
                subs[0]->time_s, subs[0]->time_s);
    for (size_t i = 0; i < job->backend_args.extra_lines.count; i++)
        fprintf(f, "%s\n", job->backend_args.extra_lines.items[i]);
    fprintf(f, "queue %zu\n", n);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

caf_status htcondor_parse_submitted(const char *out, long *cluster, long *count, caf_error *err)
{
    /* "Submitting job(s).\n1 job(s) submitted to cluster 6." (HTCondor manual, quick start guide). */
    const char *marker = strstr(out, " job(s) submitted to cluster ");
    if (!marker)
        return caf_error_set(err, CAF_ERR_FORMAT, "condor_submit printed no cluster (output: \"%.80s\")", out);
    const char *start = marker;
    while (start > out && start[-1] >= '0' && start[-1] <= '9')
        start--;
    char *end = NULL;
    *count = strtol(start, &end, 10);
    *cluster = strtol(marker + strlen(" job(s) submitted to cluster "), &end, 10);
    if (end == marker + strlen(" job(s) submitted to cluster ") || *count <= 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "condor_submit printed no cluster (output: \"%.80s\")", out);
    return CAF_OK;
}

struct condor_ctx {
    caf_subjob **subs;
    size_t n;
    caf_batch_report *reports;
    bool *seen;
};

static long find_sub(const struct condor_ctx *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->seen[i] && c->subs[i]->batch_id && strcmp(c->subs[i]->batch_id, id) == 0)
            return (long)i;
    return -1;
}

/* condor_q -nobatch: " ID  OWNER  SUBMITTED  RUN_TIME ST PRI SIZE CMD"; SUBMITTED is two words. */
static void queue_line(char *line, void *ctx)
{
    struct condor_ctx *c = ctx;
    char *tok[6] = {0};
    char *save = NULL;
    size_t count = 0;
    for (char *t = strtok_r(line, " \t", &save); t && count < 6; t = strtok_r(NULL, " \t", &save))
        tok[count++] = t;
    if (count < 6 || strspn(tok[0], "0123456789.") != strlen(tok[0]) || !strchr(tok[0], '.'))
        return;
    long k = find_sub(c, tok[0]);
    if (k < 0)
        return;
    const char *st = tok[5];
    caf_batch_report *r = &c->reports[k];
    if (strcmp(st, "R") == 0 || strcmp(st, "S") == 0 || strcmp(st, ">") == 0 || strcmp(st, "q>") == 0 ||
        strcmp(st, "<") == 0)
        batch_report(r, CAF_BATCH_RUNNING, NULL);
    else if (strcmp(st, "C") == 0)
        batch_report(r, CAF_BATCH_FINISHED, NULL);
    else if (strcmp(st, "H") == 0)
        batch_report(r, CAF_BATCH_FAILED, "HTCondor put it on hold (condor_q -hold %s says why)", tok[0]);
    else if (strcmp(st, "X") == 0)
        batch_report(r, CAF_BATCH_FAILED, "HTCondor removed it (condor_rm or a periodic_remove policy)");
    else
        batch_report(r, CAF_BATCH_PENDING, NULL); /* I, Ic, <q and anything newer */
    c->seen[k] = true;
}

void htcondor_apply_queue(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen)
{
    struct condor_ctx ctx = {subs, n, reports, seen};
    batch_for_each_line(text, queue_line, &ctx);
}

/* condor_history -af ClusterId ProcId JobStatus ExitCode: "6 0 4 0" (values separated by spaces). */
static void history_line(char *line, void *ctx)
{
    struct condor_ctx *c = ctx;
    long cluster, proc, status;
    if (sscanf(line, "%ld %ld %ld", &cluster, &proc, &status) != 3)
        return;
    char id[64];
    snprintf(id, sizeof id, "%ld.%ld", cluster, proc);
    long k = find_sub(c, id);
    if (k < 0)
        return;
    if (status == 4) /* Completed */
        batch_report(&c->reports[k], CAF_BATCH_FINISHED, NULL);
    else if (status == 3) /* Removed */
        batch_report(&c->reports[k], CAF_BATCH_FAILED,
                     "HTCondor removed it (time limit via periodic_remove, or condor_rm)");
    else
        return;
    c->seen[k] = true;
}

void htcondor_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen)
{
    struct condor_ctx ctx = {subs, n, reports, seen};
    batch_for_each_line(text, history_line, &ctx);
}

/* The distinct cluster numbers of the subjobs not yet seen, as separate arguments. */
static caf_status add_clusters(batch_command *cmd, caf_subjob **subs, size_t n, const bool *seen, caf_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (seen && seen[i])
            continue;
        size_t len = strcspn(subs[i]->batch_id, ".");
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !(seen && seen[j]) && strncmp(subs[j]->batch_id, subs[i]->batch_id, len + 1) == 0;
        if (!dup) {
            caf_status rc = batch_command_addf(cmd, err, "%.*s", (int)len, subs[i]->batch_id);
            if (rc != CAF_OK)
                return rc;
        }
    }
    return CAF_OK;
}

static bool only_unknown_ids(const caf_process_result *res)
{
    const char *text = res->err_text ? res->err_text : "";
    return strstr(text, "Couldn't find") || strstr(text, "not found") || strstr(text, "nonexistent");
}

static caf_status submit_group(htcondor_backend *s, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    char driver[96], log[96], path[4200];
    snprintf(driver, sizeof driver, "subjobs/condor-%ld-%ld-%lu.sh", (long)time(NULL), (long)getpid(),
             ++s->submissions);
    snprintf(log, sizeof log, "%.*s.log", (int)(strlen(driver) - 3), driver);
    snprintf(path, sizeof path, "%s/%s", job->working_dir, driver);
    char *script = batch_driver_script("#!/bin/bash", NULL, "1", 0, subs, n);
    char *description = htcondor_submit_description(job, subs, n, driver, log);
    caf_status rc = script && description ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = caf_file_write_atomic(path, script, strlen(script), err);
    batch_command cmd = {0};
    caf_process_result res = {0};
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "condor_submit", err);
    for (size_t i = 0; rc == CAF_OK && i < s->settings.submit_args.count; i++)
        rc = batch_command_add(&cmd, s->settings.submit_args.items[i], err);
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "-", err); /* the description comes on stdin */
    if (rc == CAF_OK) {
        cmd.stdin_text = description;
        description = NULL;
        rc = batch_command_run(&cmd, job->working_dir, s->settings.submit_timeout_s, &res, err);
    }
    if (rc == CAF_OK && res.exit_code != 0)
        rc = batch_command_failed(&cmd, &res, err);
    long cluster = 0, count = 0;
    if (rc == CAF_OK)
        rc = htcondor_parse_submitted(res.out_text, &cluster, &count, err);
    if (rc == CAF_OK && (size_t)count != n)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "condor_submit queued %ld jobs, not %zu", count, n);
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%ld.%zu", cluster, i);
        rc = batch_set_id(subs[i], id, err);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    free(script);
    free(description);
    return rc;
}

static caf_status htcondor_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                                  caf_error *err)
{
    htcondor_backend *s = backend->state;
    caf_subjob **order = malloc(n * sizeof *order);
    if (!order)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    memcpy(order, subs, n * sizeof *order);
    caf_status rc = CAF_OK;
    for (size_t from = 0; rc == CAF_OK && from < n;) {
        size_t count = batch_group_same_request(order, from, n);
        rc = submit_group(s, job, order + from, count, err);
        from += count;
    }
    free(order);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

/* Runs condor_rm on ids (held subjobs the poll found, or a cancel). */
static caf_status remove_ids(htcondor_backend *s, caf_subjob **subs, size_t n, const caf_batch_report *only_held,
                             caf_error *err)
{
    bool *select = NULL;
    if (only_held) {
        if (!(select = calloc(n ? n : 1, sizeof *select)))
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            select[i] = only_held[i].state == CAF_BATCH_FAILED && strstr(only_held[i].reason, "on hold");
    }
    caf_status rc = batch_cancel_ids("condor_rm", subs, n, select, 0, s->settings.query_timeout_s, only_unknown_ids, err);
    free(select);
    return rc;
}

static caf_status htcondor_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                                caf_batch_report *reports, caf_error *err)
{
    htcondor_backend *s = backend->state;
    bool *seen = calloc(n, sizeof *seen);
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = seen ? batch_command_add(&cmd, "condor_q", err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "-nobatch", err);
    if (rc == CAF_OK)
        rc = add_clusters(&cmd, subs, n, NULL, err);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0)
        rc = batch_command_failed(&cmd, &res, err);
    if (rc == CAF_OK) {
        for (size_t i = 0; i < n; i++)
            batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
        htcondor_apply_queue(res.out_text, subs, n, reports, seen);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    size_t missing = 0;
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        missing += !seen[i];
    if (rc == CAF_OK && missing > 0) {
        /* Left the queue: the history says how they ended. Cluster ids go before -af, whose
         * attribute list runs to the next option. */
        caf_error hist_err = {0};
        caf_status hrc = batch_command_add(&cmd, "condor_history", &hist_err);
        if (hrc == CAF_OK)
            hrc = add_clusters(&cmd, subs, n, seen, &hist_err);
        const char *af[] = {"-af", "ClusterId", "ProcId", "JobStatus", "ExitCode", NULL};
        for (size_t i = 0; hrc == CAF_OK && af[i]; i++)
            hrc = batch_command_add(&cmd, af[i], &hist_err);
        if (hrc == CAF_OK)
            hrc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, &hist_err);
        if (hrc == CAF_OK && res.exit_code == 0)
            htcondor_apply_status(res.out_text, subs, n, reports, seen);
        else
            caf_debug("job %s: condor_history gave no answer: %s", job->name, hist_err.message);
        caf_process_result_free(&res);
        batch_command_free(&cmd);
    }
    bool held = false;
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        held |= reports[i].state == CAF_BATCH_FAILED && strstr(reports[i].reason, "on hold") != NULL;
    if (held) {
        caf_error rm_err = {0};
        if (remove_ids(s, subs, n, reports, &rm_err) != CAF_OK)
            caf_warning("job %s: could not remove held subjobs: %s", job->name, rm_err.message);
    }
    free(seen);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

static caf_status htcondor_cancel(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                                  caf_error *err)
{
    caf_status rc = remove_ids(backend->state, subs, n, NULL, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

const caf_backend_ops caf_backend_ops_htcondor = {
    .name = "htcondor",
    .summary = "HTCondor: one condor_submit per job (queue N), condor_q/condor_history polls, condor_rm",
    .open = htcondor_open,
    .submit = htcondor_submit,
    .poll = htcondor_poll,
    .cancel = htcondor_cancel,
    .wait = NULL,
    .close = batch_backend_close,
};
