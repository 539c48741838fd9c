/* The payload cache (caf/payload_cache.h): concurrent writers from forked processes storing the same
 * checksum leave one whole, correct file; data whose MD5 is not its checksum is refused and never cached;
 * a payload damaged on disk is not handed out; the size bound is honoured by removing the least recently
 * used payloads; metadata answers round-trip; names from outside never become paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "caf/payload_cache.h"
#include "test_support.h"

static void md5_of(const void *data, size_t size, char hex[CAF_MD5_HEX_SIZE])
{
    caf_error err = {0};
    assert_int_equal(caf_md5_hex(data, size, hex, &err), CAF_OK);
}

/* size bytes that differ per seed */
static char *payload_bytes(unsigned seed, size_t size)
{
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + (seed * 7 + i * 13) % 26);
    return data;
}

/* Counts the files under dir whose name contains mark. */
static size_t count_named(const char *dir, const char *mark)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        char *path = caf_path_join(dir, e->d_name);
        if (caf_path_is_dir(path))
            n += count_named(path, mark);
        else if (strstr(e->d_name, mark))
            n++;
        free(path);
    }
    if (d)
        closedir(d);
    return n;
}

static void test_concurrent_writers_same_checksum(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("payload_cache");
    size_t size = 1 << 20; /* large enough for writes to interleave */
    char *data = payload_bytes(1, size), checksum[CAF_MD5_HEX_SIZE];
    md5_of(data, size, checksum);
    enum { WRITERS = 6, ROUNDS = 8 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            caf_payload_cache *c;
            caf_error err = {0};
            int bad = caf_payload_cache_open(dir, 0, &c, &err) != CAF_OK;
            for (int r = 0; !bad && r < ROUNDS; r++) {
                char *path = caf_payload_cache_put(c, checksum, "bin", data, size, &err);
                char *got = caf_payload_cache_get(c, checksum, "bin", &err); /* a reader between writers */
                bad = !path || !got || strcmp(path, got) != 0;
                free(path);
                free(got);
            }
            caf_payload_cache_close(c);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    caf_payload_cache *c;
    caf_error err = {0};
    assert_int_equal(caf_payload_cache_open(dir, 0, &c, &err), CAF_OK);
    char *path = caf_payload_cache_get(c, checksum, "bin", &err);
    assert_non_null(path);
    char actual[CAF_MD5_HEX_SIZE];
    assert_int_equal(caf_md5_file_hex(path, actual, &err), CAF_OK);
    assert_string_equal(actual, checksum);
    assert_int_equal(caf_payload_cache_size(c), size);
    assert_int_equal(count_named(dir, ".caf-tmp-"), 0);
    free(path);
    caf_payload_cache_close(c);
    free(data);
    test_remove_tree(dir);
    free(dir);
}

static void test_corrupted_download_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("payload_cache");
    caf_payload_cache *c;
    caf_error err = {0};
    assert_int_equal(caf_payload_cache_open(dir, 0, &c, &err), CAF_OK);
    char checksum[CAF_MD5_HEX_SIZE];
    md5_of("good bytes", 10, checksum);
    /* the server (or the network) hands out other bytes under this checksum */
    assert_null(caf_payload_cache_put(c, checksum, "json", "evil bytes", 10, &err));
    assert_int_equal(err.code, CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, checksum));
    assert_non_null(strstr(err.message, "refused"));
    assert_null(caf_payload_cache_get(c, checksum, "json", &err));
    assert_int_equal(err.code, CAF_ERR_NOT_FOUND);
    assert_int_equal(caf_payload_cache_size(c), 0);
    assert_int_equal(count_named(dir, ".caf-tmp-"), 0);

    /* stored correctly, then damaged on disk: not handed out, and removed */
    char *path = caf_payload_cache_put(c, checksum, "json", "good bytes", 10, &err);
    assert_non_null(path);
    FILE *f = fopen(path, "r+");
    fputc('G', f);
    fclose(f);
    assert_null(caf_payload_cache_get(c, checksum, "json", &err));
    assert_int_equal(err.code, CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "damaged"));
    assert_false(caf_path_exists(path));
    free(path);

    /* names from a server answer never become paths */
    assert_null(caf_payload_cache_put(c, "../../etc/passwd", "json", "x", 1, &err));
    assert_int_equal(err.code, CAF_ERR_FORMAT);
    assert_null(caf_payload_cache_put(c, checksum, "../x", "good bytes", 10, &err));
    assert_int_equal(err.code, CAF_ERR_FORMAT);
    assert_null(caf_payload_cache_get(c, "0123456789ABCDEF0123456789abcdef", "json", &err));
    caf_payload_cache_close(c);
    test_remove_tree(dir);
    free(dir);
}

