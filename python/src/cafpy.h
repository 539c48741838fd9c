/* Internal header of the Python extension module caf._caf: the pieces each file defines for the others.
 * The module is a thin layer over libcaf's public API (the headers in include/caf); everything Pythonic (classes,
 * numpy arrays, JSON decoding) lives in the pure-Python package python/caf/. */
#ifndef CAFPY_H
#define CAFPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <jansson.h>

#include "caf/error.h"
#include "caf/iov.h"

/* Raises the caf.Error subclass of err's code with err's one-line message; returns NULL. */
PyObject *cafpy_raise(const caf_error *err);

/* The caf.Error subclass of code (borrowed reference). */
PyObject *cafpy_error_type(caf_status code);

/* Creates caf.Error and its subclasses and adds them to module; returns 0, or -1 with an exception. */
int cafpy_errors_init(PyObject *module);

/* Converts a Python (exp, run) pair; returns 0, or -1 with TypeError set. */
int cafpy_exprun_from(PyObject *obj, caf_exprun *out);

/* Converts a Python 4-tuple (exp_low, run_low, exp_high, run_high); returns 0, or -1 with TypeError. */
int cafpy_iov_from(PyObject *obj, caf_iov *out);

/* The (exp, run) tuple of r (new reference). */
PyObject *cafpy_exprun_to(caf_exprun r);

/* The 4-tuple of iov (new reference). */
PyObject *cafpy_iov_to(caf_iov iov);

/* Converts a sequence of (exp, run) pairs into *runs (PyMem_Malloc'd, caller PyMem_Free's; NULL for an
 * empty sequence); returns 0, or -1 with an exception. */
int cafpy_runs_from(PyObject *seq, caf_exprun **runs, size_t *count);

/* The IoV functions of the module (caf/iov.h). */
extern PyMethodDef cafpy_iov_methods[];

/* The local database type (caf/localdb.h) and module functions; 0 or -1 with an exception. */
int cafpy_localdb_init(PyObject *module);
extern PyMethodDef cafpy_localdb_methods[];

/* The collector output type (caf/collector_output.h) and module functions; 0 or -1 with an exception. */
int cafpy_collector_output_init(PyObject *module);
extern PyMethodDef cafpy_collector_output_methods[];

/* The compact JSON text of j as a Python str (new reference, or NULL with an exception); steals j. */
PyObject *cafpy_json_text(json_t *j);

/* Campaigns (caf/campaign.h, caf/caf_run.h, caf/lineage.h): validation of a text, status, lineage. */
extern PyMethodDef cafpy_campaign_methods[];

/* Event file metadata and the file index (caf/event_file.h, caf/file_index.h). */
extern PyMethodDef cafpy_event_files_methods[];

/* Algorithms written in Python: the context type and the runner's functions; 0 or -1 with an exception. */
int cafpy_algorithm_init(PyObject *module);
extern PyMethodDef cafpy_algorithm_methods[];

struct caf_object;
/* A dict describing obj's kind, title, shape and content (bytes of little-endian float64/int64 arrays
 * that the Python layer views with numpy.frombuffer); new reference, or NULL with an exception. */
PyObject *cafpy_object_to_dict(const struct caf_object *obj);

#endif
