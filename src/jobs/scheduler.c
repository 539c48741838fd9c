/* The policies every backend shares, applied once: active-subjob limit, submission rate and back-off,
 * polling, retries, lost subjobs and cancel. The exit-code file written by the wrapper script (or by the
 * local backend's shepherd) is the only source of a subjob's result; the batch system only says whether it
 * still runs. */
#include "caf/scheduler.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/input_sandbox.h"
#include "caf/job_journal.h"
#include "caf/log.h"
#include "caf/user_job_limit.h"
#include "caf/wrapper_script.h"

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL); /* a signal ends it early, which is what Ctrl-C wants */
}

void caf_schedule_policy_init(caf_schedule_policy *policy)
{
    *policy = (caf_schedule_policy){
        .max_active = 0,
        .submit_rate = 0,
        .max_per_submit = 0,
        .poll_interval_s = 0,
        .backoff_initial_s = 5,
        .backoff_max_s = 300,
        .max_refusals = 8,
        .exit_file_grace_s = -1,
        .save_interval_s = 0.2,
        .global_job_limit = 0,
        .global_job_check_interval_s = 30,
    };
}

/* The JSON keys of a policy and where they go. */
static const struct policy_key {
    const char *name;
    size_t offset;
    bool is_int;
} policy_keys[] = {
    {"max_active", offsetof(caf_schedule_policy, max_active), true},
    {"max_per_submit", offsetof(caf_schedule_policy, max_per_submit), true},
    {"submit_rate", offsetof(caf_schedule_policy, submit_rate), false},
    {"poll_interval_s", offsetof(caf_schedule_policy, poll_interval_s), false},
    {"backoff_initial_s", offsetof(caf_schedule_policy, backoff_initial_s), false},
    {"backoff_max_s", offsetof(caf_schedule_policy, backoff_max_s), false},
    {"max_refusals", offsetof(caf_schedule_policy, max_refusals), true},
    {"exit_file_grace_s", offsetof(caf_schedule_policy, exit_file_grace_s), false},
    {"save_interval_s", offsetof(caf_schedule_policy, save_interval_s), false},
    {"global_job_limit", offsetof(caf_schedule_policy, global_job_limit), true},
    {"global_job_check_interval_s", offsetof(caf_schedule_policy, global_job_check_interval_s), false},
};

caf_status caf_schedule_policy_from_json(caf_schedule_policy *policy, const json_t *obj, caf_error *err)
{
    if (!obj)
        return CAF_OK;
    if (!json_is_object(obj))
        return caf_error_set(err, CAF_ERR_INVALID, "key 'policy' must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const struct policy_key *k = NULL;
        for (size_t i = 0; i < sizeof policy_keys / sizeof *policy_keys && !k; i++)
            if (strcmp(key, policy_keys[i].name) == 0)
                k = &policy_keys[i];
        if (!k)
            return caf_error_set(err, CAF_ERR_INVALID, "policy: unknown key '%s'", key);
        if (!json_is_number(v) || json_number_value(v) < 0 || (k->is_int && !json_is_integer(v)) ||
            (k->is_int && json_integer_value(v) > 1000000))
            return caf_error_set(err, CAF_ERR_INVALID, "policy: key '%s' must be a non-negative %s", key,
                                 k->is_int ? "integer" : "number");
        char *field = (char *)policy + k->offset;
        if (k->is_int)
            *(int *)(void *)field = (int)json_integer_value(v);
        else
            *(double *)(void *)field = json_number_value(v);
    }
    return CAF_OK;
}

caf_status caf_scheduler_init(caf_scheduler *sched, caf_job *job, caf_backend *backend,
                              const caf_schedule_policy *policy, caf_error *err)
{
    (void)err;
    memset(sched, 0, sizeof *sched);
    sched->job = job;
    sched->backend = backend;
    if (policy)
        sched->policy = *policy;
    else
        caf_schedule_policy_init(&sched->policy);
    caf_schedule_policy *p = &sched->policy;
    if (backend->max_active > 0 && (p->max_active <= 0 || p->max_active > backend->max_active))
        p->max_active = backend->max_active;
    if (p->poll_interval_s <= 0)
        p->poll_interval_s = backend->poll_interval_s > 0 ? backend->poll_interval_s : 30;
    if (p->exit_file_grace_s < 0)
        p->exit_file_grace_s = backend->exit_file_grace_s;
    sched->last_refill = monotonic_now();
    sched->submit_tokens = p->submit_rate > 1 ? p->submit_rate : 1;
    return CAF_OK;
}

