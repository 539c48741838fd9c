/* Job policies of campaigns: defaults per backend and the job_policy keys with their ranges. The
 * defaults keep a campaign polite on a shared cluster: a bounded number of active subjobs, a bounded
 * submission rate and chunk, so that one campaign never puts tens of thousands of jobs into a queue at
 * once (administrators ban users whose tools flood the scheduler). */
#include "caf/job_policy.h"

#include <string.h>

/* Per backend: most active subjobs, subjobs submitted per second, subjobs per submit call, most jobs of the
 * user in the batch system (basf2's Batch.global_job_limit of each backend; Slurm, which basf2 lacks, gets
 * basf2's generic Batch default, well under the MaxSubmitJobs sites set and Slurm's default MaxJobCount of
 * 10000). */
static const struct backend_defaults {
    const char *backend;
    int max_active;
    double submit_rate;
    int max_per_submit;
    int global_job_limit;
} defaults[] = {
    {"local", 0, 0, 0, 0},                /* the machine's cores are the limit */
    {"slurm", 1000, 100, 1000, 1000},     /* one array per submit call; Slurm's default MaxArraySize is 1001 */
    {"pbs", 500, 5, 20, 5000},            /* one qsub per subjob: each one is work for the server */
    {"htcondor", 2000, 100, 1000, 10000}, /* one cluster per submit call */
    {"lsf", 1000, 50, 1000, 15000},       /* one job array per submit call */
};

void caf_job_policy_defaults(const char *backend, caf_job_policy *policy)
{
    caf_schedule_policy_init(&policy->schedule);
    policy->retry = (caf_retry){.max_retries = 2, .memory_factor = 1.0, .time_factor = 1.0};
    const struct backend_defaults *d = &defaults[1];
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (backend && strcmp(backend, defaults[i].backend) == 0)
            d = &defaults[i];
    policy->schedule.max_active = d->max_active;
    policy->schedule.submit_rate = d->submit_rate;
    policy->schedule.max_per_submit = d->max_per_submit;
    policy->schedule.global_job_limit = d->global_job_limit;
}

/* The keys, their ranges and where they go. */
static const struct policy_key {
    const char *name;
    bool is_int;
    double min, max;
    const char *meaning;
} keys[] = {
    {"max_active", true, 0, 1000000, "an integer from 0 (the backend's limit) to 1000000"},
    {"submit_rate", false, 0, 10000, "a number of subjobs per second from 0 (unlimited) to 10000"},
    {"max_per_submit", true, 0, 1000000, "an integer from 0 (unlimited) to 1000000"},
    {"max_retries", true, 0, 100, "an integer from 0 to 100"},
    {"memory_factor", false, 1, 100, "a number from 1 to 100"},
    {"time_factor", false, 1, 100, "a number from 1 to 100"},
    {"global_job_limit", true, 0, 1000000, "an integer from 0 (no limit, no query) to 1000000"},
    {"global_job_check_interval", false, 1, 3600, "a number of seconds from 1 to 3600"},
};

static void store(caf_job_policy *p, size_t k, double v)
{
    switch (k) {
    case 0: p->schedule.max_active = (int)v; break;
    case 1: p->schedule.submit_rate = v; break;
    case 2: p->schedule.max_per_submit = (int)v; break;
    case 3: p->retry.max_retries = (int)v; break;
    case 4: p->retry.memory_factor = v; break;
    case 5: p->retry.time_factor = v; break;
    case 6: p->schedule.global_job_limit = (int)v; break;
    default: p->schedule.global_job_check_interval_s = v; break;
    }
}

caf_status caf_job_policy_apply(caf_job_policy *policy, const json_t *obj, const char **bad_key, caf_error *err)
{
    if (bad_key)
        *bad_key = NULL;
    if (!obj)
        return CAF_OK;
    if (!json_is_object(obj))
        return caf_error_set(err, CAF_ERR_INVALID, "job_policy must be a mapping");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(keys[k].name, key) != 0)
            k++;
        if (bad_key)
            *bad_key = key;
        if (k == sizeof keys / sizeof *keys)
            return caf_error_set(err, CAF_ERR_INVALID, "job_policy: unknown key '%s' (known: max_active, "
                                 "submit_rate, max_per_submit, max_retries, memory_factor, time_factor, "
                                 "global_job_limit, global_job_check_interval)", key);
        double v = json_number_value(value);
        if (!json_is_number(value) || (keys[k].is_int && !json_is_integer(value)) || v < keys[k].min ||
            v > keys[k].max)
            return caf_error_set(err, CAF_ERR_INVALID, "job_policy: %s must be %s", key, keys[k].meaning);
        store(policy, k, v);
    }
    if (bad_key)
        *bad_key = NULL;
    return CAF_OK;
}
