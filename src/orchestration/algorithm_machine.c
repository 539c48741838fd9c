/* The algorithm machine: set up, execute on a list of runs, completed or failed, set up again for the next
 * execution. */
#include <stdio.h>

#include "caf/state_machine.h"

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
    for (size_t i = 0; rc == CAF_OK && i < sizeof states / sizeof *states; i++)
        rc = caf_machine_add_state(*out, states[i], err);
    for (size_t i = 0; rc == CAF_OK && i < sizeof transitions / sizeof *transitions; i++)
        rc = caf_machine_add_transition(*out, transitions[i][0], transitions[i][1], transitions[i][2], NULL, NULL,
                                        err);
    if (rc != CAF_OK) {
        caf_machine_close(*out);
        *out = NULL;
    }
    return rc;
}
