/* The journal of a job's saved state: records of the changed subjobs appended after a save are applied
 * when the state is read back, a journal of an earlier state and a torn last record are ignored, a bad
 * record elsewhere is refused naming the journal and line, and a record is never appended before a save or
 * after a failed append. */
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
#include "caf/job.h"
#include "caf/job_journal.h"
#include "test_support.h"

/* A job of 3 subjobs (one input file each) working in DIR/w. */
static void make_job(caf_job *job, const char *dir)
{
    char spec[4600];
    snprintf(spec, sizeof spec,
             "{\"name\": \"j\", \"command\": \"x\", \"working_dir\": \"%s/w\", \"input_files\": [\"1\",\"2\",\"3\"],"
             " \"split\": {\"max_files_per_subjob\": 1}}",
             dir);
    json_t *j = json_loads(spec, 0, NULL);
    caf_error err = {0};
    assert_int_equal(caf_job_from_json(job, j, "/base", &err), CAF_OK);
    json_decref(j);
}

/* The saved state as a fresh caf reads it back, compared with job. */
static void assert_reads_back(const caf_job *job, const char *dir)
{
    caf_job again;
    make_job(&again, dir);
    bool found = false;
    caf_error err = {0};
    assert_int_equal(caf_job_load_state(&again, &found, &err), CAF_OK);
    assert_true(found);
    json_t *a = caf_job_to_json(job), *b = caf_job_to_json(&again);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    caf_job_close(&again);
}

/* Each test's folder and job (made before, closed and removed after). */
typedef struct fixture {
    char *dir;
    caf_job job;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir("journal");
    make_job(&f->job, f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    caf_job_close(&f->job);
    test_remove_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void appended_records_are_applied_when_read_back(void **state)
{
    fixture *f = *state;
    caf_job *job = &f->job;
    const char *dir = f->dir;
    caf_error err = {0};
    assert_int_equal(caf_job_journal_append(job, &err), CAF_ERR_STATE); /* no saved state to extend yet */
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    char *saved = caf_job_state_path(job), *journal = caf_job_journal_path(job);
    long saved_size = file_size(saved);

    job->subjobs[1].status = CAF_JOB_SUBMITTED;
    job->subjobs[1].attempt = 1;
    job->subjobs[1].batch_id = strdup("4242:99");
    job->subjobs[1].unsaved = true;
    assert_int_equal(caf_job_journal_append(job, &err), CAF_OK);
    long first = file_size(journal);
    job->subjobs[1].status = CAF_JOB_COMPLETED;
    job->subjobs[1].exit_code = 0;
    job->subjobs[1].unsaved = true;
    caf_job_fail_attempt(job, &job->subjobs[2], "exit code 3"); /* marks the subjob it changes */
    assert_int_equal(caf_job_journal_append(job, &err), CAF_OK);
    assert_false(job->subjobs[1].unsaved || job->subjobs[2].unsaved);

    /* the saved state was not rewritten; the journal holds a header and three records */
    assert_int_equal(file_size(saved), saved_size);
    assert_int_equal((long)job->journal_bytes, file_size(journal));
    char *text = test_read_file(dir, "w/caf-job.journal");
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 4);
    assert_true(file_size(journal) - first < saved_size);
    free(text);
    assert_reads_back(job, dir);

    /* a save starts over: one file, no journal */
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    assert_int_equal(file_size(journal), -1);
    assert_int_equal((long)job->journal_bytes, 0);
    assert_reads_back(job, dir);
    free(saved);
    free(journal);
}

static void journal_of_an_earlier_state_is_ignored(void **state)
{
    fixture *f = *state;
    caf_job *job = &f->job;
    const char *dir = f->dir;
    caf_error err = {0};
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    job->subjobs[0].status = CAF_JOB_FAILED;
    job->subjobs[0].unsaved = true;
    assert_int_equal(caf_job_journal_append(job, &err), CAF_OK);
    char *old = test_read_file(dir, "w/caf-job.journal");
    job->subjobs[0].status = CAF_JOB_INIT; /* saved as init ... */
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    test_write_file(dir, "w/caf-job.journal", old); /* ... and the removal of the old journal lost to a kill */
    assert_reads_back(job, dir);
    free(old);
}

static void torn_last_record_is_ignored_and_a_bad_one_refused(void **state)
{
    fixture *f = *state;
    caf_job *job = &f->job;
    const char *dir = f->dir;
    caf_error err = {0};
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    job->subjobs[2].status = CAF_JOB_RUNNING;
    job->subjobs[2].batch_id = strdup("77:1");
    job->subjobs[2].unsaved = true;
    assert_int_equal(caf_job_journal_append(job, &err), CAF_OK);
    char *text = test_read_file(dir, "w/caf-job.journal");
    size_t len = strlen(text);
    char *torn = malloc(len + 64);
    snprintf(torn, len + 64, "%s{\"index\": 0, \"status\": \"compl", text);
    test_write_file(dir, "w/caf-job.journal", torn);
    assert_reads_back(job, dir); /* killed inside the write: that change was never recorded */

    snprintf(torn, len + 64, "%s{\"index\": 7}\n", text); /* no such subjob */
    test_write_file(dir, "w/caf-job.journal", torn);
    caf_job again;
    make_job(&again, dir);
    bool found = false;
    assert_int_equal(caf_job_load_state(&again, &found, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "caf-job.journal:3: not a record of a subjob"));
    caf_job_close(&again);
    free(torn);
    free(text);
}

static void no_record_follows_a_failed_append(void **state)
{
    fixture *f = *state;
    caf_job *job = &f->job;
    caf_error err = {0};
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    char *journal = caf_job_journal_path(job);
    assert_int_equal(mkdir(journal, 0755), 0); /* the journal cannot be opened for writing */
    job->subjobs[0].unsaved = true;
    assert_int_not_equal(caf_job_journal_append(job, &err), CAF_OK);
    assert_int_equal(rmdir(journal), 0);
    assert_int_equal(caf_job_journal_append(job, &err), CAF_ERR_STATE); /* only a save may follow */
    assert_int_equal(caf_job_save(job, &err), CAF_OK);
    job->subjobs[0].unsaved = true;
    assert_int_equal(caf_job_journal_append(job, &err), CAF_OK);
    free(journal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(appended_records_are_applied_when_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_of_an_earlier_state_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_last_record_is_ignored_and_a_bad_one_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(no_record_follows_a_failed_append, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
