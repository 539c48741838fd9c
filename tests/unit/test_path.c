/* The parts of the module layer that need no events: typed parameters, conditions, path files (every
 * error with FILE:LINE:COLUMN), the plugin path and the random generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/module.h"
#include "caf/path.h"
#include "caf/plugin.h"
#include "test_support.h"

static const caf_param_spec spec[] = {
    {"count", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "3", "an int"},
    {"scale", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "0.5", "a double"},
    {"label", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "a string"},
    {"flag", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "a bool"},
    {"ids", CAF_PARAM_INT_LIST, CAF_PARAM_DEFAULTED, "[1, 2]", "ints"},
    {"weights", CAF_PARAM_DOUBLE_LIST, CAF_PARAM_DEFAULTED, "[]", "doubles"},
    {"names", CAF_PARAM_STRING_LIST, CAF_PARAM_DEFAULTED, "[a]", "strings"},
    {"lines", CAF_PARAM_NAME_INT_LIST, CAF_PARAM_DEFAULTED, "[]", "names or pairs"},
    {"limit", CAF_PARAM_INT, CAF_PARAM_OPTIONAL, NULL, "optional"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status parse(size_t n, const char *const *names, const char *const *values, caf_params **out,
                        caf_error *err)
{
    return caf_params_parse("Demo", spec, n, names, values, out, err);
}

static void parameters_take_given_values_and_defaults(void **state)
{
    (void)state;
    const char *names[] = {"label", "scale", "flag", "lines", "names", "weights"};
    const char *values[] = {"hello", "2", "yes", "[mumu, [bhabha, 10], hadron]", "[x, 'y z']", "[1.5, -2e3]"};
    caf_params *p;
    caf_error err = {0};
    assert_int_equal(parse(6, names, values, &p, &err), CAF_OK);
    assert_int_equal(caf_params_int(p, "count", -9), 3);
    assert_true(caf_params_double(p, "scale", 0) == 2.0);
    assert_string_equal(caf_params_string(p, "label", ""), "hello");
    assert_true(caf_params_bool(p, "flag", false));
    const caf_param_value *ids = caf_params_get(p, "ids");
    assert_int_equal(ids->count, 2);
    assert_int_equal(ids->ints[1], 2);
    const caf_param_value *w = caf_params_get(p, "weights");
    assert_int_equal(w->count, 2);
    assert_true(w->doubles[1] == -2000.0);
    const caf_param_value *s = caf_params_get(p, "names");
    assert_string_equal(s->strings[1], "y z");
    const caf_param_value *l = caf_params_get(p, "lines");
    assert_int_equal(l->count, 3);
    assert_string_equal(l->name_ints[0].name, "mumu");
    assert_false(l->name_ints[0].has_number);
    assert_string_equal(l->name_ints[1].name, "bhabha");
    assert_true(l->name_ints[1].has_number);
    assert_int_equal(l->name_ints[1].number, 10);
    assert_false(l->name_ints[2].has_number);
    assert_false(caf_params_has(p, "limit"));
    assert_null(caf_params_get(p, "nonexistent"));
    caf_params_free(p);
    /* null leaves an optional parameter unset; a value sets it */
    const char *n2[] = {"label", "limit"};
    const char *v2[] = {"x", "~"};
    assert_int_equal(parse(2, n2, v2, &p, &err), CAF_OK);
    assert_false(caf_params_has(p, "limit"));
    caf_params_free(p);
    v2[1] = "-7";
    assert_int_equal(parse(2, n2, v2, &p, &err), CAF_OK);
    assert_int_equal(caf_params_int(p, "limit", 0), -7);
    caf_params_free(p);
}

static void expect_param_error(const char *name, const char *value, const char *const *needles)
{
    const char *names[] = {"label", name};
    const char *values[] = {"x", value};
    caf_params *p = (caf_params *)1;
    caf_error err = {0};
    assert_int_equal(parse(2, names, values, &p, &err), CAF_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.message, "Demo"));
    for (; *needles; needles++)
        if (!strstr(err.message, *needles))
            fail_msg("'%s' lacks '%s'", err.message, *needles);
}

