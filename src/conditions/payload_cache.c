/* The local payload cache (caf/payload_cache.h): content-addressed payload files and metadata answers
 * shared by the jobs of one machine. */
#include "caf/payload_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/gt_store.h"
#include "caf/hash.h"
#include "caf/temp_file.h"

struct caf_payload_cache {
    char *dir;
    uint64_t max_bytes;
};

caf_status caf_payload_cache_parse_size(const char *text, uint64_t *bytes, caf_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    unsigned shift = 0;
    if (end && (*end == 'K' || *end == 'k'))
        shift = 10, end++;
    else if (end && (*end == 'M' || *end == 'm'))
        shift = 20, end++;
    else if (end && (*end == 'G' || *end == 'g'))
        shift = 30, end++;
    if (!end || *end || errno || v == 0 || v > (UINT64_MAX >> shift))
        return caf_error_set(err, CAF_ERR_INVALID,
                             "payload cache size '%.40s' is not a positive number of bytes (with K, M or G)",
                             text ? text : "");
    *bytes = (uint64_t)v << shift;
    return CAF_OK;
}

caf_status caf_payload_cache_open(const char *dir, uint64_t max_bytes, caf_payload_cache **out, caf_error *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return caf_error_set(err, CAF_ERR_INVALID, "the payload cache folder is empty");
    caf_status st = caf_mkdir_p(dir, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "payload cache: ");
    caf_payload_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir))) {
        free(c);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    c->max_bytes = max_bytes ? max_bytes : CAF_PAYLOAD_CACHE_DEFAULT_SIZE;
    *out = c;
    return CAF_OK;
}

caf_status caf_payload_cache_open_default(caf_payload_cache **out, caf_error *err)
{
    *out = NULL;
    uint64_t max = 0;
    const char *size = getenv(CAF_PAYLOAD_CACHE_SIZE_ENV);
    if (size && *size && caf_payload_cache_parse_size(size, &max, err) != CAF_OK)
        return caf_error_prefix(err, "$%s: ", CAF_PAYLOAD_CACHE_SIZE_ENV);
    const char *dir = getenv(CAF_PAYLOAD_CACHE_ENV), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *path = NULL;
    if (dir && *dir)
        path = strdup(dir);
    else if (xdg && xdg[0] == '/')
        path = caf_path_join(xdg, "caf/payloads");
    else if (home && *home && asprintf(&path, "%s/.cache/caf/payloads", home) < 0)
        path = NULL;
    else if (!home || !*home)
        return caf_error_set(err, CAF_ERR_INVALID, "no payload cache folder: set $%s (or $XDG_CACHE_HOME or $HOME)",
                             CAF_PAYLOAD_CACHE_ENV);
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status st = caf_payload_cache_open(path, max, out, err);
    free(path);
    return st;
}

void caf_payload_cache_close(caf_payload_cache *cache)
{
    if (!cache)
        return;
    free(cache->dir);
    free(cache);
}

const char *caf_payload_cache_dir(const caf_payload_cache *cache)
{
    return cache->dir;
}

uint64_t caf_payload_cache_max_bytes(const caf_payload_cache *cache)
{
    return cache->max_bytes;
}

/* DIR/payloads/XX/CHECKSUM.EXT, or NULL (bad checksum or extension: err says which). */
static char *payload_path(const caf_payload_cache *c, const char *checksum, const char *ext, caf_error *err)
{
    if (!caf_gt_checksum_is_valid(checksum)) {
        caf_error_set(err, CAF_ERR_FORMAT, "'%.40s' is not a payload checksum (32 lowercase hex digits)",
                      checksum ? checksum : "");
        return NULL;
    }
    if (!caf_gt_extension_is_valid(ext)) {
        caf_error_set(err, CAF_ERR_FORMAT, "payload %s: '%.40s' is not a payload file extension ([a-z0-9]{1,16})",
                      checksum, ext ? ext : "");
        return NULL;
    }
    char *path = NULL;
    if (asprintf(&path, "%s/payloads/%.2s/%s.%s", c->dir, checksum, checksum, ext) < 0) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return path;
}

