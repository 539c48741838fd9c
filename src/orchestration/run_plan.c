/* `caf plan`: what `caf run` would do, without doing it. The plan is built by the run's own code: the same
 * checks (run_check_campaign, run_check_recorded), the same collector jobs (run_collect_prepare: inputs,
 * file index, ignored runs, --iov, max_files_per_run, splitter), the same database chains
 * (run_cal_build_chain) and the strategies themselves, run on the expected runs with an algorithm that
 * always succeeds, so the IoVs they would give are the strategies' own answer, not a second copy of their
 * rules. Nothing is submitted and nothing is written but the file-index cache in the output folder (so
 * that the run after the plan starts warm). On a folder holding an earlier run the state database is read
 * (read-only) to say what is done and what remains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "orchestration/run_internal.h"

static json_t *exprun_json(caf_exprun r)
{
    return json_pack("[ii]", r.exp, r.run);
}

static json_t *iov_json(caf_iov v)
{
    return json_pack("[iiii]", v.exp_low, v.run_low, v.exp_high, v.run_high);
}

static json_t *runs_json(const caf_exprun *runs, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, exprun_json(runs[i]));
    return list;
}

/* A growable list of runs. */
typedef struct run_list {
    caf_exprun *items;
    size_t count, cap;
} run_list;

static caf_status run_list_push(run_list *l, caf_exprun r, caf_error *err)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        caf_exprun *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->count++] = r;
    return CAF_OK;
}

/* What the calibration's strategies will see from one file: its runs inside the requested IoV, not
 * ignored (the collector collects every run of a kept file; the loop and the strategy drop the rest). */
static caf_status push_file_runs(const run_cal *c, const caf_indexed_file *f, run_list *runs, caf_error *err)
{
    caf_status rc = CAF_OK;
    for (size_t r = 0; rc == CAF_OK && r < f->n_runs; r++) {
        caf_exprun run = {f->runs[r].exp, f->runs[r].run};
        if (!run_is_ignored(c->cfg, run) && run_iov_wants(c->loop, run))
            rc = run_list_push(runs, run, err);
    }
    return rc;
}

static void min_max(size_t v, size_t *lo, size_t *hi, bool first)
{
    if (first || v < *lo)
        *lo = v;
    if (first || v > *hi)
        *hi = v;
}

static json_t *optional_long(long v)
{
    return v > 0 ? json_integer(v) : json_null();
}

/* The collector job as the run would submit it: each subjob's files and runs, backend and resources. Every
 * run of the job is appended to all (the calibration's runs). */