static void ill_typed_and_unknown_parameters_name_module_and_parameter(void **state)
{
    (void)state;
    expect_param_error("count", "3.5", (const char *[]){"count", "an int", "'3.5'", NULL});
    expect_param_error("count", "'3'", (const char *[]){"count", "an int", NULL}); /* a quoted text is no number */
    expect_param_error("count", "99999999999999999999", (const char *[]){"count", NULL});
    expect_param_error("scale", "fast", (const char *[]){"scale", "a number", NULL});
    expect_param_error("flag", "2", (const char *[]){"flag", "bool", NULL});
    expect_param_error("label", "[a]", (const char *[]){"label", "given twice", NULL});
    expect_param_error("ids", "[1, two]", (const char *[]){"ids", "item 2", "'two'", NULL});
    expect_param_error("ids", "7", (const char *[]){"ids", "list of int", NULL});
    expect_param_error("names", "[[a]]", (const char *[]){"names", "item 1", NULL});
    expect_param_error("lines", "[mumu, [bhabha]]", (const char *[]){"lines", "item 2", "[name, int]", NULL});
    expect_param_error("lines", "[[bhabha, 1.5]]", (const char *[]){"lines", "item 1", NULL});
    expect_param_error("lines", "[{a: 1}]", (const char *[]){"lines", "item 1", NULL});
    expect_param_error("colour", "red", (const char *[]){"no parameter 'colour'", "count, scale", NULL});
    caf_params *p;
    caf_error err = {0};
    assert_int_equal(parse(0, NULL, NULL, &p, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "label"));
    assert_non_null(strstr(err.message, "required"));
}

