/* caf plan: what `caf run` would do with a campaign, without doing it (caf_run_plan in
 * include/caf/caf_run.h, docs/running.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/caf_run.h"
#include "cli/campaign_args.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char plan_help[] =
    "usage: caf plan CONFIG [--iov E1,R1,E2,R2] [--json] [--plugin-path PATH]\n"
    "\n"
    "Shows what `caf run CONFIG` would do, without submitting anything: the same checks as caf run\n"
    "first (every problem listed), then per calibration in dependency order its wave (calibrations of one\n"
    "wave can run at the same time), the input files and runs found, the ignored runs found in the data,\n"
    "the collector jobs of each collection (how many, files and runs per job, backend and resources), the\n"
    "runs its algorithms will get, its database chain (first match wins; ancestors nearest first, as the\n"
    "run resolves it) and per algorithm the strategy and the IoVs known in advance: SingleIOV its IoV,\n"
    "SimpleRunByRun one per run, SequentialBoundaries the segments between payload_boundaries,\n"
    "SequentialRunByRun each experiment's span; a strategy plugin's are unknown in advance. On an output\n"
    "folder holding an earlier run it says what is done and what remains (the state database is only\n"
    "read). Nothing is written but the file-index cache in the output folder, so that the run starts\n"
    "with it warm.\n"
    "\n"
    "Options:\n"
    "  --iov E1,R1,E2,R2   plan a run limited to this IoV, as caf run --iov would do it\n"
    "  --json              print the plan as JSON\n"
    "  --plugin-path PATH  folders to look for plugins in (default $CAF_PLUGIN_PATH)\n"
    "\n"
    "Exit codes: 0 the plan was shown, 1 a problem in the campaign or its inputs (the plan is still shown\n"
    "when only a calibration's inputs have one), 2 usage error.\n";

enum { OPT_JSON = 1000 };

static const char *text_of(const json_t *obj, const char *key)
{
    const char *t = json_string_value(json_object_get(obj, key));
    return t ? t : "";
}

static long long int_of(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

static void print_run(const json_t *run)
{
    printf("%lld.%lld", (long long)json_integer_value(json_array_get(run, 0)),
           (long long)json_integer_value(json_array_get(run, 1)));
}

static void print_iov(const json_t *iov)
{
    for (size_t i = 0; i < 4; i++)
        printf("%s%lld", i ? "," : "", (long long)json_integer_value(json_array_get(iov, i)));
}

/* "N (first..last)" of a run list. */
static void print_runs(const json_t *runs)
{
    size_t n = json_array_size(runs);
    printf("%zu", n);
    if (n) {
        printf(" (");
        print_run(json_array_get(runs, 0));
        printf("..");
        print_run(json_array_get(runs, n - 1));
        printf(")");
    }
}

static void print_range(const char *what, const json_t *pair)
{
    long long lo = (long long)json_integer_value(json_array_get(pair, 0));
    long long hi = (long long)json_integer_value(json_array_get(pair, 1));
    if (lo == hi)
        printf("%lld %s", lo, what);
    else
        printf("%lld-%lld %s", lo, hi, what);
}

/* Subjobs listed one per line up to this many; more are summarised. */
enum { SUBJOBS_LISTED = 8 };

