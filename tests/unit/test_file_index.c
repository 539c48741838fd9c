/* File index: runs per file from metadata, grouped by run, and a cache that really avoids reopening
 * unchanged files (proved by replacing a file's bytes with garbage while keeping size and mtime). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/event_file.h"
#include "caf/file.h"
#include "caf/file_index.h"
#include "test_support.h"

/* Writes an event file with n events of each listed run (exp, run pairs). */
static void write_runs(const char *path, const int (*runs)[2], size_t n_runs, size_t n)
{
    caf_event_schema s = {0};
    caf_event_writer *w;
    caf_error err = {0};
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_OK);
    int32_t exp[64], run[64];
    uint32_t evt[64];
    assert_true(n <= 64);
    for (size_t r = 0; r < n_runs; r++) {
        for (size_t i = 0; i < n; i++)
            exp[i] = runs[r][0], run[i] = runs[r][1], evt[i] = (uint32_t)i;
        caf_event_batch b = {.count = n, .exp = exp, .run = run, .event = evt};
        assert_int_equal(caf_event_writer_append(w, &b, &err), CAF_OK);
    }
    assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);
}

typedef struct fixture {
    char *dir, *data, *cache, *a, *b, *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir("fileindex");
    f->data = caf_path_join(f->dir, "data");
    char *sub = caf_path_join(f->data, "sub");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(sub, &err), CAF_OK);
    f->cache = caf_path_join(f->dir, "index.sqlite");
    f->a = caf_path_join(f->data, "a.h5");
    f->b = caf_path_join(sub, "b.h5");
    f->c = caf_path_join(f->data, "c.hdf5");
    static const int ra[][2] = {{1, 1}, {1, 2}};
    static const int rb[][2] = {{1, 2}, {2, 1}};
    static const int rc[][2] = {{2, 7}};
    write_runs(f->a, ra, 2, 10);
    write_runs(f->b, rb, 2, 5);
    write_runs(f->c, rc, 1, 3);
    test_write_file(f->data, "notes.txt", "not an event file, and not named like one\n");
    free(sub);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_remove_tree(f->dir);
    free(f->dir), free(f->data), free(f->cache), free(f->a), free(f->b), free(f->c);
    free(f);
    return 0;
}

static void check_runs(caf_file_index *ix)
{
    const caf_run_files *runs;
    size_t n;
    caf_error err = {0};
    assert_int_equal(caf_file_index_runs(ix, &runs, &n, &err), CAF_OK);
    assert_int_equal(n, 4);
    assert_int_equal(runs[0].run.exp, 1);
    assert_int_equal(runs[0].run.run, 1);
    assert_int_equal(runs[0].events, 10);
    assert_int_equal(runs[0].n_files, 1);
    /* run 1.2 is in two files */
    assert_int_equal(runs[1].run.run, 2);
    assert_int_equal(runs[1].events, 15);
    assert_int_equal(runs[1].n_files, 2);
    assert_non_null(strstr(runs[1].files[0]->path, "/a.h5"));
    assert_non_null(strstr(runs[1].files[1]->path, "/sub/b.h5"));
    assert_int_equal(runs[2].run.exp, 2);
    assert_int_equal(runs[2].run.run, 1);
    assert_int_equal(runs[3].run.run, 7);
    assert_int_equal(runs[3].events, 3);
}

static caf_file_index_stats index_dir(const fixture *f, const char *cache, caf_status expect, caf_error *err)
{
    caf_file_index *ix;
    assert_int_equal(caf_file_index_open(&ix, cache, err), CAF_OK);
    assert_int_equal(caf_file_index_add_dir(ix, f->data, err), expect);
    if (expect == CAF_OK) {
        assert_int_equal(caf_file_index_count(ix), 3);
        check_runs(ix);
    }
    caf_file_index_stats st = caf_file_index_get_stats(ix);
    caf_file_index_close(ix);
    return st;
}

