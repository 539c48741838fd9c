/* What the CAF run's files share: the state database (run_state.c), the normalised configuration
 * (run_config.c), one calibration's progress (run_calibration.c), its collector phase (run_collect.c),
 * its algorithm phase (run_algorithms.c), the loop (run_loop.c) and the final outputs (run_outputs.c).
 * Not a public header. */
#ifndef CAF_RUN_INTERNAL_H
#define CAF_RUN_INTERNAL_H

#include <sqlite3.h>
#include <sys/types.h>
#include <stdbool.h>

#include "caf/localdb.h"
#include "caf/backend.h"
#include "caf/caf_run.h"
#include "caf/campaign.h"
#include "caf/file_index.h"
#include "caf/job.h"
#include "caf/scheduler.h"
#include "caf/state_machine.h"
#include "caf/strategy.h"

/* ---- the state database ---- */

typedef enum run_db_mode {
    RUN_DB_CREATE, /* create the file and schema when missing (caf run) */
    RUN_DB_WRITE,  /* an existing state database, to change (caf reset) */
    RUN_DB_READ,   /* an existing state database, read only (caf status) */
} run_db_mode;

/* Opens OUTPUT_DIR/caf-state.sqlite (in WAL mode unless read only). */
caf_status run_db_open(const char *dir, run_db_mode mode, sqlite3 **out, caf_error *err);

/* Closes the state database; a writer first checkpoints and leaves it in rollback-journal mode, so no -wal
 * or -shm file stays beside a finished run's database. NULL is fine. */
void run_db_close(sqlite3 *db);

/* Prepares sql and binds the arguments described by types: 'i' int, 'I' long long, 'd' double, 't' text
 * (NULL binds NULL). Returns NULL with err set on failure. */
sqlite3_stmt *run_db_prepare(sqlite3 *db, caf_error *err, const char *sql, const char *types, ...);

/* Prepares, binds and steps a statement that returns no rows. */
caf_status run_db_exec(sqlite3 *db, caf_error *err, const char *sql, const char *types, ...);

/* BEGIN IMMEDIATE / COMMIT. */
caf_status run_db_begin(sqlite3 *db, caf_error *err);
caf_status run_db_commit(sqlite3 *db, caf_error *err);

/* The meta key prefix under which a running calibration's held-back submissions are recorded
 * ("held_back:NAME"): written while its scheduler waits for the user's job limit, removed after. */
#define RUN_HELD_BACK_KEY "held_back:"

/* The meta value of key (malloc'd) or NULL when absent. */
char *run_db_meta(sqlite3 *db, const char *key);

/* A calibration's recorded progress. */
typedef struct run_cal_row {
    bool found;
    char state[40];
    int iteration;
    char reason[512];
    char *config; /* normalised configuration JSON (malloc'd) */
} run_cal_row;

/* Loads the row of calibration name (row->found false when there is none). Free row->config. */
caf_status run_db_load_calibration(sqlite3 *db, const char *name, run_cal_row *row, caf_error *err);

/* Records a calibration's state and iteration (and the transition that led there when from != NULL). */
caf_status run_db_set_state(sqlite3 *db, const char *name, const char *from, const char *state, int iteration,
                            const char *reason, caf_error *err);

/* Rebuilds the strategy state of one algorithm and iteration from its execution and boundary rows. */
caf_status run_db_load_strategy(sqlite3 *db, const char *cal, int iteration, int algorithm,
                                caf_strategy_state *state, caf_error *err);

/* Records (insert or update) one execution; message and state (its output state's JSON text) may be NULL
 * to keep what the row has. */
caf_status run_db_save_execution(sqlite3 *db, const char *cal, int algorithm, const caf_execution *e,
                                 const char *message, const char *state, caf_error *err);

/* The output state recorded with the last execution of an algorithm and iteration: *state malloc'd (caller
 * frees), NULL when there is no execution or its row has none (recorded before states were kept in rows). */
caf_status run_db_load_last_state(sqlite3 *db, const char *cal, int iteration, int algorithm, char **state,
                                  caf_error *err);

/* Records the boundaries the algorithm found for one experiment. */
caf_status run_db_save_boundaries(sqlite3 *db, const char *cal, int iteration, int algorithm,
                                  const caf_found_boundaries *found, caf_error *err);

