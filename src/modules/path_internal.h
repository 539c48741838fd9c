/* The path-set model as the loader builds it and the engine walks it; not public (see caf/path.h). */
#ifndef CAF_MODULES_PATH_INTERNAL_H
#define CAF_MODULES_PATH_INTERNAL_H

#include <yaml.h>

#include "caf/path.h"

typedef struct caf_path_param {
    char *name;
    yaml_document_t *doc; /* owned by the set */
    int node;
    size_t key_line, key_column; /* 1-based; 0 when set from code */
} caf_path_param;

typedef struct caf_path_condition {
    caf_condition_op op;
    int64_t value;
    char *target;     /* path name, or NULL for no path */
    long target_index; /* resolved by validate; -1 for no path */
    caf_after_condition after;
    char *where;       /* "FILE:L:C" or NULL */
} caf_path_condition;

typedef struct caf_path_module {
    char *module;   /* plugin name */
    char *instance; /* unique in the set */
    char *where;    /* "FILE:L:C" of the entry, or NULL */
    caf_path_param *params;
    size_t param_count;
    caf_path_condition *conditions;
    size_t condition_count;
} caf_path_module;

typedef struct caf_path {
    char *name;
    char *where;
    caf_path_module *modules;
    size_t count;
} caf_path;

struct caf_path_set {
    char *file; /* the YAML file, for messages; NULL when built in code */
    caf_path *paths;
    size_t count;
    char *main;
    long main_index; /* resolved by validate */
    yaml_document_t **docs;
    size_t doc_count;
};

/* Finds the path called name, or returns NULL (and *index = -1). */
caf_path *caf_path_set_find(const caf_path_set *set, const char *name, long *index);

/* Adds a path called name (which must be new); where may be NULL. */
caf_status caf_path_set_add_path(caf_path_set *set, const char *name, const char *where, caf_path **out,
                                 caf_error *err);

/* Takes ownership of doc (allocated with malloc, loaded). */
caf_status caf_path_set_adopt_document(caf_path_set *set, yaml_document_t *doc, caf_error *err);

#endif
