/* The algorithm machine: set up, execute on a list of runs, completed or failed, set up again for the next
 * execution. */
#include <stdio.h>

#include "orchestration/state_machine_internal.h"

caf_status caf_algorithm_machine_open(caf_machine **out, const char *algorithm, caf_error *err)
{
    static const char *const states[] = {"init", "ready", "running_algorithm", "completed", "failed"};
    static const char *const transitions[][3] = {
        {"setup_algorithm", "init", "ready"},
        {"execute_runs", "ready", "running_algorithm"},
        {"complete", "running_algorithm", "completed"},
        {"fail", "running_algorithm", "failed"},
        {"setup_algorithm", "completed", "ready"},
        {"setup_algorithm", "failed", "ready"},
    };
    char name[256];
    snprintf(name, sizeof name, "algorithm %s", algorithm);
    caf_status rc = caf_machine_open(out, name, err);
    if (rc == CAF_OK)
        rc = machine_add_tables(*out, states, sizeof states / sizeof *states, transitions,
                                sizeof transitions / sizeof *transitions, err);
    if (rc != CAF_OK) {
        caf_machine_close(*out);
        *out = NULL;
    }
    return rc;
}
