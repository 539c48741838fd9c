/* caf algo: run one algorithm execution by hand (as an expert debugging a calibration would), or
 * document the algorithms of a plugin. The execution goes through the runner, so a crashing algorithm is
 * reported, not fatal. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm_runner.h"
#include "caf/file.h"
#include "caf/json.h"
#include "caf/log.h"
#include "caf/plugin.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char algo_help[] =
    "usage: caf algo run PLUGIN[:ALGORITHM] --input FILE... [--runs all|E:R,E:R...] [--iteration N]\n"
    "                    [--iov E1,R1,E2,R2] [--db OUTDB] [--chain DB]... [--param NAME=VALUE]...\n"
    "                    [--state FILE] [--state-out FILE] [--collector NAME] [--timeout SECONDS]\n"
    "                    [--memory-limit MIB] [--log FILE] [--boundaries] [--experiment-settings EXP]\n"
    "                    [--json]\n"
    "       caf algo list [PLUGIN[:ALGORITHM]] [--json]\n"
    "\n"
    "run   executes the algorithm once, in a child process, over collector output files, and prints the\n"
    "      result (OK, ITERATE, NOT_ENOUGH_DATA, FAILURE), the payloads with their IoVs and the output\n"
    "      JSON state. With --db the payloads are committed there, all together, when the result is OK or\n"
    "      ITERATE. A crash, a timeout or too much memory is a FAILURE; the algorithm's log is printed.\n"
    "      PLUGIN:ALGORITHM names one algorithm of a plugin; PLUGIN alone will do when it holds one.\n"
    "list  without PLUGIN, the algorithm plugins on the plugin path; with PLUGIN, its algorithms with their\n"
    "      collector and documented parameters.\n"
    "\n"
    "Options of run:\n"
    "  --input FILE...      collector outputs (every operand after the algorithm is an input, too)\n"
    "  --runs RUNS          'all' (default: every collected run) or a comma-separated list of E:R\n"
    "  --iteration N        the iteration the algorithm sees (default 0)\n"
    "  --iov IOV            default IoV of the payloads (default: from the first to the last run)\n"
    "  --db OUTDB           commit the payloads to this local database (created if missing)\n"
    "  --chain DB           read payloads from DB (repeatable; searched in order, first match wins)\n"
    "  --param NAME=VALUE   set a parameter (VALUE in YAML: 3, 0.5, [a, b]); repeatable\n"
    "  --state FILE         JSON state written by the previous execution (--state-out of an earlier run)\n"
    "  --state-out FILE     write the output JSON state here\n"
    "  --collector NAME     the collector the inputs come from (default: the algorithm's)\n"
    "  --timeout SECONDS    kill the execution after this long (default: no limit)\n"
    "  --memory-limit MIB   kill the execution when it uses this much more memory (default: no limit)\n"
    "  --log FILE           keep the algorithm's log in FILE\n"
    "  --boundaries         find payload boundaries instead of executing (needs granularity 'run')\n"
    "  --experiment-settings EXP\n"
    "                       call the algorithm's setup_experiment hook for experiment EXP first\n"
    "  --json               print machine-readable JSON\n"
    "\n"
    "Exit codes: 0 OK or ITERATE (or boundaries found), 1 NOT_ENOUGH_DATA, FAILURE or an error, 2 usage.\n";

enum {
    OPT_INPUT = 1000,
    OPT_RUNS,
    OPT_ITERATION,
    OPT_IOV,
    OPT_DB,
    OPT_CHAIN,
    OPT_PARAM,
    OPT_STATE,
    OPT_STATE_OUT,
    OPT_COLLECTOR,
    OPT_TIMEOUT,
    OPT_MEMORY,
    OPT_LOG,
    OPT_BOUNDARIES,
    OPT_EXPERIMENT_SETTINGS,
    OPT_JSON,
};

static const struct option algo_longopts[] = {
    {"input", required_argument, NULL, OPT_INPUT},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"iteration", required_argument, NULL, OPT_ITERATION},
    {"iov", required_argument, NULL, OPT_IOV},
    {"db", required_argument, NULL, OPT_DB},
    {"chain", required_argument, NULL, OPT_CHAIN},
    {"param", required_argument, NULL, OPT_PARAM},
    {"state", required_argument, NULL, OPT_STATE},
    {"state-out", required_argument, NULL, OPT_STATE_OUT},
    {"collector", required_argument, NULL, OPT_COLLECTOR},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"memory-limit", required_argument, NULL, OPT_MEMORY},
    {"log", required_argument, NULL, OPT_LOG},
    {"boundaries", no_argument, NULL, OPT_BOUNDARIES},
    {"experiment-settings", required_argument, NULL, OPT_EXPERIMENT_SETTINGS},
    {"json", no_argument, NULL, OPT_JSON},
    {0},
};

/* Everything given on the command line; the string arrays point into argv. */
struct algo_args {
    const char *where;
    int operand_count;
    const char **inputs;
    size_t input_count;
    const char **chain;
    size_t chain_count;
    char **param_names;
    const char **param_values;
    size_t param_count;
    caf_exprun *runs;
    size_t run_count;
    int iteration;
    caf_iov iov;
    bool have_iov;
    const char *db, *state, *state_out, *collector, *log;
    double timeout;
    size_t memory_limit;
    bool boundaries, json;
    bool experiment_settings;
    int settings_exp;
};

