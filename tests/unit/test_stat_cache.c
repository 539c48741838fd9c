/* caf_stat_cached gives what stat(2) and lstat(2) give, through a kept folder descriptor: regular files,
 * symbolic links followed or not, missing files and folders, ".", "..", names without a folder, and a
 * change of folder between calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/stat_cache.h"
#include "test_support.h"

/* The cached call and the plain one agree on the result, errno, and the file (device, inode, type). */
static void same_as_plain(caf_stat_cache *cache, const char *path, bool follow)
{
    struct stat a, b;
    errno = 0;
    int ra = caf_stat_cached(cache, path, &a, follow), ea = errno;
    errno = 0;
    int rb = follow ? stat(path, &b) : lstat(path, &b), eb = errno;
    assert_int_equal(ra, rb);
    if (ra != 0) {
        assert_int_equal(ea, eb);
        return;
    }
    assert_int_equal(a.st_dev, b.st_dev);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_mode, b.st_mode);
    assert_int_equal(a.st_size, b.st_size);
}

static void agrees_with_stat_and_lstat(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("statcache");
    char *sub = caf_path_join(dir, "sub"), *other = caf_path_join(dir, "other");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(sub, &err), CAF_OK);
    assert_int_equal(caf_mkdir_p(other, &err), CAF_OK);
    test_write_file(sub, "a.h5", "abc");
    test_write_file(other, "a.h5", "a longer file");
    char *a = caf_path_join(sub, "a.h5"), *b = caf_path_join(other, "a.h5");
    char *link = caf_path_join(sub, "link.h5"), *dangling = caf_path_join(sub, "dangling.h5");
    char *missing = caf_path_join(sub, "missing.h5"), *no_folder = caf_path_join(dir, "nothing/a.h5");
    char *dot = caf_path_join(sub, "."), *dots = caf_path_join(sub, ".."), *slash = caf_path_join(dir, "sub/");
    assert_int_equal(symlink(a, link), 0);
    assert_int_equal(symlink("missing.h5", dangling), 0);
    const char *paths[] = {a, link, dangling, missing, b, a, no_folder, dot, dots, slash, "/", "a.h5", sub};
    for (int follow = 0; follow < 2; follow++) {
        caf_stat_cache cache = {0};
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
            same_as_plain(&cache, paths[i], follow);
        caf_stat_cache_close(&cache);
        caf_stat_cache_close(&cache); /* closing twice is fine */
    }
    test_remove_tree(dir);
    free(dir), free(sub), free(other), free(a), free(b), free(link), free(dangling), free(missing);
    free(no_folder), free(dot), free(dots), free(slash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agrees_with_stat_and_lstat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
