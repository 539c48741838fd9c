/* The engine: loads a path set's modules and streams event files through them (see caf/engine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/engine.h"
#include "caf/log.h"
#include "caf/module.h"
#include "modules/params_internal.h"
#include "modules/path_internal.h"

struct caf_module_context {
    caf_engine *engine;
    const caf_path_module *entry;
    caf_module_plugin plugin;
    const caf_module_descriptor *d;
    caf_params *params;
    void *state;
    bool initialized, terminated;
    caf_random rng;
    int64_t return_value;
    bool has_return_value;
};

struct caf_engine {
    const caf_path_set *set;
    caf_engine_options options;
    caf_module_context *modules; /* every instance of every path, path by path */
    size_t n_modules;
    size_t *path_first; /* index in modules of each path's first module */
    char **select;      /* what the reader reads; NULL = everything */
    const char **select_by; /* the instance that asked for each */
    size_t n_select;
    bool read_all;
    bool read_event;
    bool bulk; /* the main path has no conditions: modules may take stretches of events */
    bool ran;
    caf_event_reader *reader;
    const char *current_file;
    caf_engine_stats stats;
};

/* ---- The context modules see ---- */

const char *caf_module_instance_name(const caf_module_context *ctx)
{
    return ctx->entry->instance;
}

const caf_params *caf_module_params(const caf_module_context *ctx)
{
    return ctx->params;
}

caf_random *caf_module_random(caf_module_context *ctx)
{
    return &ctx->rng;
}

uint64_t caf_module_seed(const caf_module_context *ctx)
{
    return ctx->engine->options.seed;
}

void caf_module_set_return_value(caf_module_context *ctx, int64_t value)
{
    ctx->return_value = value;
    ctx->has_return_value = true;
}

const char *const *caf_module_input_files(const caf_module_context *ctx, size_t *count)
{
    *count = ctx->engine->options.n_inputs;
    return ctx->engine->options.inputs;
}

const char *caf_module_current_file(const caf_module_context *ctx)
{
    return ctx->engine->current_file;
}

const caf_event_reader *caf_module_current_reader(const caf_module_context *ctx)
{
    return ctx->engine->reader;
}

