/* Reading path sets from YAML (libyaml). Two shapes are accepted:
 *
 *   - module: TriggerSkim          # a list: the main path on its own
 *     params: {triggerLines: [mumu]}
 *
 *   main: main                      # a mapping of named paths
 *   paths:
 *     main:
 *       - module: TriggerSkim
 *         conditions:
 *           - {if: "== 1", path: keep, after: end}
 *     keep:
 *       - module: Output
 *
 * Every error names FILE:LINE:COLUMN of the node at fault. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caf/file.h"
#include "core/yaml_bounded.h"
#include "modules/params_internal.h"
#include "modules/path_internal.h"

struct loader {
    caf_path_set *set;
    yaml_document_t *doc;
    const char *file;
    caf_error *err;
};

static caf_status at(const struct loader *l, const yaml_node_t *node, caf_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static caf_status at(const struct loader *l, const yaml_node_t *node, caf_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    caf_error_setv(l->err, code, fmt, ap);
    va_end(ap);
    char where[512];
    caf_yaml_where(where, sizeof where, l->file, node);
    return caf_error_prefix(l->err, "%s: ", where);
}

static char *where_of(const struct loader *l, const yaml_node_t *node)
{
    char where[512];
    caf_yaml_where(where, sizeof where, l->file, node);
    return strdup(where);
}

static yaml_node_t *node(const struct loader *l, int id)
{
    return yaml_document_get_node(l->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain ~ or null (a plain empty scalar has no text at all). */
static bool is_null_word(const yaml_node_t *n)
{
    const char *text = scalar(n);
    return text && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (!strcmp(text, "~") || !strcasecmp(text, "null"));
}

/* The scalar text of n, or an error "KEY must be TEXT". */
static caf_status want_scalar(const struct loader *l, const yaml_node_t *n, const char *key, const char **out)
{
    *out = scalar(n);
    if (!*out || !**out || is_null_word(n))
        return at(l, n, CAF_ERR_FORMAT, "'%s' must be a non-empty text", key);
    return CAF_OK;
}

static caf_status load_condition(const struct loader *l, const char *path, size_t index, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(l, n, CAF_ERR_FORMAT, "a condition must be a mapping with 'if', and optionally 'path' and 'after'");
    const yaml_node_t *expr = NULL, *target_node = NULL;
    const char *target = NULL, *after_text = "end";
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = scalar(k);
        caf_status st = CAF_OK;
        if (key && !strcmp(key, "if")) {
            expr = v;
            if (v->type != YAML_SCALAR_NODE)
                return at(l, v, CAF_ERR_FORMAT, "'if' must be a condition such as \"== 1\"");
            /* YAML reads an unquoted "!= 0" as the tag "!=" on "0" */
            if (v->tag && strncmp((const char *)v->tag, "tag:yaml.org,2002:", 18) != 0)
                return at(l, v, CAF_ERR_FORMAT, "write the condition in quotes (\"%s %s\")", (const char *)v->tag,
                          scalar(v));
        } else if (key && !strcmp(key, "path")) {
            if (!(v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                  (!strcmp(scalar(v), "~") || !strcmp(scalar(v), "null") || !*scalar(v))))
                st = want_scalar(l, v, "path", &target);
            target_node = v;
        } else if (key && !strcmp(key, "after")) {
            st = want_scalar(l, v, "after", &after_text);
            if (st == CAF_OK && strcmp(after_text, "end") && strcmp(after_text, "continue"))
                return at(l, v, CAF_ERR_FORMAT, "'after' must be end or continue, not '%s'", after_text);
        } else {
            return at(l, k, CAF_ERR_FORMAT, "unknown condition key '%s' (known: if, path, after)", key ? key : "?");
        }
        if (st != CAF_OK)
            return st;
    }
    if (!expr)
        return at(l, n, CAF_ERR_FORMAT, "a condition needs 'if'");
    caf_after_condition after = strcmp(after_text, "continue") ? CAF_AFTER_END : CAF_AFTER_CONTINUE;
    caf_status st = caf_path_set_add_condition(l->set, path, index, scalar(expr), target, after, l->err);
    if (st != CAF_OK) {
        char where[512];
        caf_yaml_where(where, sizeof where, l->file, expr);
        return caf_error_prefix(l->err, "%s: ", where);
    }
    caf_path *p = caf_path_set_find(l->set, path, NULL);
    caf_path_module *m = &p->modules[index];
    caf_path_condition *c = &m->conditions[m->condition_count - 1];
    if (!(c->where = where_of(l, target_node ? target_node : expr))) /* validate blames the target */
        return caf_error_set(l->err, CAF_ERR_NOMEM, "out of memory");
    return CAF_OK;
}