static caf_status job_json(const run_cal *c, const caf_job *job, const caf_indexed_file **kept, run_list *all,
                           json_t **out, caf_error *err)
{
    json_t *subjobs = json_array();
    run_list one = {0};
    size_t cursor = 0, files_lo = 0, files_hi = 0, runs_lo = 0, runs_hi = 0;
    caf_status rc = subjobs ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < job->n_subjobs; i++) {
        const caf_subjob *s = &job->subjobs[i];
        one.count = 0;
        for (size_t f = 0; rc == CAF_OK && f < s->input_files.count; f++)
            rc = push_file_runs(c, kept[cursor++], &one, err);
        one.count = caf_exprun_sort_unique(one.items, one.count);
        for (size_t r = 0; rc == CAF_OK && r < one.count; r++)
            rc = run_list_push(all, one.items[r], err);
        min_max(s->input_files.count, &files_lo, &files_hi, i == 0);
        min_max(one.count, &runs_lo, &runs_hi, i == 0);
        json_t *item = json_pack("{s:i, s:I, s:I}", "index", (int)i, "files", (json_int_t)s->input_files.count,
                                 "runs", (json_int_t)one.count);
        if (item && one.count) {
            json_object_set_new(item, "first_run", exprun_json(one.items[0]));
            json_object_set_new(item, "last_run", exprun_json(one.items[one.count - 1]));
        }
        if (rc == CAF_OK && (!item || json_array_append_new(subjobs, item) != 0))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    free(one.items);
    const caf_backend_args *a = &job->backend_args;
    char split[96];
    if (job->splitter.max_subjobs > 0)
        snprintf(split, sizeof split, "input files spread over at most %ld jobs: max_collector_jobs",
                 job->splitter.max_subjobs);
    else
        snprintf(split, sizeof split, "at most %ld input file%s per job: max_files_per_collector_job",
                 job->splitter.max_files_per_subjob, job->splitter.max_files_per_subjob == 1 ? "" : "s");
    *out = rc == CAF_OK ? json_pack("{s:I, s:s, s:{s:o, s:o, s:o, s:o}, s:s, s:[II], s:[II], s:o}", "count",
                                    (json_int_t)job->n_subjobs, "backend", job->backend, "resources", "queue",
                                    a->queue ? json_string(a->queue) : json_null(), "memory_mb",
                                    optional_long(a->memory_mb), "time_s", optional_long(a->time_s), "cores",
                                    optional_long(a->cores), "split", split, "files_per_job", (json_int_t)files_lo,
                                    (json_int_t)files_hi, "runs_per_job", (json_int_t)runs_lo, (json_int_t)runs_hi,
                                    "subjobs", subjobs)
                        : NULL;
    if (rc == CAF_OK && !*out)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc != CAF_OK)
        json_decref(subjobs);
    return rc;
}

/* The runs the index found: how many, which ignored ones are in the data, how many lie outside --iov. */
static caf_status found_runs_json(const run_cal *c, caf_file_index *ix, json_t *col, caf_error *err)
{
    const caf_run_files *runs;
    size_t n = 0, outside = 0;
    caf_status rc = caf_file_index_runs(ix, &runs, &n, err);
    json_t *ignored = json_array();
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        if (run_is_ignored(c->cfg, runs[i].run))
            json_array_append_new(ignored, exprun_json(runs[i].run));
        else if (!run_iov_wants(c->loop, runs[i].run))
            outside++;
    }
    caf_file_index_stats stats = caf_file_index_get_stats(ix);
    json_object_set_new(col, "input_files", json_integer((json_int_t)caf_file_index_count(ix)));
    json_object_set_new(col, "files_from_index_cache", json_integer((json_int_t)stats.cache_hits));
    json_object_set_new(col, "runs_found", json_integer((json_int_t)n));
    json_object_set_new(col, "ignored_runs", ignored);
    json_object_set_new(col, "runs_outside_iov", json_integer((json_int_t)outside));
    return rc;
}

static bool is_input_problem(caf_status rc)
{
    return rc == CAF_ERR_INVALID || rc == CAF_ERR_NOT_FOUND || rc == CAF_ERR_FORMAT;
}

/* Plans collection k of c: its job and the runs it brings (appended to all). An input problem is stored
 * in *problem (the run would fail the calibration with it) and is not an error. */
static caf_status plan_collection(run_cal *c, size_t k, const char *cache, run_list *all, json_t **out,
                                  char *problem, size_t problem_size, caf_error *err)
{
    run_collection col = {0};
    caf_file_index *ix = NULL;
    const caf_indexed_file **kept = NULL;
    caf_error local = {0};
    caf_status rc = run_collect_prepare(c, k, cache, &col, &ix, &kept, &local);
    *out = json_pack("{s:s, s:s}", "name", col.cfg.name ? col.cfg.name : CAF_DEFAULT_COLLECTION, "collector",
                     col.cfg.collector ? col.cfg.collector : "");
    if (!*out)
        rc = caf_error_set(&local, CAF_ERR_NOMEM, "out of memory");
    if (is_input_problem(rc)) {
        snprintf(problem, problem_size, "collector input: %s", local.message);
        json_object_set_new(*out, "problem", json_string(problem));
        rc = CAF_OK;
    } else if (rc != CAF_OK) {
        *err = local;
    } else {
        json_t *jobs = NULL;
        rc = found_runs_json(c, ix, *out, err);
        json_object_set_new(*out, "files_selected", json_integer((json_int_t)col.job.input_files.count));
        if (rc == CAF_OK && (rc = job_json(c, &col.job, kept, all, &jobs, err)) == CAF_OK)
            json_object_set_new(*out, "jobs", jobs);
    }
    caf_job_close(&col.job);
    free(kept);
    caf_file_index_close(ix);
    return rc;
}

