/* Event files: HDF5 files holding events column-wise, plus metadata that can be read without touching
 * the events. The layout is specified in docs/event-format.md (a file written with h5py following that
 * document is a valid caf event file).
 *
 * Three parts:
 *  - metadata (caf_event_file_meta): experiments, per-(exp, run) event counts, lowest and highest run,
 *    event count, parent files, creator, version and random seed;
 *  - the schema (caf_event_schema): which per-event columns, variable-length arrays and trigger lines a
 *    file holds;
 *  - a reader that streams events in batches with zero-copy access to the columns (a batch holds const
 *    pointers into the reader's buffers) and a writer that appends batches and commits the file
 *    atomically on close. */
#ifndef CAF_EVENT_FILE_H
#define CAF_EVENT_FILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the layout in docs/event-format.md written by this caf and the highest one it reads. */
#define CAF_EVENT_FORMAT_VERSION 1

/* ---- Column value types ---- */

typedef enum caf_column_type {
    CAF_COLUMN_INT8 = 0,
    CAF_COLUMN_UINT8,
    CAF_COLUMN_INT16,
    CAF_COLUMN_UINT16,
    CAF_COLUMN_INT32,
    CAF_COLUMN_UINT32,
    CAF_COLUMN_INT64,
    CAF_COLUMN_UINT64,
    CAF_COLUMN_FLOAT32,
    CAF_COLUMN_FLOAT64,
} caf_column_type;

/* Size in bytes of one value of type. */
size_t caf_column_type_size(caf_column_type type);

/* Static name of type ("int32", "float32", ... as numpy spells them); never NULL. */
const char *caf_column_type_name(caf_column_type type);

/* Parses a numpy-style type name ("float32", "uint8", ...) into *out; returns false when unknown. */
bool caf_column_type_parse(const char *name, caf_column_type *out);

/* ---- Metadata ---- */

/* Number of events of one (exp, run) in a file. */
typedef struct caf_run_count {
    int exp;
    int run;
    int64_t events;
} caf_run_count;

/* File metadata, read without touching events. All memory is owned by the struct
 * (free with caf_event_file_meta_free). */
typedef struct caf_event_file_meta {
    int format_version;
    char *creator;         /* program that wrote the file, e.g. "caf gen toy" */
    char *creator_version; /* its version, e.g. "0.1.0" */
    uint64_t random_seed;  /* seed of the process that wrote it (0 when none) */
    int64_t n_events;
    int *experiments; /* sorted, distinct */
    size_t n_experiments;
    caf_run_count *runs; /* sorted by (exp, run), distinct, events > 0 */
    size_t n_runs;
    caf_exprun low;  /* lowest (exp, run) holding events; {-1, -1} for an empty file */
    caf_exprun high; /* highest (exp, run); {-1, -1} for an empty file */
    char **parents;  /* files this one was made from (may be empty) */
    size_t n_parents;
} caf_event_file_meta;

/* Reads the metadata of the event file at path into *meta (caller frees with caf_event_file_meta_free)
 * without reading any event. Not HDF5, truncated, a missing or inconsistent item: CAF_ERR_FORMAT with one
 * line naming path and the item. */
caf_status caf_event_file_meta_read(const char *path, caf_event_file_meta *meta, caf_error *err);

/* Frees what meta owns and zeroes it; safe on a zeroed struct. */
void caf_event_file_meta_free(caf_event_file_meta *meta);

/* Returns the metadata as a JSON object (new reference, caller json_decref's it), or NULL when out of
 * memory. Keys: format_version, creator, creator_version, random_seed, n_events, experiments,
 * runs [{exp, run, events}], low {exp, run}, high {exp, run}, parents. */
json_t *caf_event_file_meta_to_json(const caf_event_file_meta *meta);

/* ---- Schema ---- */

/* One numeric column: a per-event value, or a field of a variable-length array. */
typedef struct caf_column_desc {
    const char *name;
    caf_column_type type;
} caf_column_desc;

