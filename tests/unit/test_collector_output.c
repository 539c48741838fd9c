/* Collector output files without the engine: every object type through a real SQLite file, pieces of a
 * key merged on reading, merging 150 outputs (also with a tiny memory budget, which writes several
 * pieces per key), reading across files, and files that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/collector_output.h"
#include "caf/file.h"
#include "test_support.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = test_make_temp_dir("collector-output");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_remove_tree(dir);
    free(dir);
    return 0;
}

static char *path_of(const char *name)
{
    return caf_path_join(dir, name);
}

/* Writes output `name` of collector `collector` holding, for each run r in 1..runs (exp 1), a counter
 * with count seed*1000 + r and a histogram with seed entries at r; returns its path. */
static char *write_output(const char *name, const char *collector, caf_granularity g, int seed, int runs)
{
    char *path = path_of(name);
    caf_error err = {0};
    json_t *params = json_pack("{s:i}", "seed", seed);
    caf_collector_info info = {collector, "Writer", g, params};
    caf_collector_writer *w;
    assert_int_equal(caf_collector_writer_open(path, &info, &w, &err), CAF_OK);
    json_decref(params);
    caf_object *c, *h;
    assert_int_equal(caf_counter_new("n", &c, &err), CAF_OK);
    assert_int_equal(caf_hist1d_new("r", 200, 0, 200, &h, &err), CAF_OK);
    assert_int_equal(caf_collector_writer_declare(w, "unused", h, &err), CAF_OK);
    for (int r = 1; r <= runs; r++) {
        caf_object_reset(c);
        caf_object_reset(h);
        caf_counter_add(c, seed * 1000 + r, 1.0);
        for (int k = 0; k < seed; k++)
            caf_hist1d_fill(h, r + 0.5, 1.0);
        caf_exprun key = g == CAF_GRANULARITY_ALL ? CAF_EXPRUN_ALL : (caf_exprun){1, r};
        assert_int_equal(caf_collector_writer_put(w, "n", key, c, &err), CAF_OK);
        assert_int_equal(caf_collector_writer_put(w, "h", key, h, &err), CAF_OK);
        assert_int_equal(caf_collector_writer_add_run(w, (caf_exprun){1, r}, &err), CAF_OK);
        assert_int_equal(caf_collector_writer_flush(w, &err), CAF_OK);
    }
    caf_object_free(c);
    caf_object_free(h);
    assert_int_equal(caf_collector_writer_commit(w, &err), CAF_OK);
    return path;
}

static void test_every_type_through_a_file(void **state)
{
    (void)state;
    caf_error err = {0};
    char *path = path_of("types.sqlite");
    caf_collector_info info = {"Types", "TypesPlugin", CAF_GRANULARITY_RUN, NULL};
    caf_collector_writer *w;
    assert_int_equal(caf_collector_writer_open(path, &info, &w, &err), CAF_OK);
    assert_false(caf_path_exists(path)); /* only the temporary file exists until commit */
    caf_object *objs[6];
    const caf_ntuple_column cols[] = {{"a", CAF_COLUMN_INT16}, {"b", CAF_COLUMN_FLOAT64}};
    assert_int_equal(caf_hist1d_new("h1", 10, 0, 1, &objs[0], &err), CAF_OK);
    assert_int_equal(caf_hist2d_new("h2", 3, 0, 3, 2, 0, 2, &objs[1], &err), CAF_OK);
    assert_int_equal(caf_profile_new("p", 4, 0, 4, &objs[2], &err), CAF_OK);
    assert_int_equal(caf_counter_new("c", &objs[3], &err), CAF_OK);
    assert_int_equal(caf_ntuple_new("t", cols, 2, &objs[4], &err), CAF_OK);
    assert_int_equal(caf_user_object_new("blob.type", "u", &objs[5], &err), CAF_OK);
    static const char *const names[] = {"h1", "h2", "p", "c", "t", "u"};
    /* two pieces of run 1.5 (a revisited run) and one of 1.6 */
    for (int piece = 0; piece < 3; piece++) {
        caf_hist1d_fill(objs[0], 0.05 + 0.1 * piece, 2);
        caf_hist2d_fill(objs[1], 1.5, 0.5 + piece % 2, 1);
        caf_profile_fill(objs[2], 2.5, 10 + piece, 1);
        caf_counter_add(objs[3], 1, 0.5);
        caf_cell row[2];
        row[0].i16 = (int16_t)(-piece);
        row[1].f64 = piece * 1.5;
        assert_int_equal(caf_ntuple_append(objs[4], row, &err), CAF_OK);
        assert_int_equal(caf_user_object_set(objs[5], "xyz", 3, &err), CAF_OK);
        caf_exprun key = {1, piece < 2 ? 5 : 6};
        for (int k = 0; k < 6; k++) {
            assert_int_equal(caf_collector_writer_put(w, names[k], key, objs[k], &err), CAF_OK);
            caf_object_reset(objs[k]);
        }
    }
    assert_int_equal(caf_collector_writer_add_run(w, (caf_exprun){1, 6}, &err), CAF_OK);
    assert_int_equal(caf_collector_writer_add_run(w, (caf_exprun){1, 5}, &err), CAF_OK);
    /* a name declared with another type is refused */
    assert_int_equal(caf_collector_writer_put(w, "c", (caf_exprun){1, 5}, objs[0], &err), CAF_ERR_EXISTS);
    assert_non_null(strstr(err.message, "'c' is already declared as a counter"));
    assert_int_equal(caf_collector_writer_commit(w, &err), CAF_OK);
    for (int k = 0; k < 6; k++)
        caf_object_free(objs[k]);

    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(path, &f, &err), CAF_OK);
    assert_string_equal(caf_collector_output_module(f), "TypesPlugin");
    assert_int_equal(caf_collector_output_run_range(f)->count, 2);
    caf_iov iov = caf_run_range_iov(caf_collector_output_run_range(f));
    assert_true(iov.exp_low == 1 && iov.run_low == 5 && iov.exp_high == 1 && iov.run_high == 6);
    caf_object *o;
    caf_exprun r5 = {1, 5};
    assert_int_equal(caf_collector_output_read(f, "h1", r5, &o, &err), CAF_OK);
    assert_true(caf_hist1d_content(o, 1) == 2 && caf_hist1d_content(o, 2) == 2 && caf_hist1d_entries(o) == 2);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_read(f, "h2", r5, &o, &err), CAF_OK);
    assert_true(caf_hist2d_content(o, 2, 1) == 1 && caf_hist2d_content(o, 2, 2) == 1);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_read(f, "p", r5, &o, &err), CAF_OK);
    assert_true(caf_profile_mean(o, 3) == 10.5);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_read(f, "c", r5, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), 2);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_read(f, "t", r5, &o, &err), CAF_OK);
    assert_int_equal(caf_ntuple_rows(o), 2);
    assert_int_equal(caf_ntuple_get_i64(o, 1, 0), -1);
    assert_true(caf_ntuple_get_f64(o, 1, 1) == 1.5);
    caf_object_free(o);
    /* two pieces of a user type that is not registered: readable one by one, not mergeable */
    assert_int_equal(caf_collector_output_read(f, "u", (caf_exprun){1, 6}, &o, &err), CAF_OK);
    assert_int_equal(caf_user_object_bytes(o)->size, 3);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_read(f, "u", r5, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "'blob.type'"));
    caf_collector_output_close(f);
    free(path);
}

