/* ExampleChannelStatusAlgorithm: dead and hot channels of the toy detector from the hit counts that
 * ExampleHitCollector fills ("hits", one bin per channel).
 *
 * Meant for SimpleRunByRun (one payload per run): a channel can die or turn noisy between runs.
 * With the median count of the run's channels as the reference,
 *   dead  = no hit at all,
 *   hot   = more than hot_factor times the median,
 *   good  = anything else.
 * Both tests are only meaningful with enough hits: with a median below min_median_hits (a short run) the
 * run is undecidable and every channel gets status "unknown" (-1) instead of a guess. The algorithm
 * still succeeds there, because SimpleRunByRun fails the whole calibration on any unsuccessful run and
 * an honest "unknown" is a valid answer for a run of a few events. The payload ExampleChannelStatus
 * holds status[c] (0 good, 1 dead, 2 hot, -1 unknown) and the median it used. */
#include <stdlib.h>

#include "caf/algorithm.h"
#include "caf/log.h"

enum { STATUS_UNKNOWN = -1, STATUS_GOOD = 0, STATUS_DEAD = 1, STATUS_HOT = 2 };

static const caf_param_spec status_params[] = {
    {"histogram", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "hits", "the collected hits-per-channel histogram"},
    {"payload", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "ExampleChannelStatus", "name of the payload saved"},
    {"hot_factor", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "1.5", "a channel with more than this times the "
     "median count is hot"},
    {"min_median_hits", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "50", "least median count per channel for a "
     "decision; below it every channel is unknown"},
    {NULL, 0, 0, NULL, NULL},
};

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static caf_algo_result calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_params *p = caf_algo_params(ctx);
    const caf_object *h;
    if (caf_algo_get_object(ctx, caf_params_string(p, "histogram", "hits"), &h, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    if (caf_object_kind_of(h) != CAF_OBJECT_HIST1D) {
        caf_error_set(err, CAF_ERR_INVALID, "object %s is a %s, not a hits-per-channel hist1d",
                      caf_params_string(p, "histogram", "hits"), caf_object_type_name(h));
        return CAF_ALGO_FAILURE;
    }
    int n = caf_hist1d_nbins(h);
    double *count = malloc((size_t)n * sizeof *count), *sorted = malloc((size_t)n * sizeof *sorted);
    double *status = malloc((size_t)n * sizeof *status);
    caf_constants *c = NULL;
    caf_algo_result r = CAF_ALGO_FAILURE;
    if (!count || !sorted || !status) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        sorted[i] = count[i] = caf_hist1d_content(h, i + 1);
    qsort(sorted, (size_t)n, sizeof *sorted, by_value);
    double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    bool decidable = median >= (double)caf_params_int(p, "min_median_hits", 50);
    double hot_factor = caf_params_double(p, "hot_factor", 1.5);
    int dead = 0, hot = 0;
    for (int i = 0; i < n; i++) {
        status[i] = !decidable ? STATUS_UNKNOWN
                    : count[i] == 0 ? STATUS_DEAD
                    : count[i] > hot_factor * median ? STATUS_HOT
                                                     : STATUS_GOOD;
        dead += status[i] == STATUS_DEAD;
        hot += status[i] == STATUS_HOT;
    }
    if (decidable)
        caf_info("median %.0f hits per channel: %d dead, %d hot", median, dead, hot);
    else
        caf_warning("median %.0f hits per channel is too few to decide: every channel unknown", median);
    caf_status st = caf_constants_new(&c, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "status", status, (size_t)n, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(c, "median_hits", median, err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, caf_params_string(p, "payload", "ExampleChannelStatus"), c, NULL, err);
    if (st == CAF_OK) {
        json_t *state = caf_algo_output_state(ctx);
        json_object_set_new(state, "dead", json_integer(dead));
        json_object_set_new(state, "hot", json_integer(hot));
        json_object_set_new(state, "decidable", json_boolean(decidable));
        r = CAF_ALGO_OK;
    }
done:
    caf_constants_free(c);
    free(count);
    free(sorted);
    free(status);
    return r;
}

static const caf_algorithm_descriptor status_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "status",
    .description = "Dead and hot channels from the hits per channel (ExampleHitCollector); saves "
                   "ExampleChannelStatus (status: 0 good, 1 dead, 2 hot, -1 unknown in runs too short to tell).",
    .collector = "ExampleHitCollector",
    .params = status_params,
    .calibrate = calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&status_algorithm, NULL};
    return list;
}
