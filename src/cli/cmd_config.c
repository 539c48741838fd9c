/* caf config check: validate a campaign file and summarise it, listing every problem found. */
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/campaign.h"
#include "caf/file.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char config_help[] =
    "usage: caf config check FILE [--json] [--plugin-path PATH]\n"
    "\n"
    "Checks a campaign file (docs/configuration.md) without running anything: YAML syntax, unknown keys,\n"
    "wrong types, missing keys, strategies and their parameters, strategies that refuse collector\n"
    "granularity \"all\", depends_on names and cycles, input files that match nothing, database chains\n"
    "that are not local databases, and collector and algorithm plugins not found. Algorithm plugins are\n"
    "loaded, each in a child process (a crash or hang there is a problem, not the end of the check), to\n"
    "find algorithms the plugin does not hold, unsound descriptors and missing hooks (setup_experiment\n"
    "when has_experiment_settings is set). Every problem is printed as FILE:LINE:COLUMN: message. A\n"
    "valid campaign is summarised, with each algorithm's hooks and the order in which its calibrations\n"
    "can run (calibrations of one wave can run at the same time).\n"
    "\n"
    "Relative paths (output_dir, input files, file lists, databases) are taken relative to the campaign\n"
    "file's folder, wherever caf is started from. Null or empty names and paths, empty input lists, and\n"
    "patterns or lists that name no regular file are problems too. YAML aliases may expand to at most\n"
    "100000 nodes, and values may nest at most 100 levels deep.\n"
    "\n"
    "Options:\n"
    "  --json              print machine-readable JSON (also for problems)\n"
    "  --plugin-path PATH  folders to look for NAME.so plugins in (default $CAF_PLUGIN_PATH, else the\n"
    "                      installed plugin folder)\n"
    "\n"
    "Exit codes: 0 valid, 1 problems found or the file cannot be read, 2 usage error.\n";

enum { OPT_JSON = 1000, OPT_PLUGIN_PATH };

static const struct option config_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
    {0},
};

static void print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text)
        puts(text);
    free(text);
    json_decref(value);
}

static int report_problems(const char *path, const caf_config_problems *problems, bool json)
{
    if (json) {
        json_t *list = json_array();
        for (size_t i = 0; i < problems->count; i++) {
            char text[1200];
            const caf_config_problem *p = &problems->items[i];
            json_array_append_new(list, json_pack("{s:i, s:i, s:s, s:s}", "line", p->mark.line, "column",
                                                  p->mark.column, "message", p->message ? p->message : "out of memory",
                                                  "text", caf_config_problem_format(problems, i, path, text,
                                                                                    sizeof text)));
        }
        print_json(json_pack("{s:s, s:b, s:o}", "file", path, "valid", 0, "problems", list));
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < problems->count; i++) {
        char text[1200];
        fprintf(stderr, "%s\n", caf_config_problem_format(problems, i, path, text, sizeof text));
    }
    return cli_failf("%s: %zu problem%s found", path, problems->count, problems->count == 1 ? "" : "s");
}

static json_t *string_list_json(const caf_string_list *list)
{
    json_t *a = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(a, json_string(list->items[i]));
    return a;
}

/* How many input files collection k of cal has (0 when they cannot be expanded). */
static size_t collection_inputs(const caf_calibration_config *cal, size_t k, const char *base)
{
    caf_config_problems ignored = {0};
    char **files;
    size_t n = 0;
    caf_collection_expand_inputs(cal, k, base, &files, &n, &ignored);
    for (size_t f = 0; f < n; f++)
        free(files[f]);
    free(files);
    caf_config_problems_clear(&ignored);
    return n;
}

static json_t *collections_json(const caf_calibration_config *cal, const char *base)
{
    json_t *list = json_array();
    for (size_t k = 0; k < cal->collection_count; k++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "name", cal->collections[k]->name, "collector",
                                              cal->collections[k]->collector, "input_files",
                                              (json_int_t)collection_inputs(cal, k, base)));
    return list;
}

/* The hooks of algorithm a of a calibration, as caf_campaign_check_algorithms found them (null: unknown). */
static json_t *hooks_of(const json_t *cal_hooks, size_t a)
{
    json_t *h = json_array_get(cal_hooks, a);
    return h ? json_incref(h) : json_null();
}

