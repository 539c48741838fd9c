/* What `caf run` and `caf plan` share on the command line: the --iov option and loading CONFIG with every
 * problem listed (the campaign's own and those of the files, plugins and backend it names). */
#ifndef CAF_CLI_CAMPAIGN_ARGS_H
#define CAF_CLI_CAMPAIGN_ARGS_H

#include <stdbool.h>

#include "caf/caf_run.h"
#include "caf/campaign.h"
#include "caf/iov.h"

/* Parses the value of --iov for command where into *iov; false after printing a usage error (not an IoV,
 * or the empty one). */
bool cli_parse_iov_option(const char *where, const char *text, caf_iov *iov);

/* A campaign loaded from its file, with the run options every campaign command starts from. */
typedef struct cli_campaign {
    caf_campaign campaign;
    caf_run_options options; /* base_dir = CONFIG's folder; caf_command from $CAF_COMMAND */
    char *path_copy;         /* owns the storage of options.base_dir */
} cli_campaign;

/* Loads CONFIG into *out with options.plugin_path = plugin_path and options.iov = iov (both may be NULL;
 * borrowed). On any problem prints each one and "CONFIG: N problems found; nothing was submitted" (or the
 * error) on stderr and returns false; *out is closed then. */
bool cli_campaign_load(const char *path, const char *plugin_path, const caf_iov *iov, cli_campaign *out);

/* Frees what cli_campaign_load made. */
void cli_campaign_close(cli_campaign *c);

#endif