/* ---- the strategies on the expected runs ---- */

static caf_status always_ok(void *ctx, const caf_execution *e, caf_execution_result *result, caf_error *err)
{
    (void)ctx, (void)e, (void)err;
    *result = CAF_RESULT_OK;
    return CAF_OK;
}

static caf_status nothing_to_commit(void *ctx, const caf_execution *e, caf_error *err)
{
    (void)ctx, (void)e, (void)err;
    return CAF_OK;
}

static caf_status no_settings(void *ctx, int exp, caf_error *err)
{
    (void)ctx, (void)exp, (void)err;
    return CAF_OK;
}

static json_t *iovs_json(const caf_iov *iovs, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, iov_json(iovs[i]));
    return list;
}

/* Runs the algorithm's strategy on the runs with an algorithm that always succeeds: the IoVs it gives
 * then are those of the real run whenever every execution has enough data. */
static caf_status simulate(const run_cal *c, const caf_algorithm_config *alg, const caf_exprun *runs, size_t count,
                           caf_strategy_state *state, caf_error *err)
{
    caf_strategy_params params;
    caf_status rc = caf_strategy_params_copy(&params, &alg->strategy, err);
    if (rc != CAF_OK)
        return rc;
    run_iov_clip_params(c->loop, &params);
    caf_strategy_callbacks cb = {.execute = always_ok, .commit = nothing_to_commit,
                                 .apply_experiment_settings = no_settings};
    rc = caf_strategy_run(&params, c->cm.iteration, runs, count, c->cfg->ignored_runs, c->cfg->ignored_run_count,
                          &cb, state, err);
    caf_strategy_params_clear(&params);
    return rc;
}

static caf_status algorithm_json(const run_cal *c, size_t a, const caf_exprun *runs, size_t count, json_t **out,
                                 caf_error *err)
{
    const caf_algorithm_config *alg = &c->cfg->algorithms[a];
    const caf_strategy_params *p = &alg->strategy;
    *out = json_pack("{s:i, s:s, s:s}", "index", (int)a, "plugin", alg->plugin, "strategy",
                     caf_strategy_params_name(p));
    if (!*out)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (p->has_iov_coverage)
        json_object_set_new(*out, "iov_coverage", iov_json(p->iov_coverage));
    const char *known, *note;
    if (p->kind == CAF_STRATEGY_PLUGIN) {
        known = "unknown";
        note = "a strategy plugin decides its executions and IoVs while it runs";
    } else if (p->kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES && !p->has_payload_boundaries) {
        known = "unknown";
        note = "the algorithm finds the payload boundaries while it runs";
    } else if (count == 0) {
        known = "unknown";
        note = "no runs to calibrate";
    } else if (p->kind == CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN) {
        known = "spans";
        note = "one payload per step_size runs at most, tiling each experiment's span; runs without enough data "
               "share the next payload";
    } else if (p->kind == CAF_STRATEGY_SEQUENTIAL_BOUNDARIES) {
        known = "segments";
        note = "one payload per segment between payload_boundaries; a segment without enough data shares the "
               "next one's payload";
    } else {
        known = "exact";
        note = p->kind == CAF_STRATEGY_SINGLE_IOV ? "one payload over every run" : "one payload per run; a run "
               "whose execution fails gets none";
    }
    json_object_set_new(*out, "known", json_string(known));
    json_object_set_new(*out, "note", json_string(note));
    if (!strcmp(known, "unknown"))
        return CAF_OK;
    caf_strategy_state state;
    caf_strategy_state_init(&state);
    caf_iov *iovs = NULL;
    size_t n = 0;
    caf_status rc = simulate(c, alg, runs, count, &state, err);
    if (rc == CAF_OK)
        rc = caf_strategy_committed_iovs(&state, &iovs, &n, err);
    if (rc == CAF_OK && !strcmp(known, "spans")) {
        json_object_set_new(*out, "iovs", iovs_json(state.responsible, state.responsible_count));
        json_object_set_new(*out, "executions_at_most", json_integer((json_int_t)state.execution_count));
    } else if (rc == CAF_OK) {
        json_object_set_new(*out, "iovs", iovs_json(iovs, n));
        json_object_set_new(*out, "executions", json_integer((json_int_t)state.execution_count));
    }
    free(iovs);
    caf_strategy_state_clear(&state);
    return rc;
}

