/* The campaign's YAML form (docs/configuration.md). libyaml builds the document with a mark on every
 * node; this file walks it into the campaign model, reporting every unknown key, wrong type and bad value
 * with FILE:LINE:COLUMN and carrying on, so that one run of `caf config check` shows all problems. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "caf/campaign.h"
#include "caf/dbchain.h"
#include "caf/gt_store.h"
#include "caf/file.h"
#include "caf/python_algorithm.h"
#include "core/yaml_bounded.h"

typedef struct loader {
    yaml_document_t doc;
    caf_campaign *c;
    caf_config_problems *p;
    yaml_node_t *defaults;  /* the campaign's defaults: mapping, NULL without one */
    bool defaults_reported; /* its values' problems were reported (with the first calibration) */
    bool mute;              /* applying defaults again: their problems are known already */
} loader;

static caf_mark mark_of(const yaml_node_t *n)
{
    return (caf_mark){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static yaml_node_t *node_at(loader *l, int id)
{
    return yaml_document_get_node(&l->doc, id);
}

static void problem(loader *l, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(loader *l, const yaml_node_t *n, const char *fmt, ...)
{
    char message[768];
    if (l->mute)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    caf_config_problems_add(l->p, mark_of(n), "%s", message);
}

/* "a list", "a mapping" or "'text'" for messages. */
static void describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, size, "a list");
    else if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, size, "a mapping");
    else if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !*n->data.scalar.value)
        snprintf(buf, size, "null");
    else
        snprintf(buf, size, "'%.60s'", (const char *)n->data.scalar.value);
}

static bool wrong_type(loader *l, const yaml_node_t *n, const char *what, const char *expected)
{
    char found[80];
    describe(n, found, sizeof found);
    problem(l, n, "%s: expected %s, found %s", what, expected, found);
    return false;
}

