/* The job model: JOB.json parsing, splitters, derived status, retries and the saved state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/input_sandbox.h"
#include "caf/job.h"
#include "caf/json.h"
#include "test_support.h"

static caf_status job_from_text(caf_job *job, const char *text, caf_error *err)
{
    json_error_t jerr;
    json_t *spec = json_loads(text, 0, &jerr);
    assert_non_null(spec);
    caf_status rc = caf_job_from_json(job, spec, "/base", err);
    json_decref(spec);
    return rc;
}

static void parses_every_field_and_resolves_folders(void **state)
{
    (void)state;
    caf_job job;
    caf_error err = {0};
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"collect\", \"command\": \"prog\", \"args\": [\"-v\"],"
                                   " \"input_files\": [\"a.h5\", \"/abs/b.h5\"], \"working_dir\": \"w\","
                                   " \"output_patterns\": [\"*.h5\"], \"setup\": [\"source x.sh\"],"
                                   " \"env\": {\"CAF_X\": \"1\"}, \"backend\": \"slurm\","
                                   " \"backend_args\": {\"queue\": \"short\", \"memory_mb\": 2000, \"time_s\": 600,"
                                   " \"cores\": 2, \"extra_lines\": [\"#SBATCH --qos=x\"]},"
                                   " \"backend_settings\": {\"throttle\": 5}, \"retry\": {\"max_retries\": 4}}",
                                   &err),
                     CAF_OK);
    assert_string_equal(job.name, "collect");
    assert_string_equal(job.command, "prog");
    assert_string_equal(job.input_files.items[0], "/base/a.h5");
    assert_string_equal(job.input_files.items[1], "/abs/b.h5");
    assert_string_equal(job.working_dir, "/base/w");
    assert_string_equal(job.output_dir, "/base/w/output");
    assert_string_equal(job.env_names.items[0], "CAF_X");
    assert_string_equal(job.backend, "slurm");
    assert_string_equal(job.backend_args.queue, "short");
    assert_int_equal(job.backend_args.memory_mb, 2000);
    assert_int_equal(job.backend_args.time_s, 600);
    assert_int_equal(job.backend_args.cores, 2);
    assert_int_equal(job.retry.max_retries, 4);
    assert_int_equal(json_integer_value(json_object_get(job.backend_settings, "throttle")), 5);
    assert_int_equal(job.n_subjobs, 1);
    caf_subjob *s = &job.subjobs[0];
    assert_int_equal(s->input_files.count, 2);
    assert_string_equal(s->dir, "/base/w/subjobs/0");
    assert_string_equal(s->exit_code_file, "/base/w/subjobs/0/exit_code");
    assert_string_equal(s->output_dir, "/base/w/output/0");
    assert_int_equal(s->memory_mb, 2000);
    assert_int_equal(s->status, CAF_JOB_INIT);
    caf_job_close(&job);
}

static void defaults_are_local_two_retries_and_name_folder(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job, "{\"name\": \"j\", \"command\": \"true\"}", NULL), CAF_OK);
    assert_string_equal(job.backend, "local");
    assert_int_equal(job.retry.max_retries, 2);
    assert_string_equal(job.working_dir, "/base/j");
    assert_int_equal(job.n_subjobs, 1);
    caf_job_close(&job);
}

static void bad_specs_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{\"command\": \"x\"}", "missing key 'name'"},
        {"{\"name\": \"a/b\", \"command\": \"x\"}", "key 'name': 'a/b' may hold only"},
        {"{\"name\": \"j\"}", "job j: missing key 'command'"},
        {"{\"name\": \"j\", \"command\": \"x\", \"bogus\": 1}", "job j: unknown key 'bogus'"},
        {"{\"name\": \"j\", \"command\": \"x\", \"args\": [1]}", "job j: key 'args'[0] must be a string"},
        {"{\"name\": \"j\", \"command\": \"x\", \"env\": {\"1A\": \"v\"}}", "job j: env: '1A' is not a valid"},
        {"{\"name\": \"j\", \"command\": \"x\", \"backend_args\": {\"memory\": 1}}",
         "job j: backend_args: unknown key 'memory'"},
        {"{\"name\": \"j\", \"command\": \"x\", \"split\": {\"max_subjobs\": 2, \"max_files_per_subjob\": 2}}",
         "job j: choose one of"},
        {"{\"name\": \"j\", \"command\": \"x\", \"retry\": {\"time_factor\": 0.5}}",
         "job j: retry factors must be at least 1"},
        {"{\"name\": \"j\", \"command\": \"x\", \"input_sandbox\": [\"conf/..\"]}",
         "job j: key 'input_sandbox': 'conf/..' would leave the subjob's folder"},
        {"{\"name\": \"j\", \"command\": \"x\", \"input_sandbox\": [\"a/w.txt\", \"b/w.txt\"]}",
         "job j: key 'input_sandbox': 'b/w.txt' has the base name of an earlier entry"},
        {"{\"name\": \"j\", \"command\": \"x\", \"input_sandbox\": [\"exit_code\"]}",
         "job j: key 'input_sandbox': 'exit_code' is the name of a file caf keeps"},
        {"{\"name\": \"j\", \"command\": \"x\", \"input_sandbox\": [\"dir/\"]}",
         "job j: key 'input_sandbox': 'dir/' names no file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        caf_job job;
        caf_error err = {0};
        assert_int_not_equal(job_from_text(&job, cases[i].json, &err), CAF_OK);
        if (strncmp(err.message, cases[i].message, strlen(cases[i].message)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, err.message, cases[i].message);
        assert_null(job.name); /* left closed */
    }
}

