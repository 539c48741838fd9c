/* caf.Error and one subclass per caf_status, so that Python code can catch what it expects (a missing
 * database, a malformed file) and still see caf's one-line message as str(exception). */
#include "cafpy.h"

struct error_class {
    caf_status code;
    const char *name;    /* the attribute of caf._caf */
    const char *builtin; /* a builtin exception the class also derives from, or NULL */
    PyObject *type;
};

static PyObject *base_error;
static struct error_class error_classes[] = {
    {CAF_ERR_INVALID, "InvalidError", "ValueError", NULL},
    {CAF_ERR_FORMAT, "FormatError", "ValueError", NULL},
    {CAF_ERR_IO, "FileSystemError", NULL, NULL},
    {CAF_ERR_NOMEM, "OutOfMemoryError", "MemoryError", NULL},
    {CAF_ERR_NOT_FOUND, "NotFoundError", "LookupError", NULL},
    {CAF_ERR_EXISTS, "ExistsError", NULL, NULL},
    {CAF_ERR_STATE, "StateError", NULL, NULL},
    {CAF_ERR_PLUGIN, "PluginError", NULL, NULL},
    {CAF_ERR_EXTERNAL, "ExternalError", NULL, NULL},
    {CAF_ERR_TIMEOUT, "TimeLimitError", NULL, NULL},
};

PyObject *cafpy_error_type(caf_status code)
{
    for (size_t i = 0; i < sizeof error_classes / sizeof error_classes[0]; i++)
        if (error_classes[i].code == code)
            return error_classes[i].type;
    return base_error;
}

PyObject *cafpy_raise(const caf_error *err)
{
    PyErr_SetString(cafpy_error_type(err->code), err->message[0] ? err->message : caf_status_name(err->code));
    return NULL;
}

static int add_status(PyObject *type, caf_status code)
{
    PyObject *name = PyUnicode_FromString(caf_status_name(code));
    int rc = name ? PyObject_SetAttrString(type, "status", name) : -1;
    Py_XDECREF(name);
    return rc;
}

/* caf._caf and caf._algorithm each carry this file: the second one loaded takes the classes of the first,
 * so that `except caf.NotFoundError` catches what either raises. Returns 1 when it did, 0 when neither is
 * loaded yet, -1 with an exception. */
static int adopt_sibling_classes(PyObject *module)
{
    static const char *const siblings[] = {"caf._caf", "caf._algorithm"};
    for (size_t s = 0; s < sizeof siblings / sizeof siblings[0]; s++) {
        PyObject *name = PyUnicode_FromString(siblings[s]);
        PyObject *sibling = name ? PyImport_GetModule(name) : NULL;
        Py_XDECREF(name);
        PyObject *base = sibling ? PyObject_GetAttrString(sibling, "Error") : NULL;
        if (!base) {
            PyErr_Clear();
            Py_XDECREF(sibling);
            continue;
        }
        base_error = base;
        int rc = PyModule_AddObject(module, "Error", Py_NewRef(base));
        for (size_t i = 0; rc == 0 && i < sizeof error_classes / sizeof error_classes[0]; i++) {
            error_classes[i].type = PyObject_GetAttrString(sibling, error_classes[i].name);
            rc = error_classes[i].type ? PyModule_AddObject(module, error_classes[i].name,
                                                            Py_NewRef(error_classes[i].type)) : -1;
        }
        Py_DECREF(sibling);
        return rc < 0 ? -1 : 1;
    }
    return 0;
}

int cafpy_errors_init(PyObject *module)
{
    int adopted = adopt_sibling_classes(module);
    if (adopted != 0)
        return adopted < 0 ? -1 : 0;
    base_error = PyErr_NewExceptionWithDoc("caf._caf.Error",
                                           "A caf failure; str() is caf's one-line message naming the "
                                           "file, line, key or job at fault.",
                                           NULL, NULL);
    if (!base_error || add_status(base_error, CAF_ERR_INVALID) < 0)
        return -1;
    Py_INCREF(base_error);
    if (PyModule_AddObject(module, "Error", base_error) < 0)
        return -1;
    PyObject *builtins = PyEval_GetBuiltins();
    for (size_t i = 0; i < sizeof error_classes / sizeof error_classes[0]; i++) {
        struct error_class *c = &error_classes[i];
        PyObject *bases = NULL;
        if (c->builtin) {
            PyObject *builtin = PyDict_GetItemString(builtins, c->builtin);
            bases = builtin ? PyTuple_Pack(2, base_error, builtin) : NULL;
        } else {
            bases = PyTuple_Pack(1, base_error);
        }
        if (!bases)
            return -1;
        char qualified[64];
        snprintf(qualified, sizeof qualified, "caf._caf.%s", c->name);
        c->type = PyErr_NewException(qualified, bases, NULL);
        Py_DECREF(bases);
        if (!c->type || add_status(c->type, c->code) < 0)
            return -1;
        Py_INCREF(c->type);
        if (PyModule_AddObject(module, c->name, c->type) < 0)
            return -1;
    }
    return 0;
}
