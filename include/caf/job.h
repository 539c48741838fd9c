/* Jobs: a command to run over input files, split into subjobs that a backend runs (locally or on a
 * batch system). The job is plain data so that it can be saved to JSON after every change and loaded by
 * a restarted caf, which then re-attaches to subjobs the batch system still knows instead of running
 * them twice. Folder layout (all derived from working_dir and output_dir):
 *   WORKING_DIR/caf-job.json      the saved state (job + subjobs)
 *   WORKING_DIR/caf-job.journal   the subjobs changed since that save, when the scheduler journals its
 *                                 changes (include/caf/job_journal.h; caf run's collector jobs)
 *   WORKING_DIR/caf-sandbox/      the snapshot of the input_sandbox files (taken at the first submission)
 *   WORKING_DIR/subjobs/N/        subjob N's folder: the command runs here; holds run.sh (unless the
 *                                 local backend starts the command itself), stdout, stderr and the
 *                                 exit-code file `exit_code`
 *   OUTPUT_DIR/N/                 the outputs of subjob N (files matching output_patterns) */
#ifndef CAF_JOB_H
#define CAF_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_job_status {
    CAF_JOB_INIT = 0,      /* not (yet, or not again) handed to a backend */
    CAF_JOB_SUBMITTED = 1, /* the backend accepted it; not known to run yet */
    CAF_JOB_RUNNING = 2,   /* the backend reports it running */
    CAF_JOB_COMPLETED = 3, /* the exit-code file says 0 */
    CAF_JOB_FAILED = 4,    /* failed on its last allowed attempt (reason in caf_subjob.reason) */
} caf_job_status;

/* Returns "init", "submitted", "running", "completed" or "failed" (static). */
const char *caf_job_status_name(caf_job_status status);

/* Parses a status name; returns CAF_OK and sets *out, or CAF_ERR_INVALID. */
caf_status caf_job_status_parse(const char *name, caf_job_status *out);

/* A list of strings: every item and the array are malloc'd and owned by the list. */
typedef struct caf_strings {
    char **items;
    size_t count;
} caf_strings;

/* Appends a copy of text. */
caf_status caf_strings_push(caf_strings *list, const char *text, caf_error *err);

/* Frees every item and the array; leaves an empty list. */
void caf_strings_free(caf_strings *list);

/* What the batch system is asked for (each 0/NULL = the backend's or site's default). */
typedef struct caf_backend_args {
    char *queue;             /* queue (PBS, LSF) or partition (Slurm); NULL = default */
    long memory_mb;          /* memory per subjob in MiB */
    long time_s;             /* wall-time limit per subjob in seconds */
    int cores;               /* cores per subjob */
    caf_strings extra_lines; /* extra submit-file lines, passed verbatim (e.g. "#SBATCH --qos=long") */
} caf_backend_args;

/* How a job becomes subjobs. Exactly one rule applies; with no rule (and no arg_sets) there is one
 * subjob with all input files. */
typedef struct caf_splitter {
    long max_files_per_subjob; /* > 0: consecutive chunks of at most this many input files */
    long max_subjobs;          /* > 0: the input files spread evenly over at most this many subjobs */
    caf_strings *arg_sets;     /* non-NULL: one subjob per argument set (appended to args) */
    size_t n_arg_sets;
} caf_splitter;

/* One piece of a job, run by one backend submission per attempt. */
typedef struct caf_subjob {
    size_t index;            /* 0-based; also the name of its folder */
    caf_strings args;        /* extra arguments after the job's args (from arg_sets) */
    caf_strings input_files; /* appended as the last arguments of the command */
    caf_job_status status;
    int attempt;             /* submissions so far (1 after the first) */
    char *batch_id;          /* the backend's id of the current attempt (malloc'd), NULL before submission */
    char *dir;               /* WORKING_DIR/subjobs/N (malloc'd) */
    char *script_path;       /* DIR/run.sh (malloc'd) */
    char *exit_code_file;    /* DIR/exit_code (malloc'd) */
    char *output_dir;        /* OUTPUT_DIR/N (malloc'd) */
    int exit_code;           /* from the exit-code file; -1 when unknown */
    long memory_mb;          /* what the current attempt asks for (raised on retries) */
    long time_s;             /* what the current attempt asks for (raised on retries) */
    double lost_since;       /* wall time the backend first no longer ran it without an exit-code file; 0 = not */
    char *reason;            /* why the last attempt failed (malloc'd) or NULL */
    bool unsaved;            /* changed since the state was last saved or journaled (set by whatever changes
                                it: the scheduler, caf_job_fail_attempt, caf_job_retry_failed) */
} caf_subjob;

