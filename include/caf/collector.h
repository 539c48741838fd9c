/* Collectors: module plugins that fill per-run summary objects (caf/collected.h) from events and write
 * them to a collector output file (caf/collector_output.h) that algorithms read.
 *
 * A collector plugin describes itself with a caf_collector_descriptor and exports it with
 * CAF_COLLECTOR_PLUGIN(descriptor); it is then an ordinary module plugin that any path can run
 * (`caf process`). The plugin writes only hooks:
 *   prepare    once at start: register objects by name from templates (caf_collector_register), ask
 *              for the event columns it reads (caf_collector_require), allocate its state;
 *   start_run  at each (exp, run) the job enters;
 *   collect    for each event that passes the gates below; fill objects got by name
 *              (caf_collector_object) for the current run (optionally also collect_events, the same
 *              for a stretch of events, which the engine uses when it can);
 *   close_run  at the end of each stretch of a run, before its objects are written;
 *   finish     once at the end; free the state.
 * The framework owns the rest: it adds the parameters every collector takes,
 *   granularity      "run" (default): objects per (exp, run); "all": one set for the job, key (-1, -1);
 *                    anything else is an error naming the collector;
 *   preScale         fraction of events passed to collect (1 = all, 0 = none; drawn from the engine's
 *                    seeded per-run random generator, so a job is reproducible);
 *   maxEventsPerRun  at most this many events of each (exp, run) reach collect, counted over the whole
 *                    job (a run visited again continues its count); -1 = no limit;
 *   outputFileName   the collector output file (default CollectorOutput_<instance>.sqlite);
 * creates each run's objects from the templates on first use, writes them to the output and frees them
 * when the run ends (granularity "run"), so memory does not grow with the number of runs, records the
 * runs whose events reached collect, and renames the output into place only when the job succeeds.
 * docs/collector-format.md describes the output; docs/ARCHITECTURE.md has a complete example. */
#ifndef CAF_COLLECTOR_H
#define CAF_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/collected.h"
#include "caf/error.h"
#include "caf/iov.h"
#include "caf/module.h"
#include "caf/run_range.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_COLLECTOR_ABI_VERSION 1

/* Most parameters a collector may declare besides the framework's four. */
#define CAF_COLLECTOR_MAX_PARAMS 60

/* The framework's side of one collector instance, handed to every hook. */
typedef struct caf_collector caf_collector;

typedef struct caf_collector_descriptor {
    uint32_t abi_version;          /* CAF_COLLECTOR_ABI_VERSION */
    const char *name;              /* equal to the plugin file name without .so */
    const char *description;       /* a paragraph for `caf modules NAME` */
    const caf_param_spec *params;  /* the collector's own parameters, NULL-name terminated; may be NULL */
    const caf_user_type *user_types; /* user object types it fills, registered while it runs; may be NULL */
    size_t n_user_types;
    /* Hooks; each may be NULL except collect. prepare allocates the state into *state. */
    caf_status (*prepare)(caf_collector *c, void **state, caf_error *err);
    caf_status (*begin_file)(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err);
    caf_status (*start_run)(caf_collector *c, void *state, caf_exprun run, caf_error *err);
    caf_status (*collect)(caf_collector *c, void *state, const caf_event *event, caf_error *err);
    caf_status (*close_run)(caf_collector *c, void *state, caf_exprun run, caf_error *err);
    /* success is false when the job failed (the output is then discarded). Frees state. Also called
     * when prepare failed after setting *state, so it must cope with a half-prepared state. */
    caf_status (*finish)(caf_collector *c, void *state, bool success, caf_error *err);
    /* Optional bulk form of collect: rows first .. first+count-1 of batch, all of run `run`, all past the
     * gates. Used when the engine hands the module stretches of events (no condition in the path can
     * divert them); collect is still called in event-by-event mode, so both must do the same. */
    caf_status (*collect_events)(caf_collector *c, void *state, const caf_event_batch *batch, size_t first,
                                 size_t count, caf_exprun run, caf_error *err);
} caf_collector_descriptor;

