/* Side files of collector jobs (caf/side_files.h): scanning a job's output folder and the manifest the
 * algorithms read, with everything that would lead outside the folder refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/side_files.h"
#include "test_support.h"

static char *joined(const char *dir, const char *name)
{
    char *p = caf_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static void scan_lists_matching_regular_files_and_links_inside(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("side_scan");
    test_write_file(dir, "collector_output.sqlite", "x");
    test_write_file(dir, "b.mille", "b");
    test_write_file(dir, "a.mille", "a");
    test_write_file(dir, ".hidden.mille", "h"); /* a temporary file: never listed */
    test_write_file(dir, "notes.txt", "n");
    char *sub = joined(dir, "sub.mille");
    assert_int_equal(mkdir(sub, 0755), 0); /* folders are not listed */
    char *link = joined(dir, "c.mille");
    assert_int_equal(symlink("a.mille", link), 0); /* a link to a file inside is fine */
    const char *patterns[] = {"*.mille", "deep/*.sqlite", "nothing-*"};
    char **files;
    size_t n;
    caf_error err = {0};
    assert_int_equal(caf_side_files_scan(dir, patterns, 3, "collector_output.sqlite", &files, &n, &err), CAF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(files[0], "a.mille");
    assert_string_equal(files[1], "b.mille");
    assert_string_equal(files[2], "c.mille");
    caf_side_files_strings_free(files, n);
    /* no patterns, no files */
    assert_int_equal(caf_side_files_scan(dir, patterns, 0, NULL, &files, &n, &err), CAF_OK);
    assert_int_equal(n, 0);
    test_remove_tree(dir);
    free(dir);
    free(sub);
    free(link);
}

static void scan_refuses_a_link_leading_outside(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("side_escape");
    char *job = joined(dir, "job");
    assert_int_equal(mkdir(job, 0755), 0);
    test_write_file(dir, "secret", "s");
    char *link = joined(job, "x.mille");
    assert_int_equal(symlink("../secret", link), 0);
    const char *patterns[] = {"*.mille"};
    char **files;
    size_t n;
    caf_error err = {0};
    assert_int_equal(caf_side_files_scan(job, patterns, 1, NULL, &files, &n, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "x.mille is a link that leads outside"));
    assert_int_equal(n, 0);
    /* a dangling link cannot be shown to stay inside either */
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("gone", link), 0);
    assert_int_equal(caf_side_files_scan(job, patterns, 1, NULL, &files, &n, &err), CAF_ERR_INVALID);
    test_remove_tree(dir);
    free(dir);
    free(job);
    free(link);
}

static void manifest_round_trip_gives_absolute_paths_and_sorted_runs(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("side_manifest");
    char *outputs = joined(dir, "outputs/1");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(outputs, &err), CAF_OK);
    test_write_file(outputs, "a.bin", "a");
    char *output = joined(dir, "collector_output.sqlite");
    char *manifest = caf_side_files_manifest_path(output);
    assert_non_null(strstr(manifest, "collector_output.sqlite" CAF_SIDE_FILES_SUFFIX));
    caf_exprun runs[] = {{2, 1}, {1, 4}};
    char *names[] = {"outputs/1/a.bin"};
    caf_side_files_job jobs[] = {{.job = 1, .runs = runs, .run_count = 2, .files = names, .file_count = 1},
                                 {.job = 0}};
    assert_int_equal(caf_side_files_write(manifest, jobs, 2, &err), CAF_OK);
    caf_side_files_job *read;
    size_t count;
    assert_int_equal(caf_side_files_read(manifest, &read, &count, &err), CAF_OK);
    assert_int_equal(count, 2);
    assert_int_equal(read[0].job, 1);
    assert_int_equal(read[0].run_count, 2);
    assert_int_equal(read[0].runs[0].exp, 1);
    assert_int_equal(read[0].runs[0].run, 4);
    assert_int_equal(read[0].file_count, 1);
    assert_true(read[0].files[0][0] == '/');
    assert_non_null(strstr(read[0].files[0], "/outputs/1/a.bin"));
    assert_int_equal(read[1].file_count, 0);
    caf_side_files_jobs_free(read, count);
    /* the writer refuses a name leading out as the reader would */
    char *bad[] = {"../a.bin"};
    jobs[0].files = bad;
    assert_int_equal(caf_side_files_write(manifest, jobs, 1, &err), CAF_ERR_INVALID);
    /* no manifest: no jobs, no error */
    char *other = joined(dir, "none.sqlite" CAF_SIDE_FILES_SUFFIX);
    assert_int_equal(caf_side_files_read(other, &read, &count, &err), CAF_OK);
    assert_int_equal(count, 0);
    test_remove_tree(dir);
    free(dir);
    free(outputs);
    free(output);
    free(manifest);
    free(other);
}

/* Writes text as the manifest of dir/out.sqlite and reads it; returns the status (message in err). */
static caf_status read_text(const char *dir, const char *text, caf_error *err)
{
    test_write_file(dir, "out.sqlite" CAF_SIDE_FILES_SUFFIX, text);
    char *manifest = joined(dir, "out.sqlite" CAF_SIDE_FILES_SUFFIX);
    caf_side_files_job *jobs;
    size_t count;
    caf_status st = caf_side_files_read(manifest, &jobs, &count, err);
    caf_side_files_jobs_free(jobs, count);
    free(manifest);
    return st;
}

static void reader_refuses_names_outside_and_malformed_manifests(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("side_reader");
    char *inner = joined(dir, "in");
    assert_int_equal(mkdir(inner, 0755), 0);
    test_write_file(dir, "outside.bin", "o");
    test_write_file(inner, "ok.bin", "k");
    char *link = joined(inner, "link.bin");
    assert_int_equal(symlink("../outside.bin", link), 0);
    caf_error err = {0};
    assert_int_equal(read_text(inner, "{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [[1, 2]], \"files\": "
                                      "[\"ok.bin\"]}]}", &err), CAF_OK);
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [], \"files\": [\"../outside.bin\"]}]}", "is not a name inside"},
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [], \"files\": [\"/etc/passwd\"]}]}", "is not a name inside"},
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [], \"files\": [\"link.bin\"]}]}", "link.bin"},
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [], \"files\": [\"gone.bin\"]}]}", "does not exist"},
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [], \"files\": [7]}]}", "not a string"},
        {"{\"version\": 1, \"jobs\": [{\"job\": 0, \"runs\": [[1]], \"files\": []}]}", "not an [exp, run] pair"},
        {"{\"version\": 1, \"jobs\": [{\"job\": -1, \"runs\": [], \"files\": []}]}", "needs 'job'"},
        {"{\"version\": 2, \"jobs\": []}", "not a side-file manifest"},
        {"[1, 2]", "not a side-file manifest"},
        {"{\"version\": 1, \"jobs\": [", "out.sqlite.side_files.json:1:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (caf_error){0};
        assert_int_equal(read_text(inner, bad[i].text, &err), CAF_ERR_FORMAT);
        if (!strstr(err.message, bad[i].says))
            fail_msg("%s: %s", bad[i].text, err.message);
        assert_null(strchr(err.message, '\n'));
    }
    test_remove_tree(dir);
    free(dir);
    free(inner);
    free(link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_lists_matching_regular_files_and_links_inside),
        cmocka_unit_test(scan_refuses_a_link_leading_outside),
        cmocka_unit_test(manifest_round_trip_gives_absolute_paths_and_sorted_runs),
        cmocka_unit_test(reader_refuses_names_outside_and_malformed_manifests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
