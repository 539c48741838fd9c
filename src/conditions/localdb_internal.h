/* Private layout of the local database handle, shared by the reader (localdb.c) and the writer
 * (localdb_commit.c). */
#ifndef CAF_LOCALDB_INTERNAL_H
#define CAF_LOCALDB_INTERNAL_H

#include "caf/localdb.h"

struct caf_localdb {
    char *dir;
    char *text_path; /* dir/database.txt */
    char *lock_path; /* dir/.database.txt.lock */
    caf_db_entry *entries;
    size_t count;
    /* Sorted names of the payload files in dir, read lazily for prefix lookups; NULL until needed. */
    char **file_names;
    size_t file_count;
};

/* Makes a handle for the database at path (a folder or its database.txt) without reading anything. */
caf_status localdb_new_handle(const char *path, caf_localdb **out, caf_error *err);

/* Parses the text of database.txt (named path in messages) into a fresh entry array. */
caf_status localdb_parse_text(const char *path, const char *text, caf_db_entry **entries, size_t *count,
                              caf_error *err);

/* Frees an entry array. */
void localdb_free_entries(caf_db_entry *entries, size_t count);

/* Forgets the cached folder listing (after files were added). */
void localdb_forget_listing(caf_localdb *db);

/* The path of the payload file that starts with "dbstore_<name>_rev_<revision>." (malloc'd), or NULL. */
char *localdb_find_payload_file(caf_localdb *db, const char *name, const char *revision, caf_error *err);

#endif
