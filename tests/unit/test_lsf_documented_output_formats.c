/* LSF cannot be installed here, so its backend is checked against the outputs IBM's LSF 10.1
 * documentation shows, quoted exactly (sources cited at each fixture), and against the bsub command
 * line it builds. A fixture that is constructed rather than quoted says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

static caf_subjob *subs_with_ids(const char *const *ids, size_t n, caf_subjob **ptrs)
{
    caf_subjob *subs = calloc(n, sizeof *subs);
    assert_non_null(subs);
    for (size_t i = 0; i < n; i++) {
        subs[i].index = i;
        subs[i].batch_id = (char *)ids[i];
        ptrs[i] = &subs[i];
    }
    return subs;
}

static void bsub_output_gives_the_job_id(void **state)
{
    (void)state;
    /* IBM Spectrum LSF 10.1, bsub: the confirmation bsub prints on submission. */
    char id[32];
    assert_int_equal(lsf_parse_submitted("Job <1234> is submitted to default queue <normal>.\n", id, sizeof id, NULL),
                     CAF_OK);
    assert_string_equal(id, "1234");
    assert_int_equal(lsf_parse_submitted("Job <4838563> is submitted to queue <standard>.\n", id, sizeof id, NULL),
                     CAF_OK);
    assert_string_equal(id, "4838563");
    caf_error err = {0};
    assert_int_equal(lsf_parse_submitted("short: User cannot use the queue. Job not submitted.\n", id, sizeof id,
                                         &err),
                     CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "bsub printed no job id"));
}

static void bjobs_default_listing_gives_states(void **state)
{
    (void)state;
    /* IBM Spectrum LSF 10.1, lsf.conf LSB_BJOBS_CONSISTENT_EXIT_CODE: "Job 111 is running, and job 123
     * does not exist: bjobs 111 123" (the "not found" line goes to stderr; kept here to prove it is
     * ignored wherever it lands). */
    char documented[] = "JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME\n"
                        "111     user1   RUN   normal     hostA       hostB       myjob      Oct 22 09:22\n"
                        "Job <123> is not found\n";
    const char *ids[] = {"111", "123"};
    caf_subjob *ptrs[2];
    caf_subjob *subs = subs_with_ids(ids, 2, ptrs);
    caf_batch_report reports[2] = {0};
    bool seen[2] = {0};
    lsf_apply_status(documented, ptrs, 2, reports, seen);
    assert_true(seen[0]);
    assert_int_equal(reports[0].state, CAF_BATCH_RUNNING);
    assert_false(seen[1]);
    free(subs);
}

static void bjobs_array_elements_by_name_or_id(void **state)
{
    (void)state;
    /* Constructed from the documented default columns (above) with array elements: LSF names them
     * "NAME[INDEX]" in JOB_NAME (LSF 10.1, "Job arrays"), or "JOBID[INDEX]" in JOBID when
     * LSB_BJOBS_DISPLAY_ENH=Y (lsf.conf). A pending element has no EXEC_HOST, so JOB_NAME moves left. */
    char text[] = "JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME\n"
                  "2000    user1   DONE  normal     hostA       hostB       caf-calib[1] Oct 22 09:22\n"
                  "2000    user1   RUN   normal     hostA       hostB       caf-calib[2] Oct 22 09:22\n"
                  "2000    user1   PEND  normal     hostA                   caf-calib[3] Oct 22 09:22\n"
                  "2000[4] user1   EXIT  normal     hostA       hostC       caf-calib[4] Oct 22 09:22\n";
    const char *ids[] = {"2000[1]", "2000[2]", "2000[3]", "2000[4]", "2000[5]"};
    caf_subjob *ptrs[5];
    caf_subjob *subs = subs_with_ids(ids, 5, ptrs);
    caf_batch_report reports[5] = {0};
    bool seen[5] = {0};
    lsf_apply_status(text, ptrs, 5, reports, seen);
    assert_int_equal(reports[0].state, CAF_BATCH_FINISHED);
    assert_int_equal(reports[1].state, CAF_BATCH_RUNNING);
    assert_int_equal(reports[2].state, CAF_BATCH_PENDING);
    assert_int_equal(reports[3].state, CAF_BATCH_FINISHED); /* EXIT: the exit-code file says how */
    assert_false(seen[4]);
    free(subs);
}

