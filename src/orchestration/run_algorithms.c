/* A calibration's algorithm phase: every algorithm in order under its strategy, each execution in a
 * child process (the algorithm runner) writing into its own folder's database, committed to the
 * iteration's output database only when the strategy says so.
 *
 * The strategies run in an algorithm driver (run_driver.c), a child of the run loop, so that the loop
 * goes on stepping every other calibration while executions run or hang. The loop loads what was recorded
 * (executions, commits, boundaries) before it forks the driver; the driver reports every execution,
 * commit, found boundaries and outcome as a line as it happens, and the loop records each as a row. On
 * resume the strategy replays the recorded executions instead of executing them again. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/algorithm_runner.h"
#include "caf/algorithm_zygote.h"
#include "caf/collector_output.h"
#include "caf/file.h"
#include "caf/localdb.h"
#include "caf/log.h"
#include "caf/json.h"
#include "orchestration/run_commit_queue.h"
#include "orchestration/run_internal.h"

/* What the loop prepares for a driver: the recorded progress of every algorithm of the iteration. */
typedef struct algo_plan {
    run_cal *c;
    caf_strategy_state *states;     /* recorded executions and boundaries, one per algorithm */
    caf_strategy_outcome *outcomes; /* recorded outcomes (NONE: to run) */
    char **last_states;             /* the output state recorded with each algorithm's last execution, or NULL */
} algo_plan;

typedef struct algo_ctx {
    run_cal *c;
    int fd;                /* the driver's pipe to the loop */
    int index;             /* the algorithm's position in the calibration */
    const caf_algorithm_config *cfg;
    char *plugin, *algorithm; /* PLUGIN[:ALGORITHM] split */
    char *dir;              /* ITERATION_DIR/algorithms/NAME */
    char **inputs;          /* each collection's merged collector output this iteration */
    const char **input_collections, **input_collectors; /* named collections only, else NULL */
    size_t input_count;
    char *database;         /* the iteration's output database */
    caf_localdb *out_db;    /* database, open from the first commit on */
    caf_strategy_state *state;
    size_t saved;           /* executions recorded so far */
    size_t *pending;        /* uncommitted OK/ITERATE executions, whose commit is still to be reported */
    size_t pending_count, pending_capacity;
    size_t found_saved;
    char message[512];      /* what the last execution said */
    char failure[512];      /* what the last execution that failed said (a crash, a limit) */
    bool has_settings;      /* the strategy applied experiment settings: executions set them up */
    int settings_exp;       /* the experiment they were applied for */
    run_lineage *lineage;   /* what the lineage records share, read at the first commit */
    caf_algo_zygote *zygote; /* forks the executions, from the first on (NULL: this process does) */
    bool zygote_tried;
    bool executed;          /* an execution ran in this driver ... */
    size_t last_executed;   /* ... this one, whose message is x->message */
    char *last_state;       /* the JSON output state of the last execution, the next one's input (NULL:
                               unknown, read from its folder's state.json, as rows recorded before had none) */
    run_commit_queue queue; /* the commit made while the next execution's child runs */
} algo_ctx;

static char *execution_dir(const algo_ctx *x, size_t index)
{
    char *p = NULL;
    return asprintf(&p, "%s/execution_%zu", x->dir, index) < 0 ? NULL : p;
}

static caf_execution_result map_result(caf_algo_result r)
{
    switch (r) {
    case CAF_ALGO_OK: return CAF_RESULT_OK;
    case CAF_ALGO_ITERATE: return CAF_RESULT_ITERATE;
    case CAF_ALGO_NOT_ENOUGH_DATA: return CAF_RESULT_NOT_ENOUGH_DATA;
    default: return CAF_RESULT_FAILURE;
    }
}

/* The parameters as (name, YAML value) pairs: JSON values are YAML. */
static caf_status param_pairs(const json_t *params, char ***names, char ***values, size_t *count, caf_error *err)
{
    size_t n = json_object_size(params), i = 0;
    *names = calloc(n + 1, sizeof **names);
    *values = calloc(n + 1, sizeof **values);
    *count = 0;
    if (!*names || !*values)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        (*names)[i] = strdup(key);
        (*values)[i] = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!(*names)[i] || !(*values)[i])
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        *count = ++i;
    }
    return CAF_OK;
}

static void free_pairs(char **names, char **values, size_t count)
{
    for (size_t i = 0; i < count + 1; i++) {
        if (names)
            free(names[i]);
        if (values)
            free(values[i]);
    }
    free(names);
    free(values);
}

/* The execution's chain while a commit waits: that execution's staging database before the iteration's
 * output database. The commit is made while the child runs, so the output database may or may not hold it
 * when the child reads it; with the staging database first, every lookup finds what it would find once
 * the commit is made (its lines are the output database's last ones, and last-line-wins there gives the
 * same payload as first-match-wins here), so the child sees exactly what it saw with commits made before
 * it started: payloads committed for earlier executions are visible to later ones, as in basf2.
 * *chain stays NULL (the calibration's chain) when no commit waits or it has no payload. */
