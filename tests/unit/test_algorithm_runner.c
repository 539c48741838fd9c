/* The algorithm runner (caf/algorithm_runner.h): executions in a child process with the test algorithm
 * plugin (tests/plugins/TestAlgorithms.c): every result code and what gets committed, crashes, aborts,
 * hangs, runaway memory and early exits becoming FAILURE with the log kept, JSON state over the pipe,
 * large payloads, boundaries, sequences that see each other's payloads, and set-up errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "algorithm_fixture.h"
#include "caf/algorithm_runner.h"
#include "caf/algorithm_zygote.h"
#include "caf/file.h"
#include "caf/localdb.h"
#include "test_support.h"

#include <sqlite3.h>

typedef struct fixture {
    char *dir;
    char *input;
    char *db;
    char *log;
} fixture;

static const fixture_run runs[] = {{1, 1, 100, 20.0}, {1, 2, 100, 21.0}, {1, 3, 100, 40.0}, {1, 5, 50, 41.0}};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir("algo-runner");
    f->input = fixture_write_output(f->dir, "in.sqlite", "TestCollector", CAF_GRANULARITY_RUN, runs, 4);
    f->db = caf_path_join(f->dir, "outdb");
    f->log = caf_path_join(f->dir, "algo.log");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_remove_tree(f->dir);
    free(f->dir);
    free(f->input);
    free(f->db);
    free(f->log);
    free(f);
    return 0;
}

/* The second pass runs every test with its executions forked by a zygote. */
static caf_algo_zygote *zygote;

/* A spec for the "test" algorithm with count (name, value) parameter pairs. */
static caf_algo_run_spec spec_for(fixture *f, const char *const *names, const char *const *values, size_t count)
{
    static const char *inputs[1];
    inputs[0] = f->input;
    caf_algo_run_spec s = {0};
    s.plugin = "TestAlgorithms";
    s.algorithm = "test";
    s.inputs = inputs;
    s.input_count = 1;
    s.param_names = names;
    s.param_values = values;
    s.param_count = count;
    s.output_db = f->db;
    s.log_path = f->log;
    s.timeout_seconds = 60;
    s.zygote = zygote;
    return s;
}

static size_t db_lines(const char *dir)
{
    if (!caf_path_exists(dir))
        return 0;
    caf_localdb *db;
    if (caf_localdb_open(dir, 0, &db, NULL) != CAF_OK)
        return (size_t)-1;
    size_t n = caf_localdb_entry_count(db);
    caf_localdb_close(db);
    return n;
}

static void result_codes_and_commit(void **state)
{
    fixture *f = *state;
    static const char *results[] = {"OK", "ITERATE", "NOT_ENOUGH_DATA", "FAILURE"};
    size_t expected_lines = 0;
    for (int r = 0; r < 4; r++) {
        const char *names[] = {"result", "payloads", "message"};
        const char *values[] = {results[r], "2", "because I was told"};
        caf_algo_run_spec s = spec_for(f, names, values, 3);
        caf_algo_run_result out = {0};
        caf_error err = {0};
        assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
        assert_int_equal(out.result, r);
        assert_false(out.crashed);
        assert_string_equal(out.algorithm, "TestAlgorithms:test");
        assert_string_equal(out.message, "because I was told");
        assert_int_equal(out.payload_count, 2);
        /* default runs: every collected run, sorted; default IoV: their span */
        assert_int_equal(out.run_count, 4);
        assert_true(caf_iov_equal(out.iov, (caf_iov){1, 1, 1, 5}));
        assert_true(caf_iov_equal(out.payloads[1].iov, (caf_iov){1, 1, 1, 5}));
        assert_string_equal(out.payloads[0].name, "TestConstants");
        assert_string_equal(out.payloads[1].name, "TestConstants1");
        assert_string_equal(out.payloads[0].ext, "json");
        bool success = r <= 1;
        assert_int_equal(out.committed, success);
        if (success) {
            expected_lines += 2;
            assert_non_null(out.payloads[0].revision);
        } else {
            assert_null(out.payloads[0].revision);
        }
        assert_int_equal(db_lines(f->db), expected_lines);
        assert_non_null(strstr(out.log, results[r]));
        caf_algo_run_result_clear(&out);
    }
    /* a result that is none of the four */
    const char *names[] = {"result"}, *values[] = {"9"};
    caf_algo_run_spec s = spec_for(f, names, values, 1);
    caf_algo_run_result out = {0};
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_non_null(strstr(out.message, "9"));
    assert_int_equal(db_lines(f->db), expected_lines);
    caf_algo_run_result_clear(&out);
}