static caf_status load_module(const struct loader *l, const char *path, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(l, n, CAF_ERR_FORMAT, "a path entry must be a mapping with 'module'");
    const char *module = NULL, *instance = NULL;
    const yaml_node_t *params = NULL, *conditions = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = scalar(k);
        caf_status st = CAF_OK;
        if (key && !strcmp(key, "module"))
            st = want_scalar(l, v, "module", &module);
        else if (key && !strcmp(key, "name"))
            st = want_scalar(l, v, "name", &instance);
        else if (key && !strcmp(key, "params"))
            params = v;
        else if (key && !strcmp(key, "conditions"))
            conditions = v;
        else
            return at(l, k, CAF_ERR_FORMAT, "unknown key '%s' in a path entry (known: module, name, params, conditions)",
                      key ? key : "?");
        if (st != CAF_OK)
            return st;
    }
    if (!module)
        return at(l, n, CAF_ERR_FORMAT, "a path entry needs 'module'");
    size_t index;
    caf_status st = caf_path_set_add_module(l->set, path, module, instance, &index, l->err);
    if (st != CAF_OK)
        return st;
    caf_path_module *m = &caf_path_set_find(l->set, path, NULL)->modules[index];
    if (!(m->where = where_of(l, n)))
        return caf_error_set(l->err, CAF_ERR_NOMEM, "out of memory");
    if (params) {
        if (params->type != YAML_MAPPING_NODE)
            return at(l, params, CAF_ERR_FORMAT, "module %s: 'params' must be a mapping of name: value", module);
        size_t count = (size_t)(params->data.mapping.pairs.top - params->data.mapping.pairs.start);
        m->params = calloc(count ? count : 1, sizeof *m->params);
        if (!m->params)
            return caf_error_set(l->err, CAF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
            yaml_node_pair_t *p = &params->data.mapping.pairs.start[i];
            const yaml_node_t *k = node(l, p->key);
            const char *name;
            if ((st = want_scalar(l, k, "parameter name", &name)) != CAF_OK)
                return st;
            caf_path_param *param = &m->params[m->param_count];
            if (!(param->name = strdup(name)))
                return caf_error_set(l->err, CAF_ERR_NOMEM, "out of memory");
            m->param_count++;
            param->doc = l->doc;
            param->node = p->value;
            param->key_line = k->start_mark.line + 1;
            param->key_column = k->start_mark.column + 1;
        }
    }
    if (conditions) {
        if (conditions->type != YAML_SEQUENCE_NODE)
            return at(l, conditions, CAF_ERR_FORMAT, "module %s: 'conditions' must be a list", module);
        for (yaml_node_item_t *it = conditions->data.sequence.items.start; it < conditions->data.sequence.items.top;
             it++)
            if ((st = load_condition(l, path, index, node(l, *it))) != CAF_OK)
                return st;
    }
    return CAF_OK;
}