/* Retry policy for failed subjobs. */
typedef struct caf_retry {
    int max_retries;      /* extra attempts after the first (default 2) */
    double memory_factor; /* each retry multiplies memory_mb by this (default 1 = unchanged) */
    double time_factor;   /* each retry multiplies time_s by this (default 1 = unchanged) */
} caf_retry;

/* A job. Create with caf_job_from_json (or fill by hand and call caf_job_split), free with
 * caf_job_close. Every pointer member is owned by the job. */
typedef struct caf_job {
    char *name;
    char *command;             /* program, found through PATH as execvp does */
    caf_strings args;
    caf_strings input_files;
    char *working_dir;         /* absolute */
    char *output_dir;          /* absolute */
    caf_strings output_patterns; /* shell globs relative to the subjob's folder, copied to its output dir */
    caf_strings input_sandbox;   /* absolute paths of files copied into every subjob's folder before it starts
                                    (include/caf/input_sandbox.h) */
    caf_strings setup_commands;  /* shell lines run before the command (trusted, not quoted) */
    caf_strings env_names;       /* environment variables set for the command ... */
    caf_strings env_values;      /* ... and their values (same count) */
    caf_backend_args backend_args;
    caf_splitter splitter;
    caf_retry retry;
    char *backend;             /* backend name ("local" unless the JSON or the caller says otherwise) */
    json_t *backend_settings;  /* backend-specific settings object (owned reference) or NULL */
    json_t *policy;            /* the scheduling "policy" object (owned reference) or NULL */
    caf_subjob *subjobs;
    size_t n_subjobs;
    /* The saved state's bookkeeping (job_json.c, job_journal.c): */
    char journal_id[17];       /* id of the saved state this job was last saved to or loaded from; the
                                  journal's records extend that state only ("" = none) */
    size_t state_bytes;        /* size of the state this caf saved last; 0 = none saved by this caf yet */
    size_t journal_bytes;      /* bytes in the journal of that state; 0 = no journal yet */
} caf_job;

/* Frees everything the job owns and zeroes it. Safe on a zeroed job. */
void caf_job_close(caf_job *job);

/* Fills job from a JOB.json object (see docs/jobs.md), resolving relative folders against base_dir,
 * and splits it into subjobs. Errors name the key at fault. On failure job is left closed. */
caf_status caf_job_from_json(caf_job *job, const json_t *spec, const char *base_dir, caf_error *err);

/* Loads JOB.json at path into job (caf_job_from_json with base_dir = path's folder). */
caf_status caf_job_load_spec(caf_job *job, const char *path, caf_error *err);

/* Frees the job's subjobs (leaves none). */
void caf_job_free_subjobs(caf_job *job);

/* Makes the subjobs from input_files, args and splitter (replacing any existing ones). */
caf_status caf_job_split(caf_job *job, caf_error *err);

/* The job's status derived from its subjobs: running while any runs, failed if any failed once none
 * is init/submitted/running, completed if all completed, submitted while any is submitted, else init. */
caf_job_status caf_job_status_of(const caf_job *job);

/* Returns WORKING_DIR/caf-job.json (malloc'd, caller frees) or NULL when out of memory. */
char *caf_job_state_path(const caf_job *job);

/* The whole job, subjobs included, as JSON (a new reference, caller json_decref's it). */
json_t *caf_job_to_json(const caf_job *job);

/* Saves the job state atomically to caf_job_state_path under a new journal id, removes the journal of the
 * state before, clears every subjob's unsaved mark and records state_bytes. */
caf_status caf_job_save(caf_job *job, caf_error *err);

/* Replaces job's subjobs with those in the saved state at caf_job_state_path with its journal applied
 * (caf_job_state_read; if the state exists; sets *found). The saved job must have the same name and the same subjobs; else CAF_ERR_STATE. While saved
 * subjobs are still submitted or running, job->backend becomes the saved backend (only it knows them). */
caf_status caf_job_load_state(caf_job *job, bool *found, caf_error *err);

/* Puts every failed subjob back to waiting (a rerun after the cause was fixed); returns how many. Its
 * attempt count goes on, so one further attempt is made unless retries remain. */
size_t caf_job_retry_failed(caf_job *job);

/* Records a failed attempt of sub with reason: back to init with raised memory/time if retries are
 * left, else failed. Returns true when it will be retried. */
bool caf_job_fail_attempt(caf_job *job, caf_subjob *sub, const char *reason);

#ifdef __cplusplus
}
#endif
#endif
