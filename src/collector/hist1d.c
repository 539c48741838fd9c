/* 1-D histograms: fixed binning, weights, sums of squared weights, under/overflow, exact mean and spread. */
#include <math.h>

#include "collector/binned.h"

static void hist1d_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const binned *h = (const binned *)obj;
    fprintf(out, ": %d bins [%g, %g), %lld entries, integral %g, mean %g, std dev %g\n", h->nx, h->xlow, h->xhigh,
            (long long)h->entries, caf_hist1d_integral(obj), caf_hist1d_mean(obj), caf_hist1d_stddev(obj));
    obj_print_bins(out, h->nx, h->xlow, h->xhigh, h->a[BINNED_SUMW], h->a[BINNED_SUMW2]);
}

static const struct obj_vtable hist1d_vtable = {
    .kind = CAF_OBJECT_HIST1D,
    .type_name = "hist1d",
    .size = sizeof(binned),
    .init_like = binned_init_like,
    .free_content = binned_free,
    .reset = binned_reset,
    .compatible = binned_compatible,
    .merge_one = binned_merge_one,
    .is_empty = binned_is_empty,
    .write_shape = binned_write_shape,
    .read_shape = binned_read_shape,
    .write_content = binned_write_content,
    .read_content = binned_read_content,
    .print = hist1d_print,
    .to_json = binned_to_json,
};

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
