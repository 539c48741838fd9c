/* Side files: the files a collector job keeps beside its collector output through `output_patterns`
 * (basf2's output_patterns; Millepede's binary files are the classic case), and the manifest that tells
 * the algorithms which job kept which files and which runs that job held.
 *
 * The manifest of a merged collector output PATH is PATH.side_files.json:
 *   {"version": 1, "jobs": [{"job": N, "runs": [[exp, run], ...], "files": ["REL/PATH", ...]}, ...]}
 * with every file path relative to the manifest's folder. A file name that is absolute, holds a ".."
 * component, or resolves (through links) outside that folder is refused, whoever wrote the manifest.
 * docs/algorithms.md ("Side files") is the user guide. */
#ifndef CAF_SIDE_FILES_H
#define CAF_SIDE_FILES_H

#include <stddef.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a collector output's manifest name adds to its path. */
#define CAF_SIDE_FILES_SUFFIX ".side_files.json"

/* One collector job's side files and the runs it held. */
typedef struct caf_side_files_job {
    size_t job;        /* the job's index within its collection */
    caf_exprun *runs;  /* sorted, unique; malloc'd */
    size_t run_count;
    char **files;      /* sorted; relative to the manifest's folder when written, absolute when read */
    size_t file_count;
} caf_side_files_job;

/* The manifest path of the collector output at path (malloc'd, caller frees; NULL without memory). */
char *caf_side_files_manifest_path(const char *collector_output);

/* The regular files of folder dir whose names match the last component of one of count glob patterns,
 * but not the name skip (e.g. the collector output itself), sorted; *files (malloc'd, each item too; free
 * with caf_side_files_strings_free) and *file_count. Sub-folders are not listed. A link whose target lies
 * outside dir is CAF_ERR_INVALID naming it; a pattern that matches nothing is no error. */
caf_status caf_side_files_scan(const char *dir, const char *const *patterns, size_t count, const char *skip,
                               char ***files, size_t *file_count, caf_error *err);

/* Frees count strings and the array (NULL is fine). */
void caf_side_files_strings_free(char **strings, size_t count);

/* Writes the manifest of count jobs atomically to manifest_path; each job's files must be relative to
 * the manifest's folder (they are checked as a reader checks them). */
caf_status caf_side_files_write(const char *manifest_path, const caf_side_files_job *jobs, size_t count,
                                caf_error *err);

/* Reads the manifest at manifest_path: *jobs (malloc'd; caf_side_files_jobs_free) with absolute file
 * paths, *count. A missing manifest is CAF_OK with no jobs; a malformed one, or a file name that leaves
 * the manifest's folder or is not a regular file, is CAF_ERR_FORMAT naming the manifest, job and file. */
caf_status caf_side_files_read(const char *manifest_path, caf_side_files_job **jobs, size_t *count, caf_error *err);

/* Frees the runs and files of count jobs, then the array (NULL is fine). */
void caf_side_files_jobs_free(caf_side_files_job *jobs, size_t count);

#ifdef __cplusplus
}
#endif
#endif