/* Runs "test" with action, expects a FAILURE with crashed set and the log kept; nothing committed. */
static void expect_crash(fixture *f, const char *action, const char *limit_param, const char *limit_value,
                         double timeout, size_t memory_limit, const char *expected)
{
    const char *names[] = {"action", "payloads", limit_param}, *values[] = {action, "3", limit_value};
    caf_algo_run_spec s = spec_for(f, names, values, limit_param ? 3 : 2);
    s.timeout_seconds = timeout;
    s.memory_limit = memory_limit;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    size_t before = db_lines(f->db);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_true(out.crashed);
    assert_false(out.committed);
    if (!strstr(out.message, expected))
        fail_msg("%s: message '%s' lacks '%s'", action, out.message, expected);
    assert_non_null(strstr(out.message, "TestAlgorithms:test"));
    /* the log is kept, in the result and in the file */
    assert_non_null(strstr(out.log, "on purpose"));
    char *kept = test_read_file(f->dir, "algo.log");
    assert_non_null(strstr(kept, "on purpose"));
    free(kept);
    assert_int_equal(db_lines(f->db), before);
    if (timeout > 0)
        assert_true((double)(t1.tv_sec - t0.tv_sec) < timeout + 10.0);
    caf_algo_run_result_clear(&out);
}

static void crash_abort_exit_and_hang_are_failures(void **state)
{
    fixture *f = *state;
    expect_crash(f, "crash", NULL, NULL, 60, 0, "signal 11");
    expect_crash(f, "abort", NULL, NULL, 60, 0, "signal 6");
    expect_crash(f, "exit", NULL, NULL, 60, 0, "without reporting");
    expect_crash(f, "hang", NULL, NULL, 1.0, 0, "timed out after 1 s");
}

static void runaway_memory_is_a_failure(void **state)
{
    fixture *f = *state;
    /* 256 MiB limit, the algorithm tries to eat 2 GiB: stopped by RLIMIT_AS (the allocation fails and the
     * algorithm aborts) or, in sanitizer builds where RLIMIT_AS cannot be used, by the parent's watch of
     * the resident memory (killed) */
    const size_t limit = 256u << 20;
    const char *names[] = {"action", "payloads", "eat_limit_mb"}, *values[] = {"eat_memory", "3", "2048"};
    caf_algo_run_spec s = spec_for(f, names, values, 3);
    s.memory_limit = limit;
    caf_algo_run_result out = {0};
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_true(out.crashed);
    assert_false(out.committed);
    bool by_limit = strstr(out.message, "memory limit") != NULL;
    if (!by_limit)
        fail_msg("message '%s' does not mention the memory limit", out.message);
    assert_non_null(strstr(out.log, "eating memory on purpose"));
    assert_null(strstr(out.message, "nobody stopped me"));
    caf_algo_run_result_clear(&out);

    /* the limit counts what the algorithm adds: a caller holding more than the limit itself does not
     * make a modest algorithm fail */
    const size_t ballast_size = 384u << 20;
    char *ballast = malloc(ballast_size);
    assert_non_null(ballast);
    memset(ballast, 1, ballast_size);
    const char *modest_names[] = {"blob_mb"}, *modest_values[] = {"16"};
    s = spec_for(f, modest_names, modest_values, 1);
    s.memory_limit = limit;
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    assert_false(out.crashed);
    assert_int_equal(ballast[ballast_size - 1], 1); /* keeps the ballast (and its memset) alive */
    free(ballast);
    caf_algo_run_result_clear(&out);
}

static void state_runs_iov_and_large_payloads(void **state)
{
    fixture *f = *state;
    const char *names[] = {"per_run", "blob_mb", "payload_iov", "binary_output"};
    const char *values[] = {"true", "8", "0,0,-1,-1", "true"};
    caf_algo_run_spec s = spec_for(f, names, values, 4);
    s.input_state = "{\"executions\": 2, \"note\": \"kept only if rewritten\"}";
    caf_exprun some[] = {{1, 5}, {1, 2}, {1, 9}};
    s.runs = some;
    s.run_count = 3;
    s.iteration = 3;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    /* run 1,9 was never collected: dropped with a warning in the log */
    assert_non_null(strstr(out.log, "run 1,9 was requested but never collected"));
    assert_int_equal(out.run_count, 2);
    assert_int_equal(out.runs[0].run, 2);
    /* what the algorithm printed is in the log, made valid UTF-8 (the micro sign stays) */
    assert_non_null(strstr(out.log, "binary ??? \xc2\xb5s ??\n"));
    assert_string_equal(out.message, "a message with a ? byte");
    json_t *log = json_string(out.log);
    assert_non_null(log);
    json_decref(log);
    assert_true(caf_iov_equal(out.iov, (caf_iov){1, 2, 1, 5}));
    /* JSON state: the input was read, the output starts empty */
    assert_int_equal(json_integer_value(json_object_get(out.state, "executions")), 3);
    assert_int_equal(json_integer_value(json_object_get(out.state, "runs")), 2);
    assert_int_equal(json_integer_value(json_object_get(out.state, "iteration")), 3);
    assert_null(json_object_get(out.state, "note"));
    /* TestConstants (explicit IoV), TestBlob (8 MiB through the pipe), TestPerRun per run */
    assert_int_equal(out.payload_count, 4);
    assert_true(caf_iov_equal(out.payloads[0].iov, CAF_IOV_ALWAYS));
    assert_string_equal(out.payloads[1].name, "TestBlob");
    assert_int_equal(out.payloads[1].size, 8u << 20);
    const unsigned char *blob = out.payloads[1].data;
    assert_int_equal(blob[(8u << 20) - 1], ((8u << 20) - 1) % 251);
    assert_true(caf_iov_equal(out.payloads[2].iov, (caf_iov){1, 2, 1, 2}));
    assert_true(caf_iov_equal(out.payloads[3].iov, (caf_iov){1, 5, 1, 5}));
    assert_true(out.committed);
    assert_int_equal(db_lines(f->db), 4);
    caf_algo_run_result_clear(&out);
}

