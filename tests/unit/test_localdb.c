/* The local conditions database (conditions layer): reading basf2-style databases, lookups, commits with
 * content-hash revisions, all-or-nothing writes, concurrent writers, chains and checks. */
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

#include "caf/dbchain.h"
#include "caf/file.h"
#include "caf/hash.h"
#include "caf/localdb.h"
#include "test_support.h"

static const char basf2_database[] =
    "# a hand-written database as basf2 writes it, with legacy integer revisions\n"
    "dbstore/BeamSpot 1 0,0,0,-1\n"
    "\n"
    "   dbstore/BeamSpot 2 0,10,0,20   # overrides runs 10 to 20\n"
    "dbstore/Gains 3 1,0,-1,-1\n";

static char *make_basf2_db(void)
{
    char *dir = test_make_temp_dir("basf2db");
    test_write_file(dir, "database.txt", basf2_database);
    test_write_file(dir, "dbstore_BeamSpot_rev_1.root", "beam spot 1");
    test_write_file(dir, "dbstore_BeamSpot_rev_2.root", "beam spot 2");
    test_write_file(dir, "dbstore_Gains_rev_3.root", "gains 3");
    return dir;
}

static void reads_handwritten_basf2_database(void **state)
{
    (void)state;
    char *dir = make_basf2_db();
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 3);
    const caf_db_entry *e = caf_localdb_entry(db, 1);
    assert_string_equal(e->name, "BeamSpot");
    assert_string_equal(e->revision, "2");
    assert_int_equal(e->line, 4);
    assert_int_equal(e->iov.run_low, 10);
    /* the last matching line wins */
    assert_string_equal(caf_localdb_find(db, "BeamSpot", (caf_exprun){0, 15})->revision, "2");
    assert_string_equal(caf_localdb_find(db, "BeamSpot", (caf_exprun){0, 9})->revision, "1");
    assert_string_equal(caf_localdb_find(db, "BeamSpot", (caf_exprun){0, 21})->revision, "1");
    assert_null(caf_localdb_find(db, "BeamSpot", (caf_exprun){1, 0}));
    assert_string_equal(caf_localdb_find(db, "Gains", (caf_exprun){7, 3})->revision, "3");
    assert_null(caf_localdb_find(db, "Gains", (caf_exprun){0, 3}));
    assert_null(caf_localdb_find(db, "Unknown", (caf_exprun){0, 3}));
    char *path = caf_localdb_payload_path(db, caf_localdb_find(db, "BeamSpot", (caf_exprun){0, 15}), &err);
    assert_non_null(path);
    assert_non_null(strstr(path, "dbstore_BeamSpot_rev_2.root"));
    free(path);
    caf_localdb_close(db);
    /* a path to database.txt itself names the same database */
    char *text_path = caf_path_join(dir, "database.txt");
    assert_int_equal(caf_localdb_open(text_path, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 3);
    caf_localdb_close(db);
    free(text_path);
    test_remove_tree(dir);
    free(dir);
}

static void missing_payload_file_is_named(void **state)
{
    (void)state;
    char *dir = make_basf2_db();
    char *gone = caf_path_join(dir, "dbstore_Gains_rev_3.root");
    unlink(gone);
    free(gone);
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_null(caf_localdb_payload_path(db, caf_localdb_find(db, "Gains", (caf_exprun){1, 1}), &err));
    assert_int_equal(err.code, CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "dbstore_Gains_rev_3."));
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void expect_malformed(const char *text, int line, const char *reason)
{
    char *dir = test_make_temp_dir("baddb");
    test_write_file(dir, "database.txt", text);
    caf_localdb *db = (caf_localdb *)1;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_ERR_FORMAT);
    assert_null(db);
    char where[64];
    snprintf(where, sizeof where, "database.txt:%d: ", line);
    if (!strstr(err.message, where) || !strstr(err.message, reason))
        fail_msg("for %s got '%s', expected '%s' and '%s'", text, err.message, where, reason);
    test_remove_tree(dir);
    free(dir);
}

