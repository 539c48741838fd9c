/* The collector base: runs a collector descriptor as a module. It owns the parameters every collector
 * takes, the per-event gates (maxEventsPerRun, preScale), the objects per key made from the registered
 * templates, the run-by-run flush into the output file and the job's RunRange. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "caf/collector.h"
#include "caf/collector_output.h"
#include "caf/log.h"
#include "collector/output_internal.h"

typedef struct registered {
    char *name;
    caf_object *tmpl;
    caf_object *live; /* the object of the current key, or NULL */
} registered;

/* Events collected per (exp, run) over the whole job, sorted by run. */
typedef struct run_count {
    caf_exprun run;
    int64_t events;
} run_count;

struct caf_collector {
    const caf_collector_descriptor *desc;
    caf_module_context *ctx;
    void *state;
    bool preparing, prepared, in_run;
    caf_granularity granularity;
    double prescale;
    int64_t max_events;
    char *output_path;
    caf_collector_writer *writer;
    registered *objects;
    size_t n_objects;
    run_count *counts;
    size_t n_counts, cap_counts;
    size_t current_index;
    caf_exprun run, key;
    bool collecting;      /* false when maxEventsPerRun is reached for this run */
    bool run_collected;   /* some event of this stretch reached collect */
    bool any_collected;   /* some event of the job reached collect (granularity all) */
    size_t user_types_registered;
};

static const caf_param_spec framework_params[] = {
    {"granularity", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "run",
     "\"run\": objects per (exp, run); \"all\": one set of objects for the whole job"},
    {"preScale", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "1.0", "fraction of events passed to collect (1 all, 0 none)"},
    {"maxEventsPerRun", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "-1",
     "at most this many events of each (exp, run) are collected over the job; -1 = no limit"},
    {"outputFileName", CAF_PARAM_STRING, CAF_PARAM_OPTIONAL, NULL,
     "the collector output file (default CollectorOutput_<instance>.sqlite)"},
};
#define N_FRAMEWORK_PARAMS (sizeof framework_params / sizeof framework_params[0])

/* ---- Accessors ---- */

const char *caf_collector_name(const caf_collector *c)
{
    return caf_module_instance_name(c->ctx);
}

const caf_params *caf_collector_params(const caf_collector *c)
{
    return caf_module_params(c->ctx);
}

caf_module_context *caf_collector_context(caf_collector *c)
{
    return c->ctx;
}

caf_granularity caf_collector_granularity(const caf_collector *c)
{
    return c->granularity;
}

caf_exprun caf_collector_run(const caf_collector *c)
{
    return c->run;
}

caf_exprun caf_collector_key(const caf_collector *c)
{
    return c->key;
}

const char *caf_collector_output_file(const caf_collector *c)
{
    return c->output_path;
}

caf_status caf_collector_require(caf_collector *c, const char *what, caf_error *err)
{
    caf_status st = caf_module_require(c->ctx, what, err);
    return st == CAF_OK ? st : caf_error_prefix(err, "collector %s: ", caf_collector_name(c));
}

/* ---- Objects ---- */

