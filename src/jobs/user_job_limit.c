/* The user's global job limit: one count per backend, queried at most once per check interval, kept up to
 * date with caf's own submissions in between, and held at "unknown" (no submissions) after a failed query
 * until a later one succeeds. */
#include "caf/user_job_limit.h"

#include <stdint.h>

caf_status caf_user_job_room(caf_backend *backend, long limit, double check_interval_s, double backoff_max_s,
                             double now, size_t *room, bool *queried, caf_error *err)
{
    if (queried)
        *queried = false;
    if (!backend->ops->count_user_jobs || limit <= 0) {
        *room = SIZE_MAX;
        return CAF_OK;
    }
    caf_user_job_count *c = &backend->user_jobs;
    caf_status rc = CAF_OK;
    if (c->queries == 0 || now >= c->next_query_at) {
        long count = 0;
        c->queries++;
        if (queried)
            *queried = true;
        rc = backend->ops->count_user_jobs(backend, &count, err);
        if (rc == CAF_OK && count >= 0) {
            c->count = count;
            c->known = true;
            c->backoff_s = 0;
            c->next_query_at = now + check_interval_s;
        } else {
            if (rc == CAF_OK)
                rc = caf_error_set(err, CAF_ERR_FORMAT, "%s counted %ld jobs", backend->ops->name, count);
            c->known = false;
            c->backoff_s = c->backoff_s > 0 ? c->backoff_s * 2 : check_interval_s;
            if (c->backoff_s > backoff_max_s)
                c->backoff_s = backoff_max_s;
            if (c->backoff_s < 1)
                c->backoff_s = 1; /* a batch system that fails at once must not be asked in a tight loop */
            c->next_query_at = now + c->backoff_s;
        }
    }
    *room = c->known && c->count < limit ? (size_t)(limit - c->count) : 0;
    return rc;
}

void caf_user_jobs_submitted(caf_backend *backend, size_t n)
{
    backend->user_jobs.count += (long)n;
}
