/* The algorithm runner: every execution happens in a child process, so that a crash, an abort, a hang or
 * runaway memory in user code becomes a FAILURE result with its log kept, never the death of the caller.
 *
 * The child (fork, no exec) loads the plugin, configures the algorithm, executes it (or finds payload
 * boundaries) and sends the result, the payloads and the output JSON state back over a pipe as framed
 * messages (docs/algorithms.md, "Runner protocol"). The parent enforces a wall-clock timeout and a memory
 * limit (RLIMIT_AS in the child, and the child's resident memory watched from the parent), kills the
 * child's whole process group when either is exceeded, and commits the payloads to the output database
 * all together when the result is OK or ITERATE.
 *
 * The runner forks: call it from a single-threaded process (as the caf command is). */
#ifndef CAF_ALGORITHM_RUNNER_H
#define CAF_ALGORITHM_RUNNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "caf/algorithm.h"
#include "caf/algorithm_instance.h"
#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What to run. Everything is borrowed for the duration of the call. */
typedef struct caf_algo_run_spec {
    const char *plugin;                 /* plugin name (PLUGIN.so on the plugin path) */
    const char *algorithm;              /* algorithm in the plugin; NULL = its only one */
    const char *collector;              /* collector the inputs must come from; NULL = the algorithm's */
    const char *const *inputs;          /* collector output files */
    size_t input_count;
    const char *const *input_collections; /* the collection of each input; NULL = none named */
    const char *const *input_collectors;  /* the collector of each input; NULL = `collector` for all */
    const caf_exprun *runs;             /* NULL/0 = every collected run */
    size_t run_count;
    int iteration;
    const caf_iov *iov;                 /* default payload IoV; NULL = span of the runs */
    const char *const *param_names;     /* parameters as (name, YAML value) pairs */
    const char *const *param_values;
    size_t param_count;
    const char *const *chain;           /* databases payloads are read from, first match wins */
    size_t chain_count;
    const char *input_state;            /* JSON object text from the previous execution; NULL = {} */
    const char *output_db;              /* commit here on OK/ITERATE; NULL = do not commit */
    bool output_db_staging;             /* output_db is a staging database (CAF_LOCALDB_STAGING): no fsync */
    const char *log_path;               /* keep the child's output here; NULL = only in the result */
    double timeout_seconds;             /* 0 = no limit */
    size_t memory_limit;                /* bytes the algorithm may add to the caller's memory; 0 = no limit */
    bool find_boundaries;               /* find payload boundaries instead of executing */
    bool experiment_settings;           /* call setup_experiment(settings_exp) before executing */
    int settings_exp;
    const char *python_path;            /* algorithms in Python: folders (':'-separated) searched for the
                                           module first, e.g. the campaign's folder; NULL = none */
    struct caf_algo_zygote *zygote;     /* fork the child from this zygote (caf/algorithm_zygote.h), which
                                           holds spec->plugin loaded; NULL = fork the caller */
    void (*while_running)(void *ctx);   /* called once in the caller while the child runs (after it was
                                           started, before waiting for it), with while_running_ctx; the time
                                           limit counts from the start. NULL = none */
    void *while_running_ctx;
} caf_algo_run_spec;

/* What came back. Zero-initialise; free with caf_algo_run_result_clear. */
typedef struct caf_algo_run_result {
    caf_algo_result result;      /* FAILURE when the child crashed, timed out or could not start */
    char *algorithm;             /* "PLUGIN:ALGORITHM" */
    char *message;               /* why (the algorithm's reason, the crash, the timeout); "" if nothing */
    bool crashed;                /* the child died, was killed or exceeded a limit */
    caf_exprun *runs;            /* the runs executed */
    size_t run_count;
    int iteration;
    caf_iov iov;                 /* the default payload IoV */
    caf_algo_payload *payloads;  /* with revisions when committed */
    size_t payload_count;
    bool committed;
    json_t *state;               /* output JSON state (an object; {} when the child gave none) */
    caf_exprun *boundaries;      /* for find_boundaries: sorted, unique */
    size_t boundary_count;
    char *log;                   /* the end of the child's output (up to 64 KiB) */
    double seconds;              /* wall-clock time of the child */
} caf_algo_run_result;

/* Runs one execution (or boundary finding) in a child process and, on OK or ITERATE, commits its
 * payloads to spec->output_db. spec->while_running, if any, is called once the child runs (not when it
 * could not be started). Returns CAF_OK when the algorithm ran, whatever its result (a crash is
 * result FAILURE with crashed set); an error when it could not be set up (no such plugin or algorithm,
 * no entry point, a bad parameter, bad inputs: the message names the algorithm and the culprit), when
 * boundary finding failed, or when the commit failed (nothing committed). out is filled in every case. */
caf_status caf_algo_run(const caf_algo_run_spec *spec, caf_algo_run_result *out, caf_error *err);

/* Frees what a result holds and zeroes it. */
void caf_algo_run_result_clear(caf_algo_run_result *result);

/* ---- The execution's child, for algorithms the runner does not load itself (caf/python_algorithm.h) ---- */

/* The part of spec the child needs (not the output database, log or limits) as a new JSON object. */
json_t *caf_algo_run_spec_to_json(const caf_algo_run_spec *spec);

/* Reads a spec written by caf_algo_run_spec_to_json; *out is caller-owned (caf_algo_run_spec_free). */
caf_status caf_algo_run_spec_from_json(const char *text, size_t size, caf_algo_run_spec **out, caf_error *err);

/* Frees a spec made by caf_algo_run_spec_from_json (NULL is fine). */
void caf_algo_run_spec_free(caf_algo_run_spec *spec);

/* What the execution's child does once it holds the algorithm: configures alg from spec (parameters,
 * collector, inputs, chain, input state), calls pre_algorithm, then finds boundaries or calls
 * setup_experiment and executes, and sends the outcome to fd in the runner's protocol. Logs go to stderr,
 * prefixed with the algorithm's name. Returns false when fd broke. */
bool caf_algo_run_in_child(const caf_algo_run_spec *spec, caf_algorithm *alg, int fd);

/* Sends "the algorithm could not be set up" (err's status and message, naming algorithm) to fd in the
 * runner's protocol, for a child that could not make the algorithm. Returns false when fd broke. */
bool caf_algo_child_send_error(int fd, const char *algorithm, caf_status status, const caf_error *err);

/* Runs the algorithms of one calibration in order, each in its own child: every one commits to
 * output_db, which comes first in the chain of every one, so each sees the payloads of those before it.
 * Stops after the first result other than OK or ITERATE, or the first error. results must have room for
 * count; *ran tells how many were filled (clear each). The status is the first error, else CAF_OK. */
caf_status caf_algo_run_sequence(const caf_algo_run_spec *specs, size_t count, const char *output_db,
                                 caf_algo_run_result *results, size_t *ran, caf_error *err);

/* The overall result of a sequence: FAILURE or NOT_ENOUGH_DATA if one ended so, else ITERATE if any
 * asked for it, else OK (UNDEFINED for an empty sequence). */
caf_algo_result caf_algo_sequence_result(const caf_algo_run_result *results, size_t count);

#ifdef __cplusplus
}
#endif
#endif
