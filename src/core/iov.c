/* Runs and intervals of validity. Every valid, non-empty IoV becomes a closed interval [lo, hi] of keys on
 * the line of all (exp, run) points with exp, run in [0, INT_MAX]: key = exp * 2^31 + run, so
 * (e, INT_MAX) + 1 == (e + 1, 0) and adjacency across experiments is plain integer adjacency. An open
 * low end is the first point of the line and an open high end its last point: they cover exactly the same
 * runs, which is what "contains every run" and "always" need. */
#include "caf/iov.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_MAX INT_MAX
#define RUNS_PER_EXP ((int64_t)RUN_MAX + 1)
#define KEY_MIN ((int64_t)0)
#define KEY_MAX ((int64_t)INT_MAX * RUNS_PER_EXP + RUN_MAX)

typedef struct key_range {
    int64_t lo;
    int64_t hi;
} key_range;

static int64_t key_of(int exp, int run)
{
    return (int64_t)exp * RUNS_PER_EXP + run;
}

static int64_t low_key(caf_iov iov)
{
    if (iov.exp_low < 0)
        return KEY_MIN;
    return key_of(iov.exp_low, iov.run_low < 0 ? 0 : iov.run_low);
}

static int64_t high_key(caf_iov iov)
{
    if (iov.exp_high < 0)
        return KEY_MAX;
    return key_of(iov.exp_high, iov.run_high < 0 ? RUN_MAX : iov.run_high);
}

static key_range range_of(caf_iov iov)
{
    return (key_range){low_key(iov), high_key(iov)};
}

/* The canonical IoV of a key range: a low run is never -1 (run 0 says the same and -1,-1 at both ends
 * would read as the empty IoV); a high end at the end of an experiment is run -1, at the end of the
 * line it is open (-1,-1). */
static caf_iov iov_of_range(key_range r)
{
    caf_iov iov;
    iov.exp_low = (int)(r.lo / RUNS_PER_EXP);
    iov.run_low = (int)(r.lo % RUNS_PER_EXP);
    if (r.hi == KEY_MAX) {
        iov.exp_high = -1;
        iov.run_high = -1;
    } else {
        iov.exp_high = (int)(r.hi / RUNS_PER_EXP);
        int run = (int)(r.hi % RUNS_PER_EXP);
        iov.run_high = run == RUN_MAX ? -1 : run;
    }
    return iov;
}

int64_t caf_exprun_key(caf_exprun r)
{
    return r.exp < 0 || r.run < 0 ? -1 : key_of(r.exp, r.run);
}

void caf_iov_key_range(caf_iov iov, int64_t *lo, int64_t *hi)
{
    *lo = low_key(iov);
    *hi = high_key(iov);
}

caf_iov caf_iov_of_key_range(int64_t lo, int64_t hi)
{
    return iov_of_range((key_range){lo, hi});
}

int64_t caf_iov_key_max(void)
{
    return KEY_MAX;
}

caf_exprun caf_exprun_of_key(int64_t key)
{
    return (caf_exprun){(int)(key / RUNS_PER_EXP), (int)(key % RUNS_PER_EXP)};
}

/* ---- ExpRun ---- */

int caf_exprun_compare(caf_exprun a, caf_exprun b)
{
    if (a.exp != b.exp)
        return a.exp < b.exp ? -1 : 1;
    if (a.run != b.run)
        return a.run < b.run ? -1 : 1;
    return 0;
}

int caf_exprun_qsort_compare(const void *a, const void *b)
{
    return caf_exprun_compare(*(const caf_exprun *)a, *(const caf_exprun *)b);
}

size_t caf_exprun_sort_unique(caf_exprun *runs, size_t count)
{
    if (count == 0)
        return 0;
    qsort(runs, count, sizeof *runs, caf_exprun_qsort_compare);
    size_t kept = 1;
    for (size_t i = 1; i < count; i++)
        if (caf_exprun_compare(runs[i], runs[kept - 1]) != 0)
            runs[kept++] = runs[i];
    return kept;
}

/* Parses one number of [begin, end) with optional surrounding blanks; numbers below -1 are refused
 * because no experiment or run bound uses them. Returns NULL or a reason for the error message. */