/* ---- what an earlier run did ---- */

static const json_t *recorded_calibration(const json_t *status, const char *name)
{
    size_t i;
    json_t *cal;
    json_array_foreach(json_object_get(status, "calibrations"), i, cal)
        if (!strcmp(json_string_value(json_object_get(cal, "name")), name))
            return cal;
    return NULL;
}

static json_int_t count_of(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* "done" (what the folder records) and "remaining" (one line) of a calibration. */
static void add_progress(json_t *plan, const json_t *recorded, size_t algorithm_count, size_t planned_jobs)
{
    const char *state = recorded ? json_string_value(json_object_get(recorded, "state")) : "init";
    bool started = recorded && strcmp(state, "init") != 0;
    char remaining[768];
    if (!started) {
        snprintf(remaining, sizeof remaining, "everything: not started");
        json_object_set_new(plan, "done", json_null());
        json_object_set_new(plan, "remaining", json_string(remaining));
        return;
    }
    const json_t *subjobs = json_object_get(recorded, "subjobs");
    size_t finished = 0, executions = 0, i;
    json_t *alg;
    json_array_foreach(json_object_get(recorded, "algorithms"), i, alg) {
        const char *outcome = json_string_value(json_object_get(alg, "outcome"));
        finished += outcome && strcmp(outcome, "running") != 0;
        executions += json_array_size(json_object_get(alg, "executions"));
    }
    int iteration = (int)count_of(recorded, "iteration");
    json_object_set_new(plan, "done", json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:I}", "state", state, "iteration",
                                                iteration, "reason",
                                                json_string_value(json_object_get(recorded, "reason")),
                                                "subjobs_completed", count_of(subjobs, "completed"), "subjobs_total",
                                                count_of(subjobs, "total"), "algorithms_finished",
                                                (json_int_t)finished, "executions", (json_int_t)executions));
    if (!strcmp(state, "completed"))
        snprintf(remaining, sizeof remaining, "nothing: completed at iteration %d", iteration);
    else if (!strcmp(state, "failed"))
        snprintf(remaining, sizeof remaining, "failed at iteration %d (%.500s): caf run retries it from the step "
                 "that failed", iteration, json_string_value(json_object_get(recorded, "reason")));
    else if (!strcmp(state, "running_collector")) {
        /* a rewound iteration has no subjob rows until its jobs are opened again */
        long long total = count_of(subjobs, "total") ? (long long)count_of(subjobs, "total") : (long long)planned_jobs;
        snprintf(remaining, sizeof remaining, "iteration %d: %lld of %lld collector subjobs still to finish, then "
                 "the algorithms", iteration, total - (long long)count_of(subjobs, "completed"), total);
    }
    else
        snprintf(remaining, sizeof remaining, "iteration %d: the algorithms (%zu of %zu finished, %zu executions "
                 "recorded)", iteration, finished, algorithm_count, executions);
    json_object_set_new(plan, "remaining", json_string(remaining));
}

