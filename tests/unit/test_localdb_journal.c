/* The commit journal (src/conditions/localdb_journal.c): a commit with a lineage record makes three sync
 * calls for one new payload (payload data, folder, journal) where it made five with the record as a file
 * of its own; the journal is emptied at a checkpoint (every thousand commits, and at close); a writer killed
 * after its commits leaves a journal, and what a power loss then takes from database.txt (lines cut off or
 * turned to NUL bytes) or from the record files is restored by the next writer's open, by a commit of a
 * handle that did not replay it, and by caf_localdb_repair. A database.txt changed otherwise is refused,
 * naming the byte, and left as it is; so is a journal with a damaged line that is not its last.
 *
 * The sync calls are counted by sync_counter.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "test_support.h"

#include "sync_counter.h"

#define JOURNAL "commit-journal.jsonl"

static json_t *record_of(int i)
{
    return json_pack("{s:s, s:i, s:{s:i, s:s}}", "format", CAF_LINEAGE_FORMAT, "iteration", 0, "execution", "index", i,
                     "message", "a record");
}

static char *record_name(int i)
{
    char *name = NULL;
    assert_true(asprintf(&name, "cal.iteration_0.algorithm_0.execution_%d.json", i) > 0);
    return name;
}

/* Commits payload Gain (content "gain i") for run i with its lineage record. */
static void commit_with_record(caf_localdb *db, int i)
{
    char content[32], *name = record_name(i);
    snprintf(content, sizeof content, "gain %d", i);
    json_t *record = record_of(i);
    caf_db_commit *commit;
    caf_error err = {0};
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(commit, "Gain", "txt", content, strlen(content), (caf_iov){1, i, 1, i},
                                             &err), CAF_OK);
    assert_int_equal(caf_db_commit_set_lineage(commit, name, record, &err), CAF_OK);
    json_decref(record);
    if (caf_db_commit_finish(commit, &err) != CAF_OK)
        fail_msg("commit: %s", err.message);
    free(name);
}

static off_t size_of(const char *dir, const char *name)
{
    char *path = caf_path_join(dir, name);
    struct stat st;
    off_t size = stat(path, &st) == 0 ? st.st_size : -1;
    free(path);
    return size;
}

static char *lineage_dir(const char *dir)
{
    return caf_path_join(dir, CAF_LINEAGE_DIR);
}

/* The record file of execution i holds exactly what caf_json_save_file writes for its record. */
static void assert_record_intact(const char *dir, int i)
{
    char *ldir = lineage_dir(dir), *name = record_name(i), *have = test_read_file(ldir, name);
    json_t *record = record_of(i);
    size_t size;
    char *want = caf_json_dump_file_text(record, &size);
    assert_non_null(have);
    assert_string_equal(have, want);
    free(want);
    json_decref(record);
    free(have);
    free(name);
    free(ldir);
}

/* In a child: opens the database, makes n journaled commits and ends without closing it (a killed writer). */
static void killed_writer(const char *dir, int n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        caf_localdb *db;
        caf_error err = {0};
        if (caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err) != CAF_OK)
            _exit(3);
        for (int i = 1; i <= n; i++)
            commit_with_record(db, i);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static size_t count_lines(const char *dir, const char *name)
{
    char *text = test_read_file(dir, name);
    size_t n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

static void a_journaled_commit_makes_three_syncs_and_a_clean_close_empties_the_journal(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    commit_with_record(db, 1); /* creates the journal */
    sync_calls = 0;
    commit_with_record(db, 2);
    assert_int_equal(sync_calls, 3); /* payload data, folder, journal entry: database.txt is not synced */
    assert_int_equal(count_lines(dir, JOURNAL), 2);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    assert_record_intact(dir, 1);
    assert_record_intact(dir, 2);
    /* a commit without a record is what it was: payload, folder, database.txt */
    caf_db_commit *commit;
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(commit, "Other", "txt", "x", 1, (caf_iov){0, 0, -1, -1}, &err), CAF_OK);
    sync_calls = 0;
    assert_int_equal(caf_db_commit_finish(commit, &err), CAF_OK);
    assert_int_equal(sync_calls, 3);
    sync_calls = 0;
    caf_localdb_close(db);
    assert_int_equal(sync_calls, 2); /* the checkpoint: database.txt and one syncfs for the records */
    assert_int_equal(size_of(dir, JOURNAL), 0);
    char *text = test_read_file(dir, "database.txt");
    assert_non_null(strstr(text, "dbstore/Gain"));
    assert_int_equal(count_lines(dir, "database.txt"), 3);
    free(text);
    test_remove_tree(dir);
    free(dir);
}

static void the_journal_is_emptied_every_thousand_commits(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    sync_calls = 0;
    for (int i = 1; i <= 1001; i++)
        commit_with_record(db, i);
    /* 3 per commit (the new journal's folder entry goes with the first payload's), 2 for one checkpoint */
    assert_int_equal(sync_calls, 3 * 1001 + 2);
    assert_int_equal(count_lines(dir, JOURNAL), 1);
    caf_localdb_close(db);
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 1001);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void truncate_to(const char *dir, const char *name, off_t size)
{
    char *path = caf_path_join(dir, name);
    assert_int_equal(truncate(path, size), 0);
    free(path);
}

