/* The held-back commit (run_commit_queue.h). */
#include <stdlib.h>
#include <string.h>

#include "orchestration/run_commit_queue.h"

void run_commit_queue_init(run_commit_queue *q, run_commit_fn commit, void *ctx)
{
    memset(q, 0, sizeof *q);
    q->commit = commit;
    q->ctx = ctx;
}

caf_status run_commit_queue_flush(run_commit_queue *q, caf_error *err)
{
    if (q->queued) {
        q->queued = false;
        q->failed = q->commit(q->ctx, q->index, q->message, &q->error);
        free(q->message);
        q->message = NULL;
    }
    if (q->failed != CAF_OK && err)
        *err = q->error;
    return q->failed;
}

caf_status run_commit_queue_push(run_commit_queue *q, size_t index, const char *message, caf_error *err)
{
    caf_status rc = run_commit_queue_flush(q, err);
    if (rc != CAF_OK)
        return rc;
    char *copy = message ? strdup(message) : NULL;
    if (message && !copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    q->queued = true;
    q->index = index;
    q->message = copy;
    return CAF_OK;
}

void run_commit_queue_while_running(void *q)
{
    run_commit_queue_flush(q, NULL);
}

bool run_commit_queue_holds(const run_commit_queue *q, size_t index)
{
    return (q->queued || q->failed != CAF_OK) && q->index == index;
}

void run_commit_queue_clear(run_commit_queue *q)
{
    free(q->message);
    q->message = NULL;
    q->queued = false;
}