static void objects_and_bad_payloads_inside_calibrate(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    caf_algo_run_result out = {0};
    /* min_entries: NOT_ENOUGH_DATA with the count in the reason */
    const char *n1[] = {"object", "min_entries"}, *v1[] = {"peak", "351"};
    caf_algo_run_spec s = spec_for(f, n1, v1, 2);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_NOT_ENOUGH_DATA);
    assert_non_null(strstr(out.message, "350 entries"));
    caf_algo_run_result_clear(&out);
    /* an unknown object: FAILURE naming it and listing what there is */
    const char *v2[] = {"peek", "0"};
    s = spec_for(f, n1, v2, 2);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_false(out.crashed);
    assert_non_null(strstr(out.message, "'peek'"));
    assert_non_null(strstr(out.message, "peak"));
    caf_algo_run_result_clear(&out);
    /* an empty IoV: FAILURE naming the payload */
    const char *n3[] = {"payload_iov"}, *v3[] = {"-1,-1,-1,-1"};
    s = spec_for(f, n3, v3, 1);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_non_null(strstr(out.message, "'TestConstants'"));
    assert_non_null(strstr(out.message, "empty"));
    assert_int_equal(db_lines(f->db), 0);
    caf_algo_run_result_clear(&out);
}

static void setup_errors_name_algorithm_and_culprit(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    caf_algo_run_result out = {0};
    /* a shared object without the entry point */
    caf_algo_run_spec s = spec_for(f, NULL, NULL, 0);
    s.plugin = "NoEntryPoint";
    s.algorithm = "x";
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_PLUGIN);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_non_null(strstr(err.message, "NoEntryPoint"));
    assert_non_null(strstr(err.message, "caf_algorithm_plugin_v1"));
    caf_algo_run_result_clear(&out);
    /* no such plugin, no such algorithm */
    s.plugin = "NoSuchPlugin";
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "NoSuchPlugin"));
    caf_algo_run_result_clear(&out);
    s.plugin = "TestAlgorithms";
    s.algorithm = "nope";
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "nope"));
    assert_non_null(strstr(err.message, "minimal"));
    caf_algo_run_result_clear(&out);
    /* an unknown parameter */
    const char *names[] = {"resutl"}, *values[] = {"OK"};
    s = spec_for(f, names, values, 1);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "TestAlgorithms:test"));
    assert_non_null(strstr(err.message, "resutl"));
    caf_algo_run_result_clear(&out);
    /* inputs from another collector */
    char *other = fixture_write_output(f->dir, "other.sqlite", "OtherCollector", CAF_GRANULARITY_RUN, runs, 1);
    const char *inputs[] = {f->input, other};
    s = spec_for(f, NULL, NULL, 0);
    s.inputs = inputs;
    s.input_count = 2;
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "TestAlgorithms:test"));
    assert_non_null(strstr(err.message, "other.sqlite"));
    caf_algo_run_result_clear(&out);
    free(other);
    assert_int_equal(db_lines(f->db), 0);
}

static void boundaries_in_a_child(void **state)
{
    fixture *f = *state;
    /* means 20, 21, 40, 41: boundaries at 1,1 and 1,3; 1,2 pre-set twice comes back once */
    const char *names[] = {"object", "boundary_shift", "preset_boundaries"};
    const char *values[] = {"peak", "5", "[\"1:2\", \"1:2\", \"1:1\"]"};
    caf_algo_run_spec s = spec_for(f, names, values, 3);
    s.find_boundaries = true;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.boundary_count, 3);
    assert_int_equal(out.boundaries[0].run, 1);
    assert_int_equal(out.boundaries[1].run, 2);
    assert_int_equal(out.boundaries[2].run, 3);
    assert_false(out.committed);
    caf_algo_run_result_clear(&out);
    /* "minimal" has no hook: an error saying so */
    s.algorithm = "minimal";
    s.param_count = 0;
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_ERR_STATE);
    assert_non_null(strstr(err.message, "is_boundary_required"));
    caf_algo_run_result_clear(&out);
}