/* Records an algorithm's outcome for an iteration. */
caf_status run_db_save_outcome(sqlite3 *db, const char *cal, int iteration, int algorithm, const char *plugin,
                               caf_strategy_outcome outcome, const char *reason, caf_error *err);

/* The recorded outcome of an algorithm (CAF_OUTCOME_NONE when not finished); reason may be NULL. */
caf_status run_db_load_outcome(sqlite3 *db, const char *cal, int iteration, int algorithm,
                               caf_strategy_outcome *outcome, char *reason, size_t reason_size, caf_error *err);

/* Drops the rows of calibration cal from iteration on (with keep_collector, that iteration's subjobs
 * stay). */
caf_status run_db_drop(sqlite3 *db, const char *cal, int iteration, bool keep_collector, caf_error *err);

/* ---- the normalised configuration ---- */

/* The calibration's configuration as canonical JSON (every key, defaults included, the algorithms' limits
 * as they apply with the campaign's defaults; new reference). */
json_t *run_calibration_config_json(const caf_campaign *campaign, const caf_calibration_config *cal);

/* The global settings a running campaign must keep (backend and its settings; new reference). */
json_t *run_campaign_config_json(const caf_campaign *campaign);

/* Lists the keys whose values differ between two normalised configurations as "a, b" into buf. */
void run_config_diff(const json_t *old, const json_t *now, char *buf, size_t size);

/* ---- algorithm drivers (run_driver.c) ---- */

struct pollfd;

/* A child process running one calibration's algorithm phase, reporting JSON lines over a pipe. */
typedef struct run_driver {
    pid_t pid;
    int fd;    /* the pipe's read end (non-blocking); -1 once every writer is gone */
    int pidfd; /* readable once the driver exits; -1 where the kernel has none */
    bool exited;
    int status; /* waitpid status once exited */
    char *buf;  /* a report line not complete yet */
    size_t len, cap;
} run_driver;

/* What the driver runs: reports to fd with run_driver_send. Returning ends the driver (_exit(0)). */
typedef void (*run_driver_body)(void *arg, int fd);

/* Handles one report line (a JSON object, borrowed); an error stops run_driver_read with it. */
typedef caf_status (*run_driver_line)(void *ctx, json_t *message, caf_error *err);

/* Forks a driver running body(arg, fd), named "caf-algo NAME" (cut to 15 bytes) for ps (*out malloc'd;
 * free with run_driver_free). */
caf_status run_driver_start(run_driver **out, const char *name, run_driver_body body, void *arg, caf_error *err);

/* In the driver: writes message (reference stolen) as one line. CAF_ERR_IO when the loop is gone. */
caf_status run_driver_send(int fd, json_t *message);

/* Reads what the driver has sent so far without blocking and calls on_line for every complete line. */
caf_status run_driver_read(run_driver *d, run_driver_line on_line, void *ctx, caf_error *err);

/* True once the driver process ended (reaped; d->status tells how). */
bool run_driver_exited(run_driver *d);

/* "the algorithm driver ... was killed by signal 9 (Killed) ..." for a driver that ended without its
 * final report. */
void run_driver_describe_end(const run_driver *d, char *buf, size_t size);

/* Fills fds (room for 2) with what becomes readable when the driver reports or ends; returns how many. */
size_t run_driver_pollfds(const run_driver *d, struct pollfd *fds);

/* Kills the driver if it still runs (its execution's child dies with it), reaps it and frees d. */
void run_driver_free(run_driver *d);

/* ---- the requested IoV (run_iov.c) ---- */

typedef struct run_loop run_loop;

/* True when the run lies inside the IoV the run is limited to (always without one). */
bool run_iov_wants(const run_loop *loop, caf_exprun run);

/* Keeps, in place and in order, the runs run_iov_wants; returns how many. */
size_t run_iov_filter(const run_loop *loop, caf_exprun *runs, size_t count);

/* Clips a strategy's apply_iov and iov_coverage to the requested IoV (dropping one that misses it). */
void run_iov_clip_params(const run_loop *loop, caf_strategy_params *params);

/* The run-wide configuration a resumed run must keep: backend, its settings and the requested IoV (new
 * reference). */
json_t *run_global_config_json(const run_loop *loop);

/* "--iov E1,R1,E2,R2" or "no --iov" for a recorded run-wide configuration. */
void run_iov_describe(const json_t *config, char *buf, size_t size);

/* ---- checks before a run or a plan (run_loop.c) ---- */

