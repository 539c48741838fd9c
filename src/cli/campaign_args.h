/* What `caf run` and `caf plan` share on the command line: the --iov option and loading CONFIG with every
 * problem listed (the campaign's own and those of the files, plugins and backend it names). */
#ifndef CAF_CLI_CAMPAIGN_ARGS_H
#define CAF_CLI_CAMPAIGN_ARGS_H

#include <stdbool.h>

#include "caf/caf_run.h"
#include "caf/campaign.h"
#include "caf/iov.h"

/* Option codes of the options every campaign command takes, above any command's own codes. */
enum { CLI_OPT_PLUGIN_PATH = 1100, CLI_OPT_IOV };

/* Their entries, first in a command's long-option table. */
#define CLI_CAMPAIGN_LONGOPTS                                                                                  \
    {"plugin-path", required_argument, NULL, CLI_OPT_PLUGIN_PATH}, {"iov", required_argument, NULL, CLI_OPT_IOV}

/* What those options said. */
typedef struct cli_campaign_args {
    const char *plugin_path; /* NULL: $CAF_PLUGIN_PATH */
    caf_iov iov;
    bool have_iov;
} cli_campaign_args;

/* Takes option c with its argument into *args when it is --plugin-path or --iov: 1 taken, 0 another option,
 * -1 after printing a usage error for command where (not an IoV, or the empty one). */
int cli_campaign_take_option(const char *where, int c, const char *arg, cli_campaign_args *args);

/* A campaign loaded from its file, with the run options every campaign command starts from. */
typedef struct cli_campaign {
    caf_campaign campaign;
    caf_run_options options; /* base_dir = CONFIG's folder; caf_command from $CAF_COMMAND */
    char *path_copy;         /* owns the storage of options.base_dir */
} cli_campaign;

/* Loads CONFIG into *out with options.plugin_path and options.iov from args (borrowed: args must outlive
 * *out). On any problem prints each one and "CONFIG: N problems found; nothing was submitted" (or the
 * error) on stderr and returns false; *out is closed then. */
bool cli_campaign_load(const char *path, const cli_campaign_args *args, cli_campaign *out);

/* Frees what cli_campaign_load made. */
void cli_campaign_close(cli_campaign *c);

#endif
