/* Options anywhere among operands; see operands.h. */
#include "cli/operands.h"

#include <string.h>

int cli_next_option_anywhere(const struct cli_options *opts, int argc, char **argv, int *n_operands)
{
    for (;;) {
        int c = cli_next_option(opts, argc, argv);
        if (c != CLI_OPT_END)
            return c;
        if (optind >= argc)
            return CLI_OPT_END;
        if (strcmp(argv[optind - 1], "--") == 0 || strcmp(argv[optind], "--") == 0) {
            int from = strcmp(argv[optind], "--") == 0 ? optind + 1 : optind;
            for (int i = from; i < argc; i++)
                argv[(*n_operands)++] = argv[i];
            optind = argc;
            return CLI_OPT_END;
        }
        /* argv[0] is the command word and getopt never looks back, so operands can be moved down */
        argv[(*n_operands)++] = argv[optind++];
    }
}
