/* An algorithm plugin whose entry point crashes: checking a campaign that names it must survive and say
 * so (the plugin is loaded in a child process). */
#include <signal.h>

#include "caf/algorithm.h"

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);
const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    raise(SIGSEGV);
    return NULL;
}