/* Records that memory ran out while reading n: the campaign is then invalid, never silently shorter. */
static bool out_of_memory(loader *l, const yaml_node_t *n)
{
    problem(l, n, "out of memory reading this value");
    return false;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A plain ~, null or nothing at all: YAML's null. */
static bool is_null(const yaml_node_t *n)
{
    const char *text = (const char *)n->data.scalar.value;
    return is_plain(n) && (!*text || strcmp(text, "~") == 0 || strcasecmp(text, "null") == 0);
}

/* Every string key of a campaign names something (a folder, a plugin, a file): null and '' are refused. */
static bool get_string(loader *l, const yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return wrong_type(l, n, what, "a string");
    if (is_null(n)) {
        problem(l, n, "%s: expected a string, found null", what);
        return false;
    }
    if (!*n->data.scalar.value) {
        problem(l, n, "%s: must not be empty", what);
        return false;
    }
    *out = (const char *)n->data.scalar.value;
    return true;
}

static bool parse_long(const char *text, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(text, &end, 10);
    return *text && !*end && errno == 0;
}

static bool get_int(loader *l, const yaml_node_t *n, const char *what, int *out)
{
    long long v;
    if (!is_plain(n) || !parse_long((const char *)n->data.scalar.value, &v) || v < -2147483647LL || v > 2147483647LL)
        return wrong_type(l, n, what, "an integer");
    *out = (int)v;
    return true;
}

static bool get_double(loader *l, const yaml_node_t *n, const char *what, double *out)
{
    if (!is_plain(n))
        return wrong_type(l, n, what, "a number");
    char *end;
    const char *text = (const char *)n->data.scalar.value;
    double value = strtod(text, &end);
    if (!*text || *end)
        return wrong_type(l, n, what, "a number");
    *out = value;
    return true;
}

static bool scalar_is(const yaml_node_t *n, const char *const *words)
{
    for (; *words; words++)
        if (strcasecmp((const char *)n->data.scalar.value, *words) == 0)
            return true;
    return false;
}

static const char *const true_words[] = {"true", "yes", "on", NULL};
static const char *const false_words[] = {"false", "no", "off", NULL};

static bool get_bool(loader *l, const yaml_node_t *n, const char *what, bool *out)
{
    if (is_plain(n) && scalar_is(n, true_words))
        *out = true;
    else if (is_plain(n) && scalar_is(n, false_words))
        *out = false;
    else
        return wrong_type(l, n, what, "true or false");
    return true;
}

/* A scalar as JSON: quoted ones stay strings, plain ones are typed. NULL only when out of memory. */
static json_t *scalar_json(const yaml_node_t *n)
{
    const char *text = (const char *)n->data.scalar.value;
    long long i;
    char *end;
    if (!is_plain(n))
        return json_string(text);
    if (is_null(n))
        return json_null();
    if (scalar_is(n, true_words) || scalar_is(n, false_words))
        return json_boolean(scalar_is(n, true_words));
    if (parse_long(text, &i))
        return json_integer(i);
    double d = strtod(text, &end);
    return *end ? json_string(text) : json_real(d);
}

/* A plugin's parameters: YAML as JSON, plain scalars typed (null, booleans, integers, numbers). */
static json_t *to_json(loader *l, yaml_node_t *n, int depth)
{
    if (depth > 64) {
        problem(l, n, "parameters nest deeper than 64 levels");
        return NULL;
    }
    if (n->type == YAML_SCALAR_NODE) {
        json_t *value = scalar_json(n);
        if (!value)
            out_of_memory(l, n);
        return value;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *list = json_array();
        if (!list) {
            out_of_memory(l, n);
            return NULL;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            json_t *v = to_json(l, node_at(l, *it), depth + 1);
            if (!v || json_array_append_new(list, v) != 0) {
                if (v)
                    out_of_memory(l, n);
                json_decref(list);
                return NULL;
            }
        }
        return list;
    }
    json_t *object = json_object();
    if (!object) {
        out_of_memory(l, n);
        return NULL;
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *key = node_at(l, pr->key);
        if (key->type != YAML_SCALAR_NODE) {
            problem(l, key, "parameter names must be strings");
            json_decref(object);
            return NULL;
        }
        json_t *v = to_json(l, node_at(l, pr->value), depth + 1);
        if (!v || json_object_set_new(object, (const char *)key->data.scalar.value, v) != 0) {
            if (v)
                out_of_memory(l, key);
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

static bool get_object(loader *l, yaml_node_t *n, const char *what, json_t **out)
{
    if (n->type != YAML_MAPPING_NODE)
        return wrong_type(l, n, what, "a mapping");
    json_t *object = to_json(l, n, 0);
    if (!object)
        return false;
    json_decref(*out);
    *out = object;
    return true;
}

/* A mapping as a JSON object, plus {key: [line, column]} of each value in *marks (for problems found
 * later, by whoever understands the keys). */
static bool get_object_marked(loader *l, yaml_node_t *n, const char *what, json_t **out, json_t **marks)
{
    if (!get_object(l, n, what, out))
        return false;
    json_t *m = json_object();
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; m && pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *key = node_at(l, pr->key), *value = node_at(l, pr->value);
        json_object_set_new(m, (const char *)key->data.scalar.value,
                            json_pack("[ii]", mark_of(value).line, mark_of(value).column));
    }
    json_decref(*marks);
    *marks = m;
    return m != NULL || out_of_memory(l, n);
}

/* A string, or a list of strings. */
static bool add_string(loader *l, yaml_node_t *n, const char *what, caf_string_list *list)
{
    const char *text = NULL;
    if (!get_string(l, n, what, &text))
        return false;
    return caf_string_list_add(list, text, mark_of(n), NULL) == CAF_OK || out_of_memory(l, n);
}

/* A string, or a list of strings; an empty list only where the key may be left out instead (an empty
 * input_files names nothing: a mistake, not a wish). */
static bool get_string_list(loader *l, yaml_node_t *n, const char *what, bool may_be_empty, caf_string_list *list)
{
    if (n->type == YAML_SCALAR_NODE && !is_null(n))
        return add_string(l, n, what, list);
    if (n->type != YAML_SEQUENCE_NODE)
        return wrong_type(l, n, what, "a string or a list of strings");
    if (!may_be_empty && n->data.sequence.items.top == n->data.sequence.items.start) {
        problem(l, n, "%s: the list is empty", what);
        return false;
    }
    bool ok = true;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
        ok = add_string(l, node_at(l, *it), what, list) && ok;
    return ok;
}

/* {server: URL or [URL...], globaltag: NAME}: a global tag on a conditions service, added to list as its
 * chain entry (caf_dbchain_server_entry). */
static bool add_server_entry(loader *l, yaml_node_t *n, const char *what, caf_string_list *list)
{
    const char *tag = NULL;
    const char *urls[16];
    size_t count = 0;
    bool ok = true, has_server = false;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *key = node_at(l, pr->key), *value = node_at(l, pr->value);
        const char *k = key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "";
        if (strcmp(k, "globaltag") == 0) {
            ok = get_string(l, value, "database_chain: globaltag", &tag) && ok;
            if (tag && !caf_gt_name_is_valid(tag)) {
                problem(l, value, "%s: globaltag: '%s' is not a valid global tag name ([A-Za-z0-9_.+-], at most %d)",
                        what, tag, CAF_GT_NAME_MAX);
                ok = false;
            }
        } else if (strcmp(k, "server") == 0) {
            has_server = true;
            bool many = value->type == YAML_SEQUENCE_NODE;
            size_t items = many ? (size_t)(value->data.sequence.items.top - value->data.sequence.items.start) : 1;
            if (items == 0 || items > sizeof urls / sizeof *urls) {
                problem(l, value, "%s: server: give 1 to %zu URLs", what, sizeof urls / sizeof *urls);
                ok = false;
                continue;
            }
            for (size_t i = 0; i < items; i++) {
                yaml_node_t *item = many ? node_at(l, value->data.sequence.items.start[i]) : value;
                const char *url = NULL;
                if (!get_string(l, item, "database_chain: server", &url)) {
                    ok = false;
                } else if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
                    problem(l, item, "%s: server: '%s' is not an http:// or https:// URL", what, url);
                    ok = false;
                } else {
                    urls[count++] = url;
                }
            }
        } else {
            problem(l, key, "%s: unknown key '%s' in a server entry (server, globaltag)", what, k);
            ok = false;
        }
    }
    if (!tag || !has_server) {
        if (ok)
            problem(l, n, "%s: a server entry needs both server and globaltag", what);
        return false;
    }
    if (!ok)
        return false;
    char *entry = caf_dbchain_server_entry(tag, urls, count);
    bool added = entry && caf_string_list_add(list, entry, mark_of(n), NULL) == CAF_OK;
    free(entry);
    return added || out_of_memory(l, n);
}

/* database_chain: a folder, or a list of folders and server entries. */
static bool get_database_chain(loader *l, yaml_node_t *n, const char *what, caf_string_list *list)
{
    if (n->type == YAML_MAPPING_NODE)
        return add_server_entry(l, n, what, list);
    if (n->type != YAML_SEQUENCE_NODE)
        return get_string_list(l, n, what, true, list);
    bool ok = true;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(l, *it);
        if (item->type == YAML_MAPPING_NODE)
            ok = add_server_entry(l, item, what, list) && ok;
        else if (item->type == YAML_SCALAR_NODE && !is_null(item) &&
                 caf_dbchain_entry_is_server((const char *)item->data.scalar.value))
            ok = (problem(l, item, "%s: write a server entry as {server: URL, globaltag: NAME}", what), false);
        else
            ok = add_string(l, item, what, list) && ok;
    }
    return ok;
}

/* Reads a list of exactly count plain integers into values; false (nothing reported) otherwise. */
static bool read_ints(loader *l, yaml_node_t *n, int *values, size_t count)
{
    if (n->type != YAML_SEQUENCE_NODE || (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) != count)
        return false;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node_at(l, n->data.sequence.items.start[i]);
        long long v;
        if (!is_plain(item) || !parse_long((const char *)item->data.scalar.value, &v) || v < -2147483647LL ||
            v > 2147483647LL)
            return false;
        values[i] = (int)v;
    }
    return true;
}

