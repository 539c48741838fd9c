/* The algorithm framework in-process (caf/algorithm_instance.h): default runs and IoV, merged access over
 * run subsets and across files, the object cache, JSON state, payload saving and commit, boundaries,
 * constants payloads and bad input. Algorithms here are linked into the test (caf_algorithm_new); the
 * plugin and child-process paths are in test_algorithm_runner.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm_fixture.h"
#include "caf/algorithm_instance.h"
#include "caf/constants.h"
#include "caf/file.h"
#include "caf/hash.h"
#include "caf/json.h"
#include "caf/localdb.h"
#include "test_support.h"

/* ---- A probe algorithm that records what it sees ---- */

static struct probe {
    size_t run_count;
    caf_exprun runs[16];
    int iteration;
    caf_iov iov;
    const caf_object *first, *second, *subset, *subset_reordered, *all_runs_subset;
    int64_t entries, subset_entries;
    size_t rows;
    int64_t events;
    caf_status unknown_status;
    char unknown_message[CAF_ERROR_MESSAGE_MAX];
    caf_status save_empty_status, save_latin1_status;
    char save_empty_message[CAF_ERROR_MESSAGE_MAX];
    bool had_previous_output;
    json_int_t input_value;
    caf_algo_result answer;
    int save_count;
} probe;

