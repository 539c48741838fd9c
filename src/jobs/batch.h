/* What the batch backends (Slurm, PBS, HTCondor, LSF) share, and the pieces of each that the tests
 * exercise directly: command construction and output parsing are plain functions over text, so the
 * documented outputs of systems that cannot be installed here are tested the same way as real ones.
 * Private to src/jobs (not part of the public API). */
#ifndef CAF_JOBS_BATCH_H
#define CAF_JOBS_BATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "caf/backend.h"
#include "caf/error.h"
#include "caf/job.h"
#include "caf/process.h"

/* ---- a command line as an argv array, plus what goes to its stdin ---- */

typedef struct batch_command {
    char **argv;      /* NULL-terminated; every item malloc'd */
    size_t argc;
    size_t cap;
    char *stdin_text; /* malloc'd or NULL */
} batch_command;

/* Appends a copy of arg. */
caf_status batch_command_add(batch_command *cmd, const char *arg, caf_error *err);

/* Appends a printf-formatted argument. */
caf_status batch_command_addf(batch_command *cmd, caf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees everything and zeroes cmd. */
void batch_command_free(batch_command *cmd);

/* Runs cmd (argv[0] through PATH) in cwd (may be NULL) with a time-out. CAF_OK when it ran to its end,
 * whatever its exit code; a time-out or a program that cannot start is an error naming the program.
 * The caller frees *res. */
caf_status batch_command_run(const batch_command *cmd, const char *cwd, double timeout_s,
                             caf_process_result *res, caf_error *err);

/* Sets err to "PROGRAM exited with N: first line of its stderr (or stdout)" and returns
 * CAF_ERR_EXTERNAL. */
caf_status batch_command_failed(const batch_command *cmd, const caf_process_result *res, caf_error *err);

/* Tells whether a failed cancel or query complained only about ids the batch system no longer knows. */
typedef bool (*batch_unknown_ids_fn)(const caf_process_result *res);

/* Runs PROGRAM (scancel, qdel, bkill, condor_rm) with the batch ids of the subjobs, chunk ids per call
 * (0: all in one call), skipping subjobs without an id or with select[i] false (select may be NULL). A
 * failure that only_unknown says concerns finished or forgotten ids only is not an error. */
caf_status batch_cancel_ids(const char *program, caf_subjob **subs, size_t n, const bool *select, size_t chunk,
                            double timeout_s, batch_unknown_ids_fn only_unknown, caf_error *err);

/* ---- settings shared by every batch backend ---- */

typedef struct batch_settings {
    double submit_timeout_s; /* kill a submit command after this (default 120) */
    double query_timeout_s;  /* kill a status or cancel command after this (default 60) */
    int max_running;         /* Slurm/LSF array throttle: most tasks of one array running at once */
    caf_strings submit_args; /* extra arguments for the submit command, before the script */
} batch_settings;

/* Reads the backend_settings object (may be NULL) of a batch backend: the keys above plus
 * "poll_interval_s" and "exit_file_grace_s" (stored into backend). Unknown keys are an error naming
 * the backend and key. */
caf_status batch_settings_parse(batch_settings *settings, caf_backend *backend, const char *backend_name,
                                const json_t *obj, caf_error *err);

/* Frees submit_args. */
void batch_settings_free(batch_settings *settings);

/* Opens a batch backend: backend->state becomes a zeroed state_size-byte struct (malloc'd, freed by
 * batch_backend_close) that starts with a batch_settings filled from obj. */
caf_status batch_backend_open(caf_backend *backend, const char *name, const json_t *obj, size_t state_size,
                              caf_error *err);

/* Frees what batch_backend_open made. */
void batch_backend_close(caf_backend *backend);

/* ---- the submitted script ---- */

/* Returns a bash script (malloc'd, caller frees) that runs the wrapper script of subs[k] for
 * k = $INDEX_VARIABLE - first_index: `extra_lines` first (verbatim directives), then every wrapper
 * path single-quoted in a bash array. With n == 1 and index_variable NULL it runs subs[0] directly.
 * NULL when out of memory. */
char *batch_driver_script(const char *interpreter_line, const caf_strings *extra_lines,
                          const char *index_variable, long first_index, caf_subjob **subs, size_t n);

/* Formats seconds as [D-]HH:MM:SS ("1-02:03:04", "00:10:00") into buf. */
void batch_format_duration(long seconds, bool with_days, char *buf, size_t size);

/* Group of subjobs that can share one submission: same memory and time request. Returns how many of
 * subs[from..n) (reordered so they come first after from) match subs[from]. */
size_t batch_group_same_request(caf_subjob **subs, size_t from, size_t n);

/* Finds the subjob whose batch_id equals id among subs sorted by batch_id (see batch_sort_by_id);
 * returns its position or -1. */
long batch_find_id(caf_subjob *const *sorted, size_t n, const char *id);

/* Sorts a copy of subs by batch_id into out (n entries; caller's array). */
void batch_sort_by_id(caf_subjob **subs, size_t n, caf_subjob **out);

/* Replaces sub->batch_id with a copy of id. */
caf_status batch_set_id(caf_subjob *sub, const char *id, caf_error *err);

/* Splits text into lines in place (it is modified); calls fn for every non-empty line. */
void batch_for_each_line(char *text, void (*fn)(char *line, void *ctx), void *ctx);

/* Copies name into buf with every character other than [A-Za-z0-9._-] replaced by '_' (at most 40):
 * a job name every batch system accepts and shows as it is. */
void batch_safe_name(const char *name, char *buf, size_t size);

/* Sets report's state and printf-style reason. */
void batch_report(caf_batch_report *report, caf_batch_state state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- job arrays (Slurm, LSF) ---- */

typedef struct batch_array_style {
    /* Builds the submit command for subs[0..n) (all with the same memory/time request). */
    caf_status (*build)(const caf_job *job, const batch_settings *settings, caf_subjob **subs, size_t n,
                        batch_command *cmd, caf_error *err);
    /* Reads the array's job id from the submit command's output. */
    caf_status (*parse)(const char *out, char *id, size_t size, caf_error *err);
    size_t max_array;   /* most elements per submit command */
    size_t first_index; /* index of the first element (Slurm 0, LSF 1) */
    const char *open;   /* element id = ID open INDEX close: "_", "" (Slurm) or "[", "]" (LSF) */
    const char *close;
} batch_array_style;

/* Submits subs as arrays in style, one submit command per group of equal requests, and sets each
 * submitted subjob's batch_id. Stops at the first refused command (earlier groups stay submitted). */
caf_status batch_submit_arrays(const caf_job *job, const batch_settings *settings, caf_subjob **subs, size_t n,
                               const batch_array_style *style, caf_error *err);

/* ---- Slurm ---- */

/* The sbatch command for subs (all with the same memory/time request): an array 0-(n-1) throttled
 * to max_running, the driver script on stdin, run in the job's working folder. */
caf_status slurm_submit_command(const caf_job *job, const batch_settings *settings, caf_subjob **subs,
                                size_t n, batch_command *cmd, caf_error *err);

/* Parses `sbatch --parsable` output ("123" or "123;cluster") into the job id. */
caf_status slurm_parse_submitted(const char *out, char *id, size_t size, caf_error *err);

/* Applies `squeue --array --states=all --format=%i|%T|%r|%l` (or `sacct --parsable2
 * --format=JobID,State,Reason...`) output: fills reports[k] of every subjob it lists (seen[k] set). */
void slurm_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen);

/* Maps a Slurm job state (and reason) to a report. */
void slurm_state_report(const char *state, const char *reason, const char *time_limit, caf_batch_report *r);

/* ---- PBS (Torque, PBS Pro, or the PBS commands of slurm-wlm-torque) ---- */

/* The qsub command for one subjob; its script goes in script_path (written by the caller). */
caf_status pbs_submit_command(const caf_job *job, const batch_settings *settings, const caf_subjob *sub,
                              const char *script_path, batch_command *cmd, caf_error *err);

/* The PBS log of sub relative to the job's working folder ("subjobs/3/pbs.log") in buf; false when
 * that path would need characters other than [a-z0-9_./-], or the working folder has % or \ (then
 * PBS's log is not kept). */
bool pbs_log_path(const caf_job *job, const caf_subjob *sub, char *buf, size_t size);

/* Applies default-format `qstat` output (Job id / Name / User / Time Use / S / Queue). */
void pbs_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen);

