/* The CAF run's state database and helpers on real SQLite and real local databases: transitions are rows,
 * a strategy state survives the round trip through execution and boundary rows, dropping an iteration
 * keeps what it should, the execution commit adds nothing when repeated, and configuration differences
 * name the changed keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caf/file.h"
#include "caf/localdb.h"
#include "orchestration/run_internal.h"
#include "test_support.h"

static int count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = run_db_prepare(db, NULL, sql, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void add_calibration(sqlite3 *db, const char *name)
{
    assert_int_equal(run_db_exec(db, NULL,
                                 "INSERT INTO calibrations(name, position, state, iteration, config, config_hash, updated)"
                                 " VALUES(?, 0, 'init', 0, '{}', '', 0)", "t", name),
                     CAF_OK);
}

static void transitions_are_rows(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_state");
    sqlite3 *db;
    assert_int_equal(run_db_open(dir, RUN_DB_CREATE, &db, NULL), CAF_OK);
    add_calibration(db, "gain");
    assert_int_equal(run_db_set_state(db, "gain", "init", "running_collector", 0, NULL, NULL), CAF_OK);
    assert_int_equal(run_db_set_state(db, "gain", "running_collector", "collector_failed", 0, "subjob 3 failed", NULL),
                     CAF_OK);
    run_cal_row row;
    assert_int_equal(run_db_load_calibration(db, "gain", &row, NULL), CAF_OK);
    assert_true(row.found);
    assert_string_equal(row.state, "collector_failed");
    assert_string_equal(row.reason, "subjob 3 failed");
    assert_string_equal(row.config, "{}");
    free(row.config);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM transitions WHERE calibration = 'gain'"), 2);
    assert_int_equal(run_db_load_calibration(db, "other", &row, NULL), CAF_OK);
    assert_false(row.found);
    sqlite3_close(db);

    /* A reader opens the same file read-only, and a missing file is not created for it. */
    assert_int_equal(run_db_open(dir, RUN_DB_READ, &db, NULL), CAF_OK);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM calibrations"), 1);
    sqlite3_close(db);
    char *missing = test_make_temp_dir("run_state_missing");
    caf_error err = {0};
    assert_int_not_equal(run_db_open(missing, RUN_DB_READ, &db, &err), CAF_OK);
    sqlite3_close(db);
    test_remove_tree(missing);
    free(missing);
    test_remove_tree(dir);
    free(dir);
}