/* Turns the result of parsing a scalar's text into a problem at n when it failed. */
static bool parsed(loader *l, yaml_node_t *n, const char *what, caf_status rc, const caf_error *err)
{
    if (rc != CAF_OK)
        problem(l, n, "%s: %s", what, err->message);
    return rc == CAF_OK;
}

/* [exp, run] or "exp:run" / "exp.run". */
static bool get_exprun(loader *l, yaml_node_t *n, const char *what, caf_exprun *out)
{
    caf_error err = {0};
    int v[2];
    if (n->type == YAML_SCALAR_NODE)
        return parsed(l, n, what, caf_exprun_parse((const char *)n->data.scalar.value, out, &err), &err);
    if (!read_ints(l, n, v, 2))
        return wrong_type(l, n, what, "[exp, run]");
    *out = (caf_exprun){v[0], v[1]};
    return true;
}

/* [e1, r1, e2, r2] or "e1,r1,e2,r2", valid. */
static bool get_iov(loader *l, yaml_node_t *n, const char *what, caf_iov *out)
{
    caf_error err = {0};
    int v[4];
    if (n->type == YAML_SCALAR_NODE)
        return parsed(l, n, what, caf_iov_parse((const char *)n->data.scalar.value, out, &err), &err);
    if (!read_ints(l, n, v, 4))
        return wrong_type(l, n, what, "[e1, r1, e2, r2]");
    *out = (caf_iov){v[0], v[1], v[2], v[3]};
    return parsed(l, n, what, caf_iov_validate(*out, &err), &err);
}

/* A number of seconds, more than 0. */
static bool get_seconds(loader *l, yaml_node_t *n, const char *what, double *out)
{
    double value = 0;
    if (!get_double(l, n, what, &value))
        return false;
    if (!(value > 0)) {
        problem(l, n, "%s: must be more than 0 seconds, not %s", what, (const char *)n->data.scalar.value);
        return false;
    }
    *out = value;
    return true;
}

/* A memory size: MiB as an integer, or a string with a unit ("2G", "512MB"); more than 0. */
static bool get_memory(loader *l, yaml_node_t *n, const char *what, long *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return wrong_type(l, n, what, "MiB or a size such as \"2G\"");
    const char *text = (const char *)n->data.scalar.value;
    long long integer;
    if (is_plain(n) && parse_long(text, &integer) && integer <= 0) {
        problem(l, n, "%s: must be more than 0 MiB, not %s", what, text);
        return false;
    }
    long mb = caf_parse_memory_mb(text);
    if (mb < 0)
        return wrong_type(l, n, what, "MiB or a size such as \"2G\" (more than 0)");
    *out = mb;
    return true;
}

/* Calls visit for each key of a mapping, after reporting non-string and duplicate keys. */
typedef void (*pair_visitor)(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *value, void *ctx);

typedef struct key_ref {
    const char *name;
    size_t index;
} key_ref;

static int compare_keys(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Marks in duplicate[i] every pair whose key appeared earlier in the mapping: sorted, so that a mapping
 * with many keys costs n log n, not n^2. */
static bool find_duplicates(loader *l, const yaml_node_t *n, bool *duplicate)
{
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), used = 0;
    key_ref *keys = malloc((count ? count : 1) * sizeof *keys);
    if (!keys)
        return out_of_memory(l, n);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *key = node_at(l, n->data.mapping.pairs.start[i].key);
        if (key->type == YAML_SCALAR_NODE)
            keys[used++] = (key_ref){(const char *)key->data.scalar.value, i};
    }
    qsort(keys, used, sizeof *keys, compare_keys);
    for (size_t i = 1; i < used; i++)
        duplicate[keys[i].index] = strcmp(keys[i].name, keys[i - 1].name) == 0;
    free(keys);
    return true;
}

static bool each_pair(loader *l, yaml_node_t *n, const char *what, pair_visitor visit, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE)
        return wrong_type(l, n, what, "a mapping");
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    bool *duplicate = calloc(count ? count : 1, sizeof *duplicate);
    if (!duplicate || !find_duplicates(l, n, duplicate)) {
        free(duplicate);
        return duplicate ? false : out_of_memory(l, n);
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *key = node_at(l, pr->key);
        if (key->type != YAML_SCALAR_NODE)
            problem(l, key, "%s: keys must be strings", what);
        else if (duplicate[i])
            problem(l, key, "%s: duplicate key '%s'", what, (const char *)key->data.scalar.value);
        else
            visit(l, (const char *)key->data.scalar.value, key, node_at(l, pr->value), ctx);
    }
    free(duplicate);
    return true;
}

