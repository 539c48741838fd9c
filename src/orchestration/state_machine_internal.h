/* The state machine's representation, shared by state_machine.c and state_machine_dot.c. */
#ifndef CAF_STATE_MACHINE_INTERNAL_H
#define CAF_STATE_MACHINE_INTERNAL_H

#include <stdint.h>

#include "caf/state_machine.h"

#define MACHINE_NONE SIZE_MAX

typedef struct machine_hook {
    bool enter;
    caf_machine_callback callback;
    void *userdata;
} machine_hook;

typedef struct machine_state {
    char *name;
    machine_hook *hooks;
    size_t hook_count;
} machine_state;

typedef struct machine_transition {
    char *name;
    size_t source, dest;
    caf_machine_condition condition;
    void *userdata;
} machine_transition;

struct caf_machine {
    char *name;
    machine_state *states;
    size_t state_count;
    machine_transition *transitions;
    size_t transition_count;
    size_t current;
};

/* Adds states and unconditional transitions ({name, source, dest} triples) from tables. */
caf_status machine_add_tables(caf_machine *m, const char *const *states, size_t state_count,
                              const char *const (*transitions)[3], size_t transition_count, caf_error *err);

/* Index of state, or MACHINE_NONE. */
size_t machine_find_state(const caf_machine *m, const char *state);

#endif
