/* The scheduler drives a job's subjobs through a backend with the policies every backend shares: a
 * global limit on active subjobs, a submission rate limit with exponential back-off when the batch
 * system refuses or times out, a poll interval, retries of failed subjobs (raising memory and time if
 * asked), failing subjobs whose exit-code file never appears once the batch system no longer runs them,
 * holding submissions back while the user's jobs in the batch system are at their global limit, and
 * cancelling everything on request (Ctrl-C). It saves the job state after every change that
 * matters, so a restarted caf re-attaches to what is still running. */
#ifndef CAF_SCHEDULER_H
#define CAF_SCHEDULER_H

#include <signal.h>
#include <stdbool.h>

#include "caf/backend.h"
#include "caf/error.h"
#include "caf/job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_schedule_policy {
    int max_active;            /* most subjobs submitted or running at once; 0 = the backend's limit */
    double submit_rate;        /* most subjobs submitted per second; 0 = unlimited */
    int max_per_submit;        /* most subjobs per backend submit call; 0 = unlimited */
    double poll_interval_s;    /* 0 = the backend's */
    double backoff_initial_s;  /* wait after the first refused submission (default 5) */
    double backoff_max_s;      /* longest wait between refused submissions (default 300) */
    int max_refusals;          /* refused submissions in a row after which the waiting subjobs fail with the
                                  refusal as reason, so that a submission that can never succeed (a queue that
                                  does not exist) ends instead of hanging (default 8, about 10 minutes with
                                  the default back-off; 0 = never give up) */
    double exit_file_grace_s;  /* < 0 = the backend's */
    double save_interval_s;    /* least time between two saves of the state when only submissions and
                                * completions happened (default 0.2; when > 0, also at least ten times what
                                * the last save took; 0 = after every change; the final state is always
                                * saved) */
    int global_job_limit;      /* most jobs the user may have in the batch system, all of theirs counted, not
                                  only this job's (include/caf/user_job_limit.h); 0 = no such limit */
    double global_job_check_interval_s; /* least time between two counts of the user's jobs (default 30) */
    bool journal_changes;      /* not a JOB.json key: every change is recorded at once by appending the changed
                                  subjobs to the state's journal (include/caf/job_journal.h), whatever
                                  save_interval_s says, and the whole state is saved only before the first
                                  record, when the journal outgrows it and when forced (caf run's collector
                                  jobs: a change costs its own size, not the job's) */
} caf_schedule_policy;

/* Fills policy with the defaults. */
void caf_schedule_policy_init(caf_schedule_policy *policy);

/* Reads the optional "policy" object of a JOB.json (keys as the struct members) into policy. */
caf_status caf_schedule_policy_from_json(caf_schedule_policy *policy, const json_t *obj, caf_error *err);

/* Scheduler handle: borrows job and backend, which must outlive it. */
typedef struct caf_scheduler {
    caf_job *job;
    caf_backend *backend;
    caf_schedule_policy policy;
    double next_submit_at;  /* monotonic time before which no submission is tried (back-off) */
    double backoff_s;       /* current back-off (0 after a success) */
    int refusals;           /* submissions refused in a row */
    double submit_tokens;   /* rate-limit bucket */
    double last_refill;     /* monotonic time of the last bucket refill */
    double last_save;       /* monotonic time of the last state save */
    double last_save_duration; /* seconds the last save took */
    bool dirty;             /* state changed since the last save */
    bool sandbox_taken;     /* the job's input_sandbox snapshot is in place (include/caf/input_sandbox.h) */
    char held_back[256];    /* why submissions wait for the user's job limit now ("" when they do not) */
    size_t submit_calls;    /* backend submit calls so far (for benchmarks and tests) */
    size_t poll_calls;      /* backend poll calls so far */
} caf_scheduler;

/* Prepares the scheduler: the policy, completed with the backend's defaults. Nothing is written until a
 * subjob is submitted (then its folder, wrapper script and output folder are made and a stale exit-code
 * file is removed). */
caf_status caf_scheduler_init(caf_scheduler *sched, caf_job *job, caf_backend *backend,
                              const caf_schedule_policy *policy, caf_error *err);

/* Polls the backend once for every submitted or running subjob and applies the results (completions,
 * failures with retries, lost subjobs). Saves the state if anything changed. */
caf_status caf_scheduler_poll(caf_scheduler *sched, caf_error *err);

/* Submits init subjobs as far as the limits allow. Refusals are handled by back-off, not returned. */
caf_status caf_scheduler_submit(caf_scheduler *sched, caf_error *err);

/* Polls and submits until every subjob is completed or failed, or *stop becomes non-zero (then
 * cancels every active subjob and returns CAF_ERR_STATE "cancelled"). stop may be NULL. */
caf_status caf_scheduler_run(caf_scheduler *sched, volatile sig_atomic_t *stop, caf_error *err);

/* Cancels every submitted or running subjob; they end as failed "cancelled". Saves the state. */
caf_status caf_scheduler_cancel(caf_scheduler *sched, caf_error *err);

/* Saves the job state now. */
caf_status caf_scheduler_save(caf_scheduler *sched, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
