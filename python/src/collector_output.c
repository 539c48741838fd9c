/* caf._caf.CollectorOutput: a collector output file (caf/collector_output.h) open in Python, and the
 * merge over several files. Objects are read and merged by libcaf (caf_collector_output_read/_merge_runs,
 * caf_collected_merge_files); nothing here reads the SQLite tables itself. */
#include "cafpy.h"

#include <jansson.h>
#include <stdlib.h>

#include "caf/collected.h"
#include "caf/collector_output.h"

typedef struct {
    PyObject_HEAD caf_collector_output *file;
} CollectorOutput;

static int open_output(CollectorOutput *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", NULL};
    PyObject *path_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&", keywords, PyUnicode_FSConverter, &path_obj))
        return -1;
    caf_collector_output_close(self->file);
    self->file = NULL;
    caf_error err = {0};
    caf_status st = caf_collector_output_open(PyBytes_AS_STRING(path_obj), &self->file, &err);
    Py_DECREF(path_obj);
    if (st != CAF_OK) {
        cafpy_raise(&err);
        return -1;
    }
    return 0;
}

static void free_output(CollectorOutput *self)
{
    caf_collector_output_close(self->file);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int require_open(CollectorOutput *self)
{
    if (self->file)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the collector output is closed");
    return -1;
}

static PyObject *run_list(const caf_exprun *runs, size_t count)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *item = cafpy_exprun_to(runs[i]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* path, collector, module, granularity, parameters (JSON text) and runs of the file. */
static PyObject *output_info(CollectorOutput *self, PyObject *unused)
{
    (void)unused;
    if (require_open(self) < 0)
        return NULL;
    char *parameters = json_dumps(caf_collector_output_parameters(self->file), JSON_COMPACT | JSON_SORT_KEYS);
    if (!parameters)
        return PyErr_NoMemory();
    const caf_run_range *rr = caf_collector_output_run_range(self->file);
    PyObject *info = Py_BuildValue("{s:s,s:s,s:s,s:s,s:s,s:N}", "path", caf_collector_output_path(self->file),
                                   "collector", caf_collector_output_collector(self->file), "module",
                                   caf_collector_output_module(self->file), "granularity",
                                   caf_granularity_name(caf_collector_output_granularity(self->file)), "parameters",
                                   parameters, "runs", run_list(rr->runs, rr->count));
    free(parameters);
    return info;
}

/* Every registered object as (name, type name, number of keys with data). */
static PyObject *output_objects(CollectorOutput *self, PyObject *unused)
{
    (void)unused;
    if (require_open(self) < 0)
        return NULL;
    size_t n = caf_collector_output_object_count(self->file);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        const caf_collector_object_info *o = caf_collector_output_object(self->file, i);
        PyObject *item = Py_BuildValue("(ssn)", o->name, o->type_name, (Py_ssize_t)o->key_count);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *output_keys(CollectorOutput *self, PyObject *args)
{
    const char *name;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "s", &name))
        return NULL;
    caf_exprun *keys = NULL;
    size_t count = 0;
    caf_error err = {0};
    if (caf_collector_output_keys(self->file, name, &keys, &count, &err) != CAF_OK)
        return cafpy_raise(&err);
    PyObject *list = run_list(keys, count);
    free(keys);
    return list;
}

/* Converts a caf_object result into its dict and frees it. */
static PyObject *object_result(caf_status st, caf_object *obj, const caf_error *err)
{
    if (st != CAF_OK)
        return cafpy_raise(err);
    PyObject *dict = cafpy_object_to_dict(obj);
    caf_object_free(obj);
    return dict;
}

static PyObject *output_read(CollectorOutput *self, PyObject *args)
{
    const char *name;
    PyObject *key_obj;
    caf_exprun key;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "sO", &name, &key_obj) ||
        cafpy_exprun_from(key_obj, &key) < 0)
        return NULL;
    caf_object *obj = NULL;
    caf_error err = {0};
    /* The GIL stays held: one handle must not be read by two threads at once. */
    caf_status st = caf_collector_output_read(self->file, name, key, &obj, &err);
    return object_result(st, obj, &err);
}

/* Stands for an empty run list: libcaf reads a NULL run list as "every key". */
static caf_exprun no_runs;

/* Runs argument: None for every key (*runs NULL), else a sequence of (exp, run) (*runs never NULL, free
 * with release_runs). */
