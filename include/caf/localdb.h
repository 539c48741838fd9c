/* The local conditions database, compatible with basf2's local database so that payloads move between
 * the two.
 *
 * A database is a folder holding `database.txt` and the payload files. Each line of database.txt is
 *     dbstore/<name> <revision> <exp_low>,<run_low>,<exp_high>,<run_high>
 * where '#' starts a comment and blank lines are ignored. The payload of a line is the file whose name
 * starts with `dbstore_<name>_rev_<revision>.` (the extension is the payload's format). caf writes
 * revisions as the first 6 hex digits of the payload file's MD5 (more digits only when a different file
 * already has that prefix), as basf2 does; plain integer revisions of older basf2 databases are read too.
 * For a name and a run, the last line whose IoV contains the run wins. */
#ifndef CAF_LOCALDB_H
#define CAF_LOCALDB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_LOCALDB_TEXT_FILE "database.txt"

/* One line of database.txt. */
typedef struct caf_db_entry {
    char *name;     /* payload name, the part after "dbstore/" */
    char *revision; /* as written: hex digest prefix or legacy integer */
    caf_iov iov;
    int line; /* 1-based line number in database.txt */
} caf_db_entry;

typedef struct caf_localdb caf_localdb;

enum caf_localdb_flags {
    CAF_LOCALDB_CREATE = 1, /* create the folder and an empty database.txt when missing */
    /* A staging database (an algorithm execution's, copied into the real one later with
     * caf_db_commit_add_staged_file): its commits call no fsync. A power loss may damage it; the copy
     * detects that through the revisions, which are content hashes. */
    CAF_LOCALDB_STAGING = 2,
};

/* Checks a payload name: not empty, no '/', no "..", no whitespace or control characters. */
caf_status caf_payload_name_check(const char *name, caf_error *err);

/* Parses one database.txt line into *entry (strings malloc'd; free with caf_db_entry_clear). Returns
 * CAF_OK with *is_entry false for blank and comment-only lines, CAF_ERR_FORMAT with a reason otherwise. */
caf_status caf_db_line_parse(const char *line, caf_db_entry *entry, bool *is_entry, caf_error *err);

/* Frees the strings of an entry made by caf_db_line_parse. */
void caf_db_entry_clear(caf_db_entry *entry);

/* True if revision looks like a digest prefix caf or basf2 wrote (6 to 32 hex digits); false for
 * legacy integer revisions (fewer than 6 digits). */
bool caf_db_revision_is_hash(const char *revision);

/* Opens the database in folder path (or the folder of a path ending in database.txt), reads
 * database.txt and indexes it for caf_localdb_find. A malformed line fails with "FILE:LINE: reason", and
 * so does a last line without its newline (a write cut short; `caf db check --repair` removes it).
 * *out is owned by the caller (caf_localdb_close). */
caf_status caf_localdb_open(const char *path, unsigned flags, caf_localdb **out, caf_error *err);

/* Makes what this handle committed with lineage records durable in database.txt and the record files
 * themselves (fdatasync, one syncfs), so that the commit journal can be emptied; nothing to do when it
 * made no such commit since the last checkpoint. caf_localdb_close does it too, but cannot report failure. */
caf_status caf_localdb_checkpoint(caf_localdb *db, caf_error *err);

/* Frees the database handle (NULL is fine). */
void caf_localdb_close(caf_localdb *db);

/* Re-reads database.txt, e.g. after another process committed: only the new lines when it was appended
 * to (same file, longer, same bytes at the old end), else the whole file; the cached folder listing is
 * read again when next needed. */
caf_status caf_localdb_reload(caf_localdb *db, caf_error *err);

/* The database's folder (owned by db). */
const char *caf_localdb_dir(const caf_localdb *db);

/* Number of lines with a payload. */
size_t caf_localdb_entry_count(const caf_localdb *db);

/* The i-th entry in file order (owned by db, valid until reload or close). */
const caf_db_entry *caf_localdb_entry(const caf_localdb *db, size_t i);

/* The entry that applies to name at run r: the last line whose IoV contains r; NULL if none. */
const caf_db_entry *caf_localdb_find(const caf_localdb *db, const char *name, caf_exprun r);

