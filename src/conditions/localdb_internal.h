/* Private layout of the local database handle, shared by the reader (localdb.c) and the writer
 * (localdb_commit.c). */
#ifndef CAF_LOCALDB_INTERNAL_H
#define CAF_LOCALDB_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "caf/localdb.h"

/* Per payload name, which line wins where (localdb_index.c). */
typedef struct localdb_index localdb_index;

/* How many of database.txt's last bytes a handle keeps, to tell an append from a rewrite. */
#define LOCALDB_TAIL_BYTES 64

struct caf_localdb {
    char *dir;
    char *text_path; /* dir/database.txt */
    char *lock_path; /* dir/.database.txt.lock */
    caf_db_entry *entries;
    size_t count;
    size_t capacity;
    localdb_index *index; /* always matches entries */
    /* What entries were read from: database.txt's identity and length, its line count, whether it ends
     * with a newline and its last bytes. A file with the same identity that is longer and still has those
     * bytes at the old end was appended to: only the new lines are read. */
    bool loaded;
    dev_t text_dev;
    ino_t text_ino;
    off_t text_size;
    int lines;
    bool ends_in_newline;
    char tail[LOCALDB_TAIL_BYTES];
    size_t tail_len;
    bool staging; /* CAF_LOCALDB_STAGING: commits make nothing durable (no fsync) */
    bool swept;   /* this handle's first commit removed what killed commits left */
    /* Sorted names of the payload files in dir, read lazily for prefix lookups; NULL until needed.
     * listing_mtime: the folder's modification time when the listing was last known complete. */
    char **file_names;
    size_t file_count;
    struct timespec listing_mtime;
    /* The commit journal (localdb_journal.c), open from this handle's first journaled commit; entries and
     * bytes written to it since its last checkpoint. */
    int journal_fd;
    size_t journal_entries;
    off_t journal_bytes;
    /* The intent file of this handle's commits (localdb_leftovers.c): -1 / NULL until its first use. */
    int intent_fd;
    char *intent_path;
    /* The folder was created empty by this handle: its listing is known without reading it. */
    bool created_empty;
};

/* Makes a handle for the database at path (a folder or its database.txt) without reading anything. */
caf_status localdb_new_handle(const char *path, caf_localdb **out, caf_error *err);

/* Parses the text of database.txt (named path in messages) into a fresh entry array. */
caf_status localdb_parse_text(const char *path, const char *text, caf_db_entry **entries, size_t *count,
                              caf_error *err);

/* True when text (size bytes) ends in a line without its newline that holds more than blanks and a
 * comment: what a write cut short leaves; *line is set to its line number. */
bool localdb_torn_tail(const char *text, size_t size, int *line);

/* Brings db up to date with database.txt read through fd (open for reading): only the appended lines
 * when the file was appended to, else the whole file. *changed tells whether anything was read.
 * Refuses a torn last line (CAF_ERR_FORMAT). */
caf_status localdb_catch_up(caf_localdb *db, int fd, bool *changed, caf_error *err);

/* Adds the lines in text (size bytes, complete lines) that were just appended to database.txt, ending
 * at file size new_size, to db's entries and index. */
caf_status localdb_add_appended(caf_localdb *db, const char *text, size_t size, off_t new_size, caf_error *err);

/* The payload file that starts with "dbstore_<name>_rev_<revision>." in db's cached listing (listed now if
 * there is none), without listing again on a miss; malloc'd path or NULL (err set on failure only). */
char *localdb_listing_lookup(caf_localdb *db, const char *name, const char *revision, caf_error *err);

/* Adds file_name (a base name just created in db's folder) to the cached listing, if there is one. */
caf_status localdb_listing_add(caf_localdb *db, const char *file_name, caf_error *err);

/* The commit journal beside database.txt (localdb_journal.c). */
#define LOCALDB_JOURNAL_FILE "commit-journal.jsonl"

/* True when name can be a lineage record file's name: a plain base name ending in .json (a journal read
 * back must not make caf write outside the lineage folder). */
bool localdb_record_name_ok(const char *name);

/* Opens (creating it when missing) db's commit journal for appending; *created tells that it was created,
 * so that its folder entry still needs an fsync before its first entry counts. */
caf_status localdb_journal_open(caf_localdb *db, bool *created, caf_error *err);

