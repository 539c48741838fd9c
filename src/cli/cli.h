/* The caf command's shared machinery: the command table, option parsing and exit codes, so that every
 * subcommand answers --help, reports usage errors and exits the same way (as git's builtins do). */
#ifndef CAF_CLI_H
#define CAF_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "caf/error.h"

enum cli_exit {
    CLI_EXIT_OK = 0,      /* success */
    CLI_EXIT_FAILURE = 1, /* the command ran and failed (bad data, nothing found, a failed job) */
    CLI_EXIT_USAGE = 2,   /* the command line was wrong */
};

/* One subcommand, defined in src/cli/cmd_<name>.c as `const struct cli_command cli_command_<name>`. */
struct cli_command {
    const char *name;
    const char *summary; /* one line for `caf --help` */
    const char *help;    /* full text for `caf help NAME` and `caf NAME --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns an enum cli_exit */
};

/* NULL-terminated, generated from the cmd_*.c file names by src/CMakeLists.txt. */
extern const struct cli_command *const cli_commands[];

/* Returns the command called name, or NULL. */
const struct cli_command *cli_find_command(const char *name);

/* Prints the overview of caf (usage, commands, global options, exit codes): caf --help, caf help. */
void cli_print_overview(FILE *out);

/* Prints "caf WHERE: MESSAGE" and a pointer to the help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "caf: error: MESSAGE" (err's message) on stderr; returns CLI_EXIT_FAILURE. */
int cli_fail(const caf_error *err);

/* Prints "caf: error: MESSAGE" on stderr; returns CLI_EXIT_FAILURE. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option parsing shared by all commands: a thin layer over getopt_long that adds --help and reports
 * unknown options and missing arguments as usage errors naming the command. */
struct cli_options {
    const char *where;           /* "db list", for messages */
    const char *help;            /* printed for -h/--help */
    const char *shortopts;       /* getopt short options, without "h" */
    const struct option *longopts; /* terminated by a zero entry, without "help" */
};

/* Result of cli_next_option besides an option's value. */
enum { CLI_OPT_END = -1, CLI_OPT_HELP = -2, CLI_OPT_ERROR = -3 };

/* Starts parsing argv (argv[0] is the command word); call before the first cli_next_option. */
void cli_options_begin(void);

/* Returns the next option's value (as getopt_long does, with its argument in optarg), CLI_OPT_END when
 * the options are done (operands start at optind), CLI_OPT_HELP after printing help, or CLI_OPT_ERROR
 * after printing a usage error. */
int cli_next_option(const struct cli_options *opts, int argc, char **argv);

/* Parses a decimal int from text into *out; returns false (and prints a usage error naming what) when
 * it is not one. */
bool cli_parse_int(const char *where, const char *what, const char *text, int *out);

#endif