/* Sets the use time of a cached payload, so that the test decides the order without a clock. */
static void set_use_time(const char *path, time_t when)
{
    struct timespec times[2] = {{when, 0}, {when, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_lru_bound(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("payload_cache");
    caf_payload_cache *c;
    caf_error err = {0};
    assert_int_equal(caf_payload_cache_open(dir, 3500, &c, &err), CAF_OK);
    assert_int_equal(caf_payload_cache_max_bytes(c), 3500);
    char sums[6][CAF_MD5_HEX_SIZE];
    char *paths[6];
    char *data[6];
    for (int i = 0; i < 3; i++) {
        data[i] = payload_bytes((unsigned)i + 10, 1000);
        md5_of(data[i], 1000, sums[i]);
        paths[i] = caf_payload_cache_put(c, sums[i], "bin", data[i], 1000, &err);
        assert_non_null(paths[i]);
        set_use_time(paths[i], 1000000 + i * 10); /* 0 oldest, 2 newest */
    }
    assert_int_equal(caf_payload_cache_size(c), 3000);
    /* a hit makes payload 0 the most recently used */
    char *hit = caf_payload_cache_get(c, sums[0], "bin", &err);
    assert_non_null(hit);
    free(hit);
    /* the fourth payload does not fit: the least recently used one (1) goes */
    data[3] = payload_bytes(13, 1000);
    md5_of(data[3], 1000, sums[3]);
    paths[3] = caf_payload_cache_put(c, sums[3], "bin", data[3], 1000, &err);
    assert_non_null(paths[3]);
    assert_true(caf_path_exists(paths[0]));
    assert_false(caf_path_exists(paths[1]));
    assert_true(caf_path_exists(paths[2]));
    assert_true(caf_path_exists(paths[3]));
    assert_true(caf_payload_cache_size(c) <= 3500);
    /* a payload larger than the bound is kept (the job needs it), everything else goes */
    data[4] = payload_bytes(14, 5000);
    md5_of(data[4], 5000, sums[4]);
    paths[4] = caf_payload_cache_put(c, sums[4], "bin", data[4], 5000, &err);
    assert_non_null(paths[4]);
    assert_true(caf_path_exists(paths[4]));
    assert_int_equal(caf_payload_cache_size(c), 5000);
    /* an explicit trim under a smaller bound of a reopened cache */
    caf_payload_cache_close(c);
    assert_int_equal(caf_payload_cache_open(dir, 100, &c, &err), CAF_OK);
    size_t removed = 0;
    assert_int_equal(caf_payload_cache_trim(c, NULL, &removed, &err), CAF_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(caf_payload_cache_size(c), 0);
    for (int i = 0; i < 5; i++) {
        free(paths[i]);
        free(data[i]);
    }
    caf_payload_cache_close(c);
    test_remove_tree(dir);
    free(dir);
}

static void test_metadata_and_settings(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("payload_cache");
    caf_payload_cache *c;
    caf_error err = {0};
    assert_int_equal(caf_payload_cache_open(dir, 0, &c, &err), CAF_OK);
    assert_int_equal(caf_payload_cache_max_bytes(c), CAF_PAYLOAD_CACHE_DEFAULT_SIZE);
    json_t *v;
    assert_int_equal(caf_payload_cache_get_meta(c, "tag ../x", &v, &err), CAF_ERR_NOT_FOUND);
    json_t *answer = json_pack("[{s:s}]", "name", "Gain");
    assert_int_equal(caf_payload_cache_put_meta(c, "tag ../x", answer, &err), CAF_OK);
    assert_int_equal(caf_payload_cache_get_meta(c, "tag ../x", &v, &err), CAF_OK);
    assert_true(json_equal(v, answer));
    json_decref(v);
    json_decref(answer);
    caf_payload_cache_close(c);

    uint64_t bytes;
    assert_int_equal(caf_payload_cache_parse_size("512K", &bytes, &err), CAF_OK);
    assert_int_equal(bytes, 512 << 10);
    assert_int_equal(caf_payload_cache_parse_size("3G", &bytes, &err), CAF_OK);
    assert_int_equal(bytes, (uint64_t)3 << 30);
    assert_int_equal(caf_payload_cache_parse_size("12", &bytes, &err), CAF_OK);
    assert_int_equal(bytes, 12);
    assert_int_equal(caf_payload_cache_parse_size("-1", &bytes, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_cache_parse_size("1T", &bytes, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_cache_parse_size("0", &bytes, &err), CAF_ERR_INVALID);

    /* the environment names the folder and the bound */
    char *env_dir = caf_path_join(dir, "from-env");
    setenv(CAF_PAYLOAD_CACHE_ENV, env_dir, 1);
    setenv(CAF_PAYLOAD_CACHE_SIZE_ENV, "5M", 1);
    assert_int_equal(caf_payload_cache_open_default(&c, &err), CAF_OK);
    assert_string_equal(caf_payload_cache_dir(c), env_dir);
    assert_int_equal(caf_payload_cache_max_bytes(c), 5 << 20);
    caf_payload_cache_close(c);
    setenv(CAF_PAYLOAD_CACHE_SIZE_ENV, "lots", 1);
    assert_int_equal(caf_payload_cache_open_default(&c, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, CAF_PAYLOAD_CACHE_SIZE_ENV));
    unsetenv(CAF_PAYLOAD_CACHE_ENV);
    unsetenv(CAF_PAYLOAD_CACHE_SIZE_ENV);
    setenv("XDG_CACHE_HOME", dir, 1);
    assert_int_equal(caf_payload_cache_open_default(&c, &err), CAF_OK);
    char *expected = caf_path_join(dir, "caf/payloads");
    assert_string_equal(caf_payload_cache_dir(c), expected);
    free(expected);
    caf_payload_cache_close(c);
    free(env_dir);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers_same_checksum),
        cmocka_unit_test(test_corrupted_download_refused),
        cmocka_unit_test(test_lru_bound),
        cmocka_unit_test(test_metadata_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