static void split_by_files_per_subjob(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"input_files\": [\"1\",\"2\",\"3\",\"4\",\"5\"],"
                                   " \"split\": {\"max_files_per_subjob\": 2}}",
                                   NULL),
                     CAF_OK);
    assert_int_equal(job.n_subjobs, 3);
    assert_int_equal(job.subjobs[0].input_files.count, 2);
    assert_int_equal(job.subjobs[2].input_files.count, 1);
    assert_string_equal(job.subjobs[2].input_files.items[0], "/base/5");
    caf_job_close(&job);
}

static void split_by_max_subjobs_spreads_evenly(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"input_files\": "
                                   "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"], \"split\": {\"max_subjobs\": 3}}",
                                   NULL),
                     CAF_OK);
    assert_int_equal(job.n_subjobs, 3);
    assert_int_equal(job.subjobs[0].input_files.count, 3);
    assert_int_equal(job.subjobs[1].input_files.count, 2);
    assert_int_equal(job.subjobs[2].input_files.count, 2);
    assert_string_equal(job.subjobs[1].input_files.items[0], "/base/4");
    caf_job_close(&job);
    /* more subjobs than files: one file each */
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"input_files\": [\"1\",\"2\"],"
                                   " \"split\": {\"max_subjobs\": 10}}",
                                   NULL),
                     CAF_OK);
    assert_int_equal(job.n_subjobs, 2);
    caf_job_close(&job);
}

static void split_by_argument_sets(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"input_files\": [\"f\"],"
                                   " \"split\": {\"arg_sets\": [[\"a\", \"1\"], [\"b\"], []]}}",
                                   NULL),
                     CAF_OK);
    assert_int_equal(job.n_subjobs, 3);
    assert_int_equal(job.subjobs[0].args.count, 2);
    assert_string_equal(job.subjobs[0].args.items[1], "1");
    assert_string_equal(job.subjobs[1].args.items[0], "b");
    assert_int_equal(job.subjobs[2].args.count, 0);
    assert_int_equal(job.subjobs[2].input_files.count, 1);
    caf_job_close(&job);
}

static void status_is_derived_from_subjobs(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"split\": {\"arg_sets\": [[],[],[]]}}",
                                   NULL),
                     CAF_OK);
    caf_subjob *s = job.subjobs;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_INIT);
    s[0].status = CAF_JOB_SUBMITTED;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_SUBMITTED);
    s[1].status = CAF_JOB_RUNNING;
    s[2].status = CAF_JOB_FAILED;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_RUNNING); /* running while any runs */
    s[1].status = CAF_JOB_COMPLETED;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_SUBMITTED); /* a failure waits for the rest */
    s[0].status = CAF_JOB_COMPLETED;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_FAILED);
    s[2].status = CAF_JOB_COMPLETED;
    assert_int_equal(caf_job_status_of(&job), CAF_JOB_COMPLETED);
    caf_job_close(&job);
}