static caf_status chain_with_waiting_commit(const algo_ctx *x, const char ***chain, size_t *count, caf_error *err)
{
    *chain = NULL;
    if (!x->queue.queued)
        return CAF_OK;
    char *dir = execution_dir(x, x->queue.index), *db = dir ? caf_path_join(dir, "database") : NULL;
    char *text = db ? caf_path_join(db, CAF_LOCALDB_TEXT_FILE) : NULL;
    free(dir);
    if (!text) {
        free(db);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    bool has_payloads = access(text, F_OK) == 0;
    free(text);
    if (!has_payloads || !(*chain = malloc((x->c->chain_count + 1) * sizeof **chain))) {
        free(db);
        return has_payloads ? caf_error_set(err, CAF_ERR_NOMEM, "out of memory") : CAF_OK;
    }
    (*chain)[0] = db;
    for (size_t i = 0; i < x->c->chain_count; i++)
        (*chain)[i + 1] = x->c->chain[i];
    *count = x->c->chain_count + 1;
    return CAF_OK;
}

static caf_status run_one(algo_ctx *x, const caf_exprun *runs, size_t count, const caf_iov *iov, int iteration,
                          const char *out_dir, bool boundaries, caf_algo_run_result *out, caf_error *err)
{
    char **names = NULL, **values = NULL;
    size_t n = 0;
    char *log = NULL, *db = NULL, *previous_state = NULL;
    caf_status rc = param_pairs(x->cfg->parameters, &names, &values, &n, err);
    if (rc == CAF_OK && (asprintf(&log, "%s/algorithm.log", out_dir) < 0 || asprintf(&db, "%s/database", out_dir) < 0))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    /* The JSON state passes from one execution to the next: kept by the driver and recorded with the
     * execution's row, so that it is as durable as the execution's record. */
    if (rc == CAF_OK && !boundaries && x->last_state && !(previous_state = strdup(x->last_state)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && !boundaries && !x->last_state && x->state->execution_count > 0) {
        char *prev = execution_dir(x, x->state->execution_count - 1), *path = NULL;
        size_t size;
        if (prev && asprintf(&path, "%s/state.json", prev) >= 0)
            caf_file_read(path, &previous_state, &size, NULL);
        free(prev);
        free(path);
    }
    caf_algo_run_spec spec = {
        .plugin = x->plugin,
        .algorithm = x->algorithm,
        .collector = x->c->cfg->collector,
        .inputs = (const char *const *)x->inputs,
        .input_count = x->input_count,
        .input_collections = x->input_collections,
        .input_collectors = x->input_collectors,
        .runs = runs,
        .run_count = count,
        .iteration = iteration,
        .iov = iov,
        .param_names = (const char *const *)names,
        .param_values = (const char *const *)values,
        .param_count = n,
        .chain = (const char *const *)x->c->chain,
        .chain_count = x->c->chain_count,
        .input_state = previous_state,
        .output_db = boundaries ? NULL : db,
        .output_db_staging = true, /* copied (and checked) into the iteration's database by cb_commit */
        .log_path = log,
        .find_boundaries = boundaries,
        .experiment_settings = !boundaries && x->has_settings,
        .settings_exp = x->settings_exp,
        .timeout_seconds = caf_algorithm_time_limit(x->c->loop->campaign, x->cfg),
        .memory_limit = (size_t)caf_algorithm_memory_limit_mb(x->c->loop->campaign, x->cfg) << 20,
        .python_path = x->c->loop->base_dir, /* a Python algorithm's modules may sit beside the campaign */
    };
    if (rc == CAF_OK && !x->zygote_tried) { /* the driver is a copy of the loop, large; the zygote holds only
                                                the plugin (or the interpreter with the module imported) */
        x->zygote_tried = true;
        caf_error why = {0};
        if (caf_algo_zygote_open(&spec, &x->zygote, &why) != CAF_OK)
            caf_warning("%s: algorithm %s: %s; executions are forked from the algorithm driver", x->c->cfg->name,
                        x->cfg->plugin, why.message);
    }
    spec.zygote = x->zygote;
    const char **chain = NULL;
    if (rc == CAF_OK && !boundaries) {
        spec.while_running = run_commit_queue_while_running;
        spec.while_running_ctx = &x->queue;
        rc = chain_with_waiting_commit(x, &chain, &spec.chain_count, err);
        if (chain)
            spec.chain = chain;
    }
    if (rc == CAF_OK)
        rc = caf_algo_run(&spec, out, err);
    if (chain)
        free((char *)chain[0]);
    free(chain);
    free_pairs(names, values, n);
    free(log);
    free(db);
    free(previous_state);
    return rc;
}

/* Keeps an execution's output state (NULL: none) as the next one's input, to be recorded with its row. The
 * folder's state.json, written when the state is not empty, is for reading: it is not made durable, the
 * row is. */
static caf_status keep_state(algo_ctx *x, const char *dir, const json_t *state, caf_error *err)
{
    free(x->last_state);
    x->last_state = state ? caf_json_dump_compact(state) : strdup("{}");
    if (!x->last_state)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char *path = NULL, *text = NULL;
    size_t size = 0;
    if (state && json_object_size(state) > 0 && asprintf(&path, "%s/state.json", dir) >= 0 &&
        (text = caf_json_dump_file_text(state, &size)) != NULL)
        caf_file_write_atomic_with(path, text, size, CAF_ATOMIC_SYNC_NONE, NULL);
    free(text);
    free(path);
    return CAF_OK;
}

static caf_status cb_execute(void *ctx, const caf_execution *e, caf_execution_result *result, caf_error *err)
{
    algo_ctx *x = ctx;
    char *dir = execution_dir(x, e->index);
    if (!dir)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    run_remove_tree(dir); /* what an interrupted attempt left */
    caf_status rc = caf_mkdir_p(dir, err);
    if (rc != CAF_OK) {
        free(dir);
        return rc;
    }
    caf_algo_run_result out = {0};
    caf_error run_err = {0};
    x->executed = true;
    x->last_executed = e->index;
    rc = run_one(x, e->runs, e->run_count, &e->iov, e->iteration, dir, false, &out, &run_err);
    if (rc != CAF_OK) { /* could not be set up: a failure of this execution, with the reason kept */
        *result = CAF_RESULT_FAILURE;
        snprintf(x->message, sizeof x->message, "%s", run_err.message);
    } else {
        *result = map_result(out.result);
        snprintf(x->message, sizeof x->message, "%s", out.message ? out.message : "");
        if (*result == CAF_RESULT_FAILURE)
            snprintf(x->failure, sizeof x->failure, "%s", x->message);
    }
    rc = keep_state(x, dir, rc == CAF_OK ? out.state : NULL, err);
    caf_algo_run_result_clear(&out);
    free(dir);
    /* the waiting commit was made while the child ran (or is made now, when none could start); a failed one
     * fails the algorithm with its message, before this execution is recorded */
    caf_status flushed = run_commit_queue_flush(&x->queue, rc == CAF_OK ? err : NULL);
    return rc != CAF_OK ? rc : flushed;
}

/* Each execution runs in a fresh child, so the experiment is remembered here and passed with every
 * following execution, whose child calls the algorithm's setup_experiment hook before calibrate. */
static caf_status cb_apply_experiment_settings(void *ctx, int exp, caf_error *err)
{
    algo_ctx *x = ctx;
    x->has_settings = true;
    x->settings_exp = exp;
    return run_commit_queue_flush(&x->queue, err);
}

static caf_status report_execution(algo_ctx *x, const caf_execution *e, bool is_new, caf_error *err);

/* Drops index from the executions whose commit is still to be reported. */
static void forget_pending(algo_ctx *x, size_t index)
{
    size_t kept = 0;
    for (size_t k = 0; k < x->pending_count; k++)
        if (x->pending[k] != index)
            x->pending[kept++] = x->pending[k];
    x->pending_count = kept;
}

/* Makes execution index's commit (run_commit_queue.h) and only then reports it to the loop. Repeated after
 * a kill between the two, the copy finds the lines already at the end of the database and adds nothing. */
static caf_status commit_now(void *ctx, size_t index, const char *message, caf_error *err)
{
    algo_ctx *x = ctx;
    const caf_execution *e = &x->state->executions[index];
    char *dir = execution_dir(x, e->index), *db = NULL;
    if (!dir || asprintf(&db, "%s/database", dir) < 0) {
        free(dir);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    /* The record goes with the lines: a payload in the database always has one (localdb_journal.c). */
    json_t *record = NULL;
    char *record_file = NULL;
    caf_status rc = x->lineage ? CAF_OK : run_lineage_open(x->c, x->index, &x->lineage, err);
    if (rc == CAF_OK)
        rc = run_lineage_record(x->lineage, e, dir, message, &record, &record_file, err);
    if (rc == CAF_OK && !x->out_db)
        rc = caf_localdb_open(x->database, CAF_LOCALDB_CREATE, &x->out_db, err);
    if (rc == CAF_OK)
        rc = record ? run_db_copy_staged_with_lineage(db, x->out_db, record_file, record, err)
                    : run_db_copy_staged(db, x->out_db, err);
    json_decref(record);
    free(record_file);
    free(dir);
    free(db);
    if (rc == CAF_OK)
        rc = report_execution(x, e, false, err);
    if (rc == CAF_OK)
        forget_pending(x, index);
    return rc;
}

/* Queues the commit, made while the next execution's child runs (run_commit_queue.h). */
static caf_status cb_commit(void *ctx, const caf_execution *e, caf_error *err)
{
    algo_ctx *x = ctx;
    return run_commit_queue_push(&x->queue, e->index,
                                 x->executed && x->last_executed == e->index ? x->message : NULL, err);
}

static caf_status cb_find_boundaries(void *ctx, const caf_exprun *runs, size_t count, caf_exprun **out,
                                     size_t *out_count, caf_error *err)
{
    algo_ctx *x = ctx;
    char *dir = NULL;
    caf_status flushed = run_commit_queue_flush(&x->queue, err); /* boundary finding reads the chain too */
    if (flushed != CAF_OK)
        return flushed;
    if (asprintf(&dir, "%s/boundaries_%d", x->dir, runs[0].exp) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_mkdir_p(dir, err);
    caf_algo_run_result res = {0};
    if (rc == CAF_OK)
        rc = run_one(x, runs, count, NULL, x->state->iteration, dir, true, &res, err);
    *out = NULL;
    *out_count = 0;
    if (rc == CAF_OK && res.boundary_count > 0) {
        if (!(*out = malloc(res.boundary_count * sizeof **out)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else {
            memcpy(*out, res.boundaries, res.boundary_count * sizeof **out);
            *out_count = res.boundary_count;
        }
    }
    caf_algo_run_result_clear(&res);
    free(dir);
    return rc;
}

static json_t *runs_json(const caf_exprun *runs, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        json_array_append_new(a, json_pack("[ii]", runs[i].exp, runs[i].run));
    return a;
}

/* Text for a report: JSON strings are UTF-8, a message may hold any bytes (a file name, a plugin's
 * words); those that are not UTF-8 become '?'. */
static json_t *text_json(const char *text)
{
    json_t *s = json_string(text ? text : "");
    if (s)
        return s;
    char *copy = strdup(text);
    for (unsigned char *p = (unsigned char *)copy; p && *p; p++)
        if (*p >= 0x80)
            *p = '?';
    s = copy ? json_string(copy) : NULL;
    free(copy);
    return s;
}

static caf_status report(algo_ctx *x, json_t *message, caf_error *err)
{
    if (run_driver_send(x->fd, message) != CAF_OK)
        return caf_error_set(err, CAF_ERR_IO, "%s: the run loop is gone", x->c->cfg->name);
    return CAF_OK;
}

/* committed only once the commit is made: the strategy marks it when the commit is queued */
static bool commit_made(const algo_ctx *x, const caf_execution *e)
{
    return e->committed && !run_commit_queue_holds(&x->queue, e->index);
}

static caf_status report_execution(algo_ctx *x, const caf_execution *e, bool is_new, caf_error *err)
{
    bool ran_here = is_new && x->executed && x->last_executed == e->index;
    return report(x, json_pack("{s:s, s:i, s:i, s:I, s:o, s:[iiii], s:s, s:b, s:o, s:o}", "t", "execution", "a",
                               x->index, "iteration", e->iteration, "index", (json_int_t)e->index, "runs",
                               runs_json(e->runs, e->run_count), "iov", e->iov.exp_low, e->iov.run_low,
                               e->iov.exp_high, e->iov.run_high, "result", caf_algorithm_result_name(e->result),
                               "committed", commit_made(x, e), "message", is_new ? text_json(x->message) : json_null(),
                               "state", ran_here && x->last_state ? json_string(x->last_state) : json_null()),
                  err);
}

/* Keeps i among the executions whose commit is still to be seen: only an uncommitted OK or ITERATE can be
 * committed later (caf_strategy_commit refuses the others). */
static caf_status track_pending(algo_ctx *x, const caf_execution *e, size_t i, caf_error *err)
{
    if (commit_made(x, e) || !(e->result == CAF_RESULT_OK || e->result == CAF_RESULT_ITERATE))
        return CAF_OK;
    if (x->pending_count == x->pending_capacity) {
        size_t cap = x->pending_capacity ? x->pending_capacity * 2 : 16;
        size_t *grown = realloc(x->pending, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        x->pending = grown;
        x->pending_capacity = cap;
    }
    x->pending[x->pending_count++] = i;
    return CAF_OK;
}

/* Reports what changed since the last call: new executions, new commits, new boundaries. Only the new
 * executions and the uncommitted successes are looked at, so a call costs what changed, not the number of
 * executions so far (a strategy calls it after every execution and commit). */
static caf_status cb_progress(void *ctx, const caf_strategy_state *s, caf_error *err)
{
    algo_ctx *x = ctx;
    caf_status rc = CAF_OK;
    size_t kept = 0;
    for (size_t k = 0; k < x->pending_count; k++) { /* commits of earlier executions */
        size_t i = x->pending[k];
        const caf_execution *e = &s->executions[i];
        if (i < s->execution_count && commit_made(x, e) && rc == CAF_OK)
            rc = report_execution(x, e, false, err);
        else if (i < s->execution_count && !commit_made(x, e))
            x->pending[kept++] = i;
    }
    x->pending_count = kept;
    for (size_t i = x->saved; i < s->execution_count && rc == CAF_OK; i++) {
        rc = report_execution(x, &s->executions[i], true, err);
        if (rc == CAF_OK)
            rc = track_pending(x, &s->executions[i], i, err);
    }
    if (rc == CAF_OK && s->execution_count > x->saved)
        x->saved = s->execution_count;
    for (size_t i = x->found_saved; i < s->found_count && rc == CAF_OK; i++)
        rc = report(x, json_pack("{s:s, s:i, s:i, s:i, s:o}", "t", "boundaries", "a", x->index, "iteration",
                                 s->iteration, "exp", s->found[i].exp, "runs",
                                 runs_json(s->found[i].boundaries, s->found[i].count)),
                    err);
    if (rc == CAF_OK)
        x->found_saved = s->found_count;
    return rc;
}

/* The runs every collection collected, together. */
static caf_status collected_runs(const run_cal *c, caf_exprun **runs, size_t *count, caf_error *err)
{
    caf_run_range rr = {0};
    size_t n = caf_calibration_collection_count(c->cfg);
    char **paths = calloc(n, sizeof *paths);
    caf_status rc = paths ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; rc == CAF_OK && k < n; k++)
        if (!(paths[k] = run_collection_output(c, c->cm.iteration, k)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = caf_collected_run_range_of_files((const char *const *)paths, n, &rr, err);
    for (size_t k = 0; paths && k < n; k++)
        free(paths[k]);
    free(paths);
    *runs = rr.runs;
    *count = rr.count;
    return rc;
}

static caf_status prepare_ctx(run_cal *c, int a, algo_ctx *x, caf_error *err)
{
    memset(x, 0, sizeof *x);
    x->c = c;
    x->index = a;
    x->cfg = &c->cfg->algorithms[a];
    char *it_dir = run_cal_iteration_dir(c, c->cm.iteration);
    x->plugin = strdup(x->cfg->plugin);
    char *colon = x->plugin ? strchr(x->plugin, ':') : NULL;
    if (colon) {
        *colon = '\0';
        x->algorithm = strdup(colon + 1);
    }
    char *name = strdup(x->cfg->plugin);
    for (char *p = name; p && *p; p++)
        if (*p == ':')
            *p = '_';
    bool ok = it_dir && x->plugin && name && (!colon || x->algorithm) &&
              asprintf(&x->dir, "%s/algorithms/%d_%s", it_dir, a, name) >= 0;
    size_t n = caf_calibration_collection_count(c->cfg);
    bool named = c->cfg->collection_count > 0;
    x->inputs = calloc(n, sizeof *x->inputs);
    if (named) {
        x->input_collections = calloc(n, sizeof *x->input_collections);
        x->input_collectors = calloc(n, sizeof *x->input_collectors);
    }
    ok = ok && x->inputs && (!named || (x->input_collections && x->input_collectors));
    for (size_t k = 0; ok && k < n; k++) {
        ok = (x->inputs[k] = run_collection_output(c, c->cm.iteration, k)) != NULL;
        x->input_count = k + 1;
        if (named) {
            x->input_collections[k] = c->cfg->collections[k]->name;
            x->input_collectors[k] = c->cfg->collections[k]->collector;
        }
    }
    x->database = run_cal_database(c, c->cm.iteration);
    free(it_dir);
    free(name);
    if (!ok || !x->database)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return caf_mkdir_p(x->dir, err);
}

static void clear_ctx(algo_ctx *x)
{
    free(x->plugin);
    free(x->algorithm);
    free(x->dir);
    for (size_t k = 0; k < x->input_count; k++)
        free(x->inputs[k]);
    free(x->inputs);
    free(x->input_collections);
    free(x->input_collectors);
    free(x->database);
    caf_localdb_close(x->out_db);
    free(x->pending);
    caf_algo_zygote_close(x->zygote);
    run_lineage_free(x->lineage);
    free(x->last_state);
    run_commit_queue_clear(&x->queue);
}

/* In the driver: runs (or replays) one algorithm's strategy from its recorded state and reports its
 * outcome. */
static caf_status run_algorithm(algo_plan *plan, int a, int fd, const caf_exprun *runs, size_t count,
                                caf_strategy_outcome *outcome, char *reason, size_t reason_size, caf_error *err)
{
    run_cal *c = plan->c;
    algo_ctx x;
    caf_strategy_state *state = &plan->states[a];
    caf_status rc = prepare_ctx(c, a, &x, err);
    x.fd = fd;
    run_commit_queue_init(&x.queue, commit_now, &x);
    if (rc == CAF_OK) {
        state->kind = x.cfg->strategy.kind; /* rows are recorded per algorithm, whose strategy cannot change */
        snprintf(state->plugin, sizeof state->plugin, "%s", x.cfg->strategy.plugin);
        x.state = state;
        x.saved = state->execution_count;
        x.last_state = plan->last_states[a];
        plan->last_states[a] = NULL;
        x.found_saved = state->found_count;
        for (size_t i = 0; rc == CAF_OK && i < state->execution_count; i++)
            rc = track_pending(&x, &state->executions[i], i, err);
    }
    if (rc == CAF_OK) {
        if (state->execution_count > 0)
            caf_info("%s: iteration %d: %s resumes after %zu recorded executions", c->cfg->name, c->cm.iteration,
                     x.cfg->plugin, state->execution_count);
        caf_strategy_callbacks cb = {.execute = cb_execute,
                                     .commit = cb_commit,
                                     .apply_experiment_settings = cb_apply_experiment_settings,
                                     .progress = cb_progress,
                                     .ctx = &x};
        if ((x.cfg->strategy.kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES && !x.cfg->strategy.has_payload_boundaries) ||
            x.cfg->strategy.kind == CAF_STRATEGY_PLUGIN) /* a plugin may ask for boundaries */
            cb.find_boundaries = cb_find_boundaries;
        /* caf run --iov: payloads and gaps stay inside the requested IoV */
        caf_strategy_params params;
        rc = caf_strategy_params_copy(&params, &x.cfg->strategy, err);
        if (rc == CAF_OK) {
            run_iov_clip_params(c->loop, &params);
            rc = caf_strategy_run(&params, c->cm.iteration, runs, count, c->cfg->ignored_runs,
                                  c->cfg->ignored_run_count, &cb, state, err);
            caf_strategy_params_clear(&params);
        }
    }
    /* the last commit waits for no further execution; after an error too, as it would have been made */
    caf_status flushed = run_commit_queue_flush(&x.queue, rc == CAF_OK ? err : NULL);
    if (rc == CAF_OK)
        rc = flushed;
    if (rc == CAF_OK) {
        char *it_dir = run_cal_iteration_dir(c, c->cm.iteration);
        char *name = strrchr(x.dir, '/') + 1;
        rc = it_dir ? caf_strategy_write_iov_gaps(state, it_dir, name, err)
                    : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(it_dir);
    }
    if (rc == CAF_OK && x.out_db) /* the commits are durable in database.txt before the outcome is recorded */
        rc = caf_localdb_checkpoint(x.out_db, err);
    if (rc == CAF_OK) {
        /* the strategy says which execution failed; the execution says why (a crash, a time or memory limit) */
        char why[1024];
        snprintf(why, sizeof why, "%s%s%s", state->reason,
                 state->outcome == CAF_OUTCOME_FAILED && x.failure[0] ? ": " : "",
                 state->outcome == CAF_OUTCOME_FAILED ? x.failure : "");
        *outcome = state->outcome;
        snprintf(reason, reason_size, "%s", why);
        rc = report(&x, json_pack("{s:s, s:i, s:s, s:s, s:o}", "t", "outcome", "a", a, "plugin", x.cfg->plugin,
                                  "outcome", caf_strategy_outcome_name(state->outcome), "reason", text_json(why)),
                    err);
    }
    clear_ctx(&x);
    return rc;
}

/* In the driver: the output database exists (an empty database.txt makes it valid before the first
 * commit), then every algorithm without a recorded outcome runs in order until one fails. */
static caf_status drive(algo_plan *plan, int fd, caf_error *err)
{
    run_cal *c = plan->c;
    char *text = NULL;
    char *database = run_cal_database(c, c->cm.iteration);
    caf_status rc = database ? caf_mkdir_p(database, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_exprun *runs = NULL;
    size_t count = 0;
    if (rc == CAF_OK)
        rc = collected_runs(c, &runs, &count, err);
    if (rc == CAF_OK) /* caf run --iov: only the runs inside it reach the strategies */
        count = run_iov_filter(c->loop, runs, count);
    if (rc == CAF_OK && asprintf(&text, "%s/%s", database, CAF_LOCALDB_TEXT_FILE) >= 0 && access(text, F_OK) != 0)
        rc = caf_file_write_atomic(text, "", 0, err);
    free(text);
    for (size_t a = 0; rc == CAF_OK && a < c->cfg->algorithm_count; a++) {
        if (plan->outcomes[a] != CAF_OUTCOME_NONE)
            continue;
        caf_strategy_outcome one = CAF_OUTCOME_NONE;
        char why[1024];
        if ((rc = run_algorithm(plan, (int)a, fd, runs, count, &one, why, sizeof why, err)) != CAF_OK ||
            one == CAF_OUTCOME_FAILED)
            break;
    }
    free(runs);
    free(database);
    return rc;
}

static void driver_main(void *arg, int fd)
{
    caf_error err = {0};
    caf_status rc = drive(arg, fd, &err);
    if (rc == CAF_OK)
        rc = run_driver_send(fd, json_pack("{s:s}", "t", "done"));
    else
        run_driver_send(fd, json_pack("{s:s, s:i, s:o}", "t", "error", "code", (int)rc, "message",
                                      text_json(err.message)));
    _exit(rc == CAF_OK ? 0 : 1);
}

/* ---- in the loop ---- */

static caf_status runs_from(const json_t *list, caf_exprun **out, size_t *count, caf_error *err)
{
    size_t n = json_array_size(list);
    *count = 0;
    if (!(*out = calloc(n ? n : 1, sizeof **out)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(list, i);
        (*out)[i] = (caf_exprun){(int)json_integer_value(json_array_get(pair, 0)),
                                 (int)json_integer_value(json_array_get(pair, 1))};
    }
    *count = n;
    return CAF_OK;
}

static caf_strategy_outcome outcome_of(const char *name)
{
    for (int o = CAF_OUTCOME_NONE; o <= CAF_OUTCOME_FAILED; o++)
        if (name && !strcmp(name, caf_strategy_outcome_name((caf_strategy_outcome)o)))
            return (caf_strategy_outcome)o;
    return CAF_OUTCOME_NONE;
}

/* Records one report of c's driver as rows of the state database. */
static caf_status on_report(void *ctx, json_t *m, caf_error *err)
{
    run_cal *c = ctx;
    sqlite3 *db = c->loop->db;
    const char *type = json_string_value(json_object_get(m, "t"));
    int a = (int)json_integer_value(json_object_get(m, "a"));
    caf_status rc = CAF_OK;
    if (type && !strcmp(type, "execution")) {
        json_t *iov = json_object_get(m, "iov");
        caf_execution e = {.index = (size_t)json_integer_value(json_object_get(m, "index")),
                           .iteration = (int)json_integer_value(json_object_get(m, "iteration")),
                           .iov = {(int)json_integer_value(json_array_get(iov, 0)),
                                   (int)json_integer_value(json_array_get(iov, 1)),
                                   (int)json_integer_value(json_array_get(iov, 2)),
                                   (int)json_integer_value(json_array_get(iov, 3))},
                           .committed = json_is_true(json_object_get(m, "committed"))};
        if (!caf_algorithm_result_parse(json_string_value(json_object_get(m, "result")), &e.result))
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: the algorithm driver reported an unknown result",
                                 c->cfg->name);
        const char *message = json_string_value(json_object_get(m, "message")); /* only with a new one */
        if ((rc = runs_from(json_object_get(m, "runs"), &e.runs, &e.run_count, err)) == CAF_OK)
            rc = run_db_save_execution(db, c->cfg->name, a, &e, message,
                                       json_string_value(json_object_get(m, "state")), err);
        /* logged once recorded: a run killed in between runs it again on resume, and logs it once */
        if (rc == CAF_OK && message && e.run_count > 0 && a >= 0 && (size_t)a < c->cfg->algorithm_count) {
            char iov_text[96];
            caf_iov_format(e.iov, iov_text, sizeof iov_text);
            caf_info("%s: iteration %d: %s execution %zu on runs %d.%d..%d.%d (%zu), IoV %s: %s%s%s", c->cfg->name,
                     e.iteration, c->cfg->algorithms[a].plugin, e.index, e.runs[0].exp, e.runs[0].run,
                     e.runs[e.run_count - 1].exp, e.runs[e.run_count - 1].run, e.run_count, iov_text,
                     caf_algorithm_result_name(e.result), message[0] ? ": " : "", message);
        }
        free(e.runs);
    } else if (type && !strcmp(type, "boundaries")) {
        caf_found_boundaries f = {.exp = (int)json_integer_value(json_object_get(m, "exp"))};
        if ((rc = runs_from(json_object_get(m, "runs"), &f.boundaries, &f.count, err)) == CAF_OK)
            rc = run_db_save_boundaries(db, c->cfg->name, (int)json_integer_value(json_object_get(m, "iteration")),
                                        a, &f, err);
        free(f.boundaries);
    } else if (type && !strcmp(type, "outcome")) {
        rc = run_db_save_outcome(db, c->cfg->name, c->cm.iteration, a,
                                 json_string_value(json_object_get(m, "plugin")),
                                 outcome_of(json_string_value(json_object_get(m, "outcome"))),
                                 json_string_value(json_object_get(m, "reason")), err);
    } else if (type && !strcmp(type, "done")) {
        c->driver_done = true;
    } else if (type && !strcmp(type, "error")) {
        const char *message = json_string_value(json_object_get(m, "message"));
        int code = (int)json_integer_value(json_object_get(m, "code"));
        rc = caf_error_set(err, code > 0 ? (caf_status)code : CAF_ERR_STATE, "%s",
                           message ? message : "the algorithm driver failed");
    } else {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: the algorithm driver sent an unknown report", c->cfg->name);
    }
    return rc;
}

/* The phase's outcome from the recorded outcomes: *complete when every algorithm has one or one failed. */
static caf_status recorded_outcome(run_cal *c, caf_strategy_outcome *outcomes, bool *complete,
                                   caf_strategy_outcome *outcome, char *reason, size_t reason_size, caf_error *err)
{
    *complete = true;
    *outcome = CAF_OUTCOME_COMPLETED;
    reason[0] = '\0';
    for (size_t a = 0; a < c->cfg->algorithm_count; a++) {
        char why[1024];
        caf_strategy_outcome one;
        caf_status rc = run_db_load_outcome(c->loop->db, c->cfg->name, c->cm.iteration, (int)a, &one, why,
                                            sizeof why, err);
        if (rc != CAF_OK)
            return rc;
        if (outcomes)
            outcomes[a] = one;
        if (one == CAF_OUTCOME_NONE) {
            *complete = false;
        } else if (one == CAF_OUTCOME_FAILED && *complete) {
            *outcome = CAF_OUTCOME_FAILED;
            snprintf(reason, reason_size, "algorithm %s: %s", c->cfg->algorithms[a].plugin, why);
            return CAF_OK;
        } else if (one == CAF_OUTCOME_ITERATE) {
            *outcome = CAF_OUTCOME_ITERATE;
        }
    }
    return CAF_OK;
}

static void plan_clear(algo_plan *p, size_t count)
{
    for (size_t a = 0; p->states && a < count; a++)
        caf_strategy_state_clear(&p->states[a]);
    for (size_t a = 0; p->last_states && a < count; a++)
        free(p->last_states[a]);
    free(p->last_states);
    free(p->states);
    free(p->outcomes);
}

/* Loads what was recorded and forks the driver. */
static caf_status start_driver(run_cal *c, caf_error *err)
{
    size_t n = c->cfg->algorithm_count;
    algo_plan plan = {.c = c, .states = calloc(n ? n : 1, sizeof *plan.states),
                      .outcomes = calloc(n ? n : 1, sizeof *plan.outcomes),
                      .last_states = calloc(n ? n : 1, sizeof *plan.last_states)};
    bool complete;
    caf_strategy_outcome outcome;
    char reason[1024];
    caf_status rc = plan.states && plan.outcomes && plan.last_states ? CAF_OK
                                                                     : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = recorded_outcome(c, plan.outcomes, &complete, &outcome, reason, sizeof reason, err);
    for (size_t a = 0; rc == CAF_OK && a < n; a++) {
        caf_strategy_state_init(&plan.states[a]);
        if (plan.outcomes[a] == CAF_OUTCOME_NONE)
            rc = run_db_load_strategy(c->loop->db, c->cfg->name, c->cm.iteration, (int)a, &plan.states[a], err);
        if (rc == CAF_OK && plan.outcomes[a] == CAF_OUTCOME_NONE)
            rc = run_db_load_last_state(c->loop->db, c->cfg->name, c->cm.iteration, (int)a, &plan.last_states[a],
                                        err);
    }
    if (rc == CAF_OK)
        rc = run_cal_build_chain(c, err);
    if (rc == CAF_OK)
        rc = run_driver_start(&c->driver, c->cfg->name, driver_main, &plan, err);
    if (rc == CAF_OK) {
        c->driver_done = false;
        c->loop->drivers++;
    }
    plan_clear(&plan, n);
    return rc;
}

static void stop_driver(run_cal *c)
{
    run_driver_free(c->driver);
    c->driver = NULL;
    c->loop->drivers--;
}

/* Prefixes a dead driver's description with the algorithm it was running (the first one without a recorded
 * outcome, as the driver runs them in order) and that algorithm's strategy: executions run in children of
 * their own, so a driver that dies was most likely in the strategy's code, a plugin's perhaps. */
static void name_running_algorithm(run_cal *c, char *buf, size_t size)
{
    for (size_t a = 0; a < c->cfg->algorithm_count; a++) {
        caf_strategy_outcome outcome;
        char why[8];
        if (run_db_load_outcome(c->loop->db, c->cfg->name, c->cm.iteration, (int)a, &outcome, why, sizeof why,
                                NULL) != CAF_OK || outcome != CAF_OUTCOME_NONE)
            continue;
        const caf_algorithm_config *cfg = &c->cfg->algorithms[a];
        char copy[512];
        snprintf(copy, sizeof copy, "%s", buf);
        snprintf(buf, size, "algorithm %s under strategy %s%s: %s", cfg->plugin,
                 cfg->strategy.kind == CAF_STRATEGY_PLUGIN ? "plugin " : "", caf_strategy_params_name(&cfg->strategy),
                 copy);
        return;
    }
}

caf_status run_algorithms_step(run_cal *c, bool *finished, caf_strategy_outcome *outcome, char *reason,
                               size_t reason_size, bool *moved, caf_error *err)
{
    *finished = false;
    caf_status rc;
    bool reported_done = false;
    const volatile sig_atomic_t *stop = c->loop->options->stop;
    if (stop && *stop)
        return CAF_OK; /* interrupted: an execution killed by Ctrl-C is not recorded as a failure */
    if (c->driver) {
        bool exited = run_driver_exited(c->driver); /* first: what it sent before it ended is read next */
        if ((rc = run_driver_read(c->driver, on_report, c, err)) != CAF_OK) {
            stop_driver(c);
            return rc;
        }
        if (!c->driver_done && !exited)
            return CAF_OK;
        char ended[512];
        run_driver_describe_end(c->driver, ended, sizeof ended);
        if (!c->driver_done)
            name_running_algorithm(c, ended, sizeof ended);
        reported_done = c->driver_done;
        c->driver_done = false;
        stop_driver(c);
        *moved = true;
        if (!reported_done) {
            *finished = true;
            *outcome = CAF_OUTCOME_FAILED;
            snprintf(reason, reason_size, "%s", ended);
            return CAF_OK;
        }
    }
    bool complete;
    if ((rc = recorded_outcome(c, NULL, &complete, outcome, reason, reason_size, err)) != CAF_OK)
        return rc;
    if (complete) {
        *finished = true;
        return CAF_OK;
    }
    if (reported_done) /* it said it was done without an outcome for every algorithm */
        return caf_error_set(err, CAF_ERR_STATE, "internal error: %s: the algorithm driver ended without every "
                             "algorithm's outcome", c->cfg->name);
    if (c->loop->drivers >= c->loop->max_drivers)
        return CAF_OK; /* waits for another calibration's algorithms to finish */
    *moved = true;
    return start_driver(c, err);
}
