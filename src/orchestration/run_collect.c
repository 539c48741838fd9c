/* A calibration's collector phase: one collector job per collection (the short form is one collection),
 * all open at the same time. Each collection's input files are mapped to runs through the file index
 * (ignored runs and the per-run file limit applied), split into subjobs, each running `caf process` over a
 * generated path (pre-collector modules, then the collector writing collector_output.sqlite), driven by
 * the jobs scheduler, every subjob change recorded as a row (numbered across the collections), and each
 * collection's outputs merged into its own collector_output.sqlite, which the algorithms read together,
 * with the manifest of the side files its jobs kept (run_side_files.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caf/collector_output.h"
#include "caf/dbchain.h"
#include "caf/file.h"
#include "caf/file_index.h"
#include "caf/input_sandbox.h"
#include "caf/job_policy.h"
#include "caf/json.h"
#include "caf/log.h"
#include "caf/payload_cache.h"
#include "orchestration/run_internal.h"

#define COLLECTOR_OUTPUT "collector_output.sqlite"

struct run_subjob_seen {
    caf_job_status status;
    int attempt;
    char batch_id[128];
};

static char *path_join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

bool run_is_ignored(const caf_calibration_config *cfg, caf_exprun r)
{
    for (size_t i = 0; i < cfg->ignored_run_count; i++)
        if (caf_exprun_compare(cfg->ignored_runs[i], r) == 0)
            return true;
    return false;
}

typedef struct input_file {
    const caf_indexed_file *file;
    caf_exprun first;
    size_t kept_runs;
} input_file;

static int input_compare(const void *a, const void *b)
{
    const input_file *x = a, *y = b;
    int c = caf_exprun_compare(x->first, y->first);
    return c ? c : strcmp(x->file->path, y->file->path);
}

/* Index the inputs and keep the files that hold runs to calibrate, ordered by their first run; kept_files
 * (may be NULL) gets each kept file's index entry in the same order (malloc'd). */
