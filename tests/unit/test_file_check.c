/* The child reader (caf_event_files_check): good files answer with their metadata, also when they
 * follow a file that crashed HDF5 in the same pool (its worker is replaced); a named pipe, a folder and
 * a missing file are refused without a child; a crash is named; the caller's process survives; checking
 * the events too opens a file no more often than checking its metadata alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/event_file.h"
#include "caf/file.h"
#include "test_support.h"

static void write_run(const char *path, int exp, int run, size_t n)
{
    caf_event_schema s = {0};
    caf_event_writer *w;
    caf_error err = {0};
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_OK);
    int32_t e[32], r[32];
    uint32_t evt[32];
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++)
        e[i] = exp, r[i] = run, evt[i] = (uint32_t)i;
    caf_event_batch b = {.count = n, .exp = e, .run = r, .event = evt};
    assert_int_equal(caf_event_writer_append(w, &b, &err), CAF_OK);
    assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);
}

static void pool_answers_each_file_and_survives_crashes(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("filecheck");
    char *good[3], *fifo = caf_path_join(dir, "x.h5"), *missing = caf_path_join(dir, "nowhere.h5");
    char *crash = caf_path_join(dir, "crash.h5");
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "good%d.h5", i);
        good[i] = caf_path_join(dir, name);
        write_run(good[i], 1, 10 + i, (size_t)(5 + i));
    }
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *repro = caf_path_join(getenv("CAF_SOURCE_DIR"), "tests/data/reproducers/libhdf5-H5HG_read-segv/in.h5");
    caf_error err = {0};
    assert_int_equal(caf_file_copy_atomic(repro, crash, &err), CAF_OK);
    /* crash first, then a good file likely served by the same slot: a fresh worker must answer it */
    const char *paths[] = {crash, good[0], fifo, good[1], dir, missing, crash, good[2]};
    size_t n = sizeof paths / sizeof *paths;
    caf_event_file_meta metas[8];
    caf_error errs[8];
    for (unsigned jobs = 1; jobs <= 3; jobs += 2) {
        caf_file_check_options o = {.jobs = jobs};
        assert_int_equal(caf_event_files_check(paths, n, &o, metas, errs), 5);
        for (size_t i = 0; i < n; i++)
            assert_true(errs[i].code == CAF_OK || strncmp(errs[i].message, paths[i], strlen(paths[i])) == 0);
        assert_non_null(strstr(errs[0].message, "while reading its metadata"));
        assert_non_null(strstr(errs[2].message, "not a regular file (a named pipe)"));
        assert_non_null(strstr(errs[4].message, "not a regular file (a folder)"));
        assert_int_equal(errs[5].code, CAF_ERR_NOT_FOUND);
        size_t good_at[] = {1, 3, 7};
        for (int g = 0; g < 3; g++) {
            size_t i = good_at[g];
            assert_int_equal(errs[i].code, CAF_OK);
            assert_int_equal(metas[i].n_events, 5 + g);
            assert_int_equal(metas[i].n_runs, 1);
            assert_int_equal(metas[i].runs[0].run, 10 + g);
            assert_string_equal(metas[i].creator, "caf");
            caf_event_file_meta_free(&metas[i]);
        }
        assert_null(metas[0].runs); /* a bad file's metadata stays zeroed */
    }
    caf_event_file_meta meta;
    assert_int_equal(caf_event_file_meta_read_isolated(good[2], NULL, &meta, &err), CAF_OK);
    assert_int_equal(meta.n_events, 7);
    caf_event_file_meta_free(&meta);
    for (int i = 0; i < 3; i++)
        free(good[i]);
    free(fifo), free(missing), free(crash), free(repro);
    test_remove_tree(dir);
    free(dir);
}

/* How often path is opened (by any process) while it is checked with options o. */
static int opens_while_checked(const char *path, const caf_file_check_options *o)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(fd >= 0);
    /* closes too: inotify merges an event into the one before it when both are the same and unread */
    assert_true(inotify_add_watch(fd, path, IN_OPEN | IN_CLOSE_NOWRITE) >= 0);
    caf_event_file_meta meta;
    caf_error err = {0};
    assert_int_equal(caf_event_files_check(&path, 1, o, &meta, &err), 0);
    assert_int_equal(meta.n_events, 9);
    caf_event_file_meta_free(&meta);
    int opens = 0;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len)
            opens += (((struct inotify_event *)p)->mask & IN_OPEN) != 0;
    close(fd);
    return opens;
}

static void events_check_reads_a_file_through_one_open(void **state)
{
    (void)state;
    /* caf process checks every input this way before reading it: the events are streamed from the HDF5
     * file the metadata came from, not from a second open of it (each open costs HDF5 a new cache) */
    char *dir = test_make_temp_dir("filecheck");
    char *path = caf_path_join(dir, "one.h5");
    write_run(path, 1, 7, 9);
    caf_file_check_options meta_only = {.jobs = 1}, events = {.jobs = 1, .events = true};
    int base = opens_while_checked(path, &meta_only);
    assert_true(base >= 1);
    assert_int_equal(opens_while_checked(path, &events), base);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_answers_each_file_and_survives_crashes),
        cmocka_unit_test(events_check_reads_a_file_through_one_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
