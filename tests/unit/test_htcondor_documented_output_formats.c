/* HTCondor cannot be installed here, so its backend is checked against the outputs the HTCondor
 * manual documents, quoted exactly (sources cited at each fixture), and against its own submit
 * description. A fixture that is constructed rather than quoted says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

/* n subjobs whose batch ids are ids[i]. */
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

static void condor_submit_output_gives_the_cluster(void **state)
{
    (void)state;
    /* HTCondor manual, Users' Quick Start Guide ("Submitting the job"), docs/users-manual/quick-start-guide.rst */
    const char *documented = "Submitting job(s).\n"
                             "1 job(s) submitted to cluster 6.\n";
    long cluster = 0, count = 0;
    assert_int_equal(htcondor_parse_submitted(documented, &cluster, &count, NULL), CAF_OK);
    assert_int_equal(cluster, 6);
    assert_int_equal(count, 1);

    /* The same sentence for a `queue 100` submission, as condor_submit prints it for N jobs. */
    assert_int_equal(htcondor_parse_submitted("Submitting job(s)....\n100 job(s) submitted to cluster 837.\n",
                                              &cluster, &count, NULL),
                     CAF_OK);
    assert_int_equal(cluster, 837);
    assert_int_equal(count, 100);

    caf_error err = {0};
    assert_int_equal(htcondor_parse_submitted("ERROR: Failed to connect to local queue manager\n", &cluster,
                                              &count, &err),
                     CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "condor_submit printed no cluster"));
}

static void condor_q_nobatch_listing_gives_states(void **state)
{
    (void)state;
    /* HTCondor manual, "Managing a Job" (docs/users-manual/managing-a-job.rst), `condor_q -nobatch`. */
    char documented[] = "-- Schedd submit.chtc.wisc.edu : <127.0.0.1:9618?...\n"
                        "ID          OWNER        SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"
                        "1297254.0   nemo         5/31 18:05  14+17:40:01 R  0   7.3  condor_dagman\n"
                        "1297255.0   nemo         5/31 18:05  14+17:39:55 R  0   7.3  condor_dagman\n"
                        "1297256.0   nemo         5/31 18:05  14+17:39:55 R  0   7.3  condor_dagman\n"
                        "1297259.0   nemo         5/31 18:05  14+17:39:55 R  0   7.3  condor_dagman\n"
                        "1297261.0   nemo         5/31 18:05  14+17:39:55 R  0   7.3  condor_dagman\n"
                        "1302278.0   nemo         6/4  12:22   1+00:05:37 I  0   390.6 mdrun_1.sh\n"
                        "1304740.0   nemo         6/5  00:14   1+00:03:43 I  0   390.6 mdrun_1.sh\n"
                        "1304967.0   nemo         6/5  05:08   0+00:00:00 I  0   0.0  mdrun_1.sh\n"
                        "\n"
                        "14 jobs; 4 idle, 8 running, 2 held\n";
    const char *ids[] = {"1297254.0", "1302278.0", "1304967.0", "1297254.1"};
    caf_subjob *ptrs[4];
    caf_subjob *subs = subs_with_ids(ids, 4, ptrs);
    caf_batch_report reports[4] = {0};
    bool seen[4] = {0};
    htcondor_apply_queue(documented, ptrs, 4, reports, seen);
    assert_true(seen[0] && seen[1] && seen[2]);
    assert_int_equal(reports[0].state, CAF_BATCH_RUNNING);
    assert_int_equal(reports[1].state, CAF_BATCH_PENDING);
    assert_int_equal(reports[2].state, CAF_BATCH_PENDING);
    assert_false(seen[3]); /* not in the queue: the history is asked next */
    free(subs);
}