static const char *parse_number(const char *begin, const char *end, int *out)
{
    while (begin < end && isspace((unsigned char)*begin))
        begin++;
    while (end > begin && isspace((unsigned char)end[-1]))
        end--;
    if (begin == end)
        return "is empty";
    const char *p = begin;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    if (p == end)
        return "is not an integer";
    long long value = 0;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return "is not an integer";
        value = value * 10 + (*p - '0');
        if (value > (long long)INT_MAX + 1)
            return "is out of range";
    }
    if (negative)
        value = -value;
    if (value > INT_MAX || value < INT_MIN)
        return "is out of range";
    if (value < -1)
        return "is below -1";
    *out = (int)value;
    return NULL;
}

caf_status caf_exprun_parse(const char *text, caf_exprun *out, caf_error *err)
{
    if (!text)
        return caf_error_set(err, CAF_ERR_INVALID, "invalid run: no text given");
    const char *sep = NULL;
    for (const char *p = text; *p; p++) {
        if (*p == '.' || *p == ':') {
            if (sep)
                return caf_error_set(err, CAF_ERR_INVALID,
                                     "invalid run \"%.64s\": expected \"exp.run\" or \"exp:run\", found more than one separator",
                                     text);
            sep = p;
        }
    }
    if (!sep)
        return caf_error_set(err, CAF_ERR_INVALID,
                             "invalid run \"%.64s\": expected \"exp.run\" or \"exp:run\"", text);
    caf_exprun r;
    const char *why = parse_number(text, sep, &r.exp);
    if (why)
        return caf_error_set(err, CAF_ERR_INVALID, "invalid run \"%.64s\": the experiment %s", text, why);
    why = parse_number(sep + 1, sep + strlen(sep), &r.run);
    if (why)
        return caf_error_set(err, CAF_ERR_INVALID, "invalid run \"%.64s\": the run %s", text, why);
    *out = r;
    return CAF_OK;
}

char *caf_exprun_format(caf_exprun r, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%d", r.exp, r.run);
    return buf;
}

/* ---- IoV basics ---- */

bool caf_iov_is_empty(caf_iov iov)
{
    return iov.exp_low < 0 && iov.exp_high < 0;
}

bool caf_iov_is_always(caf_iov iov)
{
    return !caf_iov_is_empty(iov) && low_key(iov) == KEY_MIN && high_key(iov) == KEY_MAX;
}

bool caf_iov_equal(caf_iov a, caf_iov b)
{
    return a.exp_low == b.exp_low && a.run_low == b.run_low && a.exp_high == b.exp_high &&
           a.run_high == b.run_high;
}

/* Returns NULL for a valid IoV, else what is wrong with it (written into why). */
static const char *iov_problem(caf_iov iov, char *why, size_t size)
{
    const struct {
        const char *name;
        int value;
    } fields[] = {{"exp_low", iov.exp_low}, {"run_low", iov.run_low}, {"exp_high", iov.exp_high},
                  {"run_high", iov.run_high}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].value < -1) {
            snprintf(why, size, "%s %d is below -1", fields[i].name, fields[i].value);
            return why;
        }
    }
    if (iov.exp_low == -1 && iov.run_low != -1) {
        snprintf(why, size, "run_low %d needs an experiment, but exp_low is -1 (open)", iov.run_low);
        return why;
    }
    if (iov.exp_high == -1 && iov.run_high != -1) {
        snprintf(why, size, "run_high %d needs an experiment, but exp_high is -1 (open)", iov.run_high);
        return why;
    }
    if (!caf_iov_is_empty(iov) && low_key(iov) > high_key(iov)) {
        snprintf(why, size, "the low end %d,%d is after the high end %d,%d", iov.exp_low, iov.run_low,
                 iov.exp_high, iov.run_high);
        return why;
    }
    return NULL;
}

caf_status caf_iov_validate(caf_iov iov, caf_error *err)
{
    char why[160];
    if (!iov_problem(iov, why, sizeof why))
        return CAF_OK;
    char text[CAF_IOV_TEXT_MAX];
    return caf_error_set(err, CAF_ERR_INVALID, "invalid IoV %s: %s", caf_iov_format(iov, text, sizeof text), why);
}

