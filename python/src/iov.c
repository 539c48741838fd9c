/* The IoV and ExpRun functions of caf._caf: conversions between Python tuples and caf_iov/caf_exprun, and
 * the set operations of caf/iov.h, so that Python sees exactly the C library's semantics. */
#include "cafpy.h"

#include <stdlib.h>

int cafpy_exprun_from(PyObject *obj, caf_exprun *out)
{
    if (!PyArg_ParseTuple(obj, "ii;a run is an (exp, run) pair of ints", &out->exp, &out->run))
        return -1;
    return 0;
}

int cafpy_iov_from(PyObject *obj, caf_iov *out)
{
    if (!PyArg_ParseTuple(obj, "iiii;an IoV is (exp_low, run_low, exp_high, run_high) ints", &out->exp_low,
                          &out->run_low, &out->exp_high, &out->run_high))
        return -1;
    return 0;
}

PyObject *cafpy_exprun_to(caf_exprun r)
{
    return Py_BuildValue("(ii)", r.exp, r.run);
}

PyObject *cafpy_iov_to(caf_iov iov)
{
    return Py_BuildValue("(iiii)", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}

int cafpy_runs_from(PyObject *seq, caf_exprun **runs, size_t *count)
{
    *runs = NULL;
    *count = 0;
    PyObject *fast = PySequence_Fast(seq, "runs must be a sequence of (exp, run) pairs");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > 0 && !(*runs = PyMem_Malloc((size_t)n * sizeof **runs))) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tuple = PySequence_Tuple(PySequence_Fast_GET_ITEM(fast, i));
        int rc = tuple ? cafpy_exprun_from(tuple, &(*runs)[i]) : -1;
        Py_XDECREF(tuple);
        if (rc < 0) {
            PyMem_Free(*runs);
            *runs = NULL;
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *count = (size_t)n;
    return 0;
}

/* Converts a sequence of IoV 4-tuples (PyMem_Malloc'd array; NULL when empty). */
static int iovs_from(PyObject *seq, caf_iov **iovs, size_t *count)
{
    *iovs = NULL;
    *count = 0;
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of IoVs");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > 0 && !(*iovs = PyMem_Malloc((size_t)n * sizeof **iovs))) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tuple = PySequence_Tuple(PySequence_Fast_GET_ITEM(fast, i));
        int rc = tuple ? cafpy_iov_from(tuple, &(*iovs)[i]) : -1;
        Py_XDECREF(tuple);
        if (rc < 0) {
            PyMem_Free(*iovs);
            *iovs = NULL;
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *count = (size_t)n;
    return 0;
}

static PyObject *iov_list(const caf_iov *iovs, size_t count)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *item = cafpy_iov_to(iovs[i]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* Parses args as IoVs (validated, as the C set operations require). */
static int valid_iovs(PyObject *args, caf_iov *iovs, Py_ssize_t n)
{
    if (PyTuple_GET_SIZE(args) != n) {
        PyErr_Format(PyExc_TypeError, "expected %zd IoVs", n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        caf_error err = {0};
        if (cafpy_iov_from(PyTuple_GET_ITEM(args, i), &iovs[i]) < 0)
            return -1;
        if (caf_iov_validate(iovs[i], &err) != CAF_OK) {
            cafpy_raise(&err);
            return -1;
        }
    }
    return 0;
}

static PyObject *py_iov_validate(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iov;
    return valid_iovs(args, &iov, 1) < 0 ? NULL : cafpy_iov_to(iov);
}

static PyObject *py_iov_parse(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text;
    if (!PyArg_ParseTuple(args, "s", &text))
        return NULL;
    caf_iov iov;
    caf_error err = {0};
    if (caf_iov_parse(text, &iov, &err) != CAF_OK)
        return cafpy_raise(&err);
    return cafpy_iov_to(iov);
}

static PyObject *py_iov_format(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iov;
    if (valid_iovs(args, &iov, 1) < 0)
        return NULL;
    char text[CAF_IOV_TEXT_MAX];
    return PyUnicode_FromString(caf_iov_format(iov, text, sizeof text));
}

static PyObject *py_exprun_parse(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text;
    if (!PyArg_ParseTuple(args, "s", &text))
        return NULL;
    caf_exprun r;
    caf_error err = {0};
    if (caf_exprun_parse(text, &r, &err) != CAF_OK)
        return cafpy_raise(&err);
    return cafpy_exprun_to(r);
}

static PyObject *py_exprun_format(PyObject *self, PyObject *args)
{
    (void)self;
    caf_exprun r;
    if (cafpy_exprun_from(args, &r) < 0)
        return NULL;
    char text[CAF_EXPRUN_TEXT_MAX];
    return PyUnicode_FromString(caf_exprun_format(r, text, sizeof text));
}

static PyObject *py_iov_is_empty(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iov;
    return valid_iovs(args, &iov, 1) < 0 ? NULL : PyBool_FromLong(caf_iov_is_empty(iov));
}

static PyObject *py_iov_is_always(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iov;
    return valid_iovs(args, &iov, 1) < 0 ? NULL : PyBool_FromLong(caf_iov_is_always(iov));
}

static PyObject *py_iov_contains_run(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *iov_obj, *run_obj;
    if (!PyArg_ParseTuple(args, "OO", &iov_obj, &run_obj))
        return NULL;
    caf_iov iov;
    caf_exprun r;
    PyObject *one = PyTuple_Pack(1, iov_obj);
    int rc = one ? valid_iovs(one, &iov, 1) : -1;
    Py_XDECREF(one);
    if (rc < 0 || cafpy_exprun_from(run_obj, &r) < 0)
        return NULL;
    return PyBool_FromLong(caf_iov_contains_exprun(iov, r));
}

static PyObject *py_iov_contains_iov(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iovs[2];
    return valid_iovs(args, iovs, 2) < 0 ? NULL : PyBool_FromLong(caf_iov_contains_iov(iovs[0], iovs[1]));
}

static PyObject *py_iov_overlaps(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iovs[2];
    return valid_iovs(args, iovs, 2) < 0 ? NULL : PyBool_FromLong(caf_iov_overlaps(iovs[0], iovs[1]));
}

static PyObject *py_iov_adjacent(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iovs[2];
    return valid_iovs(args, iovs, 2) < 0 ? NULL : PyBool_FromLong(caf_iov_adjacent(iovs[0], iovs[1]));
}

static PyObject *py_iov_intersection(PyObject *self, PyObject *args)
{
    (void)self;
    caf_iov iovs[2];
    return valid_iovs(args, iovs, 2) < 0 ? NULL : cafpy_iov_to(caf_iov_intersection(iovs[0], iovs[1]));
}

/* Converts and validates a sequence of IoVs (PyMem_Malloc'd). */
static int valid_iov_sequence(PyObject *seq, caf_iov **iovs, size_t *count)
{
    if (iovs_from(seq, iovs, count) < 0)
        return -1;
    for (size_t i = 0; i < *count; i++) {
        caf_error err = {0};
        if (caf_iov_validate((*iovs)[i], &err) != CAF_OK) {
            PyMem_Free(*iovs);
            *iovs = NULL;
            cafpy_raise(&err);
            return -1;
        }
    }
    return 0;
}

static PyObject *py_iov_union(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq))
        return NULL;
    caf_iov *in, *out = NULL;
    size_t n, out_count = 0;
    if (valid_iov_sequence(seq, &in, &n) < 0)
        return NULL;
    caf_error err = {0};
    caf_status st = caf_iov_union(in, n, &out, &out_count, &err);
    PyMem_Free(in);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    PyObject *list = iov_list(out, out_count);
    free(out);
    return list;
}

static PyObject *py_iov_gaps(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *seq, *span_obj;
    if (!PyArg_ParseTuple(args, "OO", &seq, &span_obj))
        return NULL;
    caf_iov span;
    PyObject *one = PyTuple_Pack(1, span_obj);
    int rc = one ? valid_iovs(one, &span, 1) : -1;
    Py_XDECREF(one);
    if (rc < 0)
        return NULL;
    caf_iov *covered, *gaps = NULL;
    size_t n, gap_count = 0;
    if (valid_iov_sequence(seq, &covered, &n) < 0)
        return NULL;
    caf_error err = {0};
    caf_status st = caf_iov_gaps(covered, n, span, &gaps, &gap_count, &err);
    PyMem_Free(covered);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    PyObject *list = iov_list(gaps, gap_count);
    free(gaps);
    return list;
}

static PyObject *py_iov_span_of_runs(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq))
        return NULL;
    caf_exprun *runs;
    size_t n;
    if (cafpy_runs_from(seq, &runs, &n) < 0)
        return NULL;
    caf_iov span = caf_iov_span_of_runs(runs, n);
    PyMem_Free(runs);
    return cafpy_iov_to(span);
}

