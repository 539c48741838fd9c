/* TutorialAlgorithm: the algorithm of docs/tutorial.md. From TutorialCollector's counters, merged over
 * the runs the strategy asks for, it computes the mean hit time t0 and its uncertainty and saves them as
 * the payload TutorialT0. Fewer than min_hits hits is NOT_ENOUGH_DATA, so that a strategy such as
 * SequentialRunByRun merges a short run with the next one. */
#include <math.h>

#include "caf/algorithm.h"
#include "caf/log.h"

static const caf_param_spec params[] = {
    {"min_hits", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "10000", "least hits for a payload"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_algo_result calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_object *time, *time2;
    if (caf_algo_get_object(ctx, "time", &time, err) != CAF_OK ||
        caf_algo_get_object(ctx, "time2", &time2, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    int64_t hits = caf_counter_count(time);
    int64_t min_hits = caf_params_int(caf_algo_params(ctx), "min_hits", 10000);
    if (hits < min_hits || hits < 2) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "%lld hits, fewer than min_hits (%lld)", (long long)hits,
                      (long long)min_hits);
        return CAF_ALGO_NOT_ENOUGH_DATA;
    }
    double mean = caf_counter_sum(time) / (double)hits;
    double variance = caf_counter_sum(time2) / (double)hits - mean * mean;
    double error = sqrt(fmax(variance, 0.0) / (double)(hits - 1));

    caf_constants *t0;
    if (caf_constants_new(&t0, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_status st = caf_constants_set_double(t0, "t0", mean, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(t0, "t0_error", error, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(t0, "hits", hits, err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, "TutorialT0", t0, NULL, err); /* NULL: the default IoV */
    caf_constants_free(t0);
    if (st != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_info("t0 = %.3f +- %.3f from %lld hits", mean, error, (long long)hits);
    return CAF_ALGO_OK;
}

static const caf_algorithm_descriptor t0_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "t0",
    .description = "Mean hit time t0 and its uncertainty from TutorialCollector; saves TutorialT0.",
    .collector = "TutorialCollector",
    .params = params,
    .calibrate = calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&t0_algorithm, NULL};
    return list;
}
