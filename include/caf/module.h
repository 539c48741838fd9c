/* Modules: the units of work the engine runs on each event, written as plugins.
 *
 * A module plugin is a shared object NAME.so on the plugin path (caf/plugin.h) that exports
 *
 *     const caf_module_descriptor *caf_module_plugin_v1(void);
 *
 * returning a static descriptor: the module's name (equal to NAME), a description, its parameters and
 * its lifecycle hooks. The engine calls initialize once, begin_run / end_run around every stretch of
 * events of one (experiment, run), event for every event that reaches the module, and terminate once at
 * the end (also after a failure, so the module can release what it holds and discard half-done output).
 * begin_file and end_batch tell it when the input file and the reader's batch change.
 * Every hook returns a caf_status and fills err with one line; a non-OK status stops the whole process.
 *
 * A module may set an integer return value per event (caf_module_set_return_value); conditions in the
 * path (caf/path.h) compare it and route the event, as basf2's if_value does. docs/modules.md is the
 * user guide. */
#ifndef CAF_MODULE_H
#define CAF_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/event_file.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The entry point every module plugin exports, and the descriptor version it returns. */
#define CAF_MODULE_ENTRY_SYMBOL "caf_module_plugin_v1"
#define CAF_MODULE_ABI_VERSION 1

/* ---- Parameters ---- */

typedef enum caf_param_type {
    CAF_PARAM_INT,           /* 64-bit integer: 3, -1 */
    CAF_PARAM_DOUBLE,        /* number: 0.25, 1e-3, 2 */
    CAF_PARAM_STRING,        /* any scalar */
    CAF_PARAM_BOOL,          /* true/false (also yes/no, on/off) */
    CAF_PARAM_INT_LIST,      /* [1, 2, 3] */
    CAF_PARAM_DOUBLE_LIST,   /* [0.5, 1.5] */
    CAF_PARAM_STRING_LIST,   /* [a, b] */
    CAF_PARAM_NAME_INT_LIST, /* items are a name or a [name, int] pair, mixed: [mumu, [bhabha, 10]] */
} caf_param_type;

/* How a parameter gets its value when the path does not give one. */
typedef enum caf_param_presence {
    CAF_PARAM_DEFAULTED = 0, /* default_yaml is used */
    CAF_PARAM_REQUIRED,      /* the path must set it */
    CAF_PARAM_OPTIONAL,      /* may stay unset; caf_params_has tells */
} caf_param_presence;

/* One declared parameter. A module's list ends with an entry whose name is NULL. */
typedef struct caf_param_spec {
    const char *name;
    caf_param_type type;
    caf_param_presence presence;
    const char *default_yaml; /* the default in YAML flow syntax ("1", "or", "[]"), for DEFAULTED */
    const char *description;  /* one line, shown by `caf modules NAME` */
} caf_param_spec;

/* An item of a CAF_PARAM_NAME_INT_LIST: the name, and the number when the item was a pair. */
typedef struct caf_param_name_int {
    const char *name;
    bool has_number;
    int64_t number;
} caf_param_name_int;

/* A parameter's value. Scalars use the matching field; lists use count and the matching array. */
typedef struct caf_param_value {
    caf_param_type type;
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t count;
    const int64_t *ints;
    const double *doubles;
    const char *const *strings;
    const caf_param_name_int *name_ints;
} caf_param_value;

/* The parameter values of one module instance (owned by the engine). */
typedef struct caf_params caf_params;

/* Returns the value of parameter name, or NULL when it is unset (OPTIONAL) or not declared. The value
 * belongs to params. */
const caf_param_value *caf_params_get(const caf_params *params, const char *name);

/* True if parameter name has a value (given or defaulted). */
bool caf_params_has(const caf_params *params, const char *name);

/* The value of int parameter name, or fallback when it is unset or of another type. */
int64_t caf_params_int(const caf_params *params, const char *name, int64_t fallback);

/* The value of double parameter name, or fallback when it is unset or of another type. */
double caf_params_double(const caf_params *params, const char *name, double fallback);

/* The value of bool parameter name, or fallback when it is unset or of another type. */
bool caf_params_bool(const caf_params *params, const char *name, bool fallback);

/* The value of string parameter name (owned by params), or fallback when unset or of another type. */
const char *caf_params_string(const caf_params *params, const char *name, const char *fallback);

/* Returns the static name of a type ("int", "list of name or [name, int]", ...). */
const char *caf_param_type_name(caf_param_type type);

/* Parses spec's values from count (name, YAML text) pairs, e.g. ("triggerLines", "[mumu, [bhabha, 10]]"),
 * adding defaults. Unknown names, ill-typed values and missing required parameters fail with
 * CAF_ERR_INVALID and a message naming module and parameter. *out is caller-owned (caf_params_free). */
caf_status caf_params_parse(const char *module, const caf_param_spec *spec, size_t count,
                            const char *const *names, const char *const *yaml_values, caf_params **out,
                            caf_error *err);

/* Frees params (NULL is fine). */
void caf_params_free(caf_params *params);

/* ---- Random numbers ---- */

/* A reproducible generator (xoshiro256**). The engine gives each module instance its own, reseeded at
 * every begin_run from (process seed, instance name, experiment, run), so a run's draws do not depend
 * on which other runs or files the job processes. */
typedef struct caf_random {
    uint64_t s[4];
} caf_random;

/* Seeds r from a 64-bit seed (any value, 0 included). */
void caf_random_seed(caf_random *r, uint64_t seed);