static void free_args(struct algo_args *a)
{
    for (size_t i = 0; i < a->param_count; i++)
        free(a->param_names[i]);
    free(a->param_names);
    free(a->param_values);
    free(a->inputs);
    free(a->chain);
    free(a->runs);
}

static int parse_runs(struct algo_args *a, const char *text)
{
    free(a->runs);
    a->runs = NULL;
    a->run_count = 0;
    if (strcmp(text, "all") == 0)
        return CLI_EXIT_OK;
    char *copy = strdup(text);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    a->runs = calloc(cap, sizeof *a->runs);
    if (!copy || !a->runs) {
        free(copy);
        return cli_failf("out of memory");
    }
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        caf_error err = {0};
        if (caf_exprun_parse(item, &a->runs[a->run_count], &err) != CAF_OK) {
            free(copy);
            return cli_usage_error(a->where, "--runs: %s", err.message);
        }
        a->run_count++;
    }
    free(copy);
    if (a->run_count == 0)
        return cli_usage_error(a->where, "--runs: expects 'all' or E:R,E:R...");
    return CLI_EXIT_OK;
}

static int add_param(struct algo_args *a, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return cli_usage_error(a->where, "--param expects NAME=VALUE, not '%s'", text);
    a->param_names[a->param_count] = strndup(text, (size_t)(eq - text));
    a->param_values[a->param_count] = eq + 1;
    if (!a->param_names[a->param_count])
        return cli_failf("out of memory");
    a->param_count++;
    return CLI_EXIT_OK;
}

static int parse_number(struct algo_args *a, const char *option, const char *text, double *out)
{
    char *end;
    *out = strtod(text, &end);
    if (end == text || *end || *out < 0)
        return cli_usage_error(a->where, "%s expects a number >= 0, not '%s'", option, text);
    return CLI_EXIT_OK;
}

static int parse_option(struct algo_args *a, int c)
{
    caf_error err = {0};
    double number;
    int rc;
    switch (c) {
    case OPT_INPUT: a->inputs[a->input_count++] = optarg; return CLI_EXIT_OK;
    case OPT_RUNS: return parse_runs(a, optarg);
    case OPT_ITERATION:
        if (!cli_parse_int(a->where, "--iteration", optarg, &a->iteration))
            return CLI_EXIT_USAGE;
        return a->iteration < 0 ? cli_usage_error(a->where, "--iteration must not be negative") : CLI_EXIT_OK;
    case OPT_IOV:
        if (caf_iov_parse(optarg, &a->iov, &err) != CAF_OK)
            return cli_usage_error(a->where, "--iov: %s", err.message);
        a->have_iov = true;
        return CLI_EXIT_OK;
    case OPT_DB: a->db = optarg; return CLI_EXIT_OK;
    case OPT_CHAIN: a->chain[a->chain_count++] = optarg; return CLI_EXIT_OK;
    case OPT_PARAM: return add_param(a, optarg);
    case OPT_STATE: a->state = optarg; return CLI_EXIT_OK;
    case OPT_STATE_OUT: a->state_out = optarg; return CLI_EXIT_OK;
    case OPT_COLLECTOR: a->collector = optarg; return CLI_EXIT_OK;
    case OPT_LOG: a->log = optarg; return CLI_EXIT_OK;
    case OPT_TIMEOUT: return parse_number(a, "--timeout", optarg, &a->timeout);
    case OPT_MEMORY:
        rc = parse_number(a, "--memory-limit", optarg, &number);
        a->memory_limit = (size_t)(number * 1048576.0);
        return rc;
    case OPT_BOUNDARIES: a->boundaries = true; return CLI_EXIT_OK;
    case OPT_EXPERIMENT_SETTINGS:
        a->experiment_settings = true;
        return cli_parse_int(a->where, "--experiment-settings", optarg, &a->settings_exp) ? CLI_EXIT_OK
                                                                                         : CLI_EXIT_USAGE;
    case OPT_JSON: a->json = true; return CLI_EXIT_OK;
    default: return CLI_EXIT_USAGE;
    }
}

