/* caf reset: rewind one calibration of a run without editing the state database by hand. */
#include <stdio.h>
#include <string.h>

#include "caf/caf_run.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char reset_help[] =
    "usage: caf reset DIR CALIBRATION [--iteration N] [--from collector|algorithms]\n"
    "\n"
    "Rewinds CALIBRATION in the output folder DIR so that the next `caf run` redoes it from there.\n"
    "Every calibration that depends on it is rewound to its start. The merged database and summary are\n"
    "removed (the next run rebuilds them). A calibration reset to iteration 0 takes a changed\n"
    "configuration at the next run. Refused while a caf run holds DIR.\n"
    "\n"
    "Options:\n"
    "  --iteration N   go back to iteration N (default: the current one); later iterations are dropped\n"
    "  --from collector   redo the iteration from its collector jobs (default)\n"
    "  --from algorithms  keep the iteration's collector output and redo only its algorithms\n"
    "\n"
    "Exit codes: 0 rewound, 1 refused (a caf run holds DIR, no such calibration or iteration), 2 usage error.\n";

enum { OPT_ITERATION = 1000, OPT_FROM };

static int reset_run(int argc, char **argv)
{
    static const struct option longopts[] = {{"iteration", required_argument, NULL, OPT_ITERATION},
                                             {"from", required_argument, NULL, OPT_FROM},
                                             {0}};
    struct cli_options opts = {.where = "reset", .help = reset_help, .shortopts = "", .longopts = longopts};
    int iteration = -1;
    const char *from = NULL;
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
        if (c == OPT_ITERATION && (!cli_parse_int("reset", "--iteration", optarg, &iteration) || iteration < 0))
            return iteration < 0 ? cli_usage_error("reset", "--iteration must be >= 0") : CLI_EXIT_USAGE;
        if (c == OPT_FROM) {
            if (strcmp(optarg, "collector") != 0 && strcmp(optarg, "algorithms") != 0)
                return cli_usage_error("reset", "--from must be collector or algorithms, not '%s'", optarg);
            from = optarg;
        }
    }
    if (operand_count != 2)
        return cli_usage_error("reset", "expected DIR and CALIBRATION");
    caf_error err = {0};
    if (caf_run_reset(argv[0], argv[1], iteration, from, &err) != CAF_OK)
        return cli_fail(&err);
    printf("%s: %s reset\n", argv[0], argv[1]);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_reset = {
    .name = "reset",
    .summary = "rewind one calibration of a campaign run",
    .help = reset_help,
    .run = reset_run,
};
