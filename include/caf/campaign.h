/* A campaign: global settings plus the calibrations to run, each with its collector, pre-collector path,
 * algorithms and strategies, input files and limits, database chain and dependencies. The same model is
 * built by the YAML loader (docs/configuration.md lists every key) or directly through the C API below, and
 * one validator checks it either way, listing every problem found, each with FILE:LINE:COLUMN when the
 * campaign came from a file. */
#ifndef CAF_CAMPAIGN_H
#define CAF_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "caf/error.h"
#include "caf/iov.h"
#include "caf/run_range.h"
#include "caf/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a value was written: 1-based line and column in the campaign file; 0, 0 when built in C. */
typedef struct caf_mark {
    int line;
    int column;
} caf_mark;

/* ---- problems ---- */

typedef struct caf_config_problem {
    caf_mark mark;
    char *message; /* without the location */
} caf_config_problem;

/* Every problem found in a campaign, in the order found. Zero-initialise; free with _clear. */
typedef struct caf_config_problems {
    caf_config_problem *items;
    size_t count;
    bool out_of_memory; /* a problem could not be recorded: the last one says "out of memory" */
} caf_config_problems;

/* Appends a problem at mark (printf-style message); returns false only when out of memory, and then
 * the list ends in a problem without a message ("out of memory"), so a failed list is never empty. */
