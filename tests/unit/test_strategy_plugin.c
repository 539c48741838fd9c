/* Strategy plugins: the example FixedBlocks loaded from the plugin path, a strategy written in the test
 * against the same API, parameter checking (at run time and in the isolated check), and the rules the API
 * enforces. Expected executions are derived by hand from examples/FixedBlocks/fixed_blocks.c's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/plugin.h"
#include "caf/strategy_plugin.h"
#include "scripted_algorithm.h"
#include "test_support.h"

#define ER(e, r) ((caf_exprun){(e), (r)})
#define N_OF(array) (sizeof(array) / sizeof((array)[0]))

static caf_exprun runs[] = {ER(1, 1), ER(1, 2), ER(1, 4), ER(1, 5), ER(1, 7), ER(2, 1), ER(2, 2)};

/* A FixedBlocks strategy with parameters given as JSON text. */
static void fixed_blocks(caf_strategy_params *p, const char *parameters)
{
    caf_strategy_params_init(p, CAF_STRATEGY_SINGLE_IOV);
    json_t *json = json_loads(parameters, 0, NULL);
    assert_non_null(json);
    assert_int_equal(caf_strategy_params_set_plugin(p, "FixedBlocks", json, NULL), CAF_OK);
    json_decref(json);
}

static void fixed_blocks_from_the_plugin_path(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 7)}, .failing_count = 1};
    caf_strategy_params p;
    fixed_blocks(&p, "{\"block_size\": 2, \"has_experiment_settings\": true}");
    caf_strategy_callbacks cb = scripted_callbacks(&a);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};
    assert_int_equal(caf_strategy_run(&p, 0, runs, N_OF(runs), NULL, 0, &cb, &s, &err), CAF_OK);
    /* Blocks of two runs; a block's IoV ends just before the next block; the lone 1.7 fails but experiment 2
     * still goes on. */
    assert_string_equal(a.log, "1.1,1.2:1,1,1,3=ok 1.4,1.5:1,4,1,6=ok 1.7:1,7,1,7=failure 2.1,2.2:2,1,2,2=ok ");
    assert_string_equal(a.committed, "1,1,1,3 1,4,1,6 2,1,2,2 ");
    assert_int_equal(a.settings_calls, 2);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "FixedBlocks: block 1.7..1.7 returned failure");
    assert_int_equal(s.kind, CAF_STRATEGY_PLUGIN);
    assert_string_equal(s.plugin, "FixedBlocks");

    /* The saved state names the plugin, and a state of one strategy is not replayed under another. */
    json_t *saved = caf_strategy_state_to_json(&s);
    caf_strategy_state loaded;
    caf_strategy_state_init(&loaded);
    assert_int_equal(caf_strategy_state_from_json(saved, &loaded, &err), CAF_OK);
    assert_string_equal(json_string_value(json_object_get(saved, "strategy")), "FixedBlocks");
    assert_int_equal(loaded.kind, CAF_STRATEGY_PLUGIN);
    assert_string_equal(loaded.plugin, "FixedBlocks");
    json_decref(saved);
    caf_strategy_params single;
    caf_strategy_params_init(&single, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(caf_strategy_run(&single, 0, runs, N_OF(runs), NULL, 0, &cb, &loaded, &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "saved strategy state is for FixedBlocks iteration 0, not SingleIOV iteration 0");
    caf_strategy_state_clear(&loaded);
    caf_strategy_state_clear(&s);
    caf_strategy_params_clear(&p);
}

static void plugin_parameters_are_checked_before_it_runs(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_strategy_callbacks cb = scripted_callbacks(&a);
    caf_strategy_params p;
    caf_strategy_state s;
    caf_error err = {0};
    fixed_blocks(&p, "{\"block_size\": \"three\"}");
    caf_strategy_state_init(&s);
    assert_int_equal(caf_strategy_run(&p, 0, runs, N_OF(runs), NULL, 0, &cb, &s, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "FixedBlocks: strategy FixedBlocks: parameter block_size expects an int, got "
                                     "'three'");
    assert_int_equal(a.executions, 0);
    caf_strategy_params_clear(&p);

    /* A strategy the plugin does not hold, and a plugin that does not exist. */
    caf_strategy_params_init(&p, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(caf_strategy_params_set_plugin(&p, "FixedBlocks:Other", NULL, NULL), CAF_OK);
    assert_int_equal(caf_strategy_run(&p, 0, runs, N_OF(runs), NULL, 0, &cb, &s, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "has no strategy Other (it has FixedBlocks)"));
    assert_int_equal(caf_strategy_params_set_plugin(&p, "NoSuchStrategyPlugin", NULL, NULL), CAF_OK);
    assert_int_equal(caf_strategy_run(&p, 0, runs, N_OF(runs), NULL, 0, &cb, &s, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "strategy NoSuchStrategyPlugin: no plugin 'NoSuchStrategyPlugin'"));
    assert_int_equal(caf_strategy_params_set_plugin(&p, "../FixedBlocks", NULL, NULL), CAF_ERR_INVALID);
    caf_strategy_params_clear(&p);
    caf_strategy_state_clear(&s);
}

/* ---- a strategy written in the test against the API ---- */

typedef enum misuse { COMMIT_A_FAILURE, SETTINGS_WITHOUT_HOOK, TWO_FAILURES } misuse;
static misuse current_misuse;

static caf_status misbehaving(caf_strategy_context *ctx, caf_error *err)
{
    size_t count;
    const caf_exprun *r = caf_strategy_runs(ctx, &count);
    caf_execution_result result;
    size_t index;
    switch (current_misuse) {
    case COMMIT_A_FAILURE: {
        caf_status rc = caf_strategy_execute(ctx, r, count, caf_iov_span_of_runs(r, count), &result, &index, err);
        return rc != CAF_OK ? rc : caf_strategy_commit(ctx, index, err);
    }
    case SETTINGS_WITHOUT_HOOK: return caf_strategy_apply_experiment_settings(ctx, r[0].exp, err);
    case TWO_FAILURES:
        assert_int_equal(caf_strategy_iteration(ctx), 3);
        assert_null(caf_strategy_execution(ctx, 0));
        caf_strategy_fail(ctx, "%s: first", caf_strategy_name(ctx));
        caf_strategy_fail(ctx, "second");
        return CAF_OK;
    }
    return CAF_OK;
}

static const caf_strategy_descriptor misbehaving_descriptor = {
    .abi_version = CAF_STRATEGY_ABI_VERSION, .name = "Misbehaving", .run = misbehaving};

static void the_api_enforces_its_rules(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 1)}, .failing_count = 1};
    caf_strategy_callbacks cb = {.execute = scripted_execute, .commit = scripted_commit, .ctx = &a};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(caf_strategy_params_set_plugin(&p, "test:Misbehaving", NULL, NULL), CAF_OK);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};

    current_misuse = COMMIT_A_FAILURE;
    assert_int_equal(caf_strategy_run_descriptor(&misbehaving_descriptor, &p, 0, runs, 2, NULL, 0, &cb, &s, &err),
                     CAF_ERR_INVALID);
    assert_string_equal(err.message, "test:Misbehaving: execution 0 returned failure and cannot be committed");
    assert_int_equal(a.commits, 0);
    caf_strategy_state_clear(&s);

    current_misuse = SETTINGS_WITHOUT_HOOK;
    assert_int_equal(caf_strategy_run_descriptor(&misbehaving_descriptor, &p, 0, runs, 2, NULL, 0, &cb, &s, &err),
                     CAF_ERR_INVALID);
    assert_string_equal(err.message, "test:Misbehaving asks for experiment settings but the algorithm has no "
                                     "experiment settings hook");
    caf_strategy_state_clear(&s);

    current_misuse = TWO_FAILURES;
    assert_int_equal(caf_strategy_run_descriptor(&misbehaving_descriptor, &p, 3, runs, 2, NULL, 0, &cb, &s, &err),
                     CAF_OK);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "test:Misbehaving: first; second");
    caf_strategy_state_clear(&s);
    caf_strategy_params_clear(&p);

    /* Descriptors are checked: the ABI version, a run function. */
    caf_strategy_descriptor old = misbehaving_descriptor;
    old.abi_version = 0;
    assert_int_equal(caf_strategy_descriptor_check(&old, &err), CAF_ERR_PLUGIN);
    assert_string_equal(err.message, "strategy ABI version 0, this caf needs 1");
    old = misbehaving_descriptor;
    old.run = NULL;
    assert_int_equal(caf_strategy_descriptor_check(&old, &err), CAF_ERR_PLUGIN);
}

