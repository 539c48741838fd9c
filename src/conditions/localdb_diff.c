/* `caf db diff`: where two local databases give different payloads. Per name, every line's IoV cuts the
 * run line (as integer keys, caf_iov_key_range) into stretches over which neither database's answer can
 * change; each database's lines are then painted onto the stretches in file order, so the last matching
 * line wins as in caf_localdb_find, in time linear in what the lines cover. Stretches whose answers differ
 * (by the payload files' bytes) are reported, neighbours with the same pair of lines joined; JSON payloads
 * are compared value by value. */
#include "caf/localdb_diff.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/localdb.h"

typedef struct side {
    caf_localdb *db;
    long *owner; /* per stretch: index of the line that answers, -1 for none */
} side;

static int compare_keys(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first key of every stretch for name: 0, each line's first key, the key after each line's last. */
static caf_status stretch_starts(const side *sides, const char *name, int64_t **out, size_t *count, caf_error *err)
{
    size_t cap = 1;
    for (int s = 0; s < 2; s++)
        cap += 2 * caf_localdb_entry_count(sides[s].db);
    int64_t *keys = malloc(cap * sizeof *keys);
    if (!keys)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    keys[n++] = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < caf_localdb_entry_count(sides[s].db); i++) {
            const caf_db_entry *e = caf_localdb_entry(sides[s].db, i);
            if (strcmp(e->name, name) != 0 || caf_iov_is_empty(e->iov))
                continue;
            int64_t first, last;
            caf_iov_key_range(e->iov, &first, &last);
            keys[n++] = first;
            if (last < caf_iov_key_max())
                keys[n++] = last + 1;
        }
    qsort(keys, n, sizeof *keys, compare_keys);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (unique == 0 || keys[i] != keys[unique - 1])
            keys[unique++] = keys[i];
    *out = keys;
    *count = unique;
    return CAF_OK;
}