static void strategy_state_round_trip(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_state");
    sqlite3 *db;
    assert_int_equal(run_db_open(dir, RUN_DB_CREATE, &db, NULL), CAF_OK);
    caf_exprun r1[] = {{1, 1}}, r2[] = {{1, 2}, {1, 3}};
    caf_execution e0 = {.index = 0, .iteration = 1, .runs = r1, .run_count = 1, .iov = {1, 1, 1, 1},
                        .result = CAF_RESULT_OK, .committed = false};
    caf_execution e1 = {.index = 1, .iteration = 1, .runs = r2, .run_count = 2, .iov = {1, 2, 1, -1},
                        .result = CAF_RESULT_NOT_ENOUGH_DATA};
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e0, "fine", NULL, NULL), CAF_OK);
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e1, NULL, NULL, NULL), CAF_OK);
    e0.committed = true; /* an update keeps the message */
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e0, NULL, NULL, NULL), CAF_OK);
    caf_exprun b[] = {{2, 0}, {2, 5}};
    caf_found_boundaries found = {.exp = 2, .boundaries = b, .count = 2};
    assert_int_equal(run_db_save_boundaries(db, "gain", 1, 0, &found, NULL), CAF_OK);

    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run_db_load_strategy(db, "gain", 1, 0, &s, NULL), CAF_OK);
    assert_int_equal(s.execution_count, 2);
    assert_int_equal(s.executions[0].run_count, 1);
    assert_true(s.executions[0].committed);
    assert_int_equal(s.executions[0].result, CAF_RESULT_OK);
    assert_int_equal(s.executions[1].run_count, 2);
    assert_int_equal(s.executions[1].runs[1].run, 3);
    assert_int_equal(s.executions[1].iov.run_high, -1);
    assert_int_equal(s.executions[1].result, CAF_RESULT_NOT_ENOUGH_DATA);
    assert_int_equal(s.found_count, 1);
    assert_int_equal(s.found[0].exp, 2);
    assert_int_equal(s.found[0].boundaries[1].run, 5);
    caf_strategy_state_clear(&s);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM executions WHERE message = 'fine'"), 1);

    /* Other iterations and algorithms do not mix in. */
    caf_strategy_state_init(&s);
    assert_int_equal(run_db_load_strategy(db, "gain", 0, 0, &s, NULL), CAF_OK);
    assert_int_equal(s.execution_count, 0);
    caf_strategy_state_clear(&s);

    assert_int_equal(run_db_save_outcome(db, "gain", 1, 0, "P", CAF_OUTCOME_ITERATE, "", NULL), CAF_OK);
    caf_strategy_outcome outcome;
    char reason[64];
    assert_int_equal(run_db_load_outcome(db, "gain", 1, 0, &outcome, reason, sizeof reason, NULL), CAF_OK);
    assert_int_equal(outcome, CAF_OUTCOME_ITERATE);
    assert_int_equal(run_db_load_outcome(db, "gain", 1, 1, &outcome, NULL, 0, NULL), CAF_OK);
    assert_int_equal(outcome, CAF_OUTCOME_NONE);
    sqlite3_close(db);
    test_remove_tree(dir);
    free(dir);
}

/* An execution's output state is recorded with its row, in the same statement: the next execution's input
 * is as durable as the record that it ran. An update without one keeps it. */
static void the_last_state_is_recorded_with_the_execution(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_state");
    sqlite3 *db;
    assert_int_equal(run_db_open(dir, RUN_DB_CREATE, &db, NULL), CAF_OK);
    char *state = (char *)"sentinel";
    assert_int_equal(run_db_load_last_state(db, "gain", 0, 0, &state, NULL), CAF_OK);
    assert_null(state);
    caf_exprun r1[] = {{1, 1}}, r2[] = {{1, 2}};
    caf_execution e0 = {.index = 0, .runs = r1, .run_count = 1, .iov = {1, 1, 1, 1}, .result = CAF_RESULT_OK};
    caf_execution e1 = {.index = 1, .runs = r2, .run_count = 1, .iov = {1, 2, 1, 2}, .result = CAF_RESULT_OK};
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e0, "", "{\"n\":1}", NULL), CAF_OK);
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e1, "", "{\"n\":2}", NULL), CAF_OK);
    e1.committed = true;
    assert_int_equal(run_db_save_execution(db, "gain", 0, &e1, NULL, NULL, NULL), CAF_OK);
    assert_int_equal(run_db_load_last_state(db, "gain", 0, 0, &state, NULL), CAF_OK);
    assert_string_equal(state, "{\"n\":2}");
    free(state);
    /* another algorithm has none */
    assert_int_equal(run_db_load_last_state(db, "gain", 0, 1, &state, NULL), CAF_OK);
    assert_null(state);
    sqlite3_close(db);
    test_remove_tree(dir);
    free(dir);
}

/* A state database written before rows had states gets the column, its rows none (their states are read
 * from the executions' state.json). */
