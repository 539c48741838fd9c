/* Backends run subjobs: the local machine or a batch system. A backend only translates "submit these",
 * "what state are these in" and "remove these" into its system's commands; every policy (how many
 * subjobs may be active, submission rate and back-off, poll interval, retries, subjobs the batch system
 * forgot, cancel on Ctrl-C) lives once in the scheduler (include/caf/scheduler.h).
 *
 * WRITING A BACKEND (for the batch backends):
 *  - Put it in src/jobs/backend_<name>.c and define there
 *        const caf_backend_ops caf_backend_ops_<name> = { .name = "<name>", ... };
 *    src/CMakeLists.txt generates the registry from the backend_*.c file names, so the file is all it
 *    takes (helpers of a backend go in files NOT named backend_*.c, e.g. slurm_parse.c).
 *  - Each subjob already has its wrapper script at sub->script_path (bash, self-contained: it cd's,
 *    redirects its own stdout/stderr into sub->dir, runs the command, copies outputs, then writes
 *    sub->exit_code_file atomically). A backend just has the batch system run `bash SCRIPT`; it does not
 *    need to capture output or exit codes. sub->memory_mb / sub->time_s are what this attempt asks for
 *    (0 = default), job->backend_args has queue, cores and extra submit lines.
 *  - Run external commands with caf_process_run (include/caf/process.h): argv arrays, a time-out and
 *    captured stdout/stderr. Never build shell strings from file names.
 *  - Only the scheduler changes sub->status, attempt and reason. The backend sets sub->batch_id
 *    (malloc'd; free any old one) for every subjob it submitted, and nothing else in the subjob. */
#ifndef CAF_BACKEND_H
#define CAF_BACKEND_H

#include <jansson.h>
#include <stddef.h>

#include "caf/error.h"
#include "caf/job.h"

struct pollfd;

#ifdef __cplusplus
extern "C" {
#endif

/* What the batch system says about one submitted subjob. */
typedef enum caf_batch_state {
    CAF_BATCH_PENDING = 0,  /* queued, held, starting */
    CAF_BATCH_RUNNING = 1,  /* running */
    CAF_BATCH_FINISHED = 2, /* the batch system says it ended (the exit-code file decides success) */
    CAF_BATCH_FAILED = 3,   /* ended abnormally (time limit, node failure, cancelled...): reason says why */
    CAF_BATCH_UNKNOWN = 4,  /* the batch system does not (or no longer) know the id */
} caf_batch_state;

/* One poll answer. */
typedef struct caf_batch_report {
    caf_batch_state state;
    char reason[160]; /* for CAF_BATCH_FAILED: e.g. "TIMEOUT (exceeded its time limit)" */
} caf_batch_report;

/* The user's jobs in the batch system as last counted (include/caf/user_job_limit.h). Kept in the backend,
 * so that every scheduler submitting through it shares one count and one query per check interval. */
typedef struct caf_user_job_count {
    long count;           /* jobs at the last query plus the subjobs submitted through this backend since */
    bool known;           /* a query has succeeded and none failed since */
    double next_query_at; /* monotonic time before which no query runs (the check interval or back-off) */
    double backoff_s;     /* wait after the last failed query (0 after a success) */
    size_t queries;       /* queries so far (for tests and benchmarks) */
} caf_user_job_count;

/* An open backend: the operations and the state their open() made. */
typedef struct caf_backend {
    const struct caf_backend_ops *ops;
    void *state;               /* owned by the backend, freed by ops->close */
    int max_active;            /* most subjobs it can usefully run at once (0 = no limit of its own) */
    double poll_interval_s;    /* how often to poll by default */
    double exit_file_grace_s;  /* how long an ended subjob's exit-code file may take to appear */
    bool starts_commands;      /* starts a subjob's command itself (and records its exit code) when the job
                                  allows it (caf_job_needs_wrapper_script), so no run.sh is written */
    caf_user_job_count user_jobs; /* the user's jobs in the batch system (zeroed by caf_backend_open) */
} caf_backend;

/* The operations of a backend. All subjob arrays hold pointers into job->subjobs. */
typedef struct caf_backend_ops {
    const char *name;    /* "local", "slurm", ... (what --backend and JOB.json's "backend" say) */
    const char *summary; /* one line for `caf jobs backends` */

    /* Parses settings (the job's "backend_settings" object, may be NULL; unknown keys are an error
     * naming the key) and sets backend->state and, if it wants, max_active, poll_interval_s and
     * exit_file_grace_s (preset by the caller to 0, 30 and 60). */
    caf_status (*open)(caf_backend *backend, const json_t *settings, caf_error *err);

    /* Submits the n subjobs (n >= 1) and sets each accepted one's batch_id. On failure (refused, timed
     * out) returns an error; subjobs whose batch_id it set count as submitted anyway. */
    caf_status (*submit)(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                         caf_error *err);

    /* Fills reports[i] for subs[i] (each has a batch_id), ideally with one batch-system query for all.
     * An error (the query failed or timed out) means "no news"; the scheduler tries again later. */
    caf_status (*poll)(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                       caf_batch_report *reports, caf_error *err);

    /* Removes the n subjobs from the batch system (killing them if running). Ids it no longer knows
     * are fine. Returns only when the removal was requested for all (local: when they are gone). */
    caf_status (*cancel)(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                         caf_error *err);

    /* Optional (batch systems): sets *count to the number of jobs the user (the account caf runs as) has
     * in the batch system, all of them, queued, held or running, not only this job's: what a per-user
     * submission limit counts. An error (the query failed, timed out or gave output it cannot read)
     * means "unknown"; the scheduler then holds back. NULL: no such limit (local). */
    caf_status (*count_user_jobs)(caf_backend *backend, long *count, caf_error *err);

    /* Optional: blocks at most timeout_s or until a subjob may have changed (local: a process exited).
     * NULL means the scheduler sleeps. */
    void (*wait)(caf_backend *backend, double timeout_s);

    /* Optional, with wait: writes up to max descriptors that become readable when a subjob may have
     * changed (local: the pidfds of its processes) into fds, so that a caller can wait on them together
     * with its own; returns how many. */
    size_t (*wake_fds)(caf_backend *backend, struct pollfd *fds, size_t max);

    /* Frees backend->state. */
    void (*close)(caf_backend *backend);
} caf_backend_ops;

/* NULL-terminated list of every backend compiled in (generated from src/jobs/backend_*.c). */
extern const caf_backend_ops *const caf_backend_registry[];

/* Returns the backend called name, or NULL. */
const caf_backend_ops *caf_backend_find(const char *name);

/* Opens the backend called name with settings (may be NULL) into backend; close with
 * caf_backend_close. An unknown name is CAF_ERR_NOT_FOUND listing the known ones. */
caf_status caf_backend_open(caf_backend *backend, const char *name, const json_t *settings, caf_error *err);

/* Closes an opened backend (safe on a zeroed one). */
void caf_backend_close(caf_backend *backend);

#ifdef __cplusplus
}
#endif
#endif
