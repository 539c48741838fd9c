/* What a strategy committed and what it left uncovered: <algorithm>_iov_gaps.json. */
#include <stdlib.h>
#include <string.h>

#include "caf/json.h"
#include "orchestration/strategy_internal.h"

caf_status caf_strategy_committed_iovs(const caf_strategy_state *state, caf_iov **out, size_t *count,
                                       caf_error *err)
{
    *out = NULL;
    *count = 0;
    caf_iov *iovs = malloc((state->execution_count ? state->execution_count : 1) * sizeof *iovs);
    if (!iovs)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory listing committed IoVs");
    size_t n = 0;
    for (size_t i = 0; i < state->execution_count; i++)
        if (state->executions[i].committed)
            iovs[n++] = state->executions[i].iov;
    if (n == 0) {
        free(iovs);
        iovs = NULL;
    }
    *out = iovs;
    *count = n;
    return CAF_OK;
}

caf_status caf_strategy_iov_gaps(const caf_strategy_state *state, caf_iov **out, size_t *count, caf_error *err)
{
    *out = NULL;
    *count = 0;
    caf_iov *committed;
    size_t committed_count;
    caf_status rc = caf_strategy_committed_iovs(state, &committed, &committed_count, err);
    if (rc != CAF_OK)
        return rc;
    caf_iov *all = NULL;
    size_t all_count = 0;
    for (size_t i = 0; i < state->responsible_count && rc == CAF_OK; i++) {
        caf_iov *gaps;
        size_t n;
        rc = caf_iov_gaps(committed, committed_count, state->responsible[i], &gaps, &n, err);
        if (rc != CAF_OK || n == 0)
            continue;
        caf_iov *grown = realloc(all, (all_count + n) * sizeof *grown);
        if (!grown) {
            free(gaps);
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory listing IoV gaps");
            break;
        }
        all = grown;
        memcpy(all + all_count, gaps, n * sizeof *gaps);
        all_count += n;
        free(gaps);
    }
    free(committed);
    if (rc != CAF_OK) {
        free(all);
        return rc;
    }
    /* Responsible IoVs never overlap, but sorting keeps the file's order independent of that. */
    if (all_count > 1)
        qsort(all, all_count, sizeof *all, caf_iov_qsort_compare);
    *out = all;
    *count = all_count;
    return CAF_OK;
}

caf_status caf_strategy_write_iov_gaps(const caf_strategy_state *state, const char *dir, const char *algorithm,
                                       caf_error *err)
{
    caf_iov *gaps;
    size_t n;
    caf_status rc = caf_strategy_iov_gaps(state, &gaps, &n, err);
    if (rc != CAF_OK)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_pack("[iiii]", gaps[i].exp_low, gaps[i].run_low, gaps[i].exp_high,
                                                  gaps[i].run_high)) != 0) {
            json_decref(list);
            list = NULL;
        }
    free(gaps);
    if (!list)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory writing the IoV gaps of %s", algorithm);
    size_t len = strlen(dir) + strlen(algorithm) + sizeof "/_iov_gaps.json";
    char *path = malloc(len);
    if (!path) {
        json_decref(list);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    snprintf(path, len, "%s/%s_iov_gaps.json", dir, algorithm);
    rc = caf_json_save_file(path, list, err);
    free(path);
    json_decref(list);
    return rc;
}
