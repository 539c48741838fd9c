/* caf._caf.LocalDB: a local conditions database (caf/localdb.h) open in Python. Listing, lookup, payload
 * paths, the all-or-nothing commit and the checker are libcaf's own; nothing here parses database.txt. */
#include "cafpy.h"

#include <stdlib.h>

#include "caf/localdb.h"

typedef struct {
    PyObject_HEAD caf_localdb *db;
} LocalDB;

static int open_db(LocalDB *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", "create", NULL};
    PyObject *path_obj;
    int create = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|p", keywords, PyUnicode_FSConverter, &path_obj, &create))
        return -1;
    caf_localdb_close(self->db);
    self->db = NULL;
    caf_error err = {0};
    caf_status st = caf_localdb_open(PyBytes_AS_STRING(path_obj), create ? CAF_LOCALDB_CREATE : 0, &self->db, &err);
    Py_DECREF(path_obj);
    if (st != CAF_OK) {
        cafpy_raise(&err);
        return -1;
    }
    return 0;
}

static void free_db(LocalDB *self)
{
    caf_localdb_close(self->db);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int require_open(LocalDB *self)
{
    if (self->db)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the database is closed");
    return -1;
}

static PyObject *entry_tuple(const caf_db_entry *e)
{
    return Py_BuildValue("(ssNi)", e->name, e->revision, cafpy_iov_to(e->iov), e->line);
}

static PyObject *db_entries(LocalDB *self, PyObject *unused)
{
    (void)unused;
    if (require_open(self) < 0)
        return NULL;
    size_t n = caf_localdb_entry_count(self->db);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *item = entry_tuple(caf_localdb_entry(self->db, i));
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* The entry for name at run (exp, run) as (name, revision, iov, line), or None. */
static PyObject *db_find(LocalDB *self, PyObject *args)
{
    const char *name;
    PyObject *run_obj;
    caf_exprun r;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "sO", &name, &run_obj) ||
        cafpy_exprun_from(run_obj, &r) < 0)
        return NULL;
    const caf_db_entry *e = caf_localdb_find(self->db, name, r);
    if (!e)
        Py_RETURN_NONE;
    return entry_tuple(e);
}

/* The payload file of the line-th line of database.txt (1-based, as caf_db_entry.line). */
static PyObject *db_payload_path(LocalDB *self, PyObject *args)
{
    int line;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "i", &line))
        return NULL;
    size_t n = caf_localdb_entry_count(self->db);
    for (size_t i = 0; i < n; i++) {
        const caf_db_entry *e = caf_localdb_entry(self->db, i);
        if (e->line != line)
            continue;
        caf_error err = {0};
        char *path = caf_localdb_payload_path(self->db, e, &err);
        if (!path)
            return cafpy_raise(&err);
        PyObject *result = PyUnicode_DecodeFSDefault(path);
        free(path);
        return result;
    }
    return PyErr_Format(PyExc_LookupError, "%s: no payload on line %d of %s", caf_localdb_dir(self->db), line,
                        CAF_LOCALDB_TEXT_FILE);
}

