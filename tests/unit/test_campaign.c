/* The campaign model built through the C API: validation (every problem, no locations), dependency order,
 * ready sets and waves, cycles, input expansion, the per-run file choice and the plugin search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glob.h>

#include "caf/campaign.h"
#include "test_support.h"

#define ER(e, r) ((caf_exprun){(e), (r)})
#define NO_MARK ((caf_mark){0, 0})

/* A complete calibration called name, depending on deps (NULL-terminated). */
static caf_calibration_config *add(caf_campaign *c, const char *name, const char *const *deps)
{
    caf_calibration_config *cal;
    assert_int_equal(caf_campaign_add_calibration(c, name, &cal, NULL), CAF_OK);
    json_t *params = json_pack("{s:i}", "bins", 10);
    assert_int_equal(caf_calibration_set_collector(cal, "GainCollector", params, NULL), CAF_OK);
    json_decref(params);
    caf_strategy_params s;
    caf_strategy_params_init(&s, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    assert_int_equal(caf_calibration_add_algorithm(cal, "GainAlgorithm", NULL, &s, NO_MARK, NULL, NULL), CAF_OK);
    assert_int_equal(caf_string_list_add(&cal->input_files, "data/*.h5", NO_MARK, NULL), CAF_OK);
    for (; deps && *deps; deps++)
        assert_int_equal(caf_string_list_add(&cal->depends_on, *deps, NO_MARK, NULL), CAF_OK);
    return cal;
}

/* Validates and returns all problem messages joined by "\n". */
static char *problems_of(const caf_campaign *c)
{
    caf_config_problems p = {0};
    caf_campaign_validate(c, &p);
    char *text = calloc(1, 8192);
    for (size_t i = 0; i < p.count; i++) {
        char line[1200];
        strcat(text, caf_config_problem_format(&p, i, c->source, line, sizeof line));
        strcat(text, "\n");
    }
    caf_config_problems_clear(&p);
    return text;
}

static void a_campaign_built_in_c_is_valid(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.output_dir, "out", NULL), CAF_OK);
    caf_calibration_config *gain = add(&c, "gain", NULL);
    const char *deps[] = {"gain", NULL};
    caf_calibration_config *t0 = add(&c, "t0", deps);
    assert_int_equal(caf_calibration_add_module(t0, "TriggerSkim", NULL, NO_MARK, NULL), CAF_OK);
    assert_int_equal(caf_calibration_add_ignored_run(t0, ER(1, 7), NULL), CAF_OK);
    char *text = problems_of(&c);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(gain->max_iterations, 5);
    assert_int_equal(gain->granularity, CAF_GRANULARITY_RUN);
    assert_int_equal(gain->max_files_per_collector_job, 1);
    assert_int_equal(json_integer_value(json_object_get(gain->collector_parameters, "bins")), 10);
    assert_ptr_equal(caf_campaign_find(&c, "t0"), t0);
    assert_string_equal(c.backend, "local");
    caf_campaign_close(&c);
}

static void every_problem_is_listed(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.backend, "cloud", NULL), CAF_OK);
    c.poll_interval = 0;
    caf_calibration_config *a = add(&c, "a", NULL);
    a->granularity = CAF_GRANULARITY_ALL;
    a->max_iterations = -1;
    const char *deps[] = {"ghost", "b", NULL};
    add(&c, "b/x", deps);
    caf_calibration_config *empty;
    assert_int_equal(caf_campaign_add_calibration(&c, "empty", &empty, NULL), CAF_OK);
    add(&c, "a", NULL);
    char *text = problems_of(&c);
    assert_string_equal(text,
                        "missing required key 'output_dir'\n"
                        "backend: unknown backend 'cloud' (local, slurm, htcondor, lsf or pbs)\n"
                        "poll_interval must be more than 0 seconds\n"
                        "calibration 'a': algorithm 'GainAlgorithm': strategy SequentialRunByRun needs collector "
                        "granularity \"run\" and refuses \"all\"\n"
                        "calibration 'a': max_iterations must be at least 0, not -1\n"
                        "calibration 'b/x': a name may hold only letters, digits, '_', '-' and '.', and not start "
                        "with '.'\n"
                        "calibration 'empty': missing required key 'collector'\n"
                        "calibration 'empty': missing required key 'algorithms'\n"
                        "calibration 'empty': missing required key 'input_files' (or 'input_file_lists')\n"
                        "calibration 'a' is defined twice\n"
                        "calibration 'b/x': depends_on: unknown calibration 'ghost'\n"
                        "calibration 'b/x': depends_on: unknown calibration 'b'\n");
    free(text);
    caf_campaign_close(&c);
}