/* Seeds r from a seed, a label and a run: the per-run stream of a module instance. */
void caf_random_seed_for_run(caf_random *r, uint64_t seed, const char *label, caf_exprun run);

/* Next 64 random bits. */
uint64_t caf_random_next(caf_random *r);

/* A uniform integer in [0, n-1] without modulo bias (n >= 1). */
uint64_t caf_random_below(caf_random *r, uint64_t n);

/* A uniform double in [0, 1). */
double caf_random_uniform(caf_random *r);

/* ---- Events seen by modules ---- */

/* The current event: its identity, and where it sits in the reader's batch. Column data are read
 * through the batch (caf/event_file.h) at index row, without copies. Valid only during the event call. */
typedef struct caf_event {
    caf_exprun exprun;
    int64_t event;                /* event number; -1 unless some module required "event" */
    const caf_event_batch *batch; /* the batch holding the event */
    size_t row;                   /* index of the event in the batch */
} caf_event;

/* ---- What the engine offers a module ---- */

typedef struct caf_module_context caf_module_context;

/* The instance name (the path's `name:`, else the module name); owned by the engine. */
const char *caf_module_instance_name(const caf_module_context *ctx);

/* The instance's parameter values. */
const caf_params *caf_module_params(const caf_module_context *ctx);

/* The instance's random generator (reseeded at each begin_run). */
caf_random *caf_module_random(caf_module_context *ctx);

/* The process seed (`caf process --seed`). */
uint64_t caf_module_seed(const caf_module_context *ctx);

/* Sets this event's return value (conditions in the path compare it). */
void caf_module_set_return_value(caf_module_context *ctx, int64_t value);

/* The input files of the process, in order (count in *count); owned by the engine. */
const char *const *caf_module_input_files(const caf_module_context *ctx, size_t *count);

/* The file the current event comes from (NULL outside begin_run/event/end_run). */
const char *caf_module_current_file(const caf_module_context *ctx);

/* The reader of the current input file (metadata and schema); NULL before the first file. */
const caf_event_reader *caf_module_current_reader(const caf_module_context *ctx);

/* Asks the engine to read what (a schema column, an array, "array/field", "event", "trigger", or "*"
 * for everything); call from initialize. The engine reads exp and run always, and only what some
 * module asked for besides, so a path reads no more than it uses. */
caf_status caf_module_require(caf_module_context *ctx, const char *what, caf_error *err);

/* ---- The descriptor a plugin returns ---- */

typedef struct caf_module_descriptor {
    uint32_t abi_version;        /* CAF_MODULE_ABI_VERSION */
    const char *name;            /* equal to the plugin file name without .so */
    const char *description;     /* a paragraph for `caf modules NAME` */
    const caf_param_spec *params; /* terminated by an entry with name NULL; may be NULL */
    /* Each hook may be NULL. initialize allocates the instance state into *state; when it fails it
     * must keep nothing, as terminate is then not called. */
    caf_status (*initialize)(caf_module_context *ctx, void **state, caf_error *err);
    /* A new input file was opened: look up column indices in its schema here. */
    caf_status (*begin_file)(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err);
    caf_status (*begin_run)(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err);
    caf_status (*event)(caf_module_context *ctx, void *state, const caf_event *event, caf_error *err);
    /* Optional bulk form of event: rows first .. first+count-1 of batch, all of run `run`, reached the
     * module. The engine uses it when no condition in the main path can divert events (then modules
     * see a stretch one after the other, not event by event); a module with only `event` gets a loop,
     * one with only `events` gets count 1. Return values are not used in that case. */
    caf_status (*events)(caf_module_context *ctx, void *state, const caf_event_batch *batch, size_t first,
                         size_t count, caf_exprun run, caf_error *err);
    /* The engine is done with a batch (called before the reader reuses its buffers, for every module,
     * whether or not events of the batch reached it): the place to flush rows kept from it. */
    caf_status (*end_batch)(caf_module_context *ctx, void *state, const caf_event_batch *batch, caf_error *err);
    caf_status (*end_run)(caf_module_context *ctx, void *state, caf_exprun run, caf_error *err);
    /* Called once after a successful initialize; success is false when processing failed, and the
     * module must then discard (not publish) its output. Frees state. */
    caf_status (*terminate)(caf_module_context *ctx, void *state, bool success, caf_error *err);
    const void *extension; /* reserved for module kinds with more hooks (collectors); NULL */
} caf_module_descriptor;

/* The type of the entry point. */
typedef const caf_module_descriptor *(*caf_module_entry_fn)(void);

/* A module plugin loaded and checked (name, ABI version, parameter list). */
typedef struct caf_module_plugin {
    void *handle;                            /* dlopen handle */
    char *path;                              /* owned */
    const caf_module_descriptor *descriptor; /* owned by the plugin */
} caf_module_plugin;

/* Finds module NAME on the plugin path, loads it, calls its entry point and checks the descriptor.
 * Fails with CAF_ERR_NOT_FOUND (no such plugin) or CAF_ERR_PLUGIN (no entry point, wrong ABI, name
 * mismatch, bad parameter list), with a message naming the module and file. */
caf_status caf_module_plugin_load(caf_module_plugin *plugin, const char *name, caf_error *err);

/* Unloads the plugin (safe on a zeroed one). */
void caf_module_plugin_unload(caf_module_plugin *plugin);

#ifdef __cplusplus
}
#endif
#endif
