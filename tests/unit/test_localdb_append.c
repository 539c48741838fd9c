/* Commits append to database.txt: the file is extended in place (never rewritten), a handle reads only the
 * lines appended since it last looked, a last line without its newline (a write cut short) is refused by
 * readers and commits and cut off by caf_localdb_repair, a reader that meets an append in progress waits
 * for the writer instead of misreading, and a staged payload file that no longer matches its revision is
 * not committed. */
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/localdb.h"
#include "test_support.h"

static void commit_one(caf_localdb *db, const char *name, const char *content, caf_iov iov)
{
    caf_db_commit *commit;
    caf_error err = {0};
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(commit, name, "txt", content, strlen(content), iov, &err), CAF_OK);
    if (caf_db_commit_finish(commit, &err) != CAF_OK)
        fail_msg("commit: %s", err.message);
}

static ino_t inode_of(const char *dir)
{
    char *path = caf_path_join(dir, CAF_LOCALDB_TEXT_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    free(path);
    return st.st_ino;
}

static void append_raw(const char *dir, const char *bytes, size_t size)
{
    char *path = caf_path_join(dir, CAF_LOCALDB_TEXT_FILE);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, size), (ssize_t)size);
    close(fd);
    free(path);
}

static void commits_extend_the_file_in_place(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbappend");
    test_write_file(dir, "database.txt", "# hand-written first line\ndbstore/Old 1 0,0,-1,-1\n");
    test_write_file(dir, "dbstore_Old_rev_1.txt", "old");
    caf_localdb *db, *other;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_open(dir, 0, &other, &err), CAF_OK);
    ino_t before = inode_of(dir);
    commit_one(db, "Gain", "g1", (caf_iov){1, 0, 1, 10});
    commit_one(other, "Gain", "g2", (caf_iov){1, 5, 1, 5}); /* other reads db's line first, then appends */
    commit_one(db, "T0", "t1", (caf_iov){1, 0, 1, -1});
    /* the same file, grown: a rewrite would have renamed a new file into place */
    assert_true(inode_of(dir) == before);
    char *text = test_read_file(dir, "database.txt");
    const char *kept = "# hand-written first line\ndbstore/Old 1 0,0,-1,-1\ndbstore/Gain ";
    assert_int_equal(strncmp(text, kept, strlen(kept)), 0);
    free(text);
    /* each handle holds every line, with its line number, and finds by the last-line rule */
    assert_int_equal(caf_localdb_entry_count(db), 4);
    assert_int_equal(caf_localdb_entry(db, 2)->line, 4);
    assert_int_equal(caf_localdb_reload(other, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(other), 4);
    for (int run = 0; run <= 11; run++) {
        const caf_db_entry *a = caf_localdb_find(db, "Gain", (caf_exprun){1, run});
        const caf_db_entry *b = caf_localdb_find(other, "Gain", (caf_exprun){1, run});
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a->revision, b->revision);
    }
    assert_int_equal(caf_localdb_find(db, "Gain", (caf_exprun){1, 5})->line, 4);
    assert_int_equal(caf_localdb_find(db, "Gain", (caf_exprun){1, 6})->line, 3);
    caf_localdb_close(db);
    caf_localdb_close(other);
    test_remove_tree(dir);
    free(dir);
}

/* A rewrite by hand (another file renamed into place, or the same file made shorter) is noticed: the
 * whole file is read again, not appended to what the handle held. */
