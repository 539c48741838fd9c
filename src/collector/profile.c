/* Profiles: the weighted mean of y per x bin, with the error of that mean. */
#include <math.h>

#include "collector/binned.h"

static void profile_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const binned *p = (const binned *)obj;
    fprintf(out, ": %d bins [%g, %g), %lld entries\n", p->nx, p->xlow, p->xhigh, (long long)p->entries);
    for (int b = 0; b <= p->nx + 1; b++)
        if (p->a[BINNED_SUMW][b] != 0)
            fprintf(out, "  bin %-6d sumw %-12g mean %-12g +- %g\n", b, p->a[BINNED_SUMW][b], caf_profile_mean(obj, b),
                    caf_profile_error(obj, b));
}

static const struct obj_vtable profile_vtable = BINNED_VTABLE(CAF_OBJECT_PROFILE, "profile", profile_print);

static const binned *pr(const caf_object *p, const char *fn)
{
    obj_expect(p, CAF_OBJECT_PROFILE, fn);
    return (const binned *)p;
}

caf_status caf_profile_new(const char *title, int nbins, double low, double high, caf_object **out, caf_error *err)
{
    return binned_new(&profile_vtable, title, nbins, low, high, 0, 0, 0, 4, out, err);
}

void caf_profile_fill(caf_object *obj, double x, double y, double w)
{
    binned *p = (binned *)pr(obj, __func__);
    p->entries++;
    int b = obj_axis_bin(p->nx, p->xlow, p->xhigh, x);
    if (b < 0 || isnan(y))
        return;
    p->a[BINNED_SUMW][b] += w;
    p->a[BINNED_SUMW2][b] += w * w;
    p->a[BINNED_SUMWY][b] += w * y;
    p->a[BINNED_SUMWY2][b] += w * y * y;
    if (b >= 1 && b <= p->nx)
        binned_stats_fill(p, w, x, y);
}

int caf_profile_nbins(const caf_object *p)
{
    return pr(p, __func__)->nx;
}

double caf_profile_low(const caf_object *p)
{
    return pr(p, __func__)->xlow;
}

double caf_profile_high(const caf_object *p)
{
    return pr(p, __func__)->xhigh;
}

double caf_profile_sumw(const caf_object *obj, int bin)
{
    const binned *p = pr(obj, __func__);
    return bin < 0 || bin > p->nx + 1 ? 0 : p->a[BINNED_SUMW][bin];
}

double caf_profile_mean(const caf_object *obj, int bin)
{
    const binned *p = pr(obj, __func__);
    if (bin < 0 || bin > p->nx + 1 || p->a[BINNED_SUMW][bin] == 0)
        return 0;
    return p->a[BINNED_SUMWY][bin] / p->a[BINNED_SUMW][bin];
}

double caf_profile_error(const caf_object *obj, int bin)
{
    const binned *p = pr(obj, __func__);
    if (bin < 0 || bin > p->nx + 1)
        return 0;
    double sw = p->a[BINNED_SUMW][bin], sw2 = p->a[BINNED_SUMW2][bin];
    if (sw == 0 || sw2 == 0)
        return 0;
    double mean = p->a[BINNED_SUMWY][bin] / sw;
    double var = p->a[BINNED_SUMWY2][bin] / sw - mean * mean;
    double neff = sw * sw / sw2;
    return var > 0 ? sqrt(var / neff) : 0;
}

int64_t caf_profile_entries(const caf_object *p)
{
    return pr(p, __func__)->entries;
}

const struct obj_vtable *obj_profile_vtable(void)
{
    return &profile_vtable;
}