caf_status caf_scheduler_save(caf_scheduler *sched, caf_error *err)
{
    double began = monotonic_now();
    caf_status rc = caf_job_save(sched->job, err);
    if (rc == CAF_OK) {
        sched->dirty = false;
        sched->last_save = monotonic_now();
        sched->last_save_duration = sched->last_save - began;
    }
    return rc;
}

/* Records sub's change for the next save (or journal record). */
static void changed(caf_scheduler *sched, caf_subjob *sub)
{
    sub->unsaved = true;
    sched->dirty = true;
}

/* Saves when something changed and the last save is old enough (or force). A save rewrites the whole job,
 * so with a save interval the saves are also spread to at least ten times their own duration: a large
 * job's state costs at most about a tenth of the time however many subjobs change. With journal_changes,
 * every change is appended to the journal at once instead (the size of the change), and the whole job is
 * saved only when forced, before the first record, and when the journal has outgrown the saved state
 * (so a record costs O(1) bytes amortised, and reading the state back stays linear in its size). */
static caf_status maybe_save(caf_scheduler *sched, bool force, caf_error *err)
{
    if (!sched->dirty)
        return CAF_OK;
    caf_job *job = sched->job;
    if (sched->policy.journal_changes && !force && job->state_bytes > 0 && job->journal_bytes < job->state_bytes) {
        caf_status rc = caf_job_journal_append(job, err);
        if (rc == CAF_OK)
            sched->dirty = false;
        return rc;
    }
    double interval = sched->policy.save_interval_s;
    if (interval > 0 && interval < 10 * sched->last_save_duration)
        interval = 10 * sched->last_save_duration;
    if (!force && monotonic_now() - sched->last_save < interval)
        return CAF_OK;
    return caf_scheduler_save(sched, err);
}

static bool is_active(const caf_subjob *sub)
{
    return (sub->status == CAF_JOB_SUBMITTED || sub->status == CAF_JOB_RUNNING) && sub->batch_id;
}

/* Reads the exit-code file: 1 and *code when present and complete, 0 when absent, -1 when garbled. */
static int read_exit_code(const caf_subjob *sub, int *code)
{
    char *text = NULL;
    size_t size = 0;
    if (caf_file_read(sub->exit_code_file, &text, &size, NULL) != CAF_OK)
        return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    int ok = end != text && *end == '\n' && errno == 0 && v >= 0 && v <= 255;
    free(text);
    if (!ok)
        return -1;
    *code = (int)v;
    return 1;
}

static void record_failure(caf_scheduler *sched, caf_subjob *sub, const char *reason)
{
    int attempt = sub->attempt;
    bool retry = caf_job_fail_attempt(sched->job, sub, reason);
    if (retry)
        caf_warning("job %s, subjob %zu: attempt %d failed: %s; retrying", sched->job->name, sub->index, attempt,
                    reason);
    else
        caf_log_error("job %s, subjob %zu: failed after %d attempt%s: %s", sched->job->name, sub->index, attempt,
                      attempt == 1 ? "" : "s", reason);
    changed(sched, sub);
}

/* Applies what the exit-code file says; returns false when it is not there (yet). */
static bool settle_from_exit_file(caf_scheduler *sched, caf_subjob *sub, const char *batch_reason)
{
    int code = -1;
    int found = read_exit_code(sub, &code);
    if (found == 0)
        return false;
    char reason[512];
    if (found < 0) {
        snprintf(reason, sizeof reason, "unreadable exit-code file %s", sub->exit_code_file);
        record_failure(sched, sub, reason);
        return true;
    }
    sub->exit_code = code;
    sub->lost_since = 0;
    if (code == 0) {
        sub->status = CAF_JOB_COMPLETED;
        free(sub->reason);
        sub->reason = NULL;
        changed(sched, sub);
        return true;
    }
    snprintf(reason, sizeof reason, "exit code %d%s%s (see %s/stderr)", code, batch_reason ? "; " : "",
             batch_reason ? batch_reason : "", sub->dir);
    record_failure(sched, sub, reason);
    return true;
}

