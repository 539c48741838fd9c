/* HTCondor cannot be installed here, so its backend is checked against the machine-readable outputs the
 * HTCondor manual documents (condor_submit -terse, condor_q -json, condor_history -json; sources cited at
 * each fixture), and against its own submit descriptions and settings. A fixture that is constructed by
 * a documented rule rather than quoted says so. e2e.htcondor_transfer runs the backend against fake
 * condor_* commands that print these formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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

/* What htcondor_apply_ads made of one output for subjobs with the given batch ids. */
typedef struct applied {
    caf_subjob *subs;
    caf_subjob *ptrs[8];
    caf_batch_report reports[8];
    bool seen[8], held[8];
} applied;

static applied *apply_to_ids(const char *text, const char *const *ids, size_t n)
{
    applied *a = calloc(1, sizeof *a);
    assert_non_null(a);
    assert_true(n <= 8);
    a->subs = subs_with_ids(ids, n, a->ptrs);
    assert_int_equal(htcondor_apply_ads(text, a->ptrs, n, a->reports, a->seen, a->held, NULL), CAF_OK);
    return a;
}

static void applied_free(applied *a)
{
    free(a->subs);
    free(a);
}

/* condor_submit -terse: the condor_submit man page (docs/man-pages/condor_submit.rst): "-terse  Terse
 * output - display JobId ranges only", i.e. "CLUSTER.FIRST - CLUSTER.LAST", one line per cluster. */
static void condor_submit_terse_documented_output_formats(void **state)
{
    (void)state;
    long cluster = 0, first = 0, count = 0;
    assert_int_equal(htcondor_parse_terse("6.0 - 6.2\n", &cluster, &first, &count, NULL), CAF_OK);
    assert_int_equal(cluster, 6);
    assert_int_equal(first, 0);
    assert_int_equal(count, 3);
    assert_int_equal(htcondor_parse_terse("1297254.0 - 1297254.0\n", &cluster, &first, &count, NULL), CAF_OK);
    assert_int_equal(cluster, 1297254);
    assert_int_equal(count, 1);

    caf_error err = {0};
    assert_int_equal(htcondor_parse_terse("ERROR: Failed to connect to local queue manager\n", &cluster, &first, &count,
                                          &err),
                     CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "no job range"));
    /* two clusters cannot be mapped onto one group of subjobs */
    assert_int_equal(htcondor_parse_terse("6.0 - 6.1\n7.0 - 7.1\n", &cluster, &first, &count, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "more than one cluster"));
}

/* condor_q -json: the condor_q man page (docs/man-pages/condor_q.rst): "-json  Display entire job ClassAds
 * in JSON format", "-attributes Attr1[,Attr2 ...]  Explicitly list the attributes ... when using the -xml,
 * -json or -long options". The fixtures are constructed by that rule: a JSON array of job ClassAds, one
 * object per job with the attribute names as keys and their ClassAd values (integers, strings,
 * booleans); JobStatus codes per the job ClassAd attributes (docs/classad-attributes/job-classad-
 * attributes.rst): 1 Idle, 2 Running, 3 Removed, 4 Completed, 5 Held, 6 Transferring Output, 7 Suspended. */
