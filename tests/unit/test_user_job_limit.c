/* The user's global job limit: the count query's rate limit and back-off (caf_user_job_room over explicit
 * times, no clock), and the scheduler holding submissions back while the user's jobs are at the limit,
 * driven through the real local backend whose operations gain a count of "the user's jobs": jobs
 * submitted outside caf (a number the test sets) plus caf's own active subjobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/backend.h"
#include "caf/job.h"
#include "caf/log.h"
#include "caf/scheduler.h"
#include "caf/user_job_limit.h"
#include "test_support.h"

static long outside_jobs;        /* jobs of the user that caf did not submit */
static bool count_fails;         /* the batch system does not answer */
static int count_calls;          /* queries so far */
static const caf_job *counted_job; /* whose active subjobs count too (may be NULL) */
static size_t most_active;       /* most of caf's subjobs active at a query */

static caf_status counting(caf_backend *backend, long *count, caf_error *err)
{
    (void)backend;
    count_calls++;
    if (count_fails)
        return caf_error_set(err, CAF_ERR_TIMEOUT, "squeue did not answer within 60 s (killed)");
    size_t active = 0;
    for (size_t i = 0; counted_job && i < counted_job->n_subjobs; i++)
        active += counted_job->subjobs[i].status == CAF_JOB_SUBMITTED || counted_job->subjobs[i].status == CAF_JOB_RUNNING;
    if (active > most_active)
        most_active = active;
    *count = outside_jobs + (long)active;
    return CAF_OK;
}

static caf_backend_ops counted_ops;

static void open_counted_local(caf_backend *backend)
{
    json_t *settings = json_pack("{s:i}", "slots", 4);
    caf_error err = {0};
    assert_int_equal(caf_backend_open(backend, "local", settings, &err), CAF_OK);
    json_decref(settings);
    counted_ops = *backend->ops;
    counted_ops.count_user_jobs = counting;
    backend->ops = &counted_ops;
    outside_jobs = 0;
    count_fails = false;
    count_calls = 0;
    counted_job = NULL;
    most_active = 0;
}

static void count_is_queried_at_most_once_per_check_interval(void **state)
{
    (void)state;
    caf_backend backend;
    open_counted_local(&backend);
    outside_jobs = 3;
    size_t room = 0;
    bool queried = false;
    caf_error err = {0};
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, 1000.0, &room, &queried, &err), CAF_OK);
    assert_true(queried);
    assert_int_equal(room, 7);
    assert_int_equal(count_calls, 1);
    /* Within the interval: no query; what caf submits counts at once, what others submit is seen later. */
    caf_user_jobs_submitted(&backend, 4);
    outside_jobs = 0;
    for (double t = 1000.0; t < 1030.0; t += 2.5) {
        assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, t, &room, &queried, &err), CAF_OK);
        assert_false(queried);
        assert_int_equal(room, 3);
    }
    assert_int_equal(count_calls, 1);
    /* The interval has passed: asked again, and the answer replaces the count kept (the batch system knows
     * of no job now: the outside ones ended, and the 4 "submitted" above were never real). */
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, 1030.0, &room, &queried, &err), CAF_OK);
    assert_true(queried);
    assert_int_equal(count_calls, 2);
    assert_int_equal(room, 10);
    /* At the limit: nothing may go until the next query says otherwise. */
    outside_jobs = 12;
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, 1060.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 0);
    outside_jobs = 0;
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, 1089.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 0);
    assert_int_equal(count_calls, 3);
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 300, 1090.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 10);
    assert_int_equal(count_calls, 4);
    assert_int_equal(backend.user_jobs.queries, 4);
    caf_backend_close(&backend);
}

static void failed_count_holds_back_and_retries_with_backoff(void **state)
{
    (void)state;
    caf_backend backend;
    open_counted_local(&backend);
    size_t room = 99;
    caf_error err = {0};
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, 0.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 10);
    count_fails = true;
    /* The failed query is an error once; the count is unknown until a query succeeds: room 0, never a guess. */
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, 30.0, &room, NULL, &err), CAF_ERR_TIMEOUT);
    assert_non_null(strstr(err.message, "did not answer"));
    assert_int_equal(room, 0);
    /* Back-off 30, 60, 100 (capped), 100: queries at 60, 120, 220, 320. */
    double expected[] = {60.0, 120.0, 220.0, 320.0};
    int calls = count_calls;
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, expected[k] - 0.5, &room, NULL, &err), CAF_OK);
        assert_int_equal(room, 0);
        assert_int_equal(count_calls, calls);
        assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, expected[k], &room, NULL, &err), CAF_ERR_TIMEOUT);
        assert_int_equal(count_calls, ++calls);
    }
    count_fails = false;
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, 419.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 0);
    assert_int_equal(caf_user_job_room(&backend, 10, 30, 100, 420.0, &room, NULL, &err), CAF_OK);
    assert_int_equal(room, 10);
    assert_int_equal(backend.user_jobs.backoff_s, 0);
    caf_backend_close(&backend);
}