caf_status caf_scheduler_poll(caf_scheduler *sched, caf_error *err)
{
    caf_job *job = sched->job;
    size_t n = 0;
    for (size_t i = 0; i < job->n_subjobs; i++)
        n += is_active(&job->subjobs[i]);
    if (n == 0)
        return maybe_save(sched, false, err);
    caf_subjob **active = malloc(n * sizeof *active);
    caf_batch_report *reports = calloc(n, sizeof *reports);
    if (!active || !reports) {
        free(active);
        free(reports);
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    }
    n = 0;
    for (size_t i = 0; i < job->n_subjobs; i++)
        if (is_active(&job->subjobs[i]))
            active[n++] = &job->subjobs[i];
    caf_status rc = CAF_OK;
    if (n > 0) {
        caf_error poll_err = {0};
        sched->poll_calls++;
        if (sched->backend->ops->poll(sched->backend, job, active, n, reports, &poll_err) != CAF_OK) {
            caf_warning("job %s: polling %s failed (will try again): %s", job->name, sched->backend->ops->name,
                        poll_err.message);
            /* the exit-code files still tell which subjobs are done, batch system or not */
            for (size_t i = 0; i < n; i++)
                settle_from_exit_file(sched, active[i], NULL);
            n = 0;
        }
    }
    double now = wall_now();
    for (size_t i = 0; i < n; i++) {
        caf_subjob *sub = active[i];
        caf_batch_report *r = &reports[i];
        switch (r->state) {
        case CAF_BATCH_PENDING:
        case CAF_BATCH_RUNNING: {
            caf_job_status s = r->state == CAF_BATCH_RUNNING ? CAF_JOB_RUNNING : CAF_JOB_SUBMITTED;
            if (sub->status != s || sub->lost_since != 0) {
                sub->status = s;
                sub->lost_since = 0;
                changed(sched, sub);
            }
            break;
        }
        case CAF_BATCH_FAILED:
            if (!settle_from_exit_file(sched, sub, r->reason[0] ? r->reason : NULL))
                record_failure(sched, sub, r->reason[0] ? r->reason : "the batch system reports it failed");
            break;
        case CAF_BATCH_FINISHED:
        case CAF_BATCH_UNKNOWN:
            if (settle_from_exit_file(sched, sub, NULL))
                break;
            if (caf_subjob_lock_held(sub)) {
                /* The copy caf tracks ended (or is unknown) but another copy of the subjob (one submitted
                 * before a crash, between its submission and its record) holds the lock and will write the
                 * exit-code file: it is still running. */
                if (sub->lost_since != 0 || sub->status != CAF_JOB_RUNNING) {
                    caf_info("job %s, subjob %zu: another copy of it is running (it holds %s/%s); waiting for it",
                             job->name, sub->index, sub->dir, CAF_SUBJOB_LOCK_FILE);
                    sub->status = CAF_JOB_RUNNING;
                    sub->lost_since = 0;
                    changed(sched, sub);
                }
                break;
            }
            if (sub->lost_since == 0) {
                sub->lost_since = now;
                changed(sched, sub);
            } else if (now - sub->lost_since >= sched->policy.exit_file_grace_s) {
                char reason[512];
                snprintf(reason, sizeof reason,
                         "%s and its exit-code file %s did not appear within %g s (see %s/stderr)",
                         r->state == CAF_BATCH_FINISHED ? "it ended" : "the batch system no longer knows it",
                         sub->exit_code_file, sched->policy.exit_file_grace_s, sub->dir);
                record_failure(sched, sub, reason);
            }
            break;
        }
    }
    free(active);
    free(reports);
    if (rc == CAF_OK)
        rc = maybe_save(sched, false, err);
    return rc;
}

