/* The scheduler's shared policies, driven through the real local backend: active limit, retries,
 * time limits, missing exit-code files, rate limit, back-off after refusals and subjobs the batch
 * system forgets (the last two inject the fault by wrapping the local backend's operations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/backend.h"
#include "caf/file.h"
#include "caf/job.h"
#include "caf/log.h"
#include "caf/scheduler.h"
#include "test_support.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A job from JSON text in which "@" stands for a fresh temporary folder (also its working folder). */
static void make_job(caf_job *job, char **dir, const char *fmt, ...)
{
    *dir = test_make_temp_dir("sched");
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char expanded[16384];
    char *o = expanded;
    for (const char *c = text; *c; c++) {
        if (*c == '@')
            o += sprintf(o, "%s", *dir);
        else
            *o++ = *c;
    }
    *o = '\0';
    json_error_t jerr;
    json_t *spec = json_loads(expanded, 0, &jerr);
    if (!spec)
        fail_msg("bad test JSON: %s", jerr.text);
    caf_error err = {0};
    if (caf_job_from_json(job, spec, *dir, &err) != CAF_OK)
        fail_msg("%s", err.message);
    json_decref(spec);
}

/* Closes job and removes its folder. */
static void drop_job(caf_job *job, char *dir)
{
    caf_job_close(job);
    test_remove_tree(dir);
    free(dir);
}

static caf_status run_job(caf_job *job, caf_backend *backend, const caf_schedule_policy *policy, caf_scheduler *out)
{
    caf_scheduler sched;
    caf_error err = {0};
    assert_int_equal(caf_scheduler_init(&sched, job, backend, policy, &err), CAF_OK);
    caf_status rc = caf_scheduler_run(&sched, NULL, &err);
    if (out)
        *out = sched;
    return rc;
}

static void open_local(caf_backend *backend, int slots)
{
    json_t *settings = json_pack("{s:i}", "slots", slots);
    caf_error err = {0};
    assert_int_equal(caf_backend_open(backend, "local", settings, &err), CAF_OK);
    json_decref(settings);
}

static int count_lines(const char *dir, const char *name)
{
    char *text = test_read_file(dir, name);
    int n = 0;
    for (const char *c = text; c && *c; c++)
        n += *c == '\n';
    free(text);
    return n;
}