/* Overwrites path with garbage of the same size and puts its old mtime back. */
static void garble_keeping_size_and_mtime(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    for (off_t done = 0; done < st.st_size; done += (off_t)sizeof junk) {
        size_t n = st.st_size - done < (off_t)sizeof junk ? (size_t)(st.st_size - done) : sizeof junk;
        assert_int_equal(write(fd, junk, n), (ssize_t)n);
    }
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(futimens(fd, times), 0);
    close(fd);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_size, st.st_size);
    assert_int_equal(after.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
}

static void second_index_uses_the_cache_and_never_opens_unchanged_files(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    caf_file_index_stats st = index_dir(f, f->cache, CAF_OK, &err);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.files_opened, 3);
    assert_int_equal(st.cache_hits, 0);
    st = index_dir(f, f->cache, CAF_OK, &err);
    assert_int_equal(st.files_opened, 0);
    assert_int_equal(st.cache_hits, 3);
    /* The proof: a.h5 is no longer an HDF5 file, yet the index still knows its runs, because it does not
     * open a file whose path, size and mtime are unchanged. */
    garble_keeping_size_and_mtime(f->a);
    caf_event_file_meta m;
    assert_int_equal(caf_event_file_meta_read(f->a, &m, &err), CAF_ERR_FORMAT);
    st = index_dir(f, f->cache, CAF_OK, &err);
    assert_int_equal(st.files_opened, 0);
    /* a new mtime makes the index read the file again, which now fails naming it */
    struct timespec times[2] = {{0, UTIME_OMIT}, {1000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, f->a, times, 0), 0);
    memset(&err, 0, sizeof err);
    index_dir(f, f->cache, CAF_ERR_FORMAT, &err);
    assert_non_null(strstr(err.message, "a.h5"));
    assert_non_null(strstr(err.message, "not an HDF5 file"));
}