/* Registers tmpl as the template of object name (letters, digits, '_', '-', '.'); only in prepare. The
 * collector takes ownership of tmpl in every case (it is freed on failure). The template is never filled
 * or written; each key gets an empty clone. A name registered twice is CAF_ERR_EXISTS naming the
 * collector and object. */
caf_status caf_collector_register(caf_collector *c, const char *name, caf_object *tmpl, caf_error *err);

/* The live object name for the current key (the run, or (-1, -1) with granularity "all"), created from
 * its template on first use; owned by the collector, valid until the run ends. Call from start_run,
 * collect or close_run. An unregistered name is CAF_ERR_NOT_FOUND naming the collector and object. */
caf_status caf_collector_get(caf_collector *c, const char *name, caf_object **out, caf_error *err);

/* Like caf_collector_get for collect's hot path: returns the object, or NULL (and logs an error naming
 * the collector and object) when name is not registered or it is not called during a run. */
caf_object *caf_collector_object(caf_collector *c, const char *name);

/* Asks the engine to read what (a column, "array/field", "trigger", ...); call from prepare. */
caf_status caf_collector_require(caf_collector *c, const char *what, caf_error *err);

/* The instance name (the prefix algorithms use), owned by the engine. */
const char *caf_collector_name(const caf_collector *c);

/* The instance's parameter values (the collector's own and the framework's). */
const caf_params *caf_collector_params(const caf_collector *c);

/* The engine context of the module (random generator, input files, ...). */
caf_module_context *caf_collector_context(caf_collector *c);

/* The granularity in force. */
caf_granularity caf_collector_granularity(const caf_collector *c);

/* The current (exp, run). */
caf_exprun caf_collector_run(const caf_collector *c);

/* The key the current run's objects are filed under: the run, or (-1, -1) with granularity "all". */
caf_exprun caf_collector_key(const caf_collector *c);

/* The path of the output file this collector writes (owned by the collector). */
const char *caf_collector_output_file(const caf_collector *c);

/* ---- Plumbing used by CAF_COLLECTOR_PLUGIN ---- */

/* The module initialize hook of collector desc. */
caf_status caf_collector_module_initialize(const caf_collector_descriptor *desc, caf_module_context *ctx,
                                           void **state, caf_error *err);

/* Fills *md (static storage in the plugin) so that the engine runs desc as a module: its parameters
 * (written into params, room for max entries) are the framework's plus desc's, its hooks are the
 * framework's, its extension points to desc. Returns md, or NULL (logging why) when desc is malformed. */
const caf_module_descriptor *caf_collector_module_descriptor(
    const caf_collector_descriptor *desc, caf_module_descriptor *md, caf_param_spec *params, size_t max,
    caf_status (*initialize)(caf_module_context *ctx, void **state, caf_error *err));

/* Makes a collector plugin of desc (a caf_collector_descriptor variable): defines the module entry point. */
#define CAF_COLLECTOR_PLUGIN(desc)                                                                               \
    static caf_status caf_collector_initialize_##desc(caf_module_context *ctx, void **state, caf_error *err)    \
    {                                                                                                            \
        return caf_collector_module_initialize(&(desc), ctx, state, err);                                       \
    }                                                                                                            \
    const caf_module_descriptor *caf_module_plugin_v1(void);                                                     \
    const caf_module_descriptor *caf_module_plugin_v1(void)                                                      \
    {                                                                                                            \
        static caf_module_descriptor md;                                                                         \
        static caf_param_spec params[CAF_COLLECTOR_MAX_PARAMS + 5];                                              \
        return caf_collector_module_descriptor(&(desc), &md, params, CAF_COLLECTOR_MAX_PARAMS + 5,              \
                                               caf_collector_initialize_##desc);                                 \
    }

#ifdef __cplusplus
}
#endif
#endif