static void an_older_state_database_gets_the_state_column(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_state");
    char *path = caf_path_join(dir, CAF_RUN_STATE_FILE);
    sqlite3 *old;
    assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
    assert_int_equal(sqlite3_exec(old, "CREATE TABLE executions(calibration TEXT NOT NULL, iteration INTEGER NOT NULL,"
                                       " algorithm INTEGER NOT NULL, idx INTEGER NOT NULL, runs TEXT NOT NULL, iov TEXT "
                                       "NOT NULL, result TEXT NOT NULL, committed INTEGER NOT NULL, message TEXT, "
                                       "PRIMARY KEY(calibration, iteration, algorithm, idx));"
                                       "INSERT INTO executions VALUES('gain', 0, 0, 0, '[[1,1]]', '1,1,1,1', 'ok', 1, '')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(old);
    sqlite3 *db;
    assert_int_equal(run_db_open(dir, RUN_DB_CREATE, &db, NULL), CAF_OK);
    char *state = (char *)"sentinel";
    assert_int_equal(run_db_load_last_state(db, "gain", 0, 0, &state, NULL), CAF_OK);
    assert_null(state);
    sqlite3_close(db);
    test_remove_tree(dir);
    free(path);
    free(dir);
}

static void dropping_an_iteration(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_state");
    sqlite3 *db;
    assert_int_equal(run_db_open(dir, RUN_DB_CREATE, &db, NULL), CAF_OK);
    for (int it = 0; it < 3; it++) {
        caf_exprun r[] = {{1, 1}};
        caf_execution e = {.index = 0, .iteration = it, .runs = r, .run_count = 1, .iov = {1, 1, 1, 1}};
        assert_int_equal(run_db_save_execution(db, "gain", 0, &e, NULL, NULL, NULL), CAF_OK);
        assert_int_equal(run_db_exec(db, NULL, "INSERT INTO subjobs(calibration, iteration, idx, status, attempt, files)"
                                               " VALUES('gain', ?, 0, 'completed', 1, 1)", "i", it),
                         CAF_OK);
    }
    assert_int_equal(run_db_drop(db, "gain", 1, true, NULL), CAF_OK);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM executions"), 1);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM subjobs"), 2); /* iteration 1's collector stays */
    assert_int_equal(run_db_drop(db, "gain", 0, false, NULL), CAF_OK);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM executions"), 0);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM subjobs"), 0);
    sqlite3_close(db);
    test_remove_tree(dir);
    free(dir);
}

static void add_payload(const char *path, const char *name, const char *text, caf_iov iov)
{
    caf_localdb *db;
    caf_db_commit *commit;
    assert_int_equal(caf_localdb_open(path, CAF_LOCALDB_CREATE, &db, NULL), CAF_OK);
    assert_int_equal(caf_db_commit_begin(db, &commit, NULL), CAF_OK);
    assert_int_equal(caf_db_commit_add_bytes(commit, name, "json", text, strlen(text), iov, NULL), CAF_OK);
    assert_int_equal(caf_db_commit_finish(commit, NULL), CAF_OK);
    caf_localdb_close(db);
}

static size_t lines_of(const char *path)
{
    caf_localdb *db;
    assert_int_equal(caf_localdb_open(path, 0, &db, NULL), CAF_OK);
    size_t n = caf_localdb_entry_count(db);
    caf_localdb_close(db);
    return n;
}