static void print_jobs(const json_t *jobs)
{
    const json_t *res = json_object_get(jobs, "resources");
    printf("    %lld collector job%s on %s, ", int_of(jobs, "count"), int_of(jobs, "count") == 1 ? "" : "s",
           text_of(jobs, "backend"));
    print_range("files", json_object_get(jobs, "files_per_job"));
    printf(" and ");
    print_range("runs", json_object_get(jobs, "runs_per_job"));
    printf(" per job (%s)\n", text_of(jobs, "split"));
    const char *keys[] = {"queue", "memory_mb", "time_s", "cores"};
    bool any = false;
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(res, keys[i]);
        if (json_is_null(v) || !v)
            continue;
        printf("%s%s %s", any ? ", " : "      resources: ", keys[i], json_is_string(v) ? json_string_value(v) : "");
        if (json_is_integer(v))
            printf("%lld", (long long)json_integer_value(v));
        any = true;
    }
    if (any)
        printf("\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(jobs, "subjobs"), i, s) {
        if (i == SUBJOBS_LISTED) {
            printf("      ... %zu more (caf plan --json lists every job)\n", json_array_size(json_object_get(jobs, "subjobs")) - i);
            break;
        }
        printf("      job %lld: %lld file%s, %lld run%s", int_of(s, "index"), int_of(s, "files"),
               int_of(s, "files") == 1 ? "" : "s", int_of(s, "runs"), int_of(s, "runs") == 1 ? "" : "s");
        if (json_object_get(s, "first_run")) {
            printf(" ");
            print_run(json_object_get(s, "first_run"));
            if (int_of(s, "runs") > 1) {
                printf("..");
                print_run(json_object_get(s, "last_run"));
            }
        }
        printf("\n");
    }
}

static void print_collection(const json_t *col)
{
    printf("  collection %s (%s)", text_of(col, "name"), text_of(col, "collector"));
    if (json_object_get(col, "problem")) {
        printf(": %s\n", text_of(col, "problem"));
        return;
    }
    const json_t *ignored = json_object_get(col, "ignored_runs");
    printf(": %lld input files (%lld from the index cache), %lld runs found, %zu ignored", int_of(col, "input_files"),
           int_of(col, "files_from_index_cache"), int_of(col, "runs_found"), json_array_size(ignored));
    size_t i;
    json_t *r;
    json_array_foreach(ignored, i, r) {
        printf("%s", i ? " " : " (");
        print_run(r);
    }
    printf("%s", json_array_size(ignored) ? ")" : "");
    if (int_of(col, "runs_outside_iov"))
        printf(", %lld outside --iov", int_of(col, "runs_outside_iov"));
    printf(", %lld files selected\n", int_of(col, "files_selected"));
    print_jobs(json_object_get(col, "jobs"));
}

/* IoVs listed one after the other up to this many; more are summarised. */
enum { IOVS_LISTED = 12 };

static void print_algorithm(const json_t *alg)
{
    const char *known = text_of(alg, "known");
    printf("  algorithm %lld %s: %s, ", int_of(alg, "index"), text_of(alg, "plugin"), text_of(alg, "strategy"));
    const json_t *iovs = json_object_get(alg, "iovs");
    if (!strcmp(known, "unknown")) {
        printf("IoVs unknown in advance (%s)\n", text_of(alg, "note"));
        return;
    }
    if (!strcmp(known, "spans"))
        printf("payloads tiling %zu experiment span%s (at most %lld executions):", json_array_size(iovs),
               json_array_size(iovs) == 1 ? "" : "s", int_of(alg, "executions_at_most"));
    else if (!strcmp(known, "segments"))
        printf("%zu segment%s:", json_array_size(iovs), json_array_size(iovs) == 1 ? "" : "s");
    else
        printf("%zu IoV%s:", json_array_size(iovs), json_array_size(iovs) == 1 ? "" : "s");
    size_t i;
    json_t *iov;
    json_array_foreach(iovs, i, iov) {
        if (i == IOVS_LISTED) {
            printf(" ... %zu more", json_array_size(iovs) - i);
            break;
        }
        printf(" ");
        print_iov(iov);
    }
    printf("\n    (%s)\n", text_of(alg, "note"));
}

