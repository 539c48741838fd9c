/* ExampleGainAlgorithm: the algorithm half of a gain calibration on the toy detector (`caf gen toy`),
 * reading what ExampleHitCollector collects.
 *
 * Every hit's amplitude is gain * energy, and most hits deposit a fixed energy (CAF_TOY_PEAK_ENERGY), so
 * each channel's amplitude spectrum peaks at gain * energy. For the requested runs the algorithm takes
 * the merged 2-D histogram "amplitude" (channel x amplitude), fits a Gaussian on a straight line around
 * each channel's peak (GSL) and saves the payload ExampleGains: per channel the gain, its uncertainty and
 * a dead flag (a channel without a single hit). A live channel with fewer than min_entries counts in its
 * peak window means NOT_ENOUGH_DATA (merging more runs will fix it); a failed fit is a FAILURE.
 * The output state holds the number of calibrated channels and the mean gain; with a previous gains
 * payload in the database chain it also logs how far the gains moved. docs/algorithms.md walks through
 * this file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm.h"
#include "caf/log.h"
#include "peak_fit.h"

static const caf_param_spec gain_params[] = {
    {"histogram", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "amplitude", "the collected channel x amplitude "
     "histogram"},
    {"payload", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "ExampleGains", "name of the payload saved"},
    {"peak_energy", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "100.0", "energy of the peak line (gain = peak "
     "position / peak_energy)"},
    {"min_entries", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "100", "least counts in a live channel's peak window"},
    {"search_low", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "50.0", "lowest amplitude where a peak is looked for"},
    {"search_high", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "250.0", "highest amplitude where a peak is looked "
     "for"},
    {"fit_half_width", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "12.0", "the fit spans the highest bin +- this"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct gains {
    int channels;
    double *gain, *error, *dead;
} gains;

static void gains_free(gains *g)
{
    free(g->gain);
    free(g->error);
    free(g->dead);
}

/* Fits channel c's slice of the histogram. Returns the result to end with, or UNDEFINED to go on. */
static caf_algo_result fit_channel(const caf_object *h, int c, const caf_params *p, double *x, double *y,
                                   gains *g, caf_error *err)
{
    int ny = caf_hist2d_ny(h);
    double low = caf_hist2d_ylow(h), width = (caf_hist2d_yhigh(h) - low) / ny, total = 0;
    for (int iy = 1; iy <= ny; iy++) {
        x[iy - 1] = low + (iy - 0.5) * width;
        y[iy - 1] = caf_hist2d_content(h, c + 1, iy);
        total += y[iy - 1];
    }
    if (total == 0) {
        g->dead[c] = 1.0;
        caf_info("channel %d: dead (no hits)", c);
        return CAF_ALGO_UNDEFINED;
    }
    peak_fit fit = {0};
    int64_t min_entries = caf_params_int(p, "min_entries", 100);
    int rc = peak_fit_spectrum(x, y, (size_t)ny, width, caf_params_double(p, "search_low", 50.0),
                               caf_params_double(p, "search_high", 250.0),
                               caf_params_double(p, "fit_half_width", 12.0), &fit);
    if ((int64_t)fit.entries < min_entries) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "channel %d has %zu entries in its peak window, fewer than %lld", c,
                      fit.entries, (long long)min_entries);
        return CAF_ALGO_NOT_ENOUGH_DATA;
    }
    if (rc != 0) {
        caf_error_set(err, CAF_ERR_EXTERNAL, "channel %d: the peak fit failed (%zu entries)", c, fit.entries);
        return CAF_ALGO_FAILURE;
    }
    double energy = caf_params_double(p, "peak_energy", 100.0);
    g->gain[c] = fit.mean / energy;
    g->error[c] = fit.mean_error / energy;
    caf_debug("channel %d: peak %.3f +- %.3f, sigma %.2f, chi2/ndf %.2f, %zu entries: gain %.5f +- %.5f", c,
              fit.mean, fit.mean_error, fit.sigma, fit.chi2_ndf, fit.entries, g->gain[c], g->error[c]);
    return CAF_ALGO_UNDEFINED;
}