char *caf_payload_cache_get(caf_payload_cache *cache, const char *checksum, const char *ext, caf_error *err)
{
    char *path = payload_path(cache, checksum, ext, err);
    if (!path)
        return NULL;
    char actual[CAF_MD5_HEX_SIZE];
    caf_error ignored = {0};
    if (!caf_path_exists(path) || caf_md5_file_hex(path, actual, &ignored) != CAF_OK) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "payload %s is not in the cache %s", checksum, cache->dir);
        free(path);
        return NULL;
    }
    if (strcmp(actual, checksum) != 0) {
        /* damaged on disk since it was stored: never handed out */
        unlink(path);
        caf_error_set(err, CAF_ERR_NOT_FOUND, "payload %s in the cache %s was damaged (MD5 %s) and is removed",
                      checksum, cache->dir, actual);
        free(path);
        return NULL;
    }
    utimensat(AT_FDCWD, path, NULL, 0); /* the use time orders least-recently-used cleanup */
    return path;
}

static char *lock_path(const caf_payload_cache *c)
{
    return caf_path_join(c->dir, "lock");
}

static caf_status trim_locked(caf_payload_cache *cache, const char *keep, size_t *removed, caf_error *err);

/* The payloads' total size as last recorded in DIR/size (under the lock); UINT64_MAX when unknown. It is
 * a running estimate: a payload removed outside a trim makes it too high, which only brings the next
 * full scan (which records the exact total) forward. */
static uint64_t read_total(const caf_payload_cache *c)
{
    char *path = caf_path_join(c->dir, "size"), *text = NULL;
    size_t size = 0;
    caf_error ignored = {0};
    uint64_t total = UINT64_MAX;
    if (path && caf_file_read(path, &text, &size, &ignored) == CAF_OK) {
        char *end;
        unsigned long long v = strtoull(text, &end, 10);
        if (end != text && *end == '\n')
            total = v;
    }
    free(text);
    free(path);
    return total;
}

static void write_total(const caf_payload_cache *c, uint64_t total)
{
    char *path = caf_path_join(c->dir, "size");
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)total);
    caf_atomic_file file = {.fd = -1};
    caf_error ignored = {0};
    if (path && caf_atomic_file_open(&file, path, &ignored) == CAF_OK) {
        if (caf_atomic_file_write(&file, text, (size_t)n, &ignored) == CAF_OK)
            caf_atomic_file_commit_with(&file, CAF_ATOMIC_SYNC_NONE, &ignored);
        else
            caf_atomic_file_abort(&file);
    }
    free(path);
}

char *caf_payload_cache_put(caf_payload_cache *cache, const char *checksum, const char *ext, const void *data,
                            size_t size, caf_error *err)
{
    char *path = payload_path(cache, checksum, ext, err);
    if (!path)
        return NULL;
    char actual[CAF_MD5_HEX_SIZE];
    caf_status st = caf_md5_hex(data, size, actual, err);
    if (st == CAF_OK && strcmp(actual, checksum) != 0)
        st = caf_error_set(err, CAF_ERR_FORMAT, "payload %s: the downloaded data's MD5 is %s: refused, not cached",
                           checksum, actual);
    char *folder = st == CAF_OK ? strdup(path) : NULL;
    if (st == CAF_OK && !folder)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (folder) {
        *strrchr(folder, '/') = '\0';
        st = caf_mkdir_p(folder, err);
        free(folder);
    }
    caf_atomic_file file = {.fd = -1};
    if (st == CAF_OK && (st = caf_atomic_file_open(&file, path, err)) == CAF_OK &&
        (st = caf_atomic_file_write(&file, data, size, err)) == CAF_OK && fsync(file.fd) != 0)
        st = caf_error_errno(err, errno, "cannot fsync %s", file.temp_path);
    if (st != CAF_OK)
        caf_atomic_file_abort(&file);
    /* the data is on disk before the lock is taken: under it, only the rename and the size bookkeeping */
    char *lock_file = st == CAF_OK ? lock_path(cache) : NULL;
    caf_file_lock lock = {.fd = -1};
    if (st == CAF_OK && (!lock_file || (st = caf_file_lock_acquire(&lock, lock_file, err)) != CAF_OK)) {
        if (!lock_file)
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        caf_atomic_file_abort(&file);
    }
    if (st == CAF_OK) {
        bool existed = caf_path_exists(path);
        st = caf_atomic_file_commit_with(&file, CAF_ATOMIC_SYNC_NONE, err);
        uint64_t total = read_total(cache);
        if (st == CAF_OK && !existed && total != UINT64_MAX)
            total += size;
        caf_error trim_err = {0};
        /* a full scan only when the running total says the bound is passed (or it is unknown) */
        if (st == CAF_OK && (total == UINT64_MAX || total > cache->max_bytes))
            trim_locked(cache, path, NULL, &trim_err);
        else if (st == CAF_OK && !existed)
            write_total(cache, total);
        caf_file_lock_release(&lock);
    }
    if (st == CAF_OK) {
        char *folder_path = strdup(path);
        if (folder_path) {
            *strrchr(folder_path, '/') = '\0';
            st = caf_fsync_dir(folder_path, err);
            free(folder_path);
        }
    }
    free(lock_file);
    if (st != CAF_OK) {
        caf_error_prefix(err, "payload cache %s: ", cache->dir);
        free(path);
        return NULL;
    }
    return path;
}