static void print_text(const json_t *plan)
{
    printf("plan of %s: output folder %s, backend %s%s\n", json_is_string(json_object_get(plan, "campaign"))
           ? text_of(plan, "campaign") : "the campaign", text_of(plan, "output_dir"), text_of(plan, "backend"),
           json_is_true(json_object_get(plan, "earlier_run")) ? " (holds an earlier run)" : "");
    if (json_is_string(json_object_get(plan, "iov")))
        printf("requested IoV: %s (--iov)\n", text_of(plan, "iov"));
    size_t i;
    json_t *cal;
    json_array_foreach(json_object_get(plan, "calibrations"), i, cal) {
        printf("\n%s: wave %lld, iteration %lld (max_iterations %lld)", text_of(cal, "name"), int_of(cal, "wave"),
               int_of(cal, "iteration"), int_of(cal, "max_iterations"));
        size_t d;
        json_t *dep;
        json_array_foreach(json_object_get(cal, "depends_on"), d, dep)
            printf("%s%s", d ? ", " : ", depends on ", json_string_value(dep));
        printf("\n");
        if (json_object_get(cal, "done") && !json_is_null(json_object_get(cal, "done")))
            printf("  done: %s at iteration %lld\n", text_of(json_object_get(cal, "done"), "state"),
                   int_of(json_object_get(cal, "done"), "iteration"));
        printf("  remaining: %s\n", text_of(cal, "remaining"));
        size_t k;
        json_t *item;
        json_array_foreach(json_object_get(cal, "collections"), k, item)
            print_collection(item);
        if (json_object_get(cal, "problem")) {
            printf("  PROBLEM: caf run would fail this calibration: %s\n", text_of(cal, "problem"));
            continue;
        }
        printf("  runs for the algorithms: ");
        print_runs(json_object_get(cal, "runs"));
        printf("\n");
        json_array_foreach(json_object_get(cal, "database_chain"), k, item) {
            char *described = caf_dbchain_entry_describe(text_of(item, "database"));
            printf("  %-16s %s (%s)\n", k ? "" : "database chain:", described ? described : text_of(item, "database"),
                   text_of(item, "source"));
            free(described);
        }
        json_array_foreach(json_object_get(cal, "algorithms"), k, item)
            print_algorithm(item);
    }
}

static int plan_run(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_CAMPAIGN_LONGOPTS,
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {0}};
    struct cli_options opts = {.where = "plan", .help = plan_help, .shortopts = "", .longopts = longopts};
    cli_campaign_args args = {0};
    bool json = false;
    int operand_count = 0;
    cli_options_begin();
    for (;;) {
        int c = cli_next_option_anywhere(&opts, argc, argv, &operand_count);
        if (c == CLI_OPT_END)
            break;
        if (c == CLI_OPT_HELP)
            return CLI_EXIT_OK;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        int taken = cli_campaign_take_option("plan", c, optarg, &args);
        if (taken < 0)
            return CLI_EXIT_USAGE;
        if (c == OPT_JSON)
            json = true;
    }
    if (operand_count != 1)
        return cli_usage_error("plan", "expected one campaign file");
    cli_campaign loaded;
    if (!cli_campaign_load(argv[0], &args, &loaded))
        return CLI_EXIT_FAILURE;
    caf_error err = {0};
    json_t *plan = NULL;
    caf_status rc = caf_run_plan(&loaded.campaign, &loaded.options, &plan, &err);
    cli_campaign_close(&loaded);
    if (rc != CAF_OK)
        return cli_fail(&err);
    if (json) {
        if (json_dumpf(plan, stdout, JSON_INDENT(1)) != 0)
            rc = CAF_ERR_IO;
        printf("\n");
    } else {
        print_text(plan);
    }
    bool problems = json_is_true(json_object_get(plan, "problems"));
    json_decref(plan);
    if (problems)
        return cli_failf("a calibration's inputs have a problem: caf run would fail it (see above)");
    return rc == CAF_OK ? CLI_EXIT_OK : cli_failf("cannot write the plan");
}

const struct cli_command cli_command_plan = {
    .name = "plan",
    .summary = "show what caf run would do with a campaign, without doing it",
    .help = plan_help,
    .run = plan_run,
};