static void a_power_loss_after_a_killed_writer_is_replayed_by_the_next_writer(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 3);
    assert_int_equal(count_lines(dir, JOURNAL), 3); /* no checkpoint: the writer never closed */
    char *full = test_read_file(dir, "database.txt");
    /* what a power loss may take: the last two lines, one record file, another record's content */
    const char *second = strchr(full, '\n') + 1;
    truncate_to(dir, "database.txt", (off_t)(second - full));
    char *ldir = lineage_dir(dir), *r3 = record_name(3), *p3 = caf_path_join(ldir, r3), *r2 = record_name(2);
    assert_int_equal(unlink(p3), 0);
    truncate_to(ldir, r2, 0);
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK); /* a reader replays nothing */
    assert_int_equal(caf_localdb_entry_count(db), 1);
    caf_localdb_close(db);
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 3);
    char *now = test_read_file(dir, "database.txt");
    assert_string_equal(now, full);
    for (int i = 1; i <= 3; i++)
        assert_record_intact(dir, i);
    assert_int_equal(size_of(dir, JOURNAL), 0);
    caf_localdb_close(db);
    free(now);
    free(r2);
    free(r3);
    free(p3);
    free(ldir);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

/* Appends each problem as a line to userdata (4096 bytes). */
static void collect_problem(const char *problem, void *userdata)
{
    char *all = userdata;
    size_t n = strlen(all);
    snprintf(all + n, 4096 - n, "%s\n", problem);
}

/* caf db check (without --repair) reports what a replay would restore, and changes nothing: a killed
 * writer's consistent journal is no problem; lines and records a power loss took are; so is a database.txt
 * changed by hand. */
static void check_reports_what_the_journal_would_restore(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 3);
    size_t problems = 99, killed = 99;
    char last[4096] = "";
    caf_error err = {0};
    assert_int_equal(caf_localdb_check(dir, collect_problem, last, &killed, &err), CAF_OK);
    assert_null(strstr(last, JOURNAL)); /* only the killed writer's intent file, if anything */

    char *full = test_read_file(dir, "database.txt");
    const char *second = strchr(full, '\n') + 1;
    truncate_to(dir, "database.txt", (off_t)(second - full));
    char *ldir = lineage_dir(dir), *r3 = record_name(3), *p3 = caf_path_join(ldir, r3);
    assert_int_equal(unlink(p3), 0);
    off_t journal = size_of(dir, JOURNAL);
    last[0] = '\0';
    assert_int_equal(caf_localdb_check(dir, collect_problem, last, &problems, &err), CAF_OK);
    assert_int_equal(problems, killed + 1);
    assert_non_null(strstr(last, "commit-journal.jsonl: 2 commits not in database.txt and 1 lineage record missing"));
    assert_non_null(strstr(last, "caf db check --repair"));
    assert_int_equal(size_of(dir, "database.txt"), (off_t)(second - full)); /* nothing changed */
    assert_int_equal(size_of(dir, JOURNAL), journal);
    assert_false(caf_path_exists(p3));

    /* a line changed by hand where the journal's second commit stands */
    char *path = caf_path_join(dir, "database.txt");
    FILE *f = fopen(path, "a");
    fputs("dbstore/Hand 000000 0,0,-1,-1\n", f);
    fclose(f);
    last[0] = '\0';
    assert_int_equal(caf_localdb_check(dir, collect_problem, last, &problems, &err), CAF_OK);
    assert_non_null(strstr(last, "differs from its commit journal"));
    char *text = test_read_file(dir, "database.txt");
    assert_non_null(strstr(text, "dbstore/Hand"));
    free(text);
    free(path);
    free(p3);
    free(r3);
    free(ldir);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void nul_bytes_where_lost_lines_were_are_written_again(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 2);
    char *full = test_read_file(dir, "database.txt");
    size_t size = strlen(full);
    const char *second = strchr(full, '\n') + 1;
    char *path = caf_path_join(dir, "database.txt");
    int fd = open(path, O_WRONLY);
    char zeros[256] = {0};
    assert_int_equal(pwrite(fd, zeros, size - (size_t)(second - full), second - full), (ssize_t)(size - (size_t)(second - full)));
    close(fd);
    caf_localdb *db;
    caf_error err = {0};
    assert_int_not_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK); /* readers refuse the NUL bytes */
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    char *now = test_read_file(dir, "database.txt");
    assert_string_equal(now, full);
    caf_localdb_close(db);
    free(now);
    free(path);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void a_database_changed_by_hand_is_refused_and_left_alone(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 2);
    char *full = test_read_file(dir, "database.txt");
    /* the second line rewritten: another revision */
    char *edited = strdup(full);
    char *second = strchr(edited, '\n') + 1;
    second[strlen("dbstore/Gain ")] = second[strlen("dbstore/Gain ")] == 'f' ? 'e' : 'f';
    test_write_file(dir, "database.txt", edited);
    caf_localdb *db = NULL;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_ERR_FORMAT);
    assert_null(db);
    assert_non_null(strstr(err.message, "database.txt: byte"));
    assert_non_null(strstr(err.message, "changed by hand"));
    char *now = test_read_file(dir, "database.txt");
    assert_string_equal(now, edited);
    assert_int_equal(count_lines(dir, JOURNAL), 2);
    free(now);
    free(edited);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void append_to(const char *dir, const char *name, const char *text)
{
    char *path = caf_path_join(dir, name);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(path);
}