struct cached_file {
    char *path;
    uint64_t size;
    struct timespec used;
};

/* True if name is "CHECKSUM.EXT" as payload_path writes it. */
static bool is_payload_name(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot - name != 32)
        return false;
    char checksum[CAF_MD5_HEX_SIZE];
    memcpy(checksum, name, 32);
    checksum[32] = '\0';
    return caf_gt_checksum_is_valid(checksum) && caf_gt_extension_is_valid(dot + 1);
}

/* Every payload file under DIR/payloads (temporary files and anything else are not payloads). */
static caf_status list_payloads(const caf_payload_cache *c, struct cached_file **out, size_t *count, caf_error *err)
{
    *out = NULL;
    *count = 0;
    char *root = caf_path_join(c->dir, "payloads");
    if (!root)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    DIR *top = opendir(root);
    size_t capacity = 0;
    caf_status st = CAF_OK;
    struct dirent *d;
    while (st == CAF_OK && top && (d = readdir(top))) {
        if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
            continue;
        char *sub = caf_path_join(root, d->d_name);
        DIR *inner = sub ? opendir(sub) : NULL;
        struct dirent *e;
        while (st == CAF_OK && inner && (e = readdir(inner))) {
            struct stat sb;
            if (!is_payload_name(e->d_name) || fstatat(dirfd(inner), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(sb.st_mode))
                continue;
            if (*count == capacity) {
                capacity = capacity ? capacity * 2 : 64;
                struct cached_file *grown = realloc(*out, capacity * sizeof **out);
                if (!grown) {
                    st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                    break;
                }
                *out = grown;
            }
            struct cached_file *f = &(*out)[*count];
            if (!(f->path = caf_path_join(sub, e->d_name))) {
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                break;
            }
            f->size = (uint64_t)sb.st_size;
            f->used = sb.st_mtim;
            (*count)++;
        }
        if (inner)
            closedir(inner);
        free(sub);
    }
    if (top)
        closedir(top);
    free(root);
    return st;
}

static int by_use_time(const void *a, const void *b)
{
    const struct cached_file *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void free_files(struct cached_file *files, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(files[i].path);
    free(files);
}

/* caf_payload_cache_trim with the lock held; records the new total. */
static caf_status trim_locked(caf_payload_cache *cache, const char *keep, size_t *removed, caf_error *err)
{
    if (removed)
        *removed = 0;
    struct cached_file *files;
    size_t count;
    caf_status st = list_payloads(cache, &files, &count, err);
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += files[i].size;
    if (st == CAF_OK && total > cache->max_bytes) {
        qsort(files, count, sizeof *files, by_use_time);
        for (size_t i = 0; i < count && total > cache->max_bytes; i++) {
            if (keep && strcmp(files[i].path, keep) == 0)
                continue;
            if (unlink(files[i].path) == 0 || errno == ENOENT) {
                total -= files[i].size;
                if (removed)
                    (*removed)++;
            }
        }
    }
    free_files(files, count);
    if (st == CAF_OK)
        write_total(cache, total);
    /* leftovers of writers killed between their temporary file and its rename */
    char *root = st == CAF_OK ? caf_path_join(cache->dir, "payloads") : NULL;
    caf_error ignored = {0};
    if (root && caf_path_is_dir(root))
        caf_temp_sweep(root, CAF_TEMP_SWEEP_RECURSIVE, NULL, NULL, NULL, &ignored);
    free(root);
    return st;
}

caf_status caf_payload_cache_trim(caf_payload_cache *cache, const char *keep, size_t *removed, caf_error *err)
{
    char *lock_file = lock_path(cache);
    caf_file_lock lock = {.fd = -1};
    caf_status st = lock_file ? caf_file_lock_acquire(&lock, lock_file, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(lock_file);
    if (st != CAF_OK)
        return st;
    st = trim_locked(cache, keep, removed, err);
    caf_file_lock_release(&lock);
    return st;
}

uint64_t caf_payload_cache_size(const caf_payload_cache *cache)
{
    struct cached_file *files;
    size_t count;
    caf_error ignored = {0};
    uint64_t total = 0;
    if (list_payloads(cache, &files, &count, &ignored) == CAF_OK)
        for (size_t i = 0; i < count; i++)
            total += files[i].size;
    free_files(files, count);
    return total;
}

/* DIR/metadata/XX/MD5(key).json */
static char *meta_path(const caf_payload_cache *c, const char *key, caf_error *err)
{
    char digest[CAF_MD5_HEX_SIZE];
    char *path = NULL;
    if (caf_md5_hex(key, strlen(key), digest, err) != CAF_OK)
        return NULL;
    if (asprintf(&path, "%s/metadata/%.2s/%s.json", c->dir, digest, digest) < 0) {
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return path;
}

caf_status caf_payload_cache_get_meta(caf_payload_cache *cache, const char *key, json_t **value, caf_error *err)
{
    *value = NULL;
    char *path = meta_path(cache, key, err);
    if (!path)
        return err ? err->code : CAF_ERR_NOMEM;
    json_t *doc = caf_path_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    /* the key is stored too: a digest collision or a foreign file is a miss, not a wrong answer */
    const char *stored = json_string_value(json_object_get(doc, "key"));
    json_t *v = json_object_get(doc, "value");
    if (!stored || strcmp(stored, key) != 0 || !v) {
        json_decref(doc);
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "'%.200s' is not in the payload cache %s", key, cache->dir);
    }
    *value = json_incref(v);
    json_decref(doc);
    return CAF_OK;
}

caf_status caf_payload_cache_put_meta(caf_payload_cache *cache, const char *key, const json_t *value,
                                      caf_error *err)
{
    char *path = meta_path(cache, key, err);
    if (!path)
        return err ? err->code : CAF_ERR_NOMEM;
    json_t *doc = json_pack("{s:s, s:O}", "key", key, "value", (json_t *)value);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    char *folder = strdup(path);
    caf_status st = text && folder ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st == CAF_OK) {
        *strrchr(folder, '/') = '\0';
        st = caf_mkdir_p(folder, err);
    }
    caf_atomic_file file = {.fd = -1};
    if (st == CAF_OK && (st = caf_atomic_file_open(&file, path, err)) == CAF_OK) {
        if ((st = caf_atomic_file_write(&file, text, strlen(text), err)) == CAF_OK)
            st = caf_atomic_file_commit_with(&file, CAF_ATOMIC_SYNC_DATA, err);
        else
            caf_atomic_file_abort(&file);
    }
    json_decref(doc);
    free(text);
    free(folder);
    free(path);
    return st == CAF_OK ? st : caf_error_prefix(err, "payload cache %s: ", cache->dir);
}