/* Gets sub ready for its next attempt: its folder, a fresh script (unless the backend starts the command
 * itself), its input_sandbox files, no stale exit-code file, output folder. */
static caf_status prepare_attempt(caf_scheduler *sched, caf_subjob *sub, caf_error *err)
{
    caf_status rc = sched->backend->starts_commands && !caf_job_needs_wrapper_script(sched->job)
                        ? caf_mkdir_p(sub->dir, err)
                        : caf_wrapper_script_write(sched->job, sub, err);
    if (rc == CAF_OK)
        rc = caf_input_sandbox_install(sched->job, sub, err);
    if (rc == CAF_OK && unlink(sub->exit_code_file) != 0 && errno != ENOENT)
        rc = caf_error_errno(err, errno, "%s", sub->exit_code_file);
    if (rc == CAF_OK && sched->job->output_patterns.count > 0)
        rc = caf_mkdir_p(sub->output_dir, err);
    sub->exit_code = -1;
    return rc;
}

/* Gives up on every subjob still waiting for submission: the batch system refused it max_refusals times
 * in a row, which a busy scheduler does not do for that long but a wrong queue name does forever. */
static void fail_waiting_subjobs(caf_scheduler *sched, const char *refusal)
{
    caf_job *job = sched->job;
    char reason[768];
    snprintf(reason, sizeof reason, "%s refused the submission %d times in a row: %s", sched->backend->ops->name,
             sched->refusals, refusal);
    size_t failed = 0;
    for (size_t i = 0; i < job->n_subjobs; i++) {
        caf_subjob *sub = &job->subjobs[i];
        if (sub->status != CAF_JOB_INIT)
            continue;
        sub->status = CAF_JOB_FAILED;
        free(sub->reason);
        sub->reason = strdup(reason);
        sub->unsaved = true;
        failed++;
    }
    caf_log_error("job %s: %zu subjob%s failed: %s", job->name, failed, failed == 1 ? "" : "s", reason);
    sched->dirty = true;
}

/* Records why submissions wait (held_back): "" when they do not, else the user's job limit or a count that
 * failed (whose warning is logged where it failed). Logs when submissions stop or start again for the limit. */
static void hold_back(caf_scheduler *sched, const char *why, size_t waiting)
{
    static const char at_limit[] = "waiting for the user's job limit";
    bool was = strncmp(sched->held_back, at_limit, sizeof at_limit - 1) == 0;
    bool is = strncmp(why, at_limit, sizeof at_limit - 1) == 0;
    if (is && !was)
        caf_info("job %s: %zu subjob%s held back: %s", sched->job->name, waiting, waiting == 1 ? "" : "s", why);
    else if (!why[0] && sched->held_back[0])
        caf_info("job %s: submitting again: the user's jobs in %s are under global_job_limit %d", sched->job->name,
                 sched->backend->ops->name, sched->policy.global_job_limit);
    snprintf(sched->held_back, sizeof sched->held_back, "%s", why);
}

/* Cuts *room to what the user's global job limit leaves (querying the batch system when due); false when
 * nothing may be submitted now. */
