/* caf status: every calibration's state, iteration, subjob counts and algorithm results of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/caf_run.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char status_help[] =
    "usage: caf status DIR [--json]\n"
    "\n"
    "Shows the run in output folder DIR (while it runs or after): whether a caf run holds it, the IoV it\n"
    "is limited to (caf run --iov), and for every calibration its state, iteration and the reason it\n"
    "failed, its collector subjobs of the current iteration by status (and attempts), whether their\n"
    "submission waits for the user's job limit in the batch system (job_policy global_job_limit), why\n"
    "the last attempt of each subjob not completed failed (e.g. an HTCondor hold reason), the iteration's\n"
    "database chain (first match wins, each database with where it comes from), and each algorithm's\n"
    "outcome with its executions (runs, IoV, result, committed).\n"
    "\n"
    "Options:\n"
    "  --json  print the status as JSON\n"
    "\n"
    "Exit codes: 0 status shown (whatever the calibrations' states), 1 DIR is not a caf run output folder\n"
    "or cannot be read, 2 usage error.\n";

enum { OPT_JSON = 1000 };

static int count_of(const json_t *subjobs, const char *key)
{
    return (int)json_integer_value(json_object_get(subjobs, key));
}

static void print_text(const json_t *status)
{
    printf("%s%s\n", json_string_value(json_object_get(status, "output_dir")),
           json_is_true(json_object_get(status, "running")) ? " (a caf run is active)" : "");
    if (json_is_string(json_object_get(status, "iov")))
        printf("requested IoV: %s (caf run --iov)\n", json_string_value(json_object_get(status, "iov")));
    size_t i;
    json_t *cal;
    json_array_foreach(json_object_get(status, "calibrations"), i, cal) {
        const json_t *s = json_object_get(cal, "subjobs");
        const char *reason = json_string_value(json_object_get(cal, "reason"));
        printf("%s: %s, iteration %d%s%s\n", json_string_value(json_object_get(cal, "name")),
               json_string_value(json_object_get(cal, "state")), (int)json_integer_value(json_object_get(cal, "iteration")),
               *reason ? ": " : "", reason);
        printf("  subjobs: %d total, %d completed, %d running, %d submitted, %d waiting, %d failed (%d attempts)\n",
               count_of(s, "total"), count_of(s, "completed"), count_of(s, "running"), count_of(s, "submitted"),
               count_of(s, "init"), count_of(s, "failed"), count_of(s, "attempts"));
        if (json_is_string(json_object_get(cal, "held_back")))
            printf("  held back: %s\n", json_string_value(json_object_get(cal, "held_back")));
        size_t k;
        json_t *problem;
        json_array_foreach(json_object_get(cal, "subjob_problems"), k, problem)
            printf("  subjob %d (attempt %d, %s): %s\n", (int)json_integer_value(json_object_get(problem, "subjob")),
                   (int)json_integer_value(json_object_get(problem, "attempt")),
                   json_string_value(json_object_get(problem, "status")),
                   json_string_value(json_object_get(problem, "reason")));
        json_t *db;
        json_array_foreach(json_object_get(cal, "database_chain"), k, db) {
            const char *entry = json_string_value(json_object_get(db, "database"));
            char *described = entry ? caf_dbchain_entry_describe(entry) : NULL;
            printf("  %-15s %s (%s)\n", k ? "" : "database chain:", described ? described : entry ? entry : "?",
                   json_string_value(json_object_get(db, "source")));
            free(described);
        }
        const char *collection;
        json_t *cs;
        json_object_foreach(json_object_get(cal, "collections"), collection, cs)
            printf("    collection %s: %d total, %d completed, %d running, %d submitted, %d waiting, %d failed (%d "
                   "attempts)\n", collection, count_of(cs, "total"), count_of(cs, "completed"),
                   count_of(cs, "running"), count_of(cs, "submitted"), count_of(cs, "init"), count_of(cs, "failed"),
                   count_of(cs, "attempts"));
        size_t a;
        json_t *alg;
        json_array_foreach(json_object_get(cal, "algorithms"), a, alg) {
            const char *why = json_string_value(json_object_get(alg, "reason"));
            const json_t *plugin = json_object_get(alg, "plugin");
            printf("  algorithm %d%s%s: %s, %zu executions%s%s\n", (int)json_integer_value(json_object_get(alg, "algorithm")),
                   plugin ? " " : "", plugin ? json_string_value(plugin) : "",
                   json_string_value(json_object_get(alg, "outcome")),
                   json_array_size(json_object_get(alg, "executions")), why && *why ? ": " : "", why ? why : "");
            size_t e;
            json_t *ex;
            json_array_foreach(json_object_get(alg, "executions"), e, ex) {
                const char *msg = json_string_value(json_object_get(ex, "message"));
                printf("    execution %d: IoV %s, %s%s%s%s\n", (int)json_integer_value(json_object_get(ex, "index")),
                       json_string_value(json_object_get(ex, "iov")), json_string_value(json_object_get(ex, "result")),
                       json_is_true(json_object_get(ex, "committed")) ? ", committed" : "", msg && *msg ? ": " : "",
                       msg ? msg : "");
            }
        }
    }
}

static int status_run(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, OPT_JSON}, {0}};
    struct cli_options opts = {.where = "status", .help = status_help, .shortopts = "", .longopts = longopts};
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
        if (c == OPT_JSON)
            json = true;
    }
    if (operand_count != 1)
        return cli_usage_error("status", "expected one output folder DIR");
    json_t *status;
    caf_error err = {0};
    if (caf_run_status(argv[0], &status, &err) != CAF_OK)
        return cli_fail(&err);
    if (json) {
        char *text = json_dumps(status, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
    } else {
        print_text(status);
    }
    json_decref(status);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_status = {
    .name = "status",
    .summary = "show the state of a campaign run",
    .help = status_help,
    .run = status_run,
};
