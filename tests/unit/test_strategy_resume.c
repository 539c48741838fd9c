/* Resuming a strategy: a run interrupted after any execution, saved to JSON and loaded again, finishes with
 * the same committed IoVs as an uninterrupted run, and executes only what was not executed before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/json.h"
#include "caf/strategy.h"
#include "scripted_algorithm.h"
#include "test_support.h"

#define ER(e, r) ((caf_exprun){(e), (r)})
#define N_OF(array) (sizeof(array) / sizeof((array)[0]))

/* Wraps the scripted algorithm: saves the state after every change, and stops once stop_after executions
 * have run (as a SIGKILL after the state was saved would). */
typedef struct interrupting {
    scripted_algorithm algorithm;
    const char *state_path;
    int stop_after; /* 0: never */
    int saves;
} interrupting;

static caf_status save_and_maybe_stop(void *ctx, const caf_strategy_state *state, caf_error *err)
{
    interrupting *it = ctx;
    caf_status rc = caf_strategy_state_save(state, it->state_path, err);
    if (rc != CAF_OK)
        return rc;
    it->saves++;
    if (it->stop_after > 0 && it->algorithm.executions >= it->stop_after)
        return caf_error_set(err, CAF_ERR_STATE, "interrupted after %d executions", it->algorithm.executions);
    return CAF_OK;
}

static caf_status execute(void *ctx, const caf_execution *e, caf_execution_result *r, caf_error *err)
{
    return scripted_execute(&((interrupting *)ctx)->algorithm, e, r, err);
}
static caf_status commit(void *ctx, const caf_execution *e, caf_error *err)
{
    return scripted_commit(&((interrupting *)ctx)->algorithm, e, err);
}
static caf_status find(void *ctx, const caf_exprun *runs, size_t n, caf_exprun **out, size_t *out_n, caf_error *err)
{
    return scripted_find_boundaries(&((interrupting *)ctx)->algorithm, runs, n, out, out_n, err);
}

typedef struct scenario {
    const char *name;
    caf_strategy_params params;
    scripted_algorithm algorithm; /* the script; counters zero */
    const caf_exprun *runs;
    size_t run_count;
} scenario;

static caf_status run_scenario(const scenario *sc, interrupting *it, caf_strategy_state *state, caf_error *err)
{
    caf_strategy_callbacks cb = {.execute = execute, .commit = commit, .find_boundaries = find,
                                 .progress = save_and_maybe_stop, .ctx = it};
    return caf_strategy_run(&sc->params, 2, sc->runs, sc->run_count, NULL, 0, &cb, state, err);
}

static char *committed_text(const caf_strategy_state *state)
{
    caf_iov *iovs;
    size_t n;
    assert_int_equal(caf_strategy_committed_iovs(state, &iovs, &n, NULL), CAF_OK);
    char *text = calloc(1, 2048), one[CAF_IOV_TEXT_MAX];
    for (size_t i = 0; i < n; i++) {
        strcat(text, caf_iov_format(iovs[i], one, sizeof one));
        strcat(text, " ");
    }
    free(iovs);
    return text;
}

/* For every interruption point k: the first run stops after k executions, the resumed one executes exactly
 * total - k more, commits what was not committed, and ends with the uninterrupted IoVs and outcome. */