/* The value of key in a mapping, or NULL. */
static yaml_node_t *lookup(loader *l, yaml_node_t *n, const char *key)
{
    if (n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(l, pr->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return node_at(l, pr->value);
    }
    return NULL;
}

/* ---- strategies and plugins ---- */

typedef struct plugin_ctx {
    const char *what;       /* "calibration 'gain': algorithm 1" */
    const char *name_key;   /* "plugin" or "module" */
    const char **name;
    json_t **parameters;
    json_t **conditions;           /* pre-collector modules only */
    caf_mark **condition_marks;    /* where each condition's 'if' is (its mapping without one) */
    caf_strategy_params *strategy; /* algorithms only */
    caf_mark *strategy_mark;
    json_t *strategy_marks; /* a strategy plugin's parameters: {name: [line, column]} */
    bool strategy_unknown; /* its parameters cannot be checked against it */
    caf_algorithm_config *limits;  /* algorithms only: time_limit and memory_limit go here */
    const char *python;            /* algorithms only: `python: MODULE:FUNCTION` instead of a plugin */
    caf_mark python_mark;
} plugin_ctx;

static void visit_strategy_parameter(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    plugin_ctx *pc = ctx;
    caf_strategy_params *s = pc->strategy;
    char what[300];
    snprintf(what, sizeof what, "%s: strategy_parameters: %s", pc->what, key);
    if (s->kind == CAF_STRATEGY_PLUGIN) { /* checked against its declarations when the plugin is checked */
        json_t *value = to_json(l, v, 0);
        if (value) {
            if (!s->plugin_parameters)
                s->plugin_parameters = json_object();
            json_object_set_new(s->plugin_parameters, key, value);
            json_object_set_new(pc->strategy_marks, key,
                                json_pack("[ii]", (int)v->start_mark.line + 1, (int)v->start_mark.column + 1));
        }
        return;
    }
    static const char *const known[] = {"apply_iov", "step_size", "iov_coverage", "has_experiment_settings",
                                        "payload_boundaries"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        is_known = is_known || strcmp(key, known[i]) == 0;
    if (!is_known) {
        problem(l, key_node, "%s: unknown strategy parameter '%s'", pc->what, key);
        return;
    }
    if (!caf_strategy_param_applies(s->kind, key)) {
        problem(l, key_node, "%s: strategy parameter '%s' does not apply to %s", pc->what, key,
                caf_strategy_kind_name(s->kind));
        return;
    }
    if (strcmp(key, "apply_iov") == 0)
        s->has_apply_iov = get_iov(l, v, what, &s->apply_iov);
    else if (strcmp(key, "iov_coverage") == 0)
        s->has_iov_coverage = get_iov(l, v, what, &s->iov_coverage);
    else if (strcmp(key, "step_size") == 0)
        get_int(l, v, what, &s->step_size);
    else if (strcmp(key, "has_experiment_settings") == 0)
        get_bool(l, v, what, &s->has_experiment_settings);
    else if (v->type != YAML_SEQUENCE_NODE)
        wrong_type(l, v, what, "a list of [exp, run]");
    else {
        size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        caf_exprun *b = calloc(n ? n : 1, sizeof *b);
        size_t ok = 0;
        if (!b)
            out_of_memory(l, v);
        for (size_t i = 0; b && i < n; i++)
            ok += get_exprun(l, node_at(l, v->data.sequence.items.start[i]), what, &b[ok]);
        if (b && caf_strategy_params_set_boundaries(s, b, ok, NULL) != CAF_OK)
            out_of_memory(l, v);
        free(b);
    }
}

static void visit_plugin_key(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    plugin_ctx *pc = ctx;
    char what[300];
    snprintf(what, sizeof what, "%s: %s", pc->what, key);
    if (strcmp(key, pc->name_key) == 0) {
        get_string(l, v, what, pc->name);
    } else if (strcmp(key, "parameters") == 0) {
        get_object(l, v, what, pc->parameters);
    } else if (pc->conditions && strcmp(key, "conditions") == 0) {
        /* checked where they are used: by the module path of every collector job (and caf process) */
        if (v->type != YAML_SEQUENCE_NODE) {
            wrong_type(l, v, what, "a list of conditions");
            return;
        }
        json_decref(*pc->conditions);
        free(*pc->condition_marks);
        *pc->conditions = to_json(l, v, 0);
        size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (!(*pc->condition_marks = calloc(count ? count : 1, sizeof **pc->condition_marks))) {
            out_of_memory(l, v);
            return;
        }
        for (size_t i = 0; i < count; i++) {
            yaml_node_t *item = node_at(l, v->data.sequence.items.start[i]), *expr = lookup(l, item, "if");
            (*pc->condition_marks)[i] = mark_of(expr ? expr : item);
            /* YAML reads an unquoted "!= 0" as the tag "!=" on "0" */
            if (expr && expr->type == YAML_SCALAR_NODE && expr->tag &&
                strncmp((const char *)expr->tag, "tag:yaml.org,2002:", 18) != 0)
                problem(l, expr, "%s: write the condition in quotes (\"%s %s\")", what, (const char *)expr->tag,
                        (const char *)expr->data.scalar.value);
        }
    } else if (pc->strategy && strcmp(key, "strategy") == 0) {
        const char *name = NULL;
        *pc->strategy_mark = mark_of(v);
        /* Not a built-in: a strategy plugin, looked for and checked with the other plugins. */
        if (get_string(l, v, what, &name) && pc->strategy_unknown) /* load_plugin read it first */
            problem(l, v, "%s: unknown strategy '%s' (SingleIOV, SimpleRunByRun, SequentialRunByRun, "
                          "SequentialBoundaries or a strategy plugin PLUGIN[:STRATEGY])", what, name);
    } else if (pc->limits && strcmp(key, "python") == 0) {
        pc->python_mark = mark_of(v);
        get_string(l, v, what, &pc->python);
    } else if (pc->limits && strcmp(key, "time_limit") == 0) {
        pc->limits->time_limit_mark = mark_of(v);
        get_seconds(l, v, what, &pc->limits->time_limit);
    } else if (pc->limits && strcmp(key, "memory_limit") == 0) {
        pc->limits->memory_limit_mark = mark_of(v);
        get_memory(l, v, what, &pc->limits->memory_limit_mb);
    } else if (pc->strategy && strcmp(key, "strategy_parameters") == 0) {
        if (!pc->strategy_unknown) /* the strategy itself was read first: see load_plugin */
            each_pair(l, v, what, visit_strategy_parameter, pc);
    } else {
        problem(l, key_node, "%s: unknown key '%s'", pc->what, key);
    }
}

/* A plugin given as NAME or as a mapping {plugin|module: NAME, parameters: {...}, ...}. Strategy
 * parameters are read after the strategy itself, wherever they are written. */
static bool load_plugin(loader *l, yaml_node_t *n, plugin_ctx *pc)
{
    if (n->type == YAML_SCALAR_NODE)
        return get_string(l, n, pc->what, pc->name);
    if (n->type != YAML_MAPPING_NODE)
        return wrong_type(l, n, pc->what, "a name or a mapping");
    caf_strategy_params *strategy = pc->strategy;
    yaml_node_t *strategy_node = strategy ? lookup(l, n, "strategy") : NULL;
    if (strategy_node) {
        const char *name = strategy_node->type == YAML_SCALAR_NODE
                               ? (const char *)strategy_node->data.scalar.value : NULL;
        pc->strategy_unknown = !name || (!caf_strategy_kind_parse(name, &strategy->kind) &&
                                         caf_strategy_params_set_plugin(strategy, name, NULL, NULL) != CAF_OK);
    }
    each_pair(l, n, pc->what, visit_plugin_key, pc);
    if (pc->python && *pc->name) {
        problem(l, n, "%s: give either '%s' or 'python', not both", pc->what, pc->name_key);
        return false;
    }
    if (pc->python)
        return true;
    if (!*pc->name && !lookup(l, n, pc->name_key) && !lookup(l, n, "python")) {
        problem(l, n, "%s: missing required key '%s'", pc->what, pc->name_key);
        return false;
    }
    return *pc->name != NULL;
}

/* ---- calibrations ---- */

typedef struct calibration_ctx {
    caf_calibration_config *cal;
    char what[300]; /* "calibration 'gain'" */
} calibration_ctx;

static void load_algorithms(loader *l, yaml_node_t *v, calibration_ctx *cc)
{
    char what[360];
    snprintf(what, sizeof what, "%s: algorithms", cc->what);
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_type(l, v, what, "a list");
        return;
    }
    if (v->data.sequence.items.top == v->data.sequence.items.start)
        problem(l, v, "%s: the list is empty", what);
    size_t index = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(l, *it);
        snprintf(what, sizeof what, "%s: algorithm %zu", cc->what, ++index);
        const char *plugin = NULL;
        json_t *parameters = NULL;
        caf_strategy_params strategy;
        caf_strategy_params_init(&strategy, CAF_STRATEGY_SINGLE_IOV);
        caf_mark strategy_mark = mark_of(item);
        caf_algorithm_config limits = {0};
        plugin_ctx pc = {.what = what, .name_key = "plugin", .name = &plugin, .parameters = &parameters,
                         .strategy = &strategy, .strategy_mark = &strategy_mark, .limits = &limits,
                         .strategy_marks = json_object()};
        caf_algorithm_config *a;
        char *python = NULL; /* the algorithm "python:MODULE:FUNCTION" (caf/python_algorithm.h) */
        bool loaded = load_plugin(l, item, &pc);
        if (loaded && pc.python && asprintf(&python, "%s:%s", CAF_PYTHON_ALGORITHM_PLUGIN, pc.python) < 0) {
            out_of_memory(l, item);
        } else if (loaded) {
            if (caf_calibration_add_algorithm(cc->cal, python ? python : plugin, parameters, &strategy, mark_of(item),
                                              &a, NULL) == CAF_OK) {
                a->strategy_mark = strategy_mark;
                a->strategy_parameter_marks = json_incref(pc.strategy_marks);
                a->time_limit = limits.time_limit;
                a->memory_limit_mb = limits.memory_limit_mb;
                a->time_limit_mark = limits.time_limit_mark;
                a->memory_limit_mark = limits.memory_limit_mark;
            } else {
                out_of_memory(l, item);
            }
        }
        free(python);
        json_decref(pc.strategy_marks);
        json_decref(parameters);
        caf_strategy_params_clear(&strategy);
    }
}

