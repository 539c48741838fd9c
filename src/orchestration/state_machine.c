/* Generic state machines: states, checked transitions with conditions, enter/exit callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestration/state_machine_internal.h"

caf_status caf_machine_open(caf_machine **out, const char *name, caf_error *err)
{
    *out = NULL;
    caf_machine *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name))) {
        free(m);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory creating machine '%s'", name);
    }
    *out = m;
    return CAF_OK;
}

void caf_machine_close(caf_machine *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->state_count; i++) {
        free(m->states[i].name);
        free(m->states[i].hooks);
    }
    for (size_t i = 0; i < m->transition_count; i++)
        free(m->transitions[i].name);
    free(m->states);
    free(m->transitions);
    free(m->name);
    free(m);
}

size_t machine_find_state(const caf_machine *m, const char *state)
{
    for (size_t i = 0; i < m->state_count; i++)
        if (strcmp(m->states[i].name, state) == 0)
            return i;
    return MACHINE_NONE;
}

caf_status caf_machine_add_state(caf_machine *m, const char *state, caf_error *err)
{
    if (machine_find_state(m, state) != MACHINE_NONE)
        return caf_error_set(err, CAF_ERR_EXISTS, "machine '%s' already has state '%s'", m->name, state);
    machine_state *grown = realloc(m->states, (m->state_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    m->states = grown;
    machine_state *s = &m->states[m->state_count];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(state)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    m->state_count++;
    return CAF_OK;
}

caf_status machine_add_tables(caf_machine *m, const char *const *states, size_t state_count,
                              const char *const (*transitions)[3], size_t transition_count, caf_error *err)
{
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < state_count; i++)
        rc = caf_machine_add_state(m, states[i], err);
    for (size_t i = 0; rc == CAF_OK && i < transition_count; i++)
        rc = caf_machine_add_transition(m, transitions[i][0], transitions[i][1], transitions[i][2], NULL, NULL, err);
    return rc;
}

static caf_status state_index(const caf_machine *m, const char *state, size_t *index, caf_error *err)
{
    *index = machine_find_state(m, state);
    if (*index == MACHINE_NONE)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "machine '%s' has no state '%s'", m->name, state);
    return CAF_OK;
}

caf_status caf_machine_add_transition(caf_machine *m, const char *name, const char *source, const char *dest,
                                      caf_machine_condition condition, void *userdata, caf_error *err)
{
    size_t from, to;
    caf_status rc = state_index(m, source, &from, err);
    if (rc == CAF_OK)
        rc = state_index(m, dest, &to, err);
    if (rc != CAF_OK)
        return rc;
    for (size_t i = 0; i < m->transition_count; i++)
        if (m->transitions[i].source == from && strcmp(m->transitions[i].name, name) == 0)
            return caf_error_set(err, CAF_ERR_EXISTS, "machine '%s' already has transition '%s' from '%s'",
                                 m->name, name, source);
    machine_transition *grown = realloc(m->transitions, (m->transition_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    m->transitions = grown;
    machine_transition *t = &m->transitions[m->transition_count];
    *t = (machine_transition){.source = from, .dest = to, .condition = condition, .userdata = userdata};
    if (!(t->name = strdup(name)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    m->transition_count++;
    return CAF_OK;
}

static caf_status add_hook(caf_machine *m, const char *state, bool enter, caf_machine_callback callback,
                           void *userdata, caf_error *err)
{
    size_t i;
    caf_status rc = state_index(m, state, &i, err);
    if (rc != CAF_OK)
        return rc;
    machine_state *s = &m->states[i];
    machine_hook *grown = realloc(s->hooks, (s->hook_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    s->hooks = grown;
    s->hooks[s->hook_count++] = (machine_hook){.enter = enter, .callback = callback, .userdata = userdata};
    return CAF_OK;
}

caf_status caf_machine_on_enter(caf_machine *m, const char *state, caf_machine_callback callback, void *userdata,
                                caf_error *err)
{
    return add_hook(m, state, true, callback, userdata, err);
}

caf_status caf_machine_on_exit(caf_machine *m, const char *state, caf_machine_callback callback, void *userdata,
                               caf_error *err)
{
    return add_hook(m, state, false, callback, userdata, err);
}

caf_status caf_machine_set_state(caf_machine *m, const char *state, caf_error *err)
{
    size_t i;
    caf_status rc = state_index(m, state, &i, err);
    if (rc == CAF_OK)
        m->current = i;
    return rc;
}

const char *caf_machine_state(const caf_machine *m)
{
    return m->state_count ? m->states[m->current].name : "";
}

const char *caf_machine_name(const caf_machine *m)
{
    return m->name;
}

static const machine_transition *find_transition(const caf_machine *m, const char *name)
{
    for (size_t i = 0; i < m->transition_count; i++)
        if (m->transitions[i].source == m->current && strcmp(m->transitions[i].name, name) == 0)
            return &m->transitions[i];
    return NULL;
}

bool caf_machine_can_fire(const caf_machine *m, const char *transition)
{
    const machine_transition *t = find_transition(m, transition);
    char why[8];
    return t && (!t->condition || t->condition(m, t->userdata, why, sizeof why));
}

static void run_hooks(const caf_machine *m, size_t state, bool enter, const char *transition)
{
    const machine_state *s = &m->states[state];
    for (size_t i = 0; i < s->hook_count; i++)
        if (s->hooks[i].enter == enter)
            s->hooks[i].callback(m, s->name, transition, s->hooks[i].userdata);
}

caf_status caf_machine_fire(caf_machine *m, const char *transition, caf_error *err)
{
    const machine_transition *t = find_transition(m, transition);
    if (!t)
        return caf_error_set(err, CAF_ERR_STATE,
                             "internal error: machine '%s': transition '%s' is not allowed in state '%s'", m->name,
                             transition, caf_machine_state(m));
    char why[256] = "its condition does not hold";
    if (t->condition && !t->condition(m, t->userdata, why, sizeof why))
        return caf_error_set(err, CAF_ERR_STATE, "internal error: machine '%s': transition '%s' refused in state "
                             "'%s': %s", m->name, transition, caf_machine_state(m), why);
    size_t dest = t->dest;
    run_hooks(m, m->current, false, transition);
    m->current = dest;
    run_hooks(m, dest, true, transition);
    return CAF_OK;
}
