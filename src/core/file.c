/* Whole-file reads, atomic replacement and advisory locks. The temporary file lives in the target's
 * folder because rename(2) is only atomic within one file system. */
#include "caf/file.h"
#include "caf/temp_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

caf_status caf_file_read(const char *path, char **data, size_t *size, caf_error *err)
{
    *data = NULL;
    if (size)
        *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return caf_error_errno(err, e, "%s", path);
    }
    size_t capacity = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    char *buf = malloc(capacity);
    if (!buf) {
        close(fd);
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    size_t used = 0;
    for (;;) {
        if (used + 1 >= capacity) {
            char *bigger = realloc(buf, capacity * 2);
            if (!bigger) {
                free(buf);
                close(fd);
                return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = bigger;
            capacity *= 2;
        }
        ssize_t n = read(fd, buf + used, capacity - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return caf_error_errno(err, e, "%s", path);
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    if (size)
        *size = used;
    return CAF_OK;
}

static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *dir = strdup(dirname(copy));
    free(copy);
    return dir;
}

caf_status caf_atomic_file_open(caf_atomic_file *file, const char *final_path, caf_error *err)
{
    file->fd = -1;
    file->temp_path = NULL;
    file->final_path = strdup(final_path);
    /* A dot-prefixed name beside the target that names its writer (caf/temp_file.h): mkstemp picks the
     * suffix, and a later sweep can tell a dead writer's leftover from a live one's file. */
    file->temp_path = caf_temp_template(final_path);
    if (!file->final_path || !file->temp_path) {
        caf_atomic_file_abort(file);
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", final_path);
    }
    file->fd = mkostemp(file->temp_path, O_CLOEXEC);
    if (file->fd < 0) {
        int e = errno;
        free(file->temp_path);
        file->temp_path = NULL;
        caf_atomic_file_abort(file);
        return caf_error_errno(err, e, "%s: cannot create a temporary file", final_path);
    }
    fchmod(file->fd, 0644);
    return CAF_OK;
}

caf_status caf_write_all(int fd, const void *data, size_t size, const char *path, caf_error *err)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return caf_error_errno(err, n < 0 ? errno : EIO, "%s: cannot write", path);
        p += n;
        size -= (size_t)n;
    }
    return CAF_OK;
}

caf_status caf_atomic_file_write(caf_atomic_file *file, const void *data, size_t size, caf_error *err)
{
    return caf_write_all(file->fd, data, size, file->final_path, err);
}

void caf_atomic_file_abort(caf_atomic_file *file)
{
    if (file->fd >= 0)
        close(file->fd);
    file->fd = -1;
    if (file->temp_path)
        unlink(file->temp_path);
    free(file->temp_path);
    free(file->final_path);
    file->temp_path = NULL;
    file->final_path = NULL;
}

caf_status caf_atomic_file_commit(caf_atomic_file *file, caf_error *err)
{
    return caf_atomic_file_commit_with(file, CAF_ATOMIC_SYNC_ALL, err);
}

caf_status caf_atomic_file_commit_with(caf_atomic_file *file, enum caf_atomic_sync sync, caf_error *err)
{
    caf_status rc = CAF_OK;
    if (sync != CAF_ATOMIC_SYNC_NONE && fsync(file->fd) != 0)
        rc = caf_error_errno(err, errno, "%s: fsync", file->final_path);
    if (rc == CAF_OK && close(file->fd) != 0)
        rc = caf_error_errno(err, errno, "%s: close", file->final_path);
    file->fd = -1;
    if (rc == CAF_OK && rename(file->temp_path, file->final_path) != 0)
        rc = caf_error_errno(err, errno, "%s: rename", file->final_path);
    if (rc != CAF_OK) {
        caf_atomic_file_abort(file);
        return rc;
    }
    char *dir = sync == CAF_ATOMIC_SYNC_ALL ? dir_of(file->final_path) : NULL;
    if (dir) {
        rc = caf_fsync_dir(dir, err);
        free(dir);
    }
    free(file->temp_path);
    free(file->final_path);
    file->temp_path = NULL;
    file->final_path = NULL;
    return rc;
}

caf_status caf_file_write_atomic(const char *path, const void *data, size_t size, caf_error *err)
{
    return caf_file_write_atomic_with(path, data, size, CAF_ATOMIC_SYNC_ALL, err);
}