static void a_repeated_commit_adds_nothing(void **unused)
{
    (void)unused;
    char *dir = test_make_temp_dir("run_copy");
    char exec1[4200], exec2[4200], out[4200], none[4200];
    snprintf(exec1, sizeof exec1, "%s/exec1", dir);
    snprintf(exec2, sizeof exec2, "%s/exec2", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(none, sizeof none, "%s/none", dir);
    add_payload(exec1, "A", "{\"v\": 1}", (caf_iov){1, 1, 1, 3});
    add_payload(exec2, "A", "{\"v\": 2}", (caf_iov){1, 4, 1, 9});
    assert_int_equal(run_db_copy_payloads(exec1, out, true, NULL), CAF_OK);
    assert_int_equal(run_db_copy_payloads(exec1, out, true, NULL), CAF_OK); /* the record was lost */
    assert_int_equal(lines_of(out), 1);
    assert_int_equal(run_db_copy_payloads(exec2, out, true, NULL), CAF_OK);
    assert_int_equal(lines_of(out), 2);
    /* exec1's lines are no longer the tail: committing it again is a new commit (later wins). */
    assert_int_equal(run_db_copy_payloads(exec1, out, true, NULL), CAF_OK);
    assert_int_equal(lines_of(out), 3);
    /* The merged database copies everything, duplicates included. */
    assert_int_equal(run_db_copy_payloads(exec1, out, false, NULL), CAF_OK);
    assert_int_equal(lines_of(out), 4);
    /* An execution without payloads has no database: nothing to do. */
    assert_int_equal(run_db_copy_payloads(none, out, true, NULL), CAF_OK);
    assert_int_equal(lines_of(out), 4);
    test_remove_tree(dir);
    free(dir);
}

static void configuration_differences_name_keys(void **unused)
{
    (void)unused;
    json_t *a = json_pack("{s:i, s:s, s:[i]}", "max_iterations", 5, "granularity", "run", "ignored_runs", 1);
    json_t *b = json_pack("{s:i, s:s, s:[i], s:b}", "max_iterations", 3, "granularity", "run", "ignored_runs", 1,
                          "new", 1);
    char keys[128];
    run_config_diff(a, b, keys, sizeof keys);
    assert_string_equal(keys, "max_iterations, new");
    run_config_diff(b, a, keys, sizeof keys);
    assert_string_equal(keys, "max_iterations, new");
    run_config_diff(a, a, keys, sizeof keys);
    assert_string_equal(keys, "");
    json_decref(a);
    json_decref(b);

    caf_campaign c;
    caf_calibration_config *cal;
    assert_int_equal(caf_campaign_init(&c, NULL), CAF_OK);
    assert_int_equal(caf_campaign_add_calibration(&c, "gain", &cal, NULL), CAF_OK);
    assert_int_equal(caf_calibration_set_collector(cal, "C", NULL, NULL), CAF_OK);
    json_t *before = run_calibration_config_json(&c, cal);
    assert_non_null(before);
    assert_int_equal(json_integer_value(json_object_get(before, "max_iterations")), 5); /* defaults included */
    assert_int_equal(caf_calibration_add_ignored_run(cal, (caf_exprun){1, 7}, NULL), CAF_OK);
    json_t *after = run_calibration_config_json(&c, cal);
    run_config_diff(before, after, keys, sizeof keys);
    assert_string_equal(keys, "ignored_runs");
    json_decref(before);
    json_decref(after);

    /* An algorithm's limits are its own or the campaign's defaults: changing either is a change. */
    caf_algorithm_config *alg;
    assert_int_equal(caf_calibration_add_algorithm(cal, "A", NULL, NULL, (caf_mark){0, 0}, &alg, NULL), CAF_OK);
    before = run_calibration_config_json(&c, cal);
    json_t *limits = json_array_get(json_object_get(before, "algorithms"), 0);
    assert_true(json_real_value(json_object_get(limits, "time_limit")) == 86400.0);
    assert_true(json_is_null(json_object_get(limits, "memory_limit")));
    c.algorithm_memory_limit_mb = 2048;
    after = run_calibration_config_json(&c, cal);
    limits = json_array_get(json_object_get(after, "algorithms"), 0);
    assert_int_equal(json_integer_value(json_object_get(limits, "memory_limit")), 2048);
    run_config_diff(before, after, keys, sizeof keys);
    assert_string_equal(keys, "algorithms");
    json_decref(after);
    alg->time_limit = 2;
    after = run_calibration_config_json(&c, cal);
    limits = json_array_get(json_object_get(after, "algorithms"), 0);
    assert_true(json_real_value(json_object_get(limits, "time_limit")) == 2.0);
    json_decref(before);
    json_decref(after);
    caf_campaign_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transitions_are_rows),
        cmocka_unit_test(strategy_state_round_trip),
        cmocka_unit_test(the_last_state_is_recorded_with_the_execution),
        cmocka_unit_test(an_older_state_database_gets_the_state_column),
        cmocka_unit_test(dropping_an_iteration),
        cmocka_unit_test(a_repeated_commit_adds_nothing),
        cmocka_unit_test(configuration_differences_name_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
