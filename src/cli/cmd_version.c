/* caf version: the version of caf (the same as caf --version). */
#include <stdio.h>

#include "caf/version.h"
#include "cli/cli.h"

static int run_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error("version", "takes no arguments");
    printf("caf %s\n", CAF_VERSION_STRING);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_version = {
    .name = "version",
    .summary = "print the version of caf",
    .help = "usage: caf version\n\nPrints the version of caf, as caf --version does.\n",
    .run = run_version,
};
