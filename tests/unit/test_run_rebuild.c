/* The final database a run leaves (run_db_rebuild in src/orchestration/run_outputs.c): every source's lines
 * in order with their payload files and lineage records, in a temporary folder renamed into place and
 * made durable whole, so that the sync calls do not grow with the number of payloads (they were two per
 * payload and two per lineage record: 40,000 at 10,000 executions). A rebuild replaces what an earlier
 * one left and leaves no temporary folder.
 *
 * The sync calls are counted by sync_counter.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "orchestration/run_internal.h"
#include "test_support.h"

#include "sync_counter.h"

/* A database at dir/name with count payloads named name, each committed with a lineage record. */
static char *source_database(const char *dir, const char *name, int count)
{
    char *path = caf_path_join(dir, name);
    caf_localdb *db;
    assert_int_equal(caf_localdb_open(path, CAF_LOCALDB_CREATE, &db, NULL), CAF_OK);
    for (int i = 0; i < count; i++) {
        char data[64], record_file[64];
        snprintf(data, sizeof data, "{\"value\": %d}", i);
        snprintf(record_file, sizeof record_file, "%s.execution_%d.json", name, i);
        caf_db_commit *c;
        assert_int_equal(caf_db_commit_begin(db, &c, NULL), CAF_OK);
        caf_iov iov = {1, i, 1, i};
        assert_int_equal(caf_db_commit_add_bytes(c, name, "json", data, strlen(data), iov, NULL), CAF_OK);
        json_t *record = json_pack("{s:s, s:i}", "format", CAF_LINEAGE_FORMAT, "index", i);
        assert_int_equal(caf_db_commit_set_lineage(c, record_file, record, NULL), CAF_OK);
        json_decref(record);
        assert_int_equal(caf_db_commit_finish(c, NULL), CAF_OK);
    }
    caf_localdb_close(db);
    return path;
}

static size_t entries_in(const char *path)
{
    DIR *d = opendir(path);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Rebuilds dir/database from two sources of count payloads each; returns the sync calls it made. */
static int rebuild(const char *dir, int count)
{
    char *a = source_database(dir, "Gain", count), *b = source_database(dir, "Offset", count);
    const char *sources[] = {a, b};
    sync_calls = 0;
    caf_error err = {0};
    assert_int_equal(run_db_rebuild(dir, sources, 2, &err), CAF_OK);
    int calls = sync_calls;

    char *final = caf_path_join(dir, "database");
    caf_localdb *out;
    assert_int_equal(caf_localdb_open(final, 0, &out, NULL), CAF_OK);
    assert_int_equal(caf_localdb_entry_count(out), (size_t)(2 * count));
    for (int i = 0; i < 2 * count; i++) {
        const caf_db_entry *e = caf_localdb_entry(out, (size_t)i);
        assert_string_equal(e->name, i < count ? "Gain" : "Offset");
        assert_int_equal(e->iov.run_low, i % count);
        char *file = caf_localdb_payload_path(out, e, NULL);
        assert_non_null(file);
        char *data;
        size_t size;
        assert_int_equal(caf_file_read(file, &data, &size, NULL), CAF_OK);
        char want[64];
        snprintf(want, sizeof want, "{\"value\": %d}", i % count);
        assert_string_equal(data, want);
        free(data);
        free(file);
    }
    caf_localdb_close(out);
    char *lineage = caf_path_join(final, CAF_LINEAGE_DIR), *tmp = caf_path_join(dir, ".database.tmp");
    assert_int_equal(entries_in(lineage), (size_t)(2 * count));
    assert_false(caf_path_exists(tmp));
    test_remove_tree(a);
    test_remove_tree(b);
    free(lineage);
    free(tmp);
    free(final);
    free(a);
    free(b);
    return calls;
}

static void the_sync_calls_do_not_grow_with_the_payloads(void **unused)
{
    (void)unused;
    char *small = test_make_temp_dir("run-rebuild"), *big = test_make_temp_dir("run-rebuild");
    int few = rebuild(small, 3), many = rebuild(big, 60);
    print_message("sync calls: %d for 6 payloads, %d for 120\n", few, many);
    assert_int_equal(few, many);
    assert_true(many <= 4); /* syncfs, the lineage folder, the folder, its parent after the rename */
    test_remove_tree(small);
    test_remove_tree(big);
    free(small);
    free(big);
}

static void a_rebuild_replaces_the_earlier_database(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run-rebuild");
    rebuild(dir, 4);
    rebuild(dir, 2); /* fewer payloads: nothing of the first rebuild may remain */
    char *final = caf_path_join(dir, "database"), *old = caf_path_join(dir, ".database.old");
    assert_int_equal(entries_in(final), 2 * 2 + 2); /* payload files, database.txt, lineage/ */
    assert_false(caf_path_exists(old));
    test_remove_tree(dir);
    free(final);
    free(old);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_sync_calls_do_not_grow_with_the_payloads),
        cmocka_unit_test(a_rebuild_replaces_the_earlier_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