static caf_status select_inputs(run_cal *c, const caf_collection_config *col, caf_file_index *ix, char **files,
                                size_t n, caf_strings *kept, const caf_indexed_file ***kept_files, caf_error *err)
{
    const caf_calibration_config *cfg = c->cfg;
    /* read in child processes; a bad file fails the calibration, and the message names every bad one */
    caf_status rc = caf_file_index_add_files(ix, (const char *const *)files, n, err);
    if (rc != CAF_OK)
        return rc;
    size_t count = caf_file_index_count(ix), runs_seen = 0, runs_ignored = 0, runs_outside = 0; /* per file */
    input_file *in = calloc(count ? count : 1, sizeof *in);
    caf_exprun *single = calloc(count ? count : 1, sizeof *single);
    bool *keep = calloc(count ? count : 1, sizeof *keep);
    if (!in || !single || !keep) {
        free(in), free(single), free(keep);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        const caf_indexed_file *f = caf_file_index_file(ix, i);
        input_file item = {.file = f};
        for (size_t r = 0; r < f->n_runs; r++) {
            caf_exprun run = {f->runs[r].exp, f->runs[r].run};
            runs_seen++;
            if (run_is_ignored(cfg, run)) {
                runs_ignored++;
                continue;
            }
            if (!run_iov_wants(c->loop, run)) { /* caf run --iov: a file is collected for the runs inside it */
                runs_outside++;
                continue;
            }
            if (item.kept_runs++ == 0)
                item.first = run;
        }
        if (item.kept_runs > 0)
            in[m++] = item;
    }
    if (m == 0) {
        free(in), free(single), free(keep);
        if (runs_seen == 0)
            return caf_error_set(err, CAF_ERR_INVALID, "the %zu input files hold no events (no runs)", count);
        if (runs_outside > 0) {
            char text[CAF_IOV_TEXT_MAX];
            return caf_error_set(err, CAF_ERR_INVALID, "the %zu input files hold no run inside the requested IoV %s "
                                 "(%zu runs outside it, %zu ignored)", count,
                                 caf_iov_format(*c->loop->options->iov, text, sizeof text), runs_outside, runs_ignored);
        }
        return caf_error_set(err, CAF_ERR_INVALID, "the %zu input files hold only runs in ignored_runs (%zu ignored)",
                             count, runs_ignored);
    }
    qsort(in, m, sizeof *in, input_compare);
    /* max_files_per_run draws among the files that hold one run each; files spanning runs are all kept. */
    for (size_t i = 0; i < m; i++)
        single[i] = in[i].kept_runs == 1 ? in[i].first : (caf_exprun){-1, -1};
    rc = caf_select_files_per_run(single, m, col->max_files_per_run, col->files_per_run_seed, keep, err);
    const caf_indexed_file **chosen = NULL;
    if (rc == CAF_OK && kept_files && !(chosen = calloc(m, sizeof *chosen)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m && rc == CAF_OK; i++)
        if (keep[i] || in[i].kept_runs != 1) {
            if (chosen)
                chosen[kept->count] = in[i].file;
            rc = caf_strings_push(kept, in[i].file->path, err);
        }
    if (kept_files && rc == CAF_OK)
        *kept_files = chosen;
    else
        free(chosen);
    free(in), free(single), free(keep);
    return rc;
}

/* The path file of the collector job: the pre-collector modules, then the collector. JSON is YAML. */
static caf_status write_path_file(run_cal *c, const caf_collection_config *cfg, const char *path, caf_error *err)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < cfg->pre_collector_count; i++) {
        json_t *m = json_pack("{s:s, s:O}", "module", cfg->pre_collector[i].module, "params",
                              cfg->pre_collector[i].parameters);
        if (m && cfg->pre_collector[i].conditions)
            json_object_set(m, "conditions", cfg->pre_collector[i].conditions);
        json_array_append_new(list, m);
    }
    json_t *params = json_deep_copy(cfg->collector_parameters);
    if (params) {
        json_object_set_new(params, "granularity", json_string(caf_granularity_name(c->cfg->granularity)));
        json_object_set_new(params, "outputFileName", json_string(COLLECTOR_OUTPUT));
    }
    if (!list || !params || json_array_append_new(list, json_pack("{s:s, s:o}", "module", cfg->collector,
                                                                  "params", params)) != 0) {
        json_decref(list);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    caf_status rc = caf_json_save_file(path, list, err);
    json_decref(list);
    return rc;
}

static long parse_memory_mb(const json_t *v)
{
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (!json_is_string(v))
        return -1;
    char *end;
    double x = strtod(json_string_value(v), &end);
    if (end == json_string_value(v) || x <= 0)
        return -1;
    if (!strcasecmp(end, "GB") || !strcasecmp(end, "G"))
        return (long)(x * 1024);
    if (!strcasecmp(end, "MB") || !strcasecmp(end, "M") || !*end)
        return (long)x;
    return -1;
}

/* backend_args keys: queue, memory (MB number or "4GB"), time_s, cores, extra_lines. */
static caf_status apply_backend_args(caf_job *job, const json_t *args, const char *cal, caf_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)args, key, v) {
        bool ok = true;
        if (!strcmp(key, "queue") && json_is_string(v)) {
            ok = (job->backend_args.queue = strdup(json_string_value(v))) != NULL;
        } else if (!strcmp(key, "memory") || !strcmp(key, "memory_mb")) {
            ok = (job->backend_args.memory_mb = parse_memory_mb(v)) > 0;
        } else if (!strcmp(key, "time_s") && json_is_integer(v) && json_integer_value(v) > 0) {
            job->backend_args.time_s = (long)json_integer_value(v);
        } else if (!strcmp(key, "cores") && json_is_integer(v) && json_integer_value(v) > 0) {
            job->backend_args.cores = (int)json_integer_value(v);
        } else if (!strcmp(key, "extra_lines") && json_is_array(v)) {
            size_t i;
            json_t *line;
            json_array_foreach(v, i, line) {
                if (!json_is_string(line) ||
                    caf_strings_push(&job->backend_args.extra_lines, json_string_value(line), err) != CAF_OK) {
                    ok = false;
                    break;
                }
            }
        } else {
            ok = false;
        }
        if (!ok)
            return caf_error_set(err, CAF_ERR_INVALID,
                                 "calibration '%s': backend_args key '%s' is unknown or has a bad value (known: queue, "
                                 "memory, time_s, cores, extra_lines)", cal, key);
    }
    return CAF_OK;
}