/* Allocates loop->cals, one per campaign calibration, each with its loop, configuration, index, backend
 * and folder OUTPUT_DIR/NAME set (owned by the loop; freed by whoever closes it). */
caf_status run_cals_create(run_loop *loop, caf_error *err);

/* path made absolute against the working folder (malloc'd). */
char *run_absolute_path(const char *path);

/* The absolute output folder: a relative output_dir is relative to base_dir (the campaign file's folder)
 * (malloc'd). */
char *run_output_folder(const char *output_dir, const char *base_dir);

/* Appends every problem of the campaign and of what it names on disk; returns the problem count. */
size_t run_check_campaign(const caf_campaign *campaign, const caf_run_options *options,
                          caf_config_problems *problems);

/* Logs every problem (sorted) and returns CAF_ERR_INVALID "N problems found WHAT; nothing was submitted". */
caf_status run_report_problems(const caf_campaign *campaign, caf_config_problems *problems, const char *what,
                               caf_error *err);

/* Checks options->iov (valid and not empty) when given. */
caf_status run_check_iov(const caf_run_options *options, caf_error *err);

/* Compares the campaign (and the requested IoV) with what loop->db recorded; reads only. Every change a
 * resume would refuse is appended to problems. */
caf_status run_check_recorded(run_loop *loop, caf_config_problems *problems, caf_error *err);

/* ---- one calibration ---- */
/* One collection's collector job in the current iteration. */
typedef struct run_collection {
    caf_collection_config cfg; /* a view into the calibration's configuration (borrowed) */
    bool named;                /* listed under collections: (folder collections/NAME, its name on its rows) */
    size_t first;              /* subjob rows number the calibration's collections one after the other */
    bool open;
    caf_job job;
    caf_scheduler sched;
    struct run_subjob_seen *seen; /* what was last recorded of each subjob */
} run_collection;

/* A backend a calibration names beside the campaign's own (other name or other settings). */
typedef struct run_backend {
    char *name;
    char *settings; /* canonical JSON text, to tell configurations apart */
    caf_backend backend;
    bool open;
} run_backend;

typedef struct run_cal {
    run_loop *loop;
    const caf_calibration_config *cfg;
    size_t index;
    caf_calibration_machine cm;
    char reason[512];
    char *dir; /* OUTPUT_DIR/NAME */
    bool started;
    /* collector phase: one job per collection, all open together */
    bool job_open;
    run_collection *cols;
    size_t col_count;
    caf_backend *backend; /* the loop's: its campaign backend, or one of its other backends */
    char **chain; /* database chain of the current iteration (first: the iteration's output) */
    char **chain_sources; /* where each chain entry comes from ("iteration 0 output", "A (ancestor)", ...) */
    size_t chain_count;
    bool retry_failed_subjobs; /* a rerun of a failed collector: submit its failed subjobs again */
    char held_back[320]; /* why its collector subjobs wait for the user's job limit ("" when they do not), as
                            recorded for caf status (meta key RUN_HELD_BACK_KEY NAME) */
    /* algorithm phase */
    run_driver *driver; /* the child running the algorithms, NULL when none runs */
    bool driver_done;   /* the driver's final report came */
    /* progress (run_progress.c): monotonic times this run saw it start and end (0: not seen), and the
     * collector job's pace: when this run first saw the iteration's job open and how many subjobs had
     * completed then */
    double seen_started, seen_ended;
    bool paced;
    int paced_iteration;
    double paced_since;
    size_t paced_completed;
} run_cal;

struct run_loop {
    const caf_campaign *campaign;
    const caf_run_options *options;
    char *dir;
    char *caf_command;
    char *base_dir;
    sqlite3 *db;
    caf_backend backend; /* the campaign's */
    bool backend_open;
    run_backend *backends; /* the calibrations' other backends (room for one per calibration) */
    size_t backend_count;
    run_cal *cals;
    size_t count;
    double started;        /* monotonic time caf_run began, for the closing line and progress */
    double last_heartbeat; /* of the last plain progress lines (0: none yet) */
    double last_progress;  /* of the last snapshot given to options->progress */
    int max_drivers;    /* max_parallel_algorithms in effect */
    int drivers;        /* drivers running now */
};

/* The state name of a calibration. */
const char *run_cal_state(const run_cal *c);

/* A calibration restored in state failed: puts it back to the step that failed (run_retry.c), recorded and
 * logged; a no-op when nothing is known to retry from. */