static bool valid_object_name(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static registered *find_object(caf_collector *c, const char *name)
{
    for (size_t i = 0; i < c->n_objects; i++)
        if (!strcmp(c->objects[i].name, name))
            return &c->objects[i];
    return NULL;
}

caf_status caf_collector_register(caf_collector *c, const char *name, caf_object *tmpl, caf_error *err)
{
    const char *cname = caf_collector_name(c);
    caf_status st = CAF_OK;
    if (!tmpl)
        return caf_error_set(err, CAF_ERR_INVALID, "collector %s: object '%s' has no template", cname, name ? name : "");
    if (!c->preparing)
        st = caf_error_set(err, CAF_ERR_STATE, "collector %s: object '%s' registered outside prepare", cname,
                           name ? name : "");
    else if (!valid_object_name(name))
        st = caf_error_set(err, CAF_ERR_INVALID, "collector %s: object name '%s' is not letters, digits, '_', '-', '.'",
                           cname, name ? name : "");
    else if (find_object(c, name))
        st = caf_error_set(err, CAF_ERR_EXISTS, "collector %s: object '%s' is registered twice", cname, name);
    if (st == CAF_OK) {
        registered *n = realloc(c->objects, (c->n_objects + 1) * sizeof *n);
        char *copy = strdup(name);
        if (n)
            c->objects = n;
        if (!n || !copy) {
            free(copy);
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else {
            caf_object_reset(tmpl);
            c->objects[c->n_objects++] = (registered){copy, tmpl, NULL};
            return CAF_OK;
        }
    }
    caf_object_free(tmpl);
    return st;
}

caf_status caf_collector_get(caf_collector *c, const char *name, caf_object **out, caf_error *err)
{
    *out = NULL;
    registered *r = find_object(c, name ? name : "");
    if (!r) {
        char list[512] = "";
        for (size_t i = 0; i < c->n_objects; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", c->objects[i].name);
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "collector %s: object '%s' is not registered (registered: %s)",
                             caf_collector_name(c), name ? name : "", c->n_objects ? list : "none");
    }
    if (!c->in_run)
        return caf_error_set(err, CAF_ERR_STATE, "collector %s: object '%s' asked for outside a run",
                             caf_collector_name(c), name);
    if (!r->live) {
        caf_status st = caf_object_clone_empty(r->tmpl, &r->live, err);
        if (st != CAF_OK)
            return caf_error_prefix(err, "collector %s: object '%s': ", caf_collector_name(c), name);
    }
    *out = r->live;
    return CAF_OK;
}

caf_object *caf_collector_object(caf_collector *c, const char *name)
{
    /* The common case first: the object exists already. */
    for (size_t i = 0; i < c->n_objects; i++)
        if (c->objects[i].live && !strcmp(c->objects[i].name, name))
            return c->objects[i].live;
    caf_error err = {0};
    caf_object *obj;
    if (caf_collector_get(c, name, &obj, &err) != CAF_OK) {
        caf_log_error("%s", err.message);
        return NULL;
    }
    return obj;
}

/* Writes the live objects under the current key (if anything was collected) and frees them. */
static caf_status flush_objects(caf_collector *c, bool write, caf_error *err)
{
    caf_status st = CAF_OK;
    for (size_t i = 0; i < c->n_objects; i++) {
        registered *r = &c->objects[i];
        if (r->live && write && st == CAF_OK)
            st = caf_collector_writer_put(c->writer, r->name, c->key, r->live, err);
        caf_object_free(r->live);
        r->live = NULL;
    }
    if (st == CAF_OK && write)
        st = output_writer_flush_if(c->writer, (int64_t)8 << 20, err);
    return st;
}

/* ---- Per-run event counts ---- */

static caf_status find_count(caf_collector *c, caf_exprun run, caf_error *err)
{
    size_t lo = 0, hi = c->n_counts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (caf_exprun_compare(c->counts[mid].run, run) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->n_counts || caf_exprun_compare(c->counts[lo].run, run) != 0) {
        if (c->n_counts == c->cap_counts) {
            size_t cap = c->cap_counts ? 2 * c->cap_counts : 64;
            run_count *n = realloc(c->counts, cap * sizeof *n);
            if (!n)
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            c->counts = n;
            c->cap_counts = cap;
        }
        memmove(c->counts + lo + 1, c->counts + lo, (c->n_counts - lo) * sizeof *c->counts);
        c->counts[lo] = (run_count){run, 0};
        c->n_counts++;
    }
    c->current_index = lo;
    return CAF_OK;
}

/* ---- Module hooks ---- */

static void collector_free(caf_collector *c)
{
    for (size_t i = 0; i < c->n_objects; i++) {
        free(c->objects[i].name);
        caf_object_free(c->objects[i].tmpl);
        caf_object_free(c->objects[i].live);
    }
    free(c->objects);
    free(c->counts);
    for (size_t i = 0; i < c->user_types_registered; i++)
        caf_user_type_unregister(c->desc->user_types[i].name);
    caf_collector_writer_abort(c->writer);
    free(c->output_path);
    free(c);
}

/* The collector's parameters as JSON, for the output file. */
static json_t *params_json(const caf_collector *c)
{
    json_t *o = json_object();
    const caf_params *p = caf_collector_params(c);
    const caf_param_spec *lists[2] = {framework_params, c->desc->params};
    size_t counts[2] = {N_FRAMEWORK_PARAMS, SIZE_MAX};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; lists[l] && i < counts[l] && lists[l][i].name; i++) {
            const caf_param_value *v = caf_params_get(p, lists[l][i].name);
            if (!v)
                continue;
            json_t *j = NULL;
            switch (v->type) {
            case CAF_PARAM_INT: j = json_integer(v->i); break;
            case CAF_PARAM_DOUBLE: j = json_real(v->d); break;
            case CAF_PARAM_STRING: j = json_string(v->s); break;
            case CAF_PARAM_BOOL: j = json_boolean(v->b); break;
            case CAF_PARAM_INT_LIST:
                j = json_array();
                for (size_t k = 0; k < v->count; k++)
                    json_array_append_new(j, json_integer(v->ints[k]));
                break;
            case CAF_PARAM_DOUBLE_LIST:
                j = json_array();
                for (size_t k = 0; k < v->count; k++)
                    json_array_append_new(j, json_real(v->doubles[k]));
                break;
            case CAF_PARAM_STRING_LIST:
                j = json_array();
                for (size_t k = 0; k < v->count; k++)
                    json_array_append_new(j, json_string(v->strings[k]));
                break;
            case CAF_PARAM_NAME_INT_LIST:
                j = json_array();
                for (size_t k = 0; k < v->count; k++)
                    json_array_append_new(j, v->name_ints[k].has_number
                                                 ? json_pack("[sI]", v->name_ints[k].name, (json_int_t)v->name_ints[k].number)
                                                 : json_string(v->name_ints[k].name));
                break;
            }
            if (j)
                json_object_set_new(o, lists[l][i].name, j);
        }
    return o;
}

static caf_status read_framework_params(caf_collector *c, caf_error *err)
{
    const char *name = caf_collector_name(c);
    const caf_params *p = caf_collector_params(c);
    const char *g = caf_params_string(p, "granularity", "run");
    if (caf_granularity_parse(g, &c->granularity, err) != CAF_OK)
        return caf_error_set(err, CAF_ERR_INVALID, "collector %s: granularity '%s' is neither 'run' nor 'all'", name, g);
    c->prescale = caf_params_double(p, "preScale", 1.0);
    if (!(c->prescale >= 0 && c->prescale <= 1))
        return caf_error_set(err, CAF_ERR_INVALID, "collector %s: preScale %g is not in [0, 1]", name, c->prescale);
    c->max_events = caf_params_int(p, "maxEventsPerRun", -1);
    if (c->max_events < -1)
        return caf_error_set(err, CAF_ERR_INVALID, "collector %s: maxEventsPerRun %lld is below -1", name,
                             (long long)c->max_events);
    const char *out = caf_params_string(p, "outputFileName", NULL);
    if (out && *out) {
        c->output_path = strdup(out);
    } else {
        size_t n = strlen(name) + 32;
        if ((c->output_path = malloc(n)))
            snprintf(c->output_path, n, "CollectorOutput_%s.sqlite", name);
    }
    return c->output_path ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

caf_status caf_collector_module_initialize(const caf_collector_descriptor *desc, caf_module_context *ctx, void **state,
                                           caf_error *err)
{
    caf_collector *c = calloc(1, sizeof *c);
    if (!c)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    c->desc = desc;
    c->ctx = ctx;
    c->run = c->key = (caf_exprun){-1, -1};
    caf_status st = read_framework_params(c, err);
    for (size_t i = 0; st == CAF_OK && i < desc->n_user_types; i++) {
        st = caf_user_type_register(&desc->user_types[i], err);
        if (st == CAF_OK)
            c->user_types_registered++;
        else
            caf_error_prefix(err, "collector %s: ", caf_collector_name(c));
    }
    if (st == CAF_OK && desc->prepare) {
        c->preparing = true;
        st = desc->prepare(c, &c->state, err);
        c->preparing = false;
        if (st != CAF_OK && err && !strstr(err->message, caf_collector_name(c)))
            caf_error_prefix(err, "collector %s: prepare: ", caf_collector_name(c));
    }
    c->prepared = st == CAF_OK;
    if (st == CAF_OK) {
        json_t *params = params_json(c);
        caf_collector_info info = {caf_collector_name(c), desc->name, c->granularity, params};
        st = caf_collector_writer_open(c->output_path, &info, &c->writer, err);
        json_decref(params);
    }
    for (size_t i = 0; st == CAF_OK && i < c->n_objects; i++)
        st = caf_collector_writer_declare(c->writer, c->objects[i].name, c->objects[i].tmpl, err);
    if (st != CAF_OK) {
        /* finish frees what prepare allocated, also when prepare failed half way */
        if ((c->prepared || c->state) && desc->finish) {
            caf_error ignored = {0};
            desc->finish(c, c->state, false, &ignored);
        }
        collector_free(c);
        return st;
    }
    *state = c;
    return CAF_OK;
}

static caf_status hook_failed(caf_collector *c, const char *hook, caf_status st, caf_error *err)
{
    if (err && !strstr(err->message, caf_collector_name(c)))
        caf_error_prefix(err, "collector %s: %s: ", caf_collector_name(c), hook);
    return st;
}

static caf_status collector_begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader,
                                       caf_error *err)
{
    (void)ctx;
    caf_collector *c = state;
    caf_status st = c->desc->begin_file ? c->desc->begin_file(c, c->state, reader, err) : CAF_OK;
    return st == CAF_OK ? st : hook_failed(c, "begin_file", st, err);
}

static caf_status collector_begin_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)ctx;
    caf_collector *c = state;
    c->run = run;
    c->key = c->granularity == CAF_GRANULARITY_ALL ? CAF_EXPRUN_ALL : run;
    c->in_run = true;
    c->run_collected = false;
    caf_status st = find_count(c, run, err);
    if (st != CAF_OK)
        return st;
    c->collecting = c->max_events < 0 || c->counts[c->current_index].events < c->max_events;
    if (!c->collecting)
        caf_info("collector %s: run %d.%d already has %lld collected events (maxEventsPerRun); skipping it",
                 caf_collector_name(c), run.exp, run.run, (long long)c->counts[c->current_index].events);
    st = c->desc->start_run ? c->desc->start_run(c, c->state, run, err) : CAF_OK;
    return st == CAF_OK ? st : hook_failed(c, "start_run", st, err);
}