static void test_merge_many(void **state)
{
    (void)state;
    enum { FILES = 150 };
    char *paths[FILES];
    int64_t want_count[41] = {0};
    double want_entries[41] = {0};
    for (int i = 0; i < FILES; i++) {
        char name[64];
        snprintf(name, sizeof name, "job%03d.sqlite", i);
        int runs = 10 + i % 31; /* overlapping run ranges 1..10 to 1..40 */
        paths[i] = write_output(name, "Many", CAF_GRANULARITY_RUN, i % 5 + 1, runs);
        for (int r = 1; r <= runs; r++) {
            want_count[r] += (i % 5 + 1) * 1000 + r;
            want_entries[r] += i % 5 + 1;
        }
    }
    caf_error err = {0};
    char *merged = path_of("merged.sqlite"), *small = path_of("merged-small.sqlite");
    assert_int_equal(caf_collector_output_merge_files(merged, (const char *const *)paths, FILES, NULL, &err), CAF_OK);
    caf_collector_merge_options tiny = {.memory_budget = 20000}; /* a few histograms: many flushes */
    assert_int_equal(caf_collector_output_merge_files(small, (const char *const *)paths, FILES, &tiny, &err), CAF_OK);
    const char *outs[] = {merged, small};
    for (int k = 0; k < 2; k++) {
        caf_collector_output *f;
        assert_int_equal(caf_collector_output_open(outs[k], &f, &err), CAF_OK);
        assert_int_equal(caf_collector_output_run_range(f)->count, 40);
        assert_non_null(caf_collector_output_find_object(f, "unused"));
        assert_int_equal(caf_collector_output_find_object(f, "unused")->key_count, 0);
        for (int r = 1; r <= 40; r++) {
            caf_object *o;
            assert_int_equal(caf_collector_output_read(f, "n", (caf_exprun){1, r}, &o, &err), CAF_OK);
            assert_int_equal(caf_counter_count(o), want_count[r]);
            caf_object_free(o);
            assert_int_equal(caf_collector_output_read(f, "h", (caf_exprun){1, r}, &o, &err), CAF_OK);
            assert_true(caf_hist1d_content(o, r + 1) == want_entries[r]);
            caf_object_free(o);
        }
        caf_collector_output_close(f);
    }
    /* the budget really split keys into several pieces */
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open_v2(small, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT MAX(idx) FROM pieces", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_true(sqlite3_column_int(s, 0) > 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* reading across the files gives the same as the merged file */
    caf_exprun some[] = {{1, 3}, {1, 33}};
    caf_object *across;
    assert_int_equal(caf_collected_merge_files((const char *const *)paths, FILES, "n", some, 2, &across, &err), CAF_OK);
    assert_int_equal(caf_counter_count(across), want_count[3] + want_count[33]);
    caf_object_free(across);
    caf_run_range rr;
    assert_int_equal(caf_collected_run_range_of_files((const char *const *)paths, FILES, &rr, &err), CAF_OK);
    assert_int_equal(rr.count, 40);
    caf_run_range_clear(&rr);
    for (int i = 0; i < FILES; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    free(merged);
    free(small);
}

static void test_refused(void **state)
{
    (void)state;
    caf_error err = {0};
    char *a = write_output("a.sqlite", "A", CAF_GRANULARITY_RUN, 1, 3);
    char *b = write_output("b.sqlite", "B", CAF_GRANULARITY_RUN, 1, 3);
    char *all = write_output("all.sqlite", "A", CAF_GRANULARITY_ALL, 2, 3);
    char *out = path_of("out.sqlite");
    const char *ab[] = {a, b}, *a_all[] = {a, all};
    assert_int_equal(caf_collector_output_merge_files(out, ab, 2, NULL, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "collector B differs from A"));
    assert_int_equal(caf_collector_output_merge_files(out, a_all, 2, NULL, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "granularity"));
    assert_false(caf_path_exists(out));
    caf_object *o;
    assert_int_equal(caf_collected_merge_files(ab, 2, "n", NULL, 0, &o, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_collected_merge_files(ab, 1, "nope", NULL, 0, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "no object 'nope'"));
    /* granularity all: the one object, whichever runs are asked for as long as one was collected */
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(all, &f, &err), CAF_OK);
    caf_exprun two[] = {{1, 2}, {5, 5}}, none[] = {{5, 5}};
    assert_int_equal(caf_collector_output_merge_runs(f, "n", two, 2, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), 3 * 2000 + 1 + 2 + 3);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_merge_runs(f, "n", none, 1, &o, &err), CAF_ERR_NOT_FOUND);
    caf_collector_output_close(f);
    /* not a collector output, not SQLite, missing, newer */
    test_write_file(dir, "text.sqlite", "hello\n");
    char *text = path_of("text.sqlite");
    assert_int_equal(caf_collector_output_open(text, &f, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "not a collector output"));
    char *missing = path_of("missing.sqlite");
    assert_int_equal(caf_collector_output_open(missing, &f, &err), CAF_ERR_NOT_FOUND);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(a, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'format_version'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(caf_collector_output_open(a, &f, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "version 99"));
    /* a folder that cannot be written: the writer fails at once, naming collector and file */
    char *nodir = path_of("no/such/out.sqlite");
    caf_collector_info info = {"X", "X", CAF_GRANULARITY_RUN, NULL};
    caf_collector_writer *w;
    assert_int_equal(caf_collector_writer_open(nodir, &info, &w, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "collector X"));
    free(a), free(b), free(all), free(out), free(text), free(missing), free(nodir);
}

/* A lazily opened output (what an algorithm execution opens) reads neither the RunRange nor the key counts at
 * open: a malformed row of table 'runs' fails the plain open, but the lazy open succeeds, answers for single
 * runs through the index and reports the row only when the whole range is asked for. Key counts are right
 * when asked for. */
static void test_lazy_open_reads_runs_and_counts_when_asked(void **state)
{
    (void)state;
    caf_error err = {0};
    char *path = write_output("lazy.sqlite", "A", CAF_GRANULARITY_RUN, 2, 4);
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open_lazy(path, &f, &err), CAF_OK);
    assert_int_equal(caf_collector_output_find_object(f, "n")->key_count, 4);
    assert_int_equal(caf_collector_output_find_object(f, "unused")->key_count, 0);
    assert_int_equal(caf_collector_output_object(f, 0)->key_count, 4); /* "h" */
    caf_collector_output_close(f);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE runs SET exp = 'x' WHERE run = 4", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(caf_collector_output_open(path, &f, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "table 'runs'"));

    assert_int_equal(caf_collector_output_open_lazy(path, &f, &err), CAF_OK);
    assert_true(caf_collector_output_has_object(f, "h"));
    assert_false(caf_collector_output_has_object(f, "nope"));
    bool has = false;
    assert_int_equal(caf_collector_output_has_run(f, (caf_exprun){1, 2}, &has, &err), CAF_OK);
    assert_true(has);
    assert_int_equal(caf_collector_output_has_run(f, (caf_exprun){1, 4}, &has, &err), CAF_OK);
    assert_false(has);
    caf_object *o;
    caf_exprun two[] = {{1, 2}, {1, 3}};
    assert_int_equal(caf_collector_output_merge_runs(f, "n", two, 2, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), 2 * 2000 + 2 + 3);
    caf_object_free(o);
    const caf_run_range *rr;
    assert_int_equal(caf_collector_output_load_run_range(f, &rr, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "table 'runs'"));
    assert_int_equal(rr->count, 0);
    caf_collector_output_close(f);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_open_reads_runs_and_counts_when_asked),
        cmocka_unit_test(test_every_type_through_a_file),
        cmocka_unit_test(test_merge_many),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
