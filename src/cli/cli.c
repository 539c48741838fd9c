/* Option parsing and error reporting shared by every subcommand. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_print_overview(FILE *out)
{
    fputs("usage: caf [--version] [--help] [-v | -q] [--log-level LEVEL] COMMAND [ARGS]\n\n"
          "caf calibrates detectors from run-based data: collectors, algorithms, strategies and\n"
          "conditions databases in one native tool.\n\ncommands:\n",
          out);
    for (const struct cli_command *const *c = cli_commands; *c; c++)
        fprintf(out, "   %-12s %s\n", (*c)->name, (*c)->summary);
    fputs("\noptions:\n"
          "   -v, --verbose      log debug messages too\n"
          "   -q, --quiet        log warnings and errors only\n"
          "   --log-level LEVEL  debug, info, warning, error or quiet (default info, or $CAF_LOG_LEVEL)\n"
          "   --version          print the version\n"
          "\nenvironment:\n"
          "   CAF_PLUGIN_PATH    folders (':'-separated) searched for plugins before caf's own\n"
          "   CAF_LOG_LEVEL      the log level when no option sets it\n"
          "\n'caf help COMMAND' or 'caf COMMAND --help' describes one command.\n"
          "Exit codes: 0 success, 1 failure, 2 usage error.\n",
          out);
}

const struct cli_command *cli_find_command(const char *name)
{
    for (const struct cli_command *const *c = cli_commands; *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

int cli_usage_error(const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "caf %s: ", where);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    char command[64];
    snprintf(command, sizeof command, "%s", where);
    command[strcspn(command, " ")] = '\0';
    fprintf(stderr, "\n(see 'caf help %s')\n", command);
    return CLI_EXIT_USAGE;
}

int cli_fail(const caf_error *err)
{
    fprintf(stderr, "caf: error: %s\n", err->message[0] ? err->message : caf_status_name(err->code));
    return CLI_EXIT_FAILURE;
}

int cli_failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("caf: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAILURE;
}

void cli_options_begin(void)
{
    optind = 0; /* 0 makes glibc re-initialise getopt for a new argv */
    opterr = 0;
}

int cli_next_option(const struct cli_options *opts, int argc, char **argv)
{
    static const struct option help_option = {"help", no_argument, NULL, 'h'};
    struct option longopts[64];
    size_t n = 0;
    for (const struct option *o = opts->longopts; o && o->name && n < 62; o++)
        longopts[n++] = *o;
    longopts[n++] = help_option;
    memset(&longopts[n], 0, sizeof longopts[n]);
    char shortopts[64];
    /* '+' stops at the first operand so that "--" and negative numbers after operands behave, and ':'
     * reports a missing argument distinctly. */
    snprintf(shortopts, sizeof shortopts, "+:h%s", opts->shortopts ? opts->shortopts : "");
    int prev = optind ? optind : 1;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    switch (c) {
    case -1:
        return CLI_OPT_END;
    case 'h':
        fputs(opts->help, stdout);
        return CLI_OPT_HELP;
    case ':':
        cli_usage_error(opts->where, "option '%s' needs a value", argv[optind - 1]);
        return CLI_OPT_ERROR;
    case '?':
        if (optopt)
            cli_usage_error(opts->where, "unknown option '-%c'", optopt);
        else
            cli_usage_error(opts->where, "unknown option '%s'", argv[prev < argc ? prev : argc - 1]);
        return CLI_OPT_ERROR;
    default:
        return c;
    }
}

bool cli_parse_int(const char *where, const char *what, const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < INT_MIN || v > INT_MAX) {
        cli_usage_error(where, "%s must be an integer, not '%s'", what, text);
        return false;
    }
    *out = (int)v;
    return true;
}