caf_status run_retry_failed(run_cal *c, caf_error *err);

/* True in completed or failed. */
bool run_cal_finished(const run_cal *c);

/* Fires transition on the calibration's machine and records the change (with reason, may be NULL). */
caf_status run_cal_fire(run_cal *c, const char *transition, const char *reason, caf_error *err);

/* Marks the calibration failed with reason from whatever state it is in (recorded). */
caf_status run_cal_fail(run_cal *c, const char *reason, caf_error *err);

/* OUTPUT_DIR/NAME/iteration_N (malloc'd) for the current or a given iteration. */
char *run_cal_iteration_dir(const run_cal *c, int iteration);

/* The iteration's output database folder (malloc'd). */
char *run_cal_database(const run_cal *c, int iteration);

/* Builds the database chains of the current iteration (c->chain): the iteration's output, the previous
 * iteration's, every ancestor's final output nearest first, then the configured database_chain. */
caf_status run_cal_build_chain(run_cal *c, caf_error *err);

/* Frees c->chain and c->chain_sources. */
void run_cal_free_chain(run_cal *c);

/* The file in each iteration folder that records its resolved database chain (for caf status). */
#define RUN_CHAIN_FILE "database_chain.json"

/* Writes the chain built by run_cal_build_chain to the iteration folder (RUN_CHAIN_FILE) and logs it. */
caf_status run_cal_record_chain(run_cal *c, caf_error *err);

/* One chain entry as recorded in RUN_CHAIN_FILE, plans and lineage: {"database": entry, "source": source}
 * (source may be NULL), plus "globaltag" and "servers" for a server entry, so that readers need not decode
 * it. New reference (caller owns); NULL when out of memory. */
json_t *run_chain_item_json(const char *entry, const char *source);

/* ---- collector phase (run_collect.c) ---- */

/* True when run is one of the calibration's ignored_runs. */
bool run_is_ignored(const caf_calibration_config *cfg, caf_exprun run);

/* ITERATION_DIR/collector for the short form, ITERATION_DIR/collections/NAME for a named collection
 * (malloc'd). */
char *run_collection_dir(const run_cal *c, int iteration, size_t k);

/* Builds collection k's collector job of the current iteration in memory (col->job, close it): inputs
 * expanded and indexed through the cache at cache (ignored runs, --iov and max_files_per_run applied),
 * split into subjobs. Writes nothing but the index cache; needs c->chain (run_cal_build_chain). *ix holds
 * the indexed files (close it, also on failure); kept (may be NULL) gets the index entry of each job
 * input file in job order (malloc'd array of borrowed entries). An input problem is CAF_ERR_INVALID. */
caf_status run_collect_prepare(run_cal *c, size_t k, const char *cache, run_collection *col,
                               caf_file_index **ix, const caf_indexed_file ***kept, caf_error *err);

/* Prepares the current iteration's collector job (inputs → runs → subjobs), re-attaching to saved
 * subjobs. An input problem is returned as CAF_ERR_INVALID (the calibration fails with it). */
caf_status run_collect_open(run_cal *c, caf_error *err);

/* Polls and submits; records changed subjobs. Sets *done when every subjob finished. */
caf_status run_collect_step(run_cal *c, bool *done, caf_error *err);

/* After the job ended: merges outputs into the iteration's collector_output.sqlite, or explains the
 * failed subjobs in reason (returning CAF_ERR_STATE). Closes the job. */
caf_status run_collect_finish(run_cal *c, char *reason, size_t reason_size, caf_error *err);

/* Closes the job and scheduler (no cancel: subjobs keep running for a resume). */
void run_collect_close(run_cal *c);

/* Appends a problem for every calibration whose backend_args has an unknown key or a bad value. */
size_t run_check_backend_args(const caf_campaign *campaign, caf_config_problems *problems);

/* Counts of subjobs by status for progress lines (jobs open only); returns the total. */
size_t run_collect_counts(const run_cal *c, size_t counts[5]);

/* The merged collector output of collection k of calibration c in iteration (malloc'd): the short form's
 * ITERATION_DIR/collector_output.sqlite, a named collection's ITERATION_DIR/collections/NAME/... */
char *run_collection_output(const run_cal *c, int iteration, size_t k);

/* Writes the side-file manifest of collection k beside its merged collector output merged (each job's
 * files named output_name excluded): the files each job kept through output_patterns and the runs of its
 * collector output. A kept link leading outside its folder is CAF_ERR_STATE explained in reason. */
