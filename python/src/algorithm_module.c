/* The extension module caf._algorithm: what the execution child of an algorithm written in Python needs
 * (algorithm.c, object.c, iov.c, errors.c), and nothing else. It is a module of its own because caf._caf
 * also reads event files, which links HDF5, and Debian's HDF5 pulls libcurl, GnuTLS, Kerberos and LDAP:
 * loading those cost every execution more than the interpreter's own start (docs/ARCHITECTURE.md,
 * Performance). Linked with --as-needed, this one loads libcaf's SQLite, jansson and libcrypto only. */
#include "cafpy.h"

static PyMethodDef all_methods[32];

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "caf._algorithm", "Running an algorithm written in Python (caf/python_algorithm.h).",
    -1, all_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__algorithm(void)
{
    size_t used = 0;
    for (const PyMethodDef *m = cafpy_algorithm_methods; m->ml_name; m++) {
        if (used + 1 >= sizeof all_methods / sizeof all_methods[0]) {
            PyErr_SetString(PyExc_SystemError, "caf._algorithm: method table too small");
            return NULL;
        }
        all_methods[used++] = *m;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (!module)
        return NULL;
    if (cafpy_errors_init(module) < 0 || cafpy_algorithm_init(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
