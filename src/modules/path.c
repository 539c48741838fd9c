/* The path-set model: named paths of module instances with parameters and conditions, built by the
 * YAML loader or in code, and checked before the engine runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/path_internal.h"

static caf_status nomem(caf_error *err)
{
    return caf_error_set(err, CAF_ERR_NOMEM, "out of memory building a path");
}

/* Grows *array (of elem-size items, *count used) by one zeroed item; returns it or NULL. */
static void *grow(void *array_ptr, size_t *count, size_t elem)
{
    void **array = array_ptr;
    void *n = realloc(*array, (*count + 1) * elem);
    if (!n)
        return NULL;
    *array = n;
    void *item = (char *)n + *count * elem;
    memset(item, 0, elem);
    (*count)++;
    return item;
}

caf_status caf_path_set_new(caf_path_set **out, caf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return nomem(err);
    (*out)->main_index = -1;
    return CAF_OK;
}

static void free_module(caf_path_module *m)
{
    free(m->module);
    free(m->instance);
    free(m->where);
    for (size_t i = 0; i < m->param_count; i++)
        free(m->params[i].name);
    free(m->params);
    for (size_t i = 0; i < m->condition_count; i++) {
        free(m->conditions[i].target);
        free(m->conditions[i].where);
    }
    free(m->conditions);
}

void caf_path_set_free(caf_path_set *set)
{
    if (!set)
        return;
    for (size_t p = 0; p < set->count; p++) {
        for (size_t i = 0; i < set->paths[p].count; i++)
            free_module(&set->paths[p].modules[i]);
        free(set->paths[p].modules);
        free(set->paths[p].name);
        free(set->paths[p].where);
    }
    free(set->paths);
    for (size_t d = 0; d < set->doc_count; d++) {
        yaml_document_delete(set->docs[d]);
        free(set->docs[d]);
    }
    free(set->docs);
    free(set->main);
    free(set->file);
    free(set);
}

caf_path *caf_path_set_find(const caf_path_set *set, const char *name, long *index)
{
    for (size_t p = 0; name && p < set->count; p++)
        if (!strcmp(set->paths[p].name, name)) {
            if (index)
                *index = (long)p;
            return &set->paths[p];
        }
    if (index)
        *index = -1;
    return NULL;
}

caf_status caf_path_set_add_path(caf_path_set *set, const char *name, const char *where, caf_path **out,
                                 caf_error *err)
{
    if (!name || !*name)
        return caf_error_set(err, CAF_ERR_INVALID, "%s%sa path needs a name", where ? where : "", where ? ": " : "");
    if (caf_path_set_find(set, name, NULL))
        return caf_error_set(err, CAF_ERR_INVALID, "%s%spath '%s' is defined twice", where ? where : "",
                             where ? ": " : "", name);
    caf_path *p = grow(&set->paths, &set->count, sizeof *p);
    if (!p)
        return nomem(err);
    p->name = strdup(name);
    p->where = where ? strdup(where) : NULL;
    if (!p->name || (where && !p->where))
        return nomem(err);
    *out = p;
    return CAF_OK;
}

caf_status caf_path_set_adopt_document(caf_path_set *set, yaml_document_t *doc, caf_error *err)
{
    yaml_document_t **slot = grow(&set->docs, &set->doc_count, sizeof *slot);
    if (!slot) {
        yaml_document_delete(doc);
        free(doc);
        return nomem(err);
    }
    *slot = doc;
    return CAF_OK;
}

static caf_path_module *module_at(caf_path_set *set, const char *path, size_t index, caf_error *err)
{
    caf_path *p = caf_path_set_find(set, path, NULL);
    if (!p) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "no path '%s'", path ? path : "");
        return NULL;
    }
    if (index >= p->count) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "path '%s' has no module %zu", path, index);
        return NULL;
    }
    return &p->modules[index];
}

caf_status caf_path_set_add_module(caf_path_set *set, const char *path, const char *module, const char *instance,
                                   size_t *index, caf_error *err)
{
    if (!module || !*module)
        return caf_error_set(err, CAF_ERR_INVALID, "path '%s': a module needs a name", path ? path : "");
    caf_path *p = caf_path_set_find(set, path, NULL);
    if (!p) {
        caf_status st = caf_path_set_add_path(set, path, NULL, &p, err);
        if (st != CAF_OK)
            return st;
    }
    caf_path_module *m = grow(&p->modules, &p->count, sizeof *m);
    if (!m)
        return nomem(err);
    m->module = strdup(module);
    m->instance = strdup(instance && *instance ? instance : module);
    if (!m->module || !m->instance)
        return nomem(err);
    if (index)
        *index = p->count - 1;
    return CAF_OK;
}

caf_status caf_path_set_set_param(caf_path_set *set, const char *path, size_t index, const char *name,
                                  const char *yaml_value, caf_error *err)
{
    caf_path_module *m = module_at(set, path, index, err);
    if (!m)
        return err ? err->code : CAF_ERR_NOT_FOUND;
    yaml_document_t *doc = calloc(1, sizeof *doc);
    if (!doc)
        return nomem(err);
    yaml_parser_t parser;
    bool ok = yaml_parser_initialize(&parser);
    if (ok) {
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_value, strlen(yaml_value));
        ok = yaml_parser_load(&parser, doc);
        yaml_parser_delete(&parser);
    }
    if (!ok) {
        free(doc);
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: parameter %s: '%s' is not a YAML value", m->instance,
                             name, yaml_value);
    }
    if (!yaml_document_get_root_node(doc)) {
        yaml_document_delete(doc);
        free(doc);
        return caf_error_set(err, CAF_ERR_INVALID, "module %s: parameter %s has an empty value", m->instance, name);
    }
    caf_status st = caf_path_set_adopt_document(set, doc, err);
    if (st != CAF_OK)
        return st;
    caf_path_param *param = NULL;
    for (size_t i = 0; i < m->param_count && !param; i++)
        if (!strcmp(m->params[i].name, name))
            param = &m->params[i]; /* a value set in code replaces the file's */
    if (!param) {
        param = grow(&m->params, &m->param_count, sizeof *param);
        if (!param || !(param->name = strdup(name)))
            return nomem(err);
    }
    param->doc = doc;
    param->node = 1; /* the root of a freshly loaded document */
    param->key_line = param->key_column = 0;
    return CAF_OK;
}

