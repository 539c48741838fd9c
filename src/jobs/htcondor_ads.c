/* What HTCondor's machine-readable outputs say: `condor_submit -terse` ("first.proc - last.proc") and
 * the job ClassAds of `condor_q -json` / `condor_history -json` (a JSON array of objects, attribute names
 * as keys; nothing at all when no job matches). JobStatus codes (job ClassAd attributes): 1 idle,
 * 2 running, 3 removed, 4 completed, 5 held, 6 transferring output, 7 suspended. Output that does not
 * follow the format is an error, never a guess: a poll that fails is "no news" to the scheduler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

caf_status htcondor_parse_terse(const char *out, long *cluster, long *first_proc, long *count, caf_error *err)
{
    *cluster = -1;
    *first_proc = 0;
    *count = 0;
    const char *line = out;
    while (line && *line) {
        const char *next = strchr(line, '\n');
        long c1, p1, c2, p2;
        int used = 0;
        if (sscanf(line, " %ld.%ld - %ld.%ld%n", &c1, &p1, &c2, &p2, &used) == 4 && c1 == c2 && p1 >= 0 &&
            p2 >= p1) {
            if (*cluster >= 0 && (c1 != *cluster || p1 != *first_proc + *count))
                return caf_error_set(err, CAF_ERR_FORMAT,
                                     "condor_submit made more than one cluster (output: \"%.80s\")", out);
            if (*cluster < 0) {
                *cluster = c1;
                *first_proc = p1;
            }
            *count += p2 - p1 + 1;
        }
        line = next ? next + 1 : NULL;
    }
    if (*cluster < 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "condor_submit -terse printed no job range (output: \"%.80s\")",
                             out);
    return CAF_OK;
}

/* The position of the subjob whose batch id is CLUSTER.PROC, not yet seen; -1 if none. */
static long find_sub(caf_subjob **subs, size_t n, const bool *seen, long cluster, long proc)
{
    char id[64];
    snprintf(id, sizeof id, "%ld.%ld", cluster, proc);
    for (size_t i = 0; i < n; i++)
        if (!seen[i] && subs[i]->batch_id && strcmp(subs[i]->batch_id, id) == 0)
            return (long)i;
    return -1;
}

/* The report for one job ClassAd; sets *held for JobStatus 5. */
static void report_ad(const json_t *ad, caf_batch_report *r, bool *held)
{
    long status = (long)json_integer_value(json_object_get(ad, "JobStatus"));
    const char *hold = json_string_value(json_object_get(ad, "HoldReason"));
    switch (status) {
    case 1:
        batch_report(r, CAF_BATCH_PENDING, NULL);
        break;
    case 2: /* running */
    case 6: /* transferring output: still HTCondor's; the files are not all back yet */
    case 7: /* suspended */
        batch_report(r, CAF_BATCH_RUNNING, NULL);
        break;
    case 3:
        batch_report(r, CAF_BATCH_FAILED, "HTCondor removed it (condor_rm, or a periodic_remove policy such as "
                                          "the time limit)");
        break;
    case 4:
        if (json_is_true(json_object_get(ad, "ExitBySignal")))
            batch_report(r, CAF_BATCH_FAILED, "HTCondor reports it was killed by signal %ld",
                         (long)json_integer_value(json_object_get(ad, "ExitSignal")));
        else
            batch_report(r, CAF_BATCH_FINISHED, NULL);
        break;
    case 5:
        batch_report(r, CAF_BATCH_FAILED, "held by HTCondor: %s", hold && *hold ? hold : "no HoldReason given");
        *held = true;
        break;
    default: /* newer codes: not ended as far as caf can tell */
        batch_report(r, CAF_BATCH_PENDING, NULL);
        break;
    }
}

caf_status htcondor_apply_ads(const char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen,
                              bool *held, caf_error *err)
{
    if (strspn(text, " \t\r\n") == strlen(text))
        return CAF_OK; /* no job matched: HTCondor prints nothing */
    json_error_t jerr;
    json_t *ads = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(ads)) {
        json_decref(ads);
        return caf_error_set(err, CAF_ERR_FORMAT, "expected a JSON array of job ClassAds, got \"%.60s\"%s%s", text,
                             ads ? "" : ": ", ads ? "" : jerr.text);
    }
    size_t i;
    json_t *ad;
    json_array_foreach(ads, i, ad) {
        json_t *cluster = json_object_get(ad, "ClusterId"), *proc = json_object_get(ad, "ProcId");
        if (!json_is_integer(cluster) || !json_is_integer(proc) || !json_is_integer(json_object_get(ad, "JobStatus")))
            continue; /* not one of ours to judge */
        long k = find_sub(subs, n, seen, (long)json_integer_value(cluster), (long)json_integer_value(proc));
        if (k < 0)
            continue;
        report_ad(ad, &reports[k], &held[k]);
        seen[k] = true;
    }
    json_decref(ads);
    return CAF_OK;
}

caf_status htcondor_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count, caf_error *err)
{
    (void)err_text;
    if (exit_code != 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "condor_q failed");
    *count = 0;
    if (strspn(out, " \t\r\n") == strlen(out))
        return CAF_OK; /* no job: HTCondor prints nothing */
    json_error_t jerr;
    json_t *ads = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(ads)) {
        json_decref(ads);
        return caf_error_set(err, CAF_ERR_FORMAT, "expected a JSON array of job ClassAds, got \"%.60s\"", out);
    }
    size_t i;
    json_t *ad;
    json_array_foreach(ads, i, ad) {
        json_int_t status = json_integer_value(json_object_get(ad, "JobStatus"));
        *count += status != 3 && status != 4; /* removed and completed jobs are on their way out */
    }
    json_decref(ads);
    return CAF_OK;
}