/* ---- HTCondor ---- */

/* The submit description for subs (queue n), run from the job's working folder; driver_name is the
 * driver script's file name relative to it. */
char *htcondor_submit_description(const caf_job *job, caf_subjob **subs, size_t n, const char *driver_name,
                                  const char *log_name);

/* Parses condor_submit output ("N job(s) submitted to cluster C.") into the cluster id. */
caf_status htcondor_parse_submitted(const char *out, long *cluster, long *count, caf_error *err);

/* Applies `condor_q -nobatch` output (ID OWNER SUBMITTED RUN_TIME ST PRI SIZE CMD). */
void htcondor_apply_queue(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen);

/* Applies `condor_history CLUSTER... -af ClusterId ProcId JobStatus ExitCode` output. */
void htcondor_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen);

/* ---- LSF ---- */

/* The bsub command for subs (an array [1-n]%max_running; the driver script goes on stdin). */
caf_status lsf_submit_command(const caf_job *job, const batch_settings *settings, caf_subjob **subs,
                              size_t n, batch_command *cmd, caf_error *err);

/* Parses bsub output ("Job <1234> is submitted to queue <normal>.") into the job id. */
caf_status lsf_parse_submitted(const char *out, char *id, size_t size, caf_error *err);

/* Applies `bjobs -a -w JOBID...` output (JOBID USER STAT QUEUE FROM_HOST EXEC_HOST JOB_NAME SUBMIT_TIME;
 * array elements are named NAME[INDEX]). */
void lsf_apply_status(char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen);

#endif