caf_status caf_path_set_add_condition(caf_path_set *set, const char *path, size_t index, const char *expression,
                                      const char *target, caf_after_condition after, caf_error *err)
{
    caf_path_module *m = module_at(set, path, index, err);
    if (!m)
        return err ? err->code : CAF_ERR_NOT_FOUND;
    caf_condition_op op;
    int64_t value;
    caf_status st = caf_condition_parse(expression, &op, &value, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "module %s: ", m->instance);
    caf_path_condition *c = grow(&m->conditions, &m->condition_count, sizeof *c);
    if (!c)
        return nomem(err);
    c->op = op;
    c->value = value;
    c->after = after;
    c->target_index = -1;
    if (target && !(c->target = strdup(target)))
        return nomem(err);
    return CAF_OK;
}

caf_status caf_path_set_set_main(caf_path_set *set, const char *path, caf_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return nomem(err);
    free(set->main);
    set->main = copy;
    return CAF_OK;
}

/* Depth-first search for a path that reaches itself through conditions (0 unseen, 1 open, 2 done). */
static const caf_path *find_cycle(const caf_path_set *set, size_t p, unsigned char *mark)
{
    mark[p] = 1;
    for (size_t i = 0; i < set->paths[p].count; i++) {
        const caf_path_module *m = &set->paths[p].modules[i];
        for (size_t c = 0; c < m->condition_count; c++) {
            long t = m->conditions[c].target_index;
            if (t < 0 || mark[t] == 2)
                continue;
            if (mark[t] == 1)
                return &set->paths[t];
            const caf_path *cycle = find_cycle(set, (size_t)t, mark);
            if (cycle)
                return cycle;
        }
    }
    mark[p] = 2;
    return NULL;
}

#define WHERE(w) ((w) ? (w) : ""), ((w) ? ": " : "")

caf_status caf_path_set_validate(caf_path_set *set, caf_error *err)
{
    const char *file = set->file ? set->file : "path set";
    if (!set->main) {
        const char *guess = caf_path_set_find(set, "main", NULL) ? "main"
                            : set->count == 1                   ? set->paths[0].name
                                                                : NULL;
        if (!guess)
            return caf_error_set(err, CAF_ERR_INVALID,
                                 "%s: no main path: name one 'main' or set 'main:' to the path events start in", file);
        caf_status st = caf_path_set_set_main(set, guess, err);
        if (st != CAF_OK)
            return st;
    }
    if (!caf_path_set_find(set, set->main, &set->main_index))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: main path '%s' is not defined", file, set->main);
    for (size_t p = 0; p < set->count; p++) {
        for (size_t i = 0; i < set->paths[p].count; i++) {
            caf_path_module *m = &set->paths[p].modules[i];
            for (size_t q = 0; q <= p; q++)
                for (size_t j = 0; j < (q == p ? i : set->paths[q].count); j++)
                    if (!strcmp(set->paths[q].modules[j].instance, m->instance))
                        return caf_error_set(err, CAF_ERR_INVALID,
                                             "%s%smodule instance name '%s' is used twice (give one a 'name:')",
                                             WHERE(m->where), m->instance);
            for (size_t c = 0; c < m->condition_count; c++) {
                caf_path_condition *cond = &m->conditions[c];
                if (cond->target && !caf_path_set_find(set, cond->target, &cond->target_index))
                    return caf_error_set(err, CAF_ERR_INVALID, "%s%smodule %s: condition names path '%s', which is not defined",
                                         WHERE(cond->where), m->instance, cond->target);
            }
        }
    }
    unsigned char *mark = calloc(set->count ? set->count : 1, 1);
    if (!mark)
        return nomem(err);
    const caf_path *cycle = NULL;
    for (size_t p = 0; p < set->count && !cycle; p++)
        if (!mark[p])
            cycle = find_cycle(set, p, mark);
    free(mark);
    if (cycle)
        return caf_error_set(err, CAF_ERR_INVALID, "%s%spath '%s' reaches itself through conditions",
                             WHERE(cycle->where), cycle->name);
    return CAF_OK;
}

const char *caf_path_set_main(const caf_path_set *set)
{
    return set->main;
}

size_t caf_path_set_path_count(const caf_path_set *set)
{
    return set->count;
}

const char *caf_path_set_path_name(const caf_path_set *set, size_t i)
{
    return i < set->count ? set->paths[i].name : NULL;
}

size_t caf_path_set_module_count(const caf_path_set *set, const char *path)
{
    const caf_path *p = caf_path_set_find(set, path, NULL);
    return p ? p->count : 0;
}

const char *caf_path_set_module_name(const caf_path_set *set, const char *path, size_t index)
{
    const caf_path *p = caf_path_set_find(set, path, NULL);
    return p && index < p->count ? p->modules[index].module : NULL;
}

const char *caf_path_set_instance_name(const caf_path_set *set, const char *path, size_t index)
{
    const caf_path *p = caf_path_set_find(set, path, NULL);
    return p && index < p->count ? p->modules[index].instance : NULL;
}
