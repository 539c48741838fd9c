/* stat(2) of many paths that mostly share a folder: each path's folder is walked once and kept open, and
 * the path's last component is looked up from there (fstatat), so 100,000 input files cost one lookup
 * each instead of one per component of their absolute paths. */
#ifndef CAF_STAT_CACHE_H
#define CAF_STAT_CACHE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The folder of the last path looked up. Zero-initialise; close with caf_stat_cache_close. */
typedef struct caf_stat_cache {
    char folder[PATH_MAX]; /* as written in the path */
    int fd;                /* O_PATH descriptor of it, when valid */
    bool valid;
} caf_stat_cache;

/* stat (follow) or lstat (!follow) of path into *st, with the result and errno those calls would give. */
int caf_stat_cached(caf_stat_cache *cache, const char *path, struct stat *st, bool follow);

/* Closes the folder descriptor (a zeroed or closed cache is fine). */
void caf_stat_cache_close(caf_stat_cache *cache);

#ifdef __cplusplus
}
#endif
#endif