static void conditions_parse_as_basf2_spells_them(void **state)
{
    (void)state;
    struct {
        const char *text;
        caf_condition_op op;
        int64_t value;
    } ok[] = {{"== 1", CAF_COND_EQ, 1}, {"=7", CAF_COND_EQ, 7},     {" != 0 ", CAF_COND_NE, 0},
              {"<0", CAF_COND_LT, 0},   {"<= -3", CAF_COND_LE, -3}, {">5", CAF_COND_GT, 5},
              {">= 2", CAF_COND_GE, 2}, {"true", CAF_COND_GE, 1},   {"False", CAF_COND_LT, 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        caf_condition_op op;
        int64_t v;
        caf_error err = {0};
        assert_int_equal(caf_condition_parse(ok[i].text, &op, &v, &err), CAF_OK);
        assert_int_equal(op, ok[i].op);
        assert_int_equal(v, ok[i].value);
    }
    const char *bad[] = {"", "1", "=> 1", "== x", "== 1 2", "maybe", "<"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        caf_condition_op op;
        int64_t v;
        caf_error err = {0};
        assert_int_equal(caf_condition_parse(bad[i], &op, &v, &err), CAF_ERR_INVALID);
        assert_non_null(strstr(err.message, "is not a condition"));
    }
    /* truth table around the compared value */
    for (int64_t rv = -2; rv <= 2; rv++) {
        assert_int_equal(caf_condition_holds(CAF_COND_LT, 0, rv), rv < 0);
        assert_int_equal(caf_condition_holds(CAF_COND_LE, 0, rv), rv <= 0);
        assert_int_equal(caf_condition_holds(CAF_COND_GT, 0, rv), rv > 0);
        assert_int_equal(caf_condition_holds(CAF_COND_GE, 0, rv), rv >= 0);
        assert_int_equal(caf_condition_holds(CAF_COND_EQ, 0, rv), rv == 0);
        assert_int_equal(caf_condition_holds(CAF_COND_NE, 0, rv), rv != 0);
    }
    char buf[32];
    assert_string_equal(caf_condition_format(CAF_COND_LE, -3, buf, sizeof buf), "<= -3");
}

static void path_files_load_both_shapes(void **state)
{
    (void)state;
    caf_path_set *set;
    caf_error err = {0};
    const char *list = "- module: A\n- {module: B, name: b2}\n";
    assert_int_equal(caf_path_set_parse(list, strlen(list), "l.yaml", &set, &err), CAF_OK);
    assert_string_equal(caf_path_set_main(set), "main");
    assert_int_equal(caf_path_set_module_count(set, "main"), 2);
    assert_string_equal(caf_path_set_instance_name(set, "main", 0), "A");
    assert_string_equal(caf_path_set_instance_name(set, "main", 1), "b2");
    assert_string_equal(caf_path_set_module_name(set, "main", 1), "B");
    caf_path_set_free(set);
    const char *map = "main: start\npaths:\n  start:\n    - module: A\n      conditions: [{if: '!= 0', path: other}]\n"
                      "  other:\n    - module: B\n";
    assert_int_equal(caf_path_set_parse(map, strlen(map), "m.yaml", &set, &err), CAF_OK);
    assert_string_equal(caf_path_set_main(set), "start");
    assert_int_equal(caf_path_set_path_count(set), 2);
    assert_string_equal(caf_path_set_path_name(set, 1), "other");
    caf_path_set_free(set);
    /* a single path need not be called main */
    const char *one = "paths:\n  only: [{module: A}]\n";
    assert_int_equal(caf_path_set_parse(one, strlen(one), "o.yaml", &set, &err), CAF_OK);
    assert_string_equal(caf_path_set_main(set), "only");
    caf_path_set_free(set);
}

static void expect_path_error(const char *yaml, const char *const *needles)
{
    caf_path_set *set = (caf_path_set *)1;
    caf_error err = {0};
    assert_int_not_equal(caf_path_set_parse(yaml, strlen(yaml), "bad.yaml", &set, &err), CAF_OK);
    assert_null(set);
    assert_null(strchr(err.message, '\n'));
    for (; *needles; needles++)
        if (!strstr(err.message, *needles))
            fail_msg("'%s' lacks '%s'", err.message, *needles);
}

static void path_file_errors_name_file_line_and_column(void **state)
{
    (void)state;
    expect_path_error("- module: A\n  params: {x: [1, 2}\n", (const char *[]){"bad.yaml:2:", NULL});
    expect_path_error("- module: A\n  parms: {}\n", (const char *[]){"bad.yaml:2:3", "unknown key 'parms'", NULL});
    expect_path_error("- name: x\n", (const char *[]){"bad.yaml:1:3", "needs 'module'", NULL});
    expect_path_error("- [A]\n", (const char *[]){"bad.yaml:1:3", "mapping", NULL});
    expect_path_error("42\n", (const char *[]){"bad.yaml:1:1", NULL});
    expect_path_error("", (const char *[]){"bad.yaml:1:1", "empty", NULL});
    expect_path_error("- module: A\n  params: [1]\n", (const char *[]){"bad.yaml:2:11", "params", NULL});
    expect_path_error("- module: A\n  conditions: [{if: '=> 1'}]\n",
                      (const char *[]){"bad.yaml:2:21", "'=> 1' is not a condition", NULL});
    expect_path_error("- module: A\n  conditions: [{if: != 1}]\n", (const char *[]){"bad.yaml:2:", "quotes", NULL});
    expect_path_error("- module: A\n  conditions:\n    - {if: true, path: nowhere}\n",
                      (const char *[]){"bad.yaml:3:24", "'nowhere'", "not defined", NULL});
    expect_path_error("- module: A\n  conditions: [{if: true, after: later}]\n",
                      (const char *[]){"bad.yaml:2:", "end or continue", NULL});
    expect_path_error("- module: A\n  conditions: [{path: x}]\n", (const char *[]){"bad.yaml:2:16", "needs 'if'", NULL});
    expect_path_error("- module: A\n- module: A\n", (const char *[]){"bad.yaml:2:3", "'A' is used twice", NULL});
    expect_path_error("paths:\n  a: [{module: A}]\n  b: [{module: B}]\n", (const char *[]){"bad.yaml", "no main path", NULL});
    expect_path_error("main: c\npaths:\n  a: [{module: A}]\n", (const char *[]){"bad.yaml", "'c' is not defined", NULL});
    expect_path_error("paths:\n  main: {module: A}\n", (const char *[]){"bad.yaml:2:9", "list of modules", NULL});
    expect_path_error("path:\n  main: []\n", (const char *[]){"bad.yaml:1:1", "unknown key 'path'", NULL});
    expect_path_error("paths:\n  main:\n    - {module: A, conditions: [{if: true, path: loop, after: continue}]}\n"
                      "  loop:\n    - {module: B, conditions: [{if: true, path: main}]}\n",
                      (const char *[]){"bad.yaml:", "reaches itself", NULL});
}

static void paths_built_in_code_validate_the_same_way(void **state)
{
    (void)state;
    caf_path_set *set;
    caf_error err = {0};
    assert_int_equal(caf_path_set_new(&set, &err), CAF_OK);
    size_t i;
    assert_int_equal(caf_path_set_add_module(set, "main", "TriggerSkim", NULL, &i, &err), CAF_OK);
    assert_int_equal(caf_path_set_set_param(set, "main", i, "triggerLines", "[mumu]", &err), CAF_OK);
    assert_int_equal(caf_path_set_set_param(set, "main", i, "triggerLines", "[bhabha]", &err), CAF_OK);
    assert_int_equal(caf_path_set_set_param(set, "main", i, "x", "[unclosed", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_path_set_add_condition(set, "main", i, "== 1", "keep", CAF_AFTER_END, &err), CAF_OK);
    assert_int_equal(caf_path_set_add_condition(set, "main", i, "bogus", NULL, CAF_AFTER_END, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "TriggerSkim"));
    assert_int_equal(caf_path_set_validate(set, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "keep"));
    assert_int_equal(caf_path_set_add_module(set, "keep", "Output", NULL, NULL, &err), CAF_OK);
    assert_int_equal(caf_path_set_validate(set, &err), CAF_OK);
    assert_string_equal(caf_path_set_main(set), "main");
    assert_int_equal(caf_path_set_set_param(set, "nowhere", 0, "a", "1", &err), CAF_ERR_NOT_FOUND);
    caf_path_set_free(set);
}

static void plugin_path_lists_and_finds_plugins(void **state)
{
    (void)state;
    const char *build = getenv("CAF_BUILD_DIR");
    assert_non_null(build);
    char env[4096];
    snprintf(env, sizeof env, "::%s/tests/plugins::%s/plugins:/nonexistent-caf-dir", build, build);
    setenv("CAF_PLUGIN_PATH", env, 1);
    char **dirs = caf_plugin_dirs();
    size_t n = 0;
    while (dirs[n])
        n++;
    assert_int_equal(n, 4); /* three from the variable (empty entries dropped), then the install folder */
    assert_string_equal(dirs[2], "/nonexistent-caf-dir");
    caf_plugin_dirs_free(dirs);
    char **names;
    caf_error err = {0};
    assert_int_equal(caf_plugin_list(&names, &err), CAF_OK);
    bool recorder = false, output = false;
    for (size_t i = 0; names[i]; i++) {
        if (names[i + 1])
            assert_true(strcmp(names[i], names[i + 1]) < 0); /* sorted, each once */
        recorder |= !strcmp(names[i], "TestRecorder");
        output |= !strcmp(names[i], "Output");
    }
    assert_true(recorder && output);
    caf_plugin_dirs_free(names);
    char *path;
    assert_int_equal(caf_plugin_find("TriggerSkim", &path, &err), CAF_OK);
    assert_non_null(strstr(path, "/plugins/TriggerSkim.so"));
    free(path);
    assert_int_equal(caf_plugin_find("Nope", &path, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "Nope"));
    assert_non_null(strstr(err.message, "/nonexistent-caf-dir"));
    assert_int_equal(caf_plugin_find("../etc/x", &path, &err), CAF_ERR_INVALID);
    caf_module_plugin m;
    assert_int_equal(caf_module_plugin_load(&m, "TriggerSkim", &err), CAF_OK);
    assert_string_equal(m.descriptor->name, "TriggerSkim");
    assert_string_equal(m.descriptor->params[0].name, "triggerLines");
    caf_module_plugin_unload(&m);
    assert_int_equal(caf_module_plugin_load(&m, "NoEntryPoint", &err), CAF_ERR_PLUGIN);
    assert_non_null(strstr(err.message, "NoEntryPoint.so"));
    assert_non_null(strstr(err.message, CAF_MODULE_ENTRY_SYMBOL));
    /* a file that is not a shared object */
    char *dir = test_make_temp_dir("plugins");
    test_write_file(dir, "Broken.so", "not an ELF file\n");
    setenv("CAF_PLUGIN_PATH", dir, 1);
    assert_int_equal(caf_module_plugin_load(&m, "Broken", &err), CAF_ERR_PLUGIN);
    assert_non_null(strstr(err.message, "Broken.so"));
    test_remove_tree(dir);
    free(dir);
}

static void random_streams_are_reproducible_and_uniform(void **state)
{
    (void)state;
    caf_random a, b;
    caf_random_seed(&a, 7);
    caf_random_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        assert_int_equal(caf_random_next(&a), caf_random_next(&b));
    caf_random_seed_for_run(&a, 7, "skim", (caf_exprun){1, 2});
    caf_random_seed_for_run(&b, 7, "skim", (caf_exprun){1, 3});
    assert_int_not_equal(caf_random_next(&a), caf_random_next(&b));
    caf_random_seed_for_run(&b, 7, "other", (caf_exprun){1, 2});
    caf_random_seed_for_run(&a, 7, "skim", (caf_exprun){1, 2});
    assert_int_not_equal(caf_random_next(&a), caf_random_next(&b));
    /* below(n) covers 0..n-1 evenly (chi-square with 6 degrees of freedom, far tail) */
    size_t counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t x = caf_random_below(&a, 7);
        assert_true(x < 7);
        counts[x]++;
    }
    double chi2 = 0;
    for (int k = 0; k < 7; k++)
        chi2 += pow((double)counts[k] - 10000.0, 2) / 10000.0;
    assert_true(chi2 < 30);
    assert_int_equal(caf_random_below(&a, 1), 0);
    for (int i = 0; i < 1000; i++) {
        double u = caf_random_uniform(&a);
        assert_true(u >= 0 && u < 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parameters_take_given_values_and_defaults),
        cmocka_unit_test(ill_typed_and_unknown_parameters_name_module_and_parameter),
        cmocka_unit_test(conditions_parse_as_basf2_spells_them),
        cmocka_unit_test(path_files_load_both_shapes),
        cmocka_unit_test(path_file_errors_name_file_line_and_column),
        cmocka_unit_test(paths_built_in_code_validate_the_same_way),
        cmocka_unit_test(plugin_path_lists_and_finds_plugins),
        cmocka_unit_test(random_streams_are_reproducible_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
