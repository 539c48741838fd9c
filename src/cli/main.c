/* caf: the command. Global options, then one subcommand (git-style), found in the generated table. */
#include <stdio.h>
#include <string.h>

#include "caf/log.h"
#include "caf/version.h"
#include "cli/cli.h"

static void print_overview(FILE *out)
{
    fputs("usage: caf [--version] [--help] [-v | -q] [--log-level LEVEL] COMMAND [ARGS]\n\n"
          "caf calibrates detectors from run-based data: collectors, algorithms, strategies and\n"
          "conditions databases in one native tool.\n\ncommands:\n",
          out);
    for (const struct cli_command *const *c = cli_commands; *c; c++)
        fprintf(out, "   %-12s %s\n", (*c)->name, (*c)->summary);
    fputs("\n'caf help COMMAND' or 'caf COMMAND --help' describes one command.\n"
          "Exit codes: 0 success, 1 failure, 2 usage error.\n",
          out);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_overview(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            printf("caf %s\n", CAF_VERSION_STRING);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            caf_log_set_level(CAF_LOG_DEBUG);
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            caf_log_set_level(CAF_LOG_WARNING);
        } else if (!strcmp(a, "--log-level")) {
            caf_log_level level;
            if (i + 1 >= argc || caf_log_level_parse(argv[i + 1], &level) != 0) {
                fprintf(stderr, "caf: --log-level needs one of debug, info, warning, error, quiet\n");
                return CLI_EXIT_USAGE;
            }
            caf_log_set_level(level);
            i++;
        } else {
            fprintf(stderr, "caf: unknown option '%s' (see 'caf --help')\n", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const struct cli_command *command = cli_find_command(argv[i]);
    if (!command) {
        fprintf(stderr, "caf: '%s' is not a caf command (see 'caf --help')\n", argv[i]);
        return CLI_EXIT_USAGE;
    }
    return command->run(argc - i, argv + i);
}