/* Under the lock: appends the journal entry of a commit whose lines (len bytes) go to database.txt at
 * offset at, with its lineage record (record_file under DB/lineage/), and fdatasyncs it: the commit point. */
caf_status localdb_journal_append(caf_localdb *db, off_t at, const char *lines, size_t len, const char *record_file,
                                  const json_t *record, caf_error *err);

/* Writes DB/lineage/record_file atomically, without fsync (the journal holds it until a checkpoint). */
caf_status localdb_journal_write_record(const caf_localdb *db, const char *record_file, const json_t *record,
                                        caf_error *err);

/* Under the lock, after a journaled commit appended its lines to database.txt (open as text_fd):
 * checkpoints when the journal has grown enough since the last one. */
caf_status localdb_journal_committed(caf_localdb *db, int text_fd, caf_error *err);

/* Under the lock: fdatasyncs database.txt (text_fd), syncs the file system (the record files) and empties
 * the journal. Nothing to do when this handle wrote no entry since the last one. */
caf_status localdb_journal_checkpoint(caf_localdb *db, int text_fd, caf_error *err);

/* Under the lock, before a handle writes: replays what the journal holds that database.txt (open read-write
 * as fd) or the lineage records lack after a power loss, then checkpoints. *changed tells that lines were
 * written to database.txt again. Refuses (CAF_ERR_FORMAT, nothing changed) a database.txt that differs from
 * the journal other than as a power loss leaves it. */
caf_status localdb_journal_recover(caf_localdb *db, int fd, bool *changed, caf_error *err);

/* Checkpoints (under the lock) what this handle journaled and closes the journal. */
void localdb_journal_close(caf_localdb *db);

/* Reports, without changing anything, what a replay of the journal would restore into database.txt (text,
 * size bytes as read) and the lineage folder, or why it would refuse; one problem at most. *pending: the
 * lines a replay would write (malloc'd, caller frees; NULL when none), whose payload files are no orphans. */
void localdb_journal_check(const caf_localdb *db, const char *text, size_t size, caf_localdb_problem_fn report,
                           void *userdata, size_t *problems, char **pending);

/* Frees an entry array. */
void localdb_free_entries(caf_db_entry *entries, size_t count);

/* Builds the index of count entries (a whole database.txt, in line order). */
caf_status localdb_index_build(const caf_db_entry *entries, size_t count, localdb_index **out, caf_error *err);

/* Adds entries[entry], a line after every line indexed so far: it wins wherever its IoV reaches. */
caf_status localdb_index_append(localdb_index *index, const caf_db_entry *entries, size_t entry, caf_error *err);

/* The index of the entry that applies to name at r (last line wins), or SIZE_MAX when none does. */
size_t localdb_index_find(const localdb_index *index, const char *name, caf_exprun r);

/* Frees an index (NULL is fine). */
void localdb_index_free(localdb_index *index);

/* Forgets the cached folder listing (after files were added). */
void localdb_forget_listing(caf_localdb *db);

/* The path of the payload file that starts with "dbstore_<name>_rev_<revision>." (malloc'd), or NULL. */
char *localdb_find_payload_file(caf_localdb *db, const char *name, const char *revision, caf_error *err);

/* The name every commit intent file starts with (see localdb_leftovers.c). */
#define LOCALDB_INTENT_PREFIX ".commit-intent"

/* True when name (a base name) is a commit's intent file. */
bool localdb_is_intent_name(const char *name);

/* True when a line of entries references the payload file file_name (a base name). */
bool localdb_file_referenced(const caf_db_entry *entries, size_t count, const char *file_name);

/* Records, in the handle's intent file (created at its first use, named after this process, kept for
 * the handle's later commits), that the payload file file_name is about to be created (written, not
 * fsync'ed: see localdb_leftovers.c). Nothing for a staging database. */
caf_status localdb_intent_add(caf_localdb *db, const char *file_name, caf_error *err);

/* Empties the intent file at the end of a commit (complete or undone), keeping it for the next one. */
void localdb_intent_reset(caf_localdb *db);

/* Removes the handle's intent file and closes it (at caf_localdb_close). */
void localdb_intent_close(caf_localdb *db);

/* Under the database lock: undoes the commits that were killed (their unreferenced payload files) and
 * removes temporary files of writers that have ended; entries are database.txt's current lines. */
void localdb_remove_leftovers(caf_localdb *db, const caf_db_entry *entries, size_t count);

#endif
