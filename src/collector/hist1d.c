/* 1-D histograms: fixed binning, weights, sums of squared weights, under/overflow, exact mean and spread. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "collector/binned.h"

static void hist1d_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const binned *h = (const binned *)obj;
    fprintf(out, ": %d bins [%g, %g), %lld entries, integral %g, mean %g, std dev %g\n", h->nx, h->xlow, h->xhigh,
            (long long)h->entries, caf_hist1d_integral(obj), caf_hist1d_mean(obj), caf_hist1d_stddev(obj));
    obj_print_bins(out, h->nx, h->xlow, h->xhigh, h->a[BINNED_SUMW], h->a[BINNED_SUMW2]);
}

static const struct obj_vtable hist1d_vtable = BINNED_VTABLE(CAF_OBJECT_HIST1D, "hist1d", hist1d_print);

static const binned *h1(const caf_object *h, const char *fn)
{
    obj_expect(h, CAF_OBJECT_HIST1D, fn);
    return (const binned *)h;
}

caf_status caf_hist1d_new(const char *title, int nbins, double low, double high, caf_object **out, caf_error *err)
{
    return binned_new(&hist1d_vtable, title, nbins, low, high, 0, 0, 0, 2, out, err);
}

void caf_hist1d_fill(caf_object *obj, double x, double w)
{
    binned *h = (binned *)h1(obj, __func__);
    h->entries++;
    int b = obj_axis_bin(h->nx, h->xlow, h->xhigh, x);
    if (b < 0)
        return;
    h->a[BINNED_SUMW][b] += w;
    h->a[BINNED_SUMW2][b] += w * w;
    if (b >= 1 && b <= h->nx)
        binned_stats_fill(h, w, x, 0);
}

/* Bulk filling in two passes over blocks of values: the first computes bins and sums without branches
 * (so the compiler can vectorise it), the second counts, spreading a block over four count arrays so
 * that runs of values in one bin do not make each increment wait for the previous one. */
enum { FILL_LANES = 4, FILL_MAX_CELLS = 2048, FILL_BLOCK = 1024 };

void caf_hist1d_fill_floats(caf_object *obj, const float *x, size_t n, double w)
{
    binned *h = (binned *)h1(obj, __func__);
    const int nx = h->nx;
    if (nx + 3 > FILL_MAX_CELLS) {
        for (size_t i = 0; i < n; i++)
            caf_hist1d_fill(obj, x[i], w);
        return;
    }
    const double low = h->xlow, high = h->xhigh, scale = nx / (high - low);
    /* four partial sums each: one chain of additions would make every value wait for the last */
    double sx[FILL_LANES] = {0}, sx2[FILL_LANES] = {0}, inside[FILL_LANES] = {0};
    uint32_t counts[FILL_LANES][FILL_MAX_CELLS]; /* cell nx+2 collects NaN, which goes nowhere */
    for (int k = 0; k < FILL_LANES; k++)
        memset(counts[k], 0, (size_t)(nx + 3) * sizeof counts[k][0]);
    int32_t bins[FILL_BLOCK + FILL_LANES];
    for (size_t first = 0; first < n; first += FILL_BLOCK) {
        size_t m = n - first < FILL_BLOCK ? n - first : FILL_BLOCK;
        const float *v = x + first;
        for (size_t j = 0; j < m; j += FILL_LANES)
            for (int k = 0; k < FILL_LANES; k++) {
                double d = j + (size_t)k < m ? v[j + (size_t)k] : NAN;
                bool in = d >= low && d < high;
                double t = in ? (d - low) * scale : 0.0;
                int32_t b = 1 + (int32_t)t;
                b = b > nx ? nx : b;
                int32_t out = d < low ? 0 : d >= high ? nx + 1 : nx + 2;
                bins[j + (size_t)k] = in ? b : out;
                double di = in ? d : 0.0;
                sx[k] += di;
                sx2[k] += di * di;
                inside[k] += in ? 1.0 : 0.0;
            }
        size_t j = 0;
        for (; j + FILL_LANES <= m; j += FILL_LANES)
            for (int k = 0; k < FILL_LANES; k++)
                counts[k][bins[j + (size_t)k]]++;
        for (; j < m; j++)
            counts[0][bins[j]]++;
        if ((first / FILL_BLOCK) % 1000000 == 999999 || first + m == n) { /* before any count can overflow */
            for (int b = 0; b < nx + 2; b++) {
                double c = (double)counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
                h->a[BINNED_SUMW][b] += w * c;
                h->a[BINNED_SUMW2][b] += w * w * c;
            }
            for (int k = 0; k < FILL_LANES; k++)
                memset(counts[k], 0, (size_t)(nx + 3) * sizeof counts[k][0]);
        }
    }
    h->entries += (int64_t)n;
    h->stats[STAT_W] += w * (inside[0] + inside[1] + inside[2] + inside[3]);
    h->stats[STAT_WX] += w * (sx[0] + sx[1] + sx[2] + sx[3]);
    h->stats[STAT_WX2] += w * (sx2[0] + sx2[1] + sx2[2] + sx2[3]);
}

int caf_hist1d_find_bin(const caf_object *obj, double x)
{
    const binned *h = h1(obj, __func__);
    return obj_axis_bin(h->nx, h->xlow, h->xhigh, x);
}

int caf_hist1d_nbins(const caf_object *h)
{
    return h1(h, __func__)->nx;
}

double caf_hist1d_low(const caf_object *h)
{
    return h1(h, __func__)->xlow;
}

double caf_hist1d_high(const caf_object *h)
{
    return h1(h, __func__)->xhigh;
}

double caf_hist1d_content(const caf_object *obj, int bin)
{
    const binned *h = h1(obj, __func__);
    return bin < 0 || bin > h->nx + 1 ? 0 : h->a[BINNED_SUMW][bin];
}

double caf_hist1d_sumw2(const caf_object *obj, int bin)
{
    const binned *h = h1(obj, __func__);
    return bin < 0 || bin > h->nx + 1 ? 0 : h->a[BINNED_SUMW2][bin];
}

int64_t caf_hist1d_entries(const caf_object *h)
{
    return h1(h, __func__)->entries;
}

double caf_hist1d_integral(const caf_object *obj)
{
    const binned *h = h1(obj, __func__);
    double s = 0;
    for (int i = 1; i <= h->nx; i++)
        s += h->a[BINNED_SUMW][i];
    return s;
}

double caf_hist1d_mean(const caf_object *obj)
{
    const binned *h = h1(obj, __func__);
    return h->stats[STAT_W] != 0 ? h->stats[STAT_WX] / h->stats[STAT_W] : 0;
}

double caf_hist1d_stddev(const caf_object *obj)
{
    const binned *h = h1(obj, __func__);
    if (h->stats[STAT_W] == 0)
        return 0;
    double m = h->stats[STAT_WX] / h->stats[STAT_W];
    double v = h->stats[STAT_WX2] / h->stats[STAT_W] - m * m;
    return v > 0 ? sqrt(v) : 0;
}

const struct obj_vtable *obj_hist1d_vtable(void)
{
    return &hist1d_vtable;
}