static void failed_attempts_retry_with_more_memory_and_time(void **state)
{
    (void)state;
    caf_job job;
    assert_int_equal(job_from_text(&job,
                                   "{\"name\": \"j\", \"command\": \"x\", \"backend_args\": {\"memory_mb\": 1000,"
                                   " \"time_s\": 60}, \"retry\": {\"max_retries\": 1, \"memory_factor\": 1.5,"
                                   " \"time_factor\": 2}}",
                                   NULL),
                     CAF_OK);
    caf_subjob *s = &job.subjobs[0];
    s->attempt = 1;
    s->status = CAF_JOB_RUNNING;
    s->batch_id = strdup("17");
    assert_true(caf_job_fail_attempt(&job, s, "exit code 1"));
    assert_int_equal(s->status, CAF_JOB_INIT);
    assert_null(s->batch_id);
    assert_int_equal(s->memory_mb, 1500);
    assert_int_equal(s->time_s, 120);
    s->attempt = 2;
    assert_false(caf_job_fail_attempt(&job, s, "exit code 2"));
    assert_int_equal(s->status, CAF_JOB_FAILED);
    assert_string_equal(s->reason, "exit code 2");
    caf_job_close(&job);
}

static void state_round_trips_and_reattaches(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("job");
    char spec[4600];
    snprintf(spec, sizeof spec,
             "{\"name\": \"j\", \"command\": \"x\", \"working_dir\": \"%s/w\", \"input_files\": [\"1\",\"2\",\"3\"],"
             " \"split\": {\"max_files_per_subjob\": 1}, \"backend\": \"local\"}",
             dir);
    caf_job job;
    caf_error err = {0};
    assert_int_equal(job_from_text(&job, spec, &err), CAF_OK);
    job.subjobs[0].status = CAF_JOB_COMPLETED;
    job.subjobs[0].exit_code = 0;
    job.subjobs[0].attempt = 1;
    job.subjobs[1].status = CAF_JOB_RUNNING;
    job.subjobs[1].attempt = 2;
    job.subjobs[1].batch_id = strdup("4242:99");
    job.subjobs[2].status = CAF_JOB_FAILED;
    job.subjobs[2].reason = strdup("exit code 3");
    job.subjobs[2].attempt = 3;
    assert_int_equal(caf_job_save(&job, &err), CAF_OK);

    /* a fresh caf with the same JOB.json but another default backend re-attaches with the saved one */
    caf_job again;
    assert_int_equal(job_from_text(&again, spec, &err), CAF_OK);
    free(again.backend);
    again.backend = strdup("slurm");
    bool found = false;
    assert_int_equal(caf_job_load_state(&again, &found, &err), CAF_OK);
    assert_true(found);
    assert_string_equal(again.backend, "local");
    assert_int_equal(again.subjobs[1].status, CAF_JOB_RUNNING);
    assert_string_equal(again.subjobs[1].batch_id, "4242:99");
    assert_int_equal(again.subjobs[1].attempt, 2);
    assert_string_equal(again.subjobs[2].reason, "exit code 3");
    assert_int_equal(again.subjobs[0].exit_code, 0);
    assert_int_equal(again.subjobs[1].exit_code, -1);
    /* the whole saved object is itself a job: to_json then from_json gives equal JSON */
    json_t *a = caf_job_to_json(&again);
    caf_job third;
    assert_int_equal(caf_job_from_json(&third, a, "/elsewhere", &err), CAF_OK);
    json_t *b = caf_job_to_json(&third);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    caf_job_close(&third);
    caf_job_close(&again);

    /* a JOB.json that now makes other subjobs must not silently re-attach */
    snprintf(spec, sizeof spec,
             "{\"name\": \"j\", \"command\": \"x\", \"working_dir\": \"%s/w\", \"input_files\": [\"1\",\"2\",\"4\"],"
             " \"split\": {\"max_files_per_subjob\": 1}}",
             dir);
    assert_int_equal(job_from_text(&again, spec, &err), CAF_OK);
    assert_int_equal(caf_job_load_state(&again, &found, &err), CAF_ERR_STATE);
    assert_non_null(strstr(err.message, "subjob 2's arguments or input files changed"));
    caf_job_close(&again);
    caf_job_close(&job);
    test_remove_tree(dir);
    free(dir);
}