/* The index of the stretch holding key (starts sorted, starts[0] == 0). */
static size_t stretch_of(const int64_t *starts, size_t count, int64_t key)
{
    size_t lo = 0, hi = count; /* starts[lo] <= key < starts[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= key)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Paints each line of name onto the stretches it covers, in file order: the last line wins. */
static caf_status paint(side *s, const char *name, const int64_t *starts, size_t count, caf_error *err)
{
    if (!(s->owner = malloc(count * sizeof *s->owner)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < count; k++)
        s->owner[k] = -1;
    for (size_t i = 0; i < caf_localdb_entry_count(s->db); i++) {
        const caf_db_entry *e = caf_localdb_entry(s->db, i);
        if (strcmp(e->name, name) != 0 || caf_iov_is_empty(e->iov))
            continue;
        int64_t first, last;
        caf_iov_key_range(e->iov, &first, &last);
        for (size_t k = stretch_of(starts, count, first); k < count && starts[k] <= last; k++)
            s->owner[k] = (long)i;
    }
    return CAF_OK;
}

static bool has_suffix(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* The differing values of two JSON payloads, appended to list as {key, a, b, relative}. */
static void diff_values(const json_t *a, const json_t *b, const char *key, json_t *list)
{
    if (json_is_object(a) && json_is_object(b)) {
        size_t n = 0, cap = json_object_size(a) + json_object_size(b);
        const char **keys = malloc((cap ? cap : 1) * sizeof *keys);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
            keys[n++] = k;
        json_object_foreach((json_t *)b, k, v)
            if (!json_object_get(a, k))
                keys[n++] = k;
        for (size_t i = 0; keys && i < n; i++) {
            char *child = NULL;
            if (asprintf(&child, "%s%s%s", key, *key ? "." : "", keys[i]) >= 0)
                diff_values(json_object_get(a, keys[i]), json_object_get(b, keys[i]), child, list);
            free(child);
        }
        free(keys);
        return;
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t n = json_array_size(a) > json_array_size(b) ? json_array_size(a) : json_array_size(b);
        for (size_t i = 0; i < n; i++) {
            char *child = NULL;
            if (asprintf(&child, "%s[%zu]", key, i) >= 0)
                diff_values(json_array_get(a, i), json_array_get(b, i), child, list);
            free(child);
        }
        return;
    }
    bool numbers = json_is_number(a) && json_is_number(b);
    if (numbers ? json_number_value(a) == json_number_value(b) : (a && b && json_equal((json_t *)a, (json_t *)b)))
        return;
    double x = numbers ? json_number_value(a) : 0, y = numbers ? json_number_value(b) : 0;
    json_array_append_new(list, json_pack("{s:s, s:O, s:O, s:o}", "key", *key ? key : "(the payload)", "a",
                                          a ? a : json_null(), "b", b ? b : json_null(), "relative",
                                          numbers && x != 0 ? json_real((y - x) / fabs(x)) : json_null()));
}

/* Whether lines ea of A and eb of B name payload files with the same bytes; *values gets the differing
 * values when both are JSON and differ (NULL otherwise). */
static caf_status compare_payloads(const side *sides, const caf_db_entry *ea, const caf_db_entry *eb, bool *same,
                                   json_t **values, caf_error *err)
{
    *values = NULL;
    /* hash revisions are prefixes of the files' MD5s: differing digits prove different bytes */
    size_t la = strlen(ea->revision), lb = strlen(eb->revision), common = la < lb ? la : lb;
    if (caf_db_revision_is_hash(ea->revision) && caf_db_revision_is_hash(eb->revision) &&
        strncasecmp(ea->revision, eb->revision, common) != 0)
        *same = false;
    else
        *same = true; /* to be read */
    char *pa = caf_localdb_payload_path(sides[0].db, ea, err);
    char *pb = pa ? caf_localdb_payload_path(sides[1].db, eb, err) : NULL;
    char *da = NULL, *db = NULL;
    size_t sa = 0, sb = 0;
    caf_status rc = pa && pb ? CAF_OK : err ? err->code : CAF_ERR_NOT_FOUND;
    if (rc == CAF_OK && (*same || (has_suffix(pa, ".json") && has_suffix(pb, ".json"))) &&
        (rc = caf_file_read(pa, &da, &sa, err)) == CAF_OK && (rc = caf_file_read(pb, &db, &sb, err)) == CAF_OK)
        *same = sa == sb && memcmp(da, db, sa) == 0;
    if (rc == CAF_OK && !*same && da && db && has_suffix(pa, ".json") && has_suffix(pb, ".json")) {
        json_t *ja = json_loadb(da, sa, 0, NULL), *jb = json_loadb(db, sb, 0, NULL);
        if (ja && jb) {
            *values = json_array();
            diff_values(ja, jb, "", *values);
        }
        json_decref(ja);
        json_decref(jb);
    }
    free(pa), free(pb), free(da), free(db);
    return rc;
}

static json_t *line_json(const side *s, long owner)
{
    if (owner < 0)
        return json_null();
    const caf_db_entry *e = caf_localdb_entry(s->db, (size_t)owner);
    return json_pack("{s:s, s:o, s:i}", "revision", e->revision, "iov", caf_json_iov(e->iov), "line", e->line);
}

/* Every stretch where the answers for name differ, neighbours with the same pair of lines joined. */
static caf_status diff_name(side *sides, const char *name, json_t **out, caf_error *err)
{
    int64_t *starts = NULL;
    size_t count = 0;
    caf_status rc = stretch_starts(sides, name, &starts, &count, err);
    for (int s = 0; rc == CAF_OK && s < 2; s++)
        rc = paint(&sides[s], name, starts, count, err);
    json_t *diffs = json_array();
    json_t *open = NULL; /* the stretch being extended */
    long last_a = -2, last_b = -2;
    bool last_same = true;
    json_t *last_values = NULL;
    for (size_t k = 0; rc == CAF_OK && k < count; k++) {
        long a = sides[0].owner[k], b = sides[1].owner[k];
        int64_t end = k + 1 < count ? starts[k + 1] - 1 : caf_iov_key_max();
        if (a != last_a || b != last_b) { /* another pair of lines: compare them */
            json_decref(last_values);
            last_values = NULL;
            last_same = a < 0 && b < 0;
            if (a >= 0 && b >= 0)
                rc = compare_payloads(sides, caf_localdb_entry(sides[0].db, (size_t)a),
                                      caf_localdb_entry(sides[1].db, (size_t)b), &last_same, &last_values, err);
            if (open) {
                json_array_append_new(diffs, open);
                open = NULL;
            }
            last_a = a, last_b = b;
            if (rc != CAF_OK || last_same)
                continue;
            open = json_pack("{s:o, s:o, s:o}", "iov", caf_json_iov(caf_iov_of_key_range(starts[k], end)), "a",
                             line_json(&sides[0], a), "b", line_json(&sides[1], b));
            if (last_values)
                json_object_set(open, "values", last_values);
        } else if (open) {
            caf_iov grown = caf_iov_of_key_range(0, end);
            json_t *iov = json_object_get(open, "iov");
            json_array_set_new(iov, 2, json_integer(grown.exp_high));
            json_array_set_new(iov, 3, json_integer(grown.run_high));
        }
    }
    if (open)
        json_array_append_new(diffs, open);
    json_decref(last_values);
    free(starts);
    for (int s = 0; s < 2; s++) {
        free(sides[s].owner);
        sides[s].owner = NULL;
    }
    if (rc != CAF_OK) {
        json_decref(diffs);
        return rc;
    }
    *out = json_pack("{s:s, s:b, s:o}", "name", name, "differ", json_array_size(diffs) > 0, "differences", diffs);
    return *out ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every payload name either database holds, sorted, without duplicates (borrowed from the databases). */
static const char **all_names(const side *sides, size_t *count)
{
    size_t n = 0, cap = caf_localdb_entry_count(sides[0].db) + caf_localdb_entry_count(sides[1].db);
    const char **names = malloc((cap ? cap : 1) * sizeof *names);
    for (int s = 0; names && s < 2; s++)
        for (size_t i = 0; i < caf_localdb_entry_count(sides[s].db); i++)
            names[n++] = caf_localdb_entry(sides[s].db, i)->name;
    if (names)
        qsort(names, n, sizeof *names, compare_strings);
    size_t unique = 0;
    for (size_t i = 0; names && i < n; i++)
        if (unique == 0 || strcmp(names[i], names[unique - 1]) != 0)
            names[unique++] = names[i];
    *count = unique;
    return names;
}

static bool holds(const caf_localdb *db, const char *name)
{
    for (size_t i = 0; i < caf_localdb_entry_count(db); i++)
        if (!strcmp(caf_localdb_entry(db, i)->name, name))
            return true;
    return false;
}

caf_status caf_localdb_diff(const char *a, const char *b, const char *const *names, size_t count, json_t **out,
                            caf_error *err)
{
    *out = NULL;
    side sides[2] = {{0}};
    caf_status rc = caf_localdb_open(a, 0, &sides[0].db, err);
    if (rc == CAF_OK)
        rc = caf_localdb_open(b, 0, &sides[1].db, err);
    const char **every = NULL;
    if (rc == CAF_OK && count == 0) {
        if (!(every = all_names(sides, &count)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        names = every;
    }
    for (size_t i = 0; rc == CAF_OK && i < count; i++)
        if ((rc = caf_payload_name_check(names[i], err)) == CAF_OK && !holds(sides[0].db, names[i]) &&
            !holds(sides[1].db, names[i]))
            rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "no payload %s in %s or %s", names[i], a, b);
    json_t *list = json_array();
    bool differ = false;
    for (size_t i = 0; rc == CAF_OK && i < count; i++) {
        json_t *one = NULL;
        if ((rc = diff_name(sides, names[i], &one, err)) == CAF_OK) {
            differ = differ || json_is_true(json_object_get(one, "differ"));
            json_array_append_new(list, one);
        }
    }
    if (rc == CAF_OK && !(*out = json_pack("{s:s, s:s, s:b, s:O}", "a", a, "b", b, "differ", differ, "names", list)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    json_decref(list);
    free(every);
    caf_localdb_close(sides[0].db);
    caf_localdb_close(sides[1].db);
    return rc;
}

static void print_side(FILE *out, const json_t *line, const char *missing)
{
    if (json_is_null(line)) {
        fputs(missing, out);
        return;
    }
    const json_t *iov = json_object_get(line, "iov");
    fprintf(out, "rev %s (line %lld, IoV %lld,%lld,%lld,%lld)", json_string_value(json_object_get(line, "revision")),
            (long long)json_integer_value(json_object_get(line, "line")),
            (long long)json_integer_value(json_array_get(iov, 0)), (long long)json_integer_value(json_array_get(iov, 1)),
            (long long)json_integer_value(json_array_get(iov, 2)), (long long)json_integer_value(json_array_get(iov, 3)));
}

static void print_value(FILE *out, const json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(10));
    fputs(text ? text : "?", out);
    free(text);
}

void caf_localdb_diff_print(FILE *out, const json_t *diff, size_t max_values)
{
    fprintf(out, "A: %s\nB: %s\n", json_string_value(json_object_get(diff, "a")),
            json_string_value(json_object_get(diff, "b")));
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(diff, "names"), i, name) {
        const json_t *diffs = json_object_get(name, "differences");
        if (json_array_size(diffs) == 0) {
            fprintf(out, "%s: same\n", json_string_value(json_object_get(name, "name")));
            continue;
        }
        fprintf(out, "%s: differs on %zu stretch%s of runs\n", json_string_value(json_object_get(name, "name")),
                json_array_size(diffs), json_array_size(diffs) == 1 ? "" : "es");
        size_t k;
        json_t *d;
        json_array_foreach(diffs, k, d) {
            const json_t *iov = json_object_get(d, "iov");
            fprintf(out, "  runs %lld,%lld,%lld,%lld: A ", (long long)json_integer_value(json_array_get(iov, 0)),
                    (long long)json_integer_value(json_array_get(iov, 1)),
                    (long long)json_integer_value(json_array_get(iov, 2)),
                    (long long)json_integer_value(json_array_get(iov, 3)));
            print_side(out, json_object_get(d, "a"), "has none");
            fputs(", B ", out);
            print_side(out, json_object_get(d, "b"), "has none");
            fputs("\n", out);
            size_t v;
            json_t *value;
            const json_t *values = json_object_get(d, "values");
            json_array_foreach(values, v, value) {
                if (max_values && v == max_values) {
                    fprintf(out, "    ... %zu more values differ (--json lists them all)\n", json_array_size(values) - v);
                    break;
                }
                fprintf(out, "    %s: ", json_string_value(json_object_get(value, "key")));
                print_value(out, json_object_get(value, "a"));
                fputs(" -> ", out);
                print_value(out, json_object_get(value, "b"));
                const json_t *rel = json_object_get(value, "relative");
                if (json_is_number(rel))
                    fprintf(out, " (%+.3g%%)", 100.0 * json_number_value(rel));
                fputs("\n", out);
            }
        }
    }
}