static void malformed_lines_report_file_and_line(void **state)
{
    (void)state;
    expect_malformed("dbstore/A 1 0,0,0,-1\ndbstore/B 1\n", 2, "found 2 fields");
    expect_malformed("dbstore/A 1 0,0,0,-1 extra\n", 1, "more than 3 fields");
    expect_malformed("\n\nA 1 0,0,0,-1\n", 3, "dbstore/NAME");
    expect_malformed("dbstore/A zz 0,0,0,-1\n", 1, "revision 'zz'");
    expect_malformed("dbstore/A 1 0,0,0\n", 1, "0,0,0");
    expect_malformed("dbstore/A 1 1,0,0,5\n", 1, "1,0,0,5");
    expect_malformed("dbstore/A 1 -1,-1,-1,-1\n", 1, "empty");
    expect_malformed("dbstore/ 1 0,0,-1,-1\n", 1, "empty");
    expect_malformed("dbstore/a..b 1 0,0,-1,-1\n", 1, "'..'");
    /* only the dbstore/ prefix names a payload (issue 12: any prefix used to be read as dbstore/) */
    expect_malformed("dbstore/A 1 0,0,-1,-1\nwhatever/Gain 1 0,0,-1,-1\n", 2, "'whatever/Gain' must be written as dbstore/NAME");
    expect_malformed("Dbstore/Gain 1 0,0,-1,-1\n", 1, "dbstore/NAME");
    expect_malformed("xdbstore/Gain 1 0,0,-1,-1\n", 1, "dbstore/NAME");
    expect_malformed("/Gain 1 0,0,-1,-1\n", 1, "dbstore/NAME");
}

static void missing_database_is_not_found_unless_created(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("newdb");
    char *sub = caf_path_join(dir, "deep/outputdb");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(sub, 0, &db, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "deep/outputdb"));
    assert_int_equal(caf_localdb_open(sub, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), 0);
    caf_localdb_close(db);
    assert_int_equal(caf_localdb_open(sub, 0, &db, &err), CAF_OK);
    caf_localdb_close(db);
    free(sub);
    test_remove_tree(dir);
    free(dir);
}

