/* stat(2) through a kept folder descriptor (include/caf/stat_cache.h). */
#include "caf/stat_cache.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int caf_stat_cached(caf_stat_cache *cache, const char *path, struct stat *st, bool follow)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t len = slash ? (size_t)(slash - path) : 0;
    /* "." and ".." name the folder itself or its parent: no shortcut for them, nor for "/x" and "x" */
    if (!slash || len == 0 || len >= sizeof cache->folder || !*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return follow ? stat(path, st) : lstat(path, st);
    if (!cache->valid || strlen(cache->folder) != len || strncmp(cache->folder, path, len) != 0) {
        caf_stat_cache_close(cache);
        memcpy(cache->folder, path, len);
        cache->folder[len] = '\0';
        cache->fd = open(cache->folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cache->valid = cache->fd >= 0;
        if (!cache->valid) /* the folder is missing or no folder: the plain call says so */
            return follow ? stat(path, st) : lstat(path, st);
    }
    return fstatat(cache->fd, base, st, follow ? 0 : AT_SYMLINK_NOFOLLOW);
}

void caf_stat_cache_close(caf_stat_cache *cache)
{
    if (cache->valid)
        close(cache->fd);
    cache->valid = false;
    cache->folder[0] = '\0';
}
