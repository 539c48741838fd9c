/* The calibration machine: collector, then algorithms, then completed or failed, iterating back to the
 * collector while the algorithms ask for it and max_iterations allows. As in basf2, another iteration is
 * allowed while iteration < max_iterations: max_iterations 2 allows passes 0, 1 and 2. */
#include <stdio.h>
#include <string.h>

#include "orchestration/state_machine_internal.h"

static const char *const calibration_states[] = {
    "init", "running_collector", "collector_completed", "collector_failed", "running_algorithms",
    "algorithms_completed", "algorithms_failed", "completed", "failed",
};

static const char *const calibration_transitions[][3] = {
    {"submit_collector", "init", "running_collector"},
    {"complete", "running_collector", "collector_completed"},
    {"fail", "running_collector", "collector_failed"},
    {"run_algorithms", "collector_completed", "running_algorithms"},
    {"complete", "running_algorithms", "algorithms_completed"},
    {"fail", "running_algorithms", "algorithms_failed"},
    {"finish", "algorithms_completed", "completed"},
    {"fail_fully", "collector_failed", "failed"},
    {"fail_fully", "algorithms_failed", "failed"},
};

bool caf_calibration_machine_can_iterate(const caf_calibration_machine *cm)
{
    return cm->iteration < cm->max_iterations;
}

static bool below_max_iterations(const caf_machine *m, void *userdata, char *why, size_t why_size)
{
    (void)m;
    const caf_calibration_machine *cm = userdata;
    if (caf_calibration_machine_can_iterate(cm))
        return true;
    snprintf(why, why_size, "iteration %d reached max_iterations %d", cm->iteration, cm->max_iterations);
    return false;
}

static void count_iteration(const caf_machine *m, const char *state, const char *transition, void *userdata)
{
    (void)m, (void)state;
    caf_calibration_machine *cm = userdata;
    if (transition && strcmp(transition, "iterate") == 0)
        cm->iteration++;
}

caf_status caf_calibration_machine_init(caf_calibration_machine *cm, const char *calibration, int max_iterations,
                                        caf_error *err)
{
    cm->machine = NULL;
    cm->iteration = 0;
    cm->max_iterations = max_iterations;
    if (max_iterations < 0)
        return caf_error_set(err, CAF_ERR_INVALID, "calibration '%s': max_iterations must be at least 0, not %d",
                             calibration, max_iterations);
    char name[256];
    snprintf(name, sizeof name, "calibration %s", calibration);
    caf_status rc = caf_machine_open(&cm->machine, name, err);
    if (rc == CAF_OK)
        rc = machine_add_tables(cm->machine, calibration_states,
                                sizeof calibration_states / sizeof *calibration_states, calibration_transitions,
                                sizeof calibration_transitions / sizeof *calibration_transitions, err);
    if (rc == CAF_OK)
        rc = caf_machine_add_transition(cm->machine, "iterate", "algorithms_completed", "running_collector",
                                        below_max_iterations, cm, err);
    if (rc == CAF_OK)
        rc = caf_machine_on_enter(cm->machine, "running_collector", count_iteration, cm, err);
    if (rc != CAF_OK) {
        caf_machine_close(cm->machine);
        cm->machine = NULL;
    }
    return rc;
}

void caf_calibration_machine_close(caf_calibration_machine *cm)
{
    caf_machine_close(cm->machine);
    cm->machine = NULL;
}