static void load_spec_reports_file_and_position(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("job");
    test_write_file(dir, "job.json", "{\"name\": \"j\",\n \"command\": }\n");
    char *path = caf_path_join(dir, "job.json");
    caf_job job;
    caf_error err = {0};
    assert_int_equal(caf_job_load_spec(&job, path, &err), CAF_ERR_FORMAT);
    char expect[4200];
    snprintf(expect, sizeof expect, "%s:2:", path);
    assert_int_equal(strncmp(err.message, expect, strlen(expect)), 0);
    test_write_file(dir, "job.json", "{\"name\": \"j\", \"command\": \"x\", \"input_files\": [\"in\"]}");
    assert_int_equal(caf_job_load_spec(&job, path, &err), CAF_OK);
    snprintf(expect, sizeof expect, "%s/in", dir);
    assert_string_equal(job.input_files.items[0], expect);
    caf_job_close(&job);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* The input sandbox: a snapshot at the first submission, copied into each subjob's folder; what is in
 * place is kept, so a changed original does not reach a subjob that has its copy. */
static void input_sandbox_snapshot_and_subjob_copies(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("sandbox");
    test_write_file(dir, "w.txt", "one\n");
    char text[1024];
    snprintf(text, sizeof text, "{\"name\": \"j\", \"command\": \"true\", \"input_sandbox\": [\"w.txt\"], "
                                "\"split\": {\"arg_sets\": [[\"a\"], [\"b\"]]}}");
    json_t *spec = json_loads(text, 0, NULL);
    caf_job job;
    caf_error err = {0};
    assert_int_equal(caf_job_from_json(&job, spec, dir, &err), CAF_OK);
    json_decref(spec);
    assert_int_equal(job.input_sandbox.count, 1);
    assert_int_equal(caf_input_sandbox_snapshot(&job, &err), CAF_OK);
    test_write_file(dir, "w.txt", "two\n"); /* changed after the snapshot */
    assert_int_equal(caf_input_sandbox_install(&job, &job.subjobs[0], &err), CAF_OK);
    char *copy = test_read_file(job.subjobs[0].dir, "w.txt");
    assert_string_equal(copy, "one\n");
    free(copy);
    /* A later snapshot keeps the first; a subjob's own copy is kept too. */
    assert_int_equal(caf_input_sandbox_snapshot(&job, &err), CAF_OK);
    test_write_file(job.subjobs[0].dir, "w.txt", "mine\n");
    assert_int_equal(caf_input_sandbox_install(&job, &job.subjobs[0], &err), CAF_OK);
    assert_int_equal(caf_input_sandbox_install(&job, &job.subjobs[1], &err), CAF_OK);
    copy = test_read_file(job.subjobs[0].dir, "w.txt");
    assert_string_equal(copy, "mine\n");
    free(copy);
    copy = test_read_file(job.subjobs[1].dir, "w.txt");
    assert_string_equal(copy, "one\n");
    free(copy);
    /* The state file names the sandbox. */
    json_t *saved = caf_job_to_json(&job);
    assert_true(json_array_size(json_object_get(saved, "input_sandbox")) == 1);
    json_decref(saved);
    caf_job_close(&job);
    /* A file missing at the first submission is an error naming it. */
    snprintf(text, sizeof text, "{\"name\": \"k\", \"command\": \"true\", \"input_sandbox\": [\"gone.txt\"]}");
    spec = json_loads(text, 0, NULL);
    assert_int_equal(caf_job_from_json(&job, spec, dir, &err), CAF_OK);
    json_decref(spec);
    assert_int_not_equal(caf_input_sandbox_snapshot(&job, &err), CAF_OK);
    assert_non_null(strstr(err.message, "gone.txt"));
    caf_job_close(&job);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_field_and_resolves_folders),
        cmocka_unit_test(defaults_are_local_two_retries_and_name_folder),
        cmocka_unit_test(bad_specs_name_the_key),
        cmocka_unit_test(split_by_files_per_subjob),
        cmocka_unit_test(split_by_max_subjobs_spreads_evenly),
        cmocka_unit_test(split_by_argument_sets),
        cmocka_unit_test(status_is_derived_from_subjobs),
        cmocka_unit_test(failed_attempts_retry_with_more_memory_and_time),
        cmocka_unit_test(state_round_trips_and_reattaches),
        cmocka_unit_test(load_spec_reports_file_and_position),
        cmocka_unit_test(input_sandbox_snapshot_and_subjob_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
