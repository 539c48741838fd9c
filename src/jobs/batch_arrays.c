/* Submitting subjobs as job arrays (Slurm, LSF): one submit command per group of subjobs that ask for
 * the same memory and time, at most max_array per command, element ids ARRAYID<open>INDEX<close>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

caf_status batch_submit_arrays(const caf_job *job, const batch_settings *settings, caf_subjob **subs, size_t n,
                               const batch_array_style *style, caf_error *err)
{
    caf_subjob **order = malloc(n * sizeof *order);
    if (!order)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    memcpy(order, subs, n * sizeof *order); /* grouping reorders; the caller's array stays as it is */
    caf_status rc = CAF_OK;
    for (size_t from = 0; rc == CAF_OK && from < n;) {
        size_t count = batch_group_same_request(order, from, n);
        if (count > style->max_array)
            count = style->max_array;
        batch_command cmd = {0};
        caf_process_result res = {0};
        rc = style->build(job, settings, order + from, count, &cmd, err);
        if (rc == CAF_OK)
            rc = batch_command_run(&cmd, job->working_dir, settings->submit_timeout_s, &res, err);
        if (rc == CAF_OK && res.exit_code != 0)
            rc = batch_command_failed(&cmd, &res, err);
        char id[64];
        if (rc == CAF_OK)
            rc = style->parse(res.out_text, id, sizeof id, err);
        for (size_t i = 0; rc == CAF_OK && i < count; i++) {
            char element[96];
            snprintf(element, sizeof element, "%s%s%zu%s", id, style->open, i + style->first_index, style->close);
            rc = batch_set_id(order[from + i], element, err);
        }
        caf_process_result_free(&res);
        batch_command_free(&cmd);
        from += count;
    }
    free(order);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}