static void an_unfinished_last_journal_entry_is_no_commit(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 1);
    char *full = test_read_file(dir, "database.txt");
    append_to(dir, JOURNAL, "{\"at\":40,\"lineage\":{\"file\":\"x.json\",\"rec");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 1);
    char *now = test_read_file(dir, "database.txt");
    assert_string_equal(now, full);
    assert_int_equal(size_of(dir, JOURNAL), 0);
    caf_localdb_close(db);
    free(now);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void a_damaged_journal_line_before_the_last_is_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 1);
    char *journal = test_read_file(dir, JOURNAL);
    char *damaged = NULL;
    assert_true(asprintf(&damaged, "{\"at\": \"../../elsewhere\"}\n%s", journal) > 0);
    test_write_file(dir, JOURNAL, damaged);
    caf_localdb *db = NULL;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, JOURNAL ":1: not a commit journal entry"));
    /* a record name that leaves the lineage folder is no entry either */
    free(damaged);
    assert_true(asprintf(&damaged, "{\"at\":0,\"lines\":\"\",\"lineage\":{\"file\":\"../x.json\",\"record\":{}}}\n%s",
                         journal) > 0);
    test_write_file(dir, JOURNAL, damaged);
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_ERR_FORMAT);
    free(damaged);
    free(journal);
    test_remove_tree(dir);
    free(dir);
}

static void a_commit_of_a_handle_that_did_not_replay_replays_first(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 2);
    char *full = test_read_file(dir, "database.txt");
    truncate_to(dir, "database.txt", (off_t)(strchr(full, '\n') + 1 - full));
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 1);
    commit_with_record(db, 3);
    assert_int_equal(caf_localdb_entry_count(db), 3);
    /* in commit order, each line once */
    for (int i = 0; i < 3; i++)
        assert_int_equal(caf_localdb_entry(db, (size_t)i)->iov.run_low, i + 1);
    caf_localdb_close(db);
    assert_int_equal(count_lines(dir, "database.txt"), 3);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void repair_restores_from_the_journal_instead_of_cutting(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    killed_writer(dir, 2);
    char *full = test_read_file(dir, "database.txt");
    truncate_to(dir, "database.txt", (off_t)strlen(full) - 5); /* the last line torn */
    int line = -1;
    size_t bytes = 1;
    caf_error err = {0};
    assert_int_equal(caf_localdb_repair(dir, &line, &bytes, &err), CAF_OK);
    assert_int_equal(line, 0); /* nothing cut: restored */
    assert_int_equal(bytes, 0);
    char *now = test_read_file(dir, "database.txt");
    assert_string_equal(now, full);
    assert_int_equal(size_of(dir, JOURNAL), 0);
    free(now);
    free(full);
    test_remove_tree(dir);
    free(dir);
}

static void bad_record_names_are_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("journal");
    caf_localdb *db;
    caf_db_commit *commit;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    json_t *record = record_of(1);
    assert_int_equal(caf_db_commit_set_lineage(commit, "../outside.json", record, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_set_lineage(commit, ".hidden.json", record, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_set_lineage(commit, "record.txt", record, &err), CAF_ERR_INVALID);
    json_t *not_an_object = json_array();
    assert_int_equal(caf_db_commit_set_lineage(commit, "r.json", not_an_object, &err), CAF_ERR_INVALID);
    json_decref(not_an_object);
    json_decref(record);
    caf_db_commit_abort(commit);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_journaled_commit_makes_three_syncs_and_a_clean_close_empties_the_journal),
        cmocka_unit_test(the_journal_is_emptied_every_thousand_commits),
        cmocka_unit_test(a_power_loss_after_a_killed_writer_is_replayed_by_the_next_writer),
        cmocka_unit_test(check_reports_what_the_journal_would_restore),
        cmocka_unit_test(nul_bytes_where_lost_lines_were_are_written_again),
        cmocka_unit_test(a_database_changed_by_hand_is_refused_and_left_alone),
        cmocka_unit_test(an_unfinished_last_journal_entry_is_no_commit),
        cmocka_unit_test(a_damaged_journal_line_before_the_last_is_refused),
        cmocka_unit_test(a_commit_of_a_handle_that_did_not_replay_replays_first),
        cmocka_unit_test(repair_restores_from_the_journal_instead_of_cutting),
        cmocka_unit_test(bad_record_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