caf_status caf_module_require(caf_module_context *ctx, const char *what, caf_error *err)
{
    caf_engine *e = ctx->engine;
    if (!strcmp(what, "*")) {
        e->read_all = e->read_event = true;
        return CAF_OK;
    }
    if (!strcmp(what, CAF_EVENT_SELECT_EVENT))
        e->read_event = true;
    for (size_t i = 0; i < e->n_select; i++)
        if (!strcmp(e->select[i], what))
            return CAF_OK;
    char **n = realloc(e->select, (e->n_select + 1) * sizeof *n);
    if (n)
        e->select = n;
    const char **by = n ? realloc(e->select_by, (e->n_select + 1) * sizeof *by) : NULL;
    if (!by)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    e->select_by = by;
    by[e->n_select] = ctx->entry->instance;
    if (!(e->select[e->n_select] = strdup(what)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    e->n_select++;
    return CAF_OK;
}

/* ---- Set-up and tear-down ---- */

/* Prefixes err with "module INSTANCE: " unless the message already names it. */
static caf_status blame(caf_module_context *m, const char *hook, caf_status st, caf_error *err)
{
    if (err && !strstr(err->message, m->entry->instance))
        caf_error_prefix(err, "module %s (%s): ", m->entry->instance, hook);
    return st;
}

static caf_status load_module(caf_engine *e, caf_module_context *m, caf_error *err)
{
    const caf_path_module *entry = m->entry;
    caf_status st = caf_module_plugin_load(&m->plugin, entry->module, err);
    if (st != CAF_OK)
        return entry->where ? caf_error_prefix(err, "%s: ", entry->where) : st;
    m->d = m->plugin.descriptor;
    caf_param_node *given = calloc(entry->param_count ? entry->param_count : 1, sizeof *given);
    if (!given)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < entry->param_count; i++)
        given[i] = (caf_param_node){entry->params[i].name, entry->params[i].doc, entry->params[i].node,
                                    entry->params[i].key_line ? e->set->file : NULL, entry->params[i].key_line,
                                    entry->params[i].key_column};
    st = caf_params_parse_nodes(entry->module, entry->where, m->d->params, given, entry->param_count, &m->params, err);
    free(given);
    return st;
}

static void terminate_all(caf_engine *e, bool success, caf_status *st, caf_error *err)
{
    for (size_t i = 0; i < e->n_modules; i++) {
        caf_module_context *m = &e->modules[i];
        if (!m->initialized || m->terminated)
            continue;
        m->terminated = true;
        if (!m->d->terminate)
            continue;
        caf_error local = {0};
        caf_status s = m->d->terminate(m, m->state, success, &local);
        if (s != CAF_OK) {
            blame(m, "terminate", s, &local);
            if (*st == CAF_OK && err) {
                *err = local;
                *st = s;
            } else if (*st == CAF_OK) {
                *st = s;
            } else {
                caf_log_error("%s", local.message);
            }
        }
    }
}

caf_status caf_engine_open(caf_engine **out, const caf_path_set *paths, const caf_engine_options *options,
                           caf_error *err)
{
    *out = NULL;
    caf_engine *e = calloc(1, sizeof *e);
    if (!e)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    e->set = paths;
    e->options = *options;
    for (size_t p = 0; p < paths->count; p++)
        e->n_modules += paths->paths[p].count;
    e->modules = calloc(e->n_modules ? e->n_modules : 1, sizeof *e->modules);
    e->path_first = calloc(paths->count ? paths->count : 1, sizeof *e->path_first);
    caf_status st = (e->modules && e->path_first) ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st == CAF_OK && paths->main_index < 0)
        st = caf_error_set(err, CAF_ERR_STATE, "the path set was not validated (no main path)");
    size_t k = 0;
    for (size_t p = 0; st == CAF_OK && p < paths->count; p++) {
        e->path_first[p] = k;
        for (size_t i = 0; i < paths->paths[p].count; i++, k++) {
            e->modules[k].engine = e;
            e->modules[k].entry = &paths->paths[p].modules[i];
        }
    }
    for (size_t i = 0; st == CAF_OK && i < e->n_modules; i++)
        st = load_module(e, &e->modules[i], err);
    e->bulk = st == CAF_OK;
    for (size_t i = 0; st == CAF_OK && i < paths->paths[paths->main_index].count; i++)
        if (paths->paths[paths->main_index].modules[i].condition_count)
            e->bulk = false;
    for (size_t i = 0; st == CAF_OK && i < e->n_modules; i++) {
        caf_module_context *m = &e->modules[i];
        caf_random_seed_for_run(&m->rng, e->options.seed, m->entry->instance, (caf_exprun){-1, -1});
        if (m->d->initialize)
            st = m->d->initialize(m, &m->state, err);
        if (st == CAF_OK)
            m->initialized = true;
        else
            blame(m, "initialize", st, err);
    }
    if (st != CAF_OK) {
        terminate_all(e, false, &st, NULL);
        caf_engine_close(e);
        return st;
    }
    *out = e;
    return CAF_OK;
}

void caf_engine_close(caf_engine *e)
{
    if (!e)
        return;
    caf_status st = CAF_OK;
    terminate_all(e, false, &st, NULL);
    caf_event_reader_close(e->reader);
    for (size_t i = 0; i < e->n_modules; i++) {
        caf_params_free(e->modules[i].params);
        caf_module_plugin_unload(&e->modules[i].plugin);
    }
    for (size_t i = 0; i < e->n_select; i++)
        free(e->select[i]);
    free(e->select);
    free(e->select_by);
    free(e->modules);
    free(e->path_first);
    free(e);
}

caf_engine_stats caf_engine_get_stats(const caf_engine *engine)
{
    return engine->stats;
}

/* ---- Running ---- */

/* Calls the module's event hook, or its bulk hook for one event. */
static caf_status call_event(caf_module_context *m, const caf_event *ev, caf_error *err)
{
    caf_status st = CAF_OK;
    if (m->d->event)
        st = m->d->event(m, m->state, ev, err);
    else if (m->d->events)
        st = m->d->events(m, m->state, ev->batch, ev->row, 1, ev->exprun, err);
    return st == CAF_OK ? CAF_OK : blame(m, "event", st, err);
}

/* Sends rows first .. first+count-1 (of run) through the main path module by module; only for paths
 * without conditions, where no module can keep an event from the next. */