static void a_rewritten_file_is_read_whole(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbrewrite");
    test_write_file(dir, "database.txt", "dbstore/A 1 0,0,-1,-1\ndbstore/A 2 0,0,-1,-1\n");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_string_equal(caf_localdb_find(db, "A", (caf_exprun){0, 1})->revision, "2");
    /* same length, other content, new file */
    test_write_file(dir, "database.txt", "dbstore/A 3 0,0,-1,-1\ndbstore/B 4 0,0,-1,-1\n");
    assert_int_equal(caf_localdb_reload(db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    assert_string_equal(caf_localdb_find(db, "A", (caf_exprun){0, 1})->revision, "3");
    /* the same file rewritten in place, longer, with other bytes before the old end */
    char *path = caf_path_join(dir, CAF_LOCALDB_TEXT_FILE);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fputs("dbstore/C 5 0,0,-1,-1\ndbstore/D 6 0,0,-1,-1\ndbstore/E 7 0,0,-1,-1\n", f);
    fclose(f);
    free(path);
    assert_int_equal(caf_localdb_reload(db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 3);
    assert_null(caf_localdb_find(db, "A", (caf_exprun){0, 1}));
    assert_string_equal(caf_localdb_find(db, "E", (caf_exprun){0, 1})->revision, "7");
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void torn_last_line_is_refused_then_repaired(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbtorn");
    test_write_file(dir, "database.txt", "");
    caf_localdb *db, *early;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    commit_one(db, "Gain", "g1", (caf_iov){1, 0, 1, 10});
    assert_int_equal(caf_localdb_open(dir, 0, &early, &err), CAF_OK);
    /* a killed append: "1,0,1,12" cut to "1,0,1,1" would read as a valid, wrong line */
    const char torn[] = "dbstore/Gain abcdef 1,0,1,1";
    append_raw(dir, torn, strlen(torn));
    caf_localdb *reader;
    assert_int_equal(caf_localdb_open(dir, 0, &reader, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "database.txt:2: the last line has no newline"));
    /* a handle opened before refuses it too, and so does a commit */
    assert_int_equal(caf_localdb_reload(early, &err), CAF_ERR_FORMAT);
    caf_db_commit *commit;
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(commit, "Gain", "txt", "g3", 2, (caf_iov){1, 0, 1, 1}, &err), CAF_OK);
    assert_int_equal(caf_db_commit_finish(commit, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "no newline"));
    size_t problems = 0;
    assert_int_equal(caf_localdb_check(dir, NULL, NULL, &problems, &err), CAF_OK);
    assert_int_equal(problems, 1);
    int line;
    size_t bytes;
    assert_int_equal(caf_localdb_repair(dir, &line, &bytes, &err), CAF_OK);
    assert_int_equal(line, 2);
    assert_int_equal(bytes, strlen(torn));
    assert_int_equal(caf_localdb_check(dir, NULL, NULL, &problems, &err), CAF_OK);
    assert_int_equal(problems, 0);
    assert_int_equal(caf_localdb_reload(early, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(early), 1);
    /* nothing left to repair; NUL bytes at the end (a power loss on some file systems) are cut as well */
    assert_int_equal(caf_localdb_repair(dir, &line, &bytes, &err), CAF_OK);
    assert_int_equal(line, 0);
    append_raw(dir, "\0\0\0\0", 4);
    assert_int_equal(caf_localdb_reload(early, &err), CAF_ERR_FORMAT);
    assert_int_equal(caf_localdb_repair(dir, &line, &bytes, &err), CAF_OK);
    assert_int_equal(bytes, 4);
    /* a complete comment without newline is no damage, and a commit starts a new line after it */
    append_raw(dir, "# note", 6);
    assert_int_equal(caf_localdb_repair(dir, &line, &bytes, &err), CAF_OK);
    assert_int_equal(line, 0);
    commit_one(db, "Gain", "g4", (caf_iov){1, 2, 1, 2});
    assert_int_equal(caf_localdb_entry_count(db), 2);
    assert_int_equal(caf_localdb_entry(db, 1)->line, 3);
    caf_localdb_close(early);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

/* A reader that finds the last line without its newline while a writer holds the lock waits for it and
 * reads the finished line: an append in progress is not damage. */
static void reader_waits_out_an_append_in_progress(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbinprogress");
    test_write_file(dir, "database.txt", "dbstore/Gain 1 0,0,-1,-1\n");
    char *lock_path = caf_path_join(dir, ".database.txt.lock");
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        caf_file_lock lock;
        if (caf_file_lock_acquire(&lock, lock_path, NULL) != CAF_OK)
            _exit(1);
        append_raw(dir, "dbstore/Gain 2 0,0,0,1", 22);
        if (write(go[1], "x", 1) != 1)
            _exit(1);
        usleep(300 * 1000);
        append_raw(dir, "2\n", 2);
        caf_file_lock_release(&lock);
        _exit(0);
    }
    char c;
    assert_int_equal(read(go[0], &c, 1), 1);
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    assert_int_equal(caf_localdb_entry(db, 1)->iov.run_high, 12);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    caf_localdb_close(db);
    close(go[0]);
    close(go[1]);
    free(lock_path);
    test_remove_tree(dir);
    free(dir);
}

static void damaged_staged_file_is_not_committed(void **state)
{
    (void)state;
    char *staging = test_make_temp_dir("dbstaging"), *target = test_make_temp_dir("dbtarget");
    caf_localdb *stage, *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(staging, CAF_LOCALDB_CREATE | CAF_LOCALDB_STAGING, &stage, &err), CAF_OK);
    commit_one(stage, "Gain", "good", (caf_iov){1, 0, 1, 0});
    assert_int_equal(caf_localdb_open(target, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    const caf_db_entry *e = caf_localdb_entry(stage, 0);
    char *file = caf_localdb_payload_path(stage, e, &err);
    assert_non_null(file);
    /* intact: committed under the same revision */
    caf_db_commit *commit;
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_staged_file(commit, e->name, file, e->iov, e->revision, &err), CAF_OK);
    assert_int_equal(caf_db_commit_finish(commit, &err), CAF_OK);
    assert_string_equal(caf_localdb_entry(db, 0)->revision, e->revision);
    /* damaged (what a power loss can leave of an unsynced file): refused, nothing added */
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("bad", f);
    fclose(f);
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_staged_file(commit, e->name, file, (caf_iov){2, 0, 2, 0}, e->revision, &err),
                     CAF_OK);
    assert_int_equal(caf_db_commit_finish(commit, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "the staged copy is damaged"));
    assert_int_equal(caf_localdb_entry_count(db), 1);
    free(file);
    caf_localdb_close(stage);
    caf_localdb_close(db);
    test_remove_tree(staging);
    test_remove_tree(target);
    free(staging);
    free(target);
}

/* Names in dir that start with prefix, counted; the first one copied to first (may be NULL). */
static int count_named(const char *dir, const char *prefix, char *first, size_t first_size)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) {
            if (n++ == 0 && first)
                snprintf(first, first_size, "%s", e->d_name);
        }
    closedir(d);
    return n;
}

/* A handle keeps one intent file for all its commits (emptied after each), instead of creating and
 * removing one per commit; closing the handle removes it. */
static void a_handle_reuses_its_intent_file(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbintent");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    commit_one(db, "A", "first", (caf_iov){1, 1, 1, 1});
    char first[256] = "", again[256] = "";
    assert_int_equal(count_named(dir, ".commit-intent", first, sizeof first), 1);
    char *path = caf_path_join(dir, first);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0); /* the commit is done: nothing to undo */
    ino_t inode = st.st_ino;
    commit_one(db, "A", "second", (caf_iov){1, 2, 1, 2});
    assert_int_equal(count_named(dir, ".commit-intent", again, sizeof again), 1);
    assert_string_equal(first, again);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_ino, inode);
    caf_localdb_close(db);
    assert_int_equal(count_named(dir, ".commit-intent", NULL, 0), 0);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* A staging database (one writer, nothing durable) has no lock file and no temporary files: its payload
 * files are written in place. */