static int optional_runs(PyObject *runs_obj, caf_exprun **runs, size_t *count)
{
    *runs = NULL;
    *count = 0;
    if (runs_obj == Py_None)
        return 0;
    if (cafpy_runs_from(runs_obj, runs, count) < 0)
        return -1;
    if (!*runs)
        *runs = &no_runs;
    return 0;
}

static void release_runs(caf_exprun *runs)
{
    if (runs != &no_runs)
        PyMem_Free(runs);
}

static PyObject *output_merge(CollectorOutput *self, PyObject *args)
{
    const char *name;
    PyObject *runs_obj = Py_None;
    caf_exprun *runs;
    size_t count;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "s|O", &name, &runs_obj) ||
        optional_runs(runs_obj, &runs, &count) < 0)
        return NULL;
    caf_object *obj = NULL;
    caf_error err = {0};
    caf_status st =
        caf_collector_output_merge_runs(self->file, name, runs, count, &obj, &err);
    release_runs(runs);
    return object_result(st, obj, &err);
}

static PyObject *output_close(CollectorOutput *self, PyObject *unused)
{
    (void)unused;
    caf_collector_output_close(self->file);
    self->file = NULL;
    Py_RETURN_NONE;
}

static PyMethodDef output_methods[] = {
    {"info", (PyCFunction)output_info, METH_NOARGS, "path, collector, module, granularity, parameters, runs."},
    {"objects", (PyCFunction)output_objects, METH_NOARGS, "Every object as (name, type, key count)."},
    {"keys", (PyCFunction)output_keys, METH_VARARGS, "The (exp, run) keys holding data of an object."},
    {"read", (PyCFunction)output_read, METH_VARARGS, "An object at one key, as a dict."},
    {"merge", (PyCFunction)output_merge, METH_VARARGS, "An object merged over runs (None: all), as a dict."},
    {"close", (PyCFunction)output_close, METH_NOARGS, "Closes the file."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CollectorOutputType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "caf._caf.CollectorOutput",
    .tp_basicsize = sizeof(CollectorOutput),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A collector output file: CollectorOutput(path).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)open_output,
    .tp_dealloc = (destructor)free_output,
    .tp_methods = output_methods,
};

/* Converts a sequence of paths into a char* array pointing into *holders (a list of bytes objects). */
static const char **path_array(PyObject *seq, PyObject **holders, size_t *count)
{
    *holders = PyList_New(0);
    PyObject *fast = *holders ? PySequence_Fast(seq, "paths must be a sequence") : NULL;
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    const char **paths = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *paths);
    for (Py_ssize_t i = 0; paths && i < n; i++) {
        PyObject *fs;
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(fast, i), &fs) || PyList_Append(*holders, fs) < 0) {
            Py_XDECREF(fs);
            PyMem_Free(paths);
            Py_DECREF(fast);
            return NULL;
        }
        paths[i] = PyBytes_AS_STRING(fs);
        Py_DECREF(fs);
    }
    Py_DECREF(fast);
    if (!paths)
        PyErr_NoMemory();
    *count = (size_t)n;
    return paths;
}

static PyObject *py_merge_files(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *paths_obj, *runs_obj = Py_None, *holders = NULL;
    const char *name;
    if (!PyArg_ParseTuple(args, "Os|O", &paths_obj, &name, &runs_obj))
        return NULL;
    size_t npaths = 0, count;
    const char **paths = path_array(paths_obj, &holders, &npaths);
    caf_exprun *runs;
    if (!paths || optional_runs(runs_obj, &runs, &count) < 0) {
        PyMem_Free(paths);
        Py_XDECREF(holders);
        return NULL;
    }
    caf_object *obj = NULL;
    caf_error err = {0};
    caf_status st;
    Py_BEGIN_ALLOW_THREADS
    st = caf_collected_merge_files(paths, npaths, name, runs, count, &obj, &err);
    Py_END_ALLOW_THREADS
    release_runs(runs);
    PyMem_Free(paths);
    Py_DECREF(holders);
    return object_result(st, obj, &err);
}

PyMethodDef cafpy_collector_output_methods[] = {
    {"merge_files", py_merge_files, METH_VARARGS, "An object merged over several files and runs, as a dict."},
    {NULL, NULL, 0, NULL},
};

int cafpy_collector_output_init(PyObject *module)
{
    if (PyType_Ready(&CollectorOutputType) < 0)
        return -1;
    Py_INCREF(&CollectorOutputType);
    return PyModule_AddObject(module, "CollectorOutput", (PyObject *)&CollectorOutputType);
}