static caf_algo_result probe_calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_exprun *runs = caf_algo_runs(ctx, &probe.run_count);
    memcpy(probe.runs, runs, probe.run_count * sizeof *runs);
    probe.iteration = caf_algo_iteration(ctx);
    probe.iov = caf_algo_default_iov(ctx);
    if (caf_algo_get_object(ctx, "peak", &probe.first, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_algo_get_object(ctx, "peak", &probe.second, err);
    probe.entries = caf_hist1d_entries(probe.first);
    caf_exprun subset[] = {{1, 3}, {1, 1}};
    caf_exprun reordered[] = {{1, 1}, {1, 3}, {1, 1}};
    if (caf_algo_get_object_for_runs(ctx, "peak", subset, 2, &probe.subset, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_algo_get_object_for_runs(ctx, "peak", reordered, 3, &probe.subset_reordered, err);
    probe.subset_entries = caf_hist1d_entries(probe.subset);
    const caf_object *hits, *events;
    if (caf_algo_get_object(ctx, "hits", &hits, err) != CAF_OK || caf_algo_get_object(ctx, "events", &events, err))
        return CAF_ALGO_FAILURE;
    probe.rows = caf_ntuple_rows(hits);
    probe.events = caf_counter_count(events);
    caf_error unknown = {0};
    const caf_object *none;
    probe.unknown_status = caf_algo_get_object(ctx, "no_such_object", &none, &unknown);
    memcpy(probe.unknown_message, unknown.message, sizeof unknown.message);
    caf_error empty = {0};
    caf_iov empty_iov = CAF_IOV_EMPTY;
    probe.save_empty_status = caf_algo_save_bytes(ctx, "Bad", "txt", "x", 1, &empty_iov, &empty);
    probe.save_latin1_status = caf_algo_save_bytes(ctx, "Gr\xfcn", "txt", "x", 1, NULL, NULL);
    memcpy(probe.save_empty_message, empty.message, sizeof empty.message);
    /* the output state starts empty at every execution */
    probe.had_previous_output = json_object_size(caf_algo_output_state(ctx)) != 0;
    probe.input_value = json_integer_value(json_object_get(caf_algo_input_state(ctx), "value"));
    json_object_set_new(caf_algo_output_state(ctx), "value", json_integer(probe.input_value + 1));
    for (int i = 0; i < probe.save_count; i++) {
        char name[32];
        snprintf(name, sizeof name, "Probe%d", i);
        if (caf_algo_save_bytes(ctx, name, "txt", name, strlen(name), NULL, err) != CAF_OK)
            return CAF_ALGO_FAILURE;
    }
    return probe.answer;
}

static const caf_param_spec probe_params[] = {
    {"threshold", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "0.5", "a documented parameter"},
    {NULL, 0, 0, NULL, NULL},
};

static const caf_algorithm_descriptor probe_descriptor = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "probe",
    .description = "records what it sees",
    .collector = "TestCollector",
    .params = probe_params,
    .calibrate = probe_calibrate,
};

/* Two files from one collector; run 1,3 is in both (its entries add up across files). */
static const fixture_run file_a_runs[] = {{1, 1, 10, 20.0}, {1, 3, 30, 40.0}, {1, 2, 20, 30.0}};
static const fixture_run file_b_runs[] = {{1, 3, 5, 40.0}, {1, 7, 70, 50.0}};

static caf_algorithm *open_probe(const char *dir, char **a, char **b)
{
    *a = fixture_write_output(dir, "a.sqlite", "TestCollector", CAF_GRANULARITY_RUN, file_a_runs, 3);
    *b = fixture_write_output(dir, "b.sqlite", "TestCollector", CAF_GRANULARITY_RUN, file_b_runs, 2);
    caf_algorithm *alg;
    caf_error err = {0};
    assert_int_equal(caf_algorithm_new(&probe_descriptor, &alg, &err), CAF_OK);
    const char *inputs[] = {*b, *a, *b}; /* order and duplicates do not matter */
    assert_int_equal(caf_algorithm_set_inputs(alg, inputs, 3, &err), CAF_OK);
    memset(&probe, 0, sizeof probe);
    return alg;
}

static void defaults_merging_and_cache(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-merge"), *a, *b;
    caf_algorithm *alg = open_probe(dir, &a, &b);
    caf_error err = {0};
    assert_int_equal(caf_algorithm_result(alg), CAF_ALGO_UNDEFINED);
    const caf_run_range *collected = caf_algorithm_collected(alg);
    assert_int_equal(collected->count, 4);

    caf_algo_result result;
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(result, CAF_ALGO_OK);
    /* every collected run, sorted; the IoV spans them */
    assert_int_equal(probe.run_count, 4);
    assert_int_equal(probe.runs[0].run, 1);
    assert_int_equal(probe.runs[1].run, 2);
    assert_int_equal(probe.runs[2].run, 3);
    assert_int_equal(probe.runs[3].run, 7);
    assert_true(caf_iov_equal(probe.iov, (caf_iov){1, 1, 1, 7}));
    /* merged over every run of both files */
    assert_int_equal(probe.entries, 10 + 20 + 30 + 5 + 70);
    assert_int_equal(probe.rows, 135);
    assert_int_equal(probe.events, 135);
    /* the cache: the same object for the same (name, run set), whatever the order of the runs */
    assert_ptr_equal(probe.first, probe.second);
    assert_ptr_equal(probe.subset, probe.subset_reordered);
    assert_ptr_not_equal(probe.first, probe.subset);
    assert_int_equal(probe.subset_entries, 10 + 30 + 5);
    /* peak (all runs), peak (subset), hits, events; plus the failed lookup which merges nothing */
    assert_int_equal(caf_algorithm_merge_count(alg), 4);
    /* unknown object: names it and lists what there is */
    assert_int_equal(probe.unknown_status, CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(probe.unknown_message, "no_such_object"));
    assert_non_null(strstr(probe.unknown_message, "peak"));
    assert_non_null(strstr(probe.unknown_message, "builtin:probe"));
    /* a payload with an empty IoV is refused, naming algorithm and payload */
    assert_int_equal(probe.save_empty_status, CAF_ERR_INVALID);
    assert_non_null(strstr(probe.save_empty_message, "'Bad'"));
    assert_non_null(strstr(probe.save_empty_message, "empty"));
    assert_int_equal(probe.save_latin1_status, CAF_ERR_INVALID); /* a name that is not UTF-8 */

    /* a run subset, unsorted: sorted, and the IoV spans the sorted runs */
    caf_exprun some[] = {{1, 3}, {1, 2}};
    assert_int_equal(caf_algorithm_execute(alg, some, 2, 4, NULL, &result, &err), CAF_OK);
    assert_int_equal(probe.run_count, 2);
    assert_int_equal(probe.runs[0].run, 2);
    assert_true(caf_iov_equal(probe.iov, (caf_iov){1, 2, 1, 3}));
    assert_int_equal(probe.iteration, 4);
    assert_int_equal(probe.entries, 20 + 30 + 5);
    /* an explicit IoV */
    caf_iov always = CAF_IOV_ALWAYS;
    assert_int_equal(caf_algorithm_execute(alg, some, 2, 0, &always, &result, &err), CAF_OK);
    assert_true(caf_iov_equal(probe.iov, always));

    caf_algorithm_close(alg);
    free(a);
    free(b);
    test_remove_tree(dir);
    free(dir);
}

static void uncollected_runs_and_result_codes(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-runs"), *a, *b;
    caf_algorithm *alg = open_probe(dir, &a, &b);
    caf_error err = {0};
    caf_algo_result result;
    /* runs never collected are dropped (with a warning each); nothing left: NOT_ENOUGH_DATA */
    caf_exprun never[] = {{1, 4}, {2, 1}};
    assert_int_equal(caf_algorithm_execute(alg, never, 2, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(result, CAF_ALGO_NOT_ENOUGH_DATA);
    assert_int_equal(probe.run_count, 0); /* calibrate was not called */
    assert_non_null(strstr(caf_algorithm_message(alg), "none of the requested runs"));
    caf_exprun mixed[] = {{1, 4}, {1, 7}};
    assert_int_equal(caf_algorithm_execute(alg, mixed, 2, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(probe.run_count, 1);
    assert_int_equal(probe.entries, 70);
    assert_true(caf_iov_equal(probe.iov, (caf_iov){1, 7, 1, 7}));
    /* each result code comes back as the algorithm returned it */
    for (int r = CAF_ALGO_OK; r <= CAF_ALGO_FAILURE; r++) {
        probe.answer = (caf_algo_result)r;
        assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
        assert_int_equal(result, r);
        assert_int_equal(caf_algorithm_result(alg), r);
    }
    /* a value that is no result is a FAILURE */
    probe.answer = (caf_algo_result)17;
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(result, CAF_ALGO_FAILURE);
    assert_non_null(strstr(caf_algorithm_message(alg), "17"));
    caf_algorithm_close(alg);
    free(a);
    free(b);
    test_remove_tree(dir);
    free(dir);
}

/* An execution over named runs asks the inputs about those runs only: it never reads their whole RunRange
 * (O(runs) per execution), so a malformed row of another run does not stop it; an execution over every
 * collected run reads them and names the row. */
static void named_runs_do_not_read_the_run_lists(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-lazy-runs"), *a, *b;
    caf_algorithm *alg = open_probe(dir, &a, &b);
    caf_algorithm_close(alg);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(a, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE runs SET exp = 'x' WHERE run = 2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    caf_error err = {0};
    assert_int_equal(caf_algorithm_new(&probe_descriptor, &alg, &err), CAF_OK);
    const char *inputs[] = {a, b};
    assert_int_equal(caf_algorithm_set_inputs(alg, inputs, 2, &err), CAF_OK);
    caf_algo_result result;
    caf_exprun named[] = {{1, 1}, {1, 3}, {1, 4}};
    assert_int_equal(caf_algorithm_execute(alg, named, 3, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(result, CAF_ALGO_OK);
    assert_int_equal(probe.run_count, 2); /* 1,4 was never collected */
    assert_int_equal(probe.entries, 10 + 30 + 5);
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "table 'runs'"));
    caf_algorithm_close(alg);
    free(a);
    free(b);
    test_remove_tree(dir);
    free(dir);
}

static void json_state_and_parameters(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-state"), *a, *b;
    caf_algorithm *alg = open_probe(dir, &a, &b);
    caf_error err = {0};
    caf_algo_result result;
    assert_int_equal(caf_algorithm_set_input_state(alg, "{\"value\": 41}", &err), CAF_OK);
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(probe.input_value, 41);
    assert_false(probe.had_previous_output);
    char *dumped = caf_json_dump_compact(caf_algorithm_output_state(alg));
    assert_string_equal(dumped, "{\"value\":42}");
    /* the next execution reads what this one wrote; its output starts empty again */
    assert_int_equal(caf_algorithm_set_input_state(alg, dumped, &err), CAF_OK);
    free(dumped);
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 1, NULL, &result, &err), CAF_OK);
    assert_int_equal(probe.input_value, 42);
    assert_false(probe.had_previous_output);
    assert_int_equal(json_integer_value(json_object_get(caf_algorithm_output_state(alg), "value")), 43);
    /* bad state text: not JSON, not an object */
    assert_int_equal(caf_algorithm_set_input_state(alg, "{oops", &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "builtin:probe"));
    assert_int_equal(caf_algorithm_set_input_state(alg, "[1]", &err), CAF_ERR_FORMAT);
    /* parameters: typed, unknown ones refused naming algorithm and parameter */
    const char *names[] = {"threshold"}, *values[] = {"0.75"};
    assert_int_equal(caf_algorithm_set_params(alg, 1, names, values, &err), CAF_OK);
    const char *bad_names[] = {"treshold"};
    assert_int_not_equal(caf_algorithm_set_params(alg, 1, bad_names, values, &err), CAF_OK);
    assert_non_null(strstr(err.message, "algorithm builtin:probe"));
    assert_non_null(strstr(err.message, "treshold"));
    const char *bad_values[] = {"high"};
    assert_int_not_equal(caf_algorithm_set_params(alg, 1, names, bad_values, &err), CAF_OK);
    assert_non_null(strstr(err.message, "threshold"));
    caf_algorithm_close(alg);
    free(a);
    free(b);
    test_remove_tree(dir);
    free(dir);
}

static size_t db_lines(const char *db_dir)
{
    caf_localdb *db;
    if (caf_localdb_open(db_dir, CAF_LOCALDB_CREATE, &db, NULL) != CAF_OK)
        return (size_t)-1;
    size_t n = caf_localdb_entry_count(db);
    caf_localdb_close(db);
    return n;
}

static void commit_only_on_success_and_all_together(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-commit"), *a, *b;
    caf_algorithm *alg = open_probe(dir, &a, &b);
    char *db = caf_path_join(dir, "outdb");
    caf_error err = {0};
    caf_algo_result result;
    probe.save_count = 3;
    static const caf_algo_result refused[] = {CAF_ALGO_NOT_ENOUGH_DATA, CAF_ALGO_FAILURE};
    for (size_t i = 0; i < 2; i++) {
        probe.answer = refused[i];
        assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
        size_t n;
        caf_algorithm_payloads(alg, &n);
        assert_int_equal(n, 3);
        assert_int_equal(caf_algorithm_commit(alg, db, &err), CAF_ERR_STATE);
        assert_non_null(strstr(err.message, caf_algo_result_name(refused[i])));
        assert_false(caf_path_exists(db));
    }
    /* a commit that fails half-way adds nothing: block the second payload's file name with a folder */
    probe.answer = CAF_ALGO_ITERATE;
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
    char md5[CAF_MD5_HEX_SIZE], blocker[4200];
    assert_int_equal(caf_md5_hex("Probe1", 6, md5, &err), CAF_OK);
    assert_int_equal(caf_mkdir_p(db, &err), CAF_OK);
    snprintf(blocker, sizeof blocker, "%s/dbstore_Probe1_rev_%.6s.txt", db, md5);
    assert_int_equal(caf_mkdir_p(blocker, &err), CAF_OK);
    assert_int_not_equal(caf_algorithm_commit(alg, db, &err), CAF_OK);
    assert_int_equal(db_lines(db), 0);
    char first[4200];
    assert_int_equal(caf_md5_hex("Probe0", 6, md5, &err), CAF_OK);
    snprintf(first, sizeof first, "%s/dbstore_Probe0_rev_%.6s.txt", db, md5);
    assert_false(caf_path_exists(first)); /* the payload written before the failure was removed */
    test_remove_tree(blocker);
    /* now it goes through: all three lines at once, with their revisions */
    assert_int_equal(caf_algorithm_commit(alg, db, &err), CAF_OK);
    assert_int_equal(db_lines(db), 3);
    size_t n;
    const caf_algo_payload *p = caf_algorithm_payloads(alg, &n);
    md5[6] = '\0';
    assert_string_equal(p[0].revision, md5);
    assert_true(caf_iov_equal(p[2].iov, (caf_iov){1, 1, 1, 7}));
    free(db);
    caf_algorithm_close(alg);
    free(a);
    free(b);
    test_remove_tree(dir);
    free(dir);
}

/* ---- Boundaries ---- */

typedef struct boundary_probe {
    bool set_up, torn_down;
    size_t asked;
    double reference;
} boundary_probe;

static boundary_probe bprobe;

static caf_status probe_setup(caf_algo_context *ctx, const caf_exprun *runs, size_t count, void **state,
                              caf_error *err)
{
    (void)runs;
    (void)count;
    bprobe.set_up = true;
    *state = &bprobe;
    return caf_algo_add_boundary(ctx, (caf_exprun){1, 7}, err); /* pre-set, and found again below */
}

static caf_status probe_required(caf_algo_context *ctx, void *state, caf_exprun run, bool *required,
                                 caf_error *err)
{
    boundary_probe *s = state;
    size_t n;
    const caf_exprun *runs = caf_algo_runs(ctx, &n);
    if (n != 1 || caf_exprun_compare(runs[0], run) != 0)
        return caf_error_set(err, CAF_ERR_STATE, "requested runs are not just the run asked about");
    const caf_object *h;
    if (caf_algo_get_object(ctx, "peak", &h, err) != CAF_OK)
        return CAF_ERR_NOT_FOUND;
    double mean = caf_hist1d_mean(h);
    *required = s->asked++ == 0 || fabs(mean - s->reference) > 15.0;
    if (*required)
        s->reference = mean;
    return CAF_OK;
}

static void probe_teardown(caf_algo_context *ctx, void *state)
{
    (void)ctx;
    ((boundary_probe *)state)->torn_down = true;
}

static const caf_algorithm_descriptor boundary_descriptor = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "bounds",
    .description = "boundaries where the mean moves by more than 15",
    .collector = "TestCollector",
    .calibrate = probe_calibrate,
    .boundary_setup = probe_setup,
    .is_boundary_required = probe_required,
    .boundary_teardown = probe_teardown,
};

static void boundaries_sorted_unique_and_granularity(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-bounds");
    /* means 20 (1,1), 30 (1,2), 40 (1,3), 50 (1,7): found at 1,1 (first) and 1,3 (20 from 20); setup
     * pre-sets 1,7 twice (once here, and it is sorted in) */
    char *a = fixture_write_output(dir, "a.sqlite", "TestCollector", CAF_GRANULARITY_RUN, file_a_runs, 3);
    char *b = fixture_write_output(dir, "b.sqlite", "TestCollector", CAF_GRANULARITY_RUN, file_b_runs, 2);
    caf_algorithm *alg;
    caf_error err = {0};
    assert_int_equal(caf_algorithm_new(&boundary_descriptor, &alg, &err), CAF_OK);
    const char *inputs[] = {a, b};
    assert_int_equal(caf_algorithm_set_inputs(alg, inputs, 2, &err), CAF_OK);
    memset(&bprobe, 0, sizeof bprobe);
    caf_exprun *found;
    size_t n;
    assert_int_equal(caf_algorithm_find_boundaries(alg, NULL, 0, 0, &found, &n, &err), CAF_OK);
    assert_true(bprobe.set_up && bprobe.torn_down);
    assert_int_equal(bprobe.asked, 4);
    assert_int_equal(n, 3);
    assert_true(caf_exprun_compare(found[0], (caf_exprun){1, 1}) == 0);
    assert_true(caf_exprun_compare(found[1], (caf_exprun){1, 3}) == 0);
    assert_true(caf_exprun_compare(found[2], (caf_exprun){1, 7}) == 0);
    free(found);
    /* execution data are reset afterwards */
    assert_int_equal(caf_algorithm_result(alg), CAF_ALGO_UNDEFINED);
    caf_algorithm_close(alg);

    /* granularity "all" is refused, saying so */
    char *all = fixture_write_output(dir, "all.sqlite", "TestCollector", CAF_GRANULARITY_ALL, file_a_runs, 3);
    assert_int_equal(caf_algorithm_new(&boundary_descriptor, &alg, &err), CAF_OK);
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){all}, 1, &err), CAF_OK);
    assert_int_equal(caf_algorithm_find_boundaries(alg, NULL, 0, 0, &found, &n, &err), CAF_ERR_STATE);
    assert_non_null(strstr(err.message, "granularity 'run'"));
    assert_non_null(strstr(err.message, "'all'"));
    caf_algorithm_close(alg);
    /* an algorithm without the hook says so */
    assert_int_equal(caf_algorithm_new(&probe_descriptor, &alg, &err), CAF_OK);
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){a}, 1, &err), CAF_OK);
    assert_int_equal(caf_algorithm_find_boundaries(alg, NULL, 0, 0, &found, &n, &err), CAF_ERR_STATE);
    assert_non_null(strstr(err.message, "is_boundary_required"));
    caf_algorithm_close(alg);
    free(a);
    free(b);
    free(all);
    test_remove_tree(dir);
    free(dir);
}