size_t run_check_backend_args(const caf_campaign *campaign, caf_config_problems *problems)
{
    size_t before = problems->count;
    for (size_t i = 0; i < campaign->calibration_count; i++) {
        const caf_calibration_config *cal = campaign->calibrations[i];
        for (size_t k = 0; k < caf_calibration_collection_count(cal); k++) {
            caf_collection_config col;
            caf_calibration_collection(cal, k, &col);
            caf_job job = {0};
            caf_error err = {0};
            if (col.backend_args && apply_backend_args(&job, col.backend_args, cal->name, &err) != CAF_OK)
                caf_config_problems_add(problems, col.marks[CAF_COL_BACKEND_ARGS].line ? col.marks[CAF_COL_BACKEND_ARGS]
                                                                                        : col.mark, "%s%s%s%s",
                                        err.message, cal->collection_count ? " (collection '" : "",
                                        cal->collection_count ? col.name : "", cal->collection_count ? "')" : "");
            caf_job_close(&job);
        }
    }
    return problems->count - before;
}

/* CAF_DATABASE_CHAIN of a collection's jobs: the algorithms' chain without the iteration's own output,
 * with the collection's database_chain before the calibration's (the chain's last entries). */
static char *chain_env(const run_cal *c, const caf_collection_config *col)
{
    size_t own = c->cfg->database_chain.count, cut = c->chain_count - own;
    caf_strings list = {0};
    caf_status rc = CAF_OK;
    for (size_t i = 1; rc == CAF_OK && i < cut; i++)
        rc = caf_strings_push(&list, c->chain[i], NULL);
    for (size_t i = 0; rc == CAF_OK && col != NULL && i < col->database_chain.count; i++) {
        const char *db = col->database_chain.items[i];
        char *path = db[0] == '/' || !c->loop->base_dir || caf_dbchain_entry_is_server(db)
                         ? strdup(db)
                         : path_join(c->loop->base_dir, db);
        rc = path ? caf_strings_push(&list, path, NULL) : CAF_ERR_NOMEM;
        free(path);
    }
    for (size_t i = cut; rc == CAF_OK && i < c->chain_count; i++)
        rc = caf_strings_push(&list, c->chain[i], NULL);
    size_t size = 1;
    for (size_t i = 0; i < list.count; i++)
        size += strlen(list.items[i]) + 1;
    char *text = rc == CAF_OK ? calloc(size, 1) : NULL;
    for (size_t i = 0; text && i < list.count; i++) {
        if (i > 0)
            strcat(text, ":");
        strcat(text, list.items[i]);
    }
    caf_strings_free(&list);
    return text;
}

/* The job's input_sandbox: the calibration's files and the collection's own, copied once per output folder
 * into OUTPUT_DIR/NAME/input_sandbox/COLLECTION/ (so every iteration, and a resumed run, gets the files as
 * they were when the calibration first collected), named there. */
static caf_status add_input_sandbox(run_cal *c, const run_collection *rc_col, caf_job *job, caf_error *err)
{
    const caf_string_list *lists[] = {&c->cfg->input_sandbox, &rc_col->cfg.input_sandbox};
    caf_strings sources = {0};
    caf_status rc = CAF_OK;
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; rc == CAF_OK && i < lists[l]->count; i++) {
            const char *item = lists[l]->items[i];
            char *path = item[0] == '/' || !c->loop->base_dir ? strdup(item) : path_join(c->loop->base_dir, item);
            rc = path ? caf_strings_push(&sources, path, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            free(path);
        }
    char *dir = NULL;
    if (rc == CAF_OK && sources.count && asprintf(&dir, "%s/input_sandbox/%s", c->dir, rc_col->cfg.name) < 0)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && sources.count)
        rc = caf_input_sandbox_copy(&sources, dir, err);
    for (size_t i = 0; rc == CAF_OK && i < sources.count; i++) {
        char *kept = path_join(dir, caf_input_sandbox_name(sources.items[i]));
        rc = kept ? caf_strings_push(&job->input_sandbox, kept, err)
                  : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(kept);
    }
    free(dir);
    caf_strings_free(&sources);
    return rc;
}

