/* The user's global job limit (basf2's Batch.global_job_limit): before submitting, the scheduler asks the
 * batch system how many jobs the user has in total (every job of the account, not only caf's) and submits
 * only while that stays under the limit, so that caf never pushes a user past a site's per-user limit
 * (Slurm's MaxSubmitJobs, HTCondor's MAX_JOBS_PER_OWNER, ...) or floods a shared scheduler. The query is
 * rate-limited per backend: at most one per check interval however many jobs submit through it; between
 * queries the count kept is the last answer plus what was submitted since (jobs that end are seen at the
 * next query, so the count only ever errs high). A failed query leaves the count unknown: submissions are
 * held back and the query is retried with back-off, never skipped. */
#ifndef CAF_USER_JOB_LIMIT_H
#define CAF_USER_JOB_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/backend.h"
#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets *room to how many more jobs the user may have in backend's batch system under limit (> 0) at
 * monotonic time now (seconds): limit minus the count, 0 while at the limit or while the count is unknown.
 * Queries backend->ops->count_user_jobs when due: never queried, check_interval_s after the last query, or,
 * after a failed one, once its back-off (check_interval_s, doubling up to backoff_max_s) has passed.
 * *queried (may be NULL) tells whether a query ran. Returns the query's error when one ran now and failed;
 * a backend without the operation has no such limit (*room = SIZE_MAX). */
caf_status caf_user_job_room(caf_backend *backend, long limit, double check_interval_s, double backoff_max_s,
                             double now, size_t *room, bool *queried, caf_error *err);

/* Adds n jobs just submitted through backend to the count it keeps between queries. */
void caf_user_jobs_submitted(caf_backend *backend, size_t n);

#ifdef __cplusplus
}
#endif
#endif
