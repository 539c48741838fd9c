/* caf run: run or resume a campaign (include/caf/caf_run.h, docs/running.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/caf_run.h"
#include "caf/campaign.h"
#include "cli/campaign_args.h"
#include "cli/cli.h"
#include "cli/operands.h"
#include "cli/progress_block.h"

static const char run_help[] =
    "usage: caf run CONFIG [--iov E1,R1,E2,R2] [--plugin-path PATH] [--no-progress]\n"
    "\n"
    "Runs the campaign in CONFIG (docs/configuration.md) into its output_dir, or resumes it when the\n"
    "folder holds an earlier run of it: finished collector subjobs and algorithm executions are never\n"
    "redone, subjobs still in the batch system are re-attached, and a calibration that failed is retried\n"
    "from the step that failed (its failed subjobs, or its algorithms from the first failed execution;\n"
    "fix the cause first). Everything is checked first and every\n"
    "problem listed before anything is submitted; a configuration changed since the folder was started\n"
    "is refused, naming the calibrations and keys (see caf reset). A second caf run on the same folder\n"
    "is refused, and so is a campaign with any problem: nothing is created before every check passed.\n"
    "A relative output_dir, like every relative path of the campaign, is relative to CONFIG's folder.\n"
    "Progress goes to stderr: a line per state change and per algorithm execution, and on a terminal\n"
    "one block kept up to date below them (per calibration: state, iteration, a bar of its collector\n"
    "subjobs completed/failed/running/queued, executions, elapsed time, collection time left);\n"
    "elsewhere the same as plain lines every heartbeat. NO_COLOR (set, not empty) drops the colours.\n"
    "Ctrl-C stops the loop (subjobs keep running); run again to resume. docs/running.md describes the\n"
    "output folder.\n"
    "\n"
    "Options:\n"
    "  --iov E1,R1,E2,R2   calibrate only this IoV (basf2 CAF.run(iov)): only input files holding a run\n"
    "                      inside it are collected, only the runs inside it reach the strategies, and\n"
    "                      payloads and IoV gaps stay inside it (R2 = -1: to the end of experiment E2).\n"
    "                      It is part of the run's configuration: resuming needs the same --iov\n"
    "  --plugin-path PATH  folders to look for plugins in (default $CAF_PLUGIN_PATH)\n"
    "  --no-progress       plain progress lines every heartbeat even on a terminal\n"
    "\n"
    "Environment: CAF_COMMAND, when set, is the program collector jobs run instead of this caf.\n"
    "Exit codes: 0 every calibration completed, 1 a problem or a failed calibration, 2 usage error.\n";

enum { OPT_NO_PROGRESS = 1000 };

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int run_run(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_CAMPAIGN_LONGOPTS,
                                             {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
                                             {0}};
    struct cli_options opts = {.where = "run", .help = run_help, .shortopts = "", .longopts = longopts};
    cli_campaign_args args = {0};
    bool no_progress = false;
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
        int taken = cli_campaign_take_option("run", c, optarg, &args);
        if (taken < 0)
            return CLI_EXIT_USAGE;
        if (c == OPT_NO_PROGRESS)
            no_progress = true;
    }
    if (operand_count != 1)
        return cli_usage_error("run", "expected one campaign file");
    cli_campaign loaded;
    if (!cli_campaign_load(argv[0], &args, &loaded))
        return CLI_EXIT_FAILURE;
    loaded.options.stop = &stop_requested;
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_block *block = !no_progress && progress_block_wanted()
                                ? progress_block_open(stderr, progress_block_colour_wanted())
                                : NULL;
    if (block) {
        loaded.options.progress = progress_block_update;
        loaded.options.progress_userdata = block;
    }
    caf_error err = {0};
    caf_status rc = caf_run(&loaded.campaign, &loaded.options, &err);
    progress_block_close(block);
    cli_campaign_close(&loaded);
    return rc == CAF_OK ? CLI_EXIT_OK : cli_fail(&err);
}

const struct cli_command cli_command_run = {
    .name = "run",
    .summary = "run or resume a calibration campaign",
    .help = run_help,
    .run = run_run,
};
