/* Fuzzing harness: the local conditions database's text format (database.txt).
 *
 * The input becomes database.txt in a scratch folder that also holds a few payload files, and goes
 * through what every reader does: open (parse every line), list the entries, look each name up at both
 * ends of its IoV and just outside them, find each entry's payload file, search a chain of the
 * database twice, and `caf db check` (which parses line by line on its own and hashes payloads). */
#include <stdbool.h>
#include <stdint.h>

#include "caf/dbchain.h"
#include "caf/localdb.h"
#include "fuzz_support.h"

static void write_payloads(void)
{
    /* "Gain" at a legacy integer revision and at the MD5 prefix of its content ("1\n"), plus one whose
     * revision does not match its content, so lookups and the check have files to find or refuse. */
    fuzz_write_file("dbstore_Gain_rev_1.json", (const uint8_t *)"{}", 2);
    fuzz_write_file("dbstore_Gain_rev_b026324.txt", (const uint8_t *)"1\n", 2);
    fuzz_write_file("dbstore_T0_rev_abcdef.bin", (const uint8_t *)"x", 1);
}

static void look_up(const caf_localdb *db, const caf_dbchain *chain, const caf_db_entry *e)
{
    /* Both written ends (-1 included), one run before the low end, the start of the next experiment. */
    const caf_iov v = e->iov;
    caf_exprun probes[4] = {{v.exp_low, v.run_low},
                            {v.exp_high, v.run_high},
                            {v.exp_low, v.run_low > 0 ? v.run_low - 1 : 0},
                            {v.exp_high < INT32_MAX ? v.exp_high + 1 : v.exp_high, 0}};
    for (int i = 0; i < 4; i++) {
        const caf_db_entry *hit = caf_localdb_find(db, e->name, probes[i]);
        caf_localdb *where = NULL;
        const caf_db_entry *chained = caf_dbchain_find(chain, e->name, probes[i], &where);
        /* The chain holds this database twice: the first one must answer exactly as the database does. */
        if ((hit == NULL) != (chained == NULL) || (hit && hit->line != chained->line)) {
            fprintf(stderr, "line %d: the chain and the database disagree about '%s'\n", e->line, e->name);
            abort();
        }
    }
    caf_error err = {0};
    char *path = caf_localdb_payload_path(db, e, &err);
    fuzz_check_error(path ? CAF_OK : err.code ? err.code : CAF_ERR_NOT_FOUND, &err, "caf_localdb_payload_path");
    free(path);
}

static void count_problem(const char *problem, void *userdata)
{
    if (!problem[0] || strchr(problem, '\n')) {
        fprintf(stderr, "caf_localdb_check reported a problem that is not one line: '%s'\n", problem);
        abort();
    }
    ++*(size_t *)userdata;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        write_payloads();
        ready = 1;
    }
    fuzz_write_file(CAF_LOCALDB_TEXT_FILE, data, size);
    const char *dir = fuzz_scratch();
    caf_error err = {0};
    caf_localdb *db = NULL;
    caf_status st = caf_localdb_open(dir, 0, &db, &err);
    fuzz_check_error(st, &err, "caf_localdb_open");
    const bool opened = st == CAF_OK;
    const caf_error open_err = err;
    caf_dbchain *chain = NULL;
    if (st == CAF_OK) {
        const char *paths[2] = {dir, dir};
        st = caf_dbchain_open(paths, 2, &chain, &err);
        fuzz_check_error(st, &err, "caf_dbchain_open");
    }
    if (st == CAF_OK) {
        for (size_t i = 0; i < caf_localdb_entry_count(db); i++)
            look_up(db, chain, caf_localdb_entry(db, i));
    }
    caf_dbchain_close(chain);
    caf_localdb_close(db);

    size_t problems = 0, reported = 0;
    st = caf_localdb_check(dir, count_problem, &reported, &problems, &err);
    fuzz_check_error(st, &err, "caf_localdb_check");
    if (st == CAF_OK && reported != problems) {
        fprintf(stderr, "caf_localdb_check counted %zu problems but reported %zu\n", problems, reported);
        abort();
    }
    /* The reader and the checker must agree on what is malformed. */
    if (st == CAF_OK && !opened && problems == 0) {
        fprintf(stderr, "caf_localdb_open refused the text (%s) but caf_localdb_check found no problem\n",
                open_err.message);
        abort();
    }
    return 0;
}