/* ---- one calibration ---- */

static caf_status plan_calibration(run_cal *c, int wave, const char *cache, const json_t *status, json_t **out,
                                   bool *problem_found, caf_error *err)
{
    const caf_calibration_config *cfg = c->cfg;
    json_t *plan = json_pack("{s:s, s:i, s:o, s:i, s:i, s:s}", "name", cfg->name, "wave", wave, "depends_on",
                             json_array(), "iteration", c->cm.iteration, "max_iterations", cfg->max_iterations,
                             "backend", caf_calibration_backend(c->loop->campaign, cfg));
    json_t *collections = json_array(), *chain = json_array(), *algorithms = json_array();
    caf_status rc = plan && collections && chain && algorithms ? CAF_OK
                                                               : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t d = 0; rc == CAF_OK && d < cfg->depends_on.count; d++)
        json_array_append_new(json_object_get(plan, "depends_on"), json_string(cfg->depends_on.items[d]));
    if (rc == CAF_OK)
        rc = run_cal_build_chain(c, err);
    for (size_t i = 0; rc == CAF_OK && i < c->chain_count; i++)
        json_array_append_new(chain, run_chain_item_json(c->chain[i], c->chain_sources[i]));
    run_list runs = {0};
    char problem[1200] = "";
    for (size_t k = 0; rc == CAF_OK && !problem[0] && k < caf_calibration_collection_count(cfg); k++) {
        json_t *col = NULL;
        rc = plan_collection(c, k, cache, &runs, &col, problem, sizeof problem, err);
        if (col)
            json_array_append_new(collections, col);
    }
    /* the runs the strategies get: every collection's, sorted once, inside --iov */
    runs.count = caf_exprun_sort_unique(runs.items, runs.count);
    runs.count = run_iov_filter(c->loop, runs.items, runs.count);
    for (size_t a = 0; rc == CAF_OK && !problem[0] && a < cfg->algorithm_count; a++) {
        json_t *alg = NULL;
        if ((rc = algorithm_json(c, a, runs.items, runs.count, &alg, err)) == CAF_OK)
            json_array_append_new(algorithms, alg);
        else
            json_decref(alg);
    }
    if (rc == CAF_OK) {
        json_object_set_new(plan, "collections", collections);
        json_object_set_new(plan, "runs", runs_json(runs.items, runs.count));
        json_object_set_new(plan, "database_chain", chain);
        json_object_set_new(plan, "algorithms", algorithms);
        if (problem[0])
            json_object_set_new(plan, "problem", json_string(problem));
        size_t jobs = 0, k;
        json_t *col;
        json_array_foreach(collections, k, col)
            jobs += (size_t)json_integer_value(json_object_get(json_object_get(col, "jobs"), "count"));
        add_progress(plan, recorded_calibration(status, cfg->name), cfg->algorithm_count, jobs);
        *problem_found = *problem_found || problem[0];
        *out = plan;
    } else {
        json_decref(plan);
        json_decref(collections);
        json_decref(chain);
        json_decref(algorithms);
    }
    free(runs.items);
    return rc;
}

/* ---- the campaign ---- */

/* Fills the loop's calibrations as the run would restore them: folder and recorded iteration. */
static caf_status restore(run_loop *loop, caf_error *err)
{
    caf_status rc = run_cals_create(loop, err);
    for (size_t i = 0; i < loop->count && rc == CAF_OK; i++) {
        run_cal *c = &loop->cals[i];
        run_cal_row row = {0};
        if (loop->db && (rc = run_db_load_calibration(loop->db, c->cfg->name, &row, err)) == CAF_OK && row.found)
            c->cm.iteration = row.iteration;
        free(row.config);
    }
    return rc;
}

