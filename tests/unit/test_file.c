/* Atomic writes, locks, folder creation and MD5 (core layer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "caf/temp_file.h"
#include "test_support.h"

static void atomic_write_replaces_content_and_leaves_no_temporary(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("file");
    char *path = caf_path_join(dir, "state.json");
    caf_error err = {0};
    assert_int_equal(caf_file_write_atomic(path, "old", 3, &err), CAF_OK);
    assert_int_equal(caf_file_write_atomic(path, "new content", 11, &err), CAF_OK);
    char *data;
    size_t size;
    assert_int_equal(caf_file_read(path, &data, &size, &err), CAF_OK);
    assert_int_equal(size, 11);
    assert_string_equal(data, "new content");
    free(data);
    /* only the final file remains in the folder */
    char *listing = NULL;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int entries = 0;
    assert_int_equal(fscanf(p, "%d", &entries), 1);
    pclose(p);
    assert_int_equal(entries, 1);
    free(listing);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void atomic_write_into_missing_folder_fails_with_path(void **state)
{
    (void)state;
    caf_error err = {0};
    assert_int_equal(caf_file_write_atomic("/nonexistent-caf-dir/x.txt", "a", 1, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "/nonexistent-caf-dir/x.txt"));
}

static void aborted_atomic_file_leaves_target_untouched(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("file");
    test_write_file(dir, "db.txt", "original\n");
    char *path = caf_path_join(dir, "db.txt");
    caf_atomic_file f;
    caf_error err = {0};
    assert_int_equal(caf_atomic_file_open(&f, path, &err), CAF_OK);
    assert_int_equal(caf_atomic_file_write(&f, "partial", 7, &err), CAF_OK);
    caf_atomic_file_abort(&f);
    char *text = test_read_file(dir, "db.txt");
    assert_string_equal(text, "original\n");
    free(text);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void read_missing_file_names_it(void **state)
{
    (void)state;
    caf_error err = {0};
    char *data;
    assert_int_equal(caf_file_read("/no/such/caf/file", &data, NULL, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "/no/such/caf/file"));
    assert_null(data);
}

static void mkdir_p_creates_parents_and_accepts_existing(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("file");
    char *deep = caf_path_join(dir, "a/b/c");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(deep, &err), CAF_OK);
    assert_true(caf_path_is_dir(deep));
    assert_int_equal(caf_mkdir_p(deep, &err), CAF_OK);
    test_write_file(dir, "plain", "x");
    char *plain = caf_path_join(dir, "plain");
    assert_int_not_equal(caf_mkdir_p(plain, &err), CAF_OK);
    free(plain);
    free(deep);
    test_remove_tree(dir);
    free(dir);
}

