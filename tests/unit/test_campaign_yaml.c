/* The campaign's YAML form: every key read into the model, and every problem reported at its exact
 * FILE:LINE:COLUMN (lines and columns counted by hand in the texts below, 1-based). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/campaign.h"
#include "caf/json.h"
#include "test_support.h"

/* Loads text as DIR/name; returns the status and the problems joined by "\n" with the file name only. */
static caf_status load(const char *text, caf_campaign *c, char **problems)
{
    char *dir = test_make_temp_dir("yaml");
    test_write_file(dir, "campaign.yaml", text);
    char path[4200];
    snprintf(path, sizeof path, "%s/campaign.yaml", dir);
    caf_config_problems p = {0};
    caf_error err = {0};
    caf_status rc = caf_campaign_load_yaml(path, c, &p, &err);
    caf_config_problems_sort(&p);
    *problems = calloc(1, 16384);
    for (size_t i = 0; i < p.count; i++) {
        char line[1200];
        strcat(*problems, caf_config_problem_format(&p, i, "campaign.yaml", line, sizeof line));
        strcat(*problems, "\n");
    }
    if (p.count) {
        assert_int_equal(rc, CAF_ERR_INVALID);
        assert_non_null(strstr(err.message, "/campaign.yaml:"));
    }
    caf_config_problems_clear(&p);
    test_remove_tree(dir);
    free(dir);
    return rc;
}

static const char full_campaign[] =
    "output_dir: results\n"
    "backend: slurm\n"
    "backend_settings: {submit_args: [--partition=short], max_running: 20}\n"
    "heartbeat: 2.5\n"
    "poll_interval: 0.5\n"
    "calibrations:\n"
    "  - name: gain\n"
    "    collector:\n"
    "      plugin: GainCollector\n"
    "      parameters: {bins: 10, range: [0.5, 2], label: \"10\", on: true, nothing: ~}\n"
    "    pre_collector:\n"
    "      - module: TriggerSkim\n"
    "        parameters: {triggerLines: [bhabha], expectedResult: 1}\n"
    "        conditions: [{if: false}]\n"
    "      - Progress\n"
    "    algorithms:\n"
    "      - plugin: GainAlgorithm\n"
    "        strategy_parameters: {step_size: 3, iov_coverage: \"1,0,2,-1\", has_experiment_settings: yes}\n"
    "        strategy: SequentialRunByRun\n"
    "      - plugin: BoundaryAlgorithm\n"
    "        strategy: SequentialBoundaries\n"
    "        strategy_parameters:\n"
    "          payload_boundaries: [[1, 5], \"1:9\", 2.0]\n"
    "      - T0Algorithm\n"
    "    input_files: [\"data/*.h5\", extra.h5]\n"
    "    input_file_lists: lists/gain.txt\n"
    "    granularity: run\n"
    "    max_files_per_collector_job: 4\n"
    "    max_collector_jobs: 10\n"
    "    max_files_per_run: 2\n"
    "    files_per_run_seed: 12345\n"
    "    backend_args: {queue: long}\n"
    "    database_chain: [db/base, db/patch]\n"
    "    ignored_runs: [[1, 3], \"1.4\"]\n"
    "    max_iterations: 3\n"
    "    output_patterns: [\"*.h5\"]\n"
    "  - name: t0\n"
    "    collector: T0Collector\n"
    "    algorithms: [{plugin: T0Algorithm, strategy: SingleIOV, strategy_parameters: {apply_iov: [0, 0, -1, -1]}}]\n"
    "    input_files: data/t0.h5\n"
    "    granularity: all\n"
    "    depends_on: gain\n";