caf_status caf_file_write_atomic_with(const char *path, const void *data, size_t size, enum caf_atomic_sync sync,
                                      caf_error *err)
{
    caf_atomic_file file;
    caf_status rc = caf_atomic_file_open(&file, path, err);
    if (rc != CAF_OK)
        return rc;
    rc = caf_atomic_file_write(&file, data, size, err);
    if (rc != CAF_OK) {
        caf_atomic_file_abort(&file);
        return rc;
    }
    return caf_atomic_file_commit_with(&file, sync, err);
}

caf_status caf_fsync_dir(const char *path, caf_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    /* Some file systems refuse fsync on folders; the rename is still atomic there. */
    if (rc != 0 && e != EINVAL && e != EROFS)
        return caf_error_errno(err, e, "%s: fsync", path);
    return CAF_OK;
}

caf_status caf_file_lock_acquire(caf_file_lock *lock, const char *path, caf_error *err)
{
    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock->fd < 0)
        return caf_error_errno(err, errno, "%s: cannot open lock file", path);
    while (flock(lock->fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(lock->fd);
        lock->fd = -1;
        return caf_error_errno(err, e, "%s: cannot lock", path);
    }
    return CAF_OK;
}

caf_status caf_file_lock_try(caf_file_lock *lock, const char *path, caf_error *err)
{
    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock->fd < 0)
        return caf_error_errno(err, errno, "%s: cannot open lock file", path);
    while (flock(lock->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(lock->fd);
        lock->fd = -1;
        if (e == EWOULDBLOCK)
            return caf_error_set(err, CAF_ERR_EXISTS, "%s: locked by another process", path);
        return caf_error_errno(err, e, "%s: cannot lock", path);
    }
    return CAF_OK;
}

void caf_file_lock_release(caf_file_lock *lock)
{
    if (lock->fd >= 0) {
        flock(lock->fd, LOCK_UN);
        close(lock->fd);
    }
    lock->fd = -1;
}

caf_status caf_mkdir_p(const char *path, caf_error *err)
{
    /* the folder itself first: when it or its parent exists (the usual case), one or two calls instead of
     * one per component from the root */
    int made = mkdir(path, 0755), why = made == 0 ? 0 : errno;
    if (why == ENOENT) {
        char *copy = strdup(path);
        if (!copy)
            return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", path);
        for (char *p = copy + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                caf_error_errno(err, e, "%s: cannot create folder", copy);
                free(copy);
                return err ? err->code : CAF_ERR_IO;
            }
            *p = '/';
        }
        free(copy);
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return caf_error_errno(err, errno, "%s: cannot create folder", path);
    } else if (why != 0 && why != EEXIST) {
        return caf_error_errno(err, why, "%s: cannot create folder", path);
    }
    if (!caf_path_is_dir(path))
        return caf_error_set(err, CAF_ERR_EXISTS, "%s: exists and is not a folder", path);
    return CAF_OK;
}

bool caf_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool caf_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *caf_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (dir[0] && dir[strlen(dir) - 1] == '/')
        snprintf(out, n, "%s%s", dir, name);
    else
        snprintf(out, n, "%s/%s", dir, name);
    return out;
}

caf_status caf_file_copy_atomic(const char *src, const char *dst, caf_error *err)
{
    return caf_file_copy_atomic_with(src, dst, CAF_ATOMIC_SYNC_ALL, err);
}

caf_status caf_file_copy_atomic_with(const char *src, const char *dst, enum caf_atomic_sync sync, caf_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return caf_error_errno(err, errno, "%s", src);
    caf_atomic_file out;
    caf_status rc = caf_atomic_file_open(&out, dst, err);
    if (rc != CAF_OK) {
        close(in);
        return rc;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = caf_error_errno(err, errno, "%s", src);
            break;
        }
        if (n == 0)
            break;
        rc = caf_atomic_file_write(&out, buf, (size_t)n, err);
        if (rc != CAF_OK)
            break;
    }
    close(in);
    if (rc != CAF_OK) {
        caf_atomic_file_abort(&out);
        return rc;
    }
    return caf_atomic_file_commit_with(&out, sync, err);
}