static void condor_q_json_documented_output_formats_give_states(void **state)
{
    (void)state;
    const char *json = "[\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 1,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 2,\n  \"ProcId\": 1\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 6,\n  \"ProcId\": 2\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 7,\n  \"ProcId\": 3\n}\n,\n"
                       "{\n  \"ClusterId\": 9,\n  \"JobStatus\": 2,\n  \"ProcId\": 0\n}\n"
                       "]\n";
    const char *ids[] = {"6.0", "6.1", "6.2", "6.3", "6.4"};
    applied *a = apply_to_ids(json, ids, 5);
    caf_subjob **ptrs = a->ptrs;
    caf_batch_report *reports = a->reports;
    bool *seen = a->seen, *held = a->held;
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
    assert_int_equal(reports[0].state, CAF_BATCH_PENDING);
    assert_int_equal(reports[1].state, CAF_BATCH_RUNNING);
    assert_int_equal(reports[2].state, CAF_BATCH_RUNNING); /* transferring output: not done yet */
    assert_int_equal(reports[3].state, CAF_BATCH_RUNNING);
    assert_false(seen[4]); /* not in the queue (9.0 is someone else's): the history is asked next */
    assert_false(held[0] || held[1] || held[2] || held[3]);

    /* No job matched: condor_q -json prints nothing at all. */
    bool none[5] = {0};
    assert_int_equal(htcondor_apply_ads("", ptrs, 5, reports, none, held, NULL), CAF_OK);
    assert_int_equal(htcondor_apply_ads("\n", ptrs, 5, reports, none, held, NULL), CAF_OK);
    assert_false(none[0] || none[4]);

    /* Anything else is no answer (the scheduler's "no news"), never a guess, and changes nothing. */
    caf_error err = {0};
    assert_int_equal(htcondor_apply_ads("-- Failed to fetch ads from: <127.0.0.1:9618>\n", ptrs, 5, reports, none,
                                        held, &err),
                     CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "JSON array of job ClassAds"));
    assert_int_equal(htcondor_apply_ads("{\"ClusterId\": 6}", ptrs, 5, reports, none, held, &err), CAF_ERR_FORMAT);
    assert_int_equal(htcondor_apply_ads("[{\"ClusterId\": \"6\", \"ProcId\": 0, \"JobStatus\": 4}, 17, null]", ptrs,
                                        5, reports, none, held, NULL),
                     CAF_OK); /* ads without integer ids are not ours to judge */
    assert_false(none[0]);
    applied_free(a);
}

/* Held jobs in condor_q -json (JobStatus 5 with HoldReason, a string attribute of the job ClassAd: "A
 * string containing a human-readable message about why a job is on hold"). The reason is constructed
 * the way HTCondor words a failed output transfer (transfer_output_files names a file the job did not
 * make: "HTCondor considers this an error, and places the job on hold", file-transfer.rst). */
static void held_jobs_documented_output_formats_report_hold_reason(void **state)
{
    (void)state;
    const char *json = "[\n"
                       "{\n  \"ClusterId\": 12,\n  \"HoldReason\": \"Error from slot1@node7: STARTER failed to send "
                       "file(s) to <192.0.2.1:9618>: error reading from /var/lib/condor/execute/dir_4711/caf-return: "
                       "(errno 2) No such file or directory\",\n  \"JobStatus\": 5,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 12,\n  \"HoldReason\": \"via condor_hold (by user kris)\",\n"
                       "  \"JobStatus\": 5,\n  \"ProcId\": 1\n}\n,\n"
                       "{\n  \"ClusterId\": 12,\n  \"JobStatus\": 5,\n  \"ProcId\": 2\n}\n"
                       "]\n";
    const char *ids[] = {"12.0", "12.1", "12.2"};
    applied *a = apply_to_ids(json, ids, 3);
    caf_batch_report *reports = a->reports;
    for (int i = 0; i < 3; i++) {
        bool *seen = a->seen, *held = a->held;
        assert_true(seen[i] && held[i]);
        assert_int_equal(reports[i].state, CAF_BATCH_FAILED);
        assert_non_null(strstr(reports[i].reason, "held by HTCondor: "));
    }
    assert_non_null(strstr(reports[0].reason, "Error from slot1@node7: STARTER failed to send"));
    assert_non_null(strstr(reports[1].reason, "via condor_hold (by user kris)"));
    assert_non_null(strstr(reports[2].reason, "no HoldReason given"));
    applied_free(a);
}

/* condor_history -json: the condor_history man page (docs/man-pages/condor_history.rst): "-json  Display
 * job ClassAds in JSON format"; jobs there have ended: 4 Completed (ExitBySignal true when a signal ended
 * it, ExitSignal its number) or 3 Removed. Constructed by the rule quoted at condor_q above. */