static json_t *calibration_json(const caf_calibration_config *cal, size_t input_count, int wave, const char *base,
                                const json_t *cal_hooks)
{
    json_t *algorithms = json_array(), *modules = json_array();
    for (size_t i = 0; i < cal->algorithm_count; i++)
        json_array_append_new(algorithms, json_pack("{s:s, s:s, s:o}", "plugin", cal->algorithms[i].plugin, "strategy",
                                                    caf_strategy_params_name(&cal->algorithms[i].strategy), "hooks",
                                                    hooks_of(cal_hooks, i)));
    for (size_t i = 0; i < cal->pre_collector_count; i++)
        json_array_append_new(modules, json_string(cal->pre_collector[i].module));
    json_t *out = json_pack("{s:s, s:s?, s:o, s:o, s:s, s:I, s:o, s:i, s:i}", "name", cal->name, "collector",
                            cal->collector, "pre_collector", modules, "algorithms", algorithms, "granularity",
                            cal->granularity == CAF_GRANULARITY_ALL ? "all" : "run", "input_files",
                            (json_int_t)input_count, "depends_on", string_list_json(&cal->depends_on),
                            "max_iterations", cal->max_iterations, "wave", wave);
    if (out && cal->collection_count)
        json_object_set_new(out, "collections", collections_json(cal, base));
    return out;
}

static void print_summary_text(const char *path, const caf_campaign *c, const char *folder, const size_t *inputs,
                               const int *wave, const char *base, const json_t *hooks)
{
    printf("%s: valid campaign with %zu calibration%s\n", path, c->calibration_count,
           c->calibration_count == 1 ? "" : "s");
    if (strcmp(folder, c->output_dir) != 0)
        printf("output_dir: %s (%s)\n", c->output_dir, folder);
    else
        printf("output_dir: %s\n", c->output_dir);
    printf("backend: %s (heartbeat %g s, poll_interval %g s)\n", c->backend, c->heartbeat, c->poll_interval);
    int waves = 0;
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        if (cal->collection_count)
            printf("calibration %s: %zu collections, granularity %s, %zu input file%s, max_iterations %d\n",
                   cal->name, cal->collection_count, cal->granularity == CAF_GRANULARITY_ALL ? "all" : "run",
                   inputs[i], inputs[i] == 1 ? "" : "s", cal->max_iterations);
        else
            printf("calibration %s: collector %s, granularity %s, %zu input file%s, max_iterations %d\n", cal->name,
                   cal->collector, cal->granularity == CAF_GRANULARITY_ALL ? "all" : "run", inputs[i],
                   inputs[i] == 1 ? "" : "s", cal->max_iterations);
        for (size_t k = 0; k < cal->collection_count; k++) {
            size_t n = collection_inputs(cal, k, base);
            printf("  collection %s: collector %s, %zu input file%s\n", cal->collections[k]->name,
                   cal->collections[k]->collector, n, n == 1 ? "" : "s");
        }
        for (size_t a = 0; a < cal->algorithm_count; a++) {
            printf("  algorithm %s: %s", cal->algorithms[a].plugin,
                   caf_strategy_params_name(&cal->algorithms[a].strategy));
            const json_t *list = json_array_get(json_array_get(hooks, i), a);
            size_t h;
            json_t *hook;
            json_array_foreach(list, h, hook)
                printf("%s%s", h ? ", " : " (hooks: ", json_string_value(hook));
            printf("%s\n", json_array_size(list) ? ")" : "");
        }
        for (size_t d = 0; d < cal->depends_on.count; d++)
            printf("  depends on %s\n", cal->depends_on.items[d]);
        if (wave[i] + 1 > waves)
            waves = wave[i] + 1;
    }
    for (int w = 0; w < waves; w++) {
        printf("wave %d:", w);
        for (size_t i = 0; i < c->calibration_count; i++)
            if (wave[i] == w)
                printf(" %s", c->calibrations[i]->name);
        printf("\n");
    }
}