static void runs_every_subjob_within_the_active_limit(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    /* each subjob notes how many subjobs run at the same time (marker files in @/busy) */
    make_job(&job, &dir,
             "{\"name\": \"limit\", \"command\": \"sh\", \"args\": [\"-c\", \"mkdir -p @/busy; touch @/busy/$1; "
             "ls @/busy | wc -l >> @/counts; sleep 0.2; rm @/busy/$1\", \"sh\"],"
             " \"split\": {\"arg_sets\": [[\"a\"],[\"b\"],[\"c\"],[\"d\"],[\"e\"],[\"f\"]]}}");
    caf_backend backend;
    open_local(&backend, 2);
    caf_scheduler sched;
    assert_int_equal(run_job(&job, &backend, NULL, &sched), CAF_OK);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    assert_int_equal(count_lines(dir, "counts"), 6);
    char *counts = test_read_file(dir, "counts");
    for (char *c = counts; *c; c++)
        assert_true(*c == '\n' || *c == ' ' || *c == '1' || *c == '2');
    free(counts);
    for (size_t i = 0; i < job.n_subjobs; i++) {
        assert_int_equal(job.subjobs[i].attempt, 1);
        assert_int_equal(job.subjobs[i].exit_code, 0);
    }
    /* the final state is on disk */
    bool found = false;
    caf_error err = {0};
    assert_int_equal(caf_job_load_state(&job, &found, &err), CAF_OK);
    assert_true(found);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void failing_command_is_retried_then_failed_with_reason(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir,
             "{\"name\": \"fails\", \"command\": \"sh\", \"args\": [\"-c\", \"echo run >> @/runs; exit 3\"]}");
    caf_backend backend;
    open_local(&backend, 2);
    assert_int_equal(run_job(&job, &backend, NULL, NULL), CAF_OK);
    caf_subjob *s = &job.subjobs[0];
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_FAILED);
    assert_int_equal(s->attempt, 3); /* default: two retries */
    assert_int_equal(count_lines(dir, "runs"), 3);
    assert_int_equal(s->exit_code, 3);
    assert_non_null(s->reason);
    assert_int_equal(strncmp(s->reason, "exit code 3 (see ", 17), 0);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void subjob_over_its_time_is_killed_and_retried_with_more_time(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    /* attempt 1 (1 s) is killed; attempt 2 gets 4 s and finishes */
    make_job(&job, &dir,
             "{\"name\": \"slow\", \"command\": \"sh\", \"args\": [\"-c\", \"echo $$ >> @/pids; sleep 2\"],"
             " \"backend_args\": {\"time_s\": 1}, \"retry\": {\"max_retries\": 1, \"time_factor\": 4}}");
    caf_backend backend;
    open_local(&backend, 2);
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.poll_interval_s = 0.1;
    assert_int_equal(run_job(&job, &backend, &policy, NULL), CAF_OK);
    caf_subjob *s = &job.subjobs[0];
    assert_int_equal(s->status, CAF_JOB_COMPLETED);
    assert_int_equal(s->attempt, 2);
    assert_int_equal(s->time_s, 4);
    assert_int_equal(count_lines(dir, "pids"), 2);
    drop_job(&job, dir);

    /* without retries the failure says why */
    make_job(&job, &dir,
             "{\"name\": \"slow\", \"command\": \"sleep\", \"args\": [\"30\"],"
             " \"backend_args\": {\"time_s\": 1}, \"retry\": {\"max_retries\": 0}}");
    double t0 = now_s();
    assert_int_equal(run_job(&job, &backend, &policy, NULL), CAF_OK);
    assert_true(now_s() - t0 < 10);
    s = &job.subjobs[0];
    assert_int_equal(s->status, CAF_JOB_FAILED);
    assert_string_equal(s->reason, "exceeded its time limit of 1 s (killed)");
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void missing_exit_code_file_fails_instead_of_hanging(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    /* the command kills its wrapper script, so no exit-code file is ever written */
    make_job(&job, &dir,
             "{\"name\": \"vanish\", \"command\": \"sh\", \"args\": [\"-c\", \"kill -9 $PPID\"],"
             " \"retry\": {\"max_retries\": 1}}");
    caf_backend backend;
    open_local(&backend, 2);
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.exit_file_grace_s = 0.3;
    policy.poll_interval_s = 0.1;
    /* Started directly, the command kills the local backend's shepherd; a new shepherd started for the
     * retry can be killed before it answers (often under a sanitizer), which is a refused submission,
     * retried after the back-off: keep that short so the time bound tests the grace, not the back-off. */
    policy.backoff_initial_s = 0.2;
    policy.backoff_max_s = 0.5;
    double t0 = now_s();
    assert_int_equal(run_job(&job, &backend, &policy, NULL), CAF_OK);
    assert_true(now_s() - t0 < 10);
    caf_subjob *s = &job.subjobs[0];
    assert_int_equal(s->status, CAF_JOB_FAILED);
    assert_int_equal(s->attempt, 2);
    assert_non_null(strstr(s->reason, "it ended and its exit-code file"));
    assert_non_null(strstr(s->reason, "did not appear within"));
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void submission_rate_is_limited(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir,
             "{\"name\": \"rate\", \"command\": \"true\", \"input_files\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
             "\"7\",\"8\"], \"split\": {\"max_files_per_subjob\": 1}}");
    caf_backend backend;
    open_local(&backend, 100);
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.submit_rate = 10; /* a burst of 10 per second: 8 go at once */
    policy.max_per_submit = 3;
    caf_scheduler sched;
    assert_int_equal(run_job(&job, &backend, &policy, &sched), CAF_OK);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    assert_true(sched.submit_calls >= 3); /* 3 + 3 + 2 */
    drop_job(&job, dir);

    make_job(&job, &dir,
             "{\"name\": \"rate\", \"command\": \"true\", \"input_files\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"],"
             " \"split\": {\"max_files_per_subjob\": 1}}");
    policy.submit_rate = 2;
    policy.max_per_submit = 0;
    double t0 = now_s();
    assert_int_equal(run_job(&job, &backend, &policy, &sched), CAF_OK);
    /* 2 at once, then one every 0.5 s for the other 4 */
    assert_true(now_s() - t0 >= 1.8);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* Fault injection: the local backend behind a scheduler that refuses the first two submissions. */
static int refusals_left;
static const caf_backend_ops *real_ops;
static caf_status refusing_submit(caf_backend *b, const caf_job *job, caf_subjob **subs, size_t n, caf_error *err)
{
    if (refusals_left > 0) {
        refusals_left--;
        return caf_error_set(err, CAF_ERR_TIMEOUT, "sbatch: no answer within 30 s (killed)");
    }
    return real_ops->submit(b, job, subs, n, err);
}

static void refused_submissions_back_off_then_succeed(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir, "{\"name\": \"busy\", \"command\": \"true\", \"split\": {\"arg_sets\": [[],[]]}}");
    caf_backend backend;
    open_local(&backend, 2);
    real_ops = backend.ops;
    caf_backend_ops flaky = *backend.ops;
    flaky.submit = refusing_submit;
    backend.ops = &flaky;
    refusals_left = 2;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.backoff_initial_s = 0.2;
    policy.backoff_max_s = 0.3;
    caf_log_set_level(CAF_LOG_ERROR);
    double t0 = now_s();
    caf_scheduler sched;
    assert_int_equal(run_job(&job, &backend, &policy, &sched), CAF_OK);
    double took = now_s() - t0;
    caf_log_set_level(CAF_LOG_INFO);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    assert_int_equal(sched.submit_calls, 3);
    assert_true(took >= 0.5); /* 0.2 then 0.3 (capped from 0.4) */
    for (size_t i = 0; i < job.n_subjobs; i++)
        assert_int_equal(job.subjobs[i].attempt, 1); /* a refusal is not an attempt */
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void permanently_refused_submission_fails_instead_of_hanging(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir, "{\"name\": \"wrongqueue\", \"command\": \"true\", \"split\": {\"arg_sets\": [[],[],[]]}}");
    caf_backend backend;
    open_local(&backend, 2);
    real_ops = backend.ops;
    caf_backend_ops refusing = *backend.ops;
    refusing.submit = refusing_submit;
    backend.ops = &refusing;
    refusals_left = 1000;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.backoff_initial_s = 0.01;
    policy.backoff_max_s = 0.02;
    policy.max_refusals = 4;
    caf_log_set_level(CAF_LOG_QUIET);
    caf_scheduler sched;
    assert_int_equal(run_job(&job, &backend, &policy, &sched), CAF_OK);
    caf_log_set_level(CAF_LOG_INFO);
    assert_int_equal(sched.submit_calls, 4);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_FAILED);
    for (size_t i = 0; i < job.n_subjobs; i++) {
        assert_int_equal(job.subjobs[i].status, CAF_JOB_FAILED);
        assert_int_equal(job.subjobs[i].attempt, 0);
        assert_non_null(strstr(job.subjobs[i].reason, "refused the submission 4 times in a row: sbatch: no answer"));
    }
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* Fault injection: a batch system that accepts subjobs and then forgets them. */
static caf_status forgetful_submit(caf_backend *b, const caf_job *job, caf_subjob **subs, size_t n, caf_error *err)
{
    (void)b, (void)job, (void)err;
    for (size_t i = 0; i < n; i++)
        subs[i]->batch_id = strdup("ghost");
    return CAF_OK;
}

