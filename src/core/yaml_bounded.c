/* Bounded YAML loading (yaml_bounded.h). A first pass over libyaml's events measures what the document
 * would be before libyaml's loader builds it: nesting depth, and for every anchor the number of nodes the
 * walk of its node visits (aliases inside it counted in full), so each alias adds what it really costs.
 * The pass stops at the first bound exceeded, so neither pass ever sees deeper nesting than the bound
 * and both stay linear in the size of the text. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/yaml_bounded.h"

typedef struct anchor {
    char *name;    /* NULL: free slot */
    uint64_t size; /* nodes visited by a walk of the anchored node */
    bool complete; /* false while the anchored collection is still open */
} anchor;

/* Open addressing, twice as many slots as anchors allowed, so a probe always ends at a free slot. */
#define ANCHOR_SLOTS (2 * CAF_YAML_MAX_ANCHORS + 1)

typedef struct frame {
    uint64_t size;
    anchor *anchored; /* the anchor naming this collection, or NULL */
} frame;

typedef struct measure {
    anchor *anchors;
    size_t anchor_count;
    frame stack[CAF_YAML_MAX_DEPTH + 1];
    size_t depth;
    uint64_t alias_nodes;
    caf_yaml_failure *failure;
} measure;

static caf_status fail_at(caf_yaml_failure *f, yaml_mark_t mark, caf_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static caf_status fail_at(caf_yaml_failure *f, yaml_mark_t mark, caf_status code, const char *fmt, ...)
{
    f->line = (int)mark.line + 1;
    f->column = (int)mark.column + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    return code;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static size_t slot_of(const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % ANCHOR_SLOTS);
}

static anchor *find_anchor(measure *m, const char *name)
{
    for (size_t i = slot_of(name);; i = (i + 1) % ANCHOR_SLOTS) {
        if (!m->anchors[i].name || strcmp(m->anchors[i].name, name) == 0)
            return &m->anchors[i];
    }
}

/* Registers (or, as YAML allows, redefines) an anchor; libyaml's loader refuses a duplicate itself. */
static caf_status define_anchor(measure *m, const char *name, yaml_mark_t mark, anchor **out)
{
    anchor *a = find_anchor(m, name);
    if (!a->name) {
        if (m->anchor_count == CAF_YAML_MAX_ANCHORS)
            return fail_at(m->failure, mark, CAF_ERR_FORMAT, "more than %d anchors (&%.60s)", CAF_YAML_MAX_ANCHORS,
                           name);
        if (!(a->name = strdup(name)))
            return fail_at(m->failure, mark, CAF_ERR_NOMEM, "out of memory reading the YAML document");
        m->anchor_count++;
    }
    a->size = 1;
    a->complete = false;
    *out = a;
    return CAF_OK;
}

/* Adds a finished node of size nodes to the collection it is in. */
static void add_to_parent(measure *m, uint64_t size)
{
    if (m->depth > 0)
        m->stack[m->depth - 1].size = add_saturating(m->stack[m->depth - 1].size, size);
}

static caf_status on_event(measure *m, const yaml_event_t *e, bool *done)
{
    const yaml_char_t *anchor_name = NULL;
    anchor *a = NULL;
    caf_status rc;
    switch (e->type) {
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT: *done = true; return CAF_OK; /* the loader reads the first document only */
    case YAML_SCALAR_EVENT:
        if ((anchor_name = e->data.scalar.anchor)) {
            if ((rc = define_anchor(m, (const char *)anchor_name, e->start_mark, &a)) != CAF_OK)
                return rc;
            a->complete = true;
        }
        add_to_parent(m, 1);
        return CAF_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (m->depth == CAF_YAML_MAX_DEPTH)
            return fail_at(m->failure, e->start_mark, CAF_ERR_FORMAT, "nested deeper than %d levels",
                           CAF_YAML_MAX_DEPTH);
        anchor_name = e->type == YAML_SEQUENCE_START_EVENT ? e->data.sequence_start.anchor
                                                           : e->data.mapping_start.anchor;
        if (anchor_name && (rc = define_anchor(m, (const char *)anchor_name, e->start_mark, &a)) != CAF_OK)
            return rc;
        m->stack[m->depth++] = (frame){1, a};
        return CAF_OK;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (m->depth == 0)
            return CAF_OK;
        frame f = m->stack[--m->depth];
        if (f.anchored) {
            f.anchored->size = f.size;
            f.anchored->complete = true;
        }
        add_to_parent(m, f.size);
        return CAF_OK;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)e->data.alias.anchor;
        a = find_anchor(m, name);
        if (!a->name) { /* libyaml's loader reports the undefined alias */
            add_to_parent(m, 1);
            return CAF_OK;
        }
        if (!a->complete)
            return fail_at(m->failure, e->start_mark, CAF_ERR_FORMAT,
                           "alias *%.60s is inside the node it names (a cycle)", name);
        m->alias_nodes = add_saturating(m->alias_nodes, a->size);
        if (m->alias_nodes > CAF_YAML_MAX_ALIAS_NODES)
            return fail_at(m->failure, e->start_mark, CAF_ERR_FORMAT,
                           "aliases expand to more than %d nodes (at alias *%.60s); write the values out or use "
                           "fewer aliases", CAF_YAML_MAX_ALIAS_NODES, name);
        add_to_parent(m, a->size);
        return CAF_OK;
    }
    default: return CAF_OK;
    }
}

static caf_status parser_failure(const yaml_parser_t *p, caf_yaml_failure *f)
{
    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(f, p->problem_mark, CAF_ERR_NOMEM, "out of memory reading the YAML document");
    yaml_mark_t mark = p->problem ? p->problem_mark : p->context_mark;
    return fail_at(f, mark, CAF_ERR_FORMAT, "YAML syntax error: %s%s%s", p->problem ? p->problem : "unknown",
                   p->context ? " " : "", p->context ? p->context : "");
}

/* The first pass: events only, nothing kept but the anchors' sizes. */
static caf_status measure_text(const char *text, size_t size, caf_yaml_failure *failure)
{
    measure *m = calloc(1, sizeof *m);
    anchor *anchors = calloc(ANCHOR_SLOTS, sizeof *anchors);
    yaml_parser_t parser;
    yaml_mark_t start = {0, 0, 0};
    if (!m || !anchors || !yaml_parser_initialize(&parser)) {
        free(m);
        free(anchors);
        return fail_at(failure, start, CAF_ERR_NOMEM, "out of memory reading the YAML document");
    }
    m->anchors = anchors;
    m->failure = failure;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
    caf_status rc = CAF_OK;
    for (bool done = false; rc == CAF_OK && !done;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            rc = parser_failure(&parser, failure);
            break;
        }
        rc = on_event(m, &e, &done);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < ANCHOR_SLOTS; i++)
        free(anchors[i].name);
    free(anchors);
    free(m);
    return rc;
}

caf_status caf_yaml_load_bounded(const char *text, size_t size, yaml_document_t *doc, caf_yaml_failure *failure)
{
    *failure = (caf_yaml_failure){0};
    memset(doc, 0, sizeof *doc);
    caf_status rc = measure_text(text, size, failure);
    if (rc != CAF_OK)
        return rc;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fail_at(failure, (yaml_mark_t){0, 0, 0}, CAF_ERR_NOMEM, "out of memory reading the YAML document");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
    if (!yaml_parser_load(&parser, doc))
        rc = parser_failure(&parser, failure);
    yaml_parser_delete(&parser);
    return rc;
}
