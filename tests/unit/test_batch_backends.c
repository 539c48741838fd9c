/* The pieces the batch backends share and those of Slurm and PBS that work on text: the driver script
 * a batch system runs (executed here by bash with hostile paths), sbatch's command line, and parsing of
 * squeue/sacct/qstat output as the real Slurm 22.05 and slurm-wlm-torque print it. The backends against
 * the real batch systems: tests/e2e/slurm_backend.sh and tests/e2e/pbs_backend.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caf/process.h"
#include "jobs/batch.h"
#include "test_support.h"

/* A folder name with everything a shell or a batch system could trip on. */
static const char *const hostile = "it's a \"dir\" with $HOME `id` and\na newline";

struct fixture {
    char *root;
    char *dirs[3];
    char *scripts[3];
    caf_subjob subs[3];
    caf_subjob *ptrs[3];
};

/* Three wrapper scripts below root/<hostile>/N/run.sh; each writes "ran N" to root/marker. */
static void make_fixture(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->root = test_make_temp_dir("batch");
    char base[4096];
    snprintf(base, sizeof base, "%s/%s", f->root, hostile);
    assert_int_equal(mkdir(base, 0755), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(asprintf(&f->dirs[i], "%s/%d", base, i) > 0);
        assert_int_equal(mkdir(f->dirs[i], 0755), 0);
        char text[4200];
        snprintf(text, sizeof text, "echo \"ran %d $#\" > \"$CAF_MARKER\"\n", i);
        test_write_file(f->dirs[i], "run.sh", text);
        assert_true(asprintf(&f->scripts[i], "%s/run.sh", f->dirs[i]) > 0);
        f->subs[i].index = (size_t)i;
        f->subs[i].script_path = f->scripts[i];
        f->ptrs[i] = &f->subs[i];
    }
}

static void free_fixture(struct fixture *f)
{
    test_remove_tree(f->root);
    for (int i = 0; i < 3; i++) {
        free(f->dirs[i]);
        free(f->scripts[i]);
    }
    free(f->root);
}

/* Runs script with bash (extra argument arg, may be NULL) and the environment entry env; returns its
 * exit code and leaves the marker's content in marker. */
static int run_driver(struct fixture *f, const char *script, const char *arg, const char *env, char *marker,
                      size_t size)
{
    test_write_file(f->root, "driver.sh", script);
    char path[4200], marker_env[4200];
    snprintf(path, sizeof path, "%s/driver.sh", f->root);
    snprintf(marker_env, sizeof marker_env, "CAF_MARKER=%s/marker", f->root);
    char *const argv[] = {"bash", path, (char *)arg, NULL};
    char *const envs[] = {marker_env, (char *)env, NULL};
    caf_process_options opts = {.timeout_s = 30, .env = envs};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, &opts, &res, NULL), CAF_OK);
    int code = res.exit_code;
    caf_process_result_free(&res);
    char *text = test_read_file(f->root, "marker");
    snprintf(marker, size, "%s", text ? text : "");
    free(text);
    remove(path);
    snprintf(path, sizeof path, "%s/marker", f->root);
    remove(path);
    return code;
}

static void driver_runs_the_wrapper_of_its_array_task(void **state)
{
    (void)state;
    struct fixture f;
    make_fixture(&f);
    char marker[256];
    caf_strings extra = {0};
    assert_int_equal(caf_strings_push(&extra, "#SBATCH --qos=long", NULL), CAF_OK);

    /* Slurm: task ids from 0. */
    char *script = batch_driver_script("#!/bin/bash", &extra, "SLURM_ARRAY_TASK_ID", 0, f.ptrs, 3);
    assert_non_null(script);
    assert_memory_equal(script, "#!/bin/bash\n#SBATCH --qos=long\n", 31); /* directives right after #! */
    assert_int_equal(run_driver(&f, script, NULL, "SLURM_ARRAY_TASK_ID=2", marker, sizeof marker), 0);
    assert_string_equal(marker, "ran 2 0\n");
    assert_int_equal(run_driver(&f, script, NULL, "SLURM_ARRAY_TASK_ID=3", marker, sizeof marker), 99);

    assert_non_null(strstr(script, "subjobs=(")); /* the standard layout: indices only */
    free(script);

    /* Wrappers outside the standard layout: every path listed, still quoted. */
    f.subs[1].index = 7;
    script = batch_driver_script("#!/bin/bash", NULL, "SLURM_ARRAY_TASK_ID", 0, f.ptrs, 3);
    assert_non_null(strstr(script, "scripts=("));
    assert_int_equal(run_driver(&f, script, NULL, "SLURM_ARRAY_TASK_ID=1", marker, sizeof marker), 0);
    assert_string_equal(marker, "ran 1 0\n");
    f.subs[1].index = 1;
    free(script);

    /* LSF: LSB_JOBINDEX from 1. */
    script = batch_driver_script("#!/bin/bash", NULL, "LSB_JOBINDEX", 1, f.ptrs, 3);
    assert_int_equal(run_driver(&f, script, NULL, "LSB_JOBINDEX=1", marker, sizeof marker), 0);
    assert_string_equal(marker, "ran 0 0\n");
    assert_int_equal(run_driver(&f, script, NULL, "LSB_JOBINDEX=0", marker, sizeof marker), 99);
    free(script);

    /* HTCondor: $(Process) as the first argument. */
    script = batch_driver_script("#!/bin/bash", NULL, "1", 0, f.ptrs, 3);
    assert_int_equal(run_driver(&f, script, "1", NULL, marker, sizeof marker), 0);
    assert_string_equal(marker, "ran 1 0\n");
    free(script);

    /* PBS: one subjob, no index. */
    script = batch_driver_script("#!/bin/bash", NULL, NULL, 0, f.ptrs + 2, 1);
    assert_int_equal(run_driver(&f, script, NULL, NULL, marker, sizeof marker), 0);
    assert_string_equal(marker, "ran 2 0\n");
    free(script);

    caf_strings_free(&extra);
    free_fixture(&f);
}

