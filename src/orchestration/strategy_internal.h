/* What the strategy files share: one run of a strategy (params, callbacks, the state being replayed or
 * extended) and the steps every strategy is made of. Not a public header. */
#ifndef CAF_STRATEGY_INTERNAL_H
#define CAF_STRATEGY_INTERNAL_H

#include "caf/strategy.h"
#include "caf/strategy_plugin.h"

/* One run of a strategy (caf_strategy_context of caf/strategy_plugin.h): params, callbacks, the state being
 * replayed or extended. The built-ins read their typed params; plugins their parsed plugin_params. */
struct caf_strategy_context {
    const caf_strategy_params *params;
    const caf_strategy_descriptor *desc;
    int iteration;
    const caf_strategy_callbacks *callbacks;
    caf_strategy_state *state;
    const caf_exprun *runs; /* sorted, ignored ones removed */
    size_t run_count;
    caf_params *plugin_params; /* NULL for the built-ins */
    size_t cursor;   /* index of the next execution; below execution_count it is replayed */
    size_t replayed; /* how many executions came from the saved state */
};
typedef struct caf_strategy_context strategy_run;

/* True for OK and ITERATE, the results whose payloads may be committed. */
static inline bool strategy_result_is_success(caf_execution_result result)
{
    return result == CAF_RESULT_OK || result == CAF_RESULT_ITERATE;
}

/* The built-in strategy kind as a descriptor, or NULL for CAF_STRATEGY_PLUGIN and unknown kinds. */
const caf_strategy_descriptor *strategy_builtin(caf_strategy_kind kind);

/* Calls apply_experiment_settings when the parameters ask for it. */
caf_status strategy_apply_experiment_settings(strategy_run *run, int exp, caf_error *err);

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
