/* File index: which runs each input file holds, from the files' metadata alone, cached in an SQLite
 * database keyed by (path, size, mtime) so that an unchanged file is opened once, not at every start.
 * The orchestrator uses it to split work by run; `caf file index` shows it. */
#ifndef CAF_FILE_INDEX_H
#define CAF_FILE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/event_file.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_file_index caf_file_index;

/* One indexed file. Memory is owned by the index. */
typedef struct caf_indexed_file {
    const char *path;     /* absolute, symlinks resolved */
    int64_t size;         /* bytes */
    int64_t mtime_ns;     /* modification time, nanoseconds since the epoch */
    int64_t n_events;
    const caf_run_count *runs; /* sorted by (exp, run) */
    size_t n_runs;
    bool from_cache;      /* true when the entry came from the cache without opening the file */
} caf_indexed_file;

/* Counters of one index's work, to see (and test) what the cache saved. */
typedef struct caf_file_index_stats {
    size_t files;        /* files added */
    size_t cache_hits;   /* files whose (path, size, mtime) matched the cache: not opened */
    size_t files_opened; /* files whose metadata was read from HDF5 */
    size_t excluded;     /* files skipped because their path matched the exclusion pattern */
} caf_file_index_stats;

/* One run and the files holding it. Memory is owned by the index. */
typedef struct caf_run_files {
    caf_exprun run;
    int64_t events;                /* sum over the files */
    const caf_indexed_file *const *files; /* in the order the files were added */
    size_t n_files;
} caf_run_files;

/* Opens an index backed by the SQLite cache at cache_path (created if missing; NULL keeps no cache);
 * *out is the new index (close with caf_file_index_close). */
caf_status caf_file_index_open(caf_file_index **out, const char *cache_path, caf_error *err);

/* Makes later adds skip every file whose absolute path (made absolute against the working folder,
 * symlinks not resolved) matches the POSIX extended regular expression pattern anywhere, as basf2's
 * `b2caf-filemap --filter-regex` drops paths that re.search matches; such files are not opened, not
 * cached and counted in stats.excluded. NULL removes the pattern. A pattern that does not compile fails
 * with CAF_ERR_INVALID and the regcomp message. */
caf_status caf_file_index_set_exclude(caf_file_index *index, const char *pattern, caf_error *err);

/* Adds the event file at path: from the cache when its path, size and mtime match, else by reading its
 * metadata in a child process (and updating the cache; a bad file is never cached). A file added twice is
 * kept once. */
caf_status caf_file_index_add(caf_file_index *index, const char *path, caf_error *err);

/* Adds the n event files at paths, in order, as caf_file_index_add does, reading the metadata of the files
 * missing from the cache in child processes (several at a time; see caf_event_files_check), so a file
 * that crashes or hangs HDF5 is only a bad file. Every file that cannot be added is skipped and noted
 * (caf_file_index_bad_message); the others are added. Returns CAF_OK when all were added, else an error
 * whose one line names every bad file of this call (with the reasons when they fit). */
caf_status caf_file_index_add_files(caf_file_index *index, const char *const *paths, size_t n, caf_error *err);

/* Number of files that could not be added so far (missing, not regular, unreadable, bad metadata). */
size_t caf_file_index_bad_count(const caf_file_index *index);

/* One line naming bad file i (0 <= i < bad count) and why it is bad; owned by the index. */
const char *caf_file_index_bad_message(const caf_file_index *index, size_t i);

/* Adds every regular file ending in ".h5" or ".hdf5" below dir (recursively, in sorted order) through
 * caf_file_index_add_files. */
caf_status caf_file_index_add_dir(caf_file_index *index, const char *dir, caf_error *err);

/* Adds a folder (as caf_file_index_add_dir) or a file (as caf_file_index_add). */
caf_status caf_file_index_add_path(caf_file_index *index, const char *path, caf_error *err);

/* Number of files in the index. */
size_t caf_file_index_count(const caf_file_index *index);

/* File number i (0 <= i < count), in the order added; owned by the index. */
const caf_indexed_file *caf_file_index_file(const caf_file_index *index, size_t i);

/* All runs of all files, sorted, each with its files; *runs points into the index (valid until the next
 * add or close). */
caf_status caf_file_index_runs(caf_file_index *index, const caf_run_files **runs, size_t *n_runs, caf_error *err);

/* What the index did so far. */
caf_file_index_stats caf_file_index_get_stats(const caf_file_index *index);

/* Returns the index as JSON (new reference, caller json_decref's it): {"files": [{path, size, mtime_ns,
 * n_events, runs: [{exp, run, events}]}], "runs": [{exp, run, events, files: [path]}], "stats": {...}};
 * NULL when out of memory. */
json_t *caf_file_index_to_json(caf_file_index *index);

/* Closes the cache and frees the index; NULL is fine. */
void caf_file_index_close(caf_file_index *index);

#ifdef __cplusplus
}
#endif
#endif