static void sbatch_command_is_one_argv_array_job(void **state)
{
    (void)state;
    struct fixture f;
    make_fixture(&f);
    caf_job job = {0};
    job.name = "calib";
    job.working_dir = f.dirs[0];
    job.backend_args.queue = "short";
    job.backend_args.cores = 2;
    for (int i = 0; i < 3; i++) {
        f.subs[i].memory_mb = 1500;
        f.subs[i].time_s = 90061; /* 1 day, 1 h, 1 min, 1 s */
    }
    batch_settings settings = {.max_running = 5};
    batch_command cmd = {0};
    assert_int_equal(slurm_submit_command(&job, &settings, f.ptrs, 3, &cmd, NULL), CAF_OK);
    char chdir_arg[4200];
    snprintf(chdir_arg, sizeof chdir_arg, "--chdir=%s", f.dirs[0]);
    const char *expected[] = {"sbatch", "--parsable", "--job-name=caf-calib", "--array=0-2%5", chdir_arg,
                              "--output=subjobs/slurm-%A_%a.log", "--partition=short", "--mem=1500M",
                              "--time=1-01:01:01", "--cpus-per-task=2", NULL};
    for (size_t i = 0; expected[i]; i++)
        assert_string_equal(cmd.argv[i], expected[i]);
    assert_null(cmd.argv[10]);
    assert_non_null(strstr(cmd.stdin_text, "SLURM_ARRAY_TASK_ID"));
    batch_command_free(&cmd);

    /* Slurm would expand "%A" of the folder in the log path (and "\" turns expansion off): no log. */
    job.working_dir = "/w/100%A \\ done";
    assert_int_equal(slurm_submit_command(&job, &settings, f.ptrs, 3, &cmd, NULL), CAF_OK);
    assert_string_equal(cmd.argv[4], "--chdir=/w/100%A \\ done");
    assert_string_equal(cmd.argv[5], "--output=/dev/null");
    batch_command_free(&cmd);
    free_fixture(&f);
}

static void sbatch_parsable_output(void **state)
{
    (void)state;
    char id[32];
    assert_int_equal(slurm_parse_submitted("42\n", id, sizeof id, NULL), CAF_OK);
    assert_string_equal(id, "42");
    assert_int_equal(slurm_parse_submitted("sbatch: warning: x\n77;cluster\n", id, sizeof id, NULL), CAF_OK);
    assert_string_equal(id, "77");
    assert_int_equal(slurm_parse_submitted("sbatch: error: Batch job submission failed\n", id, sizeof id, NULL),
                     CAF_ERR_FORMAT);
}

