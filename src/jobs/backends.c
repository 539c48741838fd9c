/* Finding and opening backends by name from the generated registry. */
#include <stdio.h>
#include <string.h>

#include "caf/backend.h"

const caf_backend_ops *caf_backend_find(const char *name)
{
    for (const caf_backend_ops *const *b = caf_backend_registry; name && *b; b++)
        if (strcmp((*b)->name, name) == 0)
            return *b;
    return NULL;
}

caf_status caf_backend_open(caf_backend *backend, const char *name, const json_t *settings, caf_error *err)
{
    memset(backend, 0, sizeof *backend);
    const caf_backend_ops *ops = caf_backend_find(name);
    if (!ops) {
        char known[256] = "";
        for (const caf_backend_ops *const *b = caf_backend_registry; *b; b++) {
            size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", (*b)->name);
        }
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "unknown backend '%s' (known: %s)", name ? name : "",
                             known);
    }
    backend->ops = ops;
    backend->poll_interval_s = 30;
    backend->exit_file_grace_s = 60;
    caf_status rc = ops->open(backend, settings, err);
    if (rc != CAF_OK) {
        caf_error_prefix(err, "backend %s: ", name);
        memset(backend, 0, sizeof *backend);
    }
    return rc;
}

void caf_backend_close(caf_backend *backend)
{
    if (backend && backend->ops && backend->ops->close)
        backend->ops->close(backend);
    if (backend)
        memset(backend, 0, sizeof *backend);
}