/* Pre-collector conditions built in C are checked by the path engine's own parser, as the collector
 * job will parse them, and so are duplicate module instances and conditions of the wrong shape. */
static void pre_collector_conditions_are_parsed_by_the_engine(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.output_dir, "out", NULL), CAF_OK);
    caf_calibration_config *good = add(&c, "good", NULL), *bad = add(&c, "bad", NULL), *twice = add(&c, "twice", NULL);
    assert_int_equal(caf_calibration_add_module(good, "TriggerSkim", NULL, NO_MARK, NULL), CAF_OK);
    good->pre_collector[0].conditions = json_pack("[{s:b}, {s:s, s:s}]", "if", 0, "if", "!= 0", "after", "continue");
    assert_int_equal(caf_calibration_add_module(bad, "TriggerSkim", NULL, NO_MARK, NULL), CAF_OK);
    bad->pre_collector[0].conditions = json_pack("[{s:s}, {s:i}, {s:b, s:s}, [i]]", "if", "=== 1", "if", 1, "if", 1,
                                                 "path", "nowhere", 1);
    assert_non_null(bad->pre_collector[0].conditions);
    assert_int_equal(caf_calibration_add_module(twice, "Prescale", NULL, NO_MARK, NULL), CAF_OK);
    assert_int_equal(caf_calibration_add_module(twice, "Prescale", NULL, NO_MARK, NULL), CAF_OK);
    char *text = problems_of(&c);
    assert_string_equal(text,
                        "calibration 'bad': pre_collector module 1: condition 1: module TriggerSkim: '=== 1' is not a "
                        "condition (an operator <, <=, >, >=, ==, != and an integer, or true/false)\n"
                        "calibration 'bad': pre_collector module 1: condition 2: module TriggerSkim: '1' is not a "
                        "condition (an operator <, <=, >, >=, ==, != and an integer, or true/false)\n"
                        "calibration 'bad': pre_collector module 1: condition 4: a condition must be a mapping with "
                        "'if', and optionally 'path' and 'after'\n"
                        "calibration 'twice': pre_collector: module instance name 'Prescale' is used twice (give one a "
                        "'name:')\n");
    free(text);
    caf_campaign_close(&c);
}

static void cycles_are_named(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.output_dir, "out", NULL), CAF_OK);
    const char *on_c[] = {"c", NULL}, *on_a[] = {"a", NULL}, *on_b[] = {"b", NULL};
    add(&c, "free", NULL);
    add(&c, "a", on_c);
    add(&c, "b", on_a);
    add(&c, "c", on_b);
    char *text = problems_of(&c);
    assert_string_equal(text, "dependency cycle: a -> c -> b -> a\n");
    free(text);
    size_t order[4];
    caf_error err = {0};
    assert_int_equal(caf_campaign_order(&c, order, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "dependency cycle: a -> c -> b -> a");
    int wave[4];
    assert_int_equal(caf_campaign_waves(&c, wave, &err), CAF_ERR_INVALID);

    /* A calibration depending on itself is reported as such (and is not a separate "cycle"). */
    caf_campaign_close(&c);
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.output_dir, "out", NULL), CAF_OK);
    const char *self[] = {"me", NULL};
    add(&c, "me", self);
    text = problems_of(&c);
    assert_string_equal(text, "calibration 'me': depends_on: a calibration cannot depend on itself\n");
    free(text);
    caf_campaign_close(&c);
}