static void granularity_all_and_bad_inputs(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("algo-inputs");
    char *all = fixture_write_output(dir, "all.sqlite", "TestCollector", CAF_GRANULARITY_ALL, file_a_runs, 3);
    char *all2 = fixture_write_output(dir, "all2.sqlite", "TestCollector", CAF_GRANULARITY_ALL, file_b_runs, 2);
    char *run = fixture_write_output(dir, "run.sqlite", "TestCollector", CAF_GRANULARITY_RUN, file_b_runs, 2);
    char *other = fixture_write_output(dir, "other.sqlite", "OtherCollector", CAF_GRANULARITY_RUN, file_b_runs, 2);
    caf_algorithm *alg;
    caf_error err = {0};
    assert_int_equal(caf_algorithm_new(&probe_descriptor, &alg, &err), CAF_OK);
    /* granularity "all": the one object of every file, merged, whatever runs are asked for */
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){all, all2}, 2, &err), CAF_OK);
    memset(&probe, 0, sizeof probe);
    caf_algo_result result;
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_OK);
    assert_int_equal(result, CAF_ALGO_OK);
    assert_int_equal(probe.entries, 135);
    assert_int_equal(probe.subset_entries, 135);
    assert_ptr_equal(probe.first, probe.subset); /* one cache entry for every run set */
    assert_int_equal(probe.run_count, 4);
    /* mixed granularity */
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){all, run}, 2, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "granularity"));
    assert_non_null(strstr(err.message, "builtin:probe"));
    /* another collector */
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){run, other}, 2, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "OtherCollector"));
    assert_non_null(strstr(err.message, "other.sqlite"));
    /* unless the algorithm is told to read that collector */
    assert_int_equal(caf_algorithm_set_collector(alg, "OtherCollector", &err), CAF_OK);
    assert_int_equal(caf_algorithm_set_inputs(alg, (const char *[]){other}, 1, &err), CAF_OK);
    /* a missing file and a file that is not a collector output */
    assert_int_not_equal(caf_algorithm_set_inputs(alg, (const char *[]){"/nonexistent/x.sqlite"}, 1, &err), CAF_OK);
    assert_non_null(strstr(err.message, "/nonexistent/x.sqlite"));
    test_write_file(dir, "junk.sqlite", "not a database");
    char *junk = caf_path_join(dir, "junk.sqlite");
    assert_int_not_equal(caf_algorithm_set_inputs(alg, (const char *[]){junk}, 1, &err), CAF_OK);
    assert_non_null(strstr(err.message, "junk.sqlite"));
    /* executing without inputs */
    assert_int_equal(caf_algorithm_execute(alg, NULL, 0, 0, NULL, &result, &err), CAF_ERR_STATE);
    caf_algorithm_close(alg);
    free(junk);
    free(all);
    free(all2);
    free(run);
    free(other);
    test_remove_tree(dir);
    free(dir);
}

