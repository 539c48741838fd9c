/* The local payload cache of database chains that name a global tag on a server: payload files
 * content-addressed by checksum (DIR/payloads/XX/MD5.EXT) and the server's metadata answers
 * (DIR/metadata/XX/DIGEST.json, DIGEST the MD5 of the caller's key), shared by every job on one machine.
 *
 * Files are written as a temporary file, fsync'ed and renamed, so readers see a whole file or none;
 * several processes storing the same checksum at once all write the same bytes. A payload is stored only
 * when its MD5 equals its checksum, and checked again when taken from the cache (a damaged file is
 * removed and reported missing). The payloads' total size is kept under a bound: each store adds its size
 * to a running total (DIR/size) under the exclusive lock DIR/lock, and when the total passes the bound the
 * folder is scanned and the least recently used payload files (by modification time, refreshed on every
 * hit) are removed until the rest fits. Only checksums, extensions and digests ever form a path. */
#ifndef CAF_PAYLOAD_CACHE_H
#define CAF_PAYLOAD_CACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_PAYLOAD_CACHE_ENV "CAF_PAYLOAD_CACHE"          /* the cache folder */
#define CAF_PAYLOAD_CACHE_SIZE_ENV "CAF_PAYLOAD_CACHE_SIZE" /* its bound: bytes, or with a K, M or G suffix */
#define CAF_PAYLOAD_CACHE_DEFAULT_SIZE ((uint64_t)2 << 30)  /* 2 GiB */

typedef struct caf_payload_cache caf_payload_cache;

/* Opens (creating when missing) the cache in folder dir, payloads bounded to max_bytes (0: the default).
 * *out is owned by the caller (caf_payload_cache_close). */
caf_status caf_payload_cache_open(const char *dir, uint64_t max_bytes, caf_payload_cache **out, caf_error *err);

/* Opens the cache the environment names: $CAF_PAYLOAD_CACHE, else $XDG_CACHE_HOME/caf/payloads, else
 * ~/.cache/caf/payloads, bounded by $CAF_PAYLOAD_CACHE_SIZE (else the default). *out as above. */
caf_status caf_payload_cache_open_default(caf_payload_cache **out, caf_error *err);

/* Frees the handle (NULL is fine); the files stay. */
void caf_payload_cache_close(caf_payload_cache *cache);

/* The cache folder (owned by cache). */
const char *caf_payload_cache_dir(const caf_payload_cache *cache);

/* The bound on the payloads' total size in bytes. */
uint64_t caf_payload_cache_max_bytes(const caf_payload_cache *cache);

/* Parses a size ("1048576", "512K", "100M", "2G") into *bytes; CAF_ERR_INVALID naming text otherwise. */
caf_status caf_payload_cache_parse_size(const char *text, uint64_t *bytes, caf_error *err);

/* The path of the cached payload with this checksum and extension (malloc'd, caller frees), its MD5
 * checked and its use time refreshed; NULL with CAF_ERR_NOT_FOUND when it is not cached (or was damaged:
 * then it is removed). */
char *caf_payload_cache_get(caf_payload_cache *cache, const char *checksum, const char *ext, caf_error *err);

/* Stores size bytes of data as the payload with this checksum and extension and returns its path
 * (malloc'd, caller frees). Data whose MD5 is not checksum is refused (CAF_ERR_FORMAT naming both) and
 * nothing is stored. Then trims the cache to its bound, keeping this payload. */
char *caf_payload_cache_put(caf_payload_cache *cache, const char *checksum, const char *ext, const void *data,
                            size_t size, caf_error *err);

/* Removes least recently used payload files until their total size is within the bound, never the file
 * named keep (a path, may be NULL); *removed (may be NULL) counts the files removed. */
caf_status caf_payload_cache_trim(caf_payload_cache *cache, const char *keep, size_t *removed, caf_error *err);

/* The payloads' total size in bytes now (a folder scan). */
uint64_t caf_payload_cache_size(const caf_payload_cache *cache);

/* The metadata value stored under key; CAF_ERR_NOT_FOUND when there is none (or it is not JSON). *value
 * is owned by the caller. */
caf_status caf_payload_cache_get_meta(caf_payload_cache *cache, const char *key, json_t **value, caf_error *err);

/* Stores value under key atomically (replacing an older value). */
caf_status caf_payload_cache_put_meta(caf_payload_cache *cache, const char *key, const json_t *value,
                                      caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
