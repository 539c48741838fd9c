/* Job policies of campaigns: polite defaults per backend, the keys and their ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "caf/job_policy.h"

static void defaults_per_backend_bound_every_batch_system(void **state)
{
    (void)state;
    caf_job_policy p;
    caf_job_policy_defaults("local", &p);
    assert_int_equal(p.schedule.max_active, 0); /* the machine's cores */
    assert_int_equal(p.retry.max_retries, 2);
    static const char *const batch[] = {"slurm", "pbs", "htcondor", "lsf", "a-future-one"};
    for (size_t i = 0; i < sizeof batch / sizeof *batch; i++) {
        caf_job_policy_defaults(batch[i], &p);
        assert_true(p.schedule.max_active > 0 && p.schedule.max_active <= 2000);
        assert_true(p.schedule.submit_rate > 0);
        assert_true(p.schedule.max_per_submit > 0);
        assert_int_equal(p.retry.max_retries, 2);
        assert_true(p.retry.memory_factor == 1.0 && p.retry.time_factor == 1.0);
    }
    caf_job_policy_defaults("pbs", &p);
    assert_int_equal(p.schedule.max_per_submit, 20); /* one qsub per subjob */
    /* The user's global job limit: basf2's per backend, Slurm well under a typical MaxSubmitJobs, none on
     * the local machine; counted at most every 30 s (basf2's sleep_between_submission_checks). */
    static const struct {
        const char *backend;
        int limit;
    } limits[] = {{"local", 0}, {"pbs", 5000}, {"lsf", 15000}, {"htcondor", 10000}, {"slurm", 1000}};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        caf_job_policy_defaults(limits[i].backend, &p);
        assert_int_equal(p.schedule.global_job_limit, limits[i].limit);
        assert_true(p.schedule.global_job_check_interval_s == 30);
    }
}

static void keys_override_and_ranges_are_checked(void **state)
{
    (void)state;
    caf_job_policy p;
    caf_job_policy_defaults("slurm", &p);
    json_t *ok = json_loads("{\"max_active\": 50, \"submit_rate\": 0.5, \"max_per_submit\": 10, \"max_retries\": 4, "
                            "\"memory_factor\": 1.5, \"time_factor\": 2, \"global_job_limit\": 300, "
                            "\"global_job_check_interval\": 5}", 0, NULL);
    assert_int_equal(caf_job_policy_apply(&p, ok, NULL, NULL), CAF_OK);
    assert_int_equal(p.schedule.max_active, 50);
    assert_true(p.schedule.submit_rate == 0.5);
    assert_int_equal(p.schedule.max_per_submit, 10);
    assert_int_equal(p.retry.max_retries, 4);
    assert_true(p.retry.memory_factor == 1.5 && p.retry.time_factor == 2.0);
    assert_int_equal(p.schedule.global_job_limit, 300);
    assert_true(p.schedule.global_job_check_interval_s == 5);
    json_decref(ok);

    static const struct {
        const char *json, *key, *message;
    } bad[] = {
        {"{\"max_active\": -1}", "max_active", "max_active must be an integer"},
        {"{\"max_active\": 2.5}", "max_active", "max_active must be an integer"},
        {"{\"submit_rate\": \"fast\"}", "submit_rate", "submit_rate must be a number"},
        {"{\"max_retries\": 101}", "max_retries", "from 0 to 100"},
        {"{\"memory_factor\": 0.9}", "memory_factor", "from 1 to 100"},
        {"{\"time_factor\": true}", "time_factor", "time_factor must be"},
        {"{\"max_running\": 3}", "max_running", "unknown key 'max_running'"},
        {"{\"global_job_limit\": -5}", "global_job_limit", "from 0 (no limit, no query) to 1000000"},
        {"{\"global_job_limit\": \"5000\"}", "global_job_limit", "global_job_limit must be an integer"},
        {"{\"global_job_check_interval\": 0.5}", "global_job_check_interval", "from 1 to 3600"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *obj = json_loads(bad[i].json, 0, NULL);
        const char *key = NULL;
        caf_error err = {0};
        assert_int_equal(caf_job_policy_apply(&p, obj, &key, &err), CAF_ERR_INVALID);
        assert_non_null(key);
        assert_string_equal(key, bad[i].key);
        if (!strstr(err.message, bad[i].message))
            fail_msg("%s: %s", bad[i].json, err.message);
        json_decref(obj);
    }
    assert_int_equal(p.schedule.max_active, 50); /* refused values change nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_per_backend_bound_every_batch_system),
        cmocka_unit_test(keys_override_and_ranges_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
