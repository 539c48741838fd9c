/* The job policy a campaign sets for its collector jobs (`job_policy:`, campaign-wide and per calibration):
 * how many subjobs may be active, how fast and in what chunks they are submitted, and how failed ones are
 * retried, with polite defaults per backend (docs/configuration.md, "Job policy"), so that a campaign
 * never floods a shared batch system unless told to. */
#ifndef CAF_JOB_POLICY_H
#define CAF_JOB_POLICY_H

#include <jansson.h>

#include "caf/error.h"
#include "caf/job.h"
#include "caf/scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_job_policy {
    caf_schedule_policy schedule; /* max_active, submit_rate, max_per_submit (the rest: scheduler defaults) */
    caf_retry retry;              /* max_retries, memory_factor, time_factor */
} caf_job_policy;

/* Fills policy with the defaults of backend (an unknown name gets the batch defaults). */
void caf_job_policy_defaults(const char *backend, caf_job_policy *policy);

/* Applies the keys of obj (a job_policy mapping; NULL: nothing) on top of policy. A wrong type, a value
 * out of range or an unknown key is CAF_ERR_INVALID naming the key, which *bad_key (if not NULL) then
 * points to (borrowed from obj). */
caf_status caf_job_policy_apply(caf_job_policy *policy, const json_t *obj, const char **bad_key, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