static void built_ins_are_descriptors_of_the_same_api(void **unused)
{
    (void)unused;
    caf_error err = {0};
    /* The granularity rule of the built-ins comes from their descriptors. */
    assert_int_equal(caf_strategy_check_granularity(CAF_STRATEGY_SINGLE_IOV, "all", &err), CAF_OK);
    assert_int_equal(caf_strategy_check_granularity(CAF_STRATEGY_SEQUENTIAL_BOUNDARIES, "all", &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "strategy SequentialBoundaries needs collector granularity \"run\" and refuses "
                                     "\"all\"");
    caf_strategy_plugin plugin;
    assert_int_equal(caf_strategy_plugin_open(&plugin, "FixedBlocks", &err), CAF_OK);
    assert_int_equal(caf_strategy_descriptor_check_granularity(plugin.desc, "all", &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "strategy FixedBlocks needs collector granularity \"run\" and refuses \"all\"");
    caf_strategy_plugin_close(&plugin);
}

/* ---- the isolated check ---- */

static char *test_plugin(const char *name)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/tests/plugins/%s.so", getenv("CAF_BUILD_DIR"), name) > 0);
    return path;
}

static void the_check_runs_the_plugin_in_a_child(void **unused)
{
    (void)unused;
    caf_strategy_check_problem problems[8];
    size_t n;
    caf_error err = {0};
    char *fixed = NULL;
    assert_int_equal(caf_plugin_find("FixedBlocks", &fixed, &err), CAF_OK);
    json_t *params = json_pack("{s:s, s:i, s:b}", "block_size", "three", "blocks", 1, "has_experiment_settings", 1);
    assert_int_equal(caf_strategy_plugin_check(fixed, "FixedBlocks", params, "all", problems, 8, &n, &err), CAF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(problems[0].parameter, "");
    assert_string_equal(problems[0].message, "strategy FixedBlocks needs collector granularity \"run\" and refuses "
                                             "\"all\"");
    assert_string_equal(problems[1].parameter, "block_size");
    assert_string_equal(problems[1].message, "strategy FixedBlocks: parameter block_size expects an int, got 'three'");
    assert_string_equal(problems[2].parameter, "blocks");
    json_decref(params);
    free(fixed);

    /* A plugin that crashes as it is loaded is a problem, not a crash of the caller. */
    char *crashing = test_plugin("CrashingStrategy");
    assert_int_equal(caf_strategy_plugin_check(crashing, "CrashingStrategy", NULL, "run", problems, 8, &n, &err),
                     CAF_OK);
    assert_int_equal(n, 0);
    setenv("CAF_TEST_CRASH_ON_LOAD", "1", 1);
    assert_int_equal(caf_strategy_plugin_check(crashing, "CrashingStrategy", NULL, "run", problems, 8, &n, &err),
                     CAF_OK);
    unsetenv("CAF_TEST_CRASH_ON_LOAD");
    assert_int_equal(n, 1);
    assert_non_null(strstr(problems[0].message, "strategy plugin CrashingStrategy"));
    assert_non_null(strstr(problems[0].message, "crashed while being checked"));
    free(crashing);

    /* A shared object without the entry point. */
    char *none = test_plugin("NoEntryPoint");
    assert_int_equal(caf_strategy_plugin_check(none, "NoEntryPoint", NULL, "run", problems, 8, &n, &err), CAF_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(problems[0].message, "has no entry point caf_strategy_plugin_v1"));
    free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_blocks_from_the_plugin_path),
        cmocka_unit_test(plugin_parameters_are_checked_before_it_runs),
        cmocka_unit_test(the_api_enforces_its_rules),
        cmocka_unit_test(built_ins_are_descriptors_of_the_same_api),
        cmocka_unit_test(the_check_runs_the_plugin_in_a_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