static caf_status forgetful_poll(caf_backend *b, const caf_job *job, caf_subjob **subs, size_t n,
                                 caf_batch_report *reports, caf_error *err)
{
    (void)b, (void)job, (void)subs, (void)err;
    for (size_t i = 0; i < n; i++)
        reports[i].state = CAF_BATCH_UNKNOWN;
    return CAF_OK;
}

static void forgotten_subjob_fails_after_the_grace_period(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir, "{\"name\": \"ghost\", \"command\": \"true\", \"retry\": {\"max_retries\": 0}}");
    caf_backend backend;
    open_local(&backend, 2);
    caf_backend_ops forgetful = *backend.ops;
    forgetful.submit = forgetful_submit;
    forgetful.poll = forgetful_poll;
    forgetful.wait = NULL;
    backend.ops = &forgetful;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.exit_file_grace_s = 0.3;
    policy.poll_interval_s = 0.1;
    caf_log_set_level(CAF_LOG_QUIET);
    assert_int_equal(run_job(&job, &backend, &policy, NULL), CAF_OK);
    caf_log_set_level(CAF_LOG_INFO);
    assert_int_equal(job.subjobs[0].status, CAF_JOB_FAILED);
    assert_non_null(strstr(job.subjobs[0].reason, "the batch system no longer knows it"));
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* Fault injection: every status query of the batch system fails. */
static caf_status failing_poll(caf_backend *b, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_batch_report *reports, caf_error *err)
{
    (void)b, (void)job, (void)subs, (void)n, (void)reports;
    return caf_error_set(err, CAF_ERR_TIMEOUT, "squeue: no answer within 60 s (killed)");
}