bool caf_config_problems_add(caf_config_problems *problems, caf_mark mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Orders the problems by line and column (problems without a location first). */
void caf_config_problems_sort(caf_config_problems *problems);

/* Frees every problem and empties the list. */
void caf_config_problems_clear(caf_config_problems *problems);

/* Formats problem i as "FILE:LINE:COLUMN: message" (or "FILE: message" / "message" without a location)
 * into buf; returns buf. */
char *caf_config_problem_format(const caf_config_problems *problems, size_t i, const char *file, char *buf,
                                size_t size);

/* ---- the model ---- */

/* A list of strings with the mark of each (marks are 0 when added from C). */
typedef struct caf_string_list {
    char **items;
    caf_mark *marks;
    size_t count;
} caf_string_list;

/* Appends a copy of text with its mark. */
caf_status caf_string_list_add(caf_string_list *list, const char *text, caf_mark mark, caf_error *err);

/* A module of the pre-collector path (e.g. TriggerSkim) and its parameters. */
typedef struct caf_module_config {
    char *module;
    json_t *parameters; /* an object, owned */
    json_t *conditions; /* its conditions as in a path file (docs/modules.md), an array, owned; NULL: none */
    caf_mark mark;
    caf_mark *condition_marks; /* where each condition's 'if' was written (loaded from a file), owned; or NULL */
} caf_module_config;

/* An algorithm plugin, its parameters, and the strategy that decides its runs and IoVs. */
typedef struct caf_algorithm_config {
    char *plugin;
    json_t *parameters; /* an object, owned */
    caf_strategy_params strategy;
    double time_limit;      /* seconds an execution may take; 0: the campaign's algorithm_time_limit */
    long memory_limit_mb;   /* MiB an execution may add; 0: the campaign's algorithm_memory_limit */
    caf_mark mark;
    caf_mark strategy_mark;
    caf_mark time_limit_mark;   /* line 0 when not given */
    caf_mark memory_limit_mark;
    json_t *strategy_parameter_marks; /* a strategy plugin's parameters: {name: [line, column]} of each value
                                         (owned; NULL when none), for the plugin check's messages */
} caf_algorithm_config;

/* caf_granularity (run or all) is the collector framework's (caf/run_range.h). */

/* The calibration keys, in documentation order; marks[] of a calibration is indexed by them. */
typedef enum caf_calibration_key {
    CAF_CAL_NAME,
    CAF_CAL_COLLECTOR,
    CAF_CAL_PRE_COLLECTOR,
    CAF_CAL_ALGORITHMS,
    CAF_CAL_INPUT_FILES,
    CAF_CAL_INPUT_FILE_LISTS,
    CAF_CAL_GRANULARITY,
    CAF_CAL_MAX_FILES_PER_COLLECTOR_JOB,
    CAF_CAL_MAX_COLLECTOR_JOBS,
    CAF_CAL_MAX_FILES_PER_RUN,
    CAF_CAL_FILES_PER_RUN_SEED,
    CAF_CAL_BACKEND_ARGS,
    CAF_CAL_DATABASE_CHAIN,
    CAF_CAL_DEPENDS_ON,
    CAF_CAL_IGNORED_RUNS,
    CAF_CAL_MAX_ITERATIONS,
    CAF_CAL_OUTPUT_PATTERNS,
    CAF_CAL_COLLECTIONS,
    CAF_CAL_SAVE_PAYLOADS,
    CAF_CAL_BACKEND,
    CAF_CAL_BACKEND_SETTINGS,
    CAF_CAL_JOB_POLICY,
    CAF_CAL_INPUT_SANDBOX,
    CAF_CAL_KEY_COUNT
} caf_calibration_key;

/* Returns the YAML name of a calibration key ("max_iterations", ...); never NULL. */
const char *caf_calibration_key_name(caf_calibration_key key);

/* The keys of one collection (basf2 Collection); marks[] of a collection is indexed by them. */
typedef enum caf_collection_key {
    CAF_COL_NAME,
    CAF_COL_COLLECTOR,
    CAF_COL_PRE_COLLECTOR,
    CAF_COL_INPUT_FILES,
    CAF_COL_INPUT_FILE_LISTS,
    CAF_COL_MAX_FILES_PER_COLLECTOR_JOB,
    CAF_COL_MAX_COLLECTOR_JOBS,
    CAF_COL_MAX_FILES_PER_RUN,
    CAF_COL_FILES_PER_RUN_SEED,
    CAF_COL_BACKEND_ARGS,
    CAF_COL_DATABASE_CHAIN,
    CAF_COL_OUTPUT_PATTERNS,
    CAF_COL_INPUT_SANDBOX,
    CAF_COL_KEY_COUNT
} caf_collection_key;

/* Returns the YAML name of a collection key ("collector", ...); never NULL. */
const char *caf_collection_key_name(caf_collection_key key);

/* Returns the calibration key of the same name as a collection key (CAF_CAL_KEY_COUNT for "name"). */
caf_calibration_key caf_collection_key_in_calibration(caf_collection_key key);

/* The name the short form's single collection gets (a calibration without `collections:`). */
#define CAF_DEFAULT_COLLECTION "default"

/* One collection of a calibration (basf2 Calibration.add_collection): a collector with its own inputs,
 * pre-collector path, job limits, backend arguments, database chain and output patterns. Every collection
 * of a calibration runs in the same collector phase; the algorithms see their objects merged. */
typedef struct caf_collection_config {
    char *name;
    char *collector;              /* collector plugin name */
    json_t *collector_parameters; /* an object */
    caf_module_config *pre_collector;
    size_t pre_collector_count;
    caf_string_list input_files;
    caf_string_list input_file_lists;
    int max_files_per_collector_job; /* default 1 */
    int max_collector_jobs;          /* 0: no limit */
    int max_files_per_run;           /* 0: every file */
    uint64_t files_per_run_seed;
    json_t *backend_args;            /* an object */
    caf_string_list database_chain;  /* searched before the calibration's own database_chain */
    caf_string_list output_patterns;
    caf_string_list input_sandbox;   /* files copied into each collector subjob's folder, besides the calibration's */
    caf_mark mark;
    caf_mark marks[CAF_COL_KEY_COUNT];
} caf_collection_config;

typedef struct caf_calibration_config {
    char *name;
    char *collector;              /* collector plugin name */
    json_t *collector_parameters; /* an object, owned */
    caf_module_config *pre_collector;
    size_t pre_collector_count;
    caf_algorithm_config *algorithms;
    size_t algorithm_count;
    caf_string_list input_files;      /* paths and glob(3) patterns */
    caf_string_list input_file_lists; /* text files naming one input file per line */
    caf_granularity granularity;      /* default run */
    int max_files_per_collector_job;  /* default 1 */
    int max_collector_jobs;           /* 0: no limit (default) */
    int max_files_per_run;            /* 0: every file (default); else a random subset per run */
    uint64_t files_per_run_seed;      /* the subset's fixed seed, default 0 */
    json_t *backend_args;             /* an object, owned: per-calibration backend settings */
    caf_string_list database_chain;   /* local databases, searched first to last */
    caf_string_list depends_on;       /* names of calibrations whose output this one needs */
    caf_exprun *ignored_runs;
    size_t ignored_run_count;
    int max_iterations;              /* default 5 */
    caf_string_list output_patterns; /* collector output files to collect (glob patterns) */
    caf_string_list input_sandbox;   /* files copied into every collector subjob's folder before it starts (every
                                        collection's; relative paths below the campaign file's folder) */
    /* Explicit collections (owned); none: the keys above are the one collection CAF_DEFAULT_COLLECTION. */
    caf_collection_config **collections;
    size_t collection_count;
    bool save_payloads;              /* default true; false: its payloads feed dependents only */
    char *backend;                   /* NULL: the campaign's backend */
    json_t *backend_settings;        /* an object, owned; NULL: the campaign's settings (own backend: {}) */
    json_t *backend_settings_marks;  /* {key: [line, column]} of each backend_settings value, owned; or NULL */
    json_t *job_policy;              /* its collector jobs' policy over the campaign's (caf/job_policy.h), owned; or NULL */
    json_t *job_policy_marks;        /* {key: [line, column]} of each job_policy value, owned; or NULL */
    caf_mark mark;                   /* the calibration's mapping */
    caf_mark marks[CAF_CAL_KEY_COUNT]; /* each key's value; line 0 when the key was not given */
} caf_calibration_config;

/* Campaign-level keys; marks[] of a campaign is indexed by them. */
typedef enum caf_campaign_key {
    CAF_CAMPAIGN_OUTPUT_DIR,
    CAF_CAMPAIGN_BACKEND,
    CAF_CAMPAIGN_BACKEND_SETTINGS,
    CAF_CAMPAIGN_HEARTBEAT,
    CAF_CAMPAIGN_POLL_INTERVAL,
    CAF_CAMPAIGN_MAX_PARALLEL_ALGORITHMS,
    CAF_CAMPAIGN_ALGORITHM_TIME_LIMIT,
    CAF_CAMPAIGN_ALGORITHM_MEMORY_LIMIT,
    CAF_CAMPAIGN_CALIBRATIONS,
    CAF_CAMPAIGN_DEFAULTS,
    CAF_CAMPAIGN_JOB_POLICY,
    CAF_CAMPAIGN_KEY_COUNT
} caf_campaign_key;

/* The backend names a campaign or calibration may use, NULL-terminated. */
extern const char *const caf_campaign_backends[];

/* Returns the YAML name of a campaign key; never NULL. */
const char *caf_campaign_key_name(caf_campaign_key key);

typedef struct caf_campaign {
    char *source;            /* the file it was loaded from; NULL when built in C */
    char *output_dir;        /* required */
    char *backend;           /* local (default), slurm, htcondor, lsf or pbs */
    json_t *backend_settings; /* an object, owned */
    json_t *backend_settings_marks; /* {key: [line, column]} of each backend_settings value, owned; or NULL */
    json_t *job_policy;       /* collector jobs' policy over the backend's defaults (caf/job_policy.h), owned; or NULL */
    json_t *job_policy_marks; /* {key: [line, column]} of each job_policy value, owned; or NULL */
    double heartbeat;        /* seconds between state saves and progress lines, default 5 */
    double poll_interval;    /* seconds between job status checks when nothing wakes the loop, default 1 */
    int max_parallel_algorithms;   /* calibrations whose algorithms may run at once; 0: the default
                                    * (the number of cores, at least 2) */
    double algorithm_time_limit;   /* default time_limit of every algorithm, seconds; default 86400 */
    long algorithm_memory_limit_mb; /* default memory_limit of every algorithm, MiB; 0 (default): none */
    caf_calibration_config **calibrations; /* owned; pointers stay valid while calibrations are added */
    size_t calibration_count;
    caf_mark marks[CAF_CAMPAIGN_KEY_COUNT];
} caf_campaign;

/* The backend calibration cal runs its collector jobs on: its own, else the campaign's (never NULL). */
const char *caf_calibration_backend(const caf_campaign *campaign, const caf_calibration_config *cal);

/* The policy of calibration cal's collector jobs: the defaults of its backend, then the campaign's
 * job_policy, then its own. Values are checked by caf_campaign_validate; here a bad one is skipped. */
struct caf_job_policy;
void caf_calibration_job_policy(const caf_campaign *campaign, const caf_calibration_config *cal,
                                struct caf_job_policy *policy);

/* The settings of that backend: the calibration's own, else the campaign's when the calibration uses the
 * campaign's backend, else an empty object (borrowed; NULL only when out of memory). */
const json_t *caf_calibration_backend_settings(const caf_campaign *campaign, const caf_calibration_config *cal);

/* Initialises an empty campaign with the defaults above. */
caf_status caf_campaign_init(caf_campaign *campaign, caf_error *err);

/* Frees everything the campaign owns. */
void caf_campaign_close(caf_campaign *campaign);

/* Replaces *field (a char * owned by the model) with a copy of value (NULL clears it). */
caf_status caf_config_set_string(char **field, const char *value, caf_error *err);

/* Adds a calibration called name with default settings; *out points into the campaign. */
caf_status caf_campaign_add_calibration(caf_campaign *campaign, const char *name, caf_calibration_config **out,
                                        caf_error *err);

/* Returns the calibration called name, or NULL. */
caf_calibration_config *caf_campaign_find(const caf_campaign *campaign, const char *name);

/* Returns the index of the calibration called name, or SIZE_MAX. */
size_t caf_campaign_index(const caf_campaign *campaign, const char *name);

/* Sets the collector plugin and its parameters (an object or NULL; a new reference is taken). */
caf_status caf_calibration_set_collector(caf_calibration_config *cal, const char *plugin, json_t *parameters,
                                         caf_error *err);

/* Appends a pre-collector module with its parameters (an object or NULL; a new reference is taken). */
caf_status caf_calibration_add_module(caf_calibration_config *cal, const char *module, json_t *parameters,
                                      caf_mark mark, caf_error *err);

/* Appends an algorithm with its parameters (object or NULL, new reference taken) and strategy (copied);
 * *out (may be NULL) points to it until the next algorithm is added. */
caf_status caf_calibration_add_algorithm(caf_calibration_config *cal, const char *plugin, json_t *parameters,
                                         const caf_strategy_params *strategy, caf_mark mark,
                                         caf_algorithm_config **out, caf_error *err);

/* Adds a collection called name with default settings (collector, inputs... set through *out, which
 * points into the calibration and stays valid while collections are added). */
caf_status caf_calibration_add_collection(caf_calibration_config *cal, const char *name,
                                          caf_collection_config **out, caf_error *err);

/* How many collections the calibration has: its explicit ones, else 1 (the short form). */
size_t caf_calibration_collection_count(const caf_calibration_config *cal);

/* Fills *view with collection i (0 .. count - 1): a shallow copy of an explicit collection, or for the
 * short form the calibration's own collector keys under the name CAF_DEFAULT_COLLECTION. Every pointer
 * in *view is borrowed from the calibration: never free it. */
void caf_calibration_collection(const caf_calibration_config *cal, size_t i, caf_collection_config *view);

/* Appends a pre-collector module to a collection (parameters: object or NULL; a new reference is taken). */
caf_status caf_collection_add_module(caf_collection_config *col, const char *module, json_t *parameters,
                                     caf_mark mark, caf_error *err);

/* Sets a collection's collector plugin and its parameters (an object or NULL; a new reference is taken). */
caf_status caf_collection_set_collector(caf_collection_config *col, const char *plugin, json_t *parameters,
                                        caf_error *err);

/* Appends an ignored run. */
caf_status caf_calibration_add_ignored_run(caf_calibration_config *cal, caf_exprun run, caf_error *err);

/* The time limit of an algorithm's executions in seconds: its own time_limit, else the campaign's
 * algorithm_time_limit (0: none). */
double caf_algorithm_time_limit(const caf_campaign *campaign, const caf_algorithm_config *algorithm);

/* The memory limit of an algorithm's executions in MiB: its own memory_limit, else the campaign's
 * algorithm_memory_limit (0: none). */
long caf_algorithm_memory_limit_mb(const caf_campaign *campaign, const caf_algorithm_config *algorithm);

/* Parses a memory size: a number of MiB ("512"), or a number with a unit M, MB, MiB, G, GB or GiB
 * ("2G", "1.5GiB"; units ignore case, 1 G = 1024 MiB). Returns the MiB (> 0), or -1 when text is no size
 * or not more than 0. */
long caf_parse_memory_mb(const char *text);

/* Checks the whole campaign and appends every problem found to problems: required keys, values out of
 * range, strategies and their parameters, strategies refusing granularity "all", duplicate or unsafe
 * names, unknown depends_on names, dependency cycles (named). Returns the number of problems added. */
size_t caf_campaign_validate(const caf_campaign *campaign, caf_config_problems *problems);

/* ---- YAML ---- */

/* Loads and validates the campaign in the YAML file at path. Every problem (syntax, unknown keys, wrong
 * types, missing keys, and everything caf_campaign_validate finds) is appended to problems with its
 * location. Returns CAF_OK only when there is none; otherwise CAF_ERR_INVALID (or CAF_ERR_IO when the
 * file cannot be read) with err naming the first problem. *campaign is initialised in every case (holding
 * what could be read) and must be closed. */
caf_status caf_campaign_load_yaml(const char *path, caf_campaign *campaign, caf_config_problems *problems,
                                  caf_error *err);

/* Loads and validates a campaign from size bytes of text (YAML, or JSON, which YAML reads) exactly as
 * caf_campaign_load_yaml does a file's, with name standing for the file in messages and campaign->source
 * (e.g. the file the text will be saved as); relative paths stay relative (to the caller's base folder).
 * text stays the caller's; *campaign is initialised in every case and must be closed. */
caf_status caf_campaign_load_text(const char *text, size_t size, const char *name, caf_campaign *campaign,
                                  caf_config_problems *problems, caf_error *err);

/* ---- dependency order ---- */

/* Writes the calibrations' indices into order (calibration_count entries) so that every calibration comes
 * after those it depends on (ties in file order). A cycle or an unknown name is CAF_ERR_INVALID naming it
 * ("dependency cycle: a -> b -> a"). */
caf_status caf_campaign_order(const caf_campaign *campaign, size_t *order, caf_error *err);

/* Finds a dependency cycle; when there is one writes "a -> b -> a" into buf and returns true. */
bool caf_campaign_find_cycle(const caf_campaign *campaign, char *buf, size_t size);

/* The calibrations that may start now: not started, and every dependency completed. completed and
 * started have calibration_count entries. Writes their indices (file order) into ready and returns how
 * many. */
size_t caf_campaign_ready(const caf_campaign *campaign, const bool *completed, const bool *started, size_t *ready);

/* The wave of each calibration: 0 without dependencies, else 1 + the highest wave it depends on; the
 * calibrations of one wave can run concurrently. Needs an acyclic campaign (else CAF_ERR_INVALID). */
caf_status caf_campaign_waves(const caf_campaign *campaign, int *wave, caf_error *err);

/* ---- input files ---- */

/* Expands the calibration's (short form) input_files (glob(3); relative ones below base_dir, or the working folder when
 * NULL) and input_file_lists into a sorted list without duplicates (*files malloc'd; free each string and
 * the array). A pattern matching nothing or an unreadable list is a problem (appended); returns the number
 * of problems added. */
size_t caf_calibration_expand_inputs(const caf_calibration_config *cal, const char *base_dir, char ***files,
                                     size_t *count, caf_config_problems *problems);

/* Like caf_calibration_expand_inputs for collection index of cal (as caf_calibration_collection numbers
 * them; messages name the collection when the calibration lists collections). */
size_t caf_collection_expand_inputs(const caf_calibration_config *cal, size_t index, const char *base_dir,
                                    char ***files, size_t *count, caf_config_problems *problems);

/* Checks what the campaign names on disk: every calibration's inputs expand to at least one file, every
 * database of a chain is a folder with a database.txt, and every input_sandbox file (the calibration's and
 * each collection's) is a regular file. Returns the number of problems added. */
size_t caf_campaign_check_files(const caf_campaign *campaign, const char *base_dir, caf_config_problems *problems);

/* Asks the servers of every distinct server entry of the database chains for its global tag: a tag that
 * does not exist or is INVALID is a problem at the entry's mark; so is an unreachable server unless
 * unreachable_is_problem is false (then a warning: jobs may work from the payload cache). Returns how many
 * problems were added. */
size_t caf_campaign_check_servers(const caf_campaign *campaign, bool unreachable_is_problem,
                                  caf_config_problems *problems);

/* For files that each hold one run (file_runs[i]), keeps at most max_per_run files of every run, chosen at
 * random with seed: the same input and seed keep the same files. keep[i] is set for kept files; max_per_run
 * 0 keeps all. */
caf_status caf_select_files_per_run(const caf_exprun *file_runs, size_t count, int max_per_run, uint64_t seed,
                                    bool *keep, caf_error *err);

/* ---- plugins ---- */

/* Finds NAME.so in the colon-separated search_path; *found is its path (malloc'd) or NULL. */
caf_status caf_plugin_search(const char *name, const char *search_path, char **found, caf_error *err);

/* Appends a problem for every collector and algorithm plugin not found on search_path (NULL: the
 * folders in $CAF_PLUGIN_PATH, else the installed plugin folder). Returns the number of problems added. */
size_t caf_campaign_check_plugins(const caf_campaign *campaign, const char *search_path,
                                  caf_config_problems *problems);

/* Loads every algorithm plugin the campaign names (found on search_path, as caf_campaign_check_plugins;
 * each in a child process, since plugin code is user code) and adds a problem, at the algorithm's place,
 * for a plugin that crashes, exits or hangs while loading, that lacks the named algorithm,
 * whose descriptor is unsound, or that lacks a hook its strategy needs (setup_experiment for
 * has_experiment_settings). With hooks, *hooks is a new JSON array, one entry per calibration, of arrays,
 * one per algorithm, of its hook names (null when it could not be loaded). A file the loader refuses (not
 * a plugin) is left to the run, like collectors and modules. Returns the problems added. */
size_t caf_campaign_check_algorithms(const caf_campaign *campaign, const char *search_path, json_t **hooks,
                                     caf_config_problems *problems);

#ifdef __cplusplus
}
#endif
#endif