static void bsub_command_is_an_array_with_throttle(void **state)
{
    (void)state;
    caf_job job = {0};
    job.name = "calib run$1";
    job.working_dir = "/w";
    job.backend_args.queue = "long queue";
    job.backend_args.cores = 4;
    caf_subjob subs[2] = {0};
    caf_subjob *ptrs[2] = {&subs[0], &subs[1]};
    subs[0].script_path = "/w/subjobs/0/run.sh";
    subs[1].script_path = "/w/subjobs/1/it's run.sh";
    for (int i = 0; i < 2; i++) {
        subs[i].memory_mb = 3000;
        subs[i].time_s = 90;
    }
    batch_settings settings = {.max_running = 10};
    batch_command cmd = {0};
    assert_int_equal(lsf_submit_command(&job, &settings, ptrs, 2, &cmd, NULL), CAF_OK);
    const char *expected[] = {"bsub", "-J", "caf-calib_run_1[1-2]%10", "-o", "subjobs/lsf-%J_%I.log", "-q",
                              "long queue", "-M", "3000MB", "-W", "0:02", "-n", "4", NULL};
    for (size_t i = 0; expected[i]; i++)
        assert_string_equal(cmd.argv[i], expected[i]);
    assert_null(cmd.argv[13]);
    assert_non_null(strstr(cmd.stdin_text, "${LSB_JOBINDEX:?} - 1"));
    assert_non_null(strstr(cmd.stdin_text, "'/w/subjobs/1/it'\\''s run.sh'"));
    batch_command_free(&cmd);
}

/* bjobs -w -u USER: the user's unfinished jobs in the default listing quoted above (JOBID USER STAT QUEUE
 * FROM_HOST EXEC_HOST JOB_NAME SUBMIT_TIME), array elements one line each (IBM Spectrum LSF 10.1, bjobs
 * "Job arrays": "bjobs -A" summarises, plain bjobs lists every element as NAME[INDEX]); "No unfinished job
 * found" (bjobs's words when the user has none, on stderr) is 0. Constructed from those documented lines. */
static void bjobs_documented_output_formats_count_user_jobs(void **state)
{
    (void)state;
    const char *listing = "JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME\n"
                          "111     user1   RUN   normal     hostA       hostB       myjob      Oct 22 09:22\n"
                          "112     user1   PEND  normal     hostA                   caf-x[1]   Oct 22 09:23\n"
                          "112     user1   PEND  normal     hostA                   caf-x[2]   Oct 22 09:23\n"
                          "113     user1   PSUSP normal     hostA                   held       Oct 22 09:24\n"
                          "114     user1   DONE  normal     hostA       hostB       old        Oct 22 08:00\n";
    long n = -1;
    assert_int_equal(lsf_parse_user_jobs(listing, "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 4);
    assert_int_equal(lsf_parse_user_jobs("", "No unfinished job found\n", 255, &n, NULL), CAF_OK);
    assert_int_equal(n, 0);
    caf_error err = {0};
    assert_int_equal(lsf_parse_user_jobs("", "LSF is down. Please wait ...\n", 255, &n, &err), CAF_ERR_FORMAT);
    assert_int_equal(lsf_parse_user_jobs("Cannot connect to LSF. Please wait ...\n", "", 0, &n, &err), CAF_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bsub_output_gives_the_job_id),
        cmocka_unit_test(bjobs_default_listing_gives_states),
        cmocka_unit_test(bjobs_array_elements_by_name_or_id),
        cmocka_unit_test(bsub_command_is_an_array_with_throttle),
        cmocka_unit_test(bjobs_documented_output_formats_count_user_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
