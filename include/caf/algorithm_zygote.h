/* The execution zygote: a small process, exec'd (not forked from the caller, whose address space may be
 * large), that loads one algorithm plugin once and then forks one child per execution, ahead of its request
 * (the child waits, having opened the inputs the previous request named, so that neither the fork nor the
 * inputs' opening is on the execution's path; a waiting child that died is replaced by a fork). Each
 * child is set up exactly as the runner's own child (own process group, default signals, stdin from
 * /dev/null, output into the log, memory limit, death signal) and sends its result over the runner's pipe,
 * so the runner watches it, limits it, kills it and judges its end as before; only the fork and the plugin
 * load move out of the caller. docs/ARCHITECTURE.md ("algorithm", Runner) has the protocol and the
 * measurements.
 *
 * A zygote dies with the process that opened it (PR_SET_PDEATHSIG), and its children die with it. */
#ifndef CAF_ALGORITHM_ZYGOTE_H
#define CAF_ALGORITHM_ZYGOTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "caf/algorithm_runner.h"
#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_algo_zygote caf_algo_zygote;

/* Starts a zygote for the algorithm of spec (its plugin; for a Python algorithm, its module, imported by an
 * interpreter started with the spec's python_path). A C zygote is $CAF_ALGO_ZYGOTE, else the build tree's
 * program for a program of the build tree, else the installed one; CAF_ALGO_ZYGOTE=off disables zygotes
 * (NULL returned, no error). *out is caller-owned (caf_algo_zygote_close); NULL with an error when it
 * cannot be started. */
caf_status caf_algo_zygote_open(const caf_algo_run_spec *spec, caf_algo_zygote **out, caf_error *err);

/* Stops the zygote (closing its socket ends it and any child it still holds) and frees z (NULL is fine). */
void caf_algo_zygote_close(caf_algo_zygote *z);

/* The zygote's process id (0 when it is not running). */
pid_t caf_algo_zygote_pid(const caf_algo_zygote *z);

/* How many times z was started (1 after open; a restart after the zygote died adds one). */
unsigned caf_algo_zygote_starts(const caf_algo_zygote *z);

/* The zygote program's main: serves requests on the socket named by its arguments until it closes.
 * Returns the process's exit code. */
int caf_algo_zygote_main(int argc, char **argv);

/* What a zygote does around each fork: before and after it in the zygote (may be NULL); child_start in the
 * child right after the fork, before its request may have come (may be NULL); and in the child, once its
 * request came and it is set up as the runner's own child (group, signals, death signal, log, memory limit),
 * the execution itself: child must send the result to result_fd and end the process. */
typedef struct caf_algo_zygote_hooks {
    void (*before_fork)(void *ctx);
    void (*after_fork)(void *ctx);
    void (*child)(const caf_algo_run_spec *spec, int result_fd, void *ctx); /* must not return */
    void *ctx;
    void (*child_start)(void *ctx);
} caf_algo_zygote_hooks;

/* Serves requests on sock until it closes (the runner is gone), forking each execution's child; asks for
 * SIGKILL when parent (the runner) dies, and returns 1 at once when it is already gone, else 0. */
int caf_algo_zygote_serve(int sock, pid_t parent, const caf_algo_zygote_hooks *hooks);

#ifdef __cplusplus
}
#endif
#endif
