/* A collected object (caf/collected.h) as a Python dict: kind, title, shape, and its content as bytes of
 * native-endian float64 values (bins including under/overflow) or, for ntuples, one bytes object per
 * column in the column's own type. The Python layer views them with numpy.frombuffer (no copy there), so
 * the extension needs only the C API and no numpy headers. */
#include "cafpy.h"

#include <string.h>

#include "caf/collected.h"

/* A bytes object of n doubles produced by value(obj, i) for i in 0..n-1. */
static PyObject *doubles(const caf_object *obj, Py_ssize_t n, double (*value)(const caf_object *, int))
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (!bytes)
        return NULL;
    double *out = (double *)PyBytes_AS_STRING(bytes);
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = value(obj, (int)i);
    return bytes;
}

/* The (nx+2) x (ny+2) bins of a 2-D histogram, x-major, from value(obj, ix, iy). */
static PyObject *doubles_2d(const caf_object *obj, int nx, int ny, double (*value)(const caf_object *, int, int))
{
    Py_ssize_t cols = ny + 2;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nx + 2) * cols * (Py_ssize_t)sizeof(double));
    if (!bytes)
        return NULL;
    double *out = (double *)PyBytes_AS_STRING(bytes);
    for (int ix = 0; ix < nx + 2; ix++)
        for (int iy = 0; iy < ny + 2; iy++)
            out[ix * cols + iy] = value(obj, ix, iy);
    return bytes;
}

static PyObject *hist1d_dict(const caf_object *h)
{
    Py_ssize_t n = caf_hist1d_nbins(h) + 2;
    return Py_BuildValue("{s:i,s:d,s:d,s:N,s:N,s:L,s:d,s:d}", "nbins", caf_hist1d_nbins(h), "low",
                         caf_hist1d_low(h), "high", caf_hist1d_high(h), "contents",
                         doubles(h, n, caf_hist1d_content), "sumw2", doubles(h, n, caf_hist1d_sumw2), "entries",
                         (long long)caf_hist1d_entries(h), "mean", caf_hist1d_mean(h), "stddev",
                         caf_hist1d_stddev(h));
}

static PyObject *hist2d_dict(const caf_object *h)
{
    int nx = caf_hist2d_nx(h), ny = caf_hist2d_ny(h);
    return Py_BuildValue("{s:i,s:d,s:d,s:i,s:d,s:d,s:N,s:N,s:L}", "nx", nx, "xlow", caf_hist2d_xlow(h), "xhigh",
                         caf_hist2d_xhigh(h), "ny", ny, "ylow", caf_hist2d_ylow(h), "yhigh", caf_hist2d_yhigh(h),
                         "contents", doubles_2d(h, nx, ny, caf_hist2d_content), "sumw2",
                         doubles_2d(h, nx, ny, caf_hist2d_sumw2), "entries", (long long)caf_hist2d_entries(h));
}

static PyObject *profile_dict(const caf_object *p)
{
    Py_ssize_t n = caf_profile_nbins(p) + 2;
    return Py_BuildValue("{s:i,s:d,s:d,s:N,s:N,s:N,s:L}", "nbins", caf_profile_nbins(p), "low", caf_profile_low(p),
                         "high", caf_profile_high(p), "sumw", doubles(p, n, caf_profile_sumw), "mean",
                         doubles(p, n, caf_profile_mean), "errors", doubles(p, n, caf_profile_error), "entries",
                         (long long)caf_profile_entries(p));
}

static PyObject *ntuple_dict(const caf_object *t)
{
    size_t rows = caf_ntuple_rows(t), ncols = caf_ntuple_ncols(t);
    PyObject *columns = PyList_New((Py_ssize_t)ncols);
    for (size_t c = 0; columns && c < ncols; c++) {
        caf_column_type type = caf_ntuple_column_type(t, c);
        const void *data = caf_ntuple_column_data(t, c);
        PyObject *column = Py_BuildValue("(ssy#)", caf_ntuple_column_name(t, c), caf_column_type_name(type),
                                         rows ? (const char *)data : "",
                                         (Py_ssize_t)(rows * caf_column_type_size(type)));
        if (!column) {
            Py_CLEAR(columns);
            break;
        }
        PyList_SET_ITEM(columns, (Py_ssize_t)c, column);
    }
    return columns ? Py_BuildValue("{s:n,s:N}", "rows", (Py_ssize_t)rows, "columns", columns) : NULL;
}

static PyObject *content_dict(const caf_object *obj)
{
    switch (caf_object_kind_of(obj)) {
    case CAF_OBJECT_HIST1D:
        return hist1d_dict(obj);
    case CAF_OBJECT_HIST2D:
        return hist2d_dict(obj);
    case CAF_OBJECT_PROFILE:
        return profile_dict(obj);
    case CAF_OBJECT_COUNTER:
        return Py_BuildValue("{s:L,s:d}", "count", (long long)caf_counter_count(obj), "sum", caf_counter_sum(obj));
    case CAF_OBJECT_NTUPLE:
        return ntuple_dict(obj);
    case CAF_OBJECT_USER: {
        const caf_user_bytes *b = caf_user_object_bytes(obj);
        return Py_BuildValue("{s:y#}", "data", b->size ? (const char *)b->data : "", (Py_ssize_t)b->size);
    }
    }
    return PyErr_Format(PyExc_ValueError, "unknown collected object kind %d", (int)caf_object_kind_of(obj));
}

PyObject *cafpy_object_to_dict(const caf_object *obj)
{
    PyObject *dict = content_dict(obj);
    if (!dict)
        return NULL;
    static const char *kinds[] = {"", "hist1d", "hist2d", "profile", "counter", "ntuple", "user"};
    PyObject *kind = PyUnicode_FromString(kinds[caf_object_kind_of(obj)]);
    PyObject *type = PyUnicode_FromString(caf_object_type_name(obj));
    PyObject *title = PyUnicode_FromString(caf_object_title(obj));
    if (!kind || !type || !title || PyDict_SetItemString(dict, "kind", kind) < 0 ||
        PyDict_SetItemString(dict, "type", type) < 0 || PyDict_SetItemString(dict, "title", title) < 0)
        Py_CLEAR(dict);
    Py_XDECREF(kind);
    Py_XDECREF(type);
    Py_XDECREF(title);
    return dict;
}