static void order_ready_sets_and_waves(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    /* 0 t0 <- 1 gain ; 2 align (free) ; 3 final <- gain, align ; 4 late <- final */
    const char *on_gain[] = {"gain", NULL}, *on_two[] = {"gain", "align", NULL}, *on_final[] = {"final", NULL};
    add(&c, "t0", on_gain);
    add(&c, "gain", NULL);
    add(&c, "align", NULL);
    add(&c, "final", on_two);
    add(&c, "late", on_final);
    size_t order[5];
    assert_int_equal(caf_campaign_order(&c, order, NULL), CAF_OK);
    size_t expected_order[] = {1, 0, 2, 3, 4};
    assert_memory_equal(order, expected_order, sizeof order);

    bool completed[5] = {false}, started[5] = {false};
    size_t ready[5];
    assert_int_equal(caf_campaign_ready(&c, completed, started, ready), 2);
    assert_int_equal(ready[0], 1);
    assert_int_equal(ready[1], 2);
    started[1] = started[2] = true;
    assert_int_equal(caf_campaign_ready(&c, completed, started, ready), 0);
    completed[1] = true; /* gain done: t0 may start, final still waits for align */
    assert_int_equal(caf_campaign_ready(&c, completed, started, ready), 1);
    assert_int_equal(ready[0], 0);
    completed[2] = true;
    assert_int_equal(caf_campaign_ready(&c, completed, started, ready), 2);
    assert_int_equal(ready[0], 0);
    assert_int_equal(ready[1], 3);

    int wave[5];
    assert_int_equal(caf_campaign_waves(&c, wave, NULL), CAF_OK);
    int expected_wave[] = {1, 0, 0, 1, 2};
    assert_memory_equal(wave, expected_wave, sizeof wave);
    caf_campaign_close(&c);
}

static void inputs_expand_globs_and_lists(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("inputs");
    test_write_file(dir, "r1.h5", "");
    test_write_file(dir, "r2.h5", "");
    test_write_file(dir, "notes.txt", "");
    test_write_file(dir, "list.txt", "# files\nr2.h5\n\n  notes.txt  \n");
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    caf_calibration_config *cal = add(&c, "gain", NULL);
    assert_int_equal(caf_string_list_add(&cal->input_files, "*.h5", NO_MARK, NULL), CAF_OK);
    assert_int_equal(caf_string_list_add(&cal->input_file_lists, "list.txt", NO_MARK, NULL), CAF_OK);
    char **files;
    size_t n;
    caf_config_problems p = {0};
    /* The pattern data/NAME.h5 that add() gave matches nothing: one problem, the rest is still expanded. */
    assert_int_equal(caf_calibration_expand_inputs(cal, dir, &files, &n, &p), 1);
    assert_string_equal(p.items[0].message, "calibration 'gain': input_files: 'data/*.h5' matches no file");
    assert_int_equal(n, 3);
    char expected[3][4200];
    snprintf(expected[0], sizeof expected[0], "%s/notes.txt", dir);
    snprintf(expected[1], sizeof expected[1], "%s/r1.h5", dir);
    snprintf(expected[2], sizeof expected[2], "%s/r2.h5", dir);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(files[i], expected[i]);
        free(files[i]);
    }
    free(files);
    caf_config_problems_clear(&p);

    test_write_file(dir, "bad-list.txt", "missing.h5\n");
    assert_int_equal(caf_string_list_add(&cal->input_file_lists, "bad-list.txt", NO_MARK, NULL), CAF_OK);
    assert_int_equal(caf_string_list_add(&cal->database_chain, "nodb", NO_MARK, NULL), CAF_OK);
    assert_int_equal(caf_campaign_check_files(&c, dir, &p), 3);
    char message[8400];
    snprintf(message, sizeof message, "calibration 'gain': input_file_lists: %s/bad-list.txt:1 names 'missing.h5', "
             "which does not exist", dir);
    assert_string_equal(p.items[1].message, message);
    assert_string_equal(p.items[2].message, "calibration 'gain': database_chain: 'nodb' is not a local database (no "
                                            "database.txt)");
    caf_config_problems_clear(&p);
    caf_campaign_close(&c);
    test_remove_tree(dir);
    free(dir);
}