static void sequence_sees_earlier_payloads(void **state)
{
    fixture *f = *state;
    char *chain_db = caf_path_join(f->dir, "previous");
    /* a database from "another calibration", at the end of the chain */
    caf_localdb *db;
    assert_int_equal(caf_localdb_open(chain_db, CAF_LOCALDB_CREATE, &db, NULL), CAF_OK);
    caf_db_commit *c;
    assert_int_equal(caf_db_commit_begin(db, &c, NULL), CAF_OK);
    const char *older = "{\"value\":100.0}";
    assert_int_equal(caf_db_commit_add_bytes(c, "Older", "json", older, strlen(older), CAF_IOV_ALWAYS, NULL), CAF_OK);
    assert_int_equal(caf_db_commit_finish(c, NULL), CAF_OK);
    caf_localdb_close(db);

    const char *n0[] = {"value", "read_payload"}, *v0[] = {"5", "Older"};
    const char *n1[] = {"value", "read_payload", "result"}, *v1[] = {"1", "TestConstants", "ITERATE"};
    const char *n2[] = {"result"}, *v2[] = {"FAILURE"};
    const char *n3[] = {"value"}, *v3[] = {"7"};
    caf_algo_run_spec specs[4] = {spec_for(f, n0, v0, 2), spec_for(f, n1, v1, 3), spec_for(f, n2, v2, 1),
                                  spec_for(f, n3, v3, 1)};
    const char *chain[] = {chain_db};
    for (int i = 0; i < 4; i++) {
        specs[i].chain = chain;
        specs[i].chain_count = 1;
        specs[i].output_db = NULL; /* the sequence decides */
    }
    caf_algo_run_result results[4] = {{0}};
    size_t ran;
    caf_error err = {0};
    assert_int_equal(caf_algo_run_sequence(specs, 4, f->db, results, &ran, &err), CAF_OK);
    /* the third fails: the fourth never runs */
    assert_int_equal(ran, 3);
    assert_int_equal(caf_algo_sequence_result(results, ran), CAF_ALGO_FAILURE);
    assert_int_equal(caf_algo_sequence_result(results, 2), CAF_ALGO_ITERATE);
    /* the first read the other calibration's payload (100 + 5), the second read the first's (105 + 1) */
    assert_true(json_real_value(json_object_get(results[0].state, "read_value")) == 100.0);
    assert_true(json_real_value(json_object_get(results[1].state, "read_value")) == 105.0);
    assert_true(results[0].committed && results[1].committed);
    assert_false(results[2].committed);
    assert_int_equal(db_lines(f->db), 2);
    for (size_t i = 0; i < ran; i++)
        caf_algo_run_result_clear(&results[i]);
    free(chain_db);
}

/* A chain database whose database.txt is malformed. It is opened on the first payload read only (the
 * iteration's own output database, first in every chain, grows with each commit): an execution that reads
 * nothing succeeds, one that reads fails with the database's file and line and the algorithm's name. */
static void malformed_chain_database_fails_only_the_executions_that_read_it(void **state)
{
    fixture *f = *state;
    char *bad = caf_path_join(f->dir, "bad-db");
    assert_int_equal(caf_mkdir_p(bad, NULL), CAF_OK);
    char *text = caf_path_join(bad, "database.txt");
    const char *line = "dbstore/Gain 1 0,0,-1\n";
    assert_int_equal(caf_file_write_atomic(text, line, strlen(line), NULL), CAF_OK);
    const char *chain[] = {bad};
    caf_algo_run_spec s = spec_for(f, NULL, NULL, 0);
    s.chain = chain;
    s.chain_count = 1;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    caf_algo_run_result_clear(&out);
    assert_int_equal(db_lines(f->db), 1);

    const char *names[] = {"read_payload"}, *values[] = {"Gain"};
    s = spec_for(f, names, values, 1);
    s.chain = chain;
    s.chain_count = 1;
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_false(out.committed);
    assert_string_equal(out.algorithm, "TestAlgorithms:test");
    assert_non_null(strstr(out.message, "algorithm TestAlgorithms:test: database chain: "));
    assert_non_null(strstr(out.message, "database.txt:1"));
    caf_algo_run_result_clear(&out);
    assert_int_equal(db_lines(f->db), 1);
    free(text);
    free(bad);
}

/* An execution that cannot set up (its input state is not a JSON object) ends without a complete result.
 * The report must carry the algorithm's name (judge_end once formatted it from memory that decoding the
 * child's partial message had freed: garbage in the message and the state database). */