/* A variable-length per-event array ("hits"): per event a run of entries, each entry having the same
 * fields ("channel", "amplitude", "time"). Stored as one offsets dataset plus one dataset per field. */
typedef struct caf_array_desc {
    const char *name;
    const caf_column_desc *fields;
    size_t n_fields;
} caf_array_desc;

/* What a file holds besides exp, run and event number (which every file has). For a writer the caller
 * fills it (the strings and arrays are only read during caf_event_writer_open); a reader's schema is
 * owned by the reader. */
typedef struct caf_event_schema {
    const caf_column_desc *columns; /* fixed-size per-event values */
    size_t n_columns;
    const caf_array_desc *arrays; /* variable-length per-event arrays */
    size_t n_arrays;
    bool has_trigger;                  /* the file stores trigger decisions */
    const char *const *trigger_lines;  /* names of the trigger lines, in column order */
    const int32_t *trigger_prescales;  /* prescale of each line (>= 1), as configured when recorded */
    size_t n_trigger_lines;
} caf_event_schema;

/* Index of the per-event column called name in schema, or -1. */
ptrdiff_t caf_event_schema_find_column(const caf_event_schema *schema, const char *name);

/* Index of the variable-length array called name in schema, or -1. */
ptrdiff_t caf_event_schema_find_array(const caf_event_schema *schema, const char *name);

/* Index of field in array number array_index of schema, or -1. */
ptrdiff_t caf_event_schema_find_field(const caf_event_schema *schema, size_t array_index, const char *field);

/* Index of the trigger line called name in schema, or -1 (also when the file has no trigger data). */
ptrdiff_t caf_event_schema_find_trigger_line(const caf_event_schema *schema, const char *name);

/* ---- Batches ---- */

/* Trigger decision values, as Belle II's SoftwareTriggerCutResult. */
enum { CAF_TRIGGER_REJECT = -1, CAF_TRIGGER_NO_RESULT = 0, CAF_TRIGGER_ACCEPT = 1 };

/* Consecutive events of one run within a batch: events begin .. end-1 of the batch belong to (exp, run). */
typedef struct caf_run_segment {
    int exp;
    int run;
    size_t begin;
    size_t end;
} caf_run_segment;

/* count consecutive events, column-wise. Every pointer of a batch returned by a reader points into the
 * reader's buffers and stays valid until the next caf_event_reader_next/seek/close; a column that was
 * not selected when the reader was opened is NULL. Indices follow the reader's schema.
 *
 * The same struct is what a writer appends: the caller points the members at its own arrays. */
typedef struct caf_event_batch {
    size_t count;   /* events in the batch */
    int64_t first;  /* index in the file of the batch's first event (reader only) */
    const int32_t *exp;    /* [count] */
    const int32_t *run;    /* [count] */
    const uint32_t *event; /* [count] event numbers */
    const void *const *columns; /* [n_columns] each [count] values of the column's type */
    /* [n_arrays] each [count + 1]: the entries of event i are offsets[i] .. offsets[i+1]-1 of the
     * array's fields. A reader rebases them so that offsets[0] == 0; a writer accepts any base. */
    const int64_t *const *array_offsets;
    const void *const *const *array_fields; /* [n_arrays][n_fields] values of the field's type */
    /* [count * n_trigger_lines], event-major: line l of event i is at [i * n_trigger_lines + l]. */
    const int8_t *trigger_result;              /* result after prescale: -1, 0 or 1 */
    const int8_t *trigger_result_nonprescaled; /* result without prescale: -1, 0 or 1 */
    /* [count] 1 when the event has a trigger result at all, 0 when it is missing (Belle II: no
     * SoftwareTriggerResult object); NULL means every event has one (if the schema has trigger data). */
    const uint8_t *trigger_present;
    /* Reader only (a writer ignores them): the batch's events split into runs, in order, always set even
     * when exp and run are not selected. From the file's /events/segments table when it has one, so a
     * consumer learns run boundaries without reading the exp and run columns. */
    const caf_run_segment *segments;
    size_t n_segments;
} caf_event_batch;

