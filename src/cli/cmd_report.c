/* caf report: one self-contained HTML page about a run's output folder (caf/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/report.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char report_help[] =
    "usage: caf report OUTPUT_DIR [-o FILE] [--compare DB]\n"
    "\n"
    "Writes one self-contained HTML page about the run in OUTPUT_DIR (finished, failed or still running),\n"
    "to open in any browser, also offline after copying it elsewhere: no network access, no external\n"
    "scripts or fonts, plots as inline SVG. For every calibration: its outcome, iterations and timings;\n"
    "its collector jobs (events, wall time, peak memory, attempts, and the last lines of the log of\n"
    "each failed subjob); every algorithm execution (runs, IoV, result, message); a map of each payload's\n"
    "IoVs over the runs with gaps marked; and every numeric value of its JSON payloads against run number\n"
    "(an array as one series per index, chosen with a selector; NAME_error values as error bars). Payloads\n"
    "that are not JSON are listed, not plotted. The page works without JavaScript except for the series\n"
    "selector. It is written atomically; what a half-finished run lacks is listed at its top and on\n"
    "stderr. Prints the page's path.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE  the page to write (default OUTPUT_DIR/report.html)\n"
    "  --compare DB       draw the values of reference database DB beside each plot's and list the runs\n"
    "                     whose constants changed by more than their uncertainty (any change when\n"
    "                     neither value has one)\n"
    "\n"
    "Exit codes: 0 page written (also for a half-finished run), 1 OUTPUT_DIR is not a caf run output\n"
    "folder, DB cannot be read or the page cannot be written, 2 usage error.\n";

enum { OPT_COMPARE = 1000 };

static int report_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"compare", required_argument, NULL, OPT_COMPARE},
        {0},
    };
    struct cli_options opts = {.where = "report", .help = report_help, .shortopts = "o:", .longopts = longopts};
    caf_report_options options = {0};
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
        if (c == 'o')
            options.html_path = optarg;
        else if (c == OPT_COMPARE)
            options.compare_db = optarg;
    }
    if (operand_count != 1)
        return cli_usage_error("report", "expected one output folder OUTPUT_DIR");
    if (options.html_path && !*options.html_path)
        return cli_usage_error("report", "-o needs a file name");
    options.output_dir = argv[0];
    caf_report_result result;
    caf_error err = {0};
    if (caf_report_write(&options, &result, &err) != CAF_OK) {
        caf_report_result_clear(&result);
        return cli_fail(&err);
    }
    for (size_t i = 0; i < result.missing_count; i++)
        fprintf(stderr, "caf report: missing: %s\n", result.missing[i]);
    for (size_t i = 0; i < result.not_plotted_count; i++)
        fprintf(stderr, "caf report: not plotted (not JSON): %s\n", result.not_plotted[i]);
    if (options.compare_db)
        fprintf(stderr, "caf report: %zu run%s changed by more than their uncertainty against %s\n",
                result.changed_runs, result.changed_runs == 1 ? "" : "s", options.compare_db);
    printf("%s\n", result.path);
    caf_report_result_clear(&result);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_report = {
    .name = "report",
    .summary = "write a self-contained HTML report of a run: outcomes, jobs, IoVs, constants against run",
    .help = report_help,
    .run = report_run,
};