static void failing_status_queries_still_finish_from_exit_files(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir,
             "{\"name\": \"blind\", \"command\": \"sh\", \"args\": [\"-c\", \"exit $1\", \"sh\"],"
             " \"split\": {\"arg_sets\": [[\"0\"], [\"4\"]]}, \"retry\": {\"max_retries\": 0}}");
    caf_backend backend;
    open_local(&backend, 2);
    caf_backend_ops blind = *backend.ops;
    blind.poll = failing_poll;
    backend.ops = &blind;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.poll_interval_s = 0.1;
    caf_log_set_level(CAF_LOG_QUIET);
    assert_int_equal(run_job(&job, &backend, &policy, NULL), CAF_OK);
    caf_log_set_level(CAF_LOG_INFO);
    assert_int_equal(job.subjobs[0].status, CAF_JOB_COMPLETED);
    assert_int_equal(job.subjobs[1].status, CAF_JOB_FAILED);
    assert_int_equal(job.subjobs[1].exit_code, 4);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* The local backend lends a descriptor (its shepherd's socket), so a caller can wait on a subjob's exit
 * together with descriptors of its own (the run loop's algorithm drivers). */
static void local_backend_wakes_a_caller_polling_its_descriptors(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir, "{\"name\": \"wake\", \"command\": \"sh\", \"args\": [\"-c\", \"sleep 0.3\"]}");
    caf_backend backend;
    open_local(&backend, 1);
    assert_non_null(backend.ops->wake_fds);
    caf_scheduler sched;
    caf_error err = {0};
    assert_int_equal(caf_scheduler_init(&sched, &job, &backend, NULL, &err), CAF_OK);
    assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK);
    struct pollfd fds[4];
    size_t n = backend.ops->wake_fds(&backend, fds, 4);
    assert_int_equal(n, 1);
    assert_int_equal(poll(fds, (nfds_t)n, 0), 0); /* still running */
    assert_int_equal(poll(fds, (nfds_t)n, 60000), 1); /* woken by the exit, not by the time-out */
    while (caf_job_status_of(&job) != CAF_JOB_COMPLETED) {
        assert_int_equal(caf_scheduler_poll(&sched, &err), CAF_OK);
        backend.ops->wait(&backend, 0.05);
    }
    assert_int_equal(backend.ops->wake_fds(&backend, fds, 4), 0); /* nothing left to wait for */
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* A save rewrites the whole job, so saves are spread to ten times what the last one took: with a last save
 * that took 100 s, a change one second later is not saved yet although the save interval (0.2 s) passed. */
static void saves_are_spread_to_ten_times_their_duration(void **state)
{
    (void)state;
    caf_job job;
    char *dir;
    make_job(&job, &dir, "{\"name\": \"spread\", \"command\": \"true\"}");
    caf_backend backend;
    open_local(&backend, 1);
    caf_scheduler sched;
    caf_error err = {0};
    assert_int_equal(caf_scheduler_init(&sched, &job, &backend, NULL, &err), CAF_OK);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    sched.last_save = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - 1.0;
    sched.last_save_duration = 100;
    assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK); /* a change: the subjob submitted */
    char *saved = caf_job_state_path(&job);
    assert_int_equal(access(saved, F_OK), -1);
    sched.last_save_duration = 0.01; /* 0.1 s: the interval of 0.2 s decides again, and it has passed */
    assert_int_equal(caf_scheduler_poll(&sched, &err), CAF_OK);
    assert_int_equal(access(saved, F_OK), 0);
    free(saved);
    caf_scheduler_cancel(&sched, &err);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

/* The saved state's journal id (each save makes a new one); "" before the first save. */
static void saved_state_id(const char *dir, char *id, size_t size)
{
    char *text = test_read_file(dir, "caf-job.json");
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, "journal_id"));
    snprintf(id, size, "%s", v ? v : "");
    json_decref(j);
    free(text);
}