static caf_status build_job(run_cal *c, run_collection *rc_col, const char *collector_dir, caf_strings *inputs,
                            caf_error *err)
{
    const run_loop *loop = c->loop;
    const caf_collection_config *col = &rc_col->cfg;
    caf_job *job = &rc_col->job;
    memset(job, 0, sizeof *job);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(col->files_per_run_seed + c->cm.iteration));
    char *path_file = path_join(collector_dir, "path.json");
    char *chain = chain_env(c, rc_col->named ? col : NULL);
    caf_status rc = path_file && chain ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && (rc_col->named ? asprintf(&job->name, "%s-%s-iteration-%d", c->cfg->name, col->name,
                                                  c->cm.iteration)
                                       : asprintf(&job->name, "%s-iteration-%d", c->cfg->name, c->cm.iteration)) < 0)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && !(job->command = strdup(loop->caf_command)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const char *args[] = {"-q", "process", path_file, "--seed", seed, "-i"};
    for (size_t i = 0; rc == CAF_OK && i < sizeof args / sizeof *args; i++)
        rc = caf_strings_push(&job->args, args[i], err);
    if (rc == CAF_OK) {
        job->input_files = *inputs;
        *inputs = (caf_strings){0};
        job->working_dir = strdup(collector_dir);
        job->output_dir = path_join(collector_dir, "outputs");
        job->backend = strdup(caf_calibration_backend(loop->campaign, c->cfg));
        if (!job->working_dir || !job->output_dir || !job->backend)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (rc == CAF_OK)
        rc = caf_strings_push(&job->output_patterns, COLLECTOR_OUTPUT, err);
    for (size_t i = 0; rc == CAF_OK && i < col->output_patterns.count; i++)
        rc = caf_strings_push(&job->output_patterns, col->output_patterns.items[i], err);
    if (rc == CAF_OK)
        rc = add_input_sandbox(c, rc_col, job, err);
    /* The collector sees the same database chain as the algorithms, minus the iteration's own output. */
    if (rc == CAF_OK && (rc = caf_strings_push(&job->env_names, "CAF_DATABASE_CHAIN", err)) == CAF_OK)
        rc = caf_strings_push(&job->env_values, chain, err);
    /* what the job's conditions lookups need from the orchestrator's environment */
    static const char *const passed[] = {"CAF_PLUGIN_PATH", CAF_PAYLOAD_CACHE_ENV, CAF_PAYLOAD_CACHE_SIZE_ENV,
                                         "CAF_GT_RETRIES", "CAF_GT_BACKOFF"};
    for (size_t i = 0; i < sizeof passed / sizeof *passed; i++) {
        const char *value = getenv(passed[i]);
        if (rc == CAF_OK && value && (rc = caf_strings_push(&job->env_names, passed[i], err)) == CAF_OK)
            rc = caf_strings_push(&job->env_values, value, err);
    }
    const json_t *settings = caf_calibration_backend_settings(loop->campaign, c->cfg);
    if (rc == CAF_OK && settings)
        job->backend_settings = json_incref((json_t *)settings);
    if (rc == CAF_OK)
        rc = apply_backend_args(job, col->backend_args, c->cfg->name, err);
    caf_job_policy policy;
    caf_calibration_job_policy(loop->campaign, c->cfg, &policy);
    job->retry = policy.retry;
    long per = col->max_files_per_collector_job > 0 ? col->max_files_per_collector_job : 1;
    size_t needed = (job->input_files.count + (size_t)per - 1) / (size_t)per;
    if (col->max_collector_jobs > 0 && needed > (size_t)col->max_collector_jobs)
        job->splitter.max_subjobs = col->max_collector_jobs;
    else
        job->splitter.max_files_per_subjob = per;
    free(path_file);
    free(chain);
    return rc == CAF_OK ? caf_job_split(job, err) : rc;
}

/* Records every subjob whose status, attempt or batch id changed since last time, in one transaction. */
static caf_status record_subjobs(run_cal *c, run_collection *col, caf_error *err)
{
    sqlite3 *db = c->loop->db;
    bool began = false;
    caf_status rc = CAF_OK;
    const char *collection = col->named ? col->cfg.name : "";
    for (size_t i = 0; i < col->job.n_subjobs && rc == CAF_OK; i++) {
        const caf_subjob *s = &col->job.subjobs[i];
        struct run_subjob_seen *seen = &col->seen[i];
        const char *batch = s->batch_id ? s->batch_id : "";
        int idx = (int)(col->first + i);
        if (seen->status == s->status && seen->attempt == s->attempt && !strcmp(seen->batch_id, batch))
            continue;
        if (!began && (rc = run_db_begin(db, err)) != CAF_OK)
            return rc;
        began = true;
        rc = run_db_exec(db, err,
                         "INSERT OR REPLACE INTO subjobs(calibration, iteration, idx, status, attempt, batch_id, "
                         "files, reason, collection) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         "tiititit" "t", c->cfg->name, c->cm.iteration, idx, caf_job_status_name(s->status),
                         s->attempt, s->batch_id, (int)s->input_files.count, s->reason, collection);
        if (rc == CAF_OK && s->batch_id && strcmp(seen->batch_id, batch) != 0)
            rc = run_db_exec(db, err,
                             "INSERT OR IGNORE INTO subjob_attempts(calibration, iteration, idx, attempt, batch_id, at)"
                             " VALUES(?, ?, ?, ?, ?, strftime('%s','now'))",
                             "tiiit", c->cfg->name, c->cm.iteration, idx, s->attempt, s->batch_id);
        if (rc == CAF_OK) {
            seen->status = s->status;
            seen->attempt = s->attempt;
            snprintf(seen->batch_id, sizeof seen->batch_id, "%s", batch);
        }
    }
    if (!began)
        return rc;
    if (rc == CAF_OK)
        return run_db_commit(db, err);
    run_db_exec(db, NULL, "ROLLBACK", NULL);
    return rc;
}

char *run_collection_dir(const run_cal *c, int iteration, size_t k)
{
    char *it_dir = run_cal_iteration_dir(c, iteration), *p = NULL;
    if (!it_dir)
        return NULL;
    if (c->cfg->collection_count == 0)
        p = path_join(it_dir, "collector");
    else if (asprintf(&p, "%s/collections/%s", it_dir, c->cfg->collections[k]->name) < 0)
        p = NULL;
    free(it_dir);
    return p;
}

char *run_collection_output(const run_cal *c, int iteration, size_t k)
{
    if (c->cfg->collection_count > 0) {
        char *dir = run_collection_dir(c, iteration, k);
        char *p = dir ? path_join(dir, COLLECTOR_OUTPUT) : NULL;
        free(dir);
        return p;
    }
    char *it_dir = run_cal_iteration_dir(c, iteration);
    char *p = it_dir ? path_join(it_dir, COLLECTOR_OUTPUT) : NULL;
    free(it_dir);
    return p;
}

caf_status run_collect_prepare(run_cal *c, size_t k, const char *cache, run_collection *col, caf_file_index **ix,
                               const caf_indexed_file ***kept, caf_error *err)
{
    *ix = NULL; /* one per collection: select_inputs takes every file the index holds */
    caf_calibration_collection(c->cfg, k, &col->cfg);
    col->named = c->cfg->collection_count > 0;
    char *dir = run_collection_dir(c, c->cm.iteration, k);
    caf_config_problems problems = {0};
    char **files = NULL;
    size_t n = 0;
    caf_strings inputs = {0};
    caf_status rc = dir ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK) {
        caf_collection_expand_inputs(c->cfg, k, c->loop->base_dir, &files, &n, &problems);
        char first[600]; /* formatted: a problem recorded for lack of memory has no message of its own */
        if (problems.count > 0)
            rc = caf_error_set(err, CAF_ERR_INVALID, "%s",
                               caf_config_problem_format(&problems, 0, NULL, first, sizeof first));
        else if (n == 0)
            rc = caf_error_set(err, CAF_ERR_INVALID, "no input files");
    }
    if (rc == CAF_OK && (rc = caf_file_index_open(ix, cache, err)) == CAF_OK)
        rc = select_inputs(c, &col->cfg, *ix, files, n, &inputs, kept, err);
    if (rc != CAF_OK && col->named)
        caf_error_prefix(err, "collection '%s': ", col->cfg.name);
    if (rc == CAF_OK)
        rc = build_job(c, col, dir, &inputs, err);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    caf_strings_free(&inputs);
    caf_config_problems_clear(&problems);
    free(dir);
    return rc;
}