static caf_status run_stretch(caf_engine *e, const caf_event_batch *batch, size_t first, size_t count,
                              caf_exprun run, caf_error *err)
{
    const caf_path *path = &e->set->paths[e->set->main_index];
    for (size_t i = 0; i < path->count; i++) {
        caf_module_context *m = &e->modules[e->path_first[e->set->main_index] + i];
        if (m->d->events) {
            caf_status st = m->d->events(m, m->state, batch, first, count, run, err);
            if (st != CAF_OK)
                return blame(m, "event", st, err);
            continue;
        }
        for (size_t r = first; r < first + count && m->d->event; r++) {
            caf_event ev = {run, e->read_event && batch->event ? (int64_t)batch->event[r] : -1, batch, r};
            caf_status st = call_event(m, &ev, err);
            if (st != CAF_OK)
                return st;
        }
    }
    return CAF_OK;
}

/* Sends ev through path p. *end becomes true when a condition ended the event's processing. */
static caf_status run_path(caf_engine *e, size_t p, const caf_event *ev, bool *end, caf_error *err)
{
    const caf_path *path = &e->set->paths[p];
    for (size_t i = 0; i < path->count; i++) {
        caf_module_context *m = &e->modules[e->path_first[p] + i];
        m->has_return_value = false;
        caf_status st = call_event(m, ev, err);
        if (st != CAF_OK)
            return st;
        const caf_path_module *entry = m->entry;
        if (!entry->condition_count)
            continue;
        if (!m->has_return_value)
            return caf_error_set(err, CAF_ERR_STATE,
                                 "%s%smodule %s has conditions but set no return value for event %lld of run %d.%d",
                                 entry->where ? entry->where : "", entry->where ? ": " : "", entry->instance,
                                 (long long)ev->event, ev->exprun.exp, ev->exprun.run);
        for (size_t c = 0; c < entry->condition_count; c++) {
            const caf_path_condition *cond = &entry->conditions[c];
            if (!caf_condition_holds(cond->op, cond->value, m->return_value))
                continue;
            if (cond->target_index >= 0) {
                caf_status st = run_path(e, (size_t)cond->target_index, ev, end, err);
                if (st != CAF_OK || *end)
                    return st;
            }
            if (cond->after == CAF_AFTER_END) {
                *end = true;
                return CAF_OK;
            }
            break; /* the first condition that holds decides, as in basf2 */
        }
    }
    return CAF_OK;
}

static caf_status for_each_module(caf_engine *e, const char *hook, caf_status (*call)(caf_module_context *, void *),
                                  void *arg, caf_error *err)
{
    for (size_t i = 0; i < e->n_modules; i++) {
        caf_status st = call(&e->modules[i], arg);
        if (st != CAF_OK)
            return blame(&e->modules[i], hook, st, err);
    }
    return CAF_OK;
}

struct hook_arg {
    caf_exprun run;
    const caf_event_batch *batch;
    caf_error *err;
};

static caf_status call_begin_run(caf_module_context *m, void *a)
{
    struct hook_arg *arg = a;
    caf_random_seed_for_run(&m->rng, m->engine->options.seed, m->entry->instance, arg->run);
    return m->d->begin_run ? m->d->begin_run(m, m->state, arg->run, arg->err) : CAF_OK;
}

static caf_status call_end_run(caf_module_context *m, void *a)
{
    struct hook_arg *arg = a;
    return m->d->end_run ? m->d->end_run(m, m->state, arg->run, arg->err) : CAF_OK;
}

static caf_status call_end_batch(caf_module_context *m, void *a)
{
    struct hook_arg *arg = a;
    return m->d->end_batch ? m->d->end_batch(m, m->state, arg->batch, arg->err) : CAF_OK;
}

static caf_status call_begin_file(caf_module_context *m, void *a)
{
    struct hook_arg *arg = a;
    return m->d->begin_file ? m->d->begin_file(m, m->state, m->engine->reader, arg->err) : CAF_OK;
}