static void lock_is_exclusive_between_processes(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("lock");
    char *path = caf_path_join(dir, "db.lock");
    caf_file_lock lock;
    caf_error err = {0};
    assert_int_equal(caf_file_lock_acquire(&lock, path, &err), CAF_OK);
    /* flock(1) from util-linux, non-blocking: must fail while we hold the lock. */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "flock -n '%s' true", path);
    assert_int_not_equal(system(cmd), 0);
    caf_file_lock_release(&lock);
    assert_int_equal(system(cmd), 0);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void md5_matches_known_digests(void **state)
{
    (void)state;
    char hex[CAF_MD5_HEX_SIZE];
    assert_int_equal(caf_md5_hex("", 0, hex, NULL), CAF_OK);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(caf_md5_hex("abc", 3, hex, NULL), CAF_OK);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    char *dir = test_make_temp_dir("md5");
    test_write_file(dir, "f", "abc");
    char *path = caf_path_join(dir, "f");
    assert_int_equal(caf_md5_file_hex(path, hex, NULL), CAF_OK);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void copy_atomic_copies_bytes(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("copy");
    test_write_file(dir, "src", "payload bytes\n");
    char *src = caf_path_join(dir, "src");
    char *dst = caf_path_join(dir, "dst");
    assert_int_equal(caf_file_copy_atomic(src, dst, NULL), CAF_OK);
    char *text = test_read_file(dir, "dst");
    assert_string_equal(text, "payload bytes\n");
    free(text);
    free(src);
    free(dst);
    test_remove_tree(dir);
    free(dir);
}

/* A temporary file names its writer: this process is alive, an ended child is gone, another boot's writer
 * is unknown, and a sweep removes only the ended writer's file (and the unknown one's when exclusive). */
static void temporary_names_tell_live_from_ended_writers(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("tempname");
    char *final = caf_path_join(dir, "out.sqlite");
    char *mine = caf_temp_template(final);
    assert_non_null(mine);
    const char *base = strrchr(mine, '/') + 1;
    assert_true(strncmp(base, ".out.sqlite" CAF_TEMP_MARK, strlen(".out.sqlite" CAF_TEMP_MARK)) == 0);
    assert_int_equal(caf_temp_writer_of(base), CAF_TEMP_WRITER_ALIVE);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char boot[9];
    memcpy(boot, base + strlen(".out.sqlite" CAF_TEMP_MARK), 8);
    boot[8] = '\0';
    char dead[128], other[128];
    snprintf(dead, sizeof dead, ".out.sqlite" CAF_TEMP_MARK "%s-%d-1-abcdef", boot, (int)child);
    snprintf(other, sizeof other, ".out.sqlite" CAF_TEMP_MARK "%s-%d-1-abcdef", strcmp(boot, "00000001") ? "00000001" : "00000002", (int)getpid());
    assert_int_equal(caf_temp_writer_of(dead), CAF_TEMP_WRITER_GONE);
    assert_int_equal(caf_temp_writer_of(other), CAF_TEMP_WRITER_UNKNOWN);
    assert_int_equal(caf_temp_writer_of("out.sqlite"), CAF_TEMP_NOT_TEMPORARY);
    assert_int_equal(caf_temp_writer_of(".out.sqlite.tmp"), CAF_TEMP_NOT_TEMPORARY);
    caf_error err = {0};
    int fd = mkstemp(mine);
    assert_true(fd >= 0);
    close(fd);
    char *dead_path = caf_path_join(dir, dead), *other_path = caf_path_join(dir, other);
    assert_int_equal(caf_file_write_atomic(dead_path, "x", 1, &err), CAF_OK);
    assert_int_equal(caf_file_write_atomic(other_path, "x", 1, &err), CAF_OK);
    size_t removed = 0;
    assert_int_equal(caf_temp_sweep(dir, 0, NULL, NULL, &removed, &err), CAF_OK);
    assert_int_equal(removed, 1);
    assert_false(caf_path_exists(dead_path));
    assert_true(caf_path_exists(other_path) && caf_path_exists(mine));
    assert_int_equal(caf_temp_sweep(dir, CAF_TEMP_SWEEP_EXCLUSIVE, NULL, NULL, &removed, &err), CAF_OK);
    assert_int_equal(removed, 1);
    assert_false(caf_path_exists(other_path));
    assert_true(caf_path_exists(mine)); /* a live writer's file is never removed */
    free(dead_path);
    free(other_path);
    free(mine);
    free(final);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atomic_write_replaces_content_and_leaves_no_temporary),
        cmocka_unit_test(atomic_write_into_missing_folder_fails_with_path),
        cmocka_unit_test(aborted_atomic_file_leaves_target_untouched),
        cmocka_unit_test(read_missing_file_names_it),
        cmocka_unit_test(mkdir_p_creates_parents_and_accepts_existing),
        cmocka_unit_test(lock_is_exclusive_between_processes),
        cmocka_unit_test(md5_matches_known_digests),
        cmocka_unit_test(copy_atomic_copies_bytes),
        cmocka_unit_test(temporary_names_tell_live_from_ended_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