/* Counts n collected events of the current run and switches collection off at maxEventsPerRun. */
static void account(caf_collector *c, size_t n)
{
    if (!n)
        return;
    c->run_collected = c->any_collected = true;
    run_count *rc = &c->counts[c->current_index];
    rc->events += (int64_t)n;
    if (c->max_events >= 0 && rc->events >= c->max_events) {
        caf_info("collector %s: run %d.%d reached maxEventsPerRun = %lld", caf_collector_name(c), c->run.exp,
                 c->run.run, (long long)c->max_events);
        c->collecting = false;
    }
}

static caf_status collector_event(caf_module_context *ctx, void *state, const caf_event *event, caf_error *err)
{
    caf_collector *c = state;
    if (!c->collecting)
        return CAF_OK;
    if (c->prescale < 1.0 && (c->prescale <= 0.0 || !(caf_random_uniform(caf_module_random(ctx)) < c->prescale)))
        return CAF_OK;
    caf_status st = c->desc->collect(c, c->state, event, err);
    if (st != CAF_OK)
        return hook_failed(c, "collect", st, err);
    account(c, 1);
    return CAF_OK;
}

/* Hands rows first .. first+count-1 to the collector: in bulk if it can take them so, else one by one. */
static caf_status deliver(caf_collector *c, const caf_event_batch *batch, size_t first, size_t count, caf_exprun run,
                          caf_error *err)
{
    caf_status st = CAF_OK;
    if (c->desc->collect_events) {
        st = c->desc->collect_events(c, c->state, batch, first, count, run, err);
    } else {
        for (size_t i = first; st == CAF_OK && i < first + count; i++) {
            caf_event ev = {run, batch->event ? (int64_t)batch->event[i] : -1, batch, i};
            st = c->desc->collect(c, c->state, &ev, err);
        }
    }
    return st == CAF_OK ? st : hook_failed(c, "collect", st, err);
}

