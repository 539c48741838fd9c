/* A Gaussian peak on a linear background, fitted to a binned spectrum by weighted least squares (GSL's
 * trust-region solver), for the example gain algorithm. */
#ifndef CAF_EXAMPLE_PEAK_FIT_H
#define CAF_EXAMPLE_PEAK_FIT_H

#include <stddef.h>

typedef struct peak_fit {
    double mean, mean_error; /* peak position and its uncertainty (scaled by sqrt(chi2/ndf) when > 1) */
    double sigma;            /* peak width */
    double amplitude;        /* peak height (counts per bin) */
    double chi2_ndf;
    size_t entries;          /* counts in the fit window */
} peak_fit;

/* Fits counts[i] at bin centres x[i] (n bins of width w) in [low, high]: finds the highest bin there,
 * then fits mean +- half_width around it. Returns 0 on success, -1 when the window has fewer than 6
 * bins or the fit does not converge. */
int peak_fit_spectrum(const double *x, const double *counts, size_t n, double w, double low, double high,
                      double half_width, peak_fit *out);

#endif