static caf_status load_path(const struct loader *l, const char *name, const yaml_node_t *name_node,
                            const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return at(l, n, CAF_ERR_FORMAT, "path '%s' must be a list of modules", name);
    char *where = where_of(l, name_node);
    if (!where)
        return caf_error_set(l->err, CAF_ERR_NOMEM, "%s: out of memory", l->file);
    caf_path *p;
    caf_status st = caf_path_set_add_path(l->set, name, where, &p, l->err);
    free(where);
    if (st != CAF_OK)
        return st;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && st == CAF_OK; it++)
        st = load_module(l, name, node(l, *it));
    return st;
}

static caf_status load_root(const struct loader *l, const yaml_node_t *root)
{
    if (root->type == YAML_SEQUENCE_NODE)
        return load_path(l, "main", root, root);
    if (root->type != YAML_MAPPING_NODE)
        return at(l, root, CAF_ERR_FORMAT, "a path file holds a list of modules or a mapping with 'paths'");
    const yaml_node_t *paths = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = scalar(k);
        if (key && !strcmp(key, "paths")) {
            paths = v;
        } else if (key && !strcmp(key, "main")) {
            const char *main;
            caf_status st = want_scalar(l, v, "main", &main);
            if (st == CAF_OK)
                st = caf_path_set_set_main(l->set, main, l->err);
            if (st != CAF_OK)
                return st;
        } else {
            return at(l, k, CAF_ERR_FORMAT, "unknown key '%s' (known: paths, main)", key ? key : "?");
        }
    }
    if (!paths)
        return at(l, root, CAF_ERR_FORMAT, "no 'paths' mapping");
    if (paths->type != YAML_MAPPING_NODE)
        return at(l, paths, CAF_ERR_FORMAT, "'paths' must map path names to lists of modules");
    for (yaml_node_pair_t *p = paths->data.mapping.pairs.start; p < paths->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(l, p->key);
        const char *name;
        caf_status st = want_scalar(l, k, "path name", &name);
        if (st == CAF_OK)
            st = load_path(l, name, k, node(l, p->value));
        if (st != CAF_OK)
            return st;
    }
    return CAF_OK;
}

caf_status caf_path_set_parse(const char *text, size_t size, const char *name, caf_path_set **out, caf_error *err)
{
    *out = NULL;
    const char *file = name ? name : "<path>";
    yaml_document_t *doc = calloc(1, sizeof *doc);
    if (!doc)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", file);
    caf_yaml_failure failure;
    caf_status load = caf_yaml_load_bounded(text, size, doc, &failure);
    if (load != CAF_OK) {
        free(doc);
        if (failure.line > 0)
            return caf_error_set(err, load, "%s:%d:%d: %s", file, failure.line, failure.column, failure.message);
        return caf_error_set(err, load, "%s: %s", file, failure.message);
    }
    caf_path_set *set;
    caf_status st = caf_path_set_new(&set, err);
    if (st != CAF_OK) {
        yaml_document_delete(doc);
        free(doc);
        return st;
    }
    if (!(set->file = strdup(file))) {
        yaml_document_delete(doc);
        free(doc);
        caf_path_set_free(set);
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory", file);
    }
    st = caf_path_set_adopt_document(set, doc, err);
    if (st == CAF_OK) {
        yaml_node_t *root = yaml_document_get_root_node(doc);
        struct loader l = {set, doc, file, err};
        if (!root)
            st = caf_error_set(err, CAF_ERR_FORMAT, "%s:1:1: the path file is empty", file);
        else
            st = load_root(&l, root);
    }
    if (st == CAF_OK)
        st = caf_path_set_validate(set, err);
    if (st != CAF_OK) {
        caf_path_set_free(set);
        /* one line, whatever names or values from the file the message quotes */
        for (char *c = err ? err->message : NULL; c && *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        return st;
    }
    *out = set;
    return CAF_OK;
}

caf_status caf_path_set_load(const char *file, caf_path_set **out, caf_error *err)
{
    *out = NULL;
    char *text;
    size_t size;
    caf_status st = caf_file_read(file, &text, &size, err);
    if (st != CAF_OK)
        return st;
    st = caf_path_set_parse(text, size, file, out, err);
    free(text);
    return st;
}