/* Opens collection k's job: inputs → runs → subjobs, re-attached to saved subjobs. */
static caf_status open_collection(run_cal *c, size_t k, const char *cache, caf_error *err)
{
    run_collection *col = &c->cols[k];
    col->first = k == 0 ? 0 : c->cols[k - 1].first + c->cols[k - 1].job.n_subjobs;
    caf_file_index *ix = NULL;
    caf_status rc = run_collect_prepare(c, k, cache, col, &ix, NULL, err);
    char *dir = rc == CAF_OK ? run_collection_dir(c, c->cm.iteration, k) : NULL;
    char *path_file = dir ? caf_path_join(dir, "path.json") : NULL;
    if (rc == CAF_OK && !path_file)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && (rc = caf_mkdir_p(dir, err)) == CAF_OK)
        rc = write_path_file(c, &col->cfg, path_file, err);
    if (rc == CAF_OK) {
        bool found = false;
        rc = caf_job_load_state(&col->job, &found, err);
        if (rc == CAF_OK && found && c->retry_failed_subjobs) {
            size_t again = caf_job_retry_failed(&col->job);
            caf_info("%s: iteration %d: %zu failed collector subjob%s submitted again", c->cfg->name,
                     c->cm.iteration, again, again == 1 ? "" : "s");
        }
        caf_job_policy jp;
        caf_calibration_job_policy(c->loop->campaign, c->cfg, &jp);
        caf_schedule_policy policy = jp.schedule;
        policy.save_interval_s = 0; /* a batch id must be saved before caf can be killed ... */
        policy.journal_changes = true; /* ... at the cost of the change, not of the job (all the input files) */
        policy.poll_interval_s = c->loop->campaign->poll_interval;
        if (rc == CAF_OK)
            rc = caf_scheduler_init(&col->sched, &col->job, c->backend, &policy, err);
        if (rc == CAF_OK && !(col->seen = calloc(col->job.n_subjobs + 1, sizeof *col->seen)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; rc == CAF_OK && i < col->job.n_subjobs; i++)
            col->seen[i].status = (caf_job_status)-1;
        if (rc == CAF_OK) {
            col->open = true;
            rc = record_subjobs(c, col, err);
            if (found)
                caf_info("%s: iteration %d: re-attached to %zu collector subjobs%s%s%s", c->cfg->name,
                         c->cm.iteration, col->job.n_subjobs, col->named ? " of collection '" : "",
                         col->named ? col->cfg.name : "", col->named ? "'" : "");
        }
    }
    if (rc != CAF_OK && !col->open)
        caf_job_close(&col->job);
    caf_file_index_close(ix);
    free(path_file);
    free(dir);
    return rc;
}