static PyObject *db_reload(LocalDB *self, PyObject *unused)
{
    (void)unused;
    caf_error err = {0};
    if (require_open(self) < 0)
        return NULL;
    if (caf_localdb_reload(self->db, &err) != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

static PyObject *db_close(LocalDB *self, PyObject *unused)
{
    (void)unused;
    caf_localdb_close(self->db);
    self->db = NULL;
    Py_RETURN_NONE;
}

static PyObject *db_dir(LocalDB *self, void *closure)
{
    (void)closure;
    if (require_open(self) < 0)
        return NULL;
    return PyUnicode_DecodeFSDefault(caf_localdb_dir(self->db));
}

/* Stages one (name, iov, ext, data, path) item: bytes when data is not None, else the file at path. */
static int stage(caf_db_commit *commit, PyObject *item, caf_error *err)
{
    const char *name, *ext;
    PyObject *iov_obj, *data, *path;
    if (!PyArg_ParseTuple(item, "sOzOO;a staged payload is (name, iov, ext, data, path)", &name, &iov_obj, &ext,
                          &data, &path))
        return -1;
    caf_iov iov;
    if (cafpy_iov_from(iov_obj, &iov) < 0)
        return -1;
    caf_status st;
    if (data != Py_None) {
        Py_buffer view;
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
            return -1;
        st = caf_db_commit_add_bytes(commit, name, ext ? ext : "bin", view.buf, (size_t)view.len, iov, err);
        PyBuffer_Release(&view);
    } else {
        PyObject *fs;
        if (!PyUnicode_FSConverter(path, &fs))
            return -1;
        st = caf_db_commit_add_file(commit, name, PyBytes_AS_STRING(fs), iov, err);
        Py_DECREF(fs);
    }
    if (st != CAF_OK) {
        cafpy_raise(err);
        return -1;
    }
    return 0;
}

/* Commits every staged item or none (caf_db_commit_*). */
static PyObject *db_commit(LocalDB *self, PyObject *args)
{
    PyObject *items;
    if (require_open(self) < 0 || !PyArg_ParseTuple(args, "O", &items))
        return NULL;
    PyObject *fast = PySequence_Fast(items, "commit expects a sequence of staged payloads");
    if (!fast)
        return NULL;
    caf_error err = {0};
    caf_db_commit *commit;
    if (caf_db_commit_begin(self->db, &commit, &err) != CAF_OK) {
        Py_DECREF(fast);
        return cafpy_raise(&err);
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        if (stage(commit, PySequence_Fast_GET_ITEM(fast, i), &err) < 0) {
            caf_db_commit_abort(commit);
            Py_DECREF(fast);
            return NULL;
        }
    }
    Py_DECREF(fast);
    if (caf_db_commit_finish(commit, &err) != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

static PyMethodDef db_methods[] = {
    {"entries", (PyCFunction)db_entries, METH_NOARGS, "Every line as (name, revision, iov, line)."},
    {"find", (PyCFunction)db_find, METH_VARARGS, "The entry that applies to name at (exp, run), or None."},
    {"payload_path", (PyCFunction)db_payload_path, METH_VARARGS, "The payload file of a database.txt line."},
    {"reload", (PyCFunction)db_reload, METH_NOARGS, "Re-reads database.txt."},
    {"close", (PyCFunction)db_close, METH_NOARGS, "Closes the database."},
    {"commit", (PyCFunction)db_commit, METH_VARARGS, "Adds (name, iov, ext, data, path) items all or none."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef db_getset[] = {
    {"dir", (getter)db_dir, NULL, "The database's folder.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LocalDBType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "caf._caf.LocalDB",
    .tp_basicsize = sizeof(LocalDB),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A local conditions database: LocalDB(path, create=False).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)open_db,
    .tp_dealloc = (destructor)free_db,
    .tp_methods = db_methods,
    .tp_getset = db_getset,
};

static void collect_problem(const char *problem, void *userdata)
{
    PyObject *line = PyUnicode_FromString(problem);
    if (line) {
        PyList_Append((PyObject *)userdata, line);
        Py_DECREF(line);
    }
}

/* The problems caf_localdb_check finds, as a list of "FILE:LINE: reason" strings. */
static PyObject *py_localdb_check(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path_obj))
        return NULL;
    PyObject *problems = PyList_New(0);
    size_t count = 0;
    caf_error err = {0};
    caf_status st = problems ? caf_localdb_check(PyBytes_AS_STRING(path_obj), collect_problem, problems, &count, &err)
                             : CAF_ERR_NOMEM;
    Py_DECREF(path_obj);
    if (!problems)
        return NULL;
    if (st != CAF_OK) {
        Py_DECREF(problems);
        return cafpy_raise(&err);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(problems);
        return NULL;
    }
    return problems;
}

static PyObject *py_payload_name_check(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    caf_error err = {0};
    if (caf_payload_name_check(name, &err) != CAF_OK)
        return cafpy_raise(&err);
    Py_RETURN_NONE;
}

PyMethodDef cafpy_localdb_methods[] = {
    {"localdb_check", py_localdb_check, METH_VARARGS, "Checks a database; returns its problems (list of str)."},
    {"payload_name_check", py_payload_name_check, METH_VARARGS, "Raises caf.Error for an illegal payload name."},
    {NULL, NULL, 0, NULL},
};

int cafpy_localdb_init(PyObject *module)
{
    if (PyType_Ready(&LocalDBType) < 0)
        return -1;
    Py_INCREF(&LocalDBType);
    return PyModule_AddObject(module, "LocalDB", (PyObject *)&LocalDBType);
}
