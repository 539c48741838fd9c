/* Event file metadata (caf/event_file.h) and the file index (caf/file_index.h) for Python: both handed
 * over as the JSON libcaf itself produces for `caf file info --json` and `caf file index --json`, so the
 * Python objects carry exactly the command's fields. Events themselves are h5py's job. */
#include "cafpy.h"

#include <jansson.h>
#include <stdlib.h>

#include "caf/event_file.h"
#include "caf/file_index.h"

PyObject *cafpy_json_text(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return PyErr_NoMemory();
    PyObject *result = PyUnicode_FromString(text);
    free(text);
    return result;
}

static PyObject *py_event_file_metadata(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path_obj))
        return NULL;
    caf_event_file_meta meta = {0};
    caf_error err = {0};
    caf_status st;
    Py_BEGIN_ALLOW_THREADS
    st = caf_event_file_meta_read(PyBytes_AS_STRING(path_obj), &meta, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st != CAF_OK)
        return cafpy_raise(&err);
    PyObject *result = cafpy_json_text(caf_event_file_meta_to_json(&meta));
    caf_event_file_meta_free(&meta);
    return result;
}

/* Adds one file or folder; a file that cannot be added is noted in the index's bad list, not raised. */
static int add_path(caf_file_index *index, PyObject *path)
{
    PyObject *fs;
    if (!PyUnicode_FSConverter(path, &fs))
        return -1;
    size_t bad_before = caf_file_index_bad_count(index);
    caf_error err = {0};
    caf_status st;
    Py_BEGIN_ALLOW_THREADS
    st = caf_file_index_add_path(index, PyBytes_AS_STRING(fs), &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(fs);
    if (st != CAF_OK && caf_file_index_bad_count(index) == bad_before) {
        cafpy_raise(&err);
        return -1;
    }
    return 0;
}

/* file_index(paths, cache_path or None, exclude or None) -> (index JSON text, [bad file messages]). */
static PyObject *py_file_index(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *paths, *cache_obj, *exclude_obj, *cache_fs = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &paths, &cache_obj, &exclude_obj))
        return NULL;
    const char *exclude = NULL;
    if (exclude_obj != Py_None && !(exclude = PyUnicode_AsUTF8(exclude_obj)))
        return NULL;
    if (cache_obj != Py_None && !PyUnicode_FSConverter(cache_obj, &cache_fs))
        return NULL;
    PyObject *fast = PySequence_Fast(paths, "paths must be a sequence of files and folders");
    if (!fast) {
        Py_XDECREF(cache_fs);
        return NULL;
    }
    caf_file_index *index = NULL;
    caf_error err = {0};
    caf_status st = caf_file_index_open(&index, cache_fs ? PyBytes_AS_STRING(cache_fs) : NULL, &err);
    Py_XDECREF(cache_fs);
    if (st == CAF_OK)
        st = caf_file_index_set_exclude(index, exclude, &err);
    PyObject *result = NULL;
    if (st != CAF_OK) {
        cafpy_raise(&err);
        goto done;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++)
        if (add_path(index, PySequence_Fast_GET_ITEM(fast, i)) < 0)
            goto done;
    PyObject *bad = PyList_New((Py_ssize_t)caf_file_index_bad_count(index));
    for (size_t i = 0; bad && i < caf_file_index_bad_count(index); i++) {
        PyObject *line = PyUnicode_FromString(caf_file_index_bad_message(index, i));
        if (!line) {
            Py_CLEAR(bad);
            break;
        }
        PyList_SET_ITEM(bad, (Py_ssize_t)i, line);
    }
    PyObject *text = bad ? cafpy_json_text(caf_file_index_to_json(index)) : NULL;
    if (text)
        result = Py_BuildValue("(NN)", text, bad);
    else
        Py_XDECREF(bad);
done:
    caf_file_index_close(index);
    Py_DECREF(fast);
    return result;
}

PyMethodDef cafpy_event_files_methods[] = {
    {"event_file_metadata", py_event_file_metadata, METH_VARARGS, "An event file's metadata as JSON text."},
    {"file_index", py_file_index, METH_VARARGS, "Indexes files and folders: (JSON text, bad file messages)."},
    {NULL, NULL, 0, NULL},
};
