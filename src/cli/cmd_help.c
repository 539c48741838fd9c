/* caf help [COMMAND]: the overview or one command's full help. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char help_text[] = "usage: caf help [COMMAND]\n\n"
                                "Prints the help of COMMAND, or the list of commands.\n\n"
                                "Exit codes: 0 success, 2 COMMAND is not a caf command.\n";

static int run_help(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(help_text, stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "expects one command name");
    const struct cli_command *command = cli_find_command(argv[1]);
    if (!command)
        return cli_usage_error("help", "'%s' is not a caf command", argv[1]);
    fputs(command->help, stdout);
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_help = {
    .name = "help",
    .summary = "show the help of a command",
    .help = help_text,
    .run = run_help,
};
