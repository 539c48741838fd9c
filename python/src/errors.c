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

PyObject *cafpy_raise(const caf_error *err)
{
    PyObject *type = base_error;
    for (size_t i = 0; i < sizeof error_classes / sizeof error_classes[0]; i++)
        if (error_classes[i].code == err->code)
            type = error_classes[i].type;
    PyErr_SetString(type, err->message[0] ? err->message : caf_status_name(err->code));
    return NULL;
}

static int add_status(PyObject *type, caf_status code)
{
    PyObject *name = PyUnicode_FromString(caf_status_name(code));
    int rc = name ? PyObject_SetAttrString(type, "status", name) : -1;
    Py_XDECREF(name);
    return rc;
}

int cafpy_errors_init(PyObject *module)
{
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
