/* The engine: runs a path set (caf/path.h) over event files. It loads the module plugins, checks and
 * parses their parameters, calls initialize, streams the files' events in batches through the main path
 * (calling begin_file, begin_run/end_run at every change of (exp, run), event, end_batch), follows the
 * modules' conditions, and calls terminate. `caf process` is a thin layer over it; collector jobs use
 * it too. */
#ifndef CAF_ENGINE_H
#define CAF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/path.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Events per batch unless the options say otherwise: large enough that per-batch costs vanish
 * against per-event work, small enough that a batch of full events stays in a few MB. */
#define CAF_ENGINE_DEFAULT_BATCH 16384

typedef struct caf_engine_options {
    const char *const *inputs; /* event files, processed in this order */
    size_t n_inputs;
    int64_t max_events; /* stop after this many events; <= 0 = all */
    uint64_t seed;      /* the process seed the modules' random generators derive from */
    size_t batch_size;  /* events per reader batch; 0 = CAF_ENGINE_DEFAULT_BATCH */
} caf_engine_options;

/* Counts kept while running. */
typedef struct caf_engine_stats {
    int64_t events;  /* events that entered the main path */
    size_t files;    /* input files opened */
    size_t runs;     /* begin_run calls (a run re-entered later counts again) */
} caf_engine_stats;

typedef struct caf_engine caf_engine;

/* Loads every module of paths, parses its parameters and initializes it. paths must be validated
 * (caf_path_set_load does it; call caf_path_set_validate after building or changing conditions in
 * code); paths and options (with the input names) must outlive the engine. On failure nothing stays loaded, and the message names the
 * module (and FILE:LINE:COLUMN when the path came from a file). Close with caf_engine_close. */
caf_status caf_engine_open(caf_engine **out, const caf_path_set *paths, const caf_engine_options *options,
                           caf_error *err);

/* Processes the inputs and terminates the modules (success true). On failure the modules are
 * terminated with success false, so none publishes output. Call at most once. */
caf_status caf_engine_run(caf_engine *engine, caf_error *err);

/* The counts so far. */
caf_engine_stats caf_engine_get_stats(const caf_engine *engine);

/* Terminates modules not yet terminated (success false), unloads plugins and frees the engine. */
void caf_engine_close(caf_engine *engine);

#ifdef __cplusplus
}
#endif
#endif
