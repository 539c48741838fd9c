/* The algorithm instance's data, shared by the files of src/algorithm; not public. */
#ifndef CAF_ALGORITHM_INTERNAL_H
#define CAF_ALGORITHM_INTERNAL_H

#include "caf/algorithm.h"
#include "caf/algorithm_instance.h"
#include "caf/collector_output.h"
#include "caf/dbchain.h"
#include "caf/plugin.h"
#include "caf/side_files.h"

/* Copies the descriptor a plugin provides into *out as this caf's version: the fields of d's abi_version,
 * the later ones zero. An unknown version is CAF_ERR_PLUGIN naming where. */
caf_status caf_algorithm_descriptor_upgrade(const caf_algorithm_descriptor *d, const char *where,
                                            caf_algorithm_descriptor *out, caf_error *err);

/* caf_algorithm_open for a plugin that is already loaded (the execution zygote's, inherited by its child):
 * no search on the plugin path and no dlopen. The instance does not keep loaded open. */
caf_status caf_algo_open_loaded(const caf_plugin *loaded, const char *plugin, const char *name, caf_algorithm **out,
                                caf_error *err);

struct caf_algo_context {
    caf_algorithm *alg;
};

/* A merged object kept for the rest of the execution, keyed by name and sorted run set. */
typedef struct caf_algo_cache_entry {
    char *name;
    char *collection; /* NULL: merged over every collection */
    caf_exprun *runs;
    size_t run_count;
    caf_object *object;
} caf_algo_cache_entry;

struct caf_algorithm {
    caf_algo_context ctx; /* ctx.alg points back here */
    char *full_name;      /* "PLUGIN:ALGORITHM" */
    caf_plugin plugin;
    const caf_algorithm_descriptor *d; /* &desc */
    caf_algorithm_descriptor desc;     /* the plugin's descriptor, later hooks of an older version unset */
    caf_params *params;
    char *collector;

    /* inputs */
    char **input_paths;
    char **input_collections; /* the collection each input belongs to (NULL entries: none named) */
    caf_collector_output **inputs;
    size_t input_count;
    caf_run_range collected; /* its granularity set at open; the runs once collected_loaded */
    bool collected_loaded;   /* the inputs' RunRanges are read on first use: O(runs) per execution otherwise */
    char **chain_paths; /* the database chain, opened into chain on the first payload read: the iteration's
                           own output database grows with every commit, and most executions read nothing */
    size_t chain_count;
    caf_dbchain *chain;
    json_t *input_state;

    /* the current (or last) execution */
    bool executing; /* data access is allowed */
    caf_exprun *runs;
    size_t run_count;
    int iteration;
    caf_iov iov;
    caf_algo_result result;
    char message[CAF_ERROR_MESSAGE_MAX];
    caf_algo_payload *payloads;
    size_t payload_count;
    size_t payload_capacity;
    json_t *output_state;
    caf_algo_cache_entry *cache;
    size_t cache_count;
    size_t cache_capacity;
    size_t merges;

    /* side files: each input's manifest, read on first use, and the lists handed out this execution */
    bool side_files_read;
    caf_side_files_job **side_jobs; /* per input */
    size_t *side_job_counts;
    caf_algo_side_files **side_answers;
    size_t side_answer_count;
    size_t side_answer_capacity;

    /* boundary finding */
    caf_exprun *boundaries;
    size_t boundary_count;
    size_t boundary_capacity;
};

/* alg->collected with every input's runs, read now if not yet. */
caf_status caf_algo_load_collected(caf_algorithm *alg, caf_error *err);

/* Whether some input collected run (*was), without reading whole RunRanges when they are not read yet. */
caf_status caf_algo_was_collected(caf_algorithm *alg, caf_exprun run, bool *was, caf_error *err);

/* CAF_ERR_NOT_FOUND: no input belongs to collection, naming the collections there are. */
caf_status caf_algo_unknown_collection(const caf_algorithm *alg, const char *collection, caf_error *err);

/* Frees the side-file lists handed out during the execution. */
void caf_algo_side_answers_clear(caf_algorithm *alg);

/* Forgets the inputs' side-file manifests (with the lists handed out). */
void caf_algo_side_files_close(caf_algorithm *alg);

/* Clears the per-execution data (runs, result, payloads, output state, cache). */
void caf_algo_reset_execution(caf_algorithm *alg);

/* Closes the input files and forgets the collected runs. */
void caf_algo_close_inputs(caf_algorithm *alg);
/* Opens the database chain set by caf_algorithm_set_chain, once (no-op when open or empty). */
caf_status caf_algo_open_chain(caf_algorithm *alg, caf_error *err);
/* Closes the chain and forgets its paths. */
void caf_algo_forget_chain(caf_algorithm *alg);

/* Empties the merged-object cache. */
void caf_algo_cache_clear(caf_algorithm *alg);

/* Fails with CAF_ERR_STATE naming the algorithm and what when no execution is in progress. */
caf_status caf_algo_require_execution(const caf_algorithm *alg, const char *what, caf_error *err);

/* Makes room for needed items of item_size bytes in *items (realloc'd, doubling *capacity). */
caf_status caf_algo_reserve(void **items, size_t *capacity, size_t needed, size_t item_size, caf_error *err);

/* Copies runs, sorts them and drops duplicates (*out malloc'd, caller frees; NULL when count is 0). */
caf_status caf_algo_sorted_runs(const caf_exprun *runs, size_t count, caf_exprun **out, size_t *out_count,
                                caf_error *err);

#endif
