/* caf gen toy OUTDIR: toy detector data with known constants, for tests and the demo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "caf/toy_generator.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char help_text[] =
    "usage: caf gen toy OUTDIR [--seed S] [--channels N] [--experiments N] [--runs N] [--events N]\n"
    "                   [--files-per-run N]\n\n"
    "Writes toy detector event files OUTDIR/toy_eEEEE_rRRRRR_fFF.h5 and the true constants in\n"
    "OUTDIR/truth.json: per run and channel the gain and time offset t0 (they drift from run to run and\n"
    "jump at the run given as hv_change), dead and hot channels, trigger lines and their prescales, and\n"
    "per-run statistics. Hit amplitudes peak at gain * peak_energy, so a peak fit per channel recovers\n"
    "the gain. The same options give the same files and truth.\n\n"
    "Options:\n"
    "  --seed S            random seed (default 1)\n"
    "  --channels N        detector channels (default 48)\n"
    "  --experiments N     experiments 1..N (default 2)\n"
    "  --runs N            runs 1..N per experiment (default 4; run 3 of each experiment is short)\n"
    "  --events N          events of a normal run (default 2000)\n"
    "  --files-per-run N   split each run into N files (default 1)\n"
    "\n"
    "Exit codes: 0 files written, 1 failure (OUTDIR cannot be written), 2 usage error.\n";

static int run_gen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},     {"channels", required_argument, NULL, 'c'},
        {"experiments", required_argument, NULL, 'e'}, {"runs", required_argument, NULL, 'r'},
        {"events", required_argument, NULL, 'n'},   {"files-per-run", required_argument, NULL, 'f'},
        {0},
    };
    const struct cli_options opts = {.where = "gen", .help = help_text, .longopts = longopts};
    caf_toy_options o = {.seed = 1};
    int v, c;
    /* the sub-subcommand comes first: "caf gen toy OUTDIR --seed 3" */
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(help_text, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("gen", "expects a generator name (toy)");
    if (strcmp(argv[1], "toy") != 0)
        return cli_usage_error("gen", "unknown generator '%s' (known: toy)", argv[1]);
    argc--, argv++;
    cli_options_begin();
    int n_operands = 0;
    while ((c = cli_next_option_anywhere(&opts, argc, argv, &n_operands)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_HELP: return CLI_EXIT_OK;
        case CLI_OPT_ERROR: return CLI_EXIT_USAGE;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return cli_usage_error("gen", "--seed must be a non-negative integer, not '%s'", optarg);
            o.seed = s;
            break;
        }
        default: {
            const char *name = "value";
            for (const struct option *lo = longopts; lo->name; lo++)
                if (lo->val == c)
                    name = lo->name;
            if (!cli_parse_int("gen", name, optarg, &v))
                return CLI_EXIT_USAGE;
            if (v <= 0)
                return cli_usage_error("gen", "option values must be positive, not '%s'", optarg);
            if (c == 'c')
                o.n_channels = v;
            else if (c == 'e')
                o.n_experiments = v;
            else if (c == 'r')
                o.runs_per_experiment = v;
            else if (c == 'n')
                o.events_per_run = v;
            else
                o.files_per_run = v;
        }
        }
    }
    if (n_operands != 1)
        return cli_usage_error("gen", "expects one output folder");
    caf_error err = {0};
    if (caf_toy_generate(argv[0], &o, &err))
        return cli_fail(&err);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_gen = {
    .name = "gen",
    .summary = "generate toy detector data with known constants",
    .help = help_text,
    .run = run_gen,
};
