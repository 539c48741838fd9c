/* Database chains: first database with a matching payload wins. */
#include <stdlib.h>

#include "caf/dbchain.h"

struct caf_dbchain {
    caf_localdb **databases;
    size_t count;
};

caf_status caf_dbchain_open(const char *const *paths, size_t count, caf_dbchain **out, caf_error *err)
{
    *out = NULL;
    caf_dbchain *chain = calloc(1, sizeof *chain);
    if (!chain || !(chain->databases = calloc(count ? count : 1, sizeof *chain->databases))) {
        free(chain);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        caf_status rc = caf_localdb_open(paths[i], 0, &chain->databases[i], err);
        if (rc != CAF_OK) {
            caf_dbchain_close(chain);
            return rc;
        }
        chain->count++;
    }
    *out = chain;
    return CAF_OK;
}

void caf_dbchain_close(caf_dbchain *chain)
{
    if (!chain)
        return;
    for (size_t i = 0; i < chain->count; i++)
        caf_localdb_close(chain->databases[i]);
    free(chain->databases);
    free(chain);
}

size_t caf_dbchain_size(const caf_dbchain *chain)
{
    return chain->count;
}

caf_localdb *caf_dbchain_database(const caf_dbchain *chain, size_t i)
{
    return i < chain->count ? chain->databases[i] : NULL;
}

const caf_db_entry *caf_dbchain_find(const caf_dbchain *chain, const char *name, caf_exprun r,
                                     caf_localdb **where)
{
    for (size_t i = 0; i < chain->count; i++) {
        const caf_db_entry *e = caf_localdb_find(chain->databases[i], name, r);
        if (e) {
            if (where)
                *where = chain->databases[i];
            return e;
        }
    }
    if (where)
        *where = NULL;
    return NULL;
}
