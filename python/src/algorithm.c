/* Algorithms written in Python (caf/python_algorithm.h), the C half: inside the interpreter the runner's
 * execution child became, an algorithm descriptor whose hooks call Python functions, run by libcaf's own
 * execution child code (caf_algo_run_in_child). So the Python algorithm reads inputs, saves payloads and
 * state and finds boundaries through exactly the code C algorithms use. The Python half
 * (caf/_algorithm_runner.py, caf/algorithm.py) imports the user's function and wraps it into the adapters
 * called here, which never raise: they return (result, message) or an error message.
 *
 * The context object (_caf.AlgoContext) wraps the caf_algo_context of one hook call and refuses to be used
 * after the call returned (the framework's context is only valid during it). */
#include "cafpy.h"

#include <string.h>

#include "caf/algorithm_runner.h"
#include "caf/algorithm_zygote.h"
#include "caf/python_algorithm.h"

typedef struct {
    PyObject_HEAD caf_algo_context *ctx; /* NULL once the hook returned */
} AlgoContext;

static PyTypeObject AlgoContextType;

static caf_algo_context *live(AlgoContext *self)
{
    if (!self->ctx)
        PyErr_SetString(PyExc_RuntimeError, "the algorithm context is only valid while the hook it was given to runs");
    return self->ctx;
}

#define LIVE(self)                                                                                                     \
    caf_algo_context *ctx = live(self);                                                                                \
    if (!ctx)                                                                                                          \
        return NULL

static PyObject *ctx_runs(AlgoContext *self, PyObject *unused)
{
    LIVE(self);
    size_t n;
    const caf_exprun *runs = caf_algo_runs(ctx, &n);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++)
        PyList_SET_ITEM(list, (Py_ssize_t)i, cafpy_exprun_to(runs[i]));
    return list;
}

static PyObject *ctx_info(AlgoContext *self, PyObject *unused)
{
    LIVE(self);
    size_t n;
    const char *const *files = caf_algo_input_files(ctx, &n);
    PyObject *inputs = PyList_New((Py_ssize_t)n), *collections = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; inputs && collections && i < n; i++) {
        const char *col = caf_algo_input_collection(ctx, i);
        PyList_SET_ITEM(inputs, (Py_ssize_t)i, PyUnicode_FromString(files[i]));
        PyList_SET_ITEM(collections, (Py_ssize_t)i, col ? PyUnicode_FromString(col) : Py_NewRef(Py_None));
    }
    if (!inputs || !collections) {
        Py_XDECREF(inputs);
        Py_XDECREF(collections);
        return NULL;
    }
    return Py_BuildValue("{s:s, s:i, s:N, s:s, s:N, s:N}", "name", caf_algo_name(ctx), "iteration",
                         caf_algo_iteration(ctx), "iov", cafpy_iov_to(caf_algo_default_iov(ctx)), "granularity",
                         caf_algo_granularity(ctx), "inputs", inputs, "collections", collections);
}

/* get_object(name, runs=None, collection=None) -> the object's dict (cafpy_object_to_dict). */
static PyObject *ctx_get_object(AlgoContext *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"name", "runs", "collection", NULL};
    const char *name, *collection = NULL;
    PyObject *runs_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|Oz", kw, &name, &runs_obj, &collection))
        return NULL;
    LIVE(self);
    caf_exprun *runs = NULL;
    size_t count = 0;
    if (runs_obj != Py_None && cafpy_runs_from(runs_obj, &runs, &count) < 0)
        return NULL;
    const caf_object *obj = NULL;
    caf_error err = {0};
    caf_status st;
    /* the GIL stays held: the algorithm's input handles are not thread-safe */
    if (collection && runs_obj != Py_None)
        st = caf_algo_get_collection_object_for_runs(ctx, collection, name, runs, count, &obj, &err);
    else if (collection)
        st = caf_algo_get_collection_object(ctx, collection, name, &obj, &err);
    else if (runs_obj != Py_None)
        st = caf_algo_get_object_for_runs(ctx, name, runs, count, &obj, &err);
    else
        st = caf_algo_get_object(ctx, name, &obj, &err);
    PyMem_Free(runs);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    return cafpy_object_to_dict(obj);
}

