/* Wrapper scripts: every batch subjob (and a local one whose job has setup lines or output patterns; the
 * local backend starts other commands itself) runs as `bash run.sh`, a script caf generates that sets the
 * environment, runs the setup commands and the command in the subjob's folder, copies the output patterns
 * back and writes the exit code to the exit-code file atomically (temporary file + mv), so that any backend
 * can run it and caf learns the result from the file alone. Every path and argument in it is single-quoted:
 * names with spaces, quotes, $, backticks or newlines are passed through unchanged. */
#ifndef CAF_WRAPPER_SCRIPT_H
#define CAF_WRAPPER_SCRIPT_H

#include <stdbool.h>

#include "caf/error.h"
#include "caf/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The lock file in a subjob's folder that a running wrapper script holds (flock) from its start to its end. */
#define CAF_SUBJOB_LOCK_FILE "caf-subjob.lock"

/* The exit code of a wrapper script that found its subjob already running (the lock held by another copy):
 * it leaves at once and writes nothing (EX_TEMPFAIL). */
#define CAF_WRAPPER_EXIT_ALREADY_RUNNING 75

/* True when job's subjobs need the wrapper script even on a backend that starts commands itself (the local
 * one): setup lines are shell code and output patterns are shell globs, which the script handles. */
bool caf_job_needs_wrapper_script(const caf_job *job);

/* Returns the path of sub's lock file (malloc'd, caller frees), or NULL when out of memory. */
char *caf_subjob_lock_path(const caf_subjob *sub);

/* True when a copy of sub's wrapper script holds its lock now, i.e. the subjob runs somewhere. */
bool caf_subjob_lock_held(const caf_subjob *sub);

/* Returns text as one single-quoted shell word ('it'\''s') (malloc'd, caller frees), or NULL when out of
 * memory. */
char *caf_shell_quote(const char *text);

/* Returns the wrapper script of subjob sub of job (malloc'd, caller frees) in *out. */
caf_status caf_wrapper_script_render(const caf_job *job, const caf_subjob *sub, char **out, caf_error *err);

/* Writes the wrapper script of sub to sub->script_path atomically (creating sub->dir). */
caf_status caf_wrapper_script_write(const caf_job *job, const caf_subjob *sub, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
