/* ExampleTimeAlgorithm: per-channel time offsets t0 and the time-walk coefficient W of the toy detector,
 * from the hits ExampleTimeCollector keeps. It needs the gains: the campaign makes the time calibration
 * depend on the gain calibration, whose payloads (ExampleGains) come through the database chain.
 *
 * Model (the toy's, truth.json "note"): a hit of energy E in channel c has the time
 *     t = t0[c] + W * x(E) + jitter,   x(E) = sqrt(peak_energy / E) - 1,
 * the walk of a leading-edge discriminator whose threshold is set in energy units; E = amplitude / gain
 * with the gain valid for the hit's run, read per run from the chain.
 *
 * Why it iterates. Hot channels add hits at random times and the walk tail is long, so the fit only uses
 * hits whose residual t - t0[c] - W x lies within +-window of the current estimate. In the first
 * iteration there is no estimate: t0[c] starts at the median time of the channel and W at 0, so the
 * window cuts the low-energy (large-walk) hits and the fitted W comes out too small; the next iteration
 * centres the window on the better estimate, lets more of the tail in, and W and t0 move again, until the
 * largest change is below `tolerance`. The algorithm returns ITERATE (its payload is committed and heads
 * the database chain of the next iteration, where it reads it back) until then, and OK once converged.
 * caf re-runs the collector between iterations; this collector does not apply the constants, so it
 * collects the same hits again. A real time calibration usually does apply them there (in the track
 * time reconstruction, say); the loop is the same.
 *
 * Each fit is linear least squares for t - t0[c] - W x = a[c] + dW x: dW from the within-channel
 * regression (gsl_fit_mul on the hits' deviations from their channel means), then a[c] from the channel
 * means. Payload ExampleTimeOffsets: t0[c], t0_error[c] (statistical, including W's uncertainty), walk,
 * walk_error, used[c] (hits in the window), change (largest change against the previous iteration). */
#include <gsl/gsl_fit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm.h"
#include "caf/log.h"