static void no_limit_or_no_count_means_no_query(void **state)
{
    (void)state;
    caf_backend backend;
    open_counted_local(&backend);
    size_t room = 0;
    assert_int_equal(caf_user_job_room(&backend, 0, 30, 300, 0.0, &room, NULL, NULL), CAF_OK);
    assert_int_equal(room, SIZE_MAX);
    assert_int_equal(count_calls, 0);
    caf_backend_close(&backend);
    caf_error err = {0};
    assert_int_equal(caf_backend_open(&backend, "local", NULL, &err), CAF_OK);
    assert_null(backend.ops->count_user_jobs); /* the local machine has no such limit */
    assert_int_equal(caf_user_job_room(&backend, 5, 30, 300, 0.0, &room, NULL, NULL), CAF_OK);
    assert_int_equal(room, SIZE_MAX);
    caf_backend_close(&backend);
}

static void scheduler_holds_back_while_the_user_is_at_the_limit(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("userlimit");
    char text[1024];
    snprintf(text, sizeof text, "{\"name\": \"limited\", \"command\": \"sh\", \"args\": [\"-c\", \"sleep 0.1\"],"
                                " \"split\": {\"arg_sets\": [[\"a\"],[\"b\"],[\"c\"],[\"d\"],[\"e\"]]}}");
    json_t *spec = json_loads(text, 0, NULL);
    caf_job job;
    caf_error err = {0};
    assert_int_equal(caf_job_from_json(&job, spec, dir, &err), CAF_OK);
    json_decref(spec);
    caf_backend backend;
    open_counted_local(&backend);
    counted_job = &job;
    outside_jobs = 2;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    policy.global_job_limit = 2;
    policy.global_job_check_interval_s = 0; /* every submission asks */
    policy.poll_interval_s = 0.05;
    caf_scheduler sched;
    assert_int_equal(caf_scheduler_init(&sched, &job, &backend, &policy, &err), CAF_OK);
    /* The user's two jobs elsewhere fill the limit: nothing is submitted, and the scheduler says why. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK);
        assert_int_equal(caf_scheduler_poll(&sched, &err), CAF_OK);
    }
    assert_int_equal(sched.submit_calls, 0);
    for (size_t i = 0; i < job.n_subjobs; i++)
        assert_int_equal(job.subjobs[i].status, CAF_JOB_INIT);
    assert_non_null(strstr(sched.held_back, "waiting for the user's job limit: 2 jobs in local"));
    assert_int_equal(count_calls, 5);
    /* The batch system does not answer: still nothing submitted, and held_back says that instead. */
    count_fails = true;
    sched.backend->user_jobs.next_query_at = 0;
    caf_log_set_level(CAF_LOG_ERROR);
    assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK);
    caf_log_set_level(CAF_LOG_INFO);
    assert_int_equal(sched.submit_calls, 0);
    assert_non_null(strstr(sched.held_back, "waiting for the count of the user's jobs in local"));
    /* One outside job ends: one slot, filled by exactly one subjob. */
    count_fails = false;
    outside_jobs = 1;
    sched.backend->user_jobs.next_query_at = 0;
    assert_int_equal(caf_scheduler_submit(&sched, &err), CAF_OK);
    assert_int_equal(sched.submit_calls, 1);
    assert_string_equal(sched.held_back, "");
    size_t submitted = 0;
    for (size_t i = 0; i < job.n_subjobs; i++)
        submitted += job.subjobs[i].status != CAF_JOB_INIT;
    assert_int_equal(submitted, 1);
    /* The rest runs with the user's jobs never above the limit. */
    outside_jobs = 0;
    assert_int_equal(caf_scheduler_run(&sched, NULL, &err), CAF_OK);
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    assert_true(most_active <= 2);
    caf_backend_close(&backend);
    caf_job_close(&job);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_is_queried_at_most_once_per_check_interval),
        cmocka_unit_test(failed_count_holds_back_and_retries_with_backoff),
        cmocka_unit_test(no_limit_or_no_count_means_no_query),
        cmocka_unit_test(scheduler_holds_back_while_the_user_is_at_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