/* A pre-collector path (of a calibration's short form or of a collection): `where` names it. */
static void load_modules(loader *l, yaml_node_t *v, const char *where, caf_calibration_config *cal,
                         caf_collection_config *col)
{
    char what[420];
    snprintf(what, sizeof what, "%s: pre_collector", where);
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_type(l, v, what, "a list of modules");
        return;
    }
    size_t index = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(l, *it);
        snprintf(what, sizeof what, "%s: pre_collector module %zu", where, ++index);
        const char *module = NULL;
        json_t *parameters = NULL, *conditions = NULL;
        caf_mark *condition_marks = NULL;
        plugin_ctx pc = {.what = what, .name_key = "module", .name = &module, .parameters = &parameters,
                         .conditions = &conditions, .condition_marks = &condition_marks};
        if (load_plugin(l, item, &pc)) {
            caf_status rc = col ? caf_collection_add_module(col, module, parameters, mark_of(item), NULL)
                                : caf_calibration_add_module(cal, module, parameters, mark_of(item), NULL);
            if (rc != CAF_OK) {
                out_of_memory(l, item);
            } else if (conditions) {
                caf_module_config *m = col ? &col->pre_collector[col->pre_collector_count - 1]
                                           : &cal->pre_collector[cal->pre_collector_count - 1];
                m->conditions = json_incref(conditions);
                m->condition_marks = condition_marks;
                condition_marks = NULL;
            }
        }
        json_decref(parameters);
        json_decref(conditions);
        free(condition_marks);
    }
}

static void load_ignored_runs(loader *l, yaml_node_t *v, calibration_ctx *cc)
{
    char what[360];
    snprintf(what, sizeof what, "%s: ignored_runs", cc->what);
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_type(l, v, what, "a list of [exp, run]");
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        caf_exprun r;
        if (get_exprun(l, node_at(l, *it), what, &r) && caf_calibration_add_ignored_run(cc->cal, r, NULL) != CAF_OK)
            out_of_memory(l, node_at(l, *it));
    }
}

static void get_seed(loader *l, yaml_node_t *v, const char *what, uint64_t *out)
{
    long long seed;
    if (!is_plain(v) || !parse_long((const char *)v->data.scalar.value, &seed) || seed < 0)
        wrong_type(l, v, what, "a non-negative integer");
    else
        *out = (uint64_t)seed;
}

/* ---- collections ---- */

static void apply_defaults(loader *l, yaml_node_t *n, char *what, size_t what_size, bool collection,
                           bool has_collections, pair_visitor visit, void *ctx);