/* The path of entry's payload file (malloc'd, caller frees), found by its `dbstore_<name>_rev_<rev>.`
 * prefix; NULL with CAF_ERR_NOT_FOUND naming the expected file when it is missing. */
char *caf_localdb_payload_path(const caf_localdb *db, const caf_db_entry *entry, caf_error *err);

/* Receives one problem found by caf_localdb_check, as "FILE:LINE: reason". */
typedef void (*caf_localdb_problem_fn)(const char *problem, void *userdata);

/* Checks the database at path without stopping at the first problem: every line parses, every payload
 * file exists, every hash revision is a prefix of its file's MD5. Calls report once per problem and
 * counts them in *problems. Fails only when database.txt cannot be read at all. */
caf_status caf_localdb_check(const char *path, caf_localdb_problem_fn report, void *userdata, size_t *problems,
                             caf_error *err);

/* Repairs what a write cut short leaves at the end of database.txt, under the database's lock: first the
 * commit journal's lines and lineage records a power loss kept out are restored (caf_db_commit_set_lineage),
 * then a last line
 * without its newline, or NUL bytes after the last complete line, are cut off (the file is truncated after
 * its last complete line). *removed_line is the 1-based number of the line removed (0 when nothing was
 * wrong), *removed_bytes the bytes cut. NUL bytes followed by more lines are not a cut-short write: that
 * is refused (CAF_ERR_FORMAT), and nothing is changed. */
caf_status caf_localdb_repair(const char *path, int *removed_line, size_t *removed_bytes, caf_error *err);

/* ---- Writing: a commit adds several payloads all together or not at all ---- */

typedef struct caf_db_commit caf_db_commit;

/* Starts a commit on db; *out is owned by the caller until caf_db_commit_finish or _abort. */
caf_status caf_db_commit_begin(caf_localdb *db, caf_db_commit **out, caf_error *err);

/* Stages a payload from memory (data is copied); ext is its format ("json", "bin", "root"...). The
 * name, extension and IoV are checked now; an empty IoV is refused (use 0,0,-1,-1 for "always"). */
caf_status caf_db_commit_add_bytes(caf_db_commit *commit, const char *name, const char *ext, const void *data,
                                   size_t size, caf_iov iov, caf_error *err);

/* Stages a payload from an existing file; the extension is taken from the file name (after its last
 * '.', or "bin" when there is none). The file is read at finish. */
caf_status caf_db_commit_add_file(caf_db_commit *commit, const char *name, const char *path, caf_iov iov,
                                  caf_error *err);

/* Stages a payload file taken from a staging database (CAF_LOCALDB_STAGING) under its revision there:
 * at finish the file's MD5 must start with that revision (when it is a hash), else the commit fails
 * naming the file, so a staging copy damaged by a crash is never committed. */
caf_status caf_db_commit_add_staged_file(caf_db_commit *commit, const char *name, const char *path, caf_iov iov,
                                         const char *revision, caf_error *err);

/* Makes the commit write a lineage record (a JSON object; the commit takes a reference) as
 * DB/lineage/record_file, durable together with the commit's lines: one entry in the database's commit
 * journal (DB/commit-journal.jsonl, one fdatasync) instead of an fsync of database.txt, so that a commit
 * of one new payload file makes three fsyncs in all. A power loss after the journal entry leaves the lines
 * or the record out; the next writer's open (or caf db check --repair) restores them from the journal.
 * Ignored for a staging database. */
caf_status caf_db_commit_set_lineage(caf_db_commit *commit, const char *record_file, json_t *record, caf_error *err);

/* Under the database's file lock: reads the lines other writers appended since db was read, writes the
 * staged payload files (new ones fsync'ed, then their folder once), appends all their lines to
 * database.txt with one write and fdatasyncs it: at most (new payload files) + 2 fsyncs, none for a
 * staging database. db then holds the new lines. On failure nothing is added (payload files it created
 * are removed, a partly written append is cut off again). Frees commit in every case. The revisions
 * chosen can be read from db afterwards. */
caf_status caf_db_commit_finish(caf_db_commit *commit, caf_error *err);

/* Drops a commit without writing anything; frees it (NULL is fine). */
void caf_db_commit_abort(caf_db_commit *commit);

#ifdef __cplusplus
}
#endif
#endif