caf_status run_side_files_record(const run_cal *c, size_t k, const char *merged, const char *output_name,
                                 char *reason, size_t reason_size, caf_error *err);

/* ---- progress (run_progress.c) ---- */

/* Seconds on the monotonic clock (run_loop.c). */
double run_monotonic(void);

/* Called on every pass of the loop and once more with final when it ended: keeps each calibration's
 * times and collection pace, and every heartbeat logs the plain progress lines, or (with
 * options->progress) gives the callback a snapshot a few times a second and at the end. */
void run_progress_tick(run_loop *loop, bool final);

/* ---- algorithm phase (run_algorithms.c) ---- */

/* Moves the algorithm phase of the current iteration on without waiting: from the recorded outcomes when
 * every algorithm has one, else by starting a driver child (when fewer than loop->max_drivers run) that
 * runs (or resumes) every algorithm under its strategy, and by recording what a running driver reported.
 * Sets *finished with *outcome COMPLETED, ITERATE or FAILED (reason filled) once the phase is over; a
 * driver that died without its final report is FAILED with how it ended. *moved when anything changed. */
caf_status run_algorithms_step(run_cal *c, bool *finished, caf_strategy_outcome *outcome, char *reason,
                               size_t reason_size, bool *moved, caf_error *err);

/* ---- lineage records (run_lineage.c, caf/lineage.h) ---- */

/* What an algorithm's lineage records share: its collector jobs with their input files and runs, the
 * plugin file and its hash, the parameters and the database chain (read once; free with
 * run_lineage_free). */
typedef struct run_lineage run_lineage;

/* Reads what algorithm (index in c's configuration) records share in the current iteration. */
caf_status run_lineage_open(const run_cal *c, int algorithm, run_lineage **out, caf_error *err);

/* The lineage record of execution e (whose folder exec_dir holds its database): *record a new object and
 * *file_name its record file's name in a database's lineage folder (both the caller's), or both NULL when
 * the execution saved no payload; message is what the execution said (NULL when not known). */
caf_status run_lineage_record(run_lineage *l, const caf_execution *e, const char *exec_dir, const char *message,
                              json_t **record, char **file_name, caf_error *err);

/* Frees l (NULL is fine). */
void run_lineage_free(run_lineage *l);

/* ---- outputs (run_outputs.c) ---- */

/* Writes OUTPUT_DIR/database (every completed calibration's final database, in dependency order) and
 * OUTPUT_DIR/summary.json and summary.txt. */
caf_status run_write_outputs(run_loop *loop, caf_error *err);

/* Rebuilds dir/database from the databases sources (payload lines and lineage records, in order) in a
 * temporary folder made durable whole (one syncfs) and renamed into place: what a run leaves does not
 * depend on how often it was written, and the sync calls do not grow with the number of payloads. */
caf_status run_db_rebuild(const char *dir, const char *const *sources, size_t count, caf_error *err);

/* Appends every payload line of the database at src to dst (created when missing). With once, nothing is
 * added when dst already ends with exactly those lines (same names, revisions and IoVs): a commit repeated
 * after a crash between it and its record changes nothing. */
caf_status run_db_copy_payloads(const char *src, const char *dst, bool once, caf_error *err);

/* run_db_copy_payloads into an open database (kept open across commits, so that a commit costs the same
 * however many lines dst has) from an execution's staging database (CAF_LOCALDB_STAGING): each payload
 * file must still match its revision there, else nothing is added. */
caf_status run_db_copy_staged(const char *src, caf_localdb *dst, caf_error *err);

/* run_db_copy_staged with the execution's lineage record (record_file in dst's lineage folder), made durable
 * together with the lines through dst's commit journal (caf_db_commit_set_lineage). When dst already ends
 * with the lines, the record is written (durably) only if its file is missing. */
caf_status run_db_copy_staged_with_lineage(const char *src, caf_localdb *dst, const char *record_file, json_t *record,
                                           caf_error *err);

/* Removes a folder and everything below it (missing is fine). */
void run_remove_tree(const char *path);

/* Removes, anywhere under the output folder dir, the temporary files whose writer has ended (and those in
 * subjob folders no copy of the subjob holds); live writers' files stay. Called with caf.lock held. */
void run_sweep_temporaries(const char *dir);

#endif