/* The engine's bulk hook: applies the gates to a stretch of one run and delivers what passes. */
static caf_status collector_events(caf_module_context *ctx, void *state, const caf_event_batch *batch, size_t first,
                                   size_t count, caf_exprun run, caf_error *err)
{
    caf_collector *c = state;
    size_t end = first + count;
    if (c->prescale <= 0.0)
        return CAF_OK;
    for (size_t i = first; i < end && c->collecting;) {
        size_t n = 1;
        if (c->prescale >= 1.0) {
            n = end - i;
            if (c->max_events >= 0) {
                int64_t left = c->max_events - c->counts[c->current_index].events;
                n = (int64_t)n > left ? (size_t)left : n;
            }
        } else if (!(caf_random_uniform(caf_module_random(ctx)) < c->prescale)) {
            i++;
            continue;
        }
        caf_status st = deliver(c, batch, i, n, run, err);
        if (st != CAF_OK)
            return st;
        account(c, n);
        i += n;
    }
    return CAF_OK;
}

static caf_status collector_end_run(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err)
{
    (void)ctx;
    caf_collector *c = state;
    caf_status st = c->desc->close_run ? c->desc->close_run(c, c->state, run, err) : CAF_OK;
    if (st != CAF_OK)
        return hook_failed(c, "close_run", st, err);
    if (c->run_collected)
        st = caf_collector_writer_add_run(c->writer, run, err);
    if (st == CAF_OK && c->granularity == CAF_GRANULARITY_RUN)
        st = flush_objects(c, c->run_collected, err);
    c->in_run = false;
    return st;
}

