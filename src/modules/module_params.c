/* Module parameters: typed values parsed from YAML against the module's declared list, with defaults.
 * Every message names the module and the parameter, and the file:line:column when the value came from
 * a path file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "modules/params_internal.h"

struct caf_params {
    const caf_param_spec *spec;
    size_t count;
    bool *set;
    caf_param_value *values;
};

const char *caf_param_type_name(caf_param_type type)
{
    switch (type) {
    case CAF_PARAM_INT: return "int";
    case CAF_PARAM_DOUBLE: return "double";
    case CAF_PARAM_STRING: return "string";
    case CAF_PARAM_BOOL: return "bool";
    case CAF_PARAM_INT_LIST: return "list of int";
    case CAF_PARAM_DOUBLE_LIST: return "list of double";
    case CAF_PARAM_STRING_LIST: return "list of string";
    case CAF_PARAM_NAME_INT_LIST: return "list of name or [name, int]";
    }
    return "unknown type";
}

void caf_yaml_where(char *buf, size_t size, const char *file, const yaml_node_t *node)
{
    if (file)
        snprintf(buf, size, "%s:%zu:%zu", file, node->start_mark.line + 1, node->start_mark.column + 1);
    else
        snprintf(buf, size, "%zu:%zu", node->start_mark.line + 1, node->start_mark.column + 1);
}

/* "FILE:L:C: " when the value came from a file, "" otherwise. */
static void where_prefix(char *buf, size_t size, const char *file, const yaml_node_t *node)
{
    buf[0] = '\0';
    if (file) {
        caf_yaml_where(buf, size - 2, file, node);
        strcat(buf, ": ");
    }
}

static const char *scalar_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static bool scalar_is_plain(const yaml_node_t *node)
{
    return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || node->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static bool scalar_is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || !scalar_is_plain(node))
        return false;
    const char *t = scalar_text(node);
    return !*t || !strcmp(t, "~") || !strcasecmp(t, "null");
}

