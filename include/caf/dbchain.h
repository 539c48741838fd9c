/* A database chain: an ordered list of conditions databases searched first to last; the first one with a
 * payload for (name, run) wins. An entry is a local database folder, or a global tag on a conditions
 * service written as "globaltag=NAME@URL[,URL...]" (caf_dbchain_server_entry), whose payloads come through
 * the local payload cache (caf/gt_resolver.h, caf/payload_cache.h). Entries never contain ':', so a chain
 * travels as one string of entries joined with ':' ($CAF_DATABASE_CHAIN, caf_dbchain_open_text).
 * Algorithms read the previous iteration's constants and those of the calibrations they depend on through
 * a chain. */
#ifndef CAF_DBCHAIN_H
#define CAF_DBCHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"
#include "caf/gt_resolver.h"
#include "caf/localdb.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_DBCHAIN_SERVER_PREFIX "globaltag="

typedef struct caf_dbchain caf_dbchain;

/* Opens count entries (folders or server entries) in search order; servers are not contacted yet and the
 * payload cache is the environment's (caf_payload_cache_open_default). *out is owned by the caller
 * (caf_dbchain_close). */
caf_status caf_dbchain_open(const char *const *paths, size_t count, caf_dbchain **out, caf_error *err);

/* caf_dbchain_open on text, entries separated by ':' (empty ones skipped; NULL is an empty chain). */
caf_status caf_dbchain_open_text(const char *text, caf_dbchain **out, caf_error *err);

/* Frees the chain and its databases (NULL is fine). */
void caf_dbchain_close(caf_dbchain *chain);

/* Number of entries in the chain. */
size_t caf_dbchain_size(const caf_dbchain *chain);

/* The i-th entry's local database (owned by the chain); NULL for a server entry. */
caf_localdb *caf_dbchain_database(const caf_dbchain *chain, size_t i);

/* The i-th entry's server resolver (owned by the chain); NULL for a local database. */
caf_gt_resolver *caf_dbchain_resolver(const caf_dbchain *chain, size_t i);

/* The entry for name at run r from the first local database that has one, searching only up to the first
 * server entry (which it cannot read: it logs a warning once per chain and answers NULL rather than a
 * payload of lower priority), and that database in *where (may be NULL); NULL when none has one. Use
 * caf_dbchain_lookup on chains that may name servers. Both are owned by the chain. */
const caf_db_entry *caf_dbchain_find(const caf_dbchain *chain, const char *name, caf_exprun r,
                                     caf_localdb **where);

/* A payload found in a chain. */
typedef struct caf_dbchain_match {
    const caf_db_entry *entry; /* owned by the chain; for a server the revision is the payload's MD5 */
    caf_localdb *database;     /* the local database (owned by the chain), NULL for a server entry */
    size_t position;           /* the entry's index in the chain */
    char *path;                /* the payload file (malloc'd: caf_dbchain_match_clear) */
} caf_dbchain_match;

/* The payload for name at run r from the first entry, local or server, that has one, with its file:
 * CAF_ERR_NOT_FOUND when none has one; a server that cannot answer (and whose answer is not cached) fails
 * the lookup with the server's error rather than letting a later entry answer. */
caf_status caf_dbchain_lookup(caf_dbchain *chain, const char *name, caf_exprun r, caf_dbchain_match *match,
                              caf_error *err);

/* Frees what a match owns (its path). */
void caf_dbchain_match_clear(caf_dbchain_match *match);

/* True if entry is a server entry ("globaltag=..."). */
bool caf_dbchain_entry_is_server(const char *entry);

/* The server entry for tag on urls (count, tried in order): "globaltag=TAG@URL,URL" with '%', ':', ',', '@'
 * and bytes outside printable ASCII in the URLs percent-encoded. malloc'd (caller frees); NULL when out of
 * memory. */
char *caf_dbchain_server_entry(const char *tag, const char *const *urls, size_t count);

/* Splits a server entry into *tag and *urls (*count of them), all malloc'd (caf_dbchain_server_free);
 * CAF_ERR_INVALID naming the entry when it is malformed (bad tag name, no URL, a URL not http(s)://). */
caf_status caf_dbchain_server_parse(const char *entry, char **tag, char ***urls, size_t *count, caf_error *err);

/* Frees what caf_dbchain_server_parse returned. */
void caf_dbchain_server_free(char *tag, char **urls, size_t count);

/* The entry as people read it: a local database as given; a server entry as "global tag NAME on URL[, URL...]"
 * (a malformed one as given). malloc'd (caller frees); NULL when out of memory. */
char *caf_dbchain_entry_describe(const char *entry);

#ifdef __cplusplus
}
#endif
#endif