caf_status caf_iov_parse(const char *text, caf_iov *out, caf_error *err)
{
    if (!text)
        return caf_error_set(err, CAF_ERR_INVALID, "invalid IoV: no text given");
    if (!*text)
        return caf_error_set(err, CAF_ERR_INVALID, "invalid IoV \"\": the text is empty, expected e1,r1,e2,r2");
    size_t fields = 1;
    for (const char *p = text; *p; p++)
        fields += *p == ',';
    if (fields != 4)
        return caf_error_set(err, CAF_ERR_INVALID,
                             "invalid IoV \"%.64s\": expected 4 comma-separated numbers (e1,r1,e2,r2), found %zu",
                             text, fields);
    static const char *const names[] = {"exp_low", "run_low", "exp_high", "run_high"};
    int values[4];
    const char *begin = text;
    for (int i = 0; i < 4; i++) {
        const char *end = strchr(begin, ',');
        if (!end)
            end = begin + strlen(begin);
        const char *why = parse_number(begin, end, &values[i]);
        if (why)
            return caf_error_set(err, CAF_ERR_INVALID, "invalid IoV \"%.64s\": %s (field %d) %s", text, names[i],
                                 i + 1, why);
        begin = end + 1;
    }
    caf_iov iov = {values[0], values[1], values[2], values[3]};
    char why[160];
    if (iov_problem(iov, why, sizeof why))
        return caf_error_set(err, CAF_ERR_INVALID, "invalid IoV \"%.64s\": %s", text, why);
    *out = iov;
    return CAF_OK;
}