static int summarise(const char *path, const caf_campaign *c, const char *base, const json_t *hooks, bool json)
{
    size_t n = c->calibration_count;
    size_t *inputs = calloc(n, sizeof *inputs);
    int *wave = calloc(n, sizeof *wave);
    /* the folder caf run will use: a relative output_dir is relative to the campaign file's folder */
    char *folder = c->output_dir[0] == '/' || strcmp(base, ".") == 0 ? strdup(c->output_dir)
                                                                      : caf_path_join(base, c->output_dir);
    caf_error err = {0};
    if (!inputs || !wave || !folder || caf_campaign_waves(c, wave, &err) != CAF_OK) {
        free(inputs);
        free(wave);
        free(folder);
        return err.code ? cli_fail(&err) : cli_failf("out of memory");
    }
    caf_config_problems ignored = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < caf_calibration_collection_count(c->calibrations[i]); k++)
            inputs[i] += collection_inputs(c->calibrations[i], k, base);
    caf_config_problems_clear(&ignored);
    if (json) {
        json_t *cals = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(cals, calibration_json(c->calibrations[i], inputs[i], wave[i], base,
                                                         json_array_get(hooks, i)));
        print_json(json_pack("{s:s, s:b, s:[], s:s, s:s, s:s, s:f, s:f, s:o}", "file", path, "valid", 1,
                             "problems", "output_dir", c->output_dir, "output_folder", folder, "backend", c->backend,
                             "heartbeat", c->heartbeat, "poll_interval", c->poll_interval, "calibrations", cals));
    } else {
        print_summary_text(path, c, folder, inputs, wave, base, hooks);
    }
    free(folder);
    free(inputs);
    free(wave);
    return CLI_EXIT_OK;
}

static int config_check(const char *path, bool json, const char *plugin_path)
{
    caf_campaign campaign;
    caf_config_problems problems = {0};
    caf_error err = {0};
    caf_status rc = caf_campaign_load_yaml(path, &campaign, &problems, &err);
    if (rc != CAF_OK && rc != CAF_ERR_INVALID) {
        caf_campaign_close(&campaign);
        caf_config_problems_clear(&problems);
        return cli_fail(&err);
    }
    char *copy = strdup(path);
    if (!copy) {
        caf_config_problems_clear(&problems);
        caf_campaign_close(&campaign);
        return cli_failf("%s: out of memory", path);
    }
    const char *base = dirname(copy);
    caf_campaign_check_files(&campaign, base, &problems);
    caf_campaign_check_servers(&campaign, true, &problems);
    caf_campaign_check_plugins(&campaign, plugin_path, &problems);
    json_t *hooks = NULL;
    caf_campaign_check_algorithms(&campaign, plugin_path, &hooks, &problems);
    caf_config_problems_sort(&problems);
    int code = problems.count ? report_problems(path, &problems, json) : summarise(path, &campaign, base, hooks, json);
    json_decref(hooks);
    free(copy);
    caf_config_problems_clear(&problems);
    caf_campaign_close(&campaign);
    return code;
}

static int config_run(int argc, char **argv)
{
    struct cli_options opts = {.where = "config", .help = config_help, .shortopts = "", .longopts = config_longopts};
    bool json = false;
    const char *plugin_path = NULL;
    int operand_count = 0;
    cli_options_begin();
    for (;;) {
        int c = cli_next_option_anywhere(&opts, argc, argv, &operand_count);
        if (c == CLI_OPT_HELP)
            return CLI_EXIT_OK;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (c == CLI_OPT_END)
            break;
        if (c == OPT_JSON)
            json = true;
        else if (c == OPT_PLUGIN_PATH)
            plugin_path = optarg;
    }
    if (operand_count == 0)
        return cli_usage_error("config", "missing subcommand (check)");
    if (strcmp(argv[0], "check") != 0)
        return cli_usage_error("config", "unknown subcommand '%s' (check)", argv[0]);
    if (operand_count != 2)
        return cli_usage_error("config check", "expected one campaign FILE");
    return config_check(argv[1], json, plugin_path);
}

const struct cli_command cli_command_config = {
    .name = "config",
    .summary = "check a campaign configuration file",
    .help = config_help,
    .run = config_run,
};