static void a_set_up_failure_is_a_failure_naming_the_algorithm(void **state)
{
    fixture *f = *state;
    caf_algo_run_spec s = spec_for(f, NULL, NULL, 0);
    s.input_state = "[1]";
    caf_algo_run_result out = {0};
    caf_error err = {0};
    caf_status st = caf_algo_run(&s, &out, &err);
    assert_int_equal(st, CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_false(out.committed);
    assert_string_equal(out.algorithm, "TestAlgorithms:test");
    const char *start = "algorithm TestAlgorithms:test ended without reporting a complete result";
    assert_memory_equal(out.message, start, strlen(start));
    assert_non_null(strstr(out.message, "input state"));
    caf_algo_run_result_clear(&out);
    assert_int_equal(db_lines(f->db), 0);
}

/* The zygote forks the executions: its child is not ours. Killed between executions, it is started again
 * for the next one; killed during one, that execution fails as killed (its child dies with it) and the next
 * one gets a new zygote. */
static void zygote_forks_and_is_restarted_when_it_died(void **state)
{
    fixture *f = *state;
    assert_non_null(zygote);
    const char *names[] = {"result"}, *values[] = {"OK"};
    caf_algo_run_spec s = spec_for(f, names, values, 1);
    caf_algo_run_result out = {0};
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    caf_algo_run_result_clear(&out);
    pid_t first = caf_algo_zygote_pid(zygote);
    unsigned starts = caf_algo_zygote_starts(zygote);
    assert_true(first > 0);
    assert_int_equal(kill(first, 0), 0);

    kill(first, SIGKILL);
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    assert_false(out.crashed);
    caf_algo_run_result_clear(&out);
    assert_int_equal(caf_algo_zygote_starts(zygote), starts + 1);
    assert_true(caf_algo_zygote_pid(zygote) != first);

    /* killed while its child hangs: the execution ends killed, long before its time limit */
    const char *hang_names[] = {"action"}, *hang_values[] = {"hang"};
    caf_algo_run_spec h = spec_for(f, hang_names, hang_values, 1);
    h.timeout_seconds = 600;
    pid_t second = caf_algo_zygote_pid(zygote);
    pid_t killer = fork();
    if (killer == 0) {
        usleep(500000);
        kill(second, SIGKILL);
        _exit(0);
    }
    assert_int_equal(caf_algo_run(&h, &out, NULL), CAF_OK);
    waitpid(killer, NULL, 0);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_true(out.crashed);
    assert_non_null(strstr(out.message, "signal 9"));
    caf_algo_run_result_clear(&out);
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    caf_algo_run_result_clear(&out);
    assert_int_equal(caf_algo_zygote_starts(zygote), starts + 2);
}

/* A copy of file src at dst; false when it could not be made. */
static bool copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    bool ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    return ok;
}

/* Whether the NUL-separated environment of process pid (as it was exec'd) holds entry. */
static bool exec_environment_has(pid_t pid, const char *entry)
{
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, entry) == 0)
            return true;
    return false;
}

/* The zygote's child runs the plugin the zygote loaded: it neither searches the plugin path nor loads the
 * file again (so a plugin file gone since the zygote started still runs). The zygote was started with eager
 * symbol binding (LD_BIND_NOW), which the algorithm does not see. */
static void zygote_child_uses_the_loaded_plugin(void **state)
{
    fixture *f = *state;
    const char *build = getenv("CAF_BUILD_DIR");
    char src[4096];
    snprintf(src, sizeof src, "%s/tests/plugins/TestAlgorithms.so", build ? build : ".");
    char *dir = caf_path_join(f->dir, "plugins");
    char *copy = caf_path_join(dir, "TestAlgorithms.so");
    assert_int_equal(caf_mkdir_p(dir, NULL), CAF_OK);
    assert_true(copy_file(src, copy));
    char *saved = strdup(getenv("CAF_PLUGIN_PATH"));
    setenv("CAF_PLUGIN_PATH", dir, 1);
    caf_algo_zygote *own = NULL;
    caf_error err = {0};
    assert_int_equal(caf_algo_zygote_open(&(caf_algo_run_spec){.plugin = "TestAlgorithms"}, &own, &err), CAF_OK);
    setenv("CAF_PLUGIN_PATH", saved, 1);
    assert_non_null(own);

    const char *names[] = {"result", "report_env"}, *values[] = {"OK", "LD_BIND_NOW"};
    caf_algo_run_spec s = spec_for(f, names, values, 2);
    s.zygote = own;
    caf_algo_run_result out = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK); /* loaded: the file is still there */
    assert_int_equal(out.result, CAF_ALGO_OK);
    caf_algo_run_result_clear(&out);
    /* read once the zygote has served (while it is still being exec'd, the kernel shows no environment) */
    if (!getenv("LD_BIND_NOW"))
        assert_true(exec_environment_has(caf_algo_zygote_pid(own), "LD_BIND_NOW=1"));
    assert_int_equal(unlink(copy), 0);
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    assert_false(out.crashed);
    if (!getenv("LD_BIND_NOW"))
        assert_true(json_is_null(json_object_get(out.state, "env")));
    assert_int_equal(caf_algo_zygote_starts(own), 1);
    caf_algo_run_result_clear(&out);
    caf_algo_zygote_close(own);
    free(saved);
    free(copy);
    free(dir);
}

/* What the caller does while the child runs: waits for the child to start calibrating (MARKER.start), then
 * lets it go on (creates the file it waits for). */
typedef struct window {
    char *started, *go;
    int calls;
    bool saw_child;
    double sleep_seconds;
} window;

