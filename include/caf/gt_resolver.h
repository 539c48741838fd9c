/* A global tag on a conditions service, as one entry of a database chain: payloads for a run are found
 * with the service's v2/iovPayloads/?gtName=&expNumber=&runNumber= query and their files taken through
 * the local payload cache (caf/payload_cache.h).
 *
 * Several server URLs are tried in order; when none answers (no connection, or HTTP 5xx), the round is
 * repeated after a random back-off of 1 to 2^round times the back-off factor, $CAF_GT_RETRIES times
 * (default 3) with factor $CAF_GT_BACKOFF seconds (default 1). After that the resolver works offline for
 * the rest of the process. The answers are kept in the cache: for a PUBLISHED tag (immutable) a cached
 * answer is always used without asking; for an OPEN tag the server is asked and a cached answer is only
 * the fallback when no server answers. An unknown or INVALID tag is an error, never served from the cache.
 * Everything the server says is checked (names, checksums, extensions, IoVs) before it is used or cached. */
#ifndef CAF_GT_RESOLVER_H
#define CAF_GT_RESOLVER_H

#include <stddef.h>

#include "caf/error.h"
#include "caf/iov.h"
#include "caf/localdb.h"
#include "caf/payload_cache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_gt_resolver caf_gt_resolver;

/* How a resolver's lookups were answered (for reports and benchmarks). */
typedef struct caf_gt_resolver_stats {
    size_t runs_from_server;  /* run answers asked from a server */
    size_t runs_from_cache;   /* run answers taken from the payload cache's metadata */
    size_t payload_hits;      /* payload files found in the payload cache */
    size_t payload_downloads; /* payload files downloaded (and stored in the cache) */
} caf_gt_resolver_stats;

/* A resolver for global tag tag on the servers urls (count of them, tried in order), using cache (borrowed:
 * it must outlive the resolver). No server is contacted yet. *out is owned by the caller
 * (caf_gt_resolver_close). */
caf_status caf_gt_resolver_open(const char *tag, const char *const *urls, size_t count, caf_payload_cache *cache,
                                caf_gt_resolver **out, caf_error *err);

/* Frees the resolver (NULL is fine). */
void caf_gt_resolver_close(caf_gt_resolver *resolver);

/* Asks the servers for the tag's state ("OPEN", "PUBLISHED"; *state owned by the resolver): CAF_ERR_NOT_FOUND
 * when it does not exist, CAF_ERR_STATE when it is INVALID, CAF_ERR_IO when no server answers. */
caf_status caf_gt_resolver_check_tag(caf_gt_resolver *resolver, const char **state, caf_error *err);

/* The payload for name at run: *entry (its name, the checksum as revision, its IoV; owned by the resolver,
 * valid until close) and *path, its file in the payload cache (malloc'd, caller frees). CAF_ERR_NOT_FOUND
 * only when the tag has no such payload for the run (an unknown tag is CAF_ERR_INVALID); other errors name
 * the tag, the servers and the payload. */
caf_status caf_gt_resolver_find(caf_gt_resolver *resolver, const char *name, caf_exprun run,
                                const caf_db_entry **entry, char **path, caf_error *err);

/* The resolver's counts so far. */
caf_gt_resolver_stats caf_gt_resolver_get_stats(const caf_gt_resolver *resolver);

/* "TAG on URL1, URL2" for messages (owned by the resolver). */
const char *caf_gt_resolver_name(const caf_gt_resolver *resolver);

#ifdef __cplusplus
}
#endif
#endif
