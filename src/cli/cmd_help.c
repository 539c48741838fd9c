/* caf help [COMMAND]: the overview or one command's full help. */
#include <stdio.h>

#include "cli/cli.h"

static const char help_text[] = "usage: caf help [COMMAND]\n\n"
                                "Prints the help of COMMAND, or the list of commands.\n";

static int run_help(int argc, char **argv)
{
    if (argc < 2) {
        puts("usage: caf [--version] [--help] [-v | -q] [--log-level LEVEL] COMMAND [ARGS]\n\ncommands:");
        for (const struct cli_command *const *c = cli_commands; *c; c++)
            printf("   %-12s %s\n", (*c)->name, (*c)->summary);
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