static void while_child_runs(void *ctx)
{
    window *w = ctx;
    w->calls++;
    for (int i = 0; w->started && i < 3000 && !w->saw_child; i++) {
        w->saw_child = caf_path_exists(w->started);
        if (!w->saw_child)
            usleep(10000);
    }
    if (w->go)
        assert_int_equal(caf_file_write_atomic(w->go, "", 0, NULL), CAF_OK);
    if (w->sleep_seconds > 0)
        usleep((useconds_t)(w->sleep_seconds * 1e6));
}

/* spec->while_running is called once, while the child runs (the child waits for what the callback
 * creates), not when the execution cannot start; the time limit still applies. */
static void while_running_overlaps_the_child(void **state)
{
    fixture *f = *state;
    char *marker = caf_path_join(f->dir, "marker"), *go = caf_path_join(f->dir, "go");
    window w = {.go = go};
    assert_true(asprintf(&w.started, "%s.start", marker) > 0);
    const char *names[] = {"marker", "wait_for", "wait_timeout"}, *values[] = {marker, go, "30"};
    caf_algo_run_spec s = spec_for(f, names, values, 3);
    s.while_running = while_child_runs;
    s.while_running_ctx = &w;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    assert_true(out.committed);
    assert_int_equal(w.calls, 1);
    assert_true(w.saw_child);
    caf_algo_run_result_clear(&out);

    /* a child that hangs is killed at its time limit, a callback running past it notwithstanding */
    window late = {.sleep_seconds = 1.5};
    const char *hang_names[] = {"action"}, *hang_values[] = {"hang"};
    s = spec_for(f, hang_names, hang_values, 1);
    s.timeout_seconds = 1.0;
    s.while_running = while_child_runs;
    s.while_running_ctx = &late;
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_non_null(strstr(out.message, "timed out after 1 s"));
    assert_int_equal(late.calls, 1);
    caf_algo_run_result_clear(&out);

    /* no execution, no call */
    window none = {0};
    s = spec_for(f, NULL, NULL, 0);
    s.while_running = while_child_runs;
    s.while_running_ctx = &none;
    s.plugin = NULL;
    assert_int_not_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(none.calls, 0);
    caf_algo_run_result_clear(&out);
    free(marker);
    free(go);
    free(w.started);
}

/* The processes whose parent is pid: the live ones (not zombies) into live (up to 16; NULL: not kept), the
 * zombies into zombies likewise, their number into *zombie_count; returns the number of live ones. */
static size_t children_of(pid_t pid, pid_t *live, size_t *zombie_count, pid_t *zombies)
{
    size_t n = 0, z = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[got] = '\0';
        char *close_paren = strrchr(buf, ')'), state;
        int ppid;
        if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || ppid != (int)pid)
            continue;
        pid_t child = (pid_t)atoi(e->d_name);
        if (state == 'Z') {
            if (zombies && z < 16)
                zombies[z] = child;
            z++;
        } else {
            if (live && n < 16)
                live[n] = child;
            n++;
        }
    }
    if (d)
        closedir(d);
    if (zombie_count)
        *zombie_count = z;
    return n;
}

/* Whether process pid has path open. */
static bool has_open(pid_t pid, const char *path)
{
    char dir[64], link[600], target[4096];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        found = n > 0 && strcmp(target, path) == 0;
    }
    if (d)
        closedir(d);
    return found;
}

/* The zygote's child forked ahead of the next request (waited for up to 20 s), having opened path when path is
 * not NULL; 0 when there is none. */
static pid_t child_forked_ahead(caf_algo_zygote *z, const char *path)
{
    for (int i = 0; i < 2000; i++) {
        pid_t live[16];
        size_t n = children_of(caf_algo_zygote_pid(z), live, NULL, NULL);
        if (n == 1 && (!path || has_open(live[0], path)))
            return live[0];
        usleep(10000);
    }
    return 0;
}

/* Runs the "test" algorithm reading the histogram peak of input with z; returns the execution's process id
 * and the number of entries it read. */
static pid_t run_reading(fixture *f, caf_algo_zygote *z, const char *input, double *entries)
{
    const char *names[] = {"object", "report_pid"}, *values[] = {"peak", "true"};
    caf_algo_run_spec s = spec_for(f, names, values, 2);
    const char *inputs[] = {input};
    s.inputs = inputs;
    s.zygote = z;
    caf_algo_run_result out = {0};
    caf_error err = {0};
    assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_OK);
    assert_false(out.crashed);
    pid_t pid = (pid_t)json_integer_value(json_object_get(out.state, "pid"));
    const char *at = strstr(out.log, "object peak: ");
    assert_non_null(at);
    *entries = atof(at + strlen("object peak: "));
    caf_algo_run_result_clear(&out);
    return pid;
}

static caf_algo_zygote *open_zygote(void)
{
    caf_algo_zygote *z = NULL;
    caf_error err = {0};
    assert_int_equal(caf_algo_zygote_open(&(caf_algo_run_spec){.plugin = "TestAlgorithms"}, &z, &err), CAF_OK);
    assert_non_null(z);
    return z;
}