static void files_per_run_subset_is_reproducible(void **unused)
{
    (void)unused;
    caf_exprun runs[] = {ER(1, 1), ER(1, 1), ER(1, 1), ER(1, 1), ER(1, 2), ER(1, 2), ER(1, 3)};
    bool keep[7], again[7], other[7];
    assert_int_equal(caf_select_files_per_run(runs, 7, 2, 42, keep, NULL), CAF_OK);
    assert_int_equal(caf_select_files_per_run(runs, 7, 2, 42, again, NULL), CAF_OK);
    assert_memory_equal(keep, again, sizeof keep);
    int per_run[4] = {0};
    for (int i = 0; i < 7; i++)
        per_run[runs[i].run] += keep[i];
    assert_int_equal(per_run[1], 2);
    assert_int_equal(per_run[2], 2);
    assert_int_equal(per_run[3], 1);
    /* Some seed picks another pair of run 1's four files (the choice depends on the seed). */
    bool differs = false;
    for (uint64_t seed = 0; seed < 50 && !differs; seed++) {
        assert_int_equal(caf_select_files_per_run(runs, 7, 2, seed, other, NULL), CAF_OK);
        differs = memcmp(keep, other, 4 * sizeof *keep) != 0;
    }
    assert_true(differs);
    assert_int_equal(caf_select_files_per_run(runs, 7, 0, 42, keep, NULL), CAF_OK);
    for (int i = 0; i < 7; i++)
        assert_true(keep[i]);
    assert_int_equal(caf_select_files_per_run(runs, 7, -1, 42, keep, NULL), CAF_ERR_INVALID);
}

/* The picks of one seed never change between caf versions (a campaign rerun must read the same files):
 * these were recorded from the first implementation, with runs interleaved as a file list has them. */
static void files_per_run_picks_are_pinned(void **unused)
{
    (void)unused;
    caf_exprun runs[] = {ER(1, 3), ER(1, 1), ER(1, 4), ER(1, 4), ER(2, 1), ER(2, 1), ER(1, 3), ER(1, 3),
                         ER(2, 3), ER(2, 5), ER(2, 4), ER(2, 4), ER(1, 2), ER(1, 4), ER(2, 4), ER(1, 1),
                         ER(2, 1), ER(1, 1), ER(1, 5), ER(1, 4), ER(1, 3), ER(2, 1), ER(2, 4), ER(1, 2)};
    const bool expected[] = {1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1};
    bool keep[24];
    assert_int_equal(caf_select_files_per_run(runs, 24, 2, 2026, keep, NULL), CAF_OK);
    assert_memory_equal(keep, expected, sizeof keep);
}

static void plugins_are_found_on_the_search_path(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("plugins");
    test_write_file(dir, "GainCollector.so", "");
    char path[4200];
    snprintf(path, sizeof path, "/nonexistent:%s", dir);
    char *found;
    assert_int_equal(caf_plugin_search("GainCollector", path, &found, NULL), CAF_OK);
    char expected[4300];
    snprintf(expected, sizeof expected, "%s/GainCollector.so", dir);
    assert_string_equal(found, expected);
    free(found);
    assert_int_equal(caf_plugin_search("GainAlgorithm", path, &found, NULL), CAF_OK);
    assert_null(found);

    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    add(&c, "gain", NULL);
    caf_config_problems p = {0};
    assert_int_equal(caf_campaign_check_plugins(&c, path, &p), 1);
    char message[8400];
    snprintf(message, sizeof message, "calibration 'gain': algorithm plugin 'GainAlgorithm' not found (no "
             "GainAlgorithm.so in %s)", path);
    assert_string_equal(p.items[0].message, message);
    caf_config_problems_clear(&p);
    caf_campaign_close(&c);
    test_remove_tree(dir);
    free(dir);
}

