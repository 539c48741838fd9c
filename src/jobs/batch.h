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

/* ---- the user's jobs in the batch system (caf_backend_ops.count_user_jobs) ---- */

/* Stands for the user's name in a count command's argv template. */
extern const char BATCH_USER[];

/* Reads what a count command printed (stdout; stderr for messages such as "no job found") and its exit code
 * into *count; an answer it cannot read, or a failure that is not a documented "no job" answer, is
 * CAF_ERR_FORMAT (then the runner reports the command's own message when it failed). */
typedef caf_status (*batch_user_jobs_parse)(const char *out, const char *err_text, int exit_code, long *count,
                                            caf_error *err);

/* Runs argv_template (NULL-terminated; the item BATCH_USER becomes the name of the account caf runs as)
 * with the backend's query time-out, and parses what it printed with parse; a program that cannot start,
 * times out, or exits non-zero without parse accepting its output is an error naming it. */
caf_status batch_count_user_jobs(caf_backend *backend, const char *const *argv_template, batch_user_jobs_parse parse,
                                 long *count, caf_error *err);

/* The parsers of each backend's count command, over the output formats their manuals document:
 * `squeue --noheader --array --format=%i --user=USER` (one job or array task id per line), */
caf_status slurm_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count,
                                   caf_error *err);
/* `qstat -u USER` (the alternative listing of Torque, PBS Pro and slurm-wlm-torque; state in the next to
 * last column, completed jobs C/F/X not counted), */
caf_status pbs_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count,
                                   caf_error *err);
/* `condor_q -json -attributes ClusterId,ProcId,JobStatus USER` (removed and completed jobs not counted;
 * nothing printed: no job), */
caf_status htcondor_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count,
                                   caf_error *err);
/* `bjobs -w -u USER` (unfinished jobs, one line per job or array element; "No unfinished job found": 0). */
caf_status lsf_parse_user_jobs(const char *out, const char *err_text, int exit_code, long *count,
                                   caf_error *err);

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

/* The keys one backend adds to the shared ones: parse sets *handled for a key it knows (and fills the
 * backend's own part of the state that starts with settings), release frees what parse kept. */
typedef struct batch_extra_keys {
    const char *names; /* ", key, key..." appended to the unknown-key message */
    caf_status (*parse)(batch_settings *settings, const char *backend_name, const char *key, const json_t *value,
                        bool *handled, caf_error *err);
    void (*release)(batch_settings *settings);
} batch_extra_keys;

/* batch_settings_parse with the backend's own keys (extra may be NULL). On failure everything parsed is
 * freed. */
caf_status batch_settings_parse_extra(batch_settings *settings, caf_backend *backend, const char *backend_name,
                                      const json_t *obj, const batch_extra_keys *extra, caf_error *err);

/* Frees submit_args. */
void batch_settings_free(batch_settings *settings);

/* Opens a batch backend: backend->state becomes a zeroed state_size-byte struct (malloc'd, freed by
 * batch_backend_close) that starts with a batch_settings filled from obj. */
caf_status batch_backend_open(caf_backend *backend, const char *name, const json_t *obj, size_t state_size,
                              caf_error *err);

/* batch_backend_open with the backend's own keys (extra may be NULL). */
caf_status batch_backend_open_extra(caf_backend *backend, const char *name, const json_t *obj, size_t state_size,
                                    const batch_extra_keys *extra, caf_error *err);

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

/* The HTCondor-only backend_settings (docs/jobs.md, "HTCondor"): basf2's HTCondor backend_args plus the
 * file-transfer mode for pools without a shared file system. */
typedef struct htcondor_settings {
    char *universe;          /* "vanilla" */
    bool getenv;             /* copy the submitter's environment into the job (false) */
    char *request_memory;    /* when a subjob asks for no memory: "4 GB" (basf2's default); NULL = none */
    char *path_prefix;       /* put before every input file's path in transfer_input_files ("") */
    caf_strings extra_lines; /* submit description lines, verbatim, before the queue statements */
    bool transfer_files;     /* true: no shared file system (should_transfer_files = YES) */
} htcondor_settings;

typedef struct htcondor_backend {
    batch_settings settings; /* first: batch_backend_open_extra fills it */
    htcondor_settings condor;
    unsigned long submissions; /* makes driver file names unique within this process */
} htcondor_backend;

/* The HTCondor keys for batch_backend_open_extra (the state is an htcondor_backend). */
extern const batch_extra_keys htcondor_extra_keys;

/* The files a transfer-mode subjob leaves in its scratch folder for HTCondor to bring back into its
 * subjob folder: the folder holding the exit-code file and the outputs, and the wrapper's stdout and
 * stderr, remapped to these names. */
#define HTCONDOR_RETURN_DIR "caf-return"
#define HTCONDOR_RETURN_STDOUT "caf-return.stdout"
#define HTCONDOR_RETURN_STDERR "caf-return.stderr"
#define HTCONDOR_TRANSFER_SCRIPT "caf-transfer-run.sh"

/* The submit description for subs (all with the same memory/time request), run by condor_submit in the
 * job's working folder. Shared file system: `queue n` over the driver script driver_name. File transfer:
 * one `queue 1` per subjob with its folder (relative) as initialdir, its script and input files in
 * transfer_input_files and its results in transfer_output_files. NULL with err set when a subjob cannot
 * be described (an input file name the submit language cannot carry, two inputs with one base name, a
 * subjob folder outside the standard layout, out of memory); the caller frees the text. */
char *htcondor_submit_description(const caf_job *job, const htcondor_settings *condor, caf_subjob **subs, size_t n,
                                  const char *driver_name, const char *log_name, caf_error *err);

/* Parses `condor_submit -terse` output ("6.0 - 6.2", one line per cluster) into the cluster, its first
 * process and the number of jobs; more than one cluster is an error. */
caf_status htcondor_parse_terse(const char *out, long *cluster, long *first_proc, long *count, caf_error *err);

/* Applies `condor_q -json` or `condor_history -json` output (a JSON array of job ClassAds with ClusterId,
 * ProcId, JobStatus and, when set, HoldReason, ExitBySignal, ExitSignal; empty output: no jobs) to the
 * subjobs it lists (seen[k] set; held[k] set for JobStatus 5). Output that is not such an array is an
 * error and changes nothing. */
caf_status htcondor_apply_ads(const char *text, caf_subjob **subs, size_t n, caf_batch_report *reports, bool *seen,
                              bool *held, caf_error *err);

/* The script a transfer-mode subjob runs in HTCondor's scratch folder (malloc'd in *out): sub's wrapper
 * script with every path relative to that folder (inputs by base name, results under caf-return),
 * after creating the files transfer_output_files names (a missing one would put the job on hold). */
caf_status htcondor_transfer_script(const caf_job *job, const caf_subjob *sub, char **out, caf_error *err);

/* Removes what an earlier transfer-mode attempt of sub brought back (before the next submission). */
void htcondor_transfer_clear(const caf_subjob *sub);

/* Puts what HTCondor brought back for an ended transfer-mode subjob where the shared-file-system wrapper
 * would have written it: stdout and stderr appended to the subjob folder's, outputs into sub->output_dir,
 * and last the exit-code file (so that the scheduler sees the result only when the outputs are there).
 * Nothing brought back is not an error. */
caf_status htcondor_transfer_collect(const caf_subjob *sub, caf_error *err);

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