char *caf_iov_format(caf_iov iov, char *buf, size_t size)
{
    snprintf(buf, size, "%d,%d,%d,%d", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
    return buf;
}

caf_iov caf_iov_of_run(caf_exprun r)
{
    return (caf_iov){r.exp, r.run, r.exp, r.run};
}

/* ---- Set operations ---- */

bool caf_iov_contains_exprun(caf_iov iov, caf_exprun r)
{
    /* (-1,-1) is the "all runs" bucket, not a run; no negative number names a run. */
    if (caf_iov_is_empty(iov) || r.exp < 0 || r.run < 0)
        return false;
    int64_t k = key_of(r.exp, r.run);
    return low_key(iov) <= k && k <= high_key(iov);
}

bool caf_iov_contains_iov(caf_iov outer, caf_iov inner)
{
    if (caf_iov_is_empty(inner))
        return true;
    if (caf_iov_is_empty(outer))
        return false;
    return low_key(outer) <= low_key(inner) && high_key(inner) <= high_key(outer);
}

bool caf_iov_overlaps(caf_iov a, caf_iov b)
{
    if (caf_iov_is_empty(a) || caf_iov_is_empty(b))
        return false;
    return low_key(a) <= high_key(b) && low_key(b) <= high_key(a);
}

bool caf_iov_adjacent(caf_iov a, caf_iov b)
{
    if (caf_iov_is_empty(a) || caf_iov_is_empty(b))
        return false;
    /* KEY_MAX + 1 still fits in int64_t, so an open high end is adjacent to nothing. */
    return high_key(a) + 1 == low_key(b) || high_key(b) + 1 == low_key(a);
}

caf_iov caf_iov_intersection(caf_iov a, caf_iov b)
{
    if (!caf_iov_overlaps(a, b))
        return CAF_IOV_EMPTY;
    /* Each end is taken unchanged from the input that sets it (a on ties), so intersecting with "always"
     * returns the other IoV as written. b sets an end only when it is strictly tighter than a's, so an open
     * end always comes from a; both ends open would make a the empty IoV, so the result never reads as
     * empty. */
    caf_iov out;
    caf_iov lo_from = low_key(a) >= low_key(b) ? a : b;
    caf_iov hi_from = high_key(a) <= high_key(b) ? a : b;
    out.exp_low = lo_from.exp_low;
    out.run_low = lo_from.run_low;
    out.exp_high = hi_from.exp_high;
    out.run_high = hi_from.run_high;
    return out;
}

static int compare_keys(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

int caf_iov_qsort_compare(const void *pa, const void *pb)
{
    caf_iov a = *(const caf_iov *)pa, b = *(const caf_iov *)pb;
    bool ea = caf_iov_is_empty(a), eb = caf_iov_is_empty(b);
    if (ea || eb)
        return (int)eb - (int)ea;
    int c = compare_keys(low_key(a), low_key(b));
    if (!c)
        c = compare_keys(high_key(a), high_key(b));
    /* Same runs written differently (3,-1 and 3,0): order by the numbers so the order is total. */
    const int na[4] = {a.exp_low, a.run_low, a.exp_high, a.run_high};
    const int nb[4] = {b.exp_low, b.run_low, b.exp_high, b.run_high};
    for (int i = 0; !c && i < 4; i++)
        c = na[i] < nb[i] ? -1 : na[i] > nb[i];
    return c;
}

static int compare_ranges(const void *pa, const void *pb)
{
    const key_range *a = pa, *b = pb;
    int c = compare_keys(a->lo, b->lo);
    return c ? c : compare_keys(a->hi, b->hi);
}

/* Validates the non-empty IoVs of in and merges them into sorted, disjoint, non-adjacent key ranges
 * (malloc'd into *out; NULL when there are none). what names the list in error messages. */
static caf_status merge_ranges(const caf_iov *in, size_t count, const char *what, key_range **out,
                               size_t *out_count, caf_error *err)
{
    *out = NULL;
    *out_count = 0;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        if (caf_iov_validate(in[i], err) != CAF_OK)
            return caf_error_prefix(err, "%s IoV at index %zu: ", what, i);
        used += !caf_iov_is_empty(in[i]);
    }
    if (used == 0)
        return CAF_OK;
    key_range *ranges = malloc(used * sizeof *ranges);
    if (!ranges)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory merging %zu IoVs", used);
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (!caf_iov_is_empty(in[i]))
            ranges[n++] = range_of(in[i]);
    qsort(ranges, n, sizeof *ranges, compare_ranges);
    size_t merged = 0;
    for (size_t i = 0; i < n; i++) {
        if (merged > 0 && ranges[i].lo <= ranges[merged - 1].hi + 1) {
            if (ranges[i].hi > ranges[merged - 1].hi)
                ranges[merged - 1].hi = ranges[i].hi;
        } else {
            ranges[merged++] = ranges[i];
        }
    }
    *out = ranges;
    *out_count = merged;
    return CAF_OK;
}

caf_status caf_iov_union(const caf_iov *in, size_t count, caf_iov **out, size_t *out_count, caf_error *err)
{
    *out = NULL;
    *out_count = 0;
    key_range *ranges;
    size_t n;
    caf_status st = merge_ranges(in, count, "union input", &ranges, &n, err);
    if (st != CAF_OK || n == 0)
        return st;
    caf_iov *result = malloc(n * sizeof *result);
    if (!result) {
        free(ranges);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory merging %zu IoVs", count);
    }
    for (size_t i = 0; i < n; i++)
        result[i] = iov_of_range(ranges[i]);
    free(ranges);
    *out = result;
    *out_count = n;
    return CAF_OK;
}

caf_status caf_iov_gaps(const caf_iov *covered, size_t count, caf_iov span, caf_iov **out, size_t *out_count,
                        caf_error *err)
{
    *out = NULL;
    *out_count = 0;
    if (caf_iov_validate(span, err) != CAF_OK)
        return caf_error_prefix(err, "gaps: span: ");
    key_range *ranges;
    size_t n;
    caf_status st = merge_ranges(covered, count, "gaps: covered", &ranges, &n, err);
    if (st != CAF_OK)
        return st;
    if (caf_iov_is_empty(span)) {
        free(ranges);
        return CAF_OK;
    }
    /* n disjoint ranges leave at most n + 1 gaps. */
    caf_iov *result = malloc((n + 1) * sizeof *result);
    if (!result) {
        free(ranges);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory listing gaps of %zu IoVs", count);
    }
    key_range s = range_of(span);
    int64_t next = s.lo; /* the first point of the span not yet known to be covered */
    size_t gaps = 0;
    for (size_t i = 0; i < n && next <= s.hi; i++) {
        if (ranges[i].hi < next)
            continue;
        if (ranges[i].lo > s.hi)
            break;
        if (ranges[i].lo > next)
            result[gaps++] = iov_of_range((key_range){next, ranges[i].lo - 1});
        if (ranges[i].hi >= s.hi) {
            next = s.hi + 1;
            break;
        }
        next = ranges[i].hi + 1;
    }
    if (next <= s.hi)
        result[gaps++] = iov_of_range((key_range){next, s.hi});
    free(ranges);
    if (gaps == 0) {
        free(result);
        result = NULL;
    }
    *out = result;
    *out_count = gaps;
    return CAF_OK;
}

caf_iov caf_iov_span_of_runs(const caf_exprun *runs, size_t count)
{
    if (count == 0)
        return CAF_IOV_EMPTY;
    caf_exprun lo = runs[0], hi = runs[0];
    for (size_t i = 1; i < count; i++) {
        if (caf_exprun_compare(runs[i], lo) < 0)
            lo = runs[i];
        if (caf_exprun_compare(runs[i], hi) > 0)
            hi = runs[i];
    }
    return (caf_iov){lo.exp, lo.run, hi.exp, hi.run};
}

/* ---- Run lists ---- */

static caf_status check_sorted(const caf_exprun *runs, size_t count, caf_error *err)
{
    for (size_t i = 1; i < count; i++) {
        if (caf_exprun_compare(runs[i - 1], runs[i]) > 0) {
            char a[CAF_EXPRUN_TEXT_MAX], b[CAF_EXPRUN_TEXT_MAX];
            return caf_error_set(err, CAF_ERR_INVALID, "runs are not sorted: %s at index %zu comes after %s",
                                 caf_exprun_format(runs[i], b, sizeof b), i,
                                 caf_exprun_format(runs[i - 1], a, sizeof a));
        }
    }
    return CAF_OK;
}

/* Cuts sorted runs into groups; starts_group(prev, cur, ctx) says whether cur begins a new group. */
static caf_status split_runs(const caf_exprun *runs, size_t count,
                             bool (*starts_group)(caf_exprun prev, caf_exprun cur, const void *ctx),
                             const void *ctx, caf_run_group **groups, size_t *group_count, caf_error *err)
{
    *groups = NULL;
    *group_count = 0;
    caf_status st = check_sorted(runs, count, err);
    if (st != CAF_OK)
        return st;
    if (count == 0)
        return CAF_OK;
    size_t n = 1;
    for (size_t i = 1; i < count; i++)
        n += starts_group(runs[i - 1], runs[i], ctx);
    caf_run_group *result = malloc(n * sizeof *result);
    if (!result)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory splitting %zu runs", count);
    size_t g = 0, first = 0;
    for (size_t i = 1; i <= count; i++) {
        if (i == count || starts_group(runs[i - 1], runs[i], ctx)) {
            result[g++] = (caf_run_group){runs + first, i - first};
            first = i;
        }
    }
    *groups = result;
    *group_count = n;
    return CAF_OK;
}

static bool new_experiment(caf_exprun prev, caf_exprun cur, const void *ctx)
{
    (void)ctx;
    return prev.exp != cur.exp;
}

caf_status caf_runs_split_by_experiment(const caf_exprun *runs, size_t count, caf_run_group **groups,
                                        size_t *group_count, caf_error *err)
{
    return split_runs(runs, count, new_experiment, NULL, groups, group_count, err);
}

typedef struct boundary_list {
    const caf_exprun *sorted;
    size_t count;
} boundary_list;

/* True if some boundary b has prev < b <= cur: b starts a new group at or before cur, and no run of
 * the list lies between b and cur. */
static bool crosses_boundary(caf_exprun prev, caf_exprun cur, const void *ctx)
{
    const boundary_list *list = ctx;
    size_t lo = 0, hi = list->count; /* first boundary > prev */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (caf_exprun_compare(list->sorted[mid], prev) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < list->count && caf_exprun_compare(list->sorted[lo], cur) <= 0;
}

caf_status caf_runs_split_at_boundaries(const caf_exprun *runs, size_t count, const caf_exprun *boundaries,
                                        size_t boundary_count, caf_run_group **groups, size_t *group_count,
                                        caf_error *err)
{
    *groups = NULL;
    *group_count = 0;
    caf_exprun *sorted = NULL;
    if (boundary_count > 0) {
        sorted = malloc(boundary_count * sizeof *sorted);
        if (!sorted)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory sorting %zu boundaries", boundary_count);
        memcpy(sorted, boundaries, boundary_count * sizeof *sorted);
    }
    boundary_list list = {sorted, caf_exprun_sort_unique(sorted, boundary_count)};
    caf_status st = split_runs(runs, count, crosses_boundary, &list, groups, group_count, err);
    free(sorted);
    return st;
}