/* Returns value i of a float32 column of a batch (no checks: the caller knows the type). */
static inline float caf_batch_float32(const caf_event_batch *batch, size_t column, size_t i)
{
    return ((const float *)batch->columns[column])[i];
}

/* ---- Reader ---- */

typedef struct caf_event_reader caf_event_reader;

/* Names a reader may select besides schema columns and arrays. "hits" selects an array with all its
 * fields, "hits/amplitude" one field (plus the offsets). */
#define CAF_EVENT_SELECT_EXP "exp"
#define CAF_EVENT_SELECT_RUN "run"
#define CAF_EVENT_SELECT_EVENT "event"
#define CAF_EVENT_SELECT_TRIGGER "trigger"

typedef struct caf_event_reader_options {
    size_t batch_size; /* events per batch; 0 = CAF_EVENT_DEFAULT_BATCH */
    /* Names of what to read (see CAF_EVENT_SELECT_*, schema columns, arrays, "array/field"); NULL reads
     * everything. An unknown name is CAF_ERR_NOT_FOUND naming it and the file. "trigger" is always
     * accepted: on a file without trigger data the batch's trigger pointers stay NULL. */
    const char *const *select;
    size_t n_select;
} caf_event_reader_options;

#define CAF_EVENT_DEFAULT_BATCH 4096

/* Opens the event file at path (options may be NULL) and checks metadata and columns against each
 * other; *out is the new reader (close with caf_event_reader_close). */
caf_status caf_event_reader_open(caf_event_reader **out, const char *path, const caf_event_reader_options *options,
                                 caf_error *err);

/* The file's metadata (owned by the reader). */
const caf_event_file_meta *caf_event_reader_meta(const caf_event_reader *reader);

/* The file's schema (owned by the reader); indices in batches follow it. */
const caf_event_schema *caf_event_reader_schema(const caf_event_reader *reader);

/* The path the reader was opened with (owned by the reader). */
const char *caf_event_reader_path(const caf_event_reader *reader);

/* Reads the next batch: *batch points at the reader's batch (owned by the reader, valid until the next
 * call), or is NULL after the last event. */
caf_status caf_event_reader_next(caf_event_reader *reader, const caf_event_batch **batch, caf_error *err);

/* Makes the next batch start at event index (0 <= index <= n_events). */
caf_status caf_event_reader_seek(caf_event_reader *reader, int64_t index, caf_error *err);

/* Closes the file and frees the reader and its buffers; NULL is fine. */
void caf_event_reader_close(caf_event_reader *reader);

/* ---- Writer ---- */

typedef struct caf_event_writer caf_event_writer;

typedef struct caf_event_writer_options {
    const char *creator;         /* NULL = "caf" */
    const char *creator_version; /* NULL = this caf's version */
    uint64_t random_seed;
    const char *const *parents; /* paths of the files the events come from */
    size_t n_parents;
    size_t chunk_events; /* events per HDF5 chunk; 0 = CAF_EVENT_DEFAULT_CHUNK */
    int deflate_level;   /* 0 = no compression, 1..9 = gzip level */
} caf_event_writer_options;

#define CAF_EVENT_DEFAULT_CHUNK 8192

/* Creates a writer for a new event file at path with the given schema (copied; options may be NULL).
 * Events go to a temporary file beside path; path appears only at caf_event_writer_close, so a crash
 * or caf_event_writer_abort never leaves a partial file under the final name. */
caf_status caf_event_writer_open(caf_event_writer **out, const char *path, const caf_event_schema *schema,
                                 const caf_event_writer_options *options, caf_error *err);

/* Appends the batch's count events. Every member the schema needs must be set (trigger_present may be
 * NULL: all present); first is ignored. */
caf_status caf_event_writer_append(caf_event_writer *writer, const caf_event_batch *batch, caf_error *err);

