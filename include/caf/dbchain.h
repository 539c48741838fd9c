/* A database chain: an ordered list of local databases searched first to last; the first database with
 * a payload for (name, run) wins. Algorithms read the previous iteration's constants and those of the
 * calibrations they depend on through a chain. */
#ifndef CAF_DBCHAIN_H
#define CAF_DBCHAIN_H

#include <stddef.h>

#include "caf/error.h"
#include "caf/localdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_dbchain caf_dbchain;

/* Opens count databases (folders) in search order; *out is owned by the caller (caf_dbchain_close). */
caf_status caf_dbchain_open(const char *const *paths, size_t count, caf_dbchain **out, caf_error *err);

/* Frees the chain and its databases (NULL is fine). */
void caf_dbchain_close(caf_dbchain *chain);

/* Number of databases in the chain. */
size_t caf_dbchain_size(const caf_dbchain *chain);

/* The i-th database (owned by the chain). */
caf_localdb *caf_dbchain_database(const caf_dbchain *chain, size_t i);

/* The entry for name at run r from the first database that has one, and that database in *where (may be
 * NULL); NULL when no database has one. Both are owned by the chain. */
const caf_db_entry *caf_dbchain_find(const caf_dbchain *chain, const char *name, caf_exprun r,
                                     caf_localdb **where);

#ifdef __cplusplus
}
#endif
#endif