static void journaled_changes_save_the_whole_job_once(void **state)
{
    (void)state;
    /* a large job (every subjob lists 60 input files) whose every change must be on disk at once, as caf
     * run's collector jobs: the whole state is written before the first record only, each change after it
     * is a journal record, and a fresh caf reads back exactly the state in memory */
    char files[6000] = "";
    for (int i = 0; i < 60; i++)
        snprintf(files + strlen(files), sizeof files - strlen(files), "%s\"/data/experiment_1/run_%04d.h5\"",
                 i ? ", " : "", i);
    caf_job job;
    char *dir;
    make_job(&job, &dir,
             "{\"name\": \"journal\", \"command\": \"sh\", \"args\": [\"-c\", \"exit $1\", \"sh\"],"
             " \"input_files\": [%s], \"retry\": {\"max_retries\": 1},"
             " \"split\": {\"arg_sets\": [[\"0\"],[\"0\"],[\"3\"],[\"0\"],[\"0\"],[\"0\"]]}}", files);
    caf_backend backend;
    open_local(&backend, 2);
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.save_interval_s = 0;
    policy.journal_changes = true;
    policy.poll_interval_s = 0.05;
    caf_scheduler sched;
    caf_error err = {0};
    assert_int_equal(caf_scheduler_init(&sched, &job, &backend, &policy, &err), CAF_OK);
    char first[32] = "", id[32];
    int saves = 0;
    for (double until = now_s() + 30; caf_job_status_of(&job) != CAF_JOB_COMPLETED &&
                                      caf_job_status_of(&job) != CAF_JOB_FAILED && now_s() < until;) {
        assert_int_equal(caf_scheduler_poll(&sched, &err), CAF_OK);
        assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK);
        assert_false(sched.dirty); /* every change is on disk when the call returns */
        saved_state_id(job.working_dir, id, sizeof id);
        if (strcmp(id, first) != 0) {
            saves++;
            snprintf(first, sizeof first, "%s", id);
        }
        backend.ops->wait(&backend, 0.05);
    }
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_FAILED);
    assert_int_equal(job.subjobs[2].attempt, 2);
    assert_int_equal(saves, 1);
    assert_true(job.journal_bytes > 0 && job.journal_bytes < job.state_bytes);
    assert_true(count_lines(job.working_dir, "caf-job.journal") >= 1 + 2 * 6); /* a submission and an end per subjob */

    caf_job again;
    char *spec = caf_job_state_path(&job);
    assert_int_equal(caf_job_load_spec(&again, spec, &err), CAF_OK);
    bool found = false;
    assert_int_equal(caf_job_load_state(&again, &found, &err), CAF_OK);
    json_t *a = caf_job_to_json(&job), *b = caf_job_to_json(&again);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    caf_job_close(&again);
    free(spec);
    caf_backend_close(&backend);
    drop_job(&job, dir);
}

static void unknown_backend_lists_the_known_ones(void **state)
{
    (void)state;
    caf_backend backend;
    caf_error err = {0};
    assert_int_equal(caf_backend_open(&backend, "nope", NULL, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "unknown backend 'nope' (known: "));
    assert_non_null(strstr(err.message, "local"));
    json_t *bad = json_pack("{s:i}", "slot", 2);
    assert_int_equal(caf_backend_open(&backend, "local", bad, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "backend local: backend_settings: unknown key 'slot' (local knows 'slots')");
    json_decref(bad);
}

static void policy_reads_json_and_names_bad_keys(void **state)
{
    (void)state;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    caf_error err = {0};
    json_t *obj = json_pack("{s:i, s:f, s:f}", "max_active", 7, "submit_rate", 2.5, "exit_file_grace_s", 0.0);
    assert_int_equal(caf_schedule_policy_from_json(&policy, obj, &err), CAF_OK);
    json_decref(obj);
    assert_int_equal(policy.max_active, 7);
    assert_true(policy.submit_rate == 2.5);
    assert_true(policy.exit_file_grace_s == 0.0);
    assert_true(policy.backoff_initial_s == 5); /* untouched default */
    obj = json_pack("{s:f}", "max_active", 1.5);
    assert_int_equal(caf_schedule_policy_from_json(&policy, obj, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "policy: key 'max_active' must be a non-negative integer");
    json_decref(obj);
    obj = json_pack("{s:i}", "poll_every", 1);
    assert_int_equal(caf_schedule_policy_from_json(&policy, obj, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "policy: unknown key 'poll_every'");
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_every_subjob_within_the_active_limit),
        cmocka_unit_test(failing_command_is_retried_then_failed_with_reason),
        cmocka_unit_test(subjob_over_its_time_is_killed_and_retried_with_more_time),
        cmocka_unit_test(missing_exit_code_file_fails_instead_of_hanging),
        cmocka_unit_test(submission_rate_is_limited),
        cmocka_unit_test(refused_submissions_back_off_then_succeed),
        cmocka_unit_test(permanently_refused_submission_fails_instead_of_hanging),
        cmocka_unit_test(forgotten_subjob_fails_after_the_grace_period),
        cmocka_unit_test(failing_status_queries_still_finish_from_exit_files),
        cmocka_unit_test(local_backend_wakes_a_caller_polling_its_descriptors),
        cmocka_unit_test(saves_are_spread_to_ten_times_their_duration),
        cmocka_unit_test(journaled_changes_save_the_whole_job_once),
        cmocka_unit_test(unknown_backend_lists_the_known_ones),
        cmocka_unit_test(policy_reads_json_and_names_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
