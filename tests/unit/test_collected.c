/* Collected objects: every type's fill, merge, write and read round trip, shape checks and bad bytes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caf/collected.h"

/* Writes obj to bytes and reads it back. */
static caf_object *round_trip(const caf_object *obj)
{
    void *data;
    size_t size;
    caf_error err = {0};
    assert_int_equal(caf_object_to_bytes(obj, &data, &size, &err), CAF_OK);
    caf_object *back = NULL;
    assert_int_equal(caf_object_from_bytes(data, size, &back, &err), CAF_OK);
    free(data);
    assert_string_equal(caf_object_type_name(back), caf_object_type_name(obj));
    assert_string_equal(caf_object_title(back), caf_object_title(obj));
    return back;
}

static void test_hist1d(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h, *a, *b;
    assert_int_equal(caf_hist1d_new("peak", 10, 0, 100, &h, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(h, &a, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(h, &b, &err), CAF_OK);
    caf_hist1d_fill(a, 5, 1);     /* bin 1 */
    caf_hist1d_fill(a, 15, 2);    /* bin 2 */
    caf_hist1d_fill(a, -1, 1);    /* underflow */
    caf_hist1d_fill(b, 99.9, 3);  /* bin 10 */
    caf_hist1d_fill(b, 100, 0.5); /* overflow: the upper edge is excluded */
    caf_hist1d_fill(b, 15, 1);
    caf_hist1d_fill(b, NAN, 1); /* counted, nowhere */
    assert_int_equal(caf_hist1d_find_bin(h, 99.999999), 10);
    const caf_object *list[] = {a, b};
    assert_int_equal(caf_object_merge(h, list, 2, &err), CAF_OK);
    assert_int_equal(caf_hist1d_entries(h), 7);
    assert_true(caf_hist1d_content(h, 0) == 1);
    assert_true(caf_hist1d_content(h, 1) == 1);
    assert_true(caf_hist1d_content(h, 2) == 3);
    assert_true(caf_hist1d_sumw2(h, 2) == 5);
    assert_true(caf_hist1d_content(h, 10) == 3);
    assert_true(caf_hist1d_content(h, 11) == 0.5);
    assert_true(caf_hist1d_integral(h) == 7);
    double mean = (5 * 1 + 15 * 2 + 99.9 * 3 + 15 * 1) / 7.0;
    assert_true(fabs(caf_hist1d_mean(h) - mean) < 1e-12);
    caf_object *back = round_trip(h);
    for (int i = 0; i <= 11; i++) {
        assert_true(caf_hist1d_content(back, i) == caf_hist1d_content(h, i));
        assert_true(caf_hist1d_sumw2(back, i) == caf_hist1d_sumw2(h, i));
    }
    assert_int_equal(caf_hist1d_entries(back), 7);
    assert_true(caf_hist1d_mean(back) == caf_hist1d_mean(h));
    assert_true(caf_hist1d_stddev(back) == caf_hist1d_stddev(h));
    /* a different binning cannot be merged, and nothing is merged */
    caf_object *other;
    assert_int_equal(caf_hist1d_new("peak", 20, 0, 100, &other, &err), CAF_OK);
    caf_hist1d_fill(other, 1, 1);
    const caf_object *bad[] = {a, other};
    assert_int_equal(caf_object_merge(back, bad, 2, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "object 2 of 2"));
    assert_non_null(strstr(err.message, "20 bins"));
    assert_int_equal(caf_hist1d_entries(back), 7);
    /* a counter is not a histogram */
    caf_object *counter;
    assert_int_equal(caf_counter_new(NULL, &counter, &err), CAF_OK);
    assert_false(caf_object_compatible(h, counter, &err));
    assert_non_null(strstr(err.message, "hist1d vs counter"));
    caf_object_free(counter);
    caf_object_free(other);
    assert_int_equal(caf_hist1d_new("x", 0, 0, 1, &other, &err), CAF_ERR_INVALID);
    caf_object_reset(back);
    assert_true(caf_object_is_empty(back));
    assert_true(caf_hist1d_content(back, 2) == 0);
    caf_object_free(back);
    caf_object_free(h);
    caf_object_free(a);
    caf_object_free(b);
    caf_object *bad_axis = NULL;
    assert_int_equal(caf_hist1d_new("x", 10, 5, 5, &bad_axis, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "[5, 5)"));
    assert_null(bad_axis);
}

/* The bulk fill gives what one fill per value gives, edges, under/overflow and NaN included. */
static void test_hist1d_fill_floats(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *one, *bulk;
    assert_int_equal(caf_hist1d_new("x", 37, -2, 5, &one, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(one, &bulk, &err), CAF_OK);
    enum { N = 20011 };
    float *x = malloc(N * sizeof *x);
    uint64_t r = 12345;
    for (size_t i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 9.0 - 3.0); /* [-3, 6) */
        if (i % 101 == 0)
            x[i] = NAN;
        if (i % 103 == 0)
            x[i] = 5.0f; /* the upper edge: overflow */
        if (i % 107 == 0)
            x[i] = -2.0f; /* the lower edge: bin 1 */
    }
    for (size_t i = 0; i < N; i++)
        caf_hist1d_fill(one, x[i], 0.5);
    caf_hist1d_fill_floats(bulk, x, 7, 0.5); /* a short stretch, then the rest */
    caf_hist1d_fill_floats(bulk, x + 7, N - 7, 0.5);
    assert_int_equal(caf_hist1d_entries(bulk), caf_hist1d_entries(one));
    for (int b = 0; b <= 38; b++) {
        assert_true(caf_hist1d_content(bulk, b) == caf_hist1d_content(one, b));
        assert_true(caf_hist1d_sumw2(bulk, b) == caf_hist1d_sumw2(one, b));
    }
    assert_true(caf_hist1d_content(bulk, 38) > 0 && caf_hist1d_content(bulk, 0) > 0);
    assert_true(fabs(caf_hist1d_mean(bulk) - caf_hist1d_mean(one)) < 1e-9);
    assert_true(fabs(caf_hist1d_stddev(bulk) - caf_hist1d_stddev(one)) < 1e-9);
    free(x);
    caf_object_free(one);
    caf_object_free(bulk);
}

static void test_hist2d(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h, *a;
    assert_int_equal(caf_hist2d_new("map", 4, 0, 4, 3, -1.5, 1.5, &h, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(h, &a, &err), CAF_OK);
    caf_hist2d_fill(h, 0.5, 0, 1);  /* (1, 2) */
    caf_hist2d_fill(h, 3.5, 2, 2);  /* (4, overflow 4) */
    caf_hist2d_fill(a, -1, -2, 1);  /* (0, 0) */
    caf_hist2d_fill(a, 0.5, 0, 3);  /* (1, 2) */
    const caf_object *list[] = {a};
    assert_int_equal(caf_object_merge(h, list, 1, &err), CAF_OK);
    caf_object *back = round_trip(h);
    assert_true(caf_hist2d_content(back, 1, 2) == 4);
    assert_true(caf_hist2d_sumw2(back, 1, 2) == 10);
    assert_true(caf_hist2d_content(back, 4, 4) == 2);
    assert_true(caf_hist2d_content(back, 0, 0) == 1);
    assert_true(caf_hist2d_content(back, 9, 0) == 0);
    assert_int_equal(caf_hist2d_entries(back), 4);
    assert_int_equal(caf_hist2d_nx(back), 4);
    assert_int_equal(caf_hist2d_ny(back), 3);
    assert_true(caf_hist2d_ylow(back) == -1.5 && caf_hist2d_yhigh(back) == 1.5);
    caf_object *other;
    assert_int_equal(caf_hist2d_new("map", 4, 0, 4, 3, -1.5, 2, &other, &err), CAF_OK);
    assert_false(caf_object_compatible(h, other, &err));
    assert_non_null(strstr(err.message, "y axis"));
    caf_object_free(other);
    caf_object_free(back);
    caf_object_free(a);
    caf_object_free(h);
}

static void test_profile(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *p, *a;
    assert_int_equal(caf_profile_new("gain", 2, 0, 2, &p, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(p, &a, &err), CAF_OK);
    caf_profile_fill(p, 0.5, 10, 1);
    caf_profile_fill(p, 0.5, 14, 1);
    caf_profile_fill(a, 0.5, 12, 2);
    caf_profile_fill(a, 1.5, 7, 1);
    const caf_object *list[] = {a};
    assert_int_equal(caf_object_merge(p, list, 1, &err), CAF_OK);
    caf_object *back = round_trip(p);
    assert_true(caf_profile_sumw(back, 1) == 4);
    assert_true(fabs(caf_profile_mean(back, 1) - 12.0) < 1e-12);
    /* weighted variance (100 + 196 + 2*144)/4 - 144 = 2; neff = 16/6 */
    assert_true(fabs(caf_profile_error(back, 1) - sqrt(2.0 / (16.0 / 6.0))) < 1e-12);
    assert_true(caf_profile_mean(back, 2) == 7);
    assert_true(caf_profile_error(back, 2) == 0);
    assert_int_equal(caf_profile_entries(back), 4);
    caf_object_free(back);
    caf_object_free(a);
    caf_object_free(p);
}

static void test_counter(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *c, *parts[3];
    assert_int_equal(caf_counter_new("events", &c, &err), CAF_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(caf_object_clone_empty(c, &parts[i], &err), CAF_OK);
        caf_counter_add(parts[i], i + 1, 0.5 * (i + 1));
    }
    assert_int_equal(caf_object_merge(c, (const caf_object *const *)parts, 3, &err), CAF_OK);
    caf_object *back = round_trip(c);
    assert_int_equal(caf_counter_count(back), 6);
    assert_true(caf_counter_sum(back) == 3.0);
    caf_object_free(back);
    for (int i = 0; i < 3; i++)
        caf_object_free(parts[i]);
    caf_object_free(c);
}

/* Chunked writing keeps the pieces; reading back from them feeds them one at a time. */
typedef struct chunks {
    void *data[64];
    size_t size[64];
    size_t n, next;
} chunks;

static caf_status sink(void *ud, const void *data, size_t size, caf_error *err)
{
    (void)err;
    chunks *c = ud;
    assert_true(c->n < 64);
    assert_true(size <= CAF_OBJECT_CHUNK_MAX + 64);
    c->data[c->n] = malloc(size);
    memcpy(c->data[c->n], data, size);
    c->size[c->n++] = size;
    return CAF_OK;
}

static caf_status source(void *ud, const void **data, size_t *size, caf_error *err)
{
    (void)err;
    chunks *c = ud;
    *data = c->next < c->n ? c->data[c->next] : NULL;
    *size = c->next < c->n ? c->size[c->next] : 0;
    c->next++;
    return CAF_OK;
}

static void test_ntuple(void **state)
{
    (void)state;
    caf_error err = {0};
    const caf_ntuple_column cols[] = {{"track", CAF_COLUMN_INT64}, {"layer", CAF_COLUMN_INT32},
                                      {"residual", CAF_COLUMN_FLOAT64}, {"dr_dx", CAF_COLUMN_FLOAT32},
                                      {"flag", CAF_COLUMN_UINT8}};
    caf_object *t, *u;
    assert_int_equal(caf_ntuple_new("alignment", cols, 5, &t, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(t, &u, &err), CAF_OK);
    /* enough rows to need several chunks: 21 bytes a row, 4 MiB per chunk */
    const size_t n = 450000;
    for (size_t i = 0; i < n; i++) {
        caf_cell row[5];
        row[0].i64 = (int64_t)i * 1000003;
        row[1].i32 = (int32_t)(i % 7) - 3;
        row[2].f64 = 0.001 * (double)i;
        row[3].f32 = (float)i * 0.5f;
        row[4].u8 = (uint8_t)(i & 0xff);
        assert_int_equal(caf_ntuple_append(i < n / 3 ? t : u, row, &err), CAF_OK);
    }
    const caf_object *list[] = {u};
    assert_int_equal(caf_object_merge(t, list, 1, &err), CAF_OK);
    assert_int_equal(caf_ntuple_rows(t), n);
    chunks c = {0};
    assert_int_equal(caf_object_write(t, sink, &c, &err), CAF_OK);
    assert_true(c.n >= 4); /* header + at least 3 row blocks */
    caf_object *back;
    assert_int_equal(caf_object_read(source, &c, &back, &err), CAF_OK);
    for (size_t i = 0; i < c.n; i++)
        free(c.data[i]);
    assert_int_equal(caf_ntuple_rows(back), n);
    assert_int_equal(caf_ntuple_ncols(back), 5);
    assert_int_equal(caf_ntuple_column_index(back, "residual"), 2);
    assert_int_equal(caf_ntuple_column_index(back, "nope"), -1);
    assert_int_equal(caf_ntuple_column_type(back, 4), CAF_COLUMN_UINT8);
    const int64_t *track = caf_ntuple_column_data(back, 0);
    const float *drdx = caf_ntuple_column_data(back, 3);
    for (size_t i = 0; i < n; i += 997) {
        assert_int_equal(track[i], (int64_t)i * 1000003);
        assert_int_equal(caf_ntuple_get_i64(back, i, 1), (int64_t)(i % 7) - 3);
        assert_true(caf_ntuple_get_f64(back, i, 2) == 0.001 * (double)i);
        assert_true(drdx[i] == (float)i * 0.5f);
        assert_int_equal(caf_ntuple_get_i64(back, i, 4), (int64_t)(i & 0xff));
    }
    /* a different column list does not merge */
    const caf_ntuple_column other_cols[] = {{"track", CAF_COLUMN_INT64}};
    caf_object *other;
    assert_int_equal(caf_ntuple_new("x", other_cols, 1, &other, &err), CAF_OK);
    assert_false(caf_object_compatible(t, other, &err));
    assert_non_null(strstr(err.message, "column count"));
    caf_object_free(other);
    const caf_ntuple_column dup[] = {{"a", CAF_COLUMN_INT64}, {"a", CAF_COLUMN_INT32}};
    assert_int_equal(caf_ntuple_new("x", dup, 2, &other, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "'a' appears twice"));
    caf_object_free(back);
    caf_object_free(u);
    caf_object_free(t);
}

/* A user type: a list of little "file names" joined with ';', merged by concatenation. */
static caf_status join_merge(caf_user_bytes *acc, const caf_user_bytes *other, void *userdata, caf_error *err)
{
    (*(int *)userdata)++;
    unsigned char *n = realloc(acc->data, acc->size + 1 + other->size);
    if (!n)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    n[acc->size] = ';';
    memcpy(n + acc->size + 1, other->data, other->size);
    acc->data = n;
    acc->size += 1 + other->size;
    return CAF_OK;
}

static void test_user_object(void **state)
{
    (void)state;
    caf_error err = {0};
    int calls = 0;
    caf_object *a, *b, *c;
    assert_int_equal(caf_user_object_new("mille.files", "side files", &a, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(a, &b, &err), CAF_OK);
    assert_int_equal(caf_object_clone_empty(a, &c, &err), CAF_OK);
    assert_int_equal(caf_user_object_set(a, "a.bin", 5, &err), CAF_OK);
    assert_int_equal(caf_user_object_set(b, "b.bin", 5, &err), CAF_OK);
    assert_int_equal(caf_user_object_append(c, "c.", 2, &err), CAF_OK);
    assert_int_equal(caf_user_object_append(c, "bin", 3, &err), CAF_OK);
    /* not registered: readable, not mergeable */
    const caf_object *list[] = {b, c};
    assert_int_equal(caf_object_merge(a, list, 2, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "'mille.files'"));
    caf_user_type type = {"mille.files", join_merge, NULL, &calls};
    assert_int_equal(caf_user_type_register(&type, &err), CAF_OK);
    assert_int_equal(caf_user_type_register(&type, &err), CAF_OK); /* the same again is fine */
    caf_user_type clash = {"mille.files", join_merge, NULL, NULL};
    assert_int_equal(caf_user_type_register(&clash, &err), CAF_ERR_EXISTS);
    caf_user_type builtin = {"hist1d", join_merge, NULL, NULL};
    assert_int_equal(caf_user_type_register(&builtin, &err), CAF_ERR_INVALID);
    assert_true(caf_user_type_registered("mille.files"));
    caf_object *back = round_trip(a);
    assert_int_equal(caf_object_merge(back, list, 2, &err), CAF_OK);
    assert_int_equal(calls, 2);
    const caf_user_bytes *bytes = caf_user_object_bytes(back);
    assert_int_equal(bytes->size, 17);
    assert_memory_equal(bytes->data, "a.bin;b.bin;c.bin", 17);
    caf_user_type_unregister("mille.files");
    assert_false(caf_user_type_registered("mille.files"));
    caf_object *other;
    assert_int_equal(caf_user_object_new("other", NULL, &other, &err), CAF_OK);
    assert_false(caf_object_compatible(a, other, &err));
    caf_object *bad = NULL;
    assert_int_equal(caf_user_object_new("bad name", NULL, &bad, &err), CAF_ERR_INVALID);
    assert_null(bad);
    caf_object_free(other);
    caf_object_free(back);
    caf_object_free(a);
    caf_object_free(b);
    caf_object_free(c);
}

static void test_bad_bytes(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h, *back = NULL;
    assert_int_equal(caf_hist1d_new("h", 100, 0, 1, &h, &err), CAF_OK);
    caf_hist1d_fill(h, 0.5, 1);
    void *data;
    size_t size;
    assert_int_equal(caf_object_to_bytes(h, &data, &size, &err), CAF_OK);
    /* truncated anywhere: a format error, never a crash */
    for (size_t cut = 0; cut < size; cut += cut < 120 ? 1 : 37) {
        caf_status st = caf_object_from_bytes(data, cut, &back, &err);
        if (cut == 0) {
            assert_int_equal(st, CAF_ERR_FORMAT);
            continue;
        }
        assert_int_equal(st, CAF_ERR_FORMAT);
        assert_null(back);
    }
    ((unsigned char *)data)[8] = 'X'; /* the magic */
    assert_int_equal(caf_object_from_bytes(data, size, &back, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "magic"));
    free(data);
    caf_object_free(h);
}

/* Counts are exact: a sum that leaves int64 is an error naming the counter, never a wrapped value
 * (issue 12: merging a stored count of 2^63 with itself was a signed overflow). */
static void test_counter_overflow(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *a, *b;
    assert_int_equal(caf_counter_new("events", &a, &err), CAF_OK);
    assert_int_equal(caf_counter_new("", &b, &err), CAF_OK);
    assert_true(caf_counter_add(a, INT64_MAX, 1.0));
    assert_true(caf_counter_add(b, 1, 1.0));
    const caf_object *list[1] = {b};
    assert_int_equal(caf_object_merge(a, list, 1, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "counter 'events': count 9223372036854775807 + 1 overflows 64 bits"));
    assert_int_equal(caf_counter_count(a), INT64_MAX); /* unchanged by the failed merge */
    /* the same through caf_counter_add: false, and the overflowed counter can be neither written nor merged */
    assert_false(caf_counter_add(a, 1, 1.0));
    assert_int_equal(caf_counter_count(a), INT64_MAX);
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(caf_object_to_bytes(a, &data, &size, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "counter 'events'"));
    assert_true(caf_counter_add(b, INT64_MIN + 1, 0)); /* b = INT64_MIN + 2 */
    assert_false(caf_counter_add(b, -3, 0));
    assert_int_equal(caf_counter_count(b), INT64_MIN);
    list[0] = a;
    caf_object *c;
    assert_int_equal(caf_counter_new("c", &c, &err), CAF_OK);
    assert_int_equal(caf_object_merge(c, list, 1, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "overflows 64 bits"));
    caf_object_reset(a); /* a reset counter counts again */
    assert_true(caf_counter_add(a, 2, 0));
    assert_int_equal(caf_object_merge(c, list, 1, &err), CAF_OK);
    assert_int_equal(caf_counter_count(c), 2);
    caf_object_free(a);
    caf_object_free(b);
    caf_object_free(c);
}

/* Histogram entry counts from a file are added with the same check. */
static void test_hist_entries_overflow(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h, *big = NULL;
    assert_int_equal(caf_hist1d_new("amp", 4, 0, 4, &h, &err), CAF_OK);
    caf_hist1d_fill(h, 1.5, 1);
    unsigned char *data;
    size_t size;
    assert_int_equal(caf_object_to_bytes(h, (void **)&data, &size, &err), CAF_OK);
    /* single-buffer form: u64 header length, header, u64 content length, content (entries first) */
    uint64_t header = 0;
    for (int i = 0; i < 8; i++)
        header |= (uint64_t)data[i] << (8 * i);
    unsigned char *entries = data + 8 + header + 8;
    for (int i = 0; i < 8; i++)
        entries[i] = i < 7 ? 0xff : 0x7f;
    assert_int_equal(caf_object_from_bytes(data, size, &big, &err), CAF_OK);
    assert_int_equal(caf_hist1d_entries(big), INT64_MAX);
    const caf_object *list[1] = {h};
    assert_int_equal(caf_object_merge(big, list, 1, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "hist1d 'amp': 9223372036854775807 + 1 entries overflow 64 bits"));
    free(data);
    caf_object_free(big);
    caf_object_free(h);
}

/* A stored shape alone is no reason to allocate: the content must arrive with the size the shape needs. */
static void test_huge_stored_shape(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h, *back = NULL;
    assert_int_equal(caf_hist2d_new("h", 3, 0, 3, 2, 0, 2, &h, &err), CAF_OK);
    unsigned char *data;
    size_t size;
    assert_int_equal(caf_object_to_bytes(h, (void **)&data, &size, &err), CAF_OK);
    /* nx sits after magic, version, kind and the two strings "hist2d" and "h": 8 + 12 + 10 + 5 */
    unsigned char *nx = data + 8 + 12 + 4 + 6 + 4 + 1;
    assert_int_equal(nx[0], 3);
    nx[0] = 0x7e, nx[1] = 0xf0, nx[2] = 0xfa, nx[3] = 0x02; /* 49,999,998 x 2 bins: 2e8 cells, 3.2 GB */
    assert_int_equal(caf_object_from_bytes(data, size, &back, &err), CAF_ERR_FORMAT);
    assert_null(back);
    assert_non_null(strstr(err.message, "hist2d content has 368 bytes, not the 3200000048 that 200000000 bins need"));
    free(data);
    caf_object_free(h);
}

/* An ntuple row block of 0 rows (never written by caf, but well-formed) reads as nothing; it used to
 * add an offset to the NULL column buffer of the empty ntuple (clang UBSan). The input is the
 * reproducer kept in tests/data/reproducers/. */
static void test_ntuple_zero_row_block(void **state)
{
    (void)state;
    const char *source = getenv("CAF_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/reproducers/ubsan-ntuple-zero-row-block/object.bin", source ? source : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char data[256];
    size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    caf_error err = {0};
    caf_object *t = NULL;
    assert_int_equal(caf_object_from_bytes(data, size, &t, &err), CAF_OK);
    assert_int_equal(caf_ntuple_rows(t), 0);
    assert_string_equal(caf_ntuple_column_name(t, 0), "channel");
    caf_cell row[1] = {{.i32 = 7}};
    assert_int_equal(caf_ntuple_append(t, row, &err), CAF_OK);
    assert_int_equal(caf_ntuple_get_i64(t, 0, 0), 7);
    caf_object_free(t);
    /* a 0-row block with bytes after its count is malformed */
    unsigned char longer[257];
    memcpy(longer, data, size);
    longer[size - 16] = 9; /* the block's length prefix: 8 -> 9 */
    longer[size] = 0;
    assert_int_equal(caf_object_from_bytes(longer, size + 1, &t, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "holds 0 rows"));
}

static void test_print(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_object *h;
    assert_int_equal(caf_hist1d_new("amp", 4, 0, 4, &h, &err), CAF_OK);
    caf_hist1d_fill(h, 2.5, 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(caf_object_print(h, f, 0, &err), CAF_OK);
    fclose(f);
    assert_non_null(strstr(text, "hist1d \"amp\": 4 bins [0, 4), 1 entries"));
    assert_non_null(strstr(text, "bin 3"));
    free(text);
    json_t *j = caf_object_to_json(h, 0);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "hist1d");
    assert_true(json_real_value(json_array_get(json_object_get(j, "sumw"), 3)) == 2);
    json_decref(j);
    caf_object_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist1d),   cmocka_unit_test(test_hist1d_fill_floats), cmocka_unit_test(test_hist2d),      cmocka_unit_test(test_profile),
        cmocka_unit_test(test_counter),  cmocka_unit_test(test_ntuple),      cmocka_unit_test(test_user_object),
        cmocka_unit_test(test_bad_bytes), cmocka_unit_test(test_print),
        cmocka_unit_test(test_counter_overflow), cmocka_unit_test(test_hist_entries_overflow),
        cmocka_unit_test(test_huge_stored_shape), cmocka_unit_test(test_ntuple_zero_row_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
