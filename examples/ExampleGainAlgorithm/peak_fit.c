/* Peak fitting with GSL's nonlinear least squares. Each bin is weighted by 1/max(count, 1) (Neyman's
 * chi-square, with empty bins kept from pulling the fit); the model is a Gaussian on a straight line so
 * that the continuum under the peak does not shift it. */
#include "peak_fit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdbool.h>

enum { P_AMPLITUDE, P_MEAN, P_SIGMA, P_B0, P_B1, N_PARAMS };

typedef struct window {
    const double *x, *y;
    size_t n;
    double x0; /* centre of the window: the background line's pivot */
} window;

static int residuals(const gsl_vector *p, void *data, gsl_vector *f)
{
    const window *w = data;
    double a = gsl_vector_get(p, P_AMPLITUDE), mu = gsl_vector_get(p, P_MEAN), s = gsl_vector_get(p, P_SIGMA);
    double b0 = gsl_vector_get(p, P_B0), b1 = gsl_vector_get(p, P_B1);
    for (size_t i = 0; i < w->n; i++) {
        double t = (w->x[i] - mu) / s;
        gsl_vector_set(f, i, a * exp(-0.5 * t * t) + b0 + b1 * (w->x[i] - w->x0) - w->y[i]);
    }
    return GSL_SUCCESS;
}

static int jacobian(const gsl_vector *p, void *data, gsl_matrix *j)
{
    const window *w = data;
    double a = gsl_vector_get(p, P_AMPLITUDE), mu = gsl_vector_get(p, P_MEAN), s = gsl_vector_get(p, P_SIGMA);
    for (size_t i = 0; i < w->n; i++) {
        double t = (w->x[i] - mu) / s, g = exp(-0.5 * t * t);
        gsl_matrix_set(j, i, P_AMPLITUDE, g);
        gsl_matrix_set(j, i, P_MEAN, a * g * t / s);
        gsl_matrix_set(j, i, P_SIGMA, a * g * t * t / s);
        gsl_matrix_set(j, i, P_B0, 1.0);
        gsl_matrix_set(j, i, P_B1, w->x[i] - w->x0);
    }
    return GSL_SUCCESS;
}

/* The bin in [low, high] whose three-bin neighbourhood holds the most counts. */
static size_t highest_bin(const double *x, const double *counts, size_t n, double low, double high)
{
    size_t best = n;
    double best_sum = -1;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < low || x[i] > high)
            continue;
        double sum = counts[i] + (i > 0 ? counts[i - 1] : 0) + (i + 1 < n ? counts[i + 1] : 0);
        if (sum > best_sum) {
            best_sum = sum;
            best = i;
        }
    }
    return best;
}

int peak_fit_spectrum(const double *x, const double *counts, size_t n, double w, double low, double high,
                      double half_width, peak_fit *out)
{
    size_t peak = highest_bin(x, counts, n, low, high);
    if (peak == n)
        return -1;
    size_t first = peak, last = peak;
    while (first > 0 && x[peak] - x[first - 1] <= half_width)
        first--;
    while (last + 1 < n && x[last + 1] - x[peak] <= half_width)
        last++;
    window win = {x + first, counts + first, last - first + 1, x[peak]};
    if (win.n < N_PARAMS + 1)
        return -1;
    out->entries = 0;
    for (size_t i = 0; i < win.n; i++)
        out->entries += (size_t)win.y[i];

    gsl_set_error_handler_off(); /* failures are return values here, not aborts */
    double edge = 0.5 * (win.y[0] + win.y[win.n - 1]);
    double start[N_PARAMS] = {fmax(counts[peak] - edge, 1.0), x[peak], fmax(half_width / 4.0, w), edge, 0.0};
    gsl_vector_view p0 = gsl_vector_view_array(start, N_PARAMS);
    gsl_vector *weights = gsl_vector_alloc(win.n);
    for (size_t i = 0; i < win.n; i++)
        gsl_vector_set(weights, i, 1.0 / fmax(win.y[i], 1.0));
    gsl_multifit_nlinear_fdf fdf = {residuals, jacobian, NULL, win.n, N_PARAMS, &win, 0, 0, 0};
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *work =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, win.n, N_PARAMS);
    gsl_matrix *covar = gsl_matrix_alloc(N_PARAMS, N_PARAMS);
    int info = 0, rc = -1;
    if (weights && work && covar && gsl_multifit_nlinear_winit(&p0.vector, weights, &fdf, work) == GSL_SUCCESS &&
        gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 0.0, NULL, NULL, &info, work) == GSL_SUCCESS) {
        gsl_vector *p = gsl_multifit_nlinear_position(work);
        gsl_vector *f = gsl_multifit_nlinear_residual(work); /* weighted residuals */
        double chi2;
        gsl_blas_ddot(f, f, &chi2);
        gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(work), 0.0, covar);
        double ndf = (double)(win.n - N_PARAMS);
        out->mean = gsl_vector_get(p, P_MEAN);
        out->sigma = fabs(gsl_vector_get(p, P_SIGMA));
        out->amplitude = gsl_vector_get(p, P_AMPLITUDE);
        out->chi2_ndf = chi2 / ndf;
        out->mean_error = sqrt(gsl_matrix_get(covar, P_MEAN, P_MEAN)) * fmax(1.0, sqrt(out->chi2_ndf));
        bool inside = out->mean >= win.x[0] && out->mean <= win.x[win.n - 1];
        rc = inside && out->amplitude > 0 && isfinite(out->mean_error) ? 0 : -1;
    }
    gsl_matrix_free(covar);
    gsl_multifit_nlinear_free(work);
    gsl_vector_free(weights);
    return rc;
}