static caf_status collector_terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    (void)ctx;
    caf_collector *c = state;
    caf_status st = CAF_OK;
    if (c->desc->finish) {
        st = c->desc->finish(c, c->state, success, err);
        if (st != CAF_OK)
            hook_failed(c, "finish", st, err);
    }
    c->state = NULL;
    if (success && st == CAF_OK) {
        c->in_run = false;
        st = flush_objects(c, c->granularity == CAF_GRANULARITY_ALL && c->any_collected, err);
        if (st == CAF_OK) {
            st = caf_collector_writer_commit(c->writer, err);
            c->writer = NULL;
        }
    }
    collector_free(c); /* aborts the writer if still open: no file appears */
    return st;
}

const caf_module_descriptor *caf_collector_module_descriptor(
    const caf_collector_descriptor *desc, caf_module_descriptor *md, caf_param_spec *params, size_t max,
    caf_status (*initialize)(caf_module_context *ctx, void **state, caf_error *err))
{
    if (!desc || desc->abi_version != CAF_COLLECTOR_ABI_VERSION || !desc->name || !desc->collect) {
        caf_log_error("collector %s: the descriptor has the wrong ABI version or no collect hook",
                      desc && desc->name ? desc->name : "?");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < N_FRAMEWORK_PARAMS; i++)
        params[n++] = framework_params[i];
    for (size_t i = 0; desc->params && desc->params[i].name; i++) {
        if (n + 1 >= max) {
            caf_log_error("collector %s: more than %d parameters", desc->name, CAF_COLLECTOR_MAX_PARAMS);
            return NULL;
        }
        params[n++] = desc->params[i];
    }
    params[n] = (caf_param_spec){0};
    *md = (caf_module_descriptor){
        .abi_version = CAF_MODULE_ABI_VERSION,
        .name = desc->name,
        .description = desc->description,
        .params = params,
        .initialize = initialize,
        .begin_file = collector_begin_file,
        .begin_run = collector_begin_run,
        .event = collector_event,
        .events = collector_events,
        .end_run = collector_end_run,
        .terminate = collector_terminate,
        .extension = desc,
    };
    return md;
}