static bool parse_int(const yaml_node_t *node, int64_t *out)
{
    if (node->type != YAML_SCALAR_NODE || !scalar_is_plain(node))
        return false;
    const char *t = scalar_text(node);
    if (!*t)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const yaml_node_t *node, double *out)
{
    if (node->type != YAML_SCALAR_NODE || !scalar_is_plain(node))
        return false;
    const char *t = scalar_text(node);
    if (!*t)
        return false;
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const yaml_node_t *node, bool *out)
{
    if (node->type != YAML_SCALAR_NODE || !scalar_is_plain(node))
        return false;
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *t = scalar_text(node);
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(t, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcasecmp(t, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* A short quote of what was found, for messages. */
static const char *describe(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE: return scalar_text(node);
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static void free_value(caf_param_value *v)
{
    free((void *)v->s);
    free((void *)v->ints);
    free((void *)v->doubles);
    if (v->strings)
        for (size_t i = 0; i < v->count; i++)
            free((void *)v->strings[i]);
    free((void *)v->strings);
    if (v->name_ints)
        for (size_t i = 0; i < v->count; i++)
            free((void *)v->name_ints[i].name);
    free((void *)v->name_ints);
    memset(v, 0, sizeof *v);
}

struct convert_ctx {
    const char *module;
    const caf_param_spec *spec;
    const char *file;
    caf_error *err;
};

static caf_status type_error(const struct convert_ctx *c, const yaml_node_t *node, const char *what, size_t item)
{
    char where[512];
    where_prefix(where, sizeof where, c->file, node);
    if (item)
        return caf_error_set(c->err, CAF_ERR_INVALID, "%smodule %s: parameter %s: item %zu must be %s, got '%s'",
                             where, c->module, c->spec->name, item, what, describe(node));
    return caf_error_set(c->err, CAF_ERR_INVALID, "%smodule %s: parameter %s expects %s, got '%s'", where,
                         c->module, c->spec->name, what, describe(node));
}

static caf_status nomem(const struct convert_ctx *c)
{
    return caf_error_set(c->err, CAF_ERR_NOMEM, "module %s: out of memory for parameter %s", c->module,
                         c->spec->name);
}

static caf_status convert_list(const struct convert_ctx *c, yaml_document_t *doc, yaml_node_t *node,
                               caf_param_value *v)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return type_error(c, node, caf_param_type_name(c->spec->type), 0);
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    size_t alloc_n = n ? n : 1;
    int64_t *ints = NULL;
    double *doubles = NULL;
    char **strings = NULL;
    caf_param_name_int *pairs = NULL;
    switch (c->spec->type) {
    case CAF_PARAM_INT_LIST: v->ints = ints = calloc(alloc_n, sizeof *ints); break;
    case CAF_PARAM_DOUBLE_LIST: v->doubles = doubles = calloc(alloc_n, sizeof *doubles); break;
    case CAF_PARAM_STRING_LIST: v->strings = (const char *const *)(strings = calloc(alloc_n, sizeof *strings)); break;
    default: v->name_ints = pairs = calloc(alloc_n, sizeof *pairs); break;
    }
    if (!ints && !doubles && !strings && !pairs)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, node->data.sequence.items.start[i]);
        v->count = i + 1; /* so that free_value releases what was filled */
        switch (c->spec->type) {
        case CAF_PARAM_INT_LIST:
            if (!parse_int(item, &ints[i]))
                return type_error(c, item, "an int", i + 1);
            break;
        case CAF_PARAM_DOUBLE_LIST:
            if (!parse_double(item, &doubles[i]))
                return type_error(c, item, "a number", i + 1);
            break;
        case CAF_PARAM_STRING_LIST:
            if (item->type != YAML_SCALAR_NODE)
                return type_error(c, item, "a string", i + 1);
            if (!(strings[i] = strdup(scalar_text(item))))
                return nomem(c);
            break;
        default: {
            const char *want = "a name or a [name, int] pair";
            yaml_node_t *name_node = item, *number_node = NULL;
            if (item->type == YAML_SEQUENCE_NODE) {
                if (item->data.sequence.items.top - item->data.sequence.items.start != 2)
                    return type_error(c, item, want, i + 1);
                name_node = yaml_document_get_node(doc, item->data.sequence.items.start[0]);
                number_node = yaml_document_get_node(doc, item->data.sequence.items.start[1]);
            }
            if (name_node->type != YAML_SCALAR_NODE || !*scalar_text(name_node))
                return type_error(c, item, want, i + 1);
            if (number_node) {
                if (!parse_int(number_node, &pairs[i].number))
                    return type_error(c, number_node, "[name, int] with an int second", i + 1);
                pairs[i].has_number = true;
            }
            if (!(pairs[i].name = strdup(scalar_text(name_node))))
                return nomem(c);
        }
        }
    }
    v->count = n;
    return CAF_OK;
}

/* Converts node to spec's type into v (zeroed first; on failure v holds only what free_value frees). */
static caf_status convert(const struct convert_ctx *c, yaml_document_t *doc, yaml_node_t *node, caf_param_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = c->spec->type;
    switch (c->spec->type) {
    case CAF_PARAM_INT:
        return parse_int(node, &v->i) ? CAF_OK : type_error(c, node, "an int", 0);
    case CAF_PARAM_DOUBLE:
        return parse_double(node, &v->d) ? CAF_OK : type_error(c, node, "a number", 0);
    case CAF_PARAM_BOOL:
        return parse_bool(node, &v->b) ? CAF_OK : type_error(c, node, "a bool (true or false)", 0);
    case CAF_PARAM_STRING:
        if (node->type != YAML_SCALAR_NODE)
            return type_error(c, node, "a string", 0);
        return (v->s = strdup(scalar_text(node))) ? CAF_OK : nomem(c);
    case CAF_PARAM_INT_LIST:
    case CAF_PARAM_DOUBLE_LIST:
    case CAF_PARAM_STRING_LIST:
    case CAF_PARAM_NAME_INT_LIST:
        return convert_list(c, doc, node, v);
    }
    return caf_error_set(c->err, CAF_ERR_PLUGIN, "module %s: parameter %s has an unknown type", c->module,
                         c->spec->name);
}

/* Loads text as a one-document YAML stream into doc; fails when it is not YAML or empty. */
static bool load_text(yaml_document_t *doc, const char *text)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return false;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    bool ok = yaml_parser_load(&parser, doc);
    yaml_parser_delete(&parser);
    if (ok && !yaml_document_get_root_node(doc)) {
        yaml_document_delete(doc);
        ok = false;
    }
    return ok;
}