static void squeue_and_sacct_states(void **state)
{
    (void)state;
    /* Printed by Slurm 22.05's `squeue --noheader --array --states=all --format=%i|%T|%r|%l` on the
     * loopback cluster: finished, failed, pending (throttled), timed out, and a whole array cancelled
     * while pending, which Slurm lists once under the array id. */
    char squeue[] = "5_0|COMPLETED|None|UNLIMITED\n"
                    "5_1|FAILED|NonZeroExitCode|UNLIMITED\n"
                    "5_2|PENDING|JobArrayTaskLimit|UNLIMITED\n"
                    "6_0|TIMEOUT|TimeLimit|1:00\n"
                    "5_3|RUNNING|None|UNLIMITED\n"
                    "9|CANCELLED|None|UNLIMITED\n";
    const char *ids[] = {"5_0", "5_1", "5_2", "6_0", "5_3", "9_0", "9_1", "7_0"};
    caf_subjob subs[8] = {0};
    caf_subjob *ptrs[8];
    for (int i = 0; i < 8; i++) {
        subs[i].batch_id = (char *)ids[i];
        ptrs[i] = &subs[i];
    }
    caf_batch_report reports[8];
    for (int i = 0; i < 8; i++)
        batch_report(&reports[i], CAF_BATCH_UNKNOWN, NULL);
    bool seen[8] = {0};
    slurm_apply_status(squeue, ptrs, 8, reports, seen);
    assert_int_equal(reports[0].state, CAF_BATCH_FINISHED);
    assert_int_equal(reports[1].state, CAF_BATCH_FINISHED); /* its exit-code file tells the code */
    assert_int_equal(reports[2].state, CAF_BATCH_PENDING);
    assert_int_equal(reports[3].state, CAF_BATCH_FAILED);
    assert_string_equal(reports[3].reason,
                        "Slurm TIMEOUT: exceeded its time limit of 1:00 (raise backend_args.time_s)");
    assert_int_equal(reports[4].state, CAF_BATCH_RUNNING);
    assert_int_equal(reports[5].state, CAF_BATCH_FAILED);
    assert_int_equal(reports[6].state, CAF_BATCH_FAILED);
    assert_non_null(strstr(reports[6].reason, "CANCELLED"));
    assert_int_equal(reports[7].state, CAF_BATCH_UNKNOWN); /* Slurm forgot it */
    assert_false(seen[7]);

    /* sacct --parsable2 --format=JobID,State: "CANCELLED by 0" carries the uid after the state. */
    char sacct[] = "7_0|CANCELLED by 0\n7_0.batch|CANCELLED\n";
    slurm_apply_status(sacct, ptrs, 8, reports, seen);
    assert_true(seen[7]);
    assert_int_equal(reports[7].state, CAF_BATCH_FAILED);

    caf_batch_report r;
    slurm_state_report("OUT_OF_MEMORY", "", "", &r);
    assert_non_null(strstr(r.reason, "memory"));
    slurm_state_report("NODE_FAIL", "", "", &r);
    assert_non_null(strstr(r.reason, "node failed"));
}

static void qstat_listing_states(void **state)
{
    (void)state;
    /* Printed by slurm-wlm-torque's `qstat 1 2 3 99` (PBS default format) on the loopback cluster,
     * followed by a Torque-style id with server suffix. */
    char qstat[] = "Job id              Name             Username        Time Use S Queue          \n"
                   "------------------- ---------------- --------------- -------- - ---------------\n"
                   "2                   cafp             root            00:00:00 R caf            \n"
                   "3                   cafp             root            00:00:00 C caf            \n"
                   "1                   cafp             root            00:00:00 Q caf            \n"
                   "548.moab            STDIN            fred            0        R batch\n";
    const char *ids[] = {"1", "2", "3", "99", "548.moab.example.org"};
    caf_subjob subs[5] = {0};
    caf_subjob *ptrs[5];
    for (int i = 0; i < 5; i++) {
        subs[i].batch_id = (char *)ids[i];
        ptrs[i] = &subs[i];
    }
    caf_batch_report reports[5] = {0};
    bool seen[5] = {0};
    pbs_apply_status(qstat, ptrs, 5, reports, seen);
    assert_int_equal(reports[0].state, CAF_BATCH_PENDING);
    assert_int_equal(reports[1].state, CAF_BATCH_RUNNING);
    assert_int_equal(reports[2].state, CAF_BATCH_FINISHED);
    assert_false(seen[3]);
    assert_true(seen[4]);
    assert_int_equal(reports[4].state, CAF_BATCH_RUNNING);
}

static void pbs_command_keeps_paths_plain(void **state)
{
    (void)state;
    caf_job job = {0};
    job.name = "calib";
    job.working_dir = "/w/it's here";
    caf_subjob sub = {0};
    sub.index = 3;
    sub.dir = "/w/it's here/subjobs/3";
    sub.time_s = 3725;
    sub.memory_mb = 100;
    batch_settings settings = {0};
    batch_command cmd = {0};
    assert_int_equal(pbs_submit_command(&job, &settings, &sub, "/tmp/caf-pbs-x/subjob-3.sh", &cmd, NULL), CAF_OK);
    const char *expected[] = {"qsub", "-N", "caf-calib-3", "-j", "oe", "-o", "subjobs/3/pbs.log", "-l",
                              "walltime=01:02:05", "-l", "mem=100mb", "/tmp/caf-pbs-x/subjob-3.sh", NULL};
    for (size_t i = 0; expected[i]; i++)
        assert_string_equal(cmd.argv[i], expected[i]);
    batch_command_free(&cmd);

    /* A subjob folder outside the working folder: no log rather than a path qsub might mangle. */
    sub.dir = "/elsewhere/3";
    char log[64];
    assert_false(pbs_log_path(&job, &sub, log, sizeof log));
    job.working_dir = "/w/50%";
    sub.dir = "/w/50%/subjobs/3";
    assert_false(pbs_log_path(&job, &sub, log, sizeof log));
}

