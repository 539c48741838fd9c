/* Parameter values parsed straight from YAML nodes, so that path files report file:line:column for
 * the exact value at fault. Shared by module_params.c, path_yaml.c and engine.c; not public. */
#ifndef CAF_MODULES_PARAMS_INTERNAL_H
#define CAF_MODULES_PARAMS_INTERNAL_H

#include <yaml.h>

#include "caf/module.h"

/* One given parameter: its name and its value node in doc. file (may be NULL) is the YAML file the
 * document came from; key_line/key_column (1-based, 0 = unknown) locate the parameter's key. */
typedef struct caf_param_node {
    const char *name;
    yaml_document_t *doc;
    int node;
    const char *file;
    size_t key_line;
    size_t key_column;
} caf_param_node;

/* Parses the given nodes against spec (see caf_params_parse); module_where (may be NULL) prefixes the
 * message about a missing required parameter. */
caf_status caf_params_parse_nodes(const char *module, const char *module_where, const caf_param_spec *spec,
                                  const caf_param_node *given, size_t count, caf_params **out, caf_error *err);

/* Checks a spec list: names unique and non-empty, known types, defaults that parse. */
caf_status caf_param_spec_check(const char *module, const caf_param_spec *spec, caf_error *err);

/* Formats "FILE:LINE:COLUMN" (or "LINE:COLUMN" without a file) of a node's start into buf. */
void caf_yaml_where(char *buf, size_t size, const char *file, const yaml_node_t *node);

#endif