static caf_status convert_text(const struct convert_ctx *c, const char *text, caf_param_value *v, caf_status bad)
{
    yaml_document_t doc;
    if (!load_text(&doc, text))
        return caf_error_set(c->err, bad, "module %s: parameter %s: '%s' is not a YAML value", c->module,
                             c->spec->name, text);
    caf_status st = convert(c, &doc, yaml_document_get_root_node(&doc), v);
    yaml_document_delete(&doc);
    return st;
}

static size_t spec_count(const caf_param_spec *spec)
{
    size_t n = 0;
    while (spec && spec[n].name)
        n++;
    return n;
}

caf_status caf_param_spec_check(const char *module, const caf_param_spec *spec, caf_error *err)
{
    size_t n = spec_count(spec);
    for (size_t i = 0; i < n; i++) {
        const caf_param_spec *s = &spec[i];
        if (!*s->name)
            return caf_error_set(err, CAF_ERR_PLUGIN, "module %s: parameter %zu has an empty name", module, i + 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(spec[j].name, s->name))
                return caf_error_set(err, CAF_ERR_PLUGIN, "module %s: parameter %s is declared twice", module,
                                     s->name);
        if ((unsigned)s->type > CAF_PARAM_NAME_INT_LIST)
            return caf_error_set(err, CAF_ERR_PLUGIN, "module %s: parameter %s has an unknown type", module,
                                 s->name);
        if (s->presence == CAF_PARAM_DEFAULTED) {
            if (!s->default_yaml)
                return caf_error_set(err, CAF_ERR_PLUGIN, "module %s: parameter %s has no default", module,
                                     s->name);
            struct convert_ctx c = {module, s, NULL, err};
            caf_param_value v;
            caf_status st = convert_text(&c, s->default_yaml, &v, CAF_ERR_PLUGIN);
            free_value(&v);
            if (st != CAF_OK)
                return caf_error_prefix(err, "bad default: ");
        }
    }
    return CAF_OK;
}

caf_status caf_params_parse_nodes(const char *module, const char *module_where, const caf_param_spec *spec,
                                  const caf_param_node *given, size_t count, caf_params **out, caf_error *err)
{
    *out = NULL;
    size_t n = spec_count(spec);
    caf_params *p = calloc(1, sizeof *p);
    if (p) {
        p->spec = spec;
        p->count = n;
        p->set = calloc(n ? n : 1, sizeof *p->set);
        p->values = calloc(n ? n : 1, sizeof *p->values);
    }
    if (!p || !p->set || !p->values) {
        caf_params_free(p);
        return caf_error_set(err, CAF_ERR_NOMEM, "module %s: out of memory for parameters", module);
    }
    caf_status st = CAF_OK;
    for (size_t g = 0; g < count && st == CAF_OK; g++) {
        size_t k = 0;
        while (k < n && strcmp(spec[k].name, given[g].name))
            k++;
        char where[512] = "";
        if (given[g].file && given[g].key_line)
            snprintf(where, sizeof where, "%s:%zu:%zu: ", given[g].file, given[g].key_line, given[g].key_column);
        if (k == n) {
            char known[400] = "";
            size_t used = 0;
            for (size_t j = 0; j < n && used < sizeof known; j++)
                used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", j ? ", " : "", spec[j].name);
            st = caf_error_set(err, CAF_ERR_INVALID, "%smodule %s has no parameter '%s' (parameters: %s)", where,
                               module, given[g].name, n ? known : "none");
            break;
        }
        if (p->set[k]) {
            st = caf_error_set(err, CAF_ERR_INVALID, "%smodule %s: parameter %s is given twice", where, module,
                               given[g].name);
            break;
        }
        yaml_node_t *node = yaml_document_get_node(given[g].doc, given[g].node);
        if (spec[k].presence == CAF_PARAM_OPTIONAL && scalar_is_null(node))
            continue; /* null leaves an optional parameter unset */
        struct convert_ctx c = {module, &spec[k], given[g].file, err};
        st = convert(&c, given[g].doc, node, &p->values[k]);
        p->set[k] = true; /* also on failure, so that free_value releases a partial value */
    }
    for (size_t k = 0; k < n && st == CAF_OK; k++) {
        if (p->set[k] || spec[k].presence == CAF_PARAM_OPTIONAL)
            continue;
        if (spec[k].presence == CAF_PARAM_REQUIRED) {
            st = caf_error_set(err, CAF_ERR_INVALID, "%s%smodule %s: parameter %s (%s) is required",
                               module_where ? module_where : "", module_where ? ": " : "", module,
                               spec[k].name, caf_param_type_name(spec[k].type));
            break;
        }
        struct convert_ctx c = {module, &spec[k], NULL, err};
        st = convert_text(&c, spec[k].default_yaml ? spec[k].default_yaml : "", &p->values[k], CAF_ERR_PLUGIN);
        p->set[k] = true;
    }
    if (st != CAF_OK) {
        caf_params_free(p);
        return st;
    }
    *out = p;
    return CAF_OK;
}