static void close_plan_loop(run_loop *loop)
{
    for (size_t i = 0; loop->cals && i < loop->count; i++) {
        run_cal_free_chain(&loop->cals[i]);
        free(loop->cals[i].dir);
    }
    free(loop->cals);
    run_db_close(loop->db);
    free(loop->dir);
    free(loop->caf_command);
    free(loop->base_dir);
}

/* Opens the state database of an earlier run read-only and refuses what the run would refuse. */
static caf_status check_earlier_run(run_loop *loop, json_t **status, caf_error *err)
{
    char *state = caf_path_join(loop->dir, CAF_RUN_STATE_FILE);
    if (!state)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    bool earlier = caf_path_exists(state);
    free(state);
    if (!earlier)
        return CAF_OK;
    caf_config_problems problems = {0};
    caf_status rc = run_db_open(loop->dir, RUN_DB_READ, &loop->db, err);
    if (rc == CAF_OK && (rc = run_check_recorded(loop, &problems, err)) == CAF_OK && problems.count > 0)
        rc = run_report_problems(loop->campaign, &problems, "against the recorded run", err);
    if (rc == CAF_OK)
        rc = caf_run_status(loop->dir, status, err);
    caf_config_problems_clear(&problems);
    return rc;
}

caf_status caf_run_plan(const caf_campaign *campaign, const caf_run_options *options, json_t **out,
                        caf_error *err)
{
    *out = NULL;
    caf_run_options defaults = {0};
    const caf_run_options *o = options ? options : &defaults;
    caf_config_problems problems = {0};
    if (run_check_campaign(campaign, o, &problems) > 0) {
        caf_status rc = run_report_problems(campaign, &problems, "in the campaign", err);
        caf_config_problems_clear(&problems);
        return rc;
    }
    caf_status rc = run_check_iov(o, err);
    if (rc != CAF_OK)
        return rc;
    run_loop loop = {.campaign = campaign, .options = o, .count = campaign->calibration_count};
    loop.dir = run_output_folder(campaign->output_dir, o->base_dir);
    loop.caf_command = strdup(o->caf_command ? o->caf_command : "caf");
    loop.base_dir = o->base_dir ? run_absolute_path(o->base_dir) : NULL;
    char *cache = loop.dir ? caf_path_join(loop.dir, "file_index.sqlite") : NULL;
    int *waves = calloc(loop.count + 1, sizeof *waves);
    json_t *status = NULL, *cals = json_array();
    bool problem = false;
    rc = cache && loop.caf_command && (!o->base_dir || loop.base_dir) && waves && cals
             ? caf_campaign_waves(campaign, waves, err)
             : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = check_earlier_run(&loop, &status, err);
    if (rc == CAF_OK) /* the index cache lives in the output folder, where the run will find it */
        rc = caf_mkdir_p(loop.dir, err);
    if (rc == CAF_OK)
        rc = restore(&loop, err);
    for (size_t i = 0; rc == CAF_OK && i < loop.count; i++) {
        json_t *cal = NULL;
        if ((rc = plan_calibration(&loop.cals[i], waves[i], cache, status, &cal, &problem, err)) == CAF_OK)
            json_array_append_new(cals, cal);
    }
    if (rc == CAF_OK) {
        char iov[CAF_IOV_TEXT_MAX];
        *out = json_pack("{s:o, s:s, s:s, s:o, s:b, s:b, s:o}", "campaign",
                         campaign->source ? json_string(campaign->source) : json_null(), "output_dir", loop.dir,
                         "backend", campaign->backend ? campaign->backend : "local", "iov",
                         o->iov ? json_string(caf_iov_format(*o->iov, iov, sizeof iov)) : json_null(),
                         "earlier_run", status != NULL, "problems", problem, "calibrations", cals);
        cals = NULL;
        if (!*out)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    json_decref(cals);
    json_decref(status);
    free(waves);
    free(cache);
    close_plan_loop(&loop);
    return rc;
}