static void every_key_is_read(void **unused)
{
    (void)unused;
    caf_campaign c;
    char *problems;
    caf_status rc = load(full_campaign, &c, &problems);
    assert_string_equal(problems, "");
    assert_int_equal(rc, CAF_OK);
    free(problems);
    assert_string_equal(c.output_dir, "results");
    assert_string_equal(c.backend, "slurm");
    assert_int_equal(json_integer_value(json_object_get(c.backend_settings, "max_running")), 20);
    assert_true(c.heartbeat == 2.5 && c.poll_interval == 0.5);
    assert_int_equal(c.calibration_count, 2);

    caf_calibration_config *g = c.calibrations[0];
    char *params = caf_json_dump_compact(g->collector_parameters);
    assert_string_equal(params, "{\"bins\":10,\"label\":\"10\",\"nothing\":null,\"on\":true,\"range\":[0.5,2]}");
    free(params);
    assert_int_equal(g->pre_collector_count, 2);
    assert_string_equal(g->pre_collector[0].module, "TriggerSkim");
    params = caf_json_dump_compact(g->pre_collector[0].parameters);
    assert_string_equal(params, "{\"expectedResult\":1,\"triggerLines\":[\"bhabha\"]}");
    free(params);
    params = caf_json_dump_compact(g->pre_collector[0].conditions);
    assert_string_equal(params, "[{\"if\":false}]");
    free(params);
    assert_string_equal(g->pre_collector[1].module, "Progress");
    assert_null(g->pre_collector[1].conditions);
    assert_int_equal(g->algorithm_count, 3);
    const caf_strategy_params *s = &g->algorithms[0].strategy;
    assert_int_equal(s->kind, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    assert_int_equal(s->step_size, 3);
    assert_true(s->has_iov_coverage && s->has_experiment_settings);
    assert_true(caf_iov_equal(s->iov_coverage, (caf_iov){1, 0, 2, -1}));
    s = &g->algorithms[1].strategy;
    assert_int_equal(s->kind, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    assert_int_equal(s->payload_boundary_count, 3);
    assert_int_equal(s->payload_boundaries[1].run, 9);
    assert_int_equal(s->payload_boundaries[2].exp, 2);
    assert_int_equal(g->algorithms[2].strategy.kind, CAF_STRATEGY_SINGLE_IOV);
    assert_int_equal(g->input_files.count, 2);
    assert_string_equal(g->input_files.items[1], "extra.h5");
    assert_int_equal(g->input_files.marks[1].line, 25);
    assert_int_equal(g->input_files.marks[1].column, 32);
    assert_string_equal(g->input_file_lists.items[0], "lists/gain.txt");
    assert_int_equal(g->max_files_per_collector_job, 4);
    assert_int_equal(g->max_collector_jobs, 10);
    assert_int_equal(g->max_files_per_run, 2);
    assert_true(g->files_per_run_seed == 12345);
    assert_string_equal(json_string_value(json_object_get(g->backend_args, "queue")), "long");
    assert_int_equal(g->database_chain.count, 2);
    assert_int_equal(g->ignored_run_count, 2);
    assert_int_equal(g->ignored_runs[1].run, 4);
    assert_int_equal(g->max_iterations, 3);
    assert_string_equal(g->output_patterns.items[0], "*.h5");

    caf_calibration_config *t = c.calibrations[1];
    assert_string_equal(t->collector, "T0Collector");
    assert_int_equal(t->granularity, CAF_GRANULARITY_ALL);
    assert_true(caf_iov_equal(t->algorithms[0].strategy.apply_iov, CAF_IOV_ALWAYS));
    assert_string_equal(t->depends_on.items[0], "gain");
    assert_int_equal(t->max_iterations, 5);
    caf_campaign_close(&c);
}

static void problems_carry_file_line_column(void **unused)
{
    (void)unused;
    caf_campaign c;
    char *problems;
    caf_status rc = load("output_dir: out\n"
                         "heartbeat: soon\n"
                         "colour: blue\n"
                         "calibrations:\n"
                         "  - name: gain\n"
                         "    collector: {plugin: GainCollector, parameter: {}}\n"
                         "    algorithms:\n"
                         "      - plugin: GainAlgorithm\n"
                         "        strategy: SimpleRunByRun\n"
                         "        strategy_parameters: {step_size: 2, speed: 3}\n"
                         "    input_files: [a.h5, [b.h5]]\n"
                         "    granularity: all\n"
                         "    max_iterations: 2.5\n"
                         "    depends_on: [t0, nobody]\n"
                         "    ignored_runs: [[1, 2, 3]]\n"
                         "  - name: t0\n"
                         "    algorithms: {plugin: X}\n"
                         "    input_files: a.h5\n"
                         "    strategy: SingleIOV\n"
                         "  - name: gain\n"
                         "    collector: C\n"
                         "    algorithms: [{strategy: Fancy}]\n"
                         "    input_files: a.h5\n",
                         &c, &problems);
    assert_int_equal(rc, CAF_ERR_INVALID);
    assert_string_equal(problems,
                        "campaign.yaml:2:12: heartbeat: expected a number, found 'soon'\n"
                        "campaign.yaml:3:1: unknown key 'colour'\n"
                        "campaign.yaml:6:40: calibration 'gain': collector: unknown key 'parameter'\n"
                        "campaign.yaml:9:19: calibration 'gain': algorithm 'GainAlgorithm': strategy SimpleRunByRun "
                        "needs collector granularity \"run\" and refuses \"all\"\n"
                        "campaign.yaml:10:31: calibration 'gain': algorithm 1: strategy parameter 'step_size' does "
                        "not apply to SimpleRunByRun\n"
                        "campaign.yaml:10:45: calibration 'gain': algorithm 1: unknown strategy parameter 'speed'\n"
                        "campaign.yaml:11:25: calibration 'gain': input_files: expected a string, found a list\n"
                        "campaign.yaml:13:21: calibration 'gain': max_iterations: expected an integer, found '2.5'\n"
                        "campaign.yaml:14:22: calibration 'gain': depends_on: unknown calibration 'nobody'\n"
                        "campaign.yaml:15:20: calibration 'gain': ignored_runs: expected [exp, run], found a list\n"
                        "campaign.yaml:16:5: calibration 't0': missing required key 'collector'\n"
                        "campaign.yaml:17:17: calibration 't0': algorithms: expected a list, found a mapping\n"
                        "campaign.yaml:19:5: calibration 't0': unknown key 'strategy'\n"
                        "campaign.yaml:20:11: calibration 'gain' is defined twice (first at line 5)\n"
                        "campaign.yaml:22:18: calibration 'gain': algorithm 1: missing required key 'plugin'\n");
    free(problems);
    caf_campaign_close(&c);
}

static void cycles_and_syntax_errors(void **unused)
{
    (void)unused;
    caf_campaign c;
    char *problems;
    assert_int_equal(load("output_dir: out\n"
                          "calibrations:\n"
                          "  - {name: a, collector: C, algorithms: [A], input_files: x, depends_on: b}\n"
                          "  - {name: b, collector: C, algorithms: [A], input_files: x, depends_on: [a]}\n",
                          &c, &problems),
                     CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:3:74: dependency cycle: a -> b -> a\n");
    free(problems);
    caf_campaign_close(&c);

    assert_int_equal(load("output_dir: out\ncalibrations:\n  - name: [a\n", &c, &problems), CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:4:1: YAML syntax error: did not find expected ',' or ']' while "
                                  "parsing a flow sequence\n");
    free(problems);
    caf_campaign_close(&c);

    /* One problem per bad value; a strategy that is not a built-in is a strategy plugin, whose parameters
     * are checked when the plugins are (caf_campaign_check_plugins). */
    assert_int_equal(load("output_dir: out\n"
                          "calibrations:\n"
                          "  - name: a\n"
                          "    collector: C\n"
                          "    algorithms:\n"
                          "      - {plugin: A, strategy: Sequential, strategy_parameters: {step_size: 2}}\n"
                          "      - {plugin: B, strategy: SingleIOV, strategy_parameters: {apply_iov: [1, x, 2, 3]}}\n"
                          "    input_files: x\n"
                          "    ignored_runs: [[1, \"2\"], \"4.5\"]\n",
                          &c, &problems),
                     CAF_ERR_INVALID);
    assert_string_equal(problems,
                        "campaign.yaml:7:75: calibration 'a': algorithm 2: strategy_parameters: apply_iov: expected "
                        "[e1, r1, e2, r2], found a list\n"
                        "campaign.yaml:9:20: calibration 'a': ignored_runs: expected [exp, run], found a list\n");
    free(problems);
    assert_int_equal(c.calibrations[0]->ignored_run_count, 1);
    caf_campaign_close(&c);

    assert_int_equal(load("", &c, &problems), CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:1:1: the file is empty\n");
    free(problems);
    caf_campaign_close(&c);

    assert_int_equal(load("- just\n- a list\n", &c, &problems), CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:1:1: the campaign: expected a mapping, found a list\n");
    free(problems);
    caf_campaign_close(&c);

    assert_int_equal(load("calibrations: []\noutput_dir: out\noutput_dir: again\n", &c, &problems), CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:1:15: calibrations: the list is empty\n"
                                  "campaign.yaml:3:1: the campaign: duplicate key 'output_dir'\n");
    free(problems);
    caf_campaign_close(&c);
}

static void missing_file_is_an_io_error(void **unused)
{
    (void)unused;
    caf_campaign c;
    caf_config_problems p = {0};
    caf_error err = {0};
    assert_int_equal(caf_campaign_load_yaml("/nonexistent/campaign.yaml", &c, &p, &err), CAF_ERR_NOT_FOUND);
    assert_string_equal(err.message, "/nonexistent/campaign.yaml: No such file or directory");
    assert_int_equal(p.count, 0);
    caf_campaign_close(&c);
}

/* The problems caf_campaign_check_plugins finds with the build's plugins, formatted like load's. */
static char *plugin_problems(const caf_campaign *c)
{
    char search[4200];
    snprintf(search, sizeof search, "%s/plugins:%s/tests/plugins", getenv("CAF_BUILD_DIR"), getenv("CAF_BUILD_DIR"));
    caf_config_problems p = {0};
    caf_campaign_check_plugins(c, search, &p);
    caf_config_problems_sort(&p);
    char *text = calloc(1, 16384);
    for (size_t i = 0; i < p.count; i++) {
        char line[1200];
        strcat(text, caf_config_problem_format(&p, i, "campaign.yaml", line, sizeof line));
        strcat(text, "\n");
    }
    caf_config_problems_clear(&p);
    return text;
}

static void strategy_plugins_and_their_parameters(void **unused)
{
    (void)unused;
    caf_campaign c;
    char *problems;
    /* strategy_parameters may come before strategy; the values are kept for the plugin, with their marks. */
    assert_int_equal(load("output_dir: out\n"
                          "calibrations:\n"
                          "  - name: a\n"
                          "    collector: C\n"
                          "    algorithms:\n"
                          "      - {plugin: A, strategy_parameters: {block_size: three, colour: red}, strategy: FixedBlocks}\n"
                          "      - {plugin: B, strategy: 'FixedBlocks:FixedBlocks', strategy_parameters: {block_size: 2}}\n"
                          "      - {plugin: C, strategy: NoSuchStrategy}\n"
                          "      - {plugin: D, strategy: ../evil}\n"
                          "    input_files: x\n",
                          &c, &problems),
                     CAF_ERR_INVALID);
    assert_string_equal(problems, "campaign.yaml:9:31: calibration 'a': algorithm 4: strategy: unknown strategy "
                                  "'../evil' (SingleIOV, SimpleRunByRun, SequentialRunByRun, SequentialBoundaries "
                                  "or a strategy plugin PLUGIN[:STRATEGY])\n");
    free(problems);
    const caf_calibration_config *cal = c.calibrations[0];
    assert_int_equal(cal->algorithms[0].strategy.kind, CAF_STRATEGY_PLUGIN);
    assert_string_equal(cal->algorithms[0].strategy.plugin, "FixedBlocks");
    assert_string_equal(json_string_value(json_object_get(cal->algorithms[0].strategy.plugin_parameters, "colour")),
                        "red");
    assert_string_equal(cal->algorithms[1].strategy.plugin, "FixedBlocks:FixedBlocks");
    assert_int_equal(json_integer_value(json_object_get(cal->algorithms[1].strategy.plugin_parameters, "block_size")),
                     2);

    /* The plugin check loads FixedBlocks (in a child) and points at each bad value. */
    problems = plugin_problems(&c);
    assert_non_null(strstr(problems, "campaign.yaml:6:55: calibration 'a': algorithm 'A': strategy FixedBlocks: "
                                     "parameter block_size expects an int, got 'three'\n"));
    assert_non_null(strstr(problems, "campaign.yaml:6:70: calibration 'a': algorithm 'A': strategy FixedBlocks has "
                                     "no parameter 'colour' (parameters: block_size, has_experiment_settings)\n"));
    assert_non_null(strstr(problems, "campaign.yaml:8:31: calibration 'a': algorithm 'C': strategy 'NoSuchStrategy' "
                                     "is neither a built-in"));
    assert_null(strstr(problems, "algorithm 'B'"));
    free(problems);
    caf_campaign_close(&c);
}

/* A text (here JSON, which the YAML loader reads) goes through the same walk and validator as a file:
 * the same model, and problems under the name given, at the text's own lines and columns. */
static void text_is_loaded_as_a_file(void **state)
{
    (void)state;
    static const char json[] = "{\n"
                               "  \"output_dir\": \"out\",\n"
                               "  \"calibrations\": [\n"
                               "    {\"name\": \"gain\", \"collector\": \"C\", \"max_iterations\": 2,\n"
                               "     \"algorithms\": [{\"plugin\": \"A\", \"strategy\": \"SequentialRunByRun\"}],\n"
                               "     \"input_files\": [\"toy/*.h5\"]}\n"
                               "  ]\n"
                               "}\n";
    caf_campaign c;
    caf_config_problems p = {0};
    caf_error err = {0};
    assert_int_equal(caf_campaign_load_text(json, strlen(json), "built.json", &c, &p, &err), CAF_OK);
    assert_int_equal(p.count, 0);
    assert_string_equal(c.source, "built.json");
    assert_int_equal(c.calibration_count, 1);
    assert_int_equal(c.calibrations[0]->max_iterations, 2);
    assert_int_equal(c.calibrations[0]->algorithms[0].strategy.kind, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_campaign_close(&c);

    static const char bad[] = "{\"output_dir\": \"out\", \"calibrations\": [\n"
                              "  {\"name\": \"gain\", \"collector\": \"C\", \"max_iterations\": -1, \"colour\": 1,\n"
                              "   \"algorithms\": [{\"plugin\": \"A\"}], \"input_files\": [\"x\"]}]}\n";
    assert_int_equal(caf_campaign_load_text(bad, strlen(bad), "built.json", &c, &p, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "built.json:2:60: calibration 'gain': unknown key 'colour' (and 1 more problem)");
    caf_config_problems_sort(&p);
    char line[1200];
    assert_string_equal(caf_config_problem_format(&p, 0, "built.json", line, sizeof line),
                        "built.json:2:56: calibration 'gain': max_iterations must be at least 0, not -1");
    caf_config_problems_clear(&p);
    caf_campaign_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key_is_read),
        cmocka_unit_test(problems_carry_file_line_column),
        cmocka_unit_test(cycles_and_syntax_errors),
        cmocka_unit_test(missing_file_is_an_io_error),
        cmocka_unit_test(strategy_plugins_and_their_parameters),
        cmocka_unit_test(text_is_loaded_as_a_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