static void condor_history_json_documented_output_formats_give_final_states(void **state)
{
    (void)state;
    const char *json = "[\n"
                       "{\n  \"ClusterId\": 6,\n  \"ExitBySignal\": false,\n  \"ExitCode\": 0,\n  \"JobStatus\": 4,\n"
                       "  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 3,\n  \"ProcId\": 1\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"ExitBySignal\": false,\n  \"ExitCode\": 1,\n  \"JobStatus\": 4,\n"
                       "  \"ProcId\": 2\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"ExitBySignal\": true,\n  \"ExitSignal\": 9,\n  \"JobStatus\": 4,\n"
                       "  \"ProcId\": 3\n}\n"
                       "]\n";
    const char *ids[] = {"6.0", "6.1", "6.2", "6.3", "6.4"};
    applied *a = apply_to_ids(json, ids, 5);
    caf_batch_report *reports = a->reports;
    assert_int_equal(reports[0].state, CAF_BATCH_FINISHED);
    assert_int_equal(reports[1].state, CAF_BATCH_FAILED);
    assert_non_null(strstr(reports[1].reason, "removed"));
    assert_int_equal(reports[2].state, CAF_BATCH_FINISHED); /* exit code 1: the exit-code file decides */
    assert_int_equal(reports[3].state, CAF_BATCH_FAILED);
    assert_non_null(strstr(reports[3].reason, "signal 9"));
    assert_false(a->seen[4]);
    applied_free(a);
}