static bool user_limit_allows(caf_scheduler *sched, double now, size_t waiting, size_t *room)
{
    const caf_schedule_policy *p = &sched->policy;
    caf_backend *b = sched->backend;
    if (p->global_job_limit <= 0 || !b->ops->count_user_jobs)
        return true;
    size_t allowed = 0;
    bool queried = false;
    caf_error qerr = {0};
    char why[256];
    if (caf_user_job_room(b, p->global_job_limit, p->global_job_check_interval_s, p->backoff_max_s, now, &allowed,
                          &queried, &qerr) != CAF_OK) {
        caf_warning("job %s: cannot count the user's jobs in %s (%s); nothing is submitted until a count succeeds "
                    "(next try in %.0f s)", sched->job->name, b->ops->name, qerr.message, b->user_jobs.backoff_s);
        snprintf(why, sizeof why, "waiting for the count of the user's jobs in %s: %s", b->ops->name, qerr.message);
        hold_back(sched, why, waiting);
        return false;
    }
    if (!b->user_jobs.known)
        return false; /* the last query failed: held_back says so already */
    if (queried)
        caf_debug("job %s: the user has %ld jobs in %s (global_job_limit %d)", sched->job->name, b->user_jobs.count,
                  b->ops->name, p->global_job_limit);
    if (allowed == 0) {
        snprintf(why, sizeof why, "waiting for the user's job limit: %ld jobs in %s, global_job_limit %d (counted "
                 "again every %g s)", b->user_jobs.count, b->ops->name, p->global_job_limit,
                 p->global_job_check_interval_s);
        hold_back(sched, why, waiting);
        return false;
    }
    hold_back(sched, "", waiting);
    if (*room > allowed)
        *room = allowed;
    return true;
}

caf_status caf_scheduler_submit(caf_scheduler *sched, caf_error *err)
{
    caf_job *job = sched->job;
    caf_schedule_policy *p = &sched->policy;
    double now = monotonic_now();
    if (now < sched->next_submit_at)
        return CAF_OK;
    size_t active = 0, waiting = 0;
    for (size_t i = 0; i < job->n_subjobs; i++) {
        active += is_active(&job->subjobs[i]);
        waiting += job->subjobs[i].status == CAF_JOB_INIT;
    }
    if (waiting == 0) {
        sched->held_back[0] = '\0';
        return CAF_OK;
    }
    size_t room = waiting;
    if (p->max_active > 0)
        room = (size_t)p->max_active > active ? (size_t)p->max_active - active : 0;
    if (p->submit_rate > 0) {
        double burst = p->submit_rate > 1 ? p->submit_rate : 1;
        sched->submit_tokens += (now - sched->last_refill) * p->submit_rate;
        if (sched->submit_tokens > burst)
            sched->submit_tokens = burst;
        sched->last_refill = now;
        if ((double)room > floor(sched->submit_tokens))
            room = (size_t)floor(sched->submit_tokens);
    }
    if (p->max_per_submit > 0 && room > (size_t)p->max_per_submit)
        room = (size_t)p->max_per_submit;
    if (room > waiting)
        room = waiting;
    if (room == 0 || !user_limit_allows(sched, now, waiting, &room))
        return CAF_OK;
    if (!sched->sandbox_taken) { /* once, before the first subjob goes out */
        caf_status rc = caf_input_sandbox_snapshot(job, err);
        if (rc != CAF_OK)
            return rc;
        sched->sandbox_taken = true;
    }
    caf_subjob **batch = malloc(room * sizeof *batch);
    if (!batch)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    size_t n = 0;
    caf_status rc = CAF_OK;
    for (size_t i = 0; i < job->n_subjobs && n < room && rc == CAF_OK; i++) {
        caf_subjob *sub = &job->subjobs[i];
        if (sub->status != CAF_JOB_INIT)
            continue;
        rc = prepare_attempt(sched, sub, err);
        free(sub->batch_id);
        sub->batch_id = NULL;
        sub->unsaved = true; /* its exit code is reset: recorded with the next change */
        batch[n++] = sub;
    }
    if (rc != CAF_OK) {
        free(batch);
        return rc;
    }
    caf_error submit_err = {0};
    sched->submit_calls++;
    caf_status src = sched->backend->ops->submit(sched->backend, job, batch, n, &submit_err);
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        caf_subjob *sub = batch[i];
        if (!sub->batch_id)
            continue;
        accepted++;
        sub->status = CAF_JOB_SUBMITTED;
        sub->attempt++;
        sub->lost_since = 0;
    }
    free(batch);
    caf_user_jobs_submitted(sched->backend, accepted);
    if (accepted)
        sched->dirty = true;
    if (p->submit_rate > 0)
        sched->submit_tokens -= (double)accepted;
    if (src != CAF_OK && accepted == 0 && p->max_refusals > 0 && ++sched->refusals >= p->max_refusals) {
        fail_waiting_subjobs(sched, submit_err.message);
        return maybe_save(sched, true, err);
    }
    if (src != CAF_OK) {
        sched->backoff_s = sched->backoff_s > 0 ? sched->backoff_s * 2 : p->backoff_initial_s;
        if (sched->backoff_s > p->backoff_max_s)
            sched->backoff_s = p->backoff_max_s;
        sched->next_submit_at = monotonic_now() + sched->backoff_s;
        caf_warning("job %s: %s refused %zu of %zu subjobs (%s); trying again in %.0f s", job->name,
                    sched->backend->ops->name, n - accepted, n, submit_err.message, sched->backoff_s);
    } else {
        sched->backoff_s = 0;
        sched->refusals = 0;
    }
    return maybe_save(sched, false, err);
}