/* ---- Constants payloads ---- */

static void constants_are_canonical(void **state)
{
    (void)state;
    caf_constants *x, *y;
    caf_error err = {0};
    assert_int_equal(caf_constants_new(&x, &err), CAF_OK);
    assert_int_equal(caf_constants_new(&y, &err), CAF_OK);
    double gains[] = {1.0, 0.1, 1.0 / 3.0, -0.0};
    caf_constants_set_array(x, "gains", gains, 4, &err);
    caf_constants_set_double(x, "offset", -0.0, &err);
    caf_constants_set_int(x, "channels", 4, &err);
    caf_constants_set_string(x, "unit", "ADC/MeV", &err);
    /* the same constants set in another order */
    caf_constants_set_string(y, "unit", "ADC/MeV", &err);
    caf_constants_set_int(y, "channels", 4, &err);
    caf_constants_set_double(y, "offset", 0.0, &err);
    caf_constants_set_array(y, "gains", gains, 4, &err);
    char *tx, *ty;
    size_t nx, ny;
    assert_int_equal(caf_constants_serialize(x, &tx, &nx, &err), CAF_OK);
    assert_int_equal(caf_constants_serialize(y, &ty, &ny, &err), CAF_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(tx, ty, nx);
    assert_string_equal(tx, "{\"channels\":4,\"gains\":[1.0,0.10000000000000001,0.33333333333333331,0.0],"
                            "\"offset\":0.0,\"unit\":\"ADC/MeV\"}");
    /* read back bit-identical */
    caf_constants *z;
    assert_int_equal(caf_constants_parse(tx, nx, &z, &err), CAF_OK);
    double *back;
    size_t count;
    assert_int_equal(caf_constants_get_array(z, "gains", &back, &count, &err), CAF_OK);
    assert_int_equal(count, 4);
    assert_true(back[2] == 1.0 / 3.0);
    free(back);
    int64_t channels;
    assert_int_equal(caf_constants_get_int(z, "channels", &channels, &err), CAF_OK);
    assert_int_equal(channels, 4);
    double d;
    assert_int_equal(caf_constants_get_double(z, "missing", &d, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "missing"));
    assert_int_equal(caf_constants_get_double(z, "unit", &d, &err), CAF_ERR_INVALID);
    /* JSON has no NaN */
    assert_int_equal(caf_constants_set_double(x, "bad", NAN, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "bad"));
    free(tx);
    free(ty);
    caf_constants_free(x);
    caf_constants_free(y);
    caf_constants_free(z);
}

static void result_names_and_parsing(void **state)
{
    (void)state;
    assert_int_equal(CAF_ALGO_OK, 0);
    assert_int_equal(CAF_ALGO_ITERATE, 1);
    assert_int_equal(CAF_ALGO_NOT_ENOUGH_DATA, 2);
    assert_int_equal(CAF_ALGO_FAILURE, 3);
    assert_int_equal(CAF_ALGO_UNDEFINED, 4);
    caf_algo_result r;
    for (int i = 0; i <= 4; i++) {
        assert_true(caf_algo_result_parse(caf_algo_result_name((caf_algo_result)i), &r));
        assert_int_equal(r, i);
    }
    assert_true(caf_algo_result_parse("not_enough_data", &r));
    assert_int_equal(r, CAF_ALGO_NOT_ENOUGH_DATA);
    assert_true(caf_algo_result_parse("1", &r));
    assert_int_equal(r, CAF_ALGO_ITERATE);
    assert_false(caf_algo_result_parse("5", &r));
    assert_false(caf_algo_result_parse("GOOD", &r));
    assert_true(caf_algo_result_is_success(CAF_ALGO_ITERATE));
    assert_false(caf_algo_result_is_success(CAF_ALGO_NOT_ENOUGH_DATA));
    char *plugin, *name;
    caf_error err = {0};
    assert_int_equal(caf_algorithm_split_name("Gains:peak", &plugin, &name, &err), CAF_OK);
    assert_string_equal(plugin, "Gains");
    assert_string_equal(name, "peak");
    free(plugin);
    free(name);
    assert_int_equal(caf_algorithm_split_name("Gains:", &plugin, &name, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_algorithm_split_name(":x", &plugin, &name, &err), CAF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_merging_and_cache),
        cmocka_unit_test(uncollected_runs_and_result_codes),
        cmocka_unit_test(named_runs_do_not_read_the_run_lists),
        cmocka_unit_test(json_state_and_parameters),
        cmocka_unit_test(commit_only_on_success_and_all_together),
        cmocka_unit_test(boundaries_sorted_unique_and_granularity),
        cmocka_unit_test(granularity_all_and_bad_inputs),
        cmocka_unit_test(constants_are_canonical),
        cmocka_unit_test(result_names_and_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