/* Calls end_run for the current run (if any) and begin_run for run when they differ. */
static caf_status switch_run(caf_engine *e, caf_exprun run, bool *in_run, caf_exprun *current, caf_error *err)
{
    if (*in_run && current->exp == run.exp && current->run == run.run)
        return CAF_OK;
    struct hook_arg arg = {.run = *current, .err = err};
    caf_status st = *in_run ? for_each_module(e, "end_run", call_end_run, &arg, err) : CAF_OK;
    if (st != CAF_OK)
        return st;
    *current = run;
    *in_run = true;
    e->stats.runs++;
    arg.run = run;
    return for_each_module(e, "begin_run", call_begin_run, &arg, err);
}

/* Opens file reading what the modules asked for: run boundaries come with every batch (its segments),
 * so a path that reads one column reads one column. */
static caf_status open_reader(caf_engine *e, const char *file, caf_error *err)
{
    caf_event_reader_options ro = {.batch_size = e->options.batch_size ? e->options.batch_size : CAF_ENGINE_DEFAULT_BATCH,
                                   .select = e->read_all ? NULL : (const char *const *)e->select,
                                   .n_select = e->read_all ? 0 : e->n_select};
    caf_status st = caf_event_reader_open(&e->reader, file, &ro, err);
    for (size_t i = 0; st == CAF_ERR_NOT_FOUND && err && i < e->n_select; i++) {
        char quoted[300];
        snprintf(quoted, sizeof quoted, "'%s'", e->select[i]);
        if (strstr(err->message, quoted))
            return caf_error_prefix(err, "module %s: ", e->select_by[i]); /* who needs what the file lacks */
    }
    return st;
}

/* Streams one file through the main path; *in_run / *current carry the run across files. */
static caf_status run_file(caf_engine *e, const char *file, bool *in_run, caf_exprun *current, bool *done,
                           caf_error *err)
{
    caf_status st = open_reader(e, file, err);
    if (st != CAF_OK)
        return st;
    e->current_file = file;
    e->stats.files++;
    struct hook_arg arg = {.err = err};
    st = for_each_module(e, "begin_file", call_begin_file, &arg, err);
    const caf_event_batch *batch = NULL;
    while (st == CAF_OK && !*done && (st = caf_event_reader_next(e->reader, &batch, err)) == CAF_OK && batch) {
        for (size_t g = 0; g < batch->n_segments && st == CAF_OK && !*done; g++) {
            /* a stretch of events of one run */
            const caf_run_segment *seg = &batch->segments[g];
            caf_exprun run = {seg->exp, seg->run};
            size_t i = seg->begin, end = seg->end;
            if (e->options.max_events > 0 && (int64_t)(end - i) >= e->options.max_events - e->stats.events) {
                end = i + (size_t)(e->options.max_events - e->stats.events);
                *done = true;
            }
            if ((st = switch_run(e, run, in_run, current, err)) != CAF_OK)
                break;
            if (e->bulk) {
                st = run_stretch(e, batch, i, end - i, run, err);
            } else {
                for (size_t r = i; r < end && st == CAF_OK; r++) {
                    caf_event ev = {run, e->read_event && batch->event ? (int64_t)batch->event[r] : -1, batch, r};
                    bool stop = false;
                    st = run_path(e, (size_t)e->set->main_index, &ev, &stop, err);
                }
            }
            e->stats.events += (int64_t)(end - i);
        }
        if (st == CAF_OK) {
            arg.batch = batch;
            st = for_each_module(e, "end_batch", call_end_batch, &arg, err);
        }
    }
    if (st != CAF_OK && err && !strstr(err->message, file))
        caf_error_prefix(err, "%s: ", file);
    return st;
}

caf_status caf_engine_run(caf_engine *e, caf_error *err)
{
    if (e->ran)
        return caf_error_set(err, CAF_ERR_STATE, "the engine already ran");
    e->ran = true;
    caf_status st = CAF_OK;
    bool in_run = false, done = false;
    caf_exprun current = {-1, -1};
    for (size_t f = 0; st == CAF_OK && !done && f < e->options.n_inputs; f++) {
        caf_event_reader_close(e->reader);
        e->reader = NULL;
        st = run_file(e, e->options.inputs[f], &in_run, &current, &done, err);
    }
    if (st == CAF_OK && in_run) {
        struct hook_arg arg = {.run = current, .err = err};
        st = for_each_module(e, "end_run", call_end_run, &arg, err);
    }
    e->current_file = NULL;
    terminate_all(e, st == CAF_OK, &st, err);
    caf_event_reader_close(e->reader);
    e->reader = NULL;
    return st;
}