static void changed_file_is_read_again(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    index_dir(f, f->cache, CAF_OK, &err);
    /* rewrite c.hdf5 with another run: size or mtime change, so the index must see the new run */
    static const int rc[][2] = {{3, 9}};
    write_runs(f->c, rc, 1, 4);
    caf_file_index *ix;
    assert_int_equal(caf_file_index_open(&ix, f->cache, &err), CAF_OK);
    assert_int_equal(caf_file_index_add_dir(ix, f->data, &err), CAF_OK);
    caf_file_index_stats st = caf_file_index_get_stats(ix);
    assert_int_equal(st.files_opened, 1);
    assert_int_equal(st.cache_hits, 2);
    const caf_run_files *runs;
    size_t n;
    assert_int_equal(caf_file_index_runs(ix, &runs, &n, &err), CAF_OK);
    assert_int_equal(runs[n - 1].run.exp, 3);
    assert_int_equal(runs[n - 1].run.run, 9);
    assert_int_equal(runs[n - 1].events, 4);
    /* adding the same file again (by another spelling) keeps it once */
    char *again = caf_path_join(f->data, "sub/../a.h5");
    assert_int_equal(caf_file_index_add(ix, again, &err), CAF_OK);
    assert_int_equal(caf_file_index_count(ix), 3);
    json_t *j = caf_file_index_to_json(ix);
    assert_int_equal(json_array_size(json_object_get(j, "files")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stats"), "cache_hits")), 2);
    json_decref(j);
    free(again);
    caf_file_index_close(ix);
}

static void without_cache_every_file_is_opened(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    index_dir(f, NULL, CAF_OK, &err);
    caf_file_index_stats st = index_dir(f, NULL, CAF_OK, &err);
    assert_int_equal(st.files_opened, 3);
    assert_int_equal(st.cache_hits, 0);
}

static void bad_file_and_missing_path_are_named(void **state)
{
    fixture *f = *state;
    caf_error err = {0};
    test_write_file(f->data, "broken.h5", "garbage");
    caf_file_index *ix;
    assert_int_equal(caf_file_index_open(&ix, f->cache, &err), CAF_OK);
    assert_int_equal(caf_file_index_add_dir(ix, f->data, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "broken.h5"));
    char *missing = caf_path_join(f->data, "missing.h5");
    assert_int_equal(caf_file_index_add(ix, missing, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "missing.h5"));
    free(missing);
    caf_file_index_close(ix);
    /* an unusable cache location is an error naming it */
    assert_int_equal(caf_file_index_open(&ix, "/nonexistent-caf-dir/index.sqlite", &err), CAF_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent-caf-dir/index.sqlite"));
}

/* Paths through symbolic links (a linked file, a linked folder, "..") resolve to the real file: every
 * spelling is one entry under the real path, and a link to a missing file is a bad file named as given. */
static void linked_paths_resolve_to_the_real_file(void **state)
{
    fixture *f = *state;
    char *link = caf_path_join(f->dir, "link.h5"), *folder = caf_path_join(f->dir, "folder");
    char *via_folder = caf_path_join(folder, "a.h5"), *via_dots = caf_path_join(f->data, "sub/../a.h5");
    char *dangling = caf_path_join(f->dir, "dangling.h5");
    assert_int_equal(symlink(f->a, link), 0);
    assert_int_equal(symlink(f->data, folder), 0);
    assert_int_equal(symlink("missing.h5", dangling), 0);
    char real[PATH_MAX];
    assert_non_null(realpath(f->a, real));
    caf_file_index *ix;
    caf_error err = {0};
    assert_int_equal(caf_file_index_open(&ix, f->cache, &err), CAF_OK);
    const char *paths[] = {link, via_folder, via_dots, f->a};
    assert_int_equal(caf_file_index_add_files(ix, paths, 4, &err), CAF_OK);
    assert_int_equal(caf_file_index_count(ix), 1);
    assert_string_equal(caf_file_index_file(ix, 0)->path, real);
    const char *bad[] = {dangling, f->c};
    assert_int_not_equal(caf_file_index_add_files(ix, bad, 2, &err), CAF_OK);
    assert_non_null(strstr(err.message, dangling));
    assert_int_equal(caf_file_index_count(ix), 2);
    caf_file_index_close(ix);
    free(link), free(folder), free(via_folder), free(via_dots), free(dangling);
}

/* More new files than one batch of metadata reads (file_index.c reads them 1,024 at a time, so that the
 * answers' memory does not grow with the campaign): every file is indexed with its runs, and bad files in
 * later batches are named as the caller gave them. */
static void new_files_are_read_in_batches(void **state)
{
    fixture *f = *state;
    char *many = caf_path_join(f->dir, "many");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(many, &err), CAF_OK);
    char *text = NULL;
    size_t size = 0;
    assert_int_equal(caf_file_read(f->a, &text, &size, &err), CAF_OK);
    enum { N = 2100 };
    for (int i = 0; i < N; i++) {
        char name[64], *path;
        snprintf(name, sizeof name, "f%04d.h5", i);
        path = caf_path_join(many, name);
        if (i == 1500 || i == 2050)
            assert_int_equal(caf_file_write_atomic(path, "not HDF5", 8, &err), CAF_OK);
        else
            assert_int_equal(caf_file_write_atomic(path, text, size, &err), CAF_OK);
        free(path);
    }
    free(text);
    caf_file_index *ix;
    assert_int_equal(caf_file_index_open(&ix, NULL, &err), CAF_OK);
    assert_int_equal(caf_file_index_add_dir(ix, many, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "many/f1500.h5"));
    assert_int_equal(caf_file_index_count(ix), N - 2);
    caf_file_index_stats st = caf_file_index_get_stats(ix);
    assert_int_equal(st.files_opened, N);
    const caf_run_files *runs;
    size_t n;
    assert_int_equal(caf_file_index_runs(ix, &runs, &n, &err), CAF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].n_files, N - 2);
    assert_int_equal(runs[0].events, 10 * (N - 2));
    caf_file_index_close(ix);
    free(many);
}

int main(void)
{
    caf_hdf5_silence();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(second_index_uses_the_cache_and_never_opens_unchanged_files, setup, teardown),
        cmocka_unit_test_setup_teardown(changed_file_is_read_again, setup, teardown),
        cmocka_unit_test_setup_teardown(without_cache_every_file_is_opened, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_file_and_missing_path_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(new_files_are_read_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(linked_paths_resolve_to_the_real_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
