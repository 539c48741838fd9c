/* RunRange: a sorted set of runs plus the granularity, merged by union. */
#include <stdlib.h>
#include <string.h>

#include "caf/run_range.h"

caf_status caf_granularity_parse(const char *text, caf_granularity *out, caf_error *err)
{
    if (text && !strcmp(text, "run")) {
        *out = CAF_GRANULARITY_RUN;
        return CAF_OK;
    }
    if (text && !strcmp(text, "all")) {
        *out = CAF_GRANULARITY_ALL;
        return CAF_OK;
    }
    return caf_error_set(err, CAF_ERR_INVALID, "granularity '%s' is neither 'run' nor 'all'", text ? text : "");
}

const char *caf_granularity_name(caf_granularity g)
{
    return g == CAF_GRANULARITY_ALL ? "all" : "run";
}

void caf_run_range_init(caf_run_range *rr, caf_granularity g)
{
    memset(rr, 0, sizeof *rr);
    rr->granularity = g;
}

/* Index of the first run >= r (binary search). */
static size_t lower_bound(const caf_run_range *rr, caf_exprun r)
{
    size_t lo = 0, hi = rr->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (caf_exprun_compare(rr->runs[mid], r) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool caf_run_range_contains(const caf_run_range *rr, caf_exprun run)
{
    size_t i = lower_bound(rr, run);
    return i < rr->count && caf_exprun_compare(rr->runs[i], run) == 0;
}

caf_status caf_run_range_add(caf_run_range *rr, caf_exprun run, caf_error *err)
{
    size_t i = lower_bound(rr, run);
    if (i < rr->count && caf_exprun_compare(rr->runs[i], run) == 0)
        return CAF_OK;
    if (rr->count == rr->capacity) {
        size_t cap = rr->capacity ? 2 * rr->capacity : 16;
        caf_exprun *n = realloc(rr->runs, cap * sizeof *n);
        if (!n)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        rr->runs = n;
        rr->capacity = cap;
    }
    memmove(rr->runs + i + 1, rr->runs + i, (rr->count - i) * sizeof *rr->runs);
    rr->runs[i] = run;
    rr->count++;
    return CAF_OK;
}

caf_status caf_run_range_merge(caf_run_range *rr, const caf_run_range *other, caf_error *err)
{
    if (rr->granularity != other->granularity)
        return caf_error_set(err, CAF_ERR_INVALID, "cannot merge RunRanges of granularity '%s' and '%s'",
                             caf_granularity_name(rr->granularity), caf_granularity_name(other->granularity));
    for (size_t i = 0; i < other->count; i++) {
        caf_status st = caf_run_range_add(rr, other->runs[i], err);
        if (st != CAF_OK)
            return st;
    }
    return CAF_OK;
}

caf_iov caf_run_range_iov(const caf_run_range *rr)
{
    return caf_iov_span_of_runs(rr->runs, rr->count);
}

void caf_run_range_clear(caf_run_range *rr)
{
    free(rr->runs);
    rr->runs = NULL;
    rr->count = rr->capacity = 0;
}