/* Parses argv (argv[0] = "algo", argv[1] = the subcommand); operands end up in argv[0..operand_count). */
static int parse_args(const char *where, int argc, char **argv, struct algo_args *a)
{
    memset(a, 0, sizeof *a);
    a->where = where;
    size_t n = (size_t)argc + 1;
    a->inputs = calloc(n, sizeof *a->inputs);
    a->chain = calloc(n, sizeof *a->chain);
    a->param_names = calloc(n, sizeof *a->param_names);
    a->param_values = calloc(n, sizeof *a->param_values);
    if (!a->inputs || !a->chain || !a->param_names || !a->param_values)
        return cli_failf("out of memory");
    const struct cli_options opts = {where, algo_help, "", algo_longopts};
    cli_options_begin();
    for (;;) {
        int c = cli_next_option_anywhere(&opts, argc - 1, argv + 1, &a->operand_count);
        if (c == CLI_OPT_END)
            return CLI_EXIT_OK;
        if (c == CLI_OPT_HELP)
            return -1;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        int rc = parse_option(a, c);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
}

static json_t *iov_json(caf_iov iov)
{
    return json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}

static json_t *runs_json(const caf_exprun *runs, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, json_pack("[ii]", runs[i].exp, runs[i].run));
    return list;
}

static json_t *result_json(const caf_algo_run_result *r, bool boundaries)
{
    json_t *payloads = json_array();
    for (size_t i = 0; i < r->payload_count; i++) {
        const caf_algo_payload *p = &r->payloads[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "name", p->name, "ext", p->ext, "size", (json_int_t)p->size,
                              "iov", iov_json(p->iov));
        json_object_set_new(o, "revision", p->revision ? json_string(p->revision) : json_null());
        json_array_append_new(payloads, o);
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:b, s:i, s:o, s:o, s:o, s:b, s:O, s:s, s:f}", "algorithm",
                          r->algorithm, "result", caf_algo_result_name(r->result), "result_code", (int)r->result,
                          "message", r->message ? r->message : "", "crashed", r->crashed, "iteration", r->iteration,
                          "runs", runs_json(r->runs, r->run_count), "iov", iov_json(r->iov), "payloads", payloads,
                          "committed", r->committed, "state", r->state, "log", r->log ? r->log : "", "seconds",
                          r->seconds);
    if (boundaries)
        json_object_set_new(o, "boundaries", runs_json(r->boundaries, r->boundary_count));
    return o;
}

static void print_text(const caf_algo_run_result *r, const struct algo_args *a)
{
    char iov[CAF_IOV_TEXT_MAX];
    printf("algorithm  %s\n", r->algorithm);
    if (a->boundaries) {
        printf("boundaries %zu\n", r->boundary_count);
        for (size_t i = 0; i < r->boundary_count; i++)
            printf("  %d,%d\n", r->boundaries[i].exp, r->boundaries[i].run);
        return;
    }
    printf("result     %s (%d)%s%s\n", caf_algo_result_name(r->result), (int)r->result,
           r->message && *r->message ? ": " : "", r->message ? r->message : "");
    printf("iteration  %d\n", r->iteration);
    if (r->run_count)
        printf("runs       %zu (%d,%d ... %d,%d)\n", r->run_count, r->runs[0].exp, r->runs[0].run,
               r->runs[r->run_count - 1].exp, r->runs[r->run_count - 1].run);
    else
        printf("runs       0\n");
    printf("iov        %s\n", caf_iov_format(r->iov, iov, sizeof iov));
    printf("payloads   %zu%s%s%s\n", r->payload_count, r->committed ? " (committed to " : " (not committed)",
           r->committed ? a->db : "", r->committed ? ")" : "");
    for (size_t i = 0; i < r->payload_count; i++) {
        const caf_algo_payload *p = &r->payloads[i];
        printf("  %-24s %-5s %10zu bytes  %-20s %s\n", p->name, p->ext, p->size,
               caf_iov_format(p->iov, iov, sizeof iov), p->revision ? p->revision : "");
    }
    char *state = caf_json_dump_compact(r->state);
    printf("state      %s\n", state ? state : "{}");
    free(state);
}

