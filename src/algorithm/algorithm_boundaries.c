/* Payload-boundary finding: the algorithm looks at one run at a time (its requested runs set to just that
 * run) and says where a new payload must start. Unlike basf2 the result is sorted and de-duplicated, and
 * the execution data are reset before and after, so no execution's payloads are mixed into it. */
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"

caf_status caf_algo_add_boundary(caf_algo_context *ctx, caf_exprun r, caf_error *err)
{
    caf_algorithm *alg = ctx->alg;
    if (caf_algo_require_execution(alg, "adding payload boundaries", err) != CAF_OK)
        return CAF_ERR_STATE;
    if (r.exp < 0 || r.run < 0)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: boundary %d,%d is not a run", alg->full_name, r.exp,
                             r.run);
    void *items = alg->boundaries;
    caf_status st = caf_algo_reserve(&items, &alg->boundary_capacity, alg->boundary_count + 1, sizeof(caf_exprun), err);
    alg->boundaries = items;
    if (st != CAF_OK)
        return st;
    alg->boundaries[alg->boundary_count++] = r;
    return CAF_OK;
}

/* Asks the hook about each run in turn, with the requested runs narrowed to that run. */
static caf_status ask_each_run(caf_algorithm *alg, const caf_exprun *runs, size_t count, void *state,
                               caf_error *err)
{
    caf_status st = CAF_OK;
    for (size_t i = 0; i < count && st == CAF_OK; i++) {
        alg->runs[0] = runs[i];
        alg->run_count = 1;
        alg->iov = caf_iov_of_run(runs[i]);
        bool required = false;
        st = alg->d->is_boundary_required(&alg->ctx, state, runs[i], &required, err);
        if (st != CAF_OK)
            caf_error_prefix(err, "algorithm %s: run %d,%d: ", alg->full_name, runs[i].exp, runs[i].run);
        else if (required)
            st = caf_algo_add_boundary(&alg->ctx, runs[i], err);
        caf_algo_cache_clear(alg); /* one run's objects are of no use for the next */
    }
    return st;
}

caf_status caf_algorithm_find_boundaries(caf_algorithm *alg, const caf_exprun *runs, size_t count, int iteration,
                                         caf_exprun **boundaries, size_t *boundary_count, caf_error *err)
{
    *boundaries = NULL;
    *boundary_count = 0;
    caf_algo_reset_execution(alg);
    alg->boundary_count = 0;
    if (alg->input_count == 0)
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s: no input files", alg->full_name);
    if (!alg->d->is_boundary_required)
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s does not implement is_boundary_required",
                             alg->full_name);
    if (alg->collected.granularity != CAF_GRANULARITY_RUN)
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s: finding payload boundaries needs granularity 'run', "
                             "but the input has '%s'", alg->full_name,
                             caf_granularity_name(alg->collected.granularity));
    caf_exprun *list;
    size_t n;
    caf_status st = caf_algo_load_collected(alg, err); /* every run is looked at: read the whole list */
    if (st != CAF_OK)
        return st;
    st = runs && count ? caf_algo_sorted_runs(runs, count, &list, &n, err)
                       : caf_algo_sorted_runs(alg->collected.runs, alg->collected.count, &list, &n, err);
    if (st != CAF_OK)
        return st;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (caf_run_range_contains(&alg->collected, list[i]))
            list[kept++] = list[i];
        else
            caf_warning("algorithm %s: run %d,%d was requested but never collected", alg->full_name, list[i].exp,
                        list[i].run);
    }
    if (kept == 0) {
        free(list);
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s: no collected run to find boundaries in",
                             alg->full_name);
    }
    alg->runs = malloc(sizeof *alg->runs);
    if (!alg->runs) {
        free(list);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    alg->iteration = iteration;
    alg->executing = true;
    void *state = NULL;
    if (alg->d->boundary_setup) {
        st = alg->d->boundary_setup(&alg->ctx, list, kept, &state, err);
        if (st != CAF_OK)
            caf_error_prefix(err, "algorithm %s: boundary setup: ", alg->full_name);
    }
    if (st == CAF_OK) {
        st = ask_each_run(alg, list, kept, state, err);
        if (alg->d->boundary_teardown)
            alg->d->boundary_teardown(&alg->ctx, state);
    }
    free(list);
    caf_algo_reset_execution(alg);
    if (st != CAF_OK) {
        alg->boundary_count = 0;
        return st;
    }
    size_t unique = caf_exprun_sort_unique(alg->boundaries, alg->boundary_count);
    if (unique) {
        *boundaries = malloc(unique * sizeof **boundaries);
        if (!*boundaries)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        memcpy(*boundaries, alg->boundaries, unique * sizeof **boundaries);
    }
    *boundary_count = unique;
    alg->boundary_count = 0;
    return CAF_OK;
}