typedef struct collection_ctx {
    caf_collection_config *col;
    char what[420]; /* "calibration 'gain': collection 'mumu'" */
} collection_ctx;

static void visit_collection_key(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    collection_ctx *xc = ctx;
    caf_collection_config *col = xc->col;
    int k = 0;
    while (k < CAF_COL_KEY_COUNT && strcmp(key, caf_collection_key_name((caf_collection_key)k)) != 0)
        k++;
    if (k == CAF_COL_KEY_COUNT) {
        problem(l, key_node, "%s: unknown key '%s'", xc->what, key);
        return;
    }
    col->marks[k] = mark_of(v);
    char what[480];
    snprintf(what, sizeof what, "%s: %s", xc->what, key);
    switch ((caf_collection_key)k) {
    case CAF_COL_NAME: break; /* read first, in load_collections */
    case CAF_COL_COLLECTOR: {
        const char *plugin = NULL;
        json_t *parameters = NULL;
        plugin_ctx pc = {.what = what, .name_key = "plugin", .name = &plugin, .parameters = &parameters};
        if (load_plugin(l, v, &pc))
            caf_collection_set_collector(col, plugin, parameters, NULL);
        json_decref(parameters);
        break;
    }
    case CAF_COL_PRE_COLLECTOR: load_modules(l, v, xc->what, NULL, col); break;
    case CAF_COL_INPUT_FILES: get_string_list(l, v, what, false, &col->input_files); break;
    case CAF_COL_INPUT_FILE_LISTS: get_string_list(l, v, what, false, &col->input_file_lists); break;
    case CAF_COL_MAX_FILES_PER_COLLECTOR_JOB: get_int(l, v, what, &col->max_files_per_collector_job); break;
    case CAF_COL_MAX_COLLECTOR_JOBS: get_int(l, v, what, &col->max_collector_jobs); break;
    case CAF_COL_MAX_FILES_PER_RUN: get_int(l, v, what, &col->max_files_per_run); break;
    case CAF_COL_FILES_PER_RUN_SEED: get_seed(l, v, what, &col->files_per_run_seed); break;
    case CAF_COL_BACKEND_ARGS: get_object(l, v, what, &col->backend_args); break;
    case CAF_COL_DATABASE_CHAIN: get_database_chain(l, v, what, &col->database_chain); break;
    case CAF_COL_OUTPUT_PATTERNS: get_string_list(l, v, what, true, &col->output_patterns); break;
    case CAF_COL_INPUT_SANDBOX: get_string_list(l, v, what, true, &col->input_sandbox); break;
    case CAF_COL_KEY_COUNT: break;
    }
}

/* collections: a list of mappings, each a collection with its name. */
static void load_collections(loader *l, yaml_node_t *v, calibration_ctx *cc)
{
    char what[420];
    snprintf(what, sizeof what, "%s: collections", cc->what);
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_type(l, v, what, "a list of collections");
        return;
    }
    if (v->data.sequence.items.top == v->data.sequence.items.start)
        problem(l, v, "%s: the list is empty", what);
    size_t index = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(l, *it);
        collection_ctx xc;
        snprintf(xc.what, sizeof xc.what, "%s: collection %zu", cc->what, ++index);
        if (item->type != YAML_MAPPING_NODE) {
            wrong_type(l, item, xc.what, "a mapping");
            continue;
        }
        yaml_node_t *name_node = lookup(l, item, "name");
        const char *name = "";
        if (name_node && !get_string(l, name_node, xc.what, &name))
            name = "";
        if (caf_calibration_add_collection(cc->cal, name, &xc.col, NULL) != CAF_OK)
            return;
        xc.col->mark = mark_of(item);
        if (*name)
            snprintf(xc.what, sizeof xc.what, "%s: collection '%s'", cc->what, name);
        each_pair(l, item, xc.what, visit_collection_key, &xc);
        apply_defaults(l, item, xc.what, sizeof xc.what, true, false, visit_collection_key, &xc);
    }
}

static bool find_calibration_key(const char *key, caf_calibration_key *out)
{
    for (int k = 0; k < CAF_CAL_KEY_COUNT; k++)
        if (strcmp(key, caf_calibration_key_name((caf_calibration_key)k)) == 0) {
            *out = (caf_calibration_key)k;
            return true;
        }
    return false;
}

