/* One execution: choose the runs and the default IoV, reset what belongs to the execution, call
 * calibrate, keep its result, message, payloads and output state. Unlike basf2, the requested runs are
 * sorted before the IoV is taken from them and the output state starts empty each time, so an
 * execution's outcome depends only on its inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"

caf_status caf_algo_sorted_runs(const caf_exprun *runs, size_t count, caf_exprun **out, size_t *out_count,
                                caf_error *err)
{
    *out = NULL;
    *out_count = 0;
    if (count == 0)
        return CAF_OK;
    caf_exprun *copy = malloc(count * sizeof *copy);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    memcpy(copy, runs, count * sizeof *copy);
    *out_count = caf_exprun_sort_unique(copy, count);
    *out = copy;
    return CAF_OK;
}

void caf_algo_reset_execution(caf_algorithm *alg)
{
    caf_algo_cache_clear(alg);
    caf_algo_side_answers_clear(alg);
    caf_algo_payloads_free(alg->payloads, alg->payload_count);
    alg->payloads = NULL;
    alg->payload_count = alg->payload_capacity = 0;
    free(alg->runs);
    alg->runs = NULL;
    alg->run_count = 0;
    alg->iov = CAF_IOV_EMPTY;
    alg->result = CAF_ALGO_UNDEFINED;
    alg->message[0] = '\0';
    alg->executing = false;
    if (alg->output_state)
        json_object_clear(alg->output_state);
}

caf_status caf_algo_require_execution(const caf_algorithm *alg, const char *what, caf_error *err)
{
    if (!alg->executing)
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s: %s is only possible during an execution",
                             alg->full_name, what);
    return CAF_OK;
}

/* The requested runs that were collected; a warning for each that was not. */
static caf_status select_runs(caf_algorithm *alg, const caf_exprun *runs, size_t count, caf_error *err)
{
    if (count == 0 || !runs) {
        caf_status st = caf_algo_load_collected(alg, err);
        return st != CAF_OK ? st
                            : caf_algo_sorted_runs(alg->collected.runs, alg->collected.count, &alg->runs, &alg->run_count,
                                                   err);
    }
    caf_status st = caf_algo_sorted_runs(runs, count, &alg->runs, &alg->run_count, err);
    if (st != CAF_OK)
        return st;
    if (alg->collected.granularity == CAF_GRANULARITY_ALL)
        caf_warning("algorithm %s: the input has granularity 'all': every object holds all collected runs, "
                    "not only the %zu requested",
                    alg->full_name, alg->run_count);
    size_t kept = 0;
    for (size_t i = 0; i < alg->run_count; i++) {
        bool collected;
        if ((st = caf_algo_was_collected(alg, alg->runs[i], &collected, err)) != CAF_OK)
            return st;
        if (collected) {
            alg->runs[kept++] = alg->runs[i];
        } else {
            caf_warning("algorithm %s: run %d,%d was requested but never collected", alg->full_name,
                        alg->runs[i].exp, alg->runs[i].run);
        }
    }
    alg->run_count = kept;
    return CAF_OK;
}

