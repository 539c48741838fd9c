/* Fuzzing harness: a local database's commit journal (commit-journal.jsonl, localdb_journal.c).
 *
 * The input becomes the journal of a scratch database whose database.txt holds two lines, and a writer
 * opens it (caf_localdb_open with CAF_LOCALDB_CREATE), which replays the journal. Whatever the input, the
 * open either succeeds with an empty journal and a database that still parses, or fails with one line;
 * a record file is never written outside the database's lineage folder, and the payload files the
 * database had are still there. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "caf/localdb.h"
#include "fuzz_support.h"

static const char text[] = "dbstore/Gain b02632 1,1,1,1\ndbstore/Gain b02632 1,2,1,2\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_file(CAF_LOCALDB_TEXT_FILE, (const uint8_t *)text, sizeof text - 1);
    fuzz_write_file("dbstore_Gain_rev_b02632.txt", (const uint8_t *)"1\n", 2);
    fuzz_write_file("commit-journal.jsonl", data, size);
    const char *dir = fuzz_scratch();
    caf_error err = {0};
    caf_localdb *db = NULL;
    caf_status st = caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err);
    fuzz_check_error(st, &err, "caf_localdb_open (replaying the journal)");
    caf_localdb_close(db);
    struct stat sb;
    char path[4096];
    snprintf(path, sizeof path, "%s/dbstore_Gain_rev_b02632.txt", dir);
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replaying the journal removed a payload file\n");
        abort();
    }
    snprintf(path, sizeof path, "%s/commit-journal.jsonl", dir);
    if (st == CAF_OK && stat(path, &sb) == 0 && sb.st_size != 0) {
        fprintf(stderr, "a replayed journal was not emptied\n");
        abort();
    }
    if (st == CAF_OK) { /* what it left must still be a database */
        st = caf_localdb_open(dir, 0, &db, &err);
        fuzz_check_error(st, &err, "caf_localdb_open (after the replay)");
        if (st != CAF_OK) {
            fprintf(stderr, "the replay left a database that does not open: %s\n", err.message);
            abort();
        }
        caf_localdb_close(db);
    }
    return 0;
}