static int iov_arg(PyObject *obj, caf_iov *iov, const caf_iov **out)
{
    *out = NULL;
    if (obj == Py_None)
        return 0;
    if (cafpy_iov_from(obj, iov) < 0)
        return -1;
    *out = iov;
    return 0;
}

/* save_json(name, text, iov=None): a JSON object payload, canonical as caf_algo_save_constants writes. */
static PyObject *ctx_save_json(AlgoContext *self, PyObject *args)
{
    const char *name, *text;
    Py_ssize_t size;
    PyObject *iov_obj = Py_None;
    if (!PyArg_ParseTuple(args, "ss#|O", &name, &text, &size, &iov_obj))
        return NULL;
    LIVE(self);
    caf_iov iov;
    const caf_iov *iovp;
    if (iov_arg(iov_obj, &iov, &iovp) < 0)
        return NULL;
    caf_error err = {0};
    caf_constants *constants = NULL;
    caf_status st = caf_constants_parse(text, (size_t)size, &constants, &err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, name, constants, iovp, &err);
    caf_constants_free(constants);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

/* save_bytes(name, ext, data, iov=None). */
static PyObject *ctx_save_bytes(AlgoContext *self, PyObject *args)
{
    const char *name, *ext;
    Py_buffer data;
    PyObject *iov_obj = Py_None;
    if (!PyArg_ParseTuple(args, "ssy*|O", &name, &ext, &data, &iov_obj))
        return NULL;
    caf_algo_context *ctx = live(self);
    caf_iov iov;
    const caf_iov *iovp;
    caf_error err = {0};
    caf_status st = CAF_OK;
    if (!ctx || iov_arg(iov_obj, &iov, &iovp) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    st = caf_algo_save_bytes(ctx, name, ext, data.buf, (size_t)data.len, iovp, &err);
    PyBuffer_Release(&data);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

/* read_payload(name, run) -> (bytes, ext). */
static PyObject *ctx_read_payload(AlgoContext *self, PyObject *args)
{
    const char *name;
    PyObject *run_obj;
    if (!PyArg_ParseTuple(args, "sO", &name, &run_obj))
        return NULL;
    LIVE(self);
    caf_exprun r;
    if (cafpy_exprun_from(run_obj, &r) < 0)
        return NULL;
    char *data = NULL, *ext = NULL;
    size_t size = 0;
    caf_error err = {0};
    if (caf_algo_read_payload(ctx, name, r, &data, &size, &ext, &err) != CAF_OK)
        return cafpy_raise(&err);
    PyObject *out = Py_BuildValue("(y#s)", data, (Py_ssize_t)size, ext ? ext : "");
    free(data);
    free(ext);
    return out;
}

/* input_state() -> the previous execution's state as JSON text. */
static PyObject *ctx_input_state(AlgoContext *self, PyObject *unused)
{
    LIVE(self);
    char *text = json_dumps(caf_algo_input_state(ctx), JSON_COMPACT);
    if (!text)
        return PyErr_NoMemory();
    PyObject *s = PyUnicode_FromString(text);
    free(text);
    return s;
}

/* set_output_state(text): replaces the output state with a JSON object. */
static PyObject *ctx_set_output_state(AlgoContext *self, PyObject *args)
{
    const char *text;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "s#", &text, &size))
        return NULL;
    LIVE(self);
    json_error_t jerr;
    json_t *state = json_loadb(text, (size_t)size, 0, &jerr);
    if (!json_is_object(state)) {
        json_decref(state);
        PyErr_Format(PyExc_ValueError, "the output state is not a JSON object (%s)", jerr.text);
        return NULL;
    }
    json_t *out = caf_algo_output_state(ctx);
    json_object_clear(out);
    json_object_update(out, state);
    json_decref(state);
    Py_RETURN_NONE;
}

static PyObject *ctx_add_boundary(AlgoContext *self, PyObject *args)
{
    PyObject *run_obj;
    if (!PyArg_ParseTuple(args, "O", &run_obj))
        return NULL;
    LIVE(self);
    caf_exprun r;
    caf_error err = {0};
    if (cafpy_exprun_from(run_obj, &r) < 0)
        return NULL;
    if (caf_algo_add_boundary(ctx, r, &err) != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

/* side_files(collection=None) -> [{"collection", "job", "runs", "job_runs", "files"}]. */
static PyObject *ctx_side_files(AlgoContext *self, PyObject *args)
{
    const char *collection = NULL;
    if (!PyArg_ParseTuple(args, "|z", &collection))
        return NULL;
    LIVE(self);
    const caf_algo_side_files *jobs;
    size_t n;
    caf_error err = {0};
    caf_status st = collection ? caf_algo_collection_side_files(ctx, collection, &jobs, &n, &err)
                               : caf_algo_side_files_list(ctx, &jobs, &n, &err);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < n; i++) {
        const caf_algo_side_files *j = &jobs[i];
        PyObject *runs = PyList_New(0), *job_runs = PyList_New(0), *files = PyList_New(0);
        for (size_t k = 0; runs && k < j->run_count; k++)
            PyList_Append(runs, cafpy_exprun_to(j->runs[k]));
        for (size_t k = 0; job_runs && k < j->job_run_count; k++)
            PyList_Append(job_runs, cafpy_exprun_to(j->job_runs[k]));
        for (size_t k = 0; files && k < j->file_count; k++)
            PyList_Append(files, PyUnicode_FromString(j->files[k]));
        PyObject *d = Py_BuildValue("{s:z, s:n, s:N, s:N, s:N}", "collection", j->collection, "job",
                                    (Py_ssize_t)j->job, "runs", runs, "job_runs", job_runs, "files", files);
        if (!d || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}

static PyMethodDef ctx_methods[] = {
    {"runs", (PyCFunction)ctx_runs, METH_NOARGS, "The requested runs, sorted."},
    {"info", (PyCFunction)ctx_info, METH_NOARGS, "name, iteration, default IoV, granularity, inputs."},
    {"get_object", (PyCFunction)(void (*)(void))ctx_get_object, METH_VARARGS | METH_KEYWORDS,
     "A collected object merged over the requested (or given) runs, as a dict."},
    {"save_json", (PyCFunction)ctx_save_json, METH_VARARGS, "Saves a JSON object payload (canonical)."},
    {"save_bytes", (PyCFunction)ctx_save_bytes, METH_VARARGS, "Saves a payload of bytes."},
    {"read_payload", (PyCFunction)ctx_read_payload, METH_VARARGS, "(bytes, ext) of a payload of the chain."},
    {"input_state", (PyCFunction)ctx_input_state, METH_NOARGS, "The input JSON state as text."},
    {"set_output_state", (PyCFunction)ctx_set_output_state, METH_VARARGS, "Sets the output JSON state."},
    {"add_boundary", (PyCFunction)ctx_add_boundary, METH_VARARGS, "Marks a payload boundary."},
    {"side_files", (PyCFunction)ctx_side_files, METH_VARARGS, "The collector jobs' side files."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AlgoContextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "caf._caf.AlgoContext",
    .tp_basicsize = sizeof(AlgoContext),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What one hook of an algorithm written in Python sees (valid during the call only).",
    .tp_methods = ctx_methods,
};

/* ---- The descriptor whose hooks call the adapters ---- */

static PyObject *adapters; /* {"calibrate": f, ...}, set by run_algorithm */

/* Calls adapter hook(context, *extra) with a context valid for the call; a new reference or NULL. */
static PyObject *call_hook(const char *hook, caf_algo_context *ctx, PyObject *extra)
{
    PyObject *f = PyDict_GetItemString(adapters, hook);
    AlgoContext *c = PyObject_New(AlgoContext, &AlgoContextType);
    if (!f || !c) {
        Py_XDECREF(c);
        return NULL;
    }
    c->ctx = ctx;
    PyObject *r = extra ? PyObject_CallFunctionObjArgs(f, (PyObject *)c, extra, NULL)
                        : PyObject_CallFunctionObjArgs(f, (PyObject *)c, NULL);
    c->ctx = NULL;
    Py_DECREF(c);
    return r;
}

/* An adapter's answer that is an error message (str) or None; CAF_OK for None. */
static caf_status hook_status(PyObject *r, const char *hook, caf_error *err)
{
    if (!r) {
        PyErr_Print();
        return caf_error_set(err, CAF_ERR_EXTERNAL, "%s: the Python adapter failed (see the log)", hook);
    }
    caf_status st = CAF_OK;
    if (PyUnicode_Check(r))
        st = caf_error_set(err, CAF_ERR_EXTERNAL, "%s", PyUnicode_AsUTF8(r));
    Py_DECREF(r);
    return st;
}

static caf_algo_result hook_calibrate(caf_algo_context *ctx, caf_error *err)
{
    PyObject *r = call_hook("calibrate", ctx, NULL);
    int code = CAF_ALGO_FAILURE;
    const char *message = "";
    if (!r || !PyArg_ParseTuple(r, "is", &code, &message)) {
        PyErr_Print();
        code = CAF_ALGO_FAILURE;
        message = "calibrate: the Python adapter failed (see the log)";
    }
    if (*message)
        caf_error_set(err, CAF_ERR_EXTERNAL, "%s", message);
    Py_XDECREF(r);
    return (caf_algo_result)code;
}

static caf_status hook_pre_algorithm(caf_algo_context *ctx, int iteration, caf_error *err)
{
    PyObject *it = PyLong_FromLong(iteration);
    caf_status st = hook_status(call_hook("pre_algorithm", ctx, it), "pre_algorithm", err);
    Py_XDECREF(it);
    return st;
}

static caf_status hook_setup_experiment(caf_algo_context *ctx, int exp, caf_error *err)
{
    PyObject *e = PyLong_FromLong(exp);
    caf_status st = hook_status(call_hook("setup_experiment", ctx, e), "setup_experiment", err);
    Py_XDECREF(e);
    return st;
}

static caf_status hook_boundary_setup(caf_algo_context *ctx, const caf_exprun *runs, size_t count, void **state,
                                      caf_error *err)
{
    *state = NULL;
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++)
        PyList_SET_ITEM(list, (Py_ssize_t)i, cafpy_exprun_to(runs[i]));
    caf_status st = hook_status(list ? call_hook("boundary_setup", ctx, list) : NULL, "boundary_setup", err);
    Py_XDECREF(list);
    return st;
}

/* The adapter answers True/False, or an error message. */
static caf_status hook_is_boundary_required(caf_algo_context *ctx, void *state, caf_exprun run, bool *required,
                                            caf_error *err)
{
    (void)state;
    PyObject *arg = cafpy_exprun_to(run);
    PyObject *r = arg ? call_hook("is_boundary_required", ctx, arg) : NULL;
    Py_XDECREF(arg);
    *required = false;
    if (r && PyBool_Check(r)) {
        *required = r == Py_True;
        Py_DECREF(r);
        return CAF_OK;
    }
    return hook_status(r, "is_boundary_required", err);
}

static void hook_boundary_teardown(caf_algo_context *ctx, void *state)
{
    (void)state;
    caf_error ignored = {0};
    hook_status(call_hook("boundary_teardown", ctx, NULL), "boundary_teardown", &ignored);
}

/* run_algorithm(spec_text, result_fd, name, collector, adapters) -> bool (the result was sent). Runs the
 * execution's child work of spec for the algorithm "python:NAME" whose hooks are the adapters present. */
static PyObject *run_algorithm(PyObject *module, PyObject *args)
{
    const char *text, *name, *collector;
    Py_ssize_t size;
    int fd;
    PyObject *hooks;
    if (!PyArg_ParseTuple(args, "s#issO!", &text, &size, &fd, &name, &collector, &PyDict_Type, &hooks))
        return NULL;
    caf_error err = {0};
    caf_algo_run_spec *spec = NULL;
    if (caf_algo_run_spec_from_json(text, (size_t)size, &spec, &err) != CAF_OK)
        return cafpy_raise(&err);
    spec->param_count = 0; /* the Python side hands the parameters to the function as a dict */
    Py_XSETREF(adapters, Py_NewRef(hooks));
    static caf_algorithm_descriptor d;
    static char name_copy[512], collector_copy[256];
    snprintf(name_copy, sizeof name_copy, "%s", name);
    snprintf(collector_copy, sizeof collector_copy, "%s", collector);
    d = (caf_algorithm_descriptor){
        .abi_version = CAF_ALGORITHM_ABI_VERSION,
        .name = name_copy,
        .description = "an algorithm written in Python",
        .collector = collector_copy,
        .calibrate = hook_calibrate,
        .pre_algorithm = PyDict_GetItemString(hooks, "pre_algorithm") ? hook_pre_algorithm : NULL,
        .setup_experiment = PyDict_GetItemString(hooks, "setup_experiment") ? hook_setup_experiment : NULL,
        .boundary_setup = PyDict_GetItemString(hooks, "boundary_setup") ? hook_boundary_setup : NULL,
        .is_boundary_required = PyDict_GetItemString(hooks, "is_boundary_required") ? hook_is_boundary_required : NULL,
        .boundary_teardown = PyDict_GetItemString(hooks, "boundary_teardown") ? hook_boundary_teardown : NULL,
    };
    caf_algorithm *alg = NULL;
    bool sent;
    if (caf_algorithm_new_as(CAF_PYTHON_ALGORITHM_PLUGIN, &d, &alg, &err) == CAF_OK)
        sent = caf_algo_run_in_child(spec, alg, fd);
    else
        sent = caf_algo_child_send_error(fd, spec->algorithm ? spec->algorithm : name, err.code, &err);
    caf_algorithm_close(alg);
    caf_algo_run_spec_free(spec);
    return PyBool_FromLong(sent);
}

/* send_setup_error(result_fd, algorithm, message): the algorithm could not be made (import, signature). */
static PyObject *send_setup_error(PyObject *module, PyObject *args)
{
    int fd;
    const char *algorithm, *message;
    if (!PyArg_ParseTuple(args, "iss", &fd, &algorithm, &message))
        return NULL;
    caf_error err = {0};
    caf_error_set(&err, CAF_ERR_PLUGIN, "%s", message);
    return PyBool_FromLong(caf_algo_child_send_error(fd, algorithm, CAF_ERR_PLUGIN, &err));
}

/* ---- the zygote of a Python algorithm (caf/algorithm_zygote.h) ---- */

static void py_before_fork(void *ctx)
{
    (void)ctx;
    PyOS_BeforeFork();
}

static void py_after_fork(void *ctx)
{
    (void)ctx;
    PyOS_AfterFork_Parent();
}

/* The execution's child, once its request came (py_child_start ran right after the fork): the handler runs it (handler(spec_text, result_fd) -> exit code); no teardown. */
static void py_child_start(void *ctx)
{
    (void)ctx;
    PyOS_AfterFork_Child();
}

static void py_child(const caf_algo_run_spec *spec, int fd, void *ctx)
{
    json_t *j = caf_algo_run_spec_to_json(spec);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    PyObject *r = text ? PyObject_CallFunction((PyObject *)ctx, "si", text, fd) : NULL;
    free(text);
    int code = r && PyLong_Check(r) ? (int)PyLong_AsLong(r) : 1;
    if (!r && PyErr_Occurred())
        PyErr_Print();
    fflush(NULL);
    _exit(code);
}

/* zygote_serve(sock, parent, handler) -> int: serves the runner's requests on sock until it closes, each
 * execution in a forked child set up as the runner's own child, where handler(spec_text, result_fd) runs it. */
static PyObject *zygote_serve(PyObject *module, PyObject *args)
{
    int sock;
    long parent;
    PyObject *handler;
    if (!PyArg_ParseTuple(args, "ilO", &sock, &parent, &handler))
        return NULL;
    caf_algo_zygote_hooks hooks = {.before_fork = py_before_fork, .after_fork = py_after_fork, .child = py_child,
                                   .ctx = handler, .child_start = py_child_start};
    return PyLong_FromLong(caf_algo_zygote_serve(sock, (pid_t)parent, &hooks));
}

PyMethodDef cafpy_algorithm_methods[] = {
    {"zygote_serve", zygote_serve, METH_VARARGS, "Serves the runner's executions from this process (a zygote)."},
    {"run_algorithm", run_algorithm, METH_VARARGS, "Runs an algorithm written in Python (the runner's child)."},
    {"send_setup_error", send_setup_error, METH_VARARGS, "Reports an algorithm that could not be set up."},
    {NULL, NULL, 0, NULL},
};

int cafpy_algorithm_init(PyObject *module)
{
    if (PyType_Ready(&AlgoContextType) < 0)
        return -1;
    Py_INCREF(&AlgoContextType);
    if (PyModule_AddObject(module, "AlgoContext", (PyObject *)&AlgoContextType) < 0) {
        Py_DECREF(&AlgoContextType);
        return -1;
    }
    return 0;
}