static int algo_run(int argc, char **argv)
{
    struct algo_args a;
    int rc = parse_args("algo run", argc, argv, &a);
    char **operands = argv + 1;
    if (rc == 0 && a.operand_count < 1)
        rc = cli_usage_error(a.where, "expects PLUGIN:ALGORITHM");
    for (int i = 1; rc == 0 && i < a.operand_count; i++)
        a.inputs[a.input_count++] = operands[i];
    if (rc == 0 && a.input_count == 0)
        rc = cli_usage_error(a.where, "expects --input FILE...");
    char *plugin = NULL, *name = NULL, *state_text = NULL;
    caf_error err = {0};
    if (rc == 0 && caf_algorithm_split_name(operands[0], &plugin, &name, &err) != CAF_OK)
        rc = cli_usage_error(a.where, "%s", err.message);
    size_t state_size;
    if (rc == 0 && a.state && caf_file_read(a.state, &state_text, &state_size, &err) != CAF_OK)
        rc = cli_fail(&err);
    if (rc != 0) {
        free_args(&a);
        free(plugin);
        free(name);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    caf_algo_run_spec spec = {
        .plugin = plugin, .algorithm = name, .collector = a.collector,
        .inputs = a.inputs, .input_count = a.input_count, .runs = a.runs, .run_count = a.run_count,
        .iteration = a.iteration, .iov = a.have_iov ? &a.iov : NULL,
        .param_names = (const char *const *)a.param_names, .param_values = a.param_values,
        .param_count = a.param_count, .chain = a.chain, .chain_count = a.chain_count,
        .input_state = state_text, .output_db = a.db, .log_path = a.log, .timeout_seconds = a.timeout,
        .memory_limit = a.memory_limit, .find_boundaries = a.boundaries,
        .experiment_settings = a.experiment_settings, .settings_exp = a.settings_exp,
    };
    caf_algo_run_result result = {0};
    caf_status st = caf_algo_run(&spec, &result, &err);
    if (st != CAF_OK) {
        if (result.log && *result.log && !a.json)
            fputs(result.log, stderr);
        rc = cli_fail(&err);
    } else {
        if (a.state_out && caf_json_save_file(a.state_out, result.state, &err) != CAF_OK)
            rc = cli_fail(&err);
        if (a.json) {
            json_t *o = result_json(&result, a.boundaries);
            char *text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
            puts(text ? text : "null");
            free(text);
            json_decref(o);
        } else {
            if (result.log && *result.log)
                fputs(result.log, stderr);
            print_text(&result, &a);
        }
        if (rc == 0 && !a.boundaries && !caf_algo_result_is_success(result.result))
            rc = CLI_EXIT_FAILURE;
    }
    caf_algo_run_result_clear(&result);
    free(state_text);
    free(plugin);
    free(name);
    free_args(&a);
    return rc;
}

/* ---- list ---- */

static json_t *descriptor_json(const caf_algorithm_descriptor *d)
{
    json_t *params = json_array();
    for (const caf_param_spec *p = d->params; p && p->name; p++) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", p->name, "type", caf_param_type_name(p->type),
                              "description", p->description ? p->description : "");
        if (p->presence == CAF_PARAM_REQUIRED)
            json_object_set_new(o, "required", json_true());
        else if (p->presence == CAF_PARAM_OPTIONAL)
            json_object_set_new(o, "optional", json_true());
        else
            json_object_set_new(o, "default", json_string(p->default_yaml));
        json_array_append_new(params, o);
    }
    return json_pack("{s:s, s:s, s:s, s:b, s:i, s:o, s:o}", "name", d->name, "description",
                     d->description ? d->description : "", "collector", d->collector, "boundaries",
                     d->is_boundary_required != NULL, "abi_version", (int)d->abi_version, "hooks",
                     caf_algorithm_hooks_json(d), "parameters", params);
}