static void algorithm_limits_default_to_the_campaign(void **unused)
{
    (void)unused;
    caf_campaign c;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_config_set_string(&c.output_dir, "out", NULL), CAF_OK);
    caf_calibration_config *gain = add(&c, "gain", NULL);
    caf_algorithm_config *a = &gain->algorithms[0];
    assert_true(caf_algorithm_time_limit(&c, a) == 86400.0);
    assert_int_equal(caf_algorithm_memory_limit_mb(&c, a), 0);
    c.algorithm_memory_limit_mb = 512;
    assert_int_equal(caf_algorithm_memory_limit_mb(&c, a), 512);
    a->time_limit = 2.5;
    a->memory_limit_mb = 64;
    assert_true(caf_algorithm_time_limit(&c, a) == 2.5);
    assert_int_equal(caf_algorithm_memory_limit_mb(&c, a), 64);
    a->time_limit = -1;
    c.max_parallel_algorithms = -2;
    char *text = problems_of(&c);
    assert_non_null(strstr(text, "max_parallel_algorithms must be at least 1"));
    assert_non_null(strstr(text, "algorithm 'GainAlgorithm': time_limit must be more than 0 seconds"));
    free(text);
    caf_campaign_close(&c);

    assert_int_equal(caf_parse_memory_mb("512"), 512);
    assert_int_equal(caf_parse_memory_mb("2G"), 2048);
    assert_int_equal(caf_parse_memory_mb("1.5GiB"), 1536);
    assert_int_equal(caf_parse_memory_mb("300mb"), 300);
    assert_int_equal(caf_parse_memory_mb("0"), -1);
    assert_int_equal(caf_parse_memory_mb("-4G"), -1);
    assert_int_equal(caf_parse_memory_mb("4T"), -1);
    assert_int_equal(caf_parse_memory_mb(""), -1);
}

/* A pattern with wildcards in its last component only is read with one readdir (entry types instead of a
 * stat per file): it must give what glob(3) and a stat of each match give, for hidden files, folders,
 * links (good and dangling), a named pipe, brackets and question marks. */
static void folder_patterns_match_as_glob_does(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("globs");
    const char *names[] = {"a.h5", "b.h5", ".hidden.h5", "c1.h5", "notes.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        test_write_file(dir, names[i], "");
    char path[4200];
    snprintf(path, sizeof path, "%s/folder.h5", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/pipe.h5", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/link.h5", dir);
    assert_int_equal(symlink("a.h5", path), 0);
    snprintf(path, sizeof path, "%s/dangling.h5", dir);
    assert_int_equal(symlink("missing.h5", path), 0);
    const char *patterns[] = {"*.h5", "?.h5", "[ab].h5", ".*.h5", "*", "c?.h5", "*.none"};
    for (size_t k = 0; k < sizeof patterns / sizeof *patterns; k++) {
        /* the oracle: glob(3), then a stat of each match */
        char full[4300];
        snprintf(full, sizeof full, "%s/%s", dir, patterns[k]);
        glob_t g;
        int grc = glob(full, 0, NULL, &g);
        size_t expected_files = 0, expected_problems = grc == GLOB_NOMATCH;
        const char *expected[16];
        for (size_t i = 0; grc == 0 && i < g.gl_pathc; i++) {
            struct stat st;
            if (stat(g.gl_pathv[i], &st) != 0 || S_ISDIR(st.st_mode))
                continue;
            if (S_ISREG(st.st_mode))
                expected[expected_files++] = g.gl_pathv[i];
            else
                expected_problems++;
        }
        if (grc == 0 && expected_files == 0)
            expected_problems++;
        caf_campaign c;
        assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
        caf_calibration_config *cal;
        assert_int_equal(caf_campaign_add_calibration(&c, "gain", &cal, NULL), CAF_OK);
        assert_int_equal(caf_string_list_add(&cal->input_files, full, NO_MARK, NULL), CAF_OK);
        char **files;
        size_t n;
        caf_config_problems p = {0};
        assert_int_equal(caf_calibration_expand_inputs(cal, NULL, &files, &n, &p), expected_problems);
        assert_int_equal(n, expected_files);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(files[i], expected[i]);
            free(files[i]);
        }
        free(files);
        caf_config_problems_clear(&p);
        caf_campaign_close(&c);
        if (grc == 0)
            globfree(&g);
    }
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_campaign_built_in_c_is_valid),
        cmocka_unit_test(every_problem_is_listed),
        cmocka_unit_test(pre_collector_conditions_are_parsed_by_the_engine),
        cmocka_unit_test(cycles_are_named),
        cmocka_unit_test(order_ready_sets_and_waves),
        cmocka_unit_test(inputs_expand_globs_and_lists),
        cmocka_unit_test(folder_patterns_match_as_glob_does),
        cmocka_unit_test(files_per_run_subset_is_reproducible),
        cmocka_unit_test(files_per_run_picks_are_pinned),
        cmocka_unit_test(plugins_are_found_on_the_search_path),
        cmocka_unit_test(algorithm_limits_default_to_the_campaign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
