/* The runner's pipe protocol, shared by the child (sending) and the parent (decoding); not public.
 *
 * The child writes frames, each an 8-byte little-endian length followed by that many bytes. The first
 * frame is a JSON header; one frame per payload follows with the payload's bytes, in the order the
 * header lists them. The header is
 *   {"status": caf_status of the set-up, "error": its message, "algorithm": "PLUGIN:NAME",
 *    "result": 0..4, "message": "...", "iteration": N, "runs": [[e, r], ...], "iov": [e1, r1, e2, r2],
 *    "payloads": [{"name", "ext", "iov", "size"}], "state": {...}, "boundaries": [[e, r], ...]}
 * A message that stops early (the child died while writing) is detected by the parent as incomplete. */
#ifndef CAF_ALGORITHM_RUNNER_INTERNAL_H
#define CAF_ALGORITHM_RUNNER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "caf/algorithm_instance.h"
#include "caf/algorithm_runner.h"
#include "caf/algorithm_zygote.h"
#include "caf/plugin.h"

/* Replaces bytes that are not UTF-8 (binary output, a character cut at a buffer's end) and NULs in
 * size bytes of text with '?', so that logs and messages always fit in JSON. */
void caf_runner_make_printable(char *text, size_t size);

/* Child side: sends the outcome to fd. alg may be NULL when set-up failed (status and err say why);
 * boundaries are sent for boundary finding. Returns false when the pipe broke. */
bool caf_runner_send(int fd, const char *algorithm, const caf_algorithm *alg, caf_status status,
                     const caf_error *err, const caf_exprun *boundaries, size_t boundary_count);

/* Parent side: decodes a complete message into out. Returns the set-up status the child reported (with
 * its message in err), or CAF_ERR_FORMAT when the message is incomplete or malformed. */
caf_status caf_runner_decode(const unsigned char *data, size_t size, caf_algo_run_result *out, caf_error *err);

/* The execution child's whole life (process group, signals, death signal, log, memory limit, the algorithm
 * loaded or the Python interpreter exec'd, the result sent); parent is the process that forked it. */
_Noreturn void caf_runner_child_main(const caf_algo_run_spec *spec, int fd, int log_fd, pid_t parent);

/* caf_runner_child_main is these two: the set-up (everything up to the memory limit) ... */
void caf_runner_child_setup(const caf_algo_run_spec *spec, int fd, int log_fd, pid_t parent);

/* ... which is these two: what does not depend on the execution (own process group, default signals, death
 * signal, SIGPIPE ignored; ends the process when parent is already gone), which a zygote's child forked ahead
 * does before its request comes ... */
void caf_runner_child_detach(pid_t parent);

/* ... and what does: output into log_fd (closed), the log's name for the algorithm, the memory limit. */
void caf_runner_child_attach(const caf_algo_run_spec *spec, int log_fd);

/* ... and the algorithm loaded (or the interpreter exec'd), run and its result sent. loaded: the plugin
 * already loaded in this process (the zygote's) when it is spec's, used without searching or dlopen; NULL:
 * the plugin is loaded here. */
_Noreturn void caf_runner_child_run(const caf_algo_run_spec *spec, int fd, const caf_plugin *loaded);

/* The environment entries a Python interpreter for an algorithm gets on top of the caller's ("NAME=VALUE",
 * malloc'd, NULL-terminated, at most 4); false when out of memory. python_algorithm.c. */
bool caf_python_env_entries(const char *python_path, char *entries[5]);

/* The spec as compact JSON in a memfd positioned at its start, close-on-exec unless inherited (an exec'd
 * interpreter reads it); -1 with errno set on failure. The caller closes it. runner_spec_json.c. */
int caf_algo_run_spec_memfd(const caf_algo_run_spec *spec, bool inherited);

/* Zygote side of the runner (algorithm_zygote.c): asks z to fork the execution's child with result_fd as
 * its pipe and log_fd as its output; a zygote found dead is restarted once (logged). */
caf_status caf_runner_zygote_spawn(caf_algo_zygote *z, const caf_algo_run_spec *spec, int result_fd, int log_fd,
                                   pid_t *pid, caf_error *err);

/* The socket to poll for the child's end. */
int caf_runner_zygote_fd(const caf_algo_zygote *z);

/* The child's wait status once the zygote reported it (true); false when not yet (wait false). A zygote
 * that died reports the child as killed by SIGKILL (its death signal). */
bool caf_runner_zygote_status(caf_algo_zygote *z, bool wait, int *status);

#endif