static const caf_param_spec time_params[] = {
    {"ntuple", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "hits", "the collected hits ntuple"},
    {"payload", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "ExampleTimeOffsets", "name of the payload saved"},
    {"gains", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "ExampleGains", "the gains payload read from the chain"},
    {"peak_energy", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "100.0", "energy at which the walk is zero"},
    {"min_energy", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "5.0", "hits below this energy are not used"},
    {"window", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "1.5", "half width (ns) of the residual window"},
    {"tolerance", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "0.01", "converged when no t0 and not W change by "
     "more than this (ns) between iterations"},
    {"min_hits", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "30", "least hits in the window of a live channel"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct hits {
    size_t n, cap;
    int *channel;
    double *x, *t;
} hits;

static void hits_free(hits *h)
{
    free(h->channel);
    free(h->x);
    free(h->t);
}

static bool hits_add(hits *h, int channel, double x, double t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4096;
        int *c = realloc(h->channel, cap * sizeof *c);
        if (c)
            h->channel = c;
        double *xs = realloc(h->x, cap * sizeof *xs);
        if (xs)
            h->x = xs;
        double *ts = realloc(h->t, cap * sizeof *ts);
        if (ts)
            h->t = ts;
        if (!c || !xs || !ts)
            return false;
        h->cap = cap;
    }
    h->channel[h->n] = channel;
    h->x[h->n] = x;
    h->t[h->n] = t;
    h->n++;
    return true;
}

/* Reads every requested run's hits, converting amplitudes to energies with that run's gains. */
static caf_algo_result read_hits(caf_algo_context *ctx, const caf_params *p, int channels, double *dead, hits *out,
                                 caf_error *err)
{
    size_t nruns;
    const caf_exprun *runs = caf_algo_runs(ctx, &nruns);
    double e0 = caf_params_double(p, "peak_energy", 100.0), emin = caf_params_double(p, "min_energy", 5.0);
    const char *gains_name = caf_params_string(p, "gains", "ExampleGains");
    for (size_t r = 0; r < nruns; r++) {
        const caf_object *nt;
        if (caf_algo_get_object_for_runs(ctx, caf_params_string(p, "ntuple", "hits"), &runs[r], 1, &nt, err) != CAF_OK)
            return CAF_ALGO_FAILURE;
        caf_constants *gc;
        if (caf_algo_read_constants(ctx, gains_name, runs[r], &gc, err) != CAF_OK) {
            caf_error_prefix(err, "run %d.%d needs %s from the database chain (depends_on the gain calibration)",
                             runs[r].exp, runs[r].run, gains_name);
            return CAF_ALGO_FAILURE;
        }
        double *gain = NULL, *gdead = NULL;
        size_t ng = 0, nd = 0;
        caf_status st = caf_constants_get_array(gc, "gain", &gain, &ng, err);
        if (st == CAF_OK)
            st = caf_constants_get_array(gc, "dead", &gdead, &nd, err);
        caf_constants_free(gc);
        if (st == CAF_OK && (ng != (size_t)channels || nd != (size_t)channels))
            st = caf_error_set(err, CAF_ERR_INVALID, "%s at run %d.%d has %zu channels, not %d", gains_name,
                               runs[r].exp, runs[r].run, ng, channels);
        long cc = caf_ntuple_column_index(nt, "channel"), ca = caf_ntuple_column_index(nt, "amplitude"),
             ct = caf_ntuple_column_index(nt, "time");
        if (st == CAF_OK && (cc < 0 || ca < 0 || ct < 0))
            st = caf_error_set(err, CAF_ERR_INVALID, "ntuple %s lacks channel, amplitude or time",
                               caf_params_string(p, "ntuple", "hits"));
        for (size_t i = 0; st == CAF_OK && i < caf_ntuple_rows(nt); i++) {
            int64_t c = caf_ntuple_get_i64(nt, i, (size_t)cc);
            if (c < 0 || c >= channels || gdead[c] != 0 || gain[c] <= 0)
                continue;
            dead[c] = 0;
            double e = caf_ntuple_get_f64(nt, i, (size_t)ca) / gain[c];
            if (e < emin)
                continue;
            if (!hits_add(out, (int)c, sqrt(e0 / e) - 1.0, caf_ntuple_get_f64(nt, i, (size_t)ct)))
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
        free(gain);
        free(gdead);
        if (st != CAF_OK)
            return CAF_ALGO_FAILURE;
    }
    return CAF_ALGO_UNDEFINED;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The starting point without a previous iteration: each channel's median time, no walk. */
static bool median_start(const hits *h, int channels, double *t0)
{
    double *v = malloc((h->n ? h->n : 1) * sizeof *v);
    if (!v)
        return false;
    for (int c = 0; c < channels; c++) {
        size_t n = 0;
        for (size_t i = 0; i < h->n; i++)
            if (h->channel[i] == c)
                v[n++] = h->t[i];
        qsort(v, n, sizeof *v, by_value);
        t0[c] = n ? v[n / 2] : 0.0;
    }
    free(v);
    return true;
}

typedef struct estimate {
    double *t0, *error, *used, *sx, *sr;
    double walk, walk_error;
} estimate;

/* One least-squares step from (t0, walk) using hits with |residual| < window; fills next. */
static caf_algo_result fit_step(const hits *h, int channels, const double *t0, double walk, double window,
                                int64_t min_hits, const double *dead, estimate *next, caf_error *err)
{
    memset(next->used, 0, (size_t)channels * sizeof(double));
    memset(next->sx, 0, (size_t)channels * sizeof(double));
    memset(next->sr, 0, (size_t)channels * sizeof(double));
    for (size_t i = 0; i < h->n; i++) {
        int c = h->channel[i];
        double r = h->t[i] - t0[c] - walk * h->x[i];
        if (fabs(r) < window) {
            next->used[c]++;
            next->sx[c] += h->x[i];
            next->sr[c] += r;
        }
    }
    for (int c = 0; c < channels; c++) {
        if (dead[c])
            continue;
        if (next->used[c] < (double)min_hits) {
            caf_error_set(err, CAF_ERR_NOT_FOUND, "channel %d has %.0f hits in the time window, fewer than %lld", c,
                          next->used[c], (long long)min_hits);
            return CAF_ALGO_NOT_ENOUGH_DATA;
        }
        next->sx[c] /= next->used[c];
        next->sr[c] /= next->used[c];
    }
    /* within-channel deviations: the slope dW without the channel offsets */
    size_t n = 0;
    double *dx = malloc((h->n ? h->n : 1) * sizeof *dx), *dr = malloc((h->n ? h->n : 1) * sizeof *dr);
    if (!dx || !dr) {
        free(dx), free(dr);
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        return CAF_ALGO_FAILURE;
    }
    for (size_t i = 0; i < h->n; i++) {
        int c = h->channel[i];
        double r = h->t[i] - t0[c] - walk * h->x[i];
        if (fabs(r) < window) {
            dx[n] = h->x[i] - next->sx[c];
            dr[n] = r - next->sr[c];
            n++;
        }
    }
    double dw = 0, cov = 0, sumsq = 0;
    gsl_fit_mul(dx, 1, dr, 1, n, &dw, &cov, &sumsq);
    free(dx);
    free(dr);
    size_t ndf = n > (size_t)channels + 1 ? n - (size_t)channels - 1 : 1;
    double s2 = sumsq / (double)ndf; /* residual variance per hit */
    next->walk = walk + dw;
    next->walk_error = sqrt(cov);
    for (int c = 0; c < channels; c++) {
        if (dead[c]) {
            next->t0[c] = next->error[c] = 0;
            continue;
        }
        next->t0[c] = t0[c] + next->sr[c] - dw * next->sx[c];
        next->error[c] = sqrt(s2 / next->used[c] + next->sx[c] * next->sx[c] * cov);
    }
    return CAF_ALGO_UNDEFINED;
}

/* The previous iteration's estimate from the chain (the payload valid at the first run), if any. */
static bool read_previous(caf_algo_context *ctx, const char *payload, int channels, double *t0, double *walk)
{
    size_t nruns;
    const caf_exprun *runs = caf_algo_runs(ctx, &nruns);
    caf_constants *prev;
    caf_error e = {0};
    if (caf_algo_read_constants(ctx, payload, runs[0], &prev, &e) != CAF_OK)
        return false;
    double *v = NULL;
    size_t n = 0;
    bool ok = caf_constants_get_array(prev, "t0", &v, &n, &e) == CAF_OK && n == (size_t)channels &&
              caf_constants_get_double(prev, "walk", walk, &e) == CAF_OK;
    if (ok)
        memcpy(t0, v, n * sizeof *v);
    free(v);
    caf_constants_free(prev);
    return ok;
}

static caf_algo_result save(caf_algo_context *ctx, const char *payload, int channels, const estimate *e,
                            double change, caf_error *err)
{
    caf_constants *c;
    if (caf_constants_new(&c, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_status st = caf_constants_set_array(c, "t0", e->t0, (size_t)channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "t0_error", e->error, (size_t)channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "used", e->used, (size_t)channels, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(c, "walk", e->walk, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(c, "walk_error", e->walk_error, err);
    if (st == CAF_OK)
        st = caf_constants_set_double(c, "change", change, err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, payload, c, NULL, err);
    caf_constants_free(c);
    return st == CAF_OK ? CAF_ALGO_UNDEFINED : CAF_ALGO_FAILURE;
}

static caf_algo_result calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_params *p = caf_algo_params(ctx);
    const char *payload = caf_params_string(p, "payload", "ExampleTimeOffsets");
    /* the channel count comes from the gains of the first run */
    size_t nruns;
    const caf_exprun *runs = caf_algo_runs(ctx, &nruns);
    caf_constants *gc;
    if (caf_algo_read_constants(ctx, caf_params_string(p, "gains", "ExampleGains"), runs[0], &gc, err) != CAF_OK) {
        caf_error_prefix(err, "the time calibration needs the gains (depends_on the gain calibration)");
        return CAF_ALGO_FAILURE;
    }
    double *g = NULL;
    size_t ng = 0;
    caf_status gs = caf_constants_get_array(gc, "gain", &g, &ng, err);
    caf_constants_free(gc);
    free(g);
    if (gs != CAF_OK || ng == 0)
        return CAF_ALGO_FAILURE;
    int channels = (int)ng;
    size_t bytes = (size_t)channels * sizeof(double);
    hits h = {0};
    double *dead = malloc(bytes), *t0 = calloc(1, bytes);
    estimate next = {calloc(1, bytes), calloc(1, bytes), calloc(1, bytes), calloc(1, bytes), calloc(1, bytes), 0, 0};
    caf_algo_result r = CAF_ALGO_UNDEFINED;
    if (!dead || !t0 || !next.t0 || !next.error || !next.used || !next.sx || !next.sr) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        r = CAF_ALGO_FAILURE;
    }
    for (int c = 0; r == CAF_ALGO_UNDEFINED && c < channels; c++)
        dead[c] = 1; /* until a hit with a valid gain shows up */
    if (r == CAF_ALGO_UNDEFINED)
        r = read_hits(ctx, p, channels, dead, &h, err);
    double walk = 0;
    bool have_previous = r == CAF_ALGO_UNDEFINED && read_previous(ctx, payload, channels, t0, &walk);
    if (r == CAF_ALGO_UNDEFINED && !have_previous && !median_start(&h, channels, t0)) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        r = CAF_ALGO_FAILURE;
    }
    if (r == CAF_ALGO_UNDEFINED)
        r = fit_step(&h, channels, t0, walk, caf_params_double(p, "window", 1.5), caf_params_int(p, "min_hits", 30),
                     dead, &next, err);
    double change = fabs(next.walk - walk);
    for (int c = 0; c < channels; c++)
        if (r == CAF_ALGO_UNDEFINED && !dead[c])
            change = fmax(change, fabs(next.t0[c] - t0[c]));
    if (r == CAF_ALGO_UNDEFINED)
        r = save(ctx, payload, channels, &next, have_previous ? change : -1.0, err);
    if (r == CAF_ALGO_UNDEFINED) {
        bool converged = have_previous && change < caf_params_double(p, "tolerance", 0.01);
        caf_info("iteration %d, %zu hits: walk %.4f +- %.4f ns, largest change %.4f ns%s", caf_algo_iteration(ctx),
                 h.n, next.walk, next.walk_error, change, converged ? ": converged" : !have_previous ? " (from the "
                 "median start)" : ": iterate");
        json_t *state = caf_algo_output_state(ctx);
        json_object_set_new(state, "walk", json_real(next.walk));
        json_object_set_new(state, "change", json_real(change));
        r = converged ? CAF_ALGO_OK : CAF_ALGO_ITERATE;
    }
    hits_free(&h);
    free(dead), free(t0);
    free(next.t0), free(next.error), free(next.used), free(next.sx), free(next.sr);
    return r;
}

static const caf_algorithm_descriptor time_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "time",
    .description = "Per-channel time offsets and the time-walk coefficient from ExampleTimeCollector's hits, with "
                   "energies from the gains in the database chain; iterates until the change is below tolerance; "
                   "saves ExampleTimeOffsets (t0, t0_error, walk, walk_error, used, change).",
    .collector = "ExampleTimeCollector",
    .params = time_params,
    .calibrate = calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&time_algorithm, NULL};
    return list;
}
