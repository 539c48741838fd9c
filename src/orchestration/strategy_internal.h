/* What the strategy files share: one run of a strategy (params, callbacks, the state being replayed or
 * extended) and the steps every strategy is made of. Not a public header. */
#ifndef CAF_STRATEGY_INTERNAL_H
#define CAF_STRATEGY_INTERNAL_H

#include "caf/strategy.h"

typedef struct strategy_run {
    const caf_strategy_params *params;
    int iteration;
    const caf_strategy_callbacks *callbacks;
    caf_strategy_state *state;
    size_t cursor; /* index of the next execution; below execution_count it is replayed */
    size_t replayed; /* how many executions came from the saved state */
} strategy_run;

/* True for OK and ITERATE, the results whose payloads may be committed. */
static inline bool strategy_result_is_success(caf_execution_result result)
{
    return result == CAF_RESULT_OK || result == CAF_RESULT_ITERATE;
}

/* Runs (or replays) the next execution on count runs with the given IoV; *index receives its index in
 * state->executions. */
caf_status strategy_execute(strategy_run *run, const caf_exprun *runs, size_t count, caf_iov iov,
                            caf_execution_result *result, size_t *index, caf_error *err);

/* Commits execution index unless it is already committed. */
caf_status strategy_commit(strategy_run *run, size_t index, caf_error *err);

/* Boundaries of experiment exp found by the algorithm on its runs (recorded, replayed on resume). The
 * returned array belongs to the state. */
caf_status strategy_find_boundaries(strategy_run *run, int exp, const caf_exprun *runs, size_t count,
                                    const caf_exprun **boundaries, size_t *boundary_count, caf_error *err);

/* Calls apply_experiment_settings when the parameters ask for it. */
caf_status strategy_apply_experiment_settings(strategy_run *run, int exp, caf_error *err);

/* Adds an IoV the strategy is responsible for covering (for the gaps). */
caf_status strategy_add_responsible(strategy_run *run, caf_iov iov, caf_error *err);

/* Records that the strategy failed and why; a later failure's reason is appended after "; " (while the
 * reason has room), so a strategy that goes on after a bad experiment names every one. */
void strategy_fail(strategy_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tells the progress callback that the state changed. */
caf_status strategy_progress(strategy_run *run, caf_error *err);

/* Formats "e.r..e.r" (or "e.r" for one run) for messages. */
void strategy_format_runs(const caf_exprun *runs, size_t count, char *buf, size_t size);

/* One piece of work of the sequential strategies: a run or a segment, a slice [first, first + count) of
 * the experiment's sorted runs, and where its payload would start if it is not the first one. */
typedef struct sequential_unit {
    size_t first;
    size_t count;
    caf_exprun start;
} sequential_unit;

/* Splits sorted runs by experiment (*experiments malloc'd) and gives each experiment k its IoV from L to
 * H per the coverage rules (*spans malloc'd), which also become the IoVs the strategy is responsible for.
 * The caller frees both. */
caf_status sequential_split(strategy_run *run, const caf_exprun *runs, size_t count, caf_run_group **experiments,
                            size_t *experiment_count, caf_iov **spans, caf_error *err);

/* The sequential merging over units of one experiment (runs are the experiment's sorted runs): executes
 * step units at a time, adds more on NOT_ENOUGH_DATA, holds a success back until the next one, merges
 * trailing units without enough data into the held-back success. On failure records it in the state. */
caf_status sequential_execute_units(strategy_run *run, const caf_exprun *runs, const sequential_unit *units,
                                    size_t unit_count, size_t step, caf_iov span, caf_error *err);

caf_status strategy_run_single_iov(strategy_run *run, const caf_exprun *runs, size_t count, caf_error *err);
caf_status strategy_run_simple_run_by_run(strategy_run *run, const caf_exprun *runs, size_t count,
                                          caf_error *err);
caf_status strategy_run_sequential_run_by_run(strategy_run *run, const caf_exprun *runs, size_t count,
                                              caf_error *err);
caf_status strategy_run_sequential_boundaries(strategy_run *run, const caf_exprun *runs, size_t count,
                                              caf_error *err);

#endif
