/* 2-D histograms: fixed binning on both axes, each with its own under/overflow bins. */
#include <math.h>

#include "collector/binned.h"

static void hist2d_print(const caf_object *obj, FILE *out, long max_rows)
{
    (void)max_rows;
    const binned *h = (const binned *)obj;
    fprintf(out, ": %d x %d bins [%g, %g) x [%g, %g), %lld entries\n", h->nx, h->ny, h->xlow, h->xhigh, h->ylow,
            h->yhigh, (long long)h->entries);
    double wx = (h->xhigh - h->xlow) / h->nx, wy = (h->yhigh - h->ylow) / h->ny;
    for (int iy = 0; iy <= h->ny + 1; iy++)
        for (int ix = 0; ix <= h->nx + 1; ix++) {
            long c = binned_cell(h, ix, iy);
            if (h->a[BINNED_SUMW][c] == 0 && h->a[BINNED_SUMW2][c] == 0)
                continue;
            fprintf(out, "  bin (%d, %d) [%g, %g) x [%g, %g) %g +- %g\n", ix, iy, h->xlow + (ix - 1) * wx,
                    h->xlow + ix * wx, h->ylow + (iy - 1) * wy, h->ylow + iy * wy, h->a[BINNED_SUMW][c],
                    sqrt(h->a[BINNED_SUMW2][c]));
        }
}

static const struct obj_vtable hist2d_vtable = BINNED_VTABLE(CAF_OBJECT_HIST2D, "hist2d", hist2d_print);

static const binned *h2(const caf_object *h, const char *fn)
{
    obj_expect(h, CAF_OBJECT_HIST2D, fn);
    return (const binned *)h;
}

caf_status caf_hist2d_new(const char *title, int nx, double xlow, double xhigh, int ny, double ylow, double yhigh,
                          caf_object **out, caf_error *err)
{
    return binned_new(&hist2d_vtable, title, nx, xlow, xhigh, ny, ylow, yhigh, 2, out, err);
}

void caf_hist2d_fill(caf_object *obj, double x, double y, double w)
{
    binned *h = (binned *)h2(obj, __func__);
    h->entries++;
    int ix = obj_axis_bin(h->nx, h->xlow, h->xhigh, x), iy = obj_axis_bin(h->ny, h->ylow, h->yhigh, y);
    if (ix < 0 || iy < 0)
        return;
    long c = binned_cell(h, ix, iy);
    h->a[BINNED_SUMW][c] += w;
    h->a[BINNED_SUMW2][c] += w * w;
    if (ix >= 1 && ix <= h->nx && iy >= 1 && iy <= h->ny)
        binned_stats_fill(h, w, x, y);
}

int caf_hist2d_nx(const caf_object *h)
{
    return h2(h, __func__)->nx;
}

int caf_hist2d_ny(const caf_object *h)
{
    return h2(h, __func__)->ny;
}

double caf_hist2d_xlow(const caf_object *h)
{
    return h2(h, __func__)->xlow;
}

double caf_hist2d_xhigh(const caf_object *h)
{
    return h2(h, __func__)->xhigh;
}

double caf_hist2d_ylow(const caf_object *h)
{
    return h2(h, __func__)->ylow;
}

double caf_hist2d_yhigh(const caf_object *h)
{
    return h2(h, __func__)->yhigh;
}

double caf_hist2d_content(const caf_object *obj, int ix, int iy)
{
    const binned *h = h2(obj, __func__);
    long c = binned_cell(h, ix, iy);
    return c < 0 ? 0 : h->a[BINNED_SUMW][c];
}

double caf_hist2d_sumw2(const caf_object *obj, int ix, int iy)
{
    const binned *h = h2(obj, __func__);
    long c = binned_cell(h, ix, iy);
    return c < 0 ? 0 : h->a[BINNED_SUMW2][c];
}

int64_t caf_hist2d_entries(const caf_object *h)
{
    return h2(h, __func__)->entries;
}

const struct obj_vtable *obj_hist2d_vtable(void)
{
    return &hist2d_vtable;
}