static bool all_settled(const caf_job *job)
{
    for (size_t i = 0; i < job->n_subjobs; i++)
        if (job->subjobs[i].status != CAF_JOB_COMPLETED && job->subjobs[i].status != CAF_JOB_FAILED)
            return false;
    return true;
}

caf_status caf_scheduler_cancel(caf_scheduler *sched, caf_error *err)
{
    caf_job *job = sched->job;
    caf_subjob **active = malloc((job->n_subjobs + 1) * sizeof *active);
    if (!active)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    size_t n = 0;
    for (size_t i = 0; i < job->n_subjobs; i++)
        if (is_active(&job->subjobs[i]))
            active[n++] = &job->subjobs[i];
    caf_status rc = n ? sched->backend->ops->cancel(sched->backend, job, active, n, err) : CAF_OK;
    free(active);
    if (rc != CAF_OK)
        return caf_error_prefix(err, "job %s: cancel: ", job->name);
    for (size_t i = 0; i < job->n_subjobs; i++) {
        caf_subjob *sub = &job->subjobs[i];
        if (sub->status == CAF_JOB_COMPLETED || sub->status == CAF_JOB_FAILED)
            continue;
        sub->status = CAF_JOB_FAILED;
        free(sub->reason);
        sub->reason = strdup("cancelled");
        sub->lost_since = 0;
        changed(sched, sub);
    }
    return maybe_save(sched, true, err);
}

caf_status caf_scheduler_run(caf_scheduler *sched, volatile sig_atomic_t *stop, caf_error *err)
{
    caf_status rc = CAF_OK;
    for (;;) {
        if (stop && *stop)
            break;
        rc = caf_scheduler_poll(sched, err);
        if (rc != CAF_OK || all_settled(sched->job))
            break;
        if (stop && *stop)
            break;
        rc = caf_scheduler_submit(sched, err);
        if (rc != CAF_OK || (stop && *stop))
            break;
        double wait = sched->policy.poll_interval_s;
        double now = monotonic_now();
        bool has_active = false;
        for (size_t i = 0; i < sched->job->n_subjobs && !has_active; i++)
            has_active = is_active(&sched->job->subjobs[i]);
        if (!has_active && sched->next_submit_at > now && sched->next_submit_at - now < wait)
            wait = sched->next_submit_at - now;
        if (!has_active && sched->policy.submit_rate > 0 && wait > 1.0 / sched->policy.submit_rate)
            wait = 1.0 / sched->policy.submit_rate;
        if (sched->dirty && wait > sched->policy.save_interval_s)
            wait = sched->policy.save_interval_s; /* an unsaved submission must not wait a whole poll */
        if (sched->backend->ops->wait && has_active)
            sched->backend->ops->wait(sched->backend, wait);
        else
            sleep_seconds(wait);
    }
    if (rc == CAF_OK && stop && *stop) {
        caf_warning("job %s: interrupted; cancelling its subjobs", sched->job->name);
        rc = caf_scheduler_cancel(sched, err);
        if (rc == CAF_OK)
            rc = caf_error_set(err, CAF_ERR_STATE, "job %s: cancelled", sched->job->name);
        return rc;
    }
    caf_status save_rc = maybe_save(sched, true, rc == CAF_OK ? err : NULL);
    return rc != CAF_OK ? rc : save_rc;
}
