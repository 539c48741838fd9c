/* caf collector: inspect and merge collector output files. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/collector_output.h"
#include "cli/cli.h"

static const char collector_help[] =
    "usage: caf collector inspect FILE [--object NAME [--run E:R]] [--rows N] [--json]\n"
    "       caf collector merge OUT IN... [--memory-budget MIB] [--json]\n"
    "\n"
    "Collector output files (SQLite, see docs/collector-format.md): what a collector job wrote.\n"
    "\n"
    "  inspect  the collector's name, plugin, parameters, granularity and runs, and every object with its\n"
    "           type and number of keys; with --object, that object's content: for one key with --run\n"
    "           (E:R, or all for -1:-1), otherwise merged over every key of the file\n"
    "  merge    one output from several of the same collector (as the orchestrator merges a collector's\n"
    "           jobs): RunRanges united, each object merged per key; OUT appears only when complete\n"
    "\n"
    "Options:\n"
    "  --object NAME       (inspect) print this object\n"
    "  --run E:R           (inspect) the key to print (default: all keys merged)\n"
    "  --rows N            (inspect) ntuple rows to print (default 20; 0 = all)\n"
    "  --memory-budget MIB (merge) merged objects held in memory before they are written (default 256)\n"
    "  --json              print machine-readable JSON\n"
    "\n"
    "Exit codes: 0 success, 1 failure (unreadable or mismatched files, no such object or run), 2 usage.\n";

enum { OPT_JSON = 1000, OPT_OBJECT, OPT_RUN, OPT_ROWS, OPT_BUDGET };

static const struct option collector_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"run", required_argument, NULL, OPT_RUN},
    {"rows", required_argument, NULL, OPT_ROWS},
    {"memory-budget", required_argument, NULL, OPT_BUDGET},
    {0},
};

struct collector_args {
    const char *where;
    bool json;
    const char *object, *run;
    int rows, budget_mib;
    bool has_rows, has_budget;
    int operand_count;
    char **operands;
};

static int parse_args(const char *where, int argc, char **argv, struct collector_args *a)
{
    memset(a, 0, sizeof *a);
    a->where = where;
    a->rows = 20;
    a->operands = calloc((size_t)argc + 1, sizeof *a->operands);
    if (!a->operands)
        return cli_failf("out of memory");
    struct cli_options opts = {.where = where, .help = collector_help, .shortopts = "", .longopts = collector_longopts};
    cli_options_begin();
    for (;;) {
        int c = cli_next_option(&opts, argc, argv);
        if (c == CLI_OPT_HELP)
            return -1;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (c == CLI_OPT_END) {
            if (optind >= argc)
                break;
            a->operands[a->operand_count++] = argv[optind++];
            continue;
        }
        switch (c) {
        case OPT_JSON: a->json = true; break;
        case OPT_OBJECT: a->object = optarg; break;
        case OPT_RUN: a->run = optarg; break;
        case OPT_ROWS:
            if (!cli_parse_int(where, "--rows", optarg, &a->rows))
                return CLI_EXIT_USAGE;
            if (a->rows < 0)
                return cli_usage_error(where, "--rows must not be negative");
            a->has_rows = true;
            break;
        case OPT_BUDGET:
            if (!cli_parse_int(where, "--memory-budget", optarg, &a->budget_mib))
                return CLI_EXIT_USAGE;
            if (a->budget_mib < 1)
                return cli_usage_error(where, "--memory-budget must be at least 1 (MiB)");
            a->has_budget = true;
            break;
        default: return cli_usage_error(where, "unexpected option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

static void print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    if (text)
        puts(text);
    free(text);
    json_decref(value);
}

static json_t *exprun_json(caf_exprun r)
{
    return json_pack("[ii]", r.exp, r.run);
}

static json_t *summary_json(const caf_collector_output *f)
{
    const caf_run_range *rr = caf_collector_output_run_range(f);
    json_t *runs = json_array(), *objects = json_array();
    for (size_t i = 0; i < rr->count; i++)
        json_array_append_new(runs, exprun_json(rr->runs[i]));
    for (size_t i = 0; i < caf_collector_output_object_count(f); i++) {
        const caf_collector_object_info *o = caf_collector_output_object(f, i);
        json_array_append_new(objects, json_pack("{s:s, s:s, s:I}", "name", o->name, "type", o->type_name, "keys",
                                                 (json_int_t)o->key_count));
    }
    char iov[CAF_IOV_TEXT_MAX];
    return json_pack("{s:s, s:s, s:s, s:O, s:o, s:s, s:o}", "collector", caf_collector_output_collector(f), "module",
                     caf_collector_output_module(f), "granularity",
                     caf_granularity_name(caf_collector_output_granularity(f)), "parameters",
                     caf_collector_output_parameters(f), "runs", runs, "iov",
                     caf_iov_format(caf_run_range_iov(rr), iov, sizeof iov), "objects", objects);
}

static void print_summary(const caf_collector_output *f)
{
    const caf_run_range *rr = caf_collector_output_run_range(f);
    char *params = json_dumps(caf_collector_output_parameters(f), JSON_COMPACT | JSON_SORT_KEYS);
    char iov[CAF_IOV_TEXT_MAX];
    printf("collector    %s\n", caf_collector_output_collector(f));
    printf("module       %s\n", caf_collector_output_module(f));
    printf("granularity  %s\n", caf_granularity_name(caf_collector_output_granularity(f)));
    printf("parameters   %s\n", params ? params : "{}");
    printf("runs         %zu (IoV %s):", rr->count, caf_iov_format(caf_run_range_iov(rr), iov, sizeof iov));
    for (size_t i = 0; i < rr->count; i++)
        printf(" %d.%d", rr->runs[i].exp, rr->runs[i].run);
    printf("\nobjects      %zu\n", caf_collector_output_object_count(f));
    for (size_t i = 0; i < caf_collector_output_object_count(f); i++) {
        const caf_collector_object_info *o = caf_collector_output_object(f, i);
        printf("  %-24s %-16s %zu key%s\n", o->name, o->type_name, o->key_count, o->key_count == 1 ? "" : "s");
    }
    free(params);
}

static int inspect(struct collector_args *a)
{
    if (a->operand_count != 1)
        return cli_usage_error(a->where, "expects one collector output file");
    if (a->run && !a->object)
        return cli_usage_error(a->where, "--run needs --object");
    caf_exprun key = {-1, -1};
    caf_error err = {0};
    if (a->run && strcmp(a->run, "all") != 0 && caf_exprun_parse(a->run, &key, &err) != CAF_OK)
        return cli_usage_error(a->where, "%s", err.message);
    caf_collector_output *f;
    if (caf_collector_output_open(a->operands[0], &f, &err) != CAF_OK)
        return cli_fail(&err);
    int rc = CLI_EXIT_OK;
    if (!a->object) {
        if (a->json)
            print_json(summary_json(f));
        else
            print_summary(f);
    } else {
        caf_object *obj;
        caf_status st = a->run ? caf_collector_output_read(f, a->object, key, &obj, &err)
                               : caf_collector_output_merge_runs(f, a->object, NULL, 0, &obj, &err);
        if (st != CAF_OK) {
            rc = cli_fail(&err);
        } else {
            if (a->json) {
                json_t *j = caf_object_to_json(obj, a->rows);
                json_object_set_new(j, "name", json_string(a->object));
                json_object_set_new(j, "key", a->run ? exprun_json(key) : json_string("merged"));
                print_json(j);
            } else {
                printf("%s [%s] ", a->object, a->run ? a->run : "all keys merged");
                if (caf_object_print(obj, stdout, a->rows, &err) != CAF_OK)
                    rc = cli_fail(&err);
            }
            caf_object_free(obj);
        }
    }
    caf_collector_output_close(f);
    return rc;
}

static int merge(struct collector_args *a)
{
    if (a->operand_count < 2)
        return cli_usage_error(a->where, "expects an output file and at least one input");
    caf_collector_merge_options options = {.memory_budget = a->has_budget ? (size_t)a->budget_mib << 20 : 0};
    caf_error err = {0};
    const char *out = a->operands[0];
    if (caf_collector_output_merge_files(out, (const char *const *)a->operands + 1, (size_t)a->operand_count - 1,
                                         &options, &err) != CAF_OK)
        return cli_fail(&err);
    caf_collector_output *f;
    if (caf_collector_output_open(out, &f, &err) != CAF_OK)
        return cli_fail(&err);
    if (a->json) {
        json_t *j = summary_json(f);
        json_object_set_new(j, "inputs", json_integer(a->operand_count - 1));
        json_object_set_new(j, "output", json_string(out));
        print_json(j);
    } else {
        printf("merged %d files into %s: %zu runs, %zu objects\n", a->operand_count - 1, out,
               caf_collector_output_run_range(f)->count, caf_collector_output_object_count(f));
    }
    caf_collector_output_close(f);
    return CLI_EXIT_OK;
}

static int run_collector(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(collector_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    struct collector_args a;
    int rc;
    if (!strcmp(sub, "inspect")) {
        rc = parse_args("collector inspect", argc - 1, argv + 1, &a);
        if (rc == 0)
            rc = inspect(&a);
    } else if (!strcmp(sub, "merge")) {
        rc = parse_args("collector merge", argc - 1, argv + 1, &a);
        if (rc == 0)
            rc = merge(&a);
    } else {
        return cli_usage_error("collector", "unknown subcommand '%s' (inspect, merge)", sub);
    }
    free(a.operands);
    return rc < 0 ? CLI_EXIT_OK : rc;
}

const struct cli_command cli_command_collector = {
    .name = "collector",
    .summary = "inspect and merge collector output files",
    .help = collector_help,
    .run = run_collector,
};
