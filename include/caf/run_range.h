/* RunRange: the bookkeeping a collector output carries about itself, the sorted set of (exp, run)
 * pairs whose events were collected and the granularity ("run" or "all") the objects are keyed by.
 * Merging two RunRanges is the union of their sets; granularities must agree. */
#ifndef CAF_RUN_RANGE_H
#define CAF_RUN_RANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_granularity {
    CAF_GRANULARITY_RUN = 0, /* objects kept per (exp, run) */
    CAF_GRANULARITY_ALL = 1, /* one set of objects for the job, under the key (-1, -1) */
} caf_granularity;

/* The key objects are stored under with granularity "all". */
#define CAF_EXPRUN_ALL ((caf_exprun){-1, -1})

/* Parses "run" or "all"; anything else is CAF_ERR_INVALID with a message quoting text. */
caf_status caf_granularity_parse(const char *text, caf_granularity *out, caf_error *err);

/* "run" or "all" (static). */
const char *caf_granularity_name(caf_granularity g);

/* A sorted set of runs plus a granularity. Zero-initialised = empty, granularity "run". */
typedef struct caf_run_range {
    caf_exprun *runs; /* sorted, unique; malloc'd, owned */
    size_t count;
    size_t capacity;
    caf_granularity granularity;
} caf_run_range;

/* Empties rr and sets its granularity. */
void caf_run_range_init(caf_run_range *rr, caf_granularity g);

/* Adds a run (nothing if present). */
caf_status caf_run_range_add(caf_run_range *rr, caf_exprun run, caf_error *err);

/* True if the run is in the set. */
bool caf_run_range_contains(const caf_run_range *rr, caf_exprun run);

/* Adds every run of other; fails with CAF_ERR_INVALID when the granularities differ. */
caf_status caf_run_range_merge(caf_run_range *rr, const caf_run_range *other, caf_error *err);

/* From the lowest run to the highest (gaps not represented); the empty IoV when there are no runs. */
caf_iov caf_run_range_iov(const caf_run_range *rr);

/* Frees the run array and empties rr (granularity kept). */
void caf_run_range_clear(caf_run_range *rr);

#ifdef __cplusplus
}
#endif
#endif
