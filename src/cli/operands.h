/* Option parsing that accepts options after operands ("caf gen toy OUT --seed 3"), on top of
 * cli_next_option (which stops at the first operand). */
#ifndef CAF_CLI_OPERANDS_H
#define CAF_CLI_OPERANDS_H

#include "cli/cli.h"

/* Like cli_next_option, but operands met on the way are moved to argv[0 .. *n_operands - 1] (in order)
 * and parsing goes on; "--" ends the options. Start with cli_options_begin() and *n_operands = 0. */
int cli_next_option_anywhere(const struct cli_options *opts, int argc, char **argv, int *n_operands);

#endif
