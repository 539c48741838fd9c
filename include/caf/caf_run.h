/* The CAF run: turns a campaign into conditions databases, resumably. One event loop drives every
 * calibration as far as dependencies allow: collector jobs through a backend (include/caf/scheduler.h),
 * collector outputs merged, algorithms under their strategies (include/caf/strategy.h) through the
 * algorithm runner, payloads committed idempotently, iterations, dependents fed with their dependencies'
 * output databases, and at the end one merged database and a summary.
 *
 * Everything that happened is recorded, one row per change, in the SQLite state database
 * OUTPUT_DIR/caf-state.sqlite (docs/running.md, docs/ARCHITECTURE.md "## orchestration"), so that
 * running the same campaign again on the same folder continues where it stopped: finished subjobs and
 * algorithm executions are never redone and subjobs still in the batch system are re-attached. */
#ifndef CAF_CAF_RUN_H
#define CAF_CAF_RUN_H

#include <signal.h>
#include <stdbool.h>

#include <jansson.h>

#include "caf/campaign.h"
#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The state database's file name inside the output folder. */
#define CAF_RUN_STATE_FILE "caf-state.sqlite"
/* The lock file that keeps a second `caf run` (or a reset) out of a folder in use. */
#define CAF_RUN_LOCK_FILE "caf.lock"

/* One calibration in a progress snapshot of a running campaign (caf_run_options.progress). */
typedef struct caf_run_progress_calibration {
    const char *name;
    const char *state;  /* the machine's state ("init" before it started), borrowed */
    int iteration;
    size_t subjobs;     /* collector subjobs of the current iteration (0 before its collector job exists) */
    size_t completed, running, queued, failed; /* add up to subjobs; queued: waiting or submitted */
    size_t executions;  /* algorithm executions recorded in the current iteration */
    double elapsed_s;   /* since this caf run started (or resumed) it, frozen once it ended; < 0: it ended before */
    double remaining_s; /* estimated remaining collection time; < 0: not collecting, or no subjob finished yet */
    const char *held_back; /* why its submissions wait for the user's job limit, "" when they do not */
} caf_run_progress_calibration;

/* A snapshot of the whole run; every pointer is valid only during the callback. */
typedef struct caf_run_progress {
    const caf_run_progress_calibration *calibrations;
    size_t count;
    size_t finished;  /* calibrations completed or failed */
    double elapsed_s; /* since caf_run started */
    bool final;       /* the loop ended: the last snapshot */
} caf_run_progress;

/* Called with a fresh snapshot a few times a second while the loop runs, and once with final set. */
typedef void (*caf_run_progress_fn)(const caf_run_progress *progress, void *userdata);

typedef struct caf_run_options {
    const char *caf_command;  /* the program collector jobs run as `PROGRAM process ...`; NULL = this one */
    const char *base_dir;     /* folder relative paths of the campaign (output_dir, input files, file lists,
                                 databases) are resolved against, normally the campaign file's; NULL = cwd */
    const char *plugin_path;  /* plugin search path checked before anything starts; NULL = $CAF_PLUGIN_PATH */
    volatile sig_atomic_t *stop; /* when it becomes non-zero the loop saves and returns (subjobs keep running) */
    const caf_iov *iov; /* calibrate only this IoV (basf2 CAF.run(iov)); part of the recorded configuration;
                           NULL = every run */
    caf_run_progress_fn progress; /* set: snapshots go to it instead of the heartbeat's progress lines (a
                                     terminal's live block, src/cli/progress_block.c); NULL: plain lines */
    void *progress_userdata;
    bool servers_may_be_offline; /* an unreachable conditions server is a warning, not a problem (caf_run
                                    sets it: jobs may work from the payload cache) */
} caf_run_options;

/* Appends every problem found in what the campaign names beyond its own keys (input files, databases,
 * plugins, the backend, backend_args) to problems; returns how many were added. caf_run calls it after
 * caf_campaign_validate. */
size_t caf_run_check(const caf_campaign *campaign, const caf_run_options *options, caf_config_problems *problems);

/* Runs (or resumes) the campaign in campaign->output_dir (relative to options->base_dir). Checks everything first (configuration,
 * inputs, plugins, a changed configuration against the recorded one) and lists every problem before
 * anything is submitted. Returns CAF_OK when every calibration completed; CAF_ERR_STATE naming the failed
 * calibrations and why otherwise (the state database and summary say the same). */
caf_status caf_run(const caf_campaign *campaign, const caf_run_options *options, caf_error *err);

/* A dry run (`caf plan`): what caf_run would do with the same campaign and options, as JSON (new reference,
 * caller decrefs) in *out: per calibration its wave, collections (input files, runs found, ignored runs,
 * the collector jobs with each subjob's files and runs, backend and resources), the runs its strategies
 * get, its database chain and each algorithm's strategy with the IoVs known in advance; on a folder holding
 * an earlier run, what is done and what remains (docs/running.md). Submits nothing and writes nothing but
 * the file-index cache in the output folder. Fails (CAF_ERR_INVALID) on every problem caf_run would refuse
 * to start with; a calibration whose inputs have a problem is planned with its "problem" (and
 * "problems": true) instead. */
caf_status caf_run_plan(const caf_campaign *campaign, const caf_run_options *options, json_t **out,
                        caf_error *err);

/* Writes a duration as "42s", "3m05s" or "2h07m" into buf (returned; the caller's). */
char *caf_run_format_duration(double seconds, char *buf, size_t size);

/* Every calibration's state, iteration, subjob counts and algorithm results in the output folder dir,
 * as JSON (new reference, caller decrefs) in *out. */
caf_status caf_run_status(const char *dir, json_t **out, caf_error *err);

/* Rewinds calibration name in dir: to the start of iteration (from = NULL or "collector"), or to its
 * algorithms keeping that iteration's collector output (from = "algorithms"); iteration < 0 means the
 * current one. Later iterations, and everything of the calibrations that depend on it, are dropped
 * (rows and folders). Refused while a `caf run` holds the folder. */
caf_status caf_run_reset(const char *dir, const char *name, int iteration, const char *from, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