static void check_resume_everywhere(const scenario *sc, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, sc->name);
    interrupting whole = {.algorithm = sc->algorithm, .state_path = path};
    caf_strategy_state reference;
    caf_strategy_state_init(&reference);
    caf_error err = {0};
    caf_status whole_rc = run_scenario(sc, &whole, &reference, &err);
    if (whole_rc != CAF_OK)
        print_message("%s: %s\n", sc->name, err.message);
    assert_int_equal(whole_rc, CAF_OK);
    char *expected = committed_text(&reference);
    int total = whole.algorithm.executions;
    assert_true(total >= 2);

    for (int k = 1; k < total; k++) {
        interrupting first = {.algorithm = sc->algorithm, .state_path = path, .stop_after = k};
        caf_strategy_state s;
        caf_strategy_state_init(&s);
        assert_int_equal(run_scenario(sc, &first, &s, &err), CAF_ERR_STATE);
        assert_int_equal(first.algorithm.executions, k);
        caf_strategy_state_clear(&s);

        caf_strategy_state loaded;
        caf_strategy_state_init(&loaded);
        assert_int_equal(caf_strategy_state_load(path, &loaded, &err), CAF_OK);
        assert_int_equal(loaded.execution_count, (size_t)k);
        interrupting second = {.algorithm = sc->algorithm, .state_path = path};
        assert_int_equal(run_scenario(sc, &second, &loaded, &err), CAF_OK);
        assert_int_equal(second.algorithm.executions, total - k);
        assert_int_equal(first.algorithm.commits + second.algorithm.commits, whole.algorithm.commits);
        /* Boundaries found before the interruption come from the state, not from the algorithm again. */
        assert_int_equal(first.algorithm.find_calls + second.algorithm.find_calls, whole.algorithm.find_calls);
        char *got = committed_text(&loaded);
        assert_string_equal(got, expected);
        assert_int_equal(loaded.outcome, reference.outcome);
        free(got);

        /* The finished state, saved and loaded again, replays without executing anything. */
        caf_strategy_state again;
        caf_strategy_state_init(&again);
        assert_int_equal(caf_strategy_state_load(path, &again, &err), CAF_OK);
        interrupting third = {.algorithm = sc->algorithm, .state_path = path};
        assert_int_equal(run_scenario(sc, &third, &again, &err), CAF_OK);
        assert_int_equal(third.algorithm.executions, 0);
        assert_int_equal(third.algorithm.commits, 0);
        got = committed_text(&again);
        assert_string_equal(got, expected);
        free(got);
        caf_strategy_state_clear(&again);
        caf_strategy_state_clear(&loaded);
    }
    free(expected);
    caf_strategy_state_clear(&reference);
}

static caf_exprun five[] = {ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 4), ER(1, 5)};
static caf_exprun two_experiments[] = {ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 6), ER(1, 7), ER(1, 11), ER(2, 1), ER(2, 4)};

static void every_strategy_resumes_at_every_execution(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("resume");
    scenario sc[6];
    memset(sc, 0, sizeof sc);

    sc[0].name = "worked-example";
    caf_strategy_params_init(&sc[0].params, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    sc[0].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 40};
    sc[0].runs = five;
    sc[0].run_count = 5;

    sc[1].name = "simple";
    caf_strategy_params_init(&sc[1].params, CAF_STRATEGY_SIMPLE_RUN_BY_RUN);
    sc[1].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 100};
    scripted_set_entries(&sc[1].algorithm, 1, 3, 5);
    sc[1].runs = five;
    sc[1].run_count = 5;

    sc[2].name = "found-boundaries";
    caf_strategy_params_init(&sc[2].params, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    sc[2].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 60,
                                           .found = {ER(1, 5), ER(1, 8), ER(1, 10), ER(2, 3)}, .found_count = 4};
    sc[2].runs = two_experiments;
    sc[2].run_count = N_OF(two_experiments);

    sc[3].name = "sequential-two-experiments";
    caf_strategy_params_init(&sc[3].params, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    sc[3].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 30, .iterate = true};
    sc[3].runs = two_experiments;
    sc[3].run_count = N_OF(two_experiments);

    /* A failed experiment ends only itself: the resumed run goes on to the next experiment as well. */
    sc[4].name = "sequential-bad-experiment-goes-on";
    caf_strategy_params_init(&sc[4].params, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    sc[4].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 100, .failing = {ER(1, 6)},
                                           .failing_count = 1};
    sc[4].runs = two_experiments;
    sc[4].run_count = N_OF(two_experiments);

    /* A strategy plugin (examples/FixedBlocks) resumes the same way: the replay is below the plugin. */
    sc[5].name = "plugin-fixed-blocks";
    json_t *blocks = json_pack("{s:i}", "block_size", 2);
    caf_strategy_params_init(&sc[5].params, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(caf_strategy_params_set_plugin(&sc[5].params, "FixedBlocks", blocks, NULL), CAF_OK);
    json_decref(blocks);
    sc[5].algorithm = (scripted_algorithm){.needed = 100, .default_entries = 100, .failing = {ER(1, 6)},
                                           .failing_count = 1};
    sc[5].runs = two_experiments;
    sc[5].run_count = N_OF(two_experiments);

    for (size_t i = 0; i < N_OF(sc); i++)
        check_resume_everywhere(&sc[i], dir);
    caf_strategy_params_clear(&sc[5].params);
    test_remove_tree(dir);
    free(dir);
}

