/* Starting the Python interpreter for an algorithm written in Python (caf/python_algorithm.h).
 *
 * Why exec and not an embedded interpreter: the execution child is already a fresh process with the
 * limits, process group, log and result pipe the runner set up, and exec keeps all of them while libcaf,
 * the caf command and every C algorithm stay free of libpython (no link dependency, no interpreter state
 * in a forked copy of the caller, any python3 the user points CAF_PYTHON at, with its own numpy). The
 * interpreter's start is the price (docs/ARCHITECTURE.md has the measurement). The spec goes through a
 * memfd, so neither side can block on the other before the algorithm even starts. */
#include "caf/python_algorithm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algorithm/runner_internal.h"
#include "caf/process.h"

#ifndef CAF_PYTHON_EXECUTABLE
#define CAF_PYTHON_EXECUTABLE "python3"
#endif
#ifndef CAF_PYTHON_BUILD_DIR
#define CAF_PYTHON_BUILD_DIR ""
#endif
#ifndef CAF_PYTHON_INSTALL_DIR_FULL
#define CAF_PYTHON_INSTALL_DIR_FULL ""
#endif
#ifndef CAF_BUILD_DIR
#define CAF_BUILD_DIR ""
#endif
/* Sanitizer builds: the instrumented extension module needs the sanitizer runtimes loaded first. */
#ifndef CAF_PYTHON_PRELOAD
#define CAF_PYTHON_PRELOAD ""
#endif

bool caf_algo_is_python(const char *plugin)
{
    return plugin && strcmp(plugin, CAF_PYTHON_ALGORITHM_PLUGIN) == 0;
}

const char *caf_python_interpreter(void)
{
    const char *env = getenv("CAF_PYTHON");
    return env && *env ? env : CAF_PYTHON_EXECUTABLE;
}

/* The folder holding the package caf: the build tree's for a program of the build tree (tests, make
 * demo), else the installed one. */
static const char *package_dir(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t len = strlen(CAF_BUILD_DIR);
    if (n > 0 && len > 0) {
        exe[n] = '\0';
        if (strncmp(exe, CAF_BUILD_DIR, len) == 0 && exe[len] == '/')
            return CAF_PYTHON_BUILD_DIR;
    }
    return CAF_PYTHON_INSTALL_DIR_FULL;
}

/* The environment entries the interpreter gets on top of the caller's, as "NAME=VALUE" strings
 * (malloc'd, NULL-terminated in entries[4]); false when out of memory. The package comes first on the
 * module path (it only holds caf), then the campaign's folders, then the user's PYTHONPATH. */
bool caf_python_env_entries(const char *python_path, char *entries[5])
{
    memset(entries, 0, 5 * sizeof *entries);
    const char *user = getenv("PYTHONPATH");
    const char *asan = getenv("ASAN_OPTIONS");
    size_t n = 0;
    bool ok = asprintf(&entries[n++], "PYTHONPATH=%s%s%s%s%s", package_dir(), python_path && *python_path ? ":" : "",
                       python_path ? python_path : "", user && *user ? ":" : "", user ? user : "") >= 0;
    /* Several algorithms and collector jobs share the cores; BLAS threads would only compete. */
    if (ok && !getenv("OPENBLAS_NUM_THREADS"))
        ok = asprintf(&entries[n++], "OPENBLAS_NUM_THREADS=1") >= 0;
    if (ok && *CAF_PYTHON_PRELOAD) /* CPython keeps memory until exit by design: no leak report */
        ok = asprintf(&entries[n++], "LD_PRELOAD=%s", CAF_PYTHON_PRELOAD) >= 0 &&
             asprintf(&entries[n++], "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "") >= 0;
    if (!ok)
        entries[n - 1] = NULL;
    return ok;
}

static void free_env(char *entries[5])
{
    for (int i = 0; i < 5; i++)
        free(entries[i]);
}

_Noreturn void caf_python_algorithm_exec(const caf_algo_run_spec *spec, int fd, const char *name)
{
    caf_error err = {0};
    int spec_fd = caf_algo_run_spec_memfd(spec, true);
    char *env[5];
    const char *python = caf_python_interpreter();
    if (spec_fd < 0 || !caf_python_env_entries(spec->python_path, env)) {
        caf_error_errno(&err, errno, "algorithm %s: cannot pass the spec to the Python interpreter", name);
    } else {
        for (int i = 0; env[i]; i++)
            putenv(env[i]); /* the strings become the environment's */
        int flags = fcntl(fd, F_GETFD);
        fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        char spec_arg[32], result_arg[32];
        snprintf(spec_arg, sizeof spec_arg, "%d", spec_fd);
        snprintf(result_arg, sizeof result_arg, "%d", fd);
        char *argv[] = {(char *)python, "-m", "caf._algorithm_runner", "--spec-fd", spec_arg, "--result-fd",
                        result_arg, NULL};
        execvp(python, argv);
        caf_error_set(&err, CAF_ERR_PLUGIN, "algorithm %s: cannot start the Python interpreter %s: %s "
                      "(set CAF_PYTHON to the python3 that has the package caf)", name, python, strerror(errno));
    }
    bool sent = caf_algo_child_send_error(fd, name, err.code ? err.code : CAF_ERR_PLUGIN, &err);
    _exit(sent ? 0 : 1);
}

/* The last non-empty line of text (a traceback's exception line) in buf. */
static const char *last_line(const char *text, char *buf, size_t size)
{
    size_t n = text ? strlen(text) : 0;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    size_t start = n;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    snprintf(buf, size, "%.*s", (int)(n - start), text ? text + start : "");
    return buf;
}

caf_status caf_python_algorithm_probe(const char *target, const char *python_path, double timeout_s, json_t **out,
                                      caf_error *err)
{
    *out = NULL;
    char *env[5];
    if (!caf_python_env_entries(python_path, env)) {
        free_env(env);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    const char *python = caf_python_interpreter();
    char *argv[] = {(char *)python, "-m", "caf._algorithm_runner", "--probe", (char *)target, NULL};
    caf_process_options opts = {.timeout_s = timeout_s, .env = env};
    caf_process_result res = {0};
    caf_status st = caf_process_run(argv, &opts, &res, err);
    if (st == CAF_ERR_TIMEOUT || (st == CAF_OK && res.timed_out)) {
        st = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm python:%s: importing it took longer than %g s", target,
                           timeout_s);
    } else if (st != CAF_OK) {
        caf_error_prefix(err, "algorithm python:%s: cannot start the Python interpreter %s: ", target, python);
    } else if (res.exit_code != 0) {
        char line[512];
        st = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm python:%s: the Python interpreter %s exited with %d "
                           "while importing it: %s", target, python, res.exit_code,
                           last_line(res.err_text, line, sizeof line));
    } else {
        json_error_t jerr;
        *out = json_loads(res.out_text, 0, &jerr);
        if (!json_is_array(*out)) {
            json_decref(*out);
            *out = NULL;
            st = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm python:%s: the probe's answer is not a JSON list "
                               "(%s)", target, jerr.text);
        }
    }
    caf_process_result_free(&res);
    free_env(env);
    return st;
}
