/* The lookup index of the local database: on random databases with overlapping IoVs, open ends (-1) and
 * several experiments, caf_localdb_find answers exactly what a scan of every line in file order gives
 * under basf2's last-line-wins rule, after opening and after commits append lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/localdb.h"
#include "test_support.h"

static const char *const names[] = {"Gains", "T0", "BeamSpot"};
#define NAME_COUNT 3
#define MAX_EXP 3
#define MAX_RUN 12

static uint64_t rng_state;

static unsigned next_random(unsigned bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % bound);
}

/* A valid IoV of one of the shapes database.txt files hold, as text. */
static void random_iov(char *buf, size_t size)
{
    int e1 = (int)next_random(MAX_EXP + 1), e2 = e1 + (int)next_random(2);
    int r1 = (int)next_random(MAX_RUN + 1), r2 = (int)next_random(MAX_RUN + 1);
    if (e2 > MAX_EXP)
        e2 = MAX_EXP;
    if (e1 == e2 && r2 < r1) {
        int t = r1;
        r1 = r2;
        r2 = t;
    }
    switch (next_random(8)) {
    case 0: /* one run */
        snprintf(buf, size, "%d,%d,%d,%d", e1, r1, e1, r1);
        break;
    case 1: /* a whole experiment */
        snprintf(buf, size, "%d,-1,%d,-1", e1, e1);
        break;
    case 2: /* open above */
        snprintf(buf, size, "%d,%d,-1,-1", e1, r1);
        break;
    case 3: /* open below */
        snprintf(buf, size, "-1,-1,%d,%d", e2, r2);
        break;
    case 4: /* always */
        snprintf(buf, size, "0,0,-1,-1");
        break;
    case 5: /* to the end of an experiment */
        snprintf(buf, size, "%d,%d,%d,-1", e1, r1, e2);
        break;
    default: /* a range, possibly across experiments */
        snprintf(buf, size, "%d,%d,%d,%d", e1, r1, e2, r2);
        break;
    }
}

/* The rule itself, with no index: the last line in file order whose IoV contains r. */
static const caf_db_entry *scan_last_line(const caf_localdb *db, const char *name, caf_exprun r)
{
    for (size_t i = caf_localdb_entry_count(db); i-- > 0;) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        if (strcmp(e->name, name) == 0 && caf_iov_contains_exprun(e->iov, r))
            return e;
    }
    return NULL;
}

/* Every name (and one unknown), every experiment and run around the ones used, and the extremes. */
static void expect_index_equals_scan(const caf_localdb *db, int seed)
{
    static const int extra_runs[] = {-1, INT_MAX - 1, INT_MAX};
    for (int n = 0; n <= NAME_COUNT; n++) {
        const char *name = n < NAME_COUNT ? names[n] : "Unknown";
        for (int exp = -1; exp <= MAX_EXP + 2; exp++)
            for (int k = 0; k < MAX_RUN + 3 + 3; k++) {
                int run = k < MAX_RUN + 3 ? k - 1 : extra_runs[k - MAX_RUN - 3];
                caf_exprun r = {exp, run};
                const caf_db_entry *want = scan_last_line(db, name, r);
                const caf_db_entry *got = caf_localdb_find(db, name, r);
                if (want != got) {
                    print_error("seed %d: %s at %d,%d: index gives line %d, the scan line %d\n", seed, name, exp,
                                run, got ? got->line : 0, want ? want->line : 0);
                    fail();
                }
            }
    }
}

static char *random_database_text(size_t lines)
{
    size_t capacity = lines * 64 + 64, len = 0;
    char *text = malloc(capacity);
    assert_non_null(text);
    len += (size_t)snprintf(text, capacity, "# random database\n");
    for (size_t i = 0; i < lines; i++) {
        char iov[64];
        random_iov(iov, sizeof iov);
        if (next_random(10) == 0)
            len += (size_t)snprintf(text + len, capacity - len, "\n");
        len += (size_t)snprintf(text + len, capacity - len, "dbstore/%s %zu %s\n", names[next_random(NAME_COUNT)],
                                i + 1, iov);
    }
    return text;
}

static void index_answers_as_the_last_line_scan(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbindex");
    for (int seed = 1; seed <= 300; seed++) {
        rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
        char *text = random_database_text(1 + next_random(seed < 200 ? 12 : 80));
        test_write_file(dir, "database.txt", text);
        free(text);
        caf_localdb *db;
        caf_error err = {0};
        assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
        expect_index_equals_scan(db, seed);
        caf_localdb_close(db);
    }
    test_remove_tree(dir);
    free(dir);
}

/* Lines a commit appends win over the indexed ones wherever they reach, as if the file were read anew. */
static void committed_lines_update_the_index(void **state)
{
    (void)state;
    for (int seed = 1; seed <= 40; seed++) {
        char *dir = test_make_temp_dir("dbindexcommit");
        rng_state = 0xD1B54A32D192ED03ull * (uint64_t)seed;
        char *text = random_database_text(1 + next_random(20));
        test_write_file(dir, "database.txt", text);
        free(text);
        caf_localdb *db;
        caf_error err = {0};
        assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
        for (int round = 0; round < 3; round++) {
            caf_db_commit *commit;
            assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
            for (unsigned k = 1 + next_random(4); k > 0; k--) {
                char iov_text[64], payload[64];
                random_iov(iov_text, sizeof iov_text);
                caf_iov iov;
                assert_int_equal(caf_iov_parse(iov_text, &iov, &err), CAF_OK);
                snprintf(payload, sizeof payload, "%d-%d-%u", seed, round, k);
                assert_int_equal(caf_db_commit_add_bytes(commit, names[next_random(NAME_COUNT)], "txt", payload,
                                                         strlen(payload), iov, &err),
                                 CAF_OK);
            }
            assert_int_equal(caf_db_commit_finish(commit, &err), CAF_OK);
            expect_index_equals_scan(db, seed);
        }
        caf_localdb_close(db);
        /* and a fresh open of the same file agrees */
        assert_int_equal(caf_localdb_open(dir, 0, &db, &err), CAF_OK);
        expect_index_equals_scan(db, seed);
        caf_localdb_close(db);
        test_remove_tree(dir);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_answers_as_the_last_line_scan),
        cmocka_unit_test(committed_lines_update_the_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