static void settings_reject_unknown_keys(void **state)
{
    (void)state;
    caf_backend backend = {0};
    batch_settings s;
    caf_error err = {0};
    json_t *obj = json_pack("{s:f, s:i, s:[s]}", "poll_interval_s", 0.5, "max_running", 7, "submit_args", "--qos=x");
    assert_int_equal(batch_settings_parse(&s, &backend, "slurm", obj, &err), CAF_OK);
    assert_int_equal(s.max_running, 7);
    assert_true(backend.poll_interval_s == 0.5);
    assert_string_equal(s.submit_args.items[0], "--qos=x");
    batch_settings_free(&s);
    json_decref(obj);
    obj = json_pack("{s:i}", "throttle", 5);
    assert_int_equal(batch_settings_parse(&s, &backend, "slurm", obj, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown key \"throttle\""));
    json_decref(obj);
}

/* squeue --noheader --array --format=%i -u USER: one pending or running job or array task per line. */
static void squeue_user_job_count(void **state)
{
    (void)state;
    long n = -1;
    assert_int_equal(slurm_parse_user_jobs("1234_0\n1234_1\n1234_2\n1240\n1241_7\n", "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 5);
    assert_int_equal(slurm_parse_user_jobs("", "", 0, &n, NULL), CAF_OK); /* no job */
    assert_int_equal(n, 0);
    /* A failed squeue (slurmctld down) prints nothing on stdout: never read as "no job". */
    caf_error err = {0};
    assert_int_equal(slurm_parse_user_jobs("", "slurm_load_jobs error: Unable to contact slurm controller", 1, &n,
                                           &err),
                     CAF_ERR_FORMAT);
    assert_int_equal(slurm_parse_user_jobs("JOBID\n1234\n", "", 0, &n, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "JOBID"));
}

/* qstat -u USER: the alternative listing (state next to last; completed jobs not counted). */
static void qstat_user_job_count(void **state)
{
    (void)state;
    /* slurm-wlm-torque's qstat (its print_job_select format), as the loopback cluster prints it. */
    char slurm_torque[] =
        "\n"
        "node1.example:\n"
        "                                                                     Req'd  Req'd       Elap\n"
        "Job id               Username Queue    Name                 SessID NDS   TSK   Memory Time Use S Time \n"
        "-------------------- -------- -------- -------------------- ------ ----- ----- ------ ----- - -----\n"
        "41                   root     debug    sleep job              --      1     1     -- 00:10 R 00:00\n"
        "42                   root     debug    sleep                  --      1     1     -- 00:10 Q 00:00\n"
        "43                   root     debug    sleep                  --      1     1     -- 00:10 C 00:01\n";
    long n = -1;
    assert_int_equal(pbs_parse_user_jobs(slurm_torque, "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 2);
    /* Torque / PBS Pro (their manuals' alternative format: server line, two header lines, dashes). */
    char torque[] =
        "server1.example.org:\n"
        "                                                            Req'd  Req'd   Elap\n"
        "Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
        "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n"
        "4807.server1    user1    batch    STDIN       12345   1   1    --  01:00 R 00:05\n"
        "4808.server1    user1    batch    STDIN          --   1   1    --  01:00 H   -- \n"
        "4809[].server1  user1    batch    arr            --   1   1    --  01:00 B   -- \n"
        "4810.server1    user1    batch    done           --   1   1    --  01:00 F 00:02\n";
    assert_int_equal(pbs_parse_user_jobs(torque, "", 0, &n, NULL), CAF_OK);
    assert_int_equal(n, 3);
    assert_int_equal(pbs_parse_user_jobs("", "", 0, &n, NULL), CAF_OK); /* no job: nothing printed */
    assert_int_equal(n, 0);
    caf_error err = {0};
    assert_int_equal(pbs_parse_user_jobs("", "qstat: cannot connect to server", 1, &n, &err), CAF_ERR_FORMAT);
    char garbled[] = "------ -\nnot a job line at all\n";
    assert_int_equal(pbs_parse_user_jobs(garbled, "", 0, &n, &err), CAF_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driver_runs_the_wrapper_of_its_array_task),
        cmocka_unit_test(sbatch_command_is_one_argv_array_job),
        cmocka_unit_test(sbatch_parsable_output),
        cmocka_unit_test(squeue_and_sacct_states),
        cmocka_unit_test(qstat_listing_states),
        cmocka_unit_test(pbs_command_keeps_paths_plain),
        cmocka_unit_test(settings_reject_unknown_keys),
        cmocka_unit_test(squeue_user_job_count),
        cmocka_unit_test(qstat_user_job_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