/* The zygote forks each execution's child ahead of its request: the request is served by a process that
 * existed before it came, and while it runs the next one is forked. That child opens the inputs the last
 * request named, without keeping a lock on them (a writer may work on the file in place meanwhile), and the
 * next request naming the same unchanged file is served by it. */
static void zygote_serves_with_a_child_forked_ahead(void **state)
{
    fixture *f = *state;
    caf_algo_zygote *z = open_zygote();
    pid_t ahead = child_forked_ahead(z, NULL);
    assert_true(ahead > 0);
    double entries = 0;
    assert_int_equal(run_reading(f, z, f->input, &entries), ahead);
    assert_true(entries == 350);

    char *real = realpath(f->input, NULL);
    pid_t next = child_forked_ahead(z, real);
    assert_true(next > 0 && next != ahead);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->input, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 20000); /* the child may still be opening it: the lock goes once it waits */
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE; COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(run_reading(f, z, f->input, &entries), next);
    assert_true(entries == 350);
    assert_int_equal(caf_algo_zygote_starts(z), 1);
    caf_algo_zygote_close(z);
    free(real);
}

/* dir/name holding the fixture's runs with per_run entries each; the path is malloc'd. */
static char *write_entries(const char *dir, const char *name, int per_run)
{
    fixture_run r[4];
    for (size_t i = 0; i < 4; i++)
        r[i] = (fixture_run){runs[i].exp, runs[i].run, per_run, runs[i].mean};
    return fixture_write_output(dir, name, "TestCollector", CAF_GRANULARITY_RUN, r, 4);
}

/* An input the child forked ahead opened is read again when the file changed: replaced at the same path
 * (renamed over it, as writers do), rewritten in place, or another path named. Each request is served by the
 * child that was waiting, having opened the last input. */
static void zygote_reads_changed_inputs_fresh(void **state)
{
    fixture *f = *state;
    caf_algo_zygote *z = open_zygote();
    char *real = realpath(f->input, NULL);
    double entries = 0;
    run_reading(f, z, f->input, &entries);
    assert_true(entries == 350);

    pid_t next = child_forked_ahead(z, real);
    free(write_entries(f->dir, "in.sqlite", 7));
    assert_int_equal(run_reading(f, z, f->input, &entries), next);
    assert_true(next > 0 && entries == 28);

    next = child_forked_ahead(z, real);
    char *other = write_entries(f->dir, "other.sqlite", 3);
    usleep(20000); /* a modification time the file system tells from the last one */
    assert_true(copy_file(other, f->input));
    assert_int_equal(run_reading(f, z, f->input, &entries), next);
    assert_true(next > 0 && entries == 12);

    next = child_forked_ahead(z, real);
    char *third = write_entries(f->dir, "third.sqlite", 2);
    assert_int_equal(run_reading(f, z, third, &entries), next);
    assert_true(next > 0 && entries == 8);
    caf_algo_zygote_close(z);
    free(third);
    free(other);
    free(real);
}

/* A child forked ahead that died before its request (killed, as by the OOM killer): the request gets a child
 * forked then, from the same zygote. The memory limit applies to a child forked ahead as to any. */
static void zygote_child_forked_ahead_killed_or_limited(void **state)
{
    fixture *f = *state;
    caf_algo_zygote *z = open_zygote();
    pid_t ahead = child_forked_ahead(z, NULL);
    assert_true(ahead > 0);
    assert_int_equal(kill(ahead, SIGKILL), 0);
    size_t zombies = 0;
    for (int i = 0; i < 2000 && zombies == 0; i++) { /* a zombie of the zygote's now */
        usleep(1000);
        children_of(caf_algo_zygote_pid(z), NULL, &zombies, NULL);
    }
    assert_int_equal(zombies, 1);
    double entries = 0;
    pid_t served = run_reading(f, z, f->input, &entries);
    assert_true(served > 0 && served != ahead);
    assert_true(entries == 350);
    assert_int_equal(caf_algo_zygote_starts(z), 1);

    ahead = child_forked_ahead(z, NULL);
    assert_true(ahead > 0);
    const char *names[] = {"action", "eat_limit_mb"}, *values[] = {"eat_memory", "2048"};
    caf_algo_run_spec s = spec_for(f, names, values, 2);
    s.zygote = z;
    s.memory_limit = 64u << 20;
    caf_algo_run_result out = {0};
    assert_int_equal(caf_algo_run(&s, &out, NULL), CAF_OK);
    assert_int_equal(out.result, CAF_ALGO_FAILURE);
    assert_true(out.crashed);
    assert_non_null(strstr(out.message, "memory limit"));
    caf_algo_run_result_clear(&out);
    assert_int_equal(caf_algo_zygote_starts(z), 1);
    caf_algo_zygote_close(z);
}