/* Logs how far the gains moved since the payload the chain holds for the first run, if any. */
static void compare_with_previous(caf_algo_context *ctx, const char *payload, const gains *g)
{
    size_t count;
    const caf_exprun *runs = caf_algo_runs(ctx, &count);
    caf_constants *previous;
    caf_error err = {0};
    if (caf_algo_read_constants(ctx, payload, runs[0], &previous, &err) != CAF_OK)
        return; /* the first calibration: nothing to compare with */
    double *old;
    size_t n;
    if (caf_constants_get_array(previous, "gain", &old, &n, &err) == CAF_OK && n == (size_t)g->channels) {
        double largest = 0;
        for (size_t c = 0; c < n; c++)
            if (old[c] > 0 && g->gain[c] > 0)
                largest = fmax(largest, fabs(g->gain[c] / old[c] - 1.0));
        caf_info("gains moved by at most %.3f%% since the previous payload", 100.0 * largest);
        json_object_set_new(caf_algo_output_state(ctx), "largest_change", json_real(largest));
    }
    free(old);
    caf_constants_free(previous);
}

static caf_algo_result save(caf_algo_context *ctx, const caf_params *p, const gains *g, caf_error *err)
{
    caf_constants *c;
    if (caf_constants_new(&c, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_status st = caf_constants_set_array(c, "gain", g->gain, (size_t)g->channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "gain_error", g->error, (size_t)g->channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "dead", g->dead, (size_t)g->channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(c, "peak_energy", caf_params_double(p, "peak_energy", 100.0), err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, caf_params_string(p, "payload", "ExampleGains"), c, NULL, err);
    caf_constants_free(c);
    return st == CAF_OK ? CAF_ALGO_UNDEFINED : CAF_ALGO_FAILURE;
}

static caf_algo_result calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_params *p = caf_algo_params(ctx);
    const caf_object *h;
    if (caf_algo_get_object(ctx, caf_params_string(p, "histogram", "amplitude"), &h, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    if (caf_object_kind_of(h) != CAF_OBJECT_HIST2D) {
        caf_error_set(err, CAF_ERR_INVALID, "object %s is a %s, not a channel x amplitude hist2d",
                      caf_params_string(p, "histogram", "amplitude"), caf_object_type_name(h));
        return CAF_ALGO_FAILURE;
    }
    gains g = {caf_hist2d_nx(h), NULL, NULL, NULL};
    int ny = caf_hist2d_ny(h);
    g.gain = calloc((size_t)g.channels, sizeof(double));
    g.error = calloc((size_t)g.channels, sizeof(double));
    g.dead = calloc((size_t)g.channels, sizeof(double));
    double *x = malloc((size_t)ny * sizeof *x), *y = malloc((size_t)ny * sizeof *y);
    caf_algo_result r = g.gain && g.error && g.dead && x && y ? CAF_ALGO_UNDEFINED : CAF_ALGO_FAILURE;
    for (int c = 0; c < g.channels && r == CAF_ALGO_UNDEFINED; c++)
        r = fit_channel(h, c, p, x, y, &g, err);
    free(x);
    free(y);
    if (r == CAF_ALGO_UNDEFINED) {
        compare_with_previous(ctx, caf_params_string(p, "payload", "ExampleGains"), &g);
        r = save(ctx, p, &g, err);
    }
    if (r == CAF_ALGO_UNDEFINED) {
        int live = 0;
        double sum = 0;
        for (int c = 0; c < g.channels; c++)
            if (!g.dead[c]) {
                live++;
                sum += g.gain[c];
            }
        json_t *state = caf_algo_output_state(ctx);
        json_object_set_new(state, "calibrated_channels", json_integer(live));
        json_object_set_new(state, "mean_gain", json_real(live ? sum / live : 0.0));
        caf_info("%d of %d channels calibrated, mean gain %.4f", live, g.channels, live ? sum / live : 0.0);
        r = CAF_ALGO_OK;
    }
    gains_free(&g);
    return r;
}

static const caf_algorithm_descriptor gain_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "gains",
    .description = "Per-channel gains from the peak of each channel's amplitude spectrum (ExampleHitCollector), "
                   "fitted with a Gaussian on a straight line; saves ExampleGains (gain, gain_error, dead).",
    .collector = "ExampleHitCollector",
    .params = gain_params,
    .calibrate = calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&gain_algorithm, NULL};
    return list;
}
