/* Runs and intervals of validity, with Belle II semantics.
 *
 * An ExpRun is an (experiment, run) pair ordered by experiment, then run. An IoV (exp_low, run_low,
 * exp_high, run_high) has inclusive ends:
 *   run_low  = -1  from the start of exp_low (the same as run 0);
 *   run_high = -1  to the end of exp_high;
 *   exp_high = run_high = -1  open-ended above; exp_low = run_low = -1  open-ended below;
 *   0,0,-1,-1  "always";  -1,-1,-1,-1  the empty IoV (distinct from "always").
 * A run bound with a -1 experiment on the same side, or a low end after the high end, makes an IoV
 * invalid: caf reports it, it never repairs it.
 *
 * Internally every IoV is a closed interval of points on the line of all (exp, run) pairs, where
 * (e, RUN_MAX) is followed by (e+1, 0). Adjacency across experiments falls out of that: 0,0,0,-1 and
 * 1,0,1,5 are adjacent; 0,0,0,10 and 1,0,1,5 are not (runs 0,11 to 0,-1 lie between them). */
#ifndef CAF_IOV_H
#define CAF_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_exprun {
    int exp;
    int run;
} caf_exprun;

typedef struct caf_iov {
    int exp_low;
    int run_low;
    int exp_high;
    int run_high;
} caf_iov;

#define CAF_IOV_EMPTY ((caf_iov){-1, -1, -1, -1})
#define CAF_IOV_ALWAYS ((caf_iov){0, 0, -1, -1})

/* Longest text form of an IoV ("-2147483648,..." four times) including the terminator. */
#define CAF_IOV_TEXT_MAX 48
/* Longest text form of an ExpRun including the terminator. */
#define CAF_EXPRUN_TEXT_MAX 24

/* ---- ExpRun ---- */

/* Compares by experiment, then run: <0, 0 or >0, as strcmp does. */
int caf_exprun_compare(caf_exprun a, caf_exprun b);

/* qsort-compatible comparator for arrays of caf_exprun. */
int caf_exprun_qsort_compare(const void *a, const void *b);

/* Sorts runs in place and removes duplicates; returns the new count. */
size_t caf_exprun_sort_unique(caf_exprun *runs, size_t count);

/* Parses "e:r" or "e.r" into *out; returns CAF_OK or CAF_ERR_INVALID with a message naming text. */
caf_status caf_exprun_parse(const char *text, caf_exprun *out, caf_error *err);

/* Writes "e.r" (the Belle II encoding) into buf (size >= CAF_EXPRUN_TEXT_MAX); returns buf. */
char *caf_exprun_format(caf_exprun r, char *buf, size_t size);

/* ---- IoV basics ---- */

/* True for the empty IoV (both experiment bounds negative). */
bool caf_iov_is_empty(caf_iov iov);

/* True for 0,0,-1,-1 (and any IoV that covers every run of every experiment >= 0). */
bool caf_iov_is_always(caf_iov iov);

/* True if both IoVs have the same four numbers. */
bool caf_iov_equal(caf_iov a, caf_iov b);

/* Checks the invariants listed at the top of this header; the empty IoV is valid. Returns CAF_OK or
 * CAF_ERR_INVALID with a message that quotes the IoV and says what is wrong. */
caf_status caf_iov_validate(caf_iov iov, caf_error *err);

/* Parses "e1,r1,e2,r2" (spaces around numbers allowed) and validates it. */
caf_status caf_iov_parse(const char *text, caf_iov *out, caf_error *err);

/* Writes "e1,r1,e2,r2" into buf (size >= CAF_IOV_TEXT_MAX); returns buf. */
char *caf_iov_format(caf_iov iov, char *buf, size_t size);

/* The IoV of a single run: e,r,e,r. */
caf_iov caf_iov_of_run(caf_exprun r);

/* ---- Positions on the line of runs (for indexes that sort and search IoVs as integer intervals) ---- */

/* The position of run r on the line of all (exp, run) points, increasing with caf_exprun_compare;
 * -1 for a pair with a negative number, which names no run. */
int64_t caf_exprun_key(caf_exprun r);

/* The first and last position (inclusive) of the runs in a valid, non-empty iov: r is in iov exactly
 * when *lo <= caf_exprun_key(r) <= *hi. */
void caf_iov_key_range(caf_iov iov, int64_t *lo, int64_t *hi);

/* The canonical IoV of the positions lo..hi (as caf_iov_key_range gives them, lo <= hi): the inverse of
 * caf_iov_key_range, with run_low never -1 and the end of an experiment or of the line written as -1. */
caf_iov caf_iov_of_key_range(int64_t lo, int64_t hi);

/* The last key of the line (the end of an open-ended IoV). */
int64_t caf_iov_key_max(void);

/* The run at key (0 <= key <= caf_iov_key_max()). */
caf_exprun caf_exprun_of_key(int64_t key);

/* ---- Set operations (arguments must be valid; the empty IoV contains and overlaps nothing) ---- */

/* True if iov contains the run. */
bool caf_iov_contains_exprun(caf_iov iov, caf_exprun r);

/* True if outer contains every run of inner (the empty IoV is contained in everything). */
bool caf_iov_contains_iov(caf_iov outer, caf_iov inner);

/* True if a and b share at least one run. */
bool caf_iov_overlaps(caf_iov a, caf_iov b);

/* True if a and b do not overlap and nothing lies between them (0,0,0,-1 and 1,0,1,3 are adjacent). */
bool caf_iov_adjacent(caf_iov a, caf_iov b);

/* The runs in both a and b; the empty IoV when they do not overlap. */
caf_iov caf_iov_intersection(caf_iov a, caf_iov b);

/* Orders IoVs by low end, then high end (empty IoVs first). qsort-compatible. */
int caf_iov_qsort_compare(const void *a, const void *b);

/* Merges overlapping or adjacent IoVs: reads count IoVs from in, writes the sorted, disjoint, non-adjacent
 * union into *out (malloc'd, caller frees; NULL when *out_count is 0). Empty IoVs are dropped. */
caf_status caf_iov_union(const caf_iov *in, size_t count, caf_iov **out, size_t *out_count, caf_error *err);

/* The parts of span not covered by any of the count IoVs in covered, sorted (malloc'd into *out, caller
 * frees). A gap that runs to the end of an experiment ends with run -1. */
caf_status caf_iov_gaps(const caf_iov *covered, size_t count, caf_iov span, caf_iov **out, size_t *out_count,
                        caf_error *err);

/* The IoV from the lowest to the highest of count runs (in any order); empty for count 0. */
caf_iov caf_iov_span_of_runs(const caf_exprun *runs, size_t count);

/* ---- Run lists ---- */

/* A group of runs: a view into a sorted array owned by the caller of the function that made it. */
typedef struct caf_run_group {
    const caf_exprun *runs;
    size_t count;
} caf_run_group;

/* Splits sorted runs into one group per experiment, in order. Groups point into runs; the group array is
 * malloc'd into *groups (caller frees). */
caf_status caf_runs_split_by_experiment(const caf_exprun *runs, size_t count, caf_run_group **groups,
                                        size_t *group_count, caf_error *err);

/* Splits sorted runs at payload boundaries: each boundary starts a new group (a boundary need not be a
 * run in the list); runs before the first boundary form the first group. Empty groups are left out.
 * Boundaries may be in any order and may repeat. Groups point into runs; the array is malloc'd into
 * *groups (caller frees). */
caf_status caf_runs_split_at_boundaries(const caf_exprun *runs, size_t count, const caf_exprun *boundaries,
                                        size_t boundary_count, caf_run_group **groups, size_t *group_count,
                                        caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