static void saved_state_round_trips_byte_for_byte(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("resume-roundtrip");
    char path[4096];
    snprintf(path, sizeof path, "%s/state.json", dir);
    scenario sc = {.name = "x", .runs = two_experiments, .run_count = N_OF(two_experiments),
                   .algorithm = {.needed = 100, .default_entries = 60, .found = {ER(1, 6)}, .found_count = 1}};
    caf_strategy_params_init(&sc.params, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    interrupting it = {.algorithm = sc.algorithm, .state_path = path};
    caf_strategy_state s, loaded;
    caf_strategy_state_init(&s);
    caf_strategy_state_init(&loaded);
    assert_int_equal(run_scenario(&sc, &it, &s, NULL), CAF_OK);
    assert_int_equal(caf_strategy_state_load(path, &loaded, NULL), CAF_OK);
    json_t *a = caf_strategy_state_to_json(&s), *b = caf_strategy_state_to_json(&loaded);
    char *ta = caf_json_dump_compact(a), *tb = caf_json_dump_compact(b);
    assert_string_equal(ta, tb);
    assert_non_null(strstr(ta, "\"found_boundaries\":[{\"boundaries\":[[1,6]],\"exp\":1},{\"boundaries\":[[1,6]],"
                               "\"exp\":2}]"));
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    caf_strategy_state_clear(&s);
    caf_strategy_state_clear(&loaded);
    test_remove_tree(dir);
    free(dir);
}

static void changed_input_is_detected_not_mixed(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("resume-mismatch");
    char path[4096];
    snprintf(path, sizeof path, "%s/state.json", dir);
    scenario sc = {.name = "x", .algorithm = {.needed = 100, .default_entries = 40}, .runs = five, .run_count = 5};
    caf_strategy_params_init(&sc.params, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    interrupting first = {.algorithm = sc.algorithm, .state_path = path, .stop_after = 4};
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};
    assert_int_equal(run_scenario(&sc, &first, &s, &err), CAF_ERR_STATE);

    /* Same state, now with step_size 2: the second execution would be on other runs. */
    sc.params.step_size = 2;
    interrupting second = {.algorithm = sc.algorithm, .state_path = path};
    assert_int_equal(run_scenario(&sc, &second, &s, &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "saved strategy state does not match: execution 0 ran on run 1.1 with IoV "
                                     "1,1,1,1, now 2 runs 1.1..1.2 with IoV 1,1,1,2 is due (the input or the "
                                     "parameters changed)");
    assert_int_equal(second.algorithm.executions, 0);

    /* Another strategy kind on the same state is refused up front. */
    caf_strategy_params_init(&sc.params, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(run_scenario(&sc, &second, &s, &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "saved strategy state is for SequentialRunByRun iteration 2, not SingleIOV "
                                     "iteration 2");
    caf_strategy_state_clear(&s);
    test_remove_tree(dir);
    free(dir);
}

static void malformed_state_files_name_the_key(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("resume-bad");
    test_write_file(dir, "bad.json",
                    "{\"strategy\": \"SingleIOV\", \"iteration\": 0, \"found_boundaries\": [], \"responsible\": [],"
                    " \"outcome\": \"none\", \"reason\": \"\", \"executions\": [{\"index\": 0, \"iteration\": 0,"
                    " \"runs\": [[1, 1]], \"iov\": [1, 1, 1, 1], \"result\": \"great\", \"committed\": false}]}");
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};
    assert_int_equal(caf_strategy_state_load(path, &s, &err), CAF_ERR_FORMAT);
    char expected[4200];
    snprintf(expected, sizeof expected, "%s: executions[0]: unknown result \"great\"", path);
    assert_string_equal(err.message, expected);
    assert_int_equal(s.execution_count, 0);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_strategy_resumes_at_every_execution),
        cmocka_unit_test(saved_state_round_trips_byte_for_byte),
        cmocka_unit_test(changed_input_is_detected_not_mixed),
        cmocka_unit_test(malformed_state_files_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