caf_status caf_params_parse(const char *module, const caf_param_spec *spec, size_t count,
                            const char *const *names, const char *const *yaml_values, caf_params **out,
                            caf_error *err)
{
    *out = NULL;
    yaml_document_t *docs = calloc(count ? count : 1, sizeof *docs);
    caf_param_node *nodes = calloc(count ? count : 1, sizeof *nodes);
    size_t loaded = 0;
    caf_status st = (docs && nodes) ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (; st == CAF_OK && loaded < count; loaded++) {
        if (!load_text(&docs[loaded], yaml_values[loaded])) {
            st = caf_error_set(err, CAF_ERR_INVALID, "module %s: parameter %s: '%s' is not a YAML value", module,
                               names[loaded], yaml_values[loaded]);
            break;
        }
        nodes[loaded] = (caf_param_node){names[loaded], &docs[loaded], 1, NULL, 0, 0};
    }
    if (st == CAF_OK)
        st = caf_params_parse_nodes(module, NULL, spec, nodes, count, out, err);
    for (size_t i = 0; i < loaded; i++)
        yaml_document_delete(&docs[i]);
    free(docs);
    free(nodes);
    return st;
}

void caf_params_free(caf_params *params)
{
    if (!params)
        return;
    if (params->values)
        for (size_t k = 0; k < params->count; k++)
            free_value(&params->values[k]);
    free(params->values);
    free(params->set);
    free(params);
}

const caf_param_value *caf_params_get(const caf_params *params, const char *name)
{
    if (!params)
        return NULL;
    for (size_t k = 0; k < params->count; k++)
        if (!strcmp(params->spec[k].name, name))
            return params->set[k] ? &params->values[k] : NULL;
    return NULL;
}

bool caf_params_has(const caf_params *params, const char *name)
{
    return caf_params_get(params, name) != NULL;
}

int64_t caf_params_int(const caf_params *params, const char *name, int64_t fallback)
{
    const caf_param_value *v = caf_params_get(params, name);
    return v && v->type == CAF_PARAM_INT ? v->i : fallback;
}

double caf_params_double(const caf_params *params, const char *name, double fallback)
{
    const caf_param_value *v = caf_params_get(params, name);
    return v && v->type == CAF_PARAM_DOUBLE ? v->d : fallback;
}

bool caf_params_bool(const caf_params *params, const char *name, bool fallback)
{
    const caf_param_value *v = caf_params_get(params, name);
    return v && v->type == CAF_PARAM_BOOL ? v->b : fallback;
}

const char *caf_params_string(const caf_params *params, const char *name, const char *fallback)
{
    const caf_param_value *v = caf_params_get(params, name);
    return v && v->type == CAF_PARAM_STRING ? v->s : fallback;
}
