/* The lookup index of a local database. For each payload name the runs are cut into disjoint, sorted
 * segments, each holding the line that wins there under basf2's rule (the last line whose IoV contains
 * the run). A lookup is a binary search over the names and one over that name's segments.
 *
 * Building paints the lines from the last to the first over the elementary intervals between all IoV
 * ends of a name, each interval taking the first (i.e. latest) line that reaches it; a union-find
 * "next unpainted interval" pointer makes that O(n log n) whatever the overlaps. Lines appended later
 * (a commit) are painted on top of the segments: they win wherever they reach. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/localdb_internal.h"

typedef struct localdb_segment {
    int64_t lo; /* first and last key (caf_exprun_key) of the runs where entry wins */
    int64_t hi;
    size_t entry;
} localdb_segment;

typedef struct name_segments {
    const char *name; /* owned by the entries */
    localdb_segment *segments;
    size_t count;
    size_t capacity;
} name_segments;

struct localdb_index {
    name_segments *names; /* sorted by name */
    size_t count;
    size_t capacity;
};

void localdb_index_free(localdb_index *index)
{
    if (!index)
        return;
    for (size_t i = 0; i < index->count; i++)
        free(index->names[i].segments);
    free(index->names);
    free(index);
}

/* Index of the name in the sorted list, or where it would go (*found false). */
static size_t name_position(const localdb_index *index, const char *name, bool *found)
{
    size_t lo = 0, hi = index->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(index->names[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static name_segments *name_slot(localdb_index *index, const char *name)
{
    bool found;
    size_t at = name_position(index, name, &found);
    if (found)
        return &index->names[at];
    if (index->count == index->capacity) {
        size_t capacity = index->capacity ? index->capacity * 2 : 8;
        name_segments *bigger = realloc(index->names, capacity * sizeof *bigger);
        if (!bigger)
            return NULL;
        index->names = bigger;
        index->capacity = capacity;
    }
    memmove(&index->names[at + 1], &index->names[at], (index->count - at) * sizeof *index->names);
    index->names[at] = (name_segments){.name = name};
    index->count++;
    return &index->names[at];
}

static bool reserve_segments(name_segments *ns, size_t extra)
{
    if (ns->count + extra <= ns->capacity)
        return true;
    size_t capacity = ns->capacity ? ns->capacity : 4;
    while (capacity < ns->count + extra)
        capacity *= 2;
    localdb_segment *bigger = realloc(ns->segments, capacity * sizeof *bigger);
    if (!bigger)
        return false;
    ns->segments = bigger;
    ns->capacity = capacity;
    return true;
}

/* ---- building from a whole file ---- */

typedef struct build_scratch {
    const caf_db_entry *entries;
    size_t *order;   /* entry indices grouped by name, in line order within a name */
    int64_t *points; /* IoV ends of one name: each lo and hi + 1, sorted and unique */
    size_t *owner;   /* per elementary interval: the winning entry, or SIZE_MAX */
    size_t *next;    /* per point: union-find pointer to the next interval not yet painted */
} build_scratch;

static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* Groups the entries by name keeping line order (a counting sort over name ids from a hash table), and
 * adds each name to the index. */
static bool group_by_name(localdb_index *index, const caf_db_entry *entries, size_t count, size_t *order,
                          size_t **group_ends, size_t *group_count)
{
    size_t slots = 16;
    while (slots < 2 * count)
        slots *= 2;
    size_t *table = malloc(slots * sizeof *table); /* slot -> name id + 1, 0 when free */
    size_t *id_of = malloc((count ? count : 1) * sizeof *id_of);
    size_t *first = malloc((count ? count : 1) * sizeof *first); /* name id -> an entry with that name */
    size_t *sizes = calloc(count + 1, sizeof *sizes);
    bool ok = table && id_of && first && sizes;
    size_t names = 0;
    if (ok)
        memset(table, 0, slots * sizeof *table);
    for (size_t i = 0; ok && i < count; i++) {
        size_t slot = (size_t)name_hash(entries[i].name) & (slots - 1);
        while (table[slot] && strcmp(entries[first[table[slot] - 1]].name, entries[i].name) != 0)
            slot = (slot + 1) & (slots - 1);
        if (!table[slot]) {
            first[names] = i;
            table[slot] = ++names;
        }
        id_of[i] = table[slot] - 1;
        sizes[id_of[i]]++;
    }
    /* the index keeps its names sorted: a name's rank there orders the groups */
    size_t *rank = ok ? malloc((names ? names : 1) * sizeof *rank) : NULL;
    size_t *start = ok ? calloc(names + 1, sizeof *start) : NULL;
    ok = ok && rank && start;
    for (size_t id = 0; ok && id < names; id++)
        ok = name_slot(index, entries[first[id]].name) != NULL;
    for (size_t id = 0; ok && id < names; id++) {
        bool found;
        rank[id] = name_position(index, entries[first[id]].name, &found);
        start[rank[id] + 1] = sizes[id];
    }
    if (ok) {
        for (size_t r = 0; r < names; r++)
            start[r + 1] += start[r];
        size_t *fill = sizes; /* per rank: where its next entry goes */
        memcpy(fill, start, names * sizeof *fill);
        for (size_t i = 0; i < count; i++)
            order[fill[rank[id_of[i]]]++] = i;
        *group_ends = start;
        *group_count = names;
        start = NULL;
    }
    free(table);
    free(id_of);
    free(first);
    free(sizes);
    free(rank);
    free(start);
    return ok;
}

static int compare_keys(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts keys: insertion sort while the input is nearly sorted (a file written run after run is, but for a
 * few wide IoVs), qsort once that has cost more than a few moves per key. */
static void sort_keys(int64_t *keys, size_t n)
{
    size_t budget = 8 * n + 64;
    for (size_t i = 1; i < n; i++) {
        int64_t k = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] > k && budget > 0) {
            keys[j] = keys[j - 1];
            j--;
            budget--;
        }
        keys[j] = k;
        if (budget == 0) {
            qsort(keys, n, sizeof *keys, compare_keys);
            return;
        }
    }
}

static size_t lower_bound(const int64_t *points, size_t n, int64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (points[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t next_unpainted(size_t *next, size_t j)
{
    while (next[j] != j) {
        next[j] = next[next[j]];
        j = next[j];
    }
    return j;
}

/* Builds the segments of the entries order[0..n) (one name, in line order). */
static bool build_name(build_scratch *s, const size_t *order, size_t n, name_segments *ns)
{
    size_t m = 0;
    for (size_t t = 0; t < n; t++) {
        int64_t lo, hi;
        caf_iov_key_range(s->entries[order[t]].iov, &lo, &hi);
        s->points[m++] = lo;
        s->points[m++] = hi + 1; /* the highest key + 1 still fits in int64_t */
    }
    sort_keys(s->points, m);
    size_t unique = 0;
    for (size_t i = 0; i < m; i++)
        if (unique == 0 || s->points[i] != s->points[unique - 1])
            s->points[unique++] = s->points[i];
    m = unique;
    for (size_t j = 0; j < m; j++) {
        s->owner[j] = SIZE_MAX;
        s->next[j] = j;
    }
    for (size_t t = n; t-- > 0;) {
        int64_t lo, hi;
        caf_iov_key_range(s->entries[order[t]].iov, &lo, &hi);
        size_t a = lower_bound(s->points, m, lo), b = lower_bound(s->points, m, hi + 1);
        for (size_t j = next_unpainted(s->next, a); j < b; j = next_unpainted(s->next, j)) {
            s->owner[j] = order[t];
            s->next[j] = j + 1; /* j < b <= m - 1: the last point starts no interval and is never painted */
        }
    }
    for (size_t j = 0; j + 1 < m; j++) {
        if (s->owner[j] == SIZE_MAX)
            continue;
        localdb_segment *last = ns->count ? &ns->segments[ns->count - 1] : NULL;
        if (last && last->entry == s->owner[j] && last->hi + 1 == s->points[j]) {
            last->hi = s->points[j + 1] - 1;
            continue;
        }
        if (!reserve_segments(ns, 1))
            return false;
        ns->segments[ns->count++] = (localdb_segment){s->points[j], s->points[j + 1] - 1, s->owner[j]};
    }
    return true;
}

caf_status localdb_index_build(const caf_db_entry *entries, size_t count, localdb_index **out, caf_error *err)
{
    *out = NULL;
    localdb_index *index = calloc(1, sizeof *index);
    build_scratch s = {.entries = entries};
    size_t n = count ? count : 1;
    s.order = malloc(n * sizeof *s.order);
    s.points = malloc(2 * n * sizeof *s.points);
    s.owner = malloc(2 * n * sizeof *s.owner);
    s.next = malloc(2 * n * sizeof *s.next);
    size_t *ends = NULL, names = 0;
    bool ok = index && s.order && s.points && s.owner && s.next &&
              group_by_name(index, entries, count, s.order, &ends, &names);
    for (size_t k = 0; ok && k < names; k++)
        ok = build_name(&s, s.order + ends[k], ends[k + 1] - ends[k], &index->names[k]);
    free(ends);
    free(s.order);
    free(s.points);
    free(s.owner);
    free(s.next);
    if (!ok) {
        localdb_index_free(index);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory indexing %zu database lines", count);
    }
    *out = index;
    return CAF_OK;
}

/* ---- lines appended later ---- */

/* The first segment whose high end is >= key. */
static size_t first_reaching(const name_segments *ns, int64_t key)
{
    size_t lo = 0, hi = ns->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ns->segments[mid].hi < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

caf_status localdb_index_append(localdb_index *index, const caf_db_entry *entries, size_t entry, caf_error *err)
{
    name_segments *ns = name_slot(index, entries[entry].name);
    if (!ns || !reserve_segments(ns, 3))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory indexing a database line");
    int64_t lo, hi;
    caf_iov_key_range(entries[entry].iov, &lo, &hi);
    /* segments [first, end) meet [lo, hi]; the new line replaces them where it reaches */
    size_t first = first_reaching(ns, lo), end = first;
    while (end < ns->count && ns->segments[end].lo <= hi)
        end++;
    localdb_segment pieces[3];
    size_t n = 0;
    if (first < end && ns->segments[first].lo < lo)
        pieces[n++] = (localdb_segment){ns->segments[first].lo, lo - 1, ns->segments[first].entry};
    pieces[n++] = (localdb_segment){lo, hi, entry};
    if (first < end && ns->segments[end - 1].hi > hi)
        pieces[n++] = (localdb_segment){hi + 1, ns->segments[end - 1].hi, ns->segments[end - 1].entry};
    memmove(&ns->segments[first + n], &ns->segments[end], (ns->count - end) * sizeof *ns->segments);
    memcpy(&ns->segments[first], pieces, n * sizeof *pieces);
    ns->count = ns->count - (end - first) + n;
    return CAF_OK;
}

/* ---- lookups ---- */

size_t localdb_index_find(const localdb_index *index, const char *name, caf_exprun r)
{
    int64_t key = caf_exprun_key(r);
    if (!index || key < 0)
        return SIZE_MAX;
    bool found;
    size_t at = name_position(index, name, &found);
    if (!found)
        return SIZE_MAX;
    const name_segments *ns = &index->names[at];
    size_t i = first_reaching(ns, key);
    return i < ns->count && ns->segments[i].lo <= key ? ns->segments[i].entry : SIZE_MAX;
}