static void print_descriptor(const char *plugin, const caf_algorithm_descriptor *d)
{
    json_t *hooks = caf_algorithm_hooks_json(d);
    printf("%s:%s (reads collector %s%s)\n\n%s\n\nhooks:", plugin, d->name, d->collector,
           d->is_boundary_required ? "; finds payload boundaries" : "", d->description ? d->description : "");
    size_t h;
    json_t *hook;
    json_array_foreach(hooks, h, hook)
        printf("%s %s", h ? "," : "", json_string_value(hook));
    printf(" (descriptor version %u)\n\nparameters:\n", d->abi_version);
    json_decref(hooks);
    if (!d->params || !d->params->name)
        puts("  (none)");
    for (const caf_param_spec *p = d->params; p && p->name; p++) {
        const char *presence = p->presence == CAF_PARAM_REQUIRED   ? "required"
                               : p->presence == CAF_PARAM_OPTIONAL ? "optional"
                                                                   : NULL;
        printf("  %s (%s, %s%s)\n      %s\n", p->name, caf_param_type_name(p->type), presence ? presence : "default ",
               presence ? "" : p->default_yaml, p->description ? p->description : "");
    }
}

static void print_json_value(json_t *o)
{
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
    puts(text ? text : "null");
    free(text);
    json_decref(o);
}

/* Lists the algorithms of one plugin (name NULL: all of them). */
static int list_plugin(const char *plugin, const char *name, bool json)
{
    const caf_algorithm_descriptor *const *list;
    void *handle;
    caf_error err = {0};
    if (caf_algorithm_plugin_list(plugin, &list, &handle, &err) != CAF_OK)
        return cli_fail(&err);
    json_t *out = json_array();
    int found = 0;
    for (size_t i = 0; list[i]; i++) {
        if (name && strcmp(list[i]->name, name) != 0)
            continue;
        found++;
        if (json) {
            json_array_append_new(out, descriptor_json(list[i]));
        } else {
            if (found > 1)
                puts("");
            print_descriptor(plugin, list[i]);
        }
    }
    int rc = CLI_EXIT_OK;
    if (json && found)
        print_json_value(out);
    else
        json_decref(out);
    if (!found)
        rc = cli_failf("algorithm plugin %s has no algorithm '%s'", plugin, name);
    caf_algorithm_plugin_close(handle);
    return rc;
}

/* Lists the plugins on the plugin path that hold algorithms. */
static int list_all(bool json)
{
    char **names;
    caf_error err = {0};
    if (caf_plugin_list(&names, &err) != CAF_OK)
        return cli_fail(&err);
    json_t *out = json_array();
    if (!json)
        puts("algorithms:");
    for (char **n = names; *n; n++) {
        const caf_algorithm_descriptor *const *list;
        void *handle;
        caf_error why = {0};
        if (caf_algorithm_plugin_list(*n, &list, &handle, &why) != CAF_OK) {
            caf_debug("%s", why.message); /* module plugins share the folder */
            continue;
        }
        for (size_t i = 0; list[i]; i++) {
            char full[512];
            snprintf(full, sizeof full, "%s:%s", *n, list[i]->name);
            if (json) {
                json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "name", full, "collector",
                                                     list[i]->collector, "description",
                                                     list[i]->description ? list[i]->description : ""));
            } else {
                const char *d = list[i]->description ? list[i]->description : "";
                const char *stop = strstr(d, ". ");
                int len = stop ? (int)(stop - d) : (int)strlen(d);
                printf("   %-28s %.*s\n", full, len > 90 ? 90 : len, d);
            }
        }
        caf_algorithm_plugin_close(handle);
    }
    caf_plugin_dirs_free(names);
    if (json)
        print_json_value(out);
    else
        json_decref(out);
    return CLI_EXIT_OK;
}

static int algo_list(int argc, char **argv)
{
    struct algo_args a;
    int rc = parse_args("algo list", argc, argv, &a);
    if (rc == 0 && a.operand_count > 1)
        rc = cli_usage_error(a.where, "expects at most one PLUGIN[:ALGORITHM]");
    if (rc != 0) {
        free_args(&a);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    if (a.operand_count == 0) {
        rc = list_all(a.json);
    } else {
        const char *text = argv[1];
        const char *colon = strchr(text, ':');
        char *plugin = colon ? strndup(text, (size_t)(colon - text)) : strdup(text);
        rc = plugin ? list_plugin(plugin, colon ? colon + 1 : NULL, a.json) : cli_failf("out of memory");
        free(plugin);
    }
    free_args(&a);
    return rc;
}

static int run_algo(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("algo", "expects a subcommand: run or list");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(algo_help, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "run") == 0)
        return algo_run(argc, argv);
    if (strcmp(argv[1], "list") == 0)
        return algo_list(argc, argv);
    return cli_usage_error("algo", "unknown subcommand '%s' (run or list)", argv[1]);
}

const struct cli_command cli_command_algo = {
    .name = "algo",
    .summary = "run an algorithm execution by hand, or list algorithms and their parameters",
    .help = algo_help,
    .run = run_algo,
};