static htcondor_settings default_settings(void)
{
    htcondor_settings c = {0};
    c.universe = "vanilla";
    c.request_memory = "4 GB";
    c.path_prefix = "";
    return c;
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
    htcondor_settings c = default_settings();
    char *text = htcondor_submit_description(&job, &c, ptrs, 3, "subjobs/condor-1.sh", "subjobs/condor-1.log", NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\nqueue 3\n"));
    assert_non_null(strstr(text, "arguments = \"subjobs/condor-1.sh $(Process)\"\n"));
    assert_non_null(strstr(text, "executable = /bin/bash\n"));
    assert_non_null(strstr(text, "should_transfer_files = NO\n"));
    assert_non_null(strstr(text, "universe = vanilla\n"));
    assert_non_null(strstr(text, "getenv = false\n"));
    assert_non_null(strstr(text, "request_memory = 2000\n")); /* the subjob's request beats the default */
    assert_non_null(strstr(text, "request_cpus = 2\n"));
    assert_non_null(strstr(text, "EnteredCurrentStatus > 3600"));
    assert_non_null(strstr(text, "batch_name = caf-calib__x_\n"));
    assert_non_null(strstr(text, "+AccountingGroup = \"belle.calib\"\nqueue 3\n"));
    assert_null(strstr(text, "/data")); /* the working folder is condor_submit's cwd, never written */
    free(text);

    /* No memory asked: basf2's default request (4 GB), or the setting. */
    subs[0].memory_mb = 0;
    c.request_memory = "6 GB";
    c.universe = "docker";
    c.getenv = true;
    text = htcondor_submit_description(&job, &c, ptrs, 3, "subjobs/condor-1.sh", "subjobs/condor-1.log", NULL);
    assert_non_null(strstr(text, "request_memory = 6 GB\n"));
    assert_non_null(strstr(text, "universe = docker\n"));
    assert_non_null(strstr(text, "getenv = true\n"));
    free(text);
    caf_strings_free(&extra);
}

/* A subjob in the standard layout WORK/subjobs/N with the given input files. */
static void layout_subjob(caf_subjob *sub, size_t index, const char *const *inputs, size_t n)
{
    memset(sub, 0, sizeof *sub);
    sub->index = index;
    assert_true(asprintf(&sub->dir, "/work dir/subjobs/%zu", index) > 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(caf_strings_push(&sub->input_files, inputs[i], NULL), CAF_OK);
}

static void free_layout_subjob(caf_subjob *sub)
{
    free(sub->dir);
    caf_strings_free(&sub->input_files);
}

static void transfer_mode_description_transfers_inputs_scripts_and_results(void **state)
{
    (void)state;
    caf_job job = {0};
    job.name = "cal";
    job.working_dir = "/work dir";
    caf_subjob subs[2];
    const char *in0[] = {"/data/run1.h5", "/data/run2.h5"}, *in1[] = {"rel/run3.h5"};
    layout_subjob(&subs[0], 3, in0, 2);
    layout_subjob(&subs[1], 7, in1, 1);
    caf_subjob *ptrs[2] = {&subs[0], &subs[1]};
    htcondor_settings c = default_settings();
    c.transfer_files = true;
    c.path_prefix = "osdf://";
    assert_int_equal(caf_strings_push(&c.extra_lines, "requirements = (OpSys == \"LINUX\")", NULL), CAF_OK);
    char *text = htcondor_submit_description(&job, &c, ptrs, 2, "subjobs/condor-1.sh", "subjobs/condor-1.log", NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "should_transfer_files = YES\nwhen_to_transfer_output = ON_EXIT\n"));
    assert_non_null(strstr(text, "arguments = \"" HTCONDOR_TRANSFER_SCRIPT "\"\n"));
    assert_non_null(strstr(text, "transfer_output_files = caf-return, stdout, stderr\n"));
    assert_non_null(strstr(text, "transfer_output_remaps = \"stdout = caf-return.stdout; stderr = "
                                 "caf-return.stderr\"\n"));
    assert_non_null(strstr(text, "requirements = (OpSys == \"LINUX\")\n"));
    assert_non_null(strstr(text, "initialdir = subjobs/3\ntransfer_input_files = " HTCONDOR_TRANSFER_SCRIPT
                                 ", osdf:///data/run1.h5, osdf:///data/run2.h5\nqueue 1\n"));
    assert_non_null(strstr(text, "initialdir = subjobs/7\ntransfer_input_files = " HTCONDOR_TRANSFER_SCRIPT
                                 ", osdf://rel/run3.h5\nqueue 1\n"));
    assert_null(strstr(text, "/work dir"));
    assert_null(strstr(text, "should_transfer_files = NO"));
    free(text);

    /* Names the submit language cannot carry, clashes in the flat scratch folder, and folders outside the
     * standard layout are refused with the file named. */
    caf_error err = {0};
    c.path_prefix = "";
    const char *comma[] = {"/data/a,b.h5"}, *twice[] = {"/x/run.h5", "/y/run.h5"}, *own[] = {"/x/stdout"};
    free_layout_subjob(&subs[1]);
    layout_subjob(&subs[1], 7, comma, 1);
    assert_null(htcondor_submit_description(&job, &c, ptrs, 2, "d", "l", &err));
    assert_non_null(strstr(err.message, "input file /data/a,b.h5 cannot be named"));
    free_layout_subjob(&subs[1]);
    layout_subjob(&subs[1], 7, twice, 2);
    assert_null(htcondor_submit_description(&job, &c, ptrs, 2, "d", "l", &err));
    assert_non_null(strstr(err.message, "same base name"));
    free_layout_subjob(&subs[1]);
    layout_subjob(&subs[1], 7, own, 1);
    assert_null(htcondor_submit_description(&job, &c, ptrs, 2, "d", "l", &err));
    assert_non_null(strstr(err.message, "/x/stdout"));
    job.working_dir = "/elsewhere";
    assert_null(htcondor_submit_description(&job, &c, ptrs, 1, "d", "l", &err));
    assert_non_null(strstr(err.message, "WORKING_DIR/subjobs/3"));
    free_layout_subjob(&subs[0]);
    free_layout_subjob(&subs[1]);
    caf_strings_free(&c.extra_lines);
}

/* The basf2 HTCondor backend_args and transfer_files: wrong types and unknown keys are one-line errors
 * naming the key; defaults as basf2's. */
static void settings_documented_defaults_and_type_errors(void **state)
{
    (void)state;
    caf_backend b = {0};
    assert_int_equal(caf_backend_open(&b, "htcondor", NULL, NULL), CAF_OK);
    htcondor_backend *s = b.state;
    assert_string_equal(s->condor.universe, "vanilla");
    assert_string_equal(s->condor.request_memory, "4 GB");
    assert_string_equal(s->condor.path_prefix, "");
    assert_false(s->condor.getenv);
    assert_false(s->condor.transfer_files);
    caf_backend_close(&b);

    json_t *ok = json_loads("{\"universe\": \"docker\", \"getenv\": true, \"request_memory\": 2048, \"path_prefix\": "
                            "\"root://x/\", \"extra_lines\": [\"+Group = 1\"], \"transfer_files\": true, "
                            "\"query_timeout_s\": 5}",
                            0, NULL);
    assert_int_equal(caf_backend_open(&b, "htcondor", ok, NULL), CAF_OK);
    s = b.state;
    assert_string_equal(s->condor.universe, "docker");
    assert_string_equal(s->condor.request_memory, "2048");
    assert_true(s->condor.getenv && s->condor.transfer_files);
    assert_int_equal(s->condor.extra_lines.count, 1);
    caf_backend_close(&b);
    json_decref(ok);

    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"getenv\": \"yes\"}", "\"getenv\" must be true or false"},
        {"{\"transfer_files\": 1}", "\"transfer_files\" must be true or false"},
        {"{\"universe\": \"van illa\"}", "\"universe\" must be a universe name"},
        {"{\"universe\": 3}", "\"universe\" must be a universe name"},
        {"{\"request_memory\": \"lots\"}", "\"request_memory\" must be a number of MiB"},
        {"{\"request_memory\": -1}", "\"request_memory\" must be a number of MiB"},
        {"{\"path_prefix\": \"a,b\"}", "\"path_prefix\" must be a string on one line"},
        {"{\"extra_lines\": \"queue 5\"}", "\"extra_lines\" must be a list of strings"},
        {"{\"extra_lines\": [\"a = 1\\nqueue 100\"]}", "\"extra_lines\" must be a list of strings"},
        {"{\"universe\": \"vanilla\", \"unversie\": 1}", "unknown key \"unversie\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *settings = json_loads(bad[i].json, 0, NULL);
        assert_non_null(settings);
        caf_error err = {0};
        assert_int_equal(caf_backend_open(&b, "htcondor", settings, &err), CAF_ERR_INVALID);
        assert_non_null(strstr(err.message, "backend_settings of htcondor: "));
        if (!strstr(err.message, bad[i].message))
            fail_msg("%s: %s", bad[i].json, err.message);
        assert_null(b.state);
        json_decref(settings);
    }
    caf_error err = {0};
    json_t *unknown = json_loads("{\"flavour\": 1}", 0, NULL);
    assert_int_equal(caf_backend_open(&b, "htcondor", unknown, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "universe, getenv, request_memory, path_prefix, extra_lines, transfer_files"));
    json_decref(unknown);
}