caf_status run_collect_open(run_cal *c, caf_error *err)
{
    char *cache = path_join(c->loop->dir, "file_index.sqlite");
    size_t count = caf_calibration_collection_count(c->cfg);
    caf_status rc = cache ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && !(c->cols = calloc(count, sizeof *c->cols)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char *it_dir = rc == CAF_OK ? run_cal_iteration_dir(c, c->cm.iteration) : NULL;
    if (rc == CAF_OK) {
        c->col_count = count;
        rc = it_dir ? caf_mkdir_p(it_dir, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (rc == CAF_OK && (rc = run_cal_build_chain(c, err)) == CAF_OK) /* the chain is recorded in it_dir */
        rc = run_cal_record_chain(c, err);
    free(it_dir);
    for (size_t k = 0; rc == CAF_OK && k < count; k++)
        rc = open_collection(c, k, cache, err);
    c->retry_failed_subjobs = false;
    if (rc == CAF_OK)
        c->job_open = true;
    else
        run_collect_close(c);
    free(cache);
    return rc;
}

/* Records (or clears) why the calibration's submissions are held back, for caf status and the heartbeat:
 * the first collection whose scheduler waits for the user's job limit. */
static caf_status record_held_back(run_cal *c, caf_error *err)
{
    char text[sizeof c->held_back] = "";
    for (size_t k = 0; k < c->col_count && !text[0]; k++) {
        const run_collection *col = &c->cols[k];
        if (col->open && col->sched.held_back[0])
            snprintf(text, sizeof text, "%s%s%s%s", col->named ? "collection '" : "", col->named ? col->cfg.name : "",
                     col->named ? "': " : "", col->sched.held_back);
    }
    if (strcmp(text, c->held_back) == 0)
        return CAF_OK;
    char key[300];
    snprintf(key, sizeof key, "%s%s", RUN_HELD_BACK_KEY, c->cfg->name);
    caf_status rc = text[0] ? run_db_exec(c->loop->db, err, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                                          "tt", key, text)
                            : run_db_exec(c->loop->db, err, "DELETE FROM meta WHERE key = ?", "t", key);
    if (rc == CAF_OK)
        snprintf(c->held_back, sizeof c->held_back, "%s", text);
    return rc;
}

caf_status run_collect_step(run_cal *c, bool *done, caf_error *err)
{
    *done = true;
    for (size_t k = 0; k < c->col_count; k++) {
        run_collection *col = &c->cols[k];
        caf_status rc = caf_scheduler_poll(&col->sched, err);
        if (rc == CAF_OK)
            rc = caf_scheduler_submit(&col->sched, err);
        if (rc == CAF_OK)
            rc = record_subjobs(c, col, err);
        if (rc != CAF_OK)
            return rc;
        caf_job_status s = caf_job_status_of(&col->job);
        *done = *done && (s == CAF_JOB_COMPLETED || s == CAF_JOB_FAILED);
    }
    return record_held_back(c, err);
}

size_t run_collect_counts(const run_cal *c, size_t counts[5])
{
    size_t total = 0;
    for (int i = 0; i < 5; i++)
        counts[i] = 0;
    for (size_t k = 0; c->job_open && k < c->col_count; k++)
        for (size_t i = 0; i < c->cols[k].job.n_subjobs; i++, total++)
            counts[c->cols[k].job.subjobs[i].status]++;
    return total;
}

void run_collect_close(run_cal *c)
{
    if (c->held_back[0]) {
        char key[300];
        snprintf(key, sizeof key, "%s%s", RUN_HELD_BACK_KEY, c->cfg->name);
        if (run_db_exec(c->loop->db, NULL, "DELETE FROM meta WHERE key = ?", "t", key) == CAF_OK)
            c->held_back[0] = '\0';
    }
    for (size_t k = 0; k < c->col_count; k++) {
        run_collection *col = &c->cols[k];
        if (!col->open)
            continue;
        caf_error save_err = {0}; /* the journal holds every change already; this leaves one plain file */
        if (col->job.journal_bytes > 0 && caf_scheduler_save(&col->sched, &save_err) != CAF_OK)
            caf_warning("%s: %s", c->cfg->name, save_err.message);
        caf_job_close(&col->job);
        free(col->seen);
    }
    free(c->cols);
    c->cols = NULL;
    c->col_count = 0;
    c->job_open = false;
}

/* Explains the failed subjobs of collection col in reason; false when none failed. */
static bool explain_failures(const run_cal *c, const run_collection *col, char *reason, size_t reason_size)
{
    size_t failed = 0, total = 0;
    const caf_subjob *first = NULL;
    for (size_t k = 0; k < c->col_count; k++)
        total += c->cols[k].job.n_subjobs;
    for (size_t i = 0; i < col->job.n_subjobs; i++)
        if (col->job.subjobs[i].status == CAF_JOB_FAILED && failed++ == 0)
            first = &col->job.subjobs[i];
    if (!failed)
        return false;
    snprintf(reason, reason_size, "%zu of %zu collector subjobs failed%s%s%s; subjob %zu: %s (log: %s/stderr)",
             failed, total, col->named ? " in collection '" : "", col->named ? col->cfg.name : "",
             col->named ? "'" : "", col->first + first->index, first->reason ? first->reason : "failed", first->dir);
    return true;
}

/* Merges collection k's subjob outputs into its collector_output.sqlite. */
static caf_status merge_collection(run_cal *c, size_t k, char *reason, size_t reason_size, caf_error *err)
{
    const run_collection *col = &c->cols[k];
    size_t n = col->job.n_subjobs;
    char **outputs = calloc(n + 1, sizeof *outputs);
    caf_status rc = outputs ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        struct stat st;
        outputs[i] = path_join(col->job.subjobs[i].output_dir, COLLECTOR_OUTPUT);
        if (!outputs[i])
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else if (stat(outputs[i], &st) != 0) {
            snprintf(reason, reason_size, "collector subjob %zu left no %s (log: %s/stderr)", col->first + i,
                     COLLECTOR_OUTPUT, col->job.subjobs[i].dir);
            rc = CAF_ERR_STATE;
        }
    }
    char *merged = rc == CAF_OK ? run_collection_output(c, c->cm.iteration, k) : NULL;
    if (rc == CAF_OK && !merged)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK) {
        caf_error merge_err = {0};
        caf_info("%s: iteration %d: merging %zu collector output%s%s%s%s", c->cfg->name, c->cm.iteration, n,
                 n == 1 ? "" : "s", col->named ? " of collection '" : "", col->named ? col->cfg.name : "",
                 col->named ? "'" : "");
        if (caf_collector_output_merge_files(merged, (const char *const *)outputs, n, NULL, &merge_err) != CAF_OK) {
            snprintf(reason, reason_size, "merging the collector outputs%s%s%s: %s",
                     col->named ? " of collection '" : "", col->named ? col->cfg.name : "", col->named ? "'" : "",
                     merge_err.message);
            rc = CAF_ERR_STATE;
        }
    }
    if (rc == CAF_OK) {
        caf_error side_err = {0};
        reason[0] = '\0';
        if (run_side_files_record(c, k, merged, COLLECTOR_OUTPUT, reason, reason_size, &side_err) != CAF_OK) {
            if (!reason[0])
                snprintf(reason, reason_size, "listing the side files%s%s%s: %s", col->named ? " of collection '" : "",
                         col->named ? col->cfg.name : "", col->named ? "'" : "", side_err.message);
            rc = CAF_ERR_STATE;
        }
    }
    for (size_t i = 0; outputs && i < n; i++)
        free(outputs[i]);
    free(outputs);
    free(merged);
    return rc;
}

caf_status run_collect_finish(run_cal *c, char *reason, size_t reason_size, caf_error *err)
{
    reason[0] = '\0';
    caf_status rc = CAF_OK;
    for (size_t k = 0; k < c->col_count && rc == CAF_OK; k++)
        if (explain_failures(c, &c->cols[k], reason, reason_size))
            rc = CAF_ERR_STATE;
    for (size_t k = 0; k < c->col_count && rc == CAF_OK; k++)
        rc = merge_collection(c, k, reason, reason_size, err);
    run_collect_close(c);
    return rc;
}