static void visit_calibration_key(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    calibration_ctx *cc = ctx;
    caf_calibration_config *cal = cc->cal;
    caf_calibration_key k;
    if (!find_calibration_key(key, &k)) {
        problem(l, key_node, "%s: unknown key '%s'", cc->what, key);
        return;
    }
    cal->marks[k] = mark_of(v);
    char what[360];
    snprintf(what, sizeof what, "%s: %s", cc->what, key);
    const char *text = NULL;
    switch (k) {
    case CAF_CAL_NAME: break; /* read first, in load_calibration */
    case CAF_CAL_COLLECTOR: {
        const char *plugin = NULL;
        json_t *parameters = NULL;
        plugin_ctx pc = {.what = what, .name_key = "plugin", .name = &plugin, .parameters = &parameters};
        if (load_plugin(l, v, &pc) && caf_calibration_set_collector(cal, plugin, parameters, NULL) != CAF_OK)
            out_of_memory(l, v);
        json_decref(parameters);
        break;
    }
    case CAF_CAL_PRE_COLLECTOR: load_modules(l, v, cc->what, cal, NULL); break;
    case CAF_CAL_ALGORITHMS: load_algorithms(l, v, cc); break;
    case CAF_CAL_INPUT_FILES: get_string_list(l, v, what, false, &cal->input_files); break;
    case CAF_CAL_INPUT_FILE_LISTS: get_string_list(l, v, what, false, &cal->input_file_lists); break;
    case CAF_CAL_GRANULARITY:
        if (!get_string(l, v, what, &text))
            break;
        if (strcmp(text, "run") == 0 || strcmp(text, "all") == 0)
            cal->granularity = strcmp(text, "all") == 0 ? CAF_GRANULARITY_ALL : CAF_GRANULARITY_RUN;
        else
            problem(l, v, "%s: must be \"run\" or \"all\", not \"%s\"", what, text);
        break;
    case CAF_CAL_MAX_FILES_PER_COLLECTOR_JOB: get_int(l, v, what, &cal->max_files_per_collector_job); break;
    case CAF_CAL_MAX_COLLECTOR_JOBS: get_int(l, v, what, &cal->max_collector_jobs); break;
    case CAF_CAL_MAX_FILES_PER_RUN: get_int(l, v, what, &cal->max_files_per_run); break;
    case CAF_CAL_FILES_PER_RUN_SEED: get_seed(l, v, what, &cal->files_per_run_seed); break;
    case CAF_CAL_BACKEND_ARGS: get_object(l, v, what, &cal->backend_args); break;
    case CAF_CAL_DATABASE_CHAIN: get_database_chain(l, v, what, &cal->database_chain); break;
    case CAF_CAL_DEPENDS_ON: get_string_list(l, v, what, true, &cal->depends_on); break;
    case CAF_CAL_IGNORED_RUNS: load_ignored_runs(l, v, cc); break;
    case CAF_CAL_MAX_ITERATIONS: get_int(l, v, what, &cal->max_iterations); break;
    case CAF_CAL_OUTPUT_PATTERNS: get_string_list(l, v, what, true, &cal->output_patterns); break;
    case CAF_CAL_INPUT_SANDBOX: get_string_list(l, v, what, true, &cal->input_sandbox); break;
    case CAF_CAL_COLLECTIONS: load_collections(l, v, cc); break;
    case CAF_CAL_SAVE_PAYLOADS: get_bool(l, v, what, &cal->save_payloads); break;
    case CAF_CAL_BACKEND:
        if (get_string(l, v, what, &text) && caf_config_set_string(&cal->backend, text, NULL) != CAF_OK)
            out_of_memory(l, v);
        break;
    case CAF_CAL_BACKEND_SETTINGS:
        get_object_marked(l, v, what, &cal->backend_settings, &cal->backend_settings_marks);
        break;
    case CAF_CAL_JOB_POLICY: get_object_marked(l, v, what, &cal->job_policy, &cal->job_policy_marks); break;
    case CAF_CAL_KEY_COUNT: break;
    }
}

/* ---- defaults (basf2 calibration_defaults) ---- */

/* The keys defaults may not hold: what names a calibration or lists its collections. */
static bool may_default(const char *key)
{
    return strcmp(key, "name") != 0 && strcmp(key, "collections") != 0;
}

static bool is_collection_key(const char *key, caf_collection_key *out)
{
    for (int k = CAF_COL_COLLECTOR; k < CAF_COL_KEY_COUNT; k++)
        if (!strcmp(key, caf_collection_key_name((caf_collection_key)k))) {
            *out = (caf_collection_key)k;
            return true;
        }
    return false;
}

static void visit_default_key(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    (void)v, (void)ctx;
    caf_calibration_key k;
    if (!find_calibration_key(key, &k))
        problem(l, key_node, "defaults: '%s' is not a calibration key", key);
    else if (!may_default(key))
        problem(l, key_node, "defaults: '%s' cannot have a default", key);
}

/* Calls visit for every valid default whose key the mapping n does not set itself (and, for a
 * calibration with collections, that is not a collection key: those go to each collection). The values'
 * problems are reported once, as "defaults: KEY: ...", not once per calibration. */
static void apply_defaults(loader *l, yaml_node_t *n, char *what, size_t what_size, bool collection,
                           bool has_collections, pair_visitor visit, void *ctx)
{
    if (!l->defaults)
        return;
    char saved[420];
    snprintf(saved, sizeof saved, "%s", what);
    snprintf(what, what_size, "defaults");
    l->mute = l->defaults_reported;
    for (yaml_node_pair_t *pr = l->defaults->data.mapping.pairs.start; pr < l->defaults->data.mapping.pairs.top; pr++) {
        yaml_node_t *key = node_at(l, pr->key);
        if (key->type != YAML_SCALAR_NODE)
            continue;
        const char *name = (const char *)key->data.scalar.value;
        caf_calibration_key ck;
        caf_collection_key colk;
        bool is_col = is_collection_key(name, &colk);
        if (!find_calibration_key(name, &ck) || !may_default(name) || lookup(l, n, name) ||
            (collection && !is_col) || (!collection && has_collections && is_col))
            continue;
        bool duplicate = false; /* each_pair reported it; the first one counts */
        for (yaml_node_pair_t *q = l->defaults->data.mapping.pairs.start; q < pr && !duplicate; q++) {
            yaml_node_t *other = node_at(l, q->key);
            duplicate = other->type == YAML_SCALAR_NODE && !strcmp((const char *)other->data.scalar.value, name);
        }
        if (!duplicate)
            visit(l, name, key, node_at(l, pr->value), ctx);
    }
    l->mute = false;
    snprintf(what, what_size, "%s", saved);
}

static void apply_calibration_defaults(loader *l, yaml_node_t *n, calibration_ctx *cc)
{
    apply_defaults(l, n, cc->what, sizeof cc->what, false, lookup(l, n, "collections") != NULL,
                   visit_calibration_key, cc);
    l->defaults_reported = l->defaults != NULL;
}

static void load_calibration(loader *l, yaml_node_t *n, size_t index)
{
    calibration_ctx cc;
    snprintf(cc.what, sizeof cc.what, "calibration %zu", index + 1);
    if (n->type != YAML_MAPPING_NODE) {
        wrong_type(l, n, cc.what, "a mapping");
        return;
    }
    yaml_node_t *name_node = lookup(l, n, "name");
    const char *name = "";
    char what[360];
    snprintf(what, sizeof what, "%s: name", cc.what);
    if (name_node && !get_string(l, name_node, what, &name))
        name = "";
    if (caf_campaign_add_calibration(l->c, name, &cc.cal, NULL) != CAF_OK) {
        out_of_memory(l, n);
        return;
    }
    cc.cal->mark = mark_of(n);
    if (*name)
        snprintf(cc.what, sizeof cc.what, "calibration '%s'", name);
    each_pair(l, n, cc.what, visit_calibration_key, &cc);
    apply_calibration_defaults(l, n, &cc);
    if (name_node)
        cc.cal->marks[CAF_CAL_NAME] = mark_of(name_node);
}