static void a_staging_database_has_no_lock_file(void **state)
{
    (void)state;
    char *root = test_make_temp_dir("dbstaging"), *dir = caf_path_join(root, "database");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE | CAF_LOCALDB_STAGING, &db, &err), CAF_OK);
    commit_one(db, "A", "staged", (caf_iov){1, 1, 1, 1});
    commit_one(db, "B", "staged too", (caf_iov){1, 1, 1, 1});
    assert_int_equal(count_named(dir, ".", NULL, 0), 2); /* . and .. only */
    assert_int_equal(count_named(dir, "dbstore_", NULL, 0), 2);
    caf_localdb_close(db);
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    char *file = caf_localdb_payload_path(db, caf_localdb_entry(db, 1), &err);
    assert_non_null(file);
    char *text = NULL;
    size_t size = 0;
    assert_int_equal(caf_file_read(file, &text, &size, &err), CAF_OK);
    assert_int_equal(size, strlen("staged too"));
    free(text);
    free(file);
    caf_localdb_close(db);
    test_remove_tree(root);
    free(dir);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commits_extend_the_file_in_place),
        cmocka_unit_test(a_handle_reuses_its_intent_file),
        cmocka_unit_test(a_staging_database_has_no_lock_file),
        cmocka_unit_test(a_rewritten_file_is_read_whole),
        cmocka_unit_test(torn_last_line_is_refused_then_repaired),
        cmocka_unit_test(reader_waits_out_an_append_in_progress),
        cmocka_unit_test(damaged_staged_file_is_not_committed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
