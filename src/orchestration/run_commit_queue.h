/* A commit held back so that it runs while the next execution's child runs (caf_algo_run_spec's
 * while_running), on the second core, instead of between two executions on the critical path.
 *
 * At most one commit waits. It is made in the next execution's window, or at the latest by the next
 * flush: the caller flushes before whatever needs the database complete (the end of the strategy, boundary
 * finding, experiment settings) and after every execution, so that nothing is left queued across anything
 * but one child. A commit that fails is kept: every later push and flush returns its error, so that no
 * execution after it is committed and the algorithm fails with the commit's message, one execution late
 * at most. The commit function reports the commit itself once it is made (the run loop must never record a
 * commit before it happened); until then run_commit_queue_holds says it is not made. */
#ifndef CAF_RUN_COMMIT_QUEUE_H
#define CAF_RUN_COMMIT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

/* Makes (and reports) the commit of execution index; message is what the execution said, or NULL. */
typedef caf_status (*run_commit_fn)(void *ctx, size_t index, const char *message, caf_error *err);

typedef struct run_commit_queue {
    run_commit_fn commit;
    void *ctx;
    bool queued;       /* a commit waits ... */
    size_t index;      /* ... for this execution (also the one whose commit failed) */
    char *message;     /* what that execution said (owned; NULL: nothing) */
    caf_status failed; /* CAF_OK, or the error of the commit that failed (with error) */
    caf_error error;
} run_commit_queue;

/* An empty queue committing through commit(ctx, ...). */
void run_commit_queue_init(run_commit_queue *q, run_commit_fn commit, void *ctx);

/* Queues execution index's commit (message copied) after making the one that waited; returns a failed
 * commit's error instead, queueing nothing. */
caf_status run_commit_queue_push(run_commit_queue *q, size_t index, const char *message, caf_error *err);

/* Makes the waiting commit now, if any; returns its error, or the error of one that failed before. */
caf_status run_commit_queue_flush(run_commit_queue *q, caf_error *err);

/* For caf_algo_run_spec's while_running (ctx is the queue): makes the waiting commit, keeping its error
 * for the next push or flush. */
void run_commit_queue_while_running(void *q);

/* True while execution index's commit waits or after it failed: the commit is not made. */
bool run_commit_queue_holds(const run_commit_queue *q, size_t index);

/* Frees what the queue holds, without making the waiting commit. */
void run_commit_queue_clear(run_commit_queue *q);

#endif