/* Appends the events rows[0..n_rows-1] of batch (indices into it, in any order), e.g. the events of a
 * reader's batch that passed a selection; batch must follow the writer's schema. */
caf_status caf_event_writer_append_rows(caf_event_writer *writer, const caf_event_batch *batch, const size_t *rows,
                                        size_t n_rows, caf_error *err);

/* Events appended so far. */
int64_t caf_event_writer_count(const caf_event_writer *writer);

/* Writes the metadata (computed from the appended events), closes the file, renames it to its final
 * path and frees the writer (also on failure, which removes the temporary file). */
caf_status caf_event_writer_close(caf_event_writer *writer, caf_error *err);

/* Discards the file being written and frees the writer; NULL is fine. */
void caf_event_writer_abort(caf_event_writer *writer);

/* ---- Untrusted files: reading in a child process ---- */

/* HDF5 1.10 crashes, overflows memory, loops or allocates without bound on some malformed files, inside
 * its own code. Files caf did not write itself are therefore first read in a child process (fork, no
 * exec) under a time-out and an address-space limit; the child sends its answer back over a pipe, and a
 * crash, hang or runaway allocation becomes a one-line error naming the file. */

#define CAF_FILE_CHECK_DEFAULT_TIMEOUT_S 30
#define CAF_FILE_CHECK_DEFAULT_MEMORY_MIB 1024
#define CAF_FILE_CHECK_DEFAULT_JOBS 4

typedef struct caf_file_check_options {
    double timeout_s;  /* per file; 0 = $CAF_FILE_CHECK_TIMEOUT (seconds) or CAF_FILE_CHECK_DEFAULT_TIMEOUT_S */
    double memory_mib; /* address space the child may map beyond what it inherits; 0 = $CAF_FILE_CHECK_MEMORY
                        * (MiB) or CAF_FILE_CHECK_DEFAULT_MEMORY_MIB */
    unsigned jobs;     /* children at a time; 0 = $CAF_FILE_CHECK_JOBS or CAF_FILE_CHECK_DEFAULT_JOBS */
    bool events;       /* also open the file's datasets and stream exp, run and trigger through the reader's
                        * checks (segments against exp/run, run table, trigger values), as a reader would */
} caf_file_check_options;

/* Refuses at once, without blocking, anything at path but a regular file (a named pipe, a folder, a
 * device): CAF_ERR_INVALID "PATH: not a regular file (a named pipe)"; a missing file is CAF_ERR_NOT_FOUND. */
caf_status caf_event_file_check_regular(const char *path, caf_error *err);

/* Checks the n event files at paths, each in a child process (up to opts->jobs at a time) that reads its
 * metadata (and with opts->events its events' run and trigger columns) under the time and memory limits.
 * errs[i] receives file i's outcome: CAF_OK, or one line naming the file ("PATH: the HDF5 library crashed
 * (signal 11) while reading its metadata", "... did not answer within 30 s ...", "... exceeded the memory
 * limit ...", or the reader's own message). When metas is not NULL, metas[i] receives file i's metadata
 * (zeroed for a bad file; the caller frees each with caf_event_file_meta_free). opts may be NULL.
 * Returns the number of bad files. */
size_t caf_event_files_check(const char *const *paths, size_t n, const caf_file_check_options *opts,
                             caf_event_file_meta *metas, caf_error *errs);

/* caf_event_files_check for one file: reads path's metadata in a child into *meta (caller frees with
 * caf_event_file_meta_free) and returns its status, err naming the file. */
caf_status caf_event_file_meta_read_isolated(const char *path, const caf_file_check_options *opts,
                                             caf_event_file_meta *meta, caf_error *err);

/* ---- HDF5 diagnostics ---- */

/* Turns off HDF5's automatic printing of its error stack for this process (caf reports HDF5 failures as
 * caf_error messages instead). Idempotent; the reader, writer and metadata reader call it. */
void caf_hdf5_silence(void);

#ifdef __cplusplus
}
#endif
#endif
