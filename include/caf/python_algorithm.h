/* Algorithms written in Python. A campaign's algorithm entry `python: MODULE:FUNCTION` is the algorithm
 * "python:MODULE:FUNCTION": plugin "python", algorithm "MODULE:FUNCTION". The runner's execution child
 * (caf/algorithm_runner.h) then execs the Python interpreter on the module caf._algorithm_runner of the
 * Python package, in the same process: same process group, limits, log and result pipe as a C algorithm.
 * The interpreter reads the spec (caf_algo_run_spec_to_json) from a descriptor, imports the module, and
 * runs the function through libcaf (caf_algorithm_new_as + caf_algo_run_in_child inside the extension
 * module caf._algorithm), so inputs, payloads, state and boundaries are handled by the same code as C
 * algorithms'. docs/python.md is the user guide. */
#ifndef CAF_PYTHON_ALGORITHM_H
#define CAF_PYTHON_ALGORITHM_H

#include <jansson.h>
#include <stdbool.h>

#include "caf/algorithm_runner.h"
#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin name that stands for "an algorithm written in Python". */
#define CAF_PYTHON_ALGORITHM_PLUGIN "python"

/* True when plugin (a runner spec's plugin, may be NULL) is CAF_PYTHON_ALGORITHM_PLUGIN. */
bool caf_algo_is_python(const char *plugin);

/* The interpreter caf runs Python algorithms with: $CAF_PYTHON, else the one the package was built for
 * (static string or the environment's; not to be freed). */
const char *caf_python_interpreter(void);

/* In the runner's execution child only: replaces the process with the interpreter running the
 * algorithm spec->algorithm ("MODULE:FUNCTION"), result frames on fd. When the interpreter cannot be
 * started, sends that as a set-up error on fd and exits. Never returns. */
_Noreturn void caf_python_algorithm_exec(const caf_algo_run_spec *spec, int fd, const char *name);

/* Imports MODULE and looks FUNCTION up in a child interpreter (python_path as in the runner spec; NULL for
 * none) and describes it as caf_algorithm_plugin_probe does: *out is a new JSON array holding one
 * {"name", "hooks", and "error" when it cannot be used (module not found, no such function, not callable,
 * wrong signature)}. An interpreter that cannot be started, crashes or takes longer than timeout_s is
 * CAF_ERR_PLUGIN saying so. */
caf_status caf_python_algorithm_probe(const char *target, const char *python_path, double timeout_s, json_t **out,
                                      caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