/* ---- the campaign ---- */

static void visit_campaign_key(loader *l, const char *key, yaml_node_t *key_node, yaml_node_t *v, void *ctx)
{
    (void)ctx;
    caf_campaign *c = l->c;
    int k = 0;
    while (k < CAF_CAMPAIGN_KEY_COUNT && strcmp(key, caf_campaign_key_name((caf_campaign_key)k)) != 0)
        k++;
    if (k == CAF_CAMPAIGN_KEY_COUNT) {
        problem(l, key_node, "unknown key '%s'", key);
        return;
    }
    c->marks[k] = mark_of(v);
    const char *text = NULL;
    switch ((caf_campaign_key)k) {
    case CAF_CAMPAIGN_OUTPUT_DIR:
        if (get_string(l, v, key, &text) && caf_config_set_string(&c->output_dir, text, NULL) != CAF_OK)
            out_of_memory(l, v);
        break;
    case CAF_CAMPAIGN_BACKEND:
        if (get_string(l, v, key, &text) && caf_config_set_string(&c->backend, text, NULL) != CAF_OK)
            out_of_memory(l, v);
        break;
    case CAF_CAMPAIGN_BACKEND_SETTINGS:
        get_object_marked(l, v, key, &c->backend_settings, &c->backend_settings_marks);
        break;
    case CAF_CAMPAIGN_JOB_POLICY: get_object_marked(l, v, key, &c->job_policy, &c->job_policy_marks); break;
    case CAF_CAMPAIGN_HEARTBEAT: get_double(l, v, key, &c->heartbeat); break;
    case CAF_CAMPAIGN_POLL_INTERVAL: get_double(l, v, key, &c->poll_interval); break;
    case CAF_CAMPAIGN_MAX_PARALLEL_ALGORITHMS:
        if (get_int(l, v, key, &c->max_parallel_algorithms) && c->max_parallel_algorithms < 1) {
            problem(l, v, "%s: must be at least 1, not %d", key, c->max_parallel_algorithms);
            c->max_parallel_algorithms = 0;
        }
        break;
    case CAF_CAMPAIGN_ALGORITHM_TIME_LIMIT: get_seconds(l, v, key, &c->algorithm_time_limit); break;
    case CAF_CAMPAIGN_ALGORITHM_MEMORY_LIMIT: get_memory(l, v, key, &c->algorithm_memory_limit_mb); break;
    case CAF_CAMPAIGN_CALIBRATIONS:
        if (v->type != YAML_SEQUENCE_NODE) {
            wrong_type(l, v, key, "a list of calibrations");
            break;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            load_calibration(l, node_at(l, *it), (size_t)(it - v->data.sequence.items.start));
        break;
    case CAF_CAMPAIGN_DEFAULTS: each_pair(l, v, key, visit_default_key, NULL); break;
    case CAF_CAMPAIGN_KEY_COUNT: break;
    }
}

/* Parses text into l->doc within caf_yaml_load_bounded's limits; a syntax error, a limit exceeded or memory
 * running out is one problem at its mark. Returns whether there is a document to walk. */
static bool parse_text(loader *l, const char *text, size_t size)
{
    caf_yaml_failure failure;
    if (caf_yaml_load_bounded(text, size, &l->doc, &failure) == CAF_OK)
        return true;
    caf_config_problems_add(l->p, (caf_mark){failure.line, failure.column}, "%s", failure.message);
    return false;
}

caf_status caf_campaign_load_text(const char *text, size_t size, const char *name, caf_campaign *campaign,
                                  caf_config_problems *problems, caf_error *err)
{
    caf_status rc = caf_campaign_init(campaign, err);
    if (rc != CAF_OK)
        return rc;
    if ((rc = caf_config_set_string(&campaign->source, name, err)) != CAF_OK)
        return rc;
    size_t before = problems->count;
    loader l = {.c = campaign, .p = problems};
    if (parse_text(&l, text, size)) {
        yaml_node_t *root = yaml_document_get_root_node(&l.doc);
        yaml_node_t *defaults = root ? lookup(&l, root, "defaults") : NULL;
        l.defaults = defaults && defaults->type == YAML_MAPPING_NODE ? defaults : NULL;
        if (!root)
            caf_config_problems_add(problems, (caf_mark){1, 1}, "the file is empty");
        else if (each_pair(&l, root, "the campaign", visit_campaign_key, NULL))
            caf_campaign_validate(campaign, problems);
        yaml_document_delete(&l.doc);
    }
    if (problems->count == before)
        return CAF_OK;
    char first[1024];
    caf_config_problem_format(problems, before, name, first, sizeof first);
    size_t more = problems->count - before - 1;
    if (more)
        return caf_error_set(err, CAF_ERR_INVALID, "%s (and %zu more problem%s)", first, more, more == 1 ? "" : "s");
    return caf_error_set(err, CAF_ERR_INVALID, "%s", first);
}

caf_status caf_campaign_load_yaml(const char *path, caf_campaign *campaign, caf_config_problems *problems,
                                  caf_error *err)
{
    char *text;
    size_t size;
    caf_status rc = caf_file_read(path, &text, &size, err);
    if (rc != CAF_OK) {
        caf_error ignored = {0};
        if (caf_campaign_init(campaign, &ignored) == CAF_OK)
            caf_config_set_string(&campaign->source, path, &ignored);
        return rc;
    }
    rc = caf_campaign_load_text(text, size, path, campaign, problems, err);
    free(text);
    return rc;
}