static void condor_q_listing_with_leading_blanks_and_totals(void **state)
{
    (void)state;
    /* HTCondor manual, condor_q man page (docs/man-pages/condor_q.rst), `condor_q -nobatch` example. */
    char documented[] = "-- Schedd: wenger@manta.cs.wisc.edu : <192.0.2.228:9619?...\n"
                        " ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"
                        " 591.0   wenger          9/13 16:05   0+00:01:19 R  0    2.4 condor_dagman -p 0\n"
                        " 592.1   wenger          9/13 16:05   0+00:01:13 R  0    0.0 sleep 300\n"
                        " 593.1   wenger          9/13 16:05   0+00:01:13 R  0    0.0 sleep 300\n"
                        "\n"
                        "6 jobs; 0 completed, 0 removed, 0 idle, 6 running, 0 held, 0 suspended\n";
    const char *ids[] = {"592.0", "592.1", "593.1"};
    caf_subjob *ptrs[3];
    caf_subjob *subs = subs_with_ids(ids, 3, ptrs);
    caf_batch_report reports[3] = {0};
    bool seen[3] = {0};
    htcondor_apply_queue(documented, ptrs, 3, reports, seen);
    assert_false(seen[0]); /* 592.0 finished: the manual's point of this listing */
    assert_true(seen[1] && seen[2]);
    assert_int_equal(reports[1].state, CAF_BATCH_RUNNING);

    /* Constructed from the documented columns and ST codes (H = on hold, X = removed, C = completed). */
    char held[] = " 600.0   kris            2/13 10:49   0+00:00:03 H  0   97.7 bash\n"
                  " 600.1   kris            2/13 10:49   0+00:00:03 X  0   97.7 bash\n"
                  " 600.2   kris            2/13 10:49   0+00:00:03 C  0   97.7 bash\n";
    const char *ids2[] = {"600.0", "600.1", "600.2"};
    caf_subjob *ptrs2[3];
    caf_subjob *subs2 = subs_with_ids(ids2, 3, ptrs2);
    bool seen2[3] = {0};
    htcondor_apply_queue(held, ptrs2, 3, reports, seen2);
    assert_int_equal(reports[0].state, CAF_BATCH_FAILED);
    assert_non_null(strstr(reports[0].reason, "on hold"));
    assert_int_equal(reports[1].state, CAF_BATCH_FAILED);
    assert_non_null(strstr(reports[1].reason, "removed"));
    assert_int_equal(reports[2].state, CAF_BATCH_FINISHED);
    free(subs);
    free(subs2);
}

static void condor_history_autoformat_gives_final_states(void **state)
{
    (void)state;
    /* Constructed by the rule the condor_history man page documents for -af: "prints out their values,
     * with a space between each value and a newline character after the last value"; JobStatus codes
     * per the job ClassAd attributes (3 = Removed, 4 = Completed); undefined prints as "undefined". */
    char text[] = "6 0 4 0\n"
                  "6 1 3 undefined\n"
                  "6 2 4 1\n";
    const char *ids[] = {"6.0", "6.1", "6.2", "6.3"};
    caf_subjob *ptrs[4];
    caf_subjob *subs = subs_with_ids(ids, 4, ptrs);
    caf_batch_report reports[4] = {0};
    bool seen[4] = {0};
    htcondor_apply_status(text, ptrs, 4, reports, seen);
    assert_int_equal(reports[0].state, CAF_BATCH_FINISHED);
    assert_int_equal(reports[1].state, CAF_BATCH_FAILED);
    assert_int_equal(reports[2].state, CAF_BATCH_FINISHED); /* exit code 1: the exit-code file decides */
    assert_false(seen[3]);
    free(subs);
}

static void submit_description_queues_n_and_names_no_user_path(void **state)
{
    (void)state;
    caf_job job = {0};
    job.name = "calib 'x'";
    job.working_dir = "/data/it's a \"dir\"\nwith $HOME";
    job.backend_args.cores = 2;
    caf_strings extra = {0};
    assert_int_equal(caf_strings_push(&extra, "+AccountingGroup = \"belle.calib\"", NULL), CAF_OK);
    job.backend_args.extra_lines = extra;
    caf_subjob subs[3] = {0};
    caf_subjob *ptrs[3] = {&subs[0], &subs[1], &subs[2]};
    for (int i = 0; i < 3; i++) {
        subs[i].memory_mb = 2000;
        subs[i].time_s = 3600;
    }
    char *text = htcondor_submit_description(&job, ptrs, 3, "subjobs/condor-1.sh", "subjobs/condor-1.log");
    assert_non_null(text);
    assert_non_null(strstr(text, "\nqueue 3\n"));
    assert_non_null(strstr(text, "arguments = \"subjobs/condor-1.sh $(Process)\"\n"));
    assert_non_null(strstr(text, "executable = /bin/bash\n"));
    assert_non_null(strstr(text, "request_memory = 2000\n"));
    assert_non_null(strstr(text, "request_cpus = 2\n"));
    assert_non_null(strstr(text, "EnteredCurrentStatus > 3600"));
    assert_non_null(strstr(text, "batch_name = caf-calib__x_\n"));
    assert_non_null(strstr(text, "+AccountingGroup = \"belle.calib\"\nqueue 3\n"));
    assert_null(strstr(text, "/data")); /* the working folder is condor_submit's cwd, never written */
    free(text);
    caf_strings_free(&extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(condor_submit_output_gives_the_cluster),
        cmocka_unit_test(condor_q_nobatch_listing_gives_states),
        cmocka_unit_test(condor_q_listing_with_leading_blanks_and_totals),
        cmocka_unit_test(condor_history_autoformat_gives_final_states),
        cmocka_unit_test(submit_description_queues_n_and_names_no_user_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
