/* Loading untrusted YAML (campaign files, path files) with bounds: libyaml expands nothing itself, but
 * its loader shares aliased nodes, so a walk over a small document can visit billions of nodes (an
 * "alias bomb"), an alias inside the node it names makes the document a cycle, and its scanner costs
 * time quadratic in the nesting depth. caf_yaml_load_bounded refuses all three before the document is
 * built, naming the place. */
#ifndef CAF_CORE_YAML_BOUNDED_H
#define CAF_CORE_YAML_BOUNDED_H

#include <stddef.h>

#include <yaml.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collections nested deeper than this are refused (a campaign or path file needs fewer than 10). */
#define CAF_YAML_MAX_DEPTH 100
/* At most this many nodes in total may be reached through aliases (each alias counts the whole node it
 * names, aliases inside it included). */
#define CAF_YAML_MAX_ALIAS_NODES 100000
/* At most this many anchors per document (libyaml looks anchors up one by one). */
#define CAF_YAML_MAX_ANCHORS 1000

/* Why a load failed: 1-based line and column (0 when unknown) and a message without the location. */
typedef struct caf_yaml_failure {
    int line;
    int column;
    char message[256];
} caf_yaml_failure;

/* Loads the first document of text (size bytes) into doc (caller frees it with yaml_document_delete on
 * CAF_OK). Returns CAF_ERR_FORMAT for a syntax error or a bound exceeded and CAF_ERR_NOMEM when memory
 * ran out, with *failure saying where and why; never returns CAF_OK for a partial document. */
caf_status caf_yaml_load_bounded(const char *text, size_t size, yaml_document_t *doc, caf_yaml_failure *failure);

#ifdef __cplusplus
}
#endif
#endif
