/* caf version: the version of caf (the same as caf --version). */
#include <stdio.h>

#include "caf/version.h"
#include "cli/cli.h"

static const char help_text[] = "usage: caf version\n\nPrints the version of caf, as caf --version does.\n\n"
                                "Exit codes: 0 success, 2 usage error.\n";

static int run_version(int argc, char **argv)
{
    static const struct option longopts[] = {{0, 0, 0, 0}};
    const struct cli_options opts = {.where = "version", .help = help_text, .shortopts = "", .longopts = longopts};
    cli_options_begin();
    int opt = cli_next_option(&opts, argc, argv);
    if (opt == CLI_OPT_HELP)
        return CLI_EXIT_OK;
    if (opt != CLI_OPT_END)
        return CLI_EXIT_USAGE;
    if (optind < argc)
        return cli_usage_error("version", "takes no arguments");
    printf("caf %s\n", CAF_VERSION_STRING);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_version = {
    .name = "version",
    .summary = "print the version of caf",
    .help = help_text,
    .run = run_version,
};
