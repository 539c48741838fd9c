/* HTCondor: one `condor_submit -terse` per group of subjobs (same memory and time request, normally the
 * whole job). With a shared file system (the default) `queue N`, process $(Process) running the wrapper
 * script of the group's subjob N through a driver script; condor_submit runs in the job's working folder
 * and the description names only relative paths caf chose (subjobs/condor-*.sh), so no user file name
 * meets the submit language's quoting. Without one (transfer_files) each subjob is queued with its own
 * folder as initialdir and its files transferred (htcondor_transfer.c); input paths are checked to be
 * safe in transfer_input_files, and the input_sandbox files, copied into the subjob's folder before, go
 * with them. Polls: one `condor_q -json` for all clusters, then `condor_history
 * -json` for the subjobs that left the queue (htcondor_ads.c). Held subjobs are reported failed with
 * their HoldReason and removed (condor_rm); the retry policy decides whether they run again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/input_sandbox.h"
#include "caf/log.h"
#include "caf/wrapper_script.h"
#include "jobs/batch.h"

static caf_status htcondor_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    caf_status rc = batch_backend_open_extra(backend, "htcondor", settings, sizeof(htcondor_backend),
                                             &htcondor_extra_keys, err);
    if (rc != CAF_OK)
        return rc;
    htcondor_settings *c = &((htcondor_backend *)backend->state)->condor;
    if (!c->universe)
        c->universe = strdup("vanilla");
    if (!c->request_memory)
        c->request_memory = strdup("4 GB"); /* basf2's default, "to maintain parity with KEKCC" */
    if (!c->path_prefix)
        c->path_prefix = strdup("");
    if (!c->universe || !c->request_memory || !c->path_prefix) {
        htcondor_extra_keys.release(backend->state);
        batch_backend_close(backend);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

static void htcondor_close(caf_backend *backend)
{
    if (backend->state)
        htcondor_extra_keys.release(backend->state);
    batch_backend_close(backend);
}

/* Characters an input path may have to be named in transfer_input_files as it is: the list is split at
 * commas and white space, and $ starts a macro. */
static bool plain_path(const char *path)
{
    return *path && strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/+@~%-") ==
                        strlen(path);
}

/* File names caf's own files take in the scratch folder. */
static bool reserved_name(const char *name)
{
    static const char *const names[] = {"stdout", "stderr", HTCONDOR_RETURN_DIR, HTCONDOR_TRANSFER_SCRIPT,
                                        CAF_SUBJOB_LOCK_FILE, "condor.out", "condor.err", "condor.log"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* The per-subjob lines of a transfer-mode description: initialdir, transfer_input_files, queue 1. */
static caf_status transfer_block(FILE *f, const caf_job *job, const htcondor_settings *c, const caf_subjob *sub,
                                 caf_error *err)
{
    size_t wlen = strlen(job->working_dir);
    char expected[64];
    snprintf(expected, sizeof expected, "/subjobs/%zu", sub->index);
    if (strncmp(sub->dir, job->working_dir, wlen) != 0 || strcmp(sub->dir + wlen, expected) != 0)
        return caf_error_set(err, CAF_ERR_INVALID, "subjob %zu: its folder %s is not WORKING_DIR%s, which "
                             "transfer_files needs", sub->index, sub->dir, expected);
    fprintf(f, "initialdir = subjobs/%zu\ntransfer_input_files = " HTCONDOR_TRANSFER_SCRIPT, sub->index);
    for (size_t i = 0; i < sub->input_files.count; i++) {
        const char *path = sub->input_files.items[i];
        const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
        if (!plain_path(path))
            return caf_error_set(err, CAF_ERR_INVALID, "subjob %zu: input file %s cannot be named in HTCondor's "
                                 "transfer_input_files (only letters, digits and ._/+@~%%- are safe there); "
                                 "rename it, or use a shared file system (transfer_files: false)", sub->index, path);
        if (reserved_name(base))
            return caf_error_set(err, CAF_ERR_INVALID, "subjob %zu: input file %s has the name of a file caf "
                                 "keeps in the job's scratch folder", sub->index, path);
        for (size_t j = 0; j < i; j++) {
            const char *other = strrchr(sub->input_files.items[j], '/');
            if (strcmp(other ? other + 1 : sub->input_files.items[j], base) == 0)
                return caf_error_set(err, CAF_ERR_INVALID, "subjob %zu: input files %s and %s have the same base "
                                     "name, and HTCondor transfers both into one folder", sub->index,
                                     sub->input_files.items[j], path);
        }
        fprintf(f, ", %s%s", c->path_prefix, path);
    }
    /* The sandbox files: copied into the subjob's folder before submission, so named relative to it. */
    for (size_t i = 0; i < job->input_sandbox.count; i++) {
        const char *name = caf_input_sandbox_name(job->input_sandbox.items[i]);
        bool clash = !plain_path(name) || reserved_name(name);
        for (size_t j = 0; !clash && j < sub->input_files.count; j++)
            clash = strcmp(caf_input_sandbox_name(sub->input_files.items[j]), name) == 0;
        if (clash)
            return caf_error_set(err, CAF_ERR_INVALID, "subjob %zu: input_sandbox file %s cannot be transferred "
                                 "under its name (only letters, digits and ._+@~%%- are safe in "
                                 "transfer_input_files, and it must differ from the input files' and caf's own "
                                 "names)", sub->index, job->input_sandbox.items[i]);
        fprintf(f, ", %s", name);
    }
    fputs("\nqueue 1\n", f);
    return CAF_OK;
}

char *htcondor_submit_description(const caf_job *job, const htcondor_settings *c, caf_subjob **subs, size_t n,
                                  const char *driver_name, const char *log_name, caf_error *err)
{
    char name[48];
    batch_safe_name(job->name, name, sizeof name);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    fprintf(f,
            "# Written by caf for job %s\n"
            "universe = %s\n"
            "batch_name = caf-%s\n"
            "executable = /bin/bash\n"
            "transfer_executable = false\n"
            "getenv = %s\n",
            name, c->universe, name, c->getenv ? "true" : "false");
    if (c->transfer_files)
        /* every path is relative to the subjob's folder (initialdir) on this side, to the scratch folder there */
        fputs("should_transfer_files = YES\n"
              "when_to_transfer_output = ON_EXIT\n"
              "arguments = \"" HTCONDOR_TRANSFER_SCRIPT "\"\n"
              "log = condor.log\n"
              "output = condor.out\n"
              "error = condor.err\n"
              "transfer_output_files = " HTCONDOR_RETURN_DIR ", stdout, stderr\n"
              "transfer_output_remaps = \"stdout = " HTCONDOR_RETURN_STDOUT "; stderr = " HTCONDOR_RETURN_STDERR "\"\n",
              f);
    else
        fprintf(f,
                "should_transfer_files = NO\n"
                "arguments = \"%s $(Process)\"\n"
                "log = %s\n"
                "output = /dev/null\n"
                "error = %s.$(Process).err\n",
                driver_name, log_name, driver_name);
    if (subs[0]->memory_mb > 0)
        fprintf(f, "request_memory = %ld\n", subs[0]->memory_mb);
    else if (c->request_memory)
        fprintf(f, "request_memory = %s\n", c->request_memory);
    if (job->backend_args.cores > 0)
        fprintf(f, "request_cpus = %d\n", job->backend_args.cores);
    if (subs[0]->time_s > 0)
        fprintf(f,
                "periodic_remove = (JobStatus == 2) && (time() - EnteredCurrentStatus > %ld)\n"
                "+CafTimeLimit = %ld\n",
                subs[0]->time_s, subs[0]->time_s);
    for (size_t i = 0; i < c->extra_lines.count; i++)
        fprintf(f, "%s\n", c->extra_lines.items[i]);
    for (size_t i = 0; i < job->backend_args.extra_lines.count; i++)
        fprintf(f, "%s\n", job->backend_args.extra_lines.items[i]);
    caf_status rc = CAF_OK;
    if (c->transfer_files)
        for (size_t i = 0; rc == CAF_OK && i < n; i++)
            rc = transfer_block(f, job, c, subs[i], err);
    else
        fprintf(f, "queue %zu\n", n);
    if (fclose(f) != 0 && rc == CAF_OK)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc != CAF_OK) {
        free(text);
        return NULL;
    }
    return text;
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

/* Transfer mode: writes each subjob's scratch-folder script and clears what an earlier attempt brought back. */
static caf_status write_transfer_scripts(const caf_job *job, caf_subjob **subs, size_t n, caf_error *err)
{
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        htcondor_transfer_clear(subs[i]);
        char *script = NULL, *path = caf_path_join(subs[i]->dir, HTCONDOR_TRANSFER_SCRIPT);
        rc = path ? htcondor_transfer_script(job, subs[i], &script, err)
                  : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        if (rc == CAF_OK)
            rc = caf_file_write_atomic(path, script, strlen(script), err);
        free(script);
        free(path);
    }
    return rc;
}

static caf_status submit_group(htcondor_backend *s, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    char driver[96], log[96], path[4200];
    snprintf(driver, sizeof driver, "subjobs/condor-%ld-%ld-%lu.sh", (long)time(NULL), (long)getpid(),
             ++s->submissions);
    snprintf(log, sizeof log, "%.*s.log", (int)(strlen(driver) - 3), driver);
    snprintf(path, sizeof path, "%s/%s", job->working_dir, driver);
    char *script = NULL;
    char *description = htcondor_submit_description(job, &s->condor, subs, n, driver, log, err);
    caf_status rc = description ? CAF_OK : CAF_ERR_INVALID;
    if (rc == CAF_OK && s->condor.transfer_files) {
        rc = write_transfer_scripts(job, subs, n, err);
    } else if (rc == CAF_OK) {
        script = batch_driver_script("#!/bin/bash", NULL, "1", 0, subs, n);
        rc = script ? caf_file_write_atomic(path, script, strlen(script), err)
                    : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    batch_command cmd = {0};
    caf_process_result res = {0};
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "condor_submit", err);
    if (rc == CAF_OK)
        rc = batch_command_add(&cmd, "-terse", err); /* "CLUSTER.FIRST - CLUSTER.LAST" only */
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
    long cluster = 0, first = 0, count = 0;
    if (rc == CAF_OK)
        rc = htcondor_parse_terse(res.out_text, &cluster, &first, &count, err);
    if (rc == CAF_OK && (size_t)count != n)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "condor_submit queued %ld jobs, not %zu", count, n);
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%ld.%ld", cluster, first + (long)i);
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

/* Runs condor_rm on the subjobs (select may be NULL: all). */
static caf_status remove_ids(htcondor_backend *s, caf_subjob **subs, size_t n, const bool *select, caf_error *err)
{
    return batch_cancel_ids("condor_rm", subs, n, select, 0, s->settings.query_timeout_s, only_unknown_ids, err);
}

/* Runs PROGRAM -json -attributes ... CLUSTER... for the subjobs not yet seen and applies its answer. */
static caf_status query_ads(htcondor_backend *s, const char *program, caf_subjob **subs, size_t n,
                            caf_batch_report *reports, bool *seen, bool *held, caf_error *err)
{
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = batch_command_add(&cmd, program, err);
    const char *options[] = {"-json", "-attributes", "ClusterId,ProcId,JobStatus,HoldReason,ExitBySignal,ExitSignal",
                             NULL};
    for (size_t i = 0; rc == CAF_OK && options[i]; i++)
        rc = batch_command_add(&cmd, options[i], err);
    if (rc == CAF_OK)
        rc = add_clusters(&cmd, subs, n, seen, err);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, s->settings.query_timeout_s, &res, err);
    if (rc == CAF_OK && res.exit_code != 0)
        rc = batch_command_failed(&cmd, &res, err);
    else if (rc == CAF_OK && htcondor_apply_ads(res.out_text, subs, n, reports, seen, held, err) != CAF_OK)
        rc = caf_error_prefix(err, "%s: ", program);
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    return rc;
}

static caf_status htcondor_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                                caf_batch_report *reports, caf_error *err)
{
    htcondor_backend *s = backend->state;
    bool *seen = calloc(n, sizeof *seen), *held = calloc(n, sizeof *held);
    caf_status rc = seen && held ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
    if (rc == CAF_OK)
        rc = query_ads(s, "condor_q", subs, n, reports, seen, held, err);
    size_t missing = 0;
    for (size_t i = 0; rc == CAF_OK && i < n; i++)
        missing += !seen[i];
    if (rc == CAF_OK && missing > 0) {
        /* Left the queue: the history says how they ended (no answer there: the exit-code files decide). */
        caf_error hist_err = {0};
        if (query_ads(s, "condor_history", subs, n, reports, seen, held, &hist_err) != CAF_OK)
            caf_debug("job %s: condor_history gave no answer: %s", job->name, hist_err.message);
    }
    bool any_held = false;
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        any_held |= held[i];
        if (held[i])
            caf_warning("job %s, subjob %zu: %s; removing it (condor_rm) for the retry policy to decide",
                        job->name, subs[i]->index, reports[i].reason);
        /* Out of the queue (completed, removed, or forgotten): what HTCondor brought back is complete. */
        bool ended = reports[i].state == CAF_BATCH_FINISHED || reports[i].state == CAF_BATCH_UNKNOWN ||
                     (reports[i].state == CAF_BATCH_FAILED && !held[i]);
        caf_error collect_err = {0};
        if (s->condor.transfer_files && ended && htcondor_transfer_collect(subs[i], &collect_err) != CAF_OK)
            caf_warning("job %s: %s", job->name, collect_err.message);
    }
    if (any_held) {
        caf_error rm_err = {0};
        if (remove_ids(s, subs, n, held, &rm_err) != CAF_OK)
            caf_warning("job %s: could not remove held subjobs: %s", job->name, rm_err.message);
    }
    free(seen);
    free(held);
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

/* Every job of the user in the local schedd's queue (idle, running, held, transferring, suspended). */
static caf_status htcondor_count_user_jobs(caf_backend *backend, long *count, caf_error *err)
{
    static const char *const argv[] = {"condor_q", "-json", "-attributes", "ClusterId,ProcId,JobStatus", BATCH_USER,
                                       NULL};
    return batch_count_user_jobs(backend, argv, htcondor_parse_user_jobs, count, err);
}

const caf_backend_ops caf_backend_ops_htcondor = {
    .name = "htcondor",
    .summary = "HTCondor: one condor_submit -terse per job, condor_q/condor_history -json polls, condor_rm; "
               "shared file system or file transfer",
    .open = htcondor_open,
    .submit = htcondor_submit,
    .poll = htcondor_poll,
    .cancel = htcondor_cancel,
    .count_user_jobs = htcondor_count_user_jobs,
    .wait = NULL,
    .close = htcondor_close,
};