static void payload_names_are_checked(void **state)
{
    (void)state;
    caf_error err = {0};
    assert_int_equal(caf_payload_name_check("TestCalibMean", &err), CAF_OK);
    assert_int_equal(caf_payload_name_check("a.b_c-d", &err), CAF_OK);
    assert_int_equal(caf_payload_name_check("", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("a/b", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("..", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("x..y", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("a b", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("a\tb", &err), CAF_ERR_INVALID);
    assert_int_equal(caf_payload_name_check("a\nb", &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "whitespace"));
}

static void revision_kinds(void **state)
{
    (void)state;
    assert_true(caf_db_revision_is_hash("1a2b3c"));
    assert_true(caf_db_revision_is_hash("0123456789abcdef0123456789abcdef"));
    assert_false(caf_db_revision_is_hash("1"));
    assert_false(caf_db_revision_is_hash("12345"));
    assert_false(caf_db_revision_is_hash("xyzxyz"));
}

static void commit_names_revisions_by_md5_and_reuses_identical_files(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("commit");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    caf_db_commit *c;
    assert_int_equal(caf_db_commit_begin(db, &c, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(c, "Mean", "json", "{\"mean\":42}", 11, (caf_iov){0, 1, 0, 4}, &err),
                     CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(c, "Mean", "json", "{\"mean\":42}", 11, (caf_iov){0, 5, 0, -1}, &err),
                     CAF_OK);
    assert_int_equal(caf_db_commit_finish(c, &err), CAF_OK);
    char md5[CAF_MD5_HEX_SIZE];
    caf_md5_hex("{\"mean\":42}", 11, md5, NULL);
    char expected[128];
    snprintf(expected, sizeof expected, "dbstore/Mean %.6s 0,1,0,4\ndbstore/Mean %.6s 0,5,0,-1\n", md5, md5);
    char *text = test_read_file(dir, "database.txt");
    assert_string_equal(text, expected);
    free(text);
    char file[128];
    snprintf(file, sizeof file, "dbstore_Mean_rev_%.6s.json", md5);
    text = test_read_file(dir, file);
    assert_string_equal(text, "{\"mean\":42}");
    free(text);
    /* two lines, one file: identical content is stored once */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '^dbstore_') -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(caf_localdb_entry_count(db), 2);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void colliding_digest_prefix_gets_a_longer_revision(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("collide");
    char md5[CAF_MD5_HEX_SIZE];
    caf_md5_hex("new", 3, md5, NULL);
    /* A different file already holds the 6-digit name that "new" would get. */
    char taken[128];
    snprintf(taken, sizeof taken, "dbstore_P_rev_%.6s.txt", md5);
    test_write_file(dir, taken, "something else");
    test_write_file(dir, "database.txt", "");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    caf_db_commit *c;
    caf_db_commit_begin(db, &c, &err);
    assert_int_equal(caf_db_commit_add_bytes(c, "P", "txt", "new", 3, CAF_IOV_ALWAYS, &err), CAF_OK);
    assert_int_equal(caf_db_commit_finish(c, &err), CAF_OK);
    const caf_db_entry *e = caf_localdb_entry(db, 0);
    assert_int_equal(strlen(e->revision), 7);
    assert_memory_equal(e->revision, md5, 7);
    char *path = caf_localdb_payload_path(db, e, &err);
    char digest[CAF_MD5_HEX_SIZE];
    caf_md5_file_hex(path, digest, NULL);
    assert_string_equal(digest, md5);
    free(path);
    /* same content in another format is a different payload file too */
    caf_db_commit_begin(db, &c, &err);
    assert_int_equal(caf_db_commit_add_bytes(c, "Q", "json", "new", 3, CAF_IOV_ALWAYS, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(c, "Q", "txt", "new", 3, CAF_IOV_ALWAYS, &err), CAF_OK);
    assert_int_equal(caf_db_commit_finish(c, &err), CAF_OK);
    assert_int_equal(strlen(caf_localdb_entry(db, 1)->revision), 6);
    assert_int_equal(strlen(caf_localdb_entry(db, 2)->revision), 7);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void failed_commit_adds_nothing(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("rollback");
    test_write_file(dir, "database.txt", "dbstore/Old 1 0,0,-1,-1\n");
    test_write_file(dir, "dbstore_Old_rev_1.root", "old");
    char md5[CAF_MD5_HEX_SIZE];
    caf_md5_hex("second", 6, md5, NULL);
    /* A folder where the second payload's file must go makes its write fail mid-commit. */
    char blocker[4200];
    snprintf(blocker, sizeof blocker, "%s/dbstore_B_rev_%.6s.bin", dir, md5);
    assert_int_equal(mkdir(blocker, 0755), 0);
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    caf_db_commit *c;
    caf_db_commit_begin(db, &c, &err);
    assert_int_equal(caf_db_commit_add_bytes(c, "A", "bin", "first", 5, CAF_IOV_ALWAYS, &err), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(c, "B", "bin", "second", 6, CAF_IOV_ALWAYS, &err), CAF_OK);
    assert_int_not_equal(caf_db_commit_finish(c, &err), CAF_OK);
    assert_non_null(strstr(err.message, "payload 'B'"));
    char *text = test_read_file(dir, "database.txt");
    assert_string_equal(text, "dbstore/Old 1 0,0,-1,-1\n");
    free(text);
    /* the first payload's file was removed again; only the old file and the blocker remain */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c '^dbstore_A') -eq 0", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(caf_localdb_entry_count(db), 1);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void bad_payloads_are_refused_when_staged(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("refuse");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    caf_db_commit *c;
    caf_db_commit_begin(db, &c, &err);
    assert_int_equal(caf_db_commit_add_bytes(c, "A", "bin", "x", 1, CAF_IOV_EMPTY, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "empty IoV"));
    assert_int_equal(caf_db_commit_add_bytes(c, "A", "bin", "x", 1, (caf_iov){2, 0, 1, 0}, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_add_bytes(c, "A/B", "bin", "x", 1, CAF_IOV_ALWAYS, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_add_bytes(c, "A", "b/n", "x", 1, CAF_IOV_ALWAYS, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_add_bytes(c, "A", "", "x", 1, CAF_IOV_ALWAYS, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_db_commit_add_file(c, "A", "/no/such/payload.root", CAF_IOV_ALWAYS, &err),
                     CAF_ERR_NOT_FOUND);
    caf_db_commit_abort(c);
    char *text = test_read_file(dir, "database.txt");
    assert_string_equal(text, "");
    free(text);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void concurrent_writers_lose_nothing(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("concurrent");
    enum { WRITERS = 6, COMMITS = 15 };
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    caf_localdb_close(db);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            caf_localdb *mine;
            if (caf_localdb_open(dir, 0, &mine, NULL) != CAF_OK)
                _exit(1);
            for (int i = 0; i < COMMITS; i++) {
                char content[64];
                snprintf(content, sizeof content, "writer %d commit %d", w, i);
                caf_db_commit *c;
                caf_db_commit_begin(mine, &c, NULL);
                caf_db_commit_add_bytes(c, "Shared", "txt", content, strlen(content), (caf_iov){w, i, w, i}, NULL);
                caf_db_commit_add_bytes(c, "Same", "txt", "same", 4, (caf_iov){w, i, w, i}, NULL);
                if (caf_db_commit_finish(c, NULL) != CAF_OK)
                    _exit(2);
            }
            caf_localdb_close(mine);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(db), WRITERS * COMMITS * 2);
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < COMMITS; i++) {
            const caf_db_entry *e = caf_localdb_find(db, "Shared", (caf_exprun){w, i});
            assert_non_null(e);
            char *path = caf_localdb_payload_path(db, e, &err);
            assert_non_null(path);
            char *data;
            assert_int_equal(caf_file_read(path, &data, NULL, &err), CAF_OK);
            char content[64];
            snprintf(content, sizeof content, "writer %d commit %d", w, i);
            assert_string_equal(data, content);
            free(data);
            free(path);
        }
    }
    size_t problems = 99;
    assert_int_equal(caf_localdb_check(dir, NULL, NULL, &problems, &err), CAF_OK);
    assert_int_equal(problems, 0);
    caf_localdb_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void reload_sees_another_handles_commit(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("reload");
    caf_localdb *reader, *writer;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(dir, CAF_LOCALDB_CREATE, &reader, &err), CAF_OK);
    assert_int_equal(caf_localdb_open(dir, 0, &writer, &err), CAF_OK);
    caf_db_commit *c;
    caf_db_commit_begin(writer, &c, &err);
    caf_db_commit_add_bytes(c, "X", "bin", "1", 1, CAF_IOV_ALWAYS, &err);
    assert_int_equal(caf_db_commit_finish(c, &err), CAF_OK);
    assert_null(caf_localdb_find(reader, "X", (caf_exprun){3, 3}));
    assert_int_equal(caf_localdb_reload(reader, &err), CAF_OK);
    const caf_db_entry *e = caf_localdb_find(reader, "X", (caf_exprun){3, 3});
    assert_non_null(e);
    char *path = caf_localdb_payload_path(reader, e, &err);
    assert_non_null(path);
    free(path);
    caf_localdb_close(reader);
    caf_localdb_close(writer);
    test_remove_tree(dir);
    free(dir);
}

static void chain_takes_first_database_with_a_match(void **state)
{
    (void)state;
    char *first = test_make_temp_dir("chain1");
    char *second = make_basf2_db();
    test_write_file(first, "database.txt", "dbstore/BeamSpot 7 0,15,0,15\n");
    test_write_file(first, "dbstore_BeamSpot_rev_7.root", "override");
    const char *paths[] = {first, second};
    caf_dbchain *chain;
    caf_error err = {0};
    assert_int_equal(caf_dbchain_open(paths, 2, &chain, &err), CAF_OK);
    assert_int_equal(caf_dbchain_size(chain), 2);
    caf_localdb *where;
    const caf_db_entry *e = caf_dbchain_find(chain, "BeamSpot", (caf_exprun){0, 15}, &where);
    assert_string_equal(e->revision, "7");
    assert_ptr_equal(where, caf_dbchain_database(chain, 0));
    e = caf_dbchain_find(chain, "BeamSpot", (caf_exprun){0, 16}, &where);
    assert_string_equal(e->revision, "2");
    assert_ptr_equal(where, caf_dbchain_database(chain, 1));
    assert_null(caf_dbchain_find(chain, "Nothing", (caf_exprun){0, 16}, &where));
    assert_null(where);
    caf_dbchain_close(chain);
    const char *bad[] = {first, "/no/such/db"};
    assert_int_equal(caf_dbchain_open(bad, 2, &chain, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "/no/such/db"));
    test_remove_tree(first);
    test_remove_tree(second);
    free(first);
    free(second);
}

struct collected {
    int count;
    char text[4096];
};

static void collect_problem(const char *problem, void *userdata)
{
    struct collected *c = userdata;
    c->count++;
    strncat(c->text, problem, sizeof c->text - strlen(c->text) - 2);
    strcat(c->text, "\n");
}

static void check_reports_every_problem(void **state)
{
    (void)state;
    char *dir = make_basf2_db();
    char md5[CAF_MD5_HEX_SIZE];
    caf_md5_hex("good", 4, md5, NULL);
    char text[1024];
    snprintf(text, sizeof text,
             "%s"
             "dbstore/Good %.6s 0,0,-1,-1\n"
             "dbstore/Tampered %.6s 0,0,-1,-1\n"
             "dbstore/Missing 9 0,0,-1,-1\n"
             "not a line\n"
             "dbstore/Bad 1 3,0,2,0\n",
             basf2_database, md5, md5);
    test_write_file(dir, "database.txt", text);
    char name[128];
    snprintf(name, sizeof name, "dbstore_Good_rev_%.6s.txt", md5);
    test_write_file(dir, name, "good");
    snprintf(name, sizeof name, "dbstore_Tampered_rev_%.6s.txt", md5);
    test_write_file(dir, name, "tampered");
    struct collected c = {0};
    size_t problems = 0;
    caf_error err = {0};
    assert_int_equal(caf_localdb_check(dir, collect_problem, &c, &problems, &err), CAF_OK);
    assert_int_equal(problems, 4);
    assert_int_equal(c.count, 4);
    assert_non_null(strstr(c.text, "database.txt:7: revision"));
    assert_non_null(strstr(c.text, "database.txt:8: "));
    assert_non_null(strstr(c.text, "dbstore_Missing_rev_9."));
    assert_non_null(strstr(c.text, "database.txt:9: "));
    assert_non_null(strstr(c.text, "database.txt:10: "));
    assert_null(strstr(c.text, "database.txt:6: "));
    assert_int_equal(caf_localdb_check("/no/such/db", collect_problem, &c, &problems, &err), CAF_ERR_NOT_FOUND);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_handwritten_basf2_database),
        cmocka_unit_test(missing_payload_file_is_named),
        cmocka_unit_test(malformed_lines_report_file_and_line),
        cmocka_unit_test(missing_database_is_not_found_unless_created),
        cmocka_unit_test(payload_names_are_checked),
        cmocka_unit_test(revision_kinds),
        cmocka_unit_test(commit_names_revisions_by_md5_and_reuses_identical_files),
        cmocka_unit_test(colliding_digest_prefix_gets_a_longer_revision),
        cmocka_unit_test(failed_commit_adds_nothing),
        cmocka_unit_test(bad_payloads_are_refused_when_staged),
        cmocka_unit_test(concurrent_writers_lose_nothing),
        cmocka_unit_test(reload_sees_another_handles_commit),
        cmocka_unit_test(chain_takes_first_database_with_a_match),
        cmocka_unit_test(check_reports_every_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