/* The number of descriptors this process has open. */
static size_t open_descriptors(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Closing a zygote ends every process it forked (the child forked ahead, the last one served, kept as a
 * zombie) and leaves no descriptor behind. */
static void zygote_close_leaves_no_process(void **state)
{
    fixture *f = *state;
    size_t descriptors = open_descriptors();
    caf_algo_zygote *z = open_zygote();
    double entries = 0;
    run_reading(f, z, f->input, &entries);
    pid_t live[16], zombies[16];
    size_t zombie_count = 0;
    pid_t ahead = child_forked_ahead(z, NULL);
    size_t live_count = children_of(caf_algo_zygote_pid(z), live, &zombie_count, zombies);
    assert_true(ahead > 0);
    assert_int_equal(live_count, 1);
    assert_int_equal(zombie_count, 1);
    caf_algo_zygote_close(z);
    assert_true(kill(live[0], 0) != 0 && errno == ESRCH);
    assert_true(kill(zombies[0], 0) != 0 && errno == ESRCH);
    assert_int_equal(open_descriptors(), descriptors);
}

/* A Python algorithm's zygote (the interpreter) forks ahead too: the request is served by the child that was
 * waiting, which had opened the last request's input. Skipped when the Python package was not built. */
static void python_zygote_serves_with_a_child_forked_ahead(void **state)
{
    fixture *f = *state;
    const char *build = getenv("CAF_BUILD_DIR");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/python/caf/_algorithm*.so", build ? build : ".");
    glob_t g;
    bool built = glob(pattern, 0, NULL, &g) == 0;
    globfree(&g);
    if (!built)
        skip();
    char *module = caf_path_join(f->dir, "prefork_algorithm.py");
    const char *text = "import os\nimport caf\n\ndef read(ctx):\n    h = ctx.get_object('peak')\n"
                       "    ctx.output_state['pid'] = os.getpid()\n    ctx.output_state['entries'] = float(h.entries)\n"
                       "    return caf.Result.OK\n";
    assert_int_equal(caf_file_write_atomic(module, text, strlen(text), NULL), CAF_OK);
    caf_algo_run_spec s = spec_for(f, NULL, NULL, 0);
    s.plugin = "python";
    s.algorithm = "prefork_algorithm:read";
    s.python_path = f->dir;
    caf_algo_zygote *z = NULL;
    caf_error err = {0};
    assert_int_equal(caf_algo_zygote_open(&s, &z, &err), CAF_OK);
    assert_non_null(z);
    s.zygote = z;
    char *real = realpath(f->input, NULL);
    for (int i = 0; i < 2; i++) {
        pid_t ahead = child_forked_ahead(z, i == 0 ? NULL : real);
        assert_true(ahead > 0);
        caf_algo_run_result out = {0};
        assert_int_equal(caf_algo_run(&s, &out, &err), CAF_OK);
        if (out.result != CAF_ALGO_OK)
            fail_msg("%s\n%s", out.message, out.log);
        assert_int_equal(json_integer_value(json_object_get(out.state, "pid")), ahead);
        assert_true(json_real_value(json_object_get(out.state, "entries")) == 350);
        caf_algo_run_result_clear(&out);
    }
    assert_int_equal(caf_algo_zygote_starts(z), 1);
    caf_algo_zygote_close(z);
    free(real);
    free(module);
}

int main(void)
{
    /* the test plugins are built outside the user plugin path */
    const char *build = getenv("CAF_BUILD_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/plugins", build ? build : ".");
    setenv("CAF_PLUGIN_PATH", path, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(result_codes_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_abort_exit_and_hang_are_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(runaway_memory_is_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(state_runs_iov_and_large_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(objects_and_bad_payloads_inside_calibrate, setup, teardown),
        cmocka_unit_test_setup_teardown(setup_errors_name_algorithm_and_culprit, setup, teardown),
        cmocka_unit_test_setup_teardown(boundaries_in_a_child, setup, teardown),
        cmocka_unit_test_setup_teardown(sequence_sees_earlier_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_chain_database_fails_only_the_executions_that_read_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_set_up_failure_is_a_failure_naming_the_algorithm, setup, teardown),
        cmocka_unit_test_setup_teardown(while_running_overlaps_the_child, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("forked from the caller", tests, NULL, NULL);
    caf_error err = {0};
    if (caf_algo_zygote_open(&(caf_algo_run_spec){.plugin = "TestAlgorithms"}, &zygote, &err) != CAF_OK || !zygote) {
        fprintf(stderr, "cannot start the algorithm zygote: %s\n", err.message);
        return failed + 1;
    }
    const struct CMUnitTest zygote_tests[] = {
        cmocka_unit_test_setup_teardown(zygote_forks_and_is_restarted_when_it_died, setup, teardown),
        cmocka_unit_test_setup_teardown(zygote_child_uses_the_loaded_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(zygote_serves_with_a_child_forked_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(zygote_reads_changed_inputs_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(zygote_child_forked_ahead_killed_or_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(zygote_close_leaves_no_process, setup, teardown),
        cmocka_unit_test_setup_teardown(python_zygote_serves_with_a_child_forked_ahead, setup, teardown),
    };
    failed += cmocka_run_group_tests_name("forked by a zygote", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("the zygote", zygote_tests, NULL, NULL);
    caf_algo_zygote_close(zygote);
    return failed;
}
