/* Shared pieces of the collector output reader, writer and merger: the SQLite schema and helpers. */
#ifndef CAF_COLLECTOR_OUTPUT_INTERNAL_H
#define CAF_COLLECTOR_OUTPUT_INTERNAL_H

#include <sqlite3.h>

#include "caf/collector_output.h"

/* The value of meta.format, telling collector outputs from other SQLite files. */
#define OUTPUT_FORMAT_NAME "caf-collector-output"

/* Sets err from the connection's last error: "<what>: <sqlite message>"; full-disk and I/O errors
 * become CAF_ERR_IO. Returns the code. */
caf_status output_sqlite_error(caf_error *err, sqlite3 *db, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks of values read from a file's rows, whose types SQLite does not enforce: a malformed row is
 * CAF_ERR_FORMAT "PATH: table 'TABLE', row ROW: COLUMN is ..." (ROW is the rowid). */
caf_status output_column_text(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                              const char *column, const char **out, caf_error *err);
caf_status output_column_int(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                             const char *column, sqlite3_int64 min, sqlite3_int64 max, sqlite3_int64 *out,
                             caf_error *err);
/* An experiment or run number as stored: -1 (granularity "all", or "any") up to INT32_MAX. */
caf_status output_column_exprun(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                                caf_exprun *out, caf_error *err);

/* Reads every piece of object name (declared of type type) under key, merged, into *out (NULL when the
 * key holds nothing). pieces_stmt and chunks_stmt are the reader's prepared statements. */
caf_status output_read_key(sqlite3 *db, sqlite3_stmt *pieces_stmt, sqlite3_stmt *chunks_stmt, const char *name,
                           const char *type, caf_exprun key, caf_object **out, caf_error *err);

/* Reads the piece with row id piece into *out; a piece whose type is not type (the type table 'objects'
 * declares) is CAF_ERR_FORMAT. Errors name the piece (and chunk) at fault. */
caf_status output_read_piece(sqlite3 *db, sqlite3_stmt *chunks_stmt, sqlite3_int64 piece, const char *type,
                             caf_object **out, caf_error *err);

/* Merges the piece with row id piece into *acc (reading it into *acc when *acc is NULL). */
caf_status output_merge_piece(sqlite3 *db, sqlite3_stmt *chunks_stmt, sqlite3_int64 piece, const char *type,
                              caf_object **acc, caf_error *err);

/* Merges obj into *acc and frees obj (or makes obj the accumulator when *acc is NULL). */
caf_status output_accumulate(caf_object **acc, caf_object *obj, caf_error *err);

/* Declares object name with type type_name in the writer (see caf_collector_writer_declare). */
caf_status output_writer_declare_type(caf_collector_writer *w, const char *name, const char *type, caf_error *err);

/* Commits when at least threshold bytes were put since the last commit (a commit per run would cost
 * more than the run's objects when runs are short). */
caf_status output_writer_flush_if(caf_collector_writer *w, int64_t threshold, caf_error *err);

/* The reader's sqlite handle and its statements, for the merger. */
sqlite3 *output_db(const caf_collector_output *f);
sqlite3_stmt *output_chunks_stmt(const caf_collector_output *f);

/* caf_collector_output_open_lazy without looking at the files opened ahead (collector_output_warm.c). */
caf_status output_open_cold(const char *path, caf_collector_output **out, caf_error *err);

/* Gives f a descriptor of its file to keep (closed with f, after the connection); the files opened ahead keep
 * one to compare with the path when they are asked for. */
void output_set_witness(caf_collector_output *f, int fd);

/* When path (canonical) was opened ahead and the file at path is still the one opened (same device, inode,
 * size and modification time), moves that handle to *out (true); otherwise false, and a stale handle for
 * path is closed. */
bool output_warm_take(const char *path, caf_collector_output **out);

#endif