/* condor_q -json -attributes ClusterId,ProcId,JobStatus USER: every job of the user in the queue, in the
 * format of condor_q -json above; removed (3) and completed (4) jobs are on their way out and not counted;
 * an owner with no job: nothing printed. */
static void condor_q_json_documented_output_formats_count_user_jobs(void **state)
{
    (void)state;
    const char *json = "[\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 1,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 2,\n  \"ProcId\": 1\n}\n,\n"
                       "{\n  \"ClusterId\": 6,\n  \"JobStatus\": 3,\n  \"ProcId\": 2\n}\n,\n"
                       "{\n  \"ClusterId\": 7,\n  \"JobStatus\": 4,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 8,\n  \"JobStatus\": 5,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 9,\n  \"JobStatus\": 6,\n  \"ProcId\": 0\n}\n,\n"
                       "{\n  \"ClusterId\": 9,\n  \"JobStatus\": 7,\n  \"ProcId\": 1\n}\n"
                       "]\n";
    long n = -1;
    assert_int_equal(htcondor_parse_user_jobs(json, "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 5); /* idle, running, held, transferring output, suspended */
    assert_int_equal(htcondor_parse_user_jobs("", "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 0);
    caf_error err = {0};
    assert_int_equal(htcondor_parse_user_jobs("-- Failed to fetch ads from: <127.0.0.1:9618>\n", "", 0, &n, &err),
                     CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "JSON array of job ClassAds"));
    assert_int_equal(htcondor_parse_user_jobs("", "Error: Couldn't contact the condor_schedd", 1, &n, &err),
                     CAF_ERR_FORMAT); /* a failed condor_q is never "no job" */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(condor_submit_terse_documented_output_formats),
        cmocka_unit_test(condor_q_json_documented_output_formats_give_states),
        cmocka_unit_test(held_jobs_documented_output_formats_report_hold_reason),
        cmocka_unit_test(condor_history_json_documented_output_formats_give_final_states),
        cmocka_unit_test(submit_description_queues_n_and_names_no_user_path),
        cmocka_unit_test(transfer_mode_description_transfers_inputs_scripts_and_results),
        cmocka_unit_test(settings_documented_defaults_and_type_errors),
        cmocka_unit_test(condor_q_json_documented_output_formats_count_user_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
