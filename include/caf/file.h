/* Files: whole-file reads, atomic writes (write a temporary file beside the target, fsync, rename, fsync
 * the folder), advisory locks for files several processes share, and folder creation. Every write of a
 * state file or database in caf goes through here, so that a crash leaves the old file or the new one,
 * never a mixture. */
#ifndef CAF_FILE_H
#define CAF_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the whole file at path into *data (malloc'd, NUL-terminated, caller frees) and its length. */
caf_status caf_file_read(const char *path, char **data, size_t *size, caf_error *err);

/* Replaces path atomically with size bytes of data (mode 0644). */
caf_status caf_file_write_atomic(const char *path, const void *data, size_t size, caf_error *err);

/* Writes all size bytes of data to fd, retrying short and interrupted writes; the error names path. */
caf_status caf_write_all(int fd, const void *data, size_t size, const char *path, caf_error *err);

/* A temporary file beside its final path, made visible only by caf_atomic_file_commit. */
typedef struct caf_atomic_file {
    int fd;
    char *final_path;
    char *temp_path;
} caf_atomic_file;

/* Creates a temporary file in the folder of final_path; write to file->fd, then commit or abort. */
caf_status caf_atomic_file_open(caf_atomic_file *file, const char *final_path, caf_error *err);

/* Writes size bytes to the temporary file, retrying short writes. */
caf_status caf_atomic_file_write(caf_atomic_file *file, const void *data, size_t size, caf_error *err);

/* fsyncs, renames onto the final path, fsyncs the folder and releases the handle (also on failure,
 * in which case the temporary file is removed). */
caf_status caf_atomic_file_commit(caf_atomic_file *file, caf_error *err);

/* How much caf_atomic_file_commit_with makes durable (the rename is atomic for other processes either way). */
enum caf_atomic_sync {
    CAF_ATOMIC_SYNC_ALL = 0,        /* fsync the data, rename, fsync the folder: as caf_atomic_file_commit */
    CAF_ATOMIC_SYNC_DATA = 1,       /* fsync the data, rename; the caller fsyncs the folder once for many files */
    CAF_ATOMIC_SYNC_NONE = 2,       /* rename only: survives a killed process, not a power loss */
};

/* caf_atomic_file_commit with the fsyncs sync names; releases the handle. */
caf_status caf_atomic_file_commit_with(caf_atomic_file *file, enum caf_atomic_sync sync, caf_error *err);

/* Removes the temporary file and releases the handle; safe to call on a released handle. */
void caf_atomic_file_abort(caf_atomic_file *file);

/* An exclusive advisory lock (flock) held on a lock file. */
typedef struct caf_file_lock {
    int fd;
} caf_file_lock;

/* Creates path if needed and blocks until the exclusive lock on it is held. */
caf_status caf_file_lock_acquire(caf_file_lock *lock, const char *path, caf_error *err);

/* Creates path if needed and takes the exclusive lock without waiting: CAF_ERR_EXISTS when another process
 * holds it. */
caf_status caf_file_lock_try(caf_file_lock *lock, const char *path, caf_error *err);

/* Releases the lock and closes the lock file. */
void caf_file_lock_release(caf_file_lock *lock);

/* Creates path and its missing parents (mode 0755); an existing folder is fine. */
caf_status caf_mkdir_p(const char *path, caf_error *err);

/* True if path exists (any type). */
bool caf_path_exists(const char *path);

/* True if path is a folder. */
bool caf_path_is_dir(const char *path);

/* Returns "dir/name" (malloc'd, caller frees), or NULL when out of memory. */
char *caf_path_join(const char *dir, const char *name);

/* fsyncs the folder at path so that a rename or creation inside it is durable. */
caf_status caf_fsync_dir(const char *path, caf_error *err);

/* Copies src to dst atomically (dst is replaced only when the copy is complete). */
caf_status caf_file_copy_atomic(const char *src, const char *dst, caf_error *err);

/* caf_file_write_atomic with the fsyncs sync names. */
caf_status caf_file_write_atomic_with(const char *path, const void *data, size_t size, enum caf_atomic_sync sync,
                                      caf_error *err);

/* caf_file_copy_atomic with the fsyncs sync names. */
caf_status caf_file_copy_atomic_with(const char *src, const char *dst, enum caf_atomic_sync sync, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
