/* Running external programs (sbatch, squeue, qsub, ...): fork/execvp with an argv array (never a shell
 * string), optional stdin text, captured stdout and stderr, a time-out after which the program and
 * everything it started (its own process group) are killed, and a working folder. This is what the
 * batch backends use to talk to their batch systems:
 *
 *     char *argv[] = {"squeue", "--noheader", "--format=%i %T", "--jobs", ids, NULL};
 *     caf_process_result res;
 *     caf_process_options opts = {.timeout_s = 30};
 *     if (caf_process_run(argv, &opts, &res, err) != CAF_OK) ...;  // could not start, or timed out
 *     if (res.exit_code != 0) ...;  // ran and failed: res.err_text says why
 *     ... parse res.out_text ...
 *     caf_process_result_free(&res);
 */
#ifndef CAF_PROCESS_H
#define CAF_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_process_options {
    const char *cwd;        /* folder to run in; NULL = the current one */
    const char *stdin_text; /* written to the program's stdin (then closed); NULL = /dev/null */
    size_t stdin_size;      /* bytes of stdin_text; 0 = strlen(stdin_text) */
    double timeout_s;       /* kill the program (SIGTERM, then SIGKILL 2 s later) after this; 0 = never */
    char *const *env;       /* extra "NAME=VALUE" entries (NULL-terminated) on top of ours; NULL = none */
} caf_process_options;

typedef struct caf_process_result {
    int exit_code;   /* the exit status, or 128 + signal when a signal ended it */
    int signal;      /* the signal that ended it, else 0 */
    bool timed_out;  /* true when caf killed it for exceeding timeout_s */
    char *out_text;  /* everything it wrote to stdout (malloc'd, NUL-terminated) */
    size_t out_size;
    char *err_text;  /* everything it wrote to stderr (malloc'd, NUL-terminated) */
    size_t err_size;
} caf_process_result;

/* Runs argv[0] (looked up in PATH) with argv and waits for it. Returns CAF_OK when it ran to its end
 * (whatever its exit code: look at result->exit_code), CAF_ERR_TIMEOUT when it was killed for taking
 * longer than opts->timeout_s, CAF_ERR_NOT_FOUND/CAF_ERR_EXTERNAL when it could not be started. On
 * CAF_OK and CAF_ERR_TIMEOUT result is filled and the caller frees it with caf_process_result_free;
 * otherwise result is zeroed. opts may be NULL. */
caf_status caf_process_run(char *const argv[], const caf_process_options *opts, caf_process_result *result,
                           caf_error *err);

/* Frees the captured output (safe on a zeroed result). */
void caf_process_result_free(caf_process_result *result);

/* Returns the first line of text (at most size-1 bytes) in buf, for one-line error messages. */
const char *caf_process_first_line(const char *text, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