PyMethodDef cafpy_iov_methods[] = {
    {"iov_validate", py_iov_validate, METH_VARARGS, "Checks an IoV 4-tuple; returns it or raises caf.Error."},
    {"iov_parse", py_iov_parse, METH_VARARGS, "Parses 'e1,r1,e2,r2' into a validated 4-tuple."},
    {"iov_format", py_iov_format, METH_VARARGS, "Formats an IoV as 'e1,r1,e2,r2'."},
    {"exprun_parse", py_exprun_parse, METH_VARARGS, "Parses 'e:r' or 'e.r' into (exp, run)."},
    {"exprun_format", py_exprun_format, METH_VARARGS, "Formats (exp, run) as 'e.r'."},
    {"iov_is_empty", py_iov_is_empty, METH_VARARGS, "True for the empty IoV."},
    {"iov_is_always", py_iov_is_always, METH_VARARGS, "True for an IoV covering every run."},
    {"iov_contains_run", py_iov_contains_run, METH_VARARGS, "True if the IoV contains the (exp, run)."},
    {"iov_contains_iov", py_iov_contains_iov, METH_VARARGS, "True if the first IoV contains the second."},
    {"iov_overlaps", py_iov_overlaps, METH_VARARGS, "True if two IoVs share a run."},
    {"iov_adjacent", py_iov_adjacent, METH_VARARGS, "True if nothing lies between two disjoint IoVs."},
    {"iov_intersection", py_iov_intersection, METH_VARARGS, "The runs in both IoVs."},
    {"iov_union", py_iov_union, METH_VARARGS, "The sorted, disjoint union of a sequence of IoVs."},
    {"iov_gaps", py_iov_gaps, METH_VARARGS, "The parts of span no IoV of the sequence covers."},
    {"iov_span_of_runs", py_iov_span_of_runs, METH_VARARGS, "The IoV from the lowest to the highest run."},
    {NULL, NULL, 0, NULL},
};
