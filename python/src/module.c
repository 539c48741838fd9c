/* The extension module caf._caf: the C half of the Python package caf (python/caf/), linked with the static
 * libcaf so that the installed module needs no library path. */
#include "cafpy.h"

#include "caf/version.h"

/* The module's functions: the tables of iov.c, localdb.c, collector_output.c, event_files.c, algorithm.c
 * and campaign.c
 * joined. */
static PyMethodDef all_methods[64];

static int append_methods(size_t *used, const PyMethodDef *table)
{
    for (; table->ml_name; table++) {
        if (*used + 1 >= sizeof all_methods / sizeof all_methods[0])
            return -1;
        all_methods[(*used)++] = *table;
    }
    return 0;
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "caf._caf", "libcaf's public API for the Python package caf.", -1, all_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__caf(void)
{
    size_t used = 0;
    if (append_methods(&used, cafpy_iov_methods) < 0 || append_methods(&used, cafpy_localdb_methods) < 0 ||
        append_methods(&used, cafpy_collector_output_methods) < 0 ||
        append_methods(&used, cafpy_event_files_methods) < 0 || append_methods(&used, cafpy_algorithm_methods) < 0 ||
        append_methods(&used, cafpy_campaign_methods) < 0) {
        PyErr_SetString(PyExc_SystemError, "caf._caf: method table too small");
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (!module)
        return NULL;
    if (cafpy_errors_init(module) < 0 || cafpy_localdb_init(module) < 0 || cafpy_collector_output_init(module) < 0 ||
        cafpy_algorithm_init(module) < 0 ||
        PyModule_AddStringConstant(module, "version", CAF_VERSION_STRING) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
