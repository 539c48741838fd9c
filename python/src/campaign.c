/* Campaigns for Python (python/caf/framework.py): a campaign text validated by libcaf's own loader and
 * validator (caf_campaign_load_text, the code behind `caf config check` and `caf run`), a run's status
 * (caf_run_status, `caf status --json`) and a payload's lineage (caf_lineage_why, `caf db why --json`),
 * the last two handed over as the JSON libcaf produces. Running, checking plugins and planning go through
 * the caf command (docs/ARCHITECTURE.md, "Campaigns in Python"). */
#include "cafpy.h"

#include <stdlib.h>

#include "caf/caf_run.h"
#include "caf/campaign.h"
#include "caf/lineage.h"

/* Raises err's caf.Error with the attribute problems: every problem as "NAME:LINE:COLUMN: message". */
static PyObject *raise_with_problems(const caf_error *err, const caf_config_problems *problems, const char *name)
{
    PyObject *type = cafpy_error_type(err->code);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < problems->count; i++) {
        char text[1200];
        PyObject *line = PyUnicode_FromString(caf_config_problem_format(problems, i, name, text, sizeof text));
        if (!line || PyList_Append(list, line) < 0)
            Py_CLEAR(list);
        Py_XDECREF(line);
    }
    PyObject *exception = list ? PyObject_CallFunction(type, "s", err->message) : NULL;
    if (exception && PyObject_SetAttrString(exception, "problems", list) == 0)
        PyErr_SetObject(type, exception);
    Py_XDECREF(exception);
    Py_XDECREF(list);
    return NULL;
}

/* campaign_validate(text, name): None, or caf.InvalidError naming the first problem (and how many more),
 * with .problems listing them all, in file order. */
static PyObject *py_campaign_validate(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text, *name;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "s#s", &text, &size, &name))
        return NULL;
    caf_campaign campaign;
    caf_config_problems problems = {0};
    caf_error err = {0};
    caf_status st = caf_campaign_load_text(text, (size_t)size, name, &campaign, &problems, &err);
    caf_campaign_close(&campaign);
    caf_config_problems_sort(&problems);
    PyObject *result = st == CAF_OK ? (Py_INCREF(Py_None), Py_None) : raise_with_problems(&err, &problems, name);
    caf_config_problems_clear(&problems);
    return result;
}

/* run_status(output_folder): the JSON text of `caf status --json`. */
static PyObject *py_run_status(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *dir;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &dir))
        return NULL;
    json_t *status = NULL;
    caf_error err = {0};
    caf_status st = caf_run_status(PyBytes_AS_STRING(dir), &status, &err);
    Py_DECREF(dir);
    return st == CAF_OK ? cafpy_json_text(status) : cafpy_raise(&err);
}

/* lineage_why(database, name, (exp, run)): the JSON text of `caf db why --json`. */
static PyObject *py_lineage_why(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *db, *run_obj;
    const char *name;
    if (!PyArg_ParseTuple(args, "O&sO", PyUnicode_FSConverter, &db, &name, &run_obj))
        return NULL;
    caf_exprun run;
    if (cafpy_exprun_from(run_obj, &run) < 0) {
        Py_DECREF(db);
        return NULL;
    }
    json_t *answer = NULL;
    caf_error err = {0};
    caf_status st = caf_lineage_why(PyBytes_AS_STRING(db), name, run, &answer, &err);
    Py_DECREF(db);
    return st == CAF_OK ? cafpy_json_text(answer) : cafpy_raise(&err);
}

PyMethodDef cafpy_campaign_methods[] = {
    {"campaign_validate", py_campaign_validate, METH_VARARGS,
     "Loads and validates a campaign text (YAML or JSON) named name; raises caf.InvalidError with .problems."},
    {"run_status", py_run_status, METH_VARARGS, "The status of a caf run's output folder as JSON text."},
    {"lineage_why", py_lineage_why, METH_VARARGS, "Why run gets payload name in a database, as JSON text."},
    {NULL, NULL, 0, NULL},
};