caf_status caf_algorithm_execute(caf_algorithm *alg, const caf_exprun *runs, size_t count, int iteration,
                                 const caf_iov *iov, caf_algo_result *result, caf_error *err)
{
    caf_algo_reset_execution(alg);
    *result = CAF_ALGO_FAILURE;
    alg->result = CAF_ALGO_FAILURE;
    alg->iteration = iteration;
    if (alg->input_count == 0)
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s: no input files", alg->full_name);
    if (iteration < 0)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: iteration %d is negative", alg->full_name,
                             iteration);
    if (iov && caf_iov_validate(*iov, err) != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    if (iov && caf_iov_is_empty(*iov))
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: the IoV of an execution must not be empty",
                             alg->full_name);
    caf_status st = select_runs(alg, runs, count, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    if (alg->run_count == 0) {
        alg->result = *result = CAF_ALGO_NOT_ENOUGH_DATA;
        snprintf(alg->message, sizeof alg->message, "none of the requested runs was collected");
        caf_warning("algorithm %s: %s", alg->full_name, alg->message);
        return CAF_OK;
    }
    alg->iov = iov ? *iov : caf_iov_span_of_runs(alg->runs, alg->run_count);
    alg->executing = true;
    caf_error why = {0};
    caf_algo_result r = alg->d->calibrate(&alg->ctx, &why);
    alg->executing = false;
    if ((unsigned)r >= CAF_ALGO_UNDEFINED) {
        snprintf(alg->message, sizeof alg->message, "calibrate returned %d, which is not a result", (int)r);
        r = CAF_ALGO_FAILURE;
    } else {
        snprintf(alg->message, sizeof alg->message, "%s", why.message);
    }
    alg->result = *result = r;
    caf_algo_cache_clear(alg); /* merged objects are large and belong to this execution only */
    return CAF_OK;
}

caf_status caf_algorithm_pre_algorithm(caf_algorithm *alg, int iteration, caf_error *err)
{
    if (!alg->d->pre_algorithm)
        return CAF_OK;
    caf_status st = alg->d->pre_algorithm(&alg->ctx, iteration, err);
    if (st != CAF_OK)
        caf_error_prefix(err, "algorithm %s: pre_algorithm (iteration %d): ", alg->full_name, iteration);
    return st;
}

caf_status caf_algorithm_setup_experiment(caf_algorithm *alg, int exp, caf_error *err)
{
    if (!alg->d->setup_experiment)
        return caf_error_set(err, CAF_ERR_STATE,
                             "algorithm %s: has_experiment_settings is set but the algorithm has no "
                             "setup_experiment hook",
                             alg->full_name);
    caf_status st = alg->d->setup_experiment(&alg->ctx, exp, err);
    if (st != CAF_OK)
        caf_error_prefix(err, "algorithm %s: experiment %d settings: ", alg->full_name, exp);
    return st;
}

caf_algo_result caf_algorithm_result(const caf_algorithm *alg)
{
    return alg->result;
}

const char *caf_algorithm_message(const caf_algorithm *alg)
{
    return alg->message;
}

const caf_exprun *caf_algorithm_runs(const caf_algorithm *alg, size_t *count)
{
    *count = alg->run_count;
    return alg->runs;
}

caf_iov caf_algorithm_iov(const caf_algorithm *alg)
{
    return alg->iov;
}

const json_t *caf_algorithm_output_state(const caf_algorithm *alg)
{
    return alg->output_state;
}

size_t caf_algorithm_merge_count(const caf_algorithm *alg)
{
    return alg->merges;
}

/* ---- What calibrate sees ---- */

const char *caf_algo_name(const caf_algo_context *ctx)
{
    return ctx->alg->d->name;
}

const caf_exprun *caf_algo_runs(const caf_algo_context *ctx, size_t *count)
{
    *count = ctx->alg->run_count;
    return ctx->alg->runs;
}

int caf_algo_iteration(const caf_algo_context *ctx)
{
    return ctx->alg->iteration;
}

caf_iov caf_algo_default_iov(const caf_algo_context *ctx)
{
    return ctx->alg->iov;
}

const char *caf_algo_granularity(const caf_algo_context *ctx)
{
    return caf_granularity_name(ctx->alg->collected.granularity);
}

const caf_params *caf_algo_params(const caf_algo_context *ctx)
{
    return ctx->alg->params;
}

const char *const *caf_algo_input_files(const caf_algo_context *ctx, size_t *count)
{
    *count = ctx->alg->input_count;
    return (const char *const *)ctx->alg->input_paths;
}

const json_t *caf_algo_input_state(const caf_algo_context *ctx)
{
    return ctx->alg->input_state;
}

json_t *caf_algo_output_state(caf_algo_context *ctx)
{
    return ctx->alg->output_state;
}
