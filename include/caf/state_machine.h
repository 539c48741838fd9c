/* State machines: named states, named transitions between them (one name may leave several states),
 * optional conditions on transitions, enter/exit callbacks, and Graphviz output. Every transition is
 * checked: firing one that does not leave the current state is an internal error naming the machine, the
 * state and the transition, never a silent no-op.
 *
 * Two machines are predefined, as in the reference CAF: a calibration's (init → running_collector →
 * collector_completed | collector_failed → running_algorithms → algorithms_completed | algorithms_failed
 * → completed | failed, and iterate back to running_collector below max_iterations) and an algorithm's
 * (init, ready, running_algorithm, completed, failed). */
#ifndef CAF_STATE_MACHINE_H
#define CAF_STATE_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_machine caf_machine;

/* Called when a state is entered or left; transition is the name fired (NULL when set directly). */
typedef void (*caf_machine_callback)(const caf_machine *machine, const char *state, const char *transition,
                                     void *userdata);

/* Decides whether a transition may fire now; when not, writes the reason into why (size why_size). */
typedef bool (*caf_machine_condition)(const caf_machine *machine, void *userdata, char *why, size_t why_size);

/* Creates an empty machine called name (used in messages and as the graph's name); close it when done. */
caf_status caf_machine_open(caf_machine **out, const char *name, caf_error *err);

/* Frees the machine (NULL is fine). */
void caf_machine_close(caf_machine *machine);

/* Adds a state; the first state added is the current one until caf_machine_set_state. */
caf_status caf_machine_add_state(caf_machine *machine, const char *state, caf_error *err);

/* Adds a transition called name from source to dest, with an optional condition (NULL: always). */
caf_status caf_machine_add_transition(caf_machine *machine, const char *name, const char *source,
                                      const char *dest, caf_machine_condition condition, void *userdata,
                                      caf_error *err);

/* Registers a callback run when state is entered (after the state changed). */
caf_status caf_machine_on_enter(caf_machine *machine, const char *state, caf_machine_callback callback,
                                void *userdata, caf_error *err);

/* Registers a callback run when state is left (before the state changes). */
caf_status caf_machine_on_exit(caf_machine *machine, const char *state, caf_machine_callback callback,
                               void *userdata, caf_error *err);

/* Puts the machine in state without callbacks (to restore a saved state). */
caf_status caf_machine_set_state(caf_machine *machine, const char *state, caf_error *err);

/* Returns the current state's name (owned by the machine). */
const char *caf_machine_state(const caf_machine *machine);

/* Returns the machine's name (owned by the machine). */
const char *caf_machine_name(const caf_machine *machine);

/* True if transition leaves the current state and its condition holds. */
bool caf_machine_can_fire(const caf_machine *machine, const char *transition);

/* Fires transition: exit callbacks of the current state, the change, enter callbacks of the new one.
 * A transition that does not leave the current state, or whose condition refuses, is CAF_ERR_STATE with
 * "internal error: ..." naming the machine, the state and the transition. */
caf_status caf_machine_fire(caf_machine *machine, const char *transition, caf_error *err);

/* Returns the machine as a Graphviz digraph (malloc'd, caller frees; NULL when out of memory). The
 * current state is filled. */
char *caf_machine_to_dot(const caf_machine *machine);

/* Writes the Graphviz digraph to path atomically. */
caf_status caf_machine_write_dot(const caf_machine *machine, const char *path, caf_error *err);

/* ---- the calibration machine ---- */

/* A calibration's machine and its iteration counter (iterations are numbered from 0). Keep it at a fixed
 * address while open: the machine's callbacks point to it. */
typedef struct caf_calibration_machine {
    caf_machine *machine;
    int iteration;
    int max_iterations; /* another iteration while iteration < max_iterations: passes 0 .. max_iterations */
} caf_calibration_machine;

/* Builds the calibration machine for calibration (in state init, iteration 0). Transitions:
 * submit_collector, complete, fail, run_algorithms, iterate (only while iteration < max_iterations, as basf2;
 * increments iteration), finish, fail_fully. */
caf_status caf_calibration_machine_init(caf_calibration_machine *cm, const char *calibration, int max_iterations,
                                        caf_error *err);

/* Frees the machine. */
void caf_calibration_machine_close(caf_calibration_machine *cm);

/* True if another iteration is allowed (iteration < max_iterations). */
bool caf_calibration_machine_can_iterate(const caf_calibration_machine *cm);

/* ---- the algorithm machine ---- */

/* Builds the machine of one algorithm (in state init). Transitions: setup_algorithm (init, completed or
 * failed → ready), execute_runs (ready → running_algorithm), complete, fail. Close with caf_machine_close. */
caf_status caf_algorithm_machine_open(caf_machine **out, const char *algorithm, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
