/* The CAF run loop: checks everything before anything is submitted, locks the output folder, restores
 * every calibration from the state database, then one loop steps each started calibration's machine as
 * far as it can go, starts calibrations whose dependencies completed, fails those whose dependencies
 * failed, waits for the backend and the algorithm drivers together (a local subjob's exit or a driver's
 * report wakes it at once) and reports progress (run_progress.c). Algorithm phases run in driver children
 * (run_algorithms.c, run_driver.c), up to max_parallel_algorithms at once, so nothing the loop does
 * waits for an algorithm. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/hash.h"
#include "caf/log.h"
#include "orchestration/run_internal.h"

double run_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

char *run_absolute_path(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[4096], *p = NULL;
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    return asprintf(&p, "%s/%s", cwd, path) < 0 ? NULL : p;
}

/* The output folder, absolute: a relative output_dir is relative to the campaign file's folder (base_dir),
 * like every other path of the campaign, so the run does not depend on where it was started from. */
char *run_output_folder(const char *output_dir, const char *base_dir)
{
    if (output_dir[0] == '/' || !base_dir)
        return run_absolute_path(output_dir);
    char *joined = caf_path_join(base_dir, output_dir);
    char *folder = joined ? run_absolute_path(joined) : NULL;
    free(joined);
    return folder;
}

caf_status run_check_iov(const caf_run_options *options, caf_error *err)
{
    const caf_iov *iov = options->iov;
    if (iov && caf_iov_validate(*iov, err) != CAF_OK)
        return caf_error_prefix(err, "the requested IoV: ");
    if (iov && caf_iov_is_empty(*iov))
        return caf_error_set(err, CAF_ERR_INVALID, "the requested IoV is empty");
    return CAF_OK;
}

size_t caf_run_check(const caf_campaign *campaign, const caf_run_options *options, caf_config_problems *problems)
{
    size_t before = problems->count;
    caf_campaign_check_files(campaign, options ? options->base_dir : NULL, problems);
    caf_campaign_check_servers(campaign, !(options && options->servers_may_be_offline), problems);
    if (caf_campaign_check_plugins(campaign, options ? options->plugin_path : NULL, problems) == 0)
        caf_campaign_check_algorithms(campaign, options ? options->plugin_path : NULL, NULL, problems);
    run_check_backend_args(campaign, problems);
    const char *backend = campaign->backend ? campaign->backend : "local";
    if (!caf_backend_find(backend))
        caf_config_problems_add(problems, campaign->marks[CAF_CAMPAIGN_BACKEND], "unknown backend '%s'", backend);

    return problems->count - before;
}

/* Every problem of the campaign itself and of what it names on disk, before anything starts. */
size_t run_check_campaign(const caf_campaign *campaign, const caf_run_options *o, caf_config_problems *problems)
{
    caf_campaign_validate(campaign, problems);
    caf_run_check(campaign, o, problems);
    return problems->count;
}

caf_status run_report_problems(const caf_campaign *campaign, caf_config_problems *problems, const char *what,
                                  caf_error *err)
{
    caf_config_problems_sort(problems);
    for (size_t i = 0; i < problems->count; i++) {
        char text[1200];
        caf_log_error("%s", caf_config_problem_format(problems, i, campaign->source, text, sizeof text));
    }
    return caf_error_set(err, CAF_ERR_INVALID, "%s%s%zu problem%s found %s; nothing was submitted",
                         campaign->source ? campaign->source : "", campaign->source ? ": " : "", problems->count,
                         problems->count == 1 ? "" : "s", what);
}

static char *config_text(json_t *config)
{
    char *text = config ? json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(config);
    return text;
}

/* Compares the campaign with what the folder recorded; a changed calibration that has started is a
 * problem naming the keys (a calibration reset to its start takes the new configuration). */
caf_status run_check_recorded(run_loop *loop, caf_config_problems *problems, caf_error *err)
{
    const caf_campaign *campaign = loop->campaign;
    char *recorded = run_db_meta(loop->db, "campaign");
    char *now = config_text(run_global_config_json(loop));
    if (!now) {
        free(recorded);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (recorded && strcmp(recorded, now) != 0) {
        json_t *a = json_loads(recorded, 0, NULL), *b = json_loads(now, 0, NULL);
        char was[64], is[64], keys[256];
        run_iov_describe(a, was, sizeof was);
        run_iov_describe(b, is, sizeof is);
        if (strcmp(was, is) != 0) /* the IoV is given on the command line, not in the file */
            caf_config_problems_add(problems, (caf_mark){0}, "the requested IoV changed since %s was started with "
                                    "%s (now %s); run with %s again, or use another output_dir", loop->dir, was, is,
                                    was);
        json_object_del(a, "iov"), json_object_del(b, "iov");
        run_config_diff(a, b, keys, sizeof keys);
        if (keys[0])
            caf_config_problems_add(problems, campaign->marks[CAF_CAMPAIGN_BACKEND],
                                    "the campaign's %s changed since %s was started; use the old settings or "
                                    "another output_dir", keys, loop->dir);
        json_decref(a), json_decref(b);
    }
    free(recorded);
    free(now);
    sqlite3_stmt *st = run_db_prepare(loop->db, err, "SELECT name, state, iteration, config FROM calibrations", NULL);
    if (!st)
        return err ? err->code : CAF_ERR_IO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const caf_calibration_config *cal = caf_campaign_find(campaign, name);
        if (!cal) {
            caf_config_problems_add(problems, campaign->marks[CAF_CAMPAIGN_CALIBRATIONS],
                                    "calibration '%s' was run in %s but is no longer in the campaign", name,
                                    loop->dir);
            continue;
        }
        char *text = config_text(run_calibration_config_json(campaign, cal));
        bool pristine = !strcmp((const char *)sqlite3_column_text(st, 1), "init") && sqlite3_column_int(st, 2) == 0;
        if (text && strcmp(text, (const char *)sqlite3_column_text(st, 3)) != 0 && !pristine) {
            json_t *a = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL), *b = json_loads(text, 0, NULL);
            char keys[512];
            run_config_diff(a, b, keys, sizeof keys);
            caf_config_problems_add(problems, cal->mark,
                                    "calibration '%s' changed since it started in %s (%s); restore it, or start it "
                                    "again with `caf reset %s %s --iteration 0`", name, loop->dir, keys, loop->dir,
                                    name);
            json_decref(a), json_decref(b);
        }
        free(text);
    }
    sqlite3_finalize(st);
    return CAF_OK;
}

/* Records the campaign and every calibration's configuration (new calibrations start in init). */
static caf_status record_campaign(run_loop *loop, caf_error *err)
{
    char *global = config_text(run_global_config_json(loop));
    caf_status rc = global ? run_db_begin(loop->db, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = run_db_exec(loop->db, err, "INSERT OR REPLACE INTO meta(key, value) VALUES('campaign', ?)", "t", global);
    if (rc == CAF_OK) /* what a killed run was waiting for is no news to this one */
        rc = run_db_exec(loop->db, err, "DELETE FROM meta WHERE key LIKE ?", "t", RUN_HELD_BACK_KEY "%");
    if (rc == CAF_OK && loop->campaign->source)
        rc = run_db_exec(loop->db, err, "INSERT OR REPLACE INTO meta(key, value) VALUES('source', ?)", "t",
                         loop->campaign->source);
    for (size_t i = 0; rc == CAF_OK && i < loop->count; i++) {
        const caf_calibration_config *cal = loop->campaign->calibrations[i];
        char *text = config_text(run_calibration_config_json(loop->campaign, cal));
        char hash[CAF_MD5_HEX_SIZE];
        rc = text ? caf_md5_hex(text, strlen(text), hash, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        if (rc == CAF_OK)
            rc = run_db_exec(loop->db, err,
                             "INSERT INTO calibrations(name, position, state, iteration, reason, config, config_hash, "
                             "updated) VALUES(?, ?, 'init', 0, '', ?, ?, strftime('%s','now')) ON CONFLICT(name) DO "
                             "UPDATE SET position = excluded.position, config = excluded.config, "
                             "config_hash = excluded.config_hash",
                             "titt", cal->name, (int)i, text, hash);
        free(text);
    }
    free(global);
    if (rc == CAF_OK)
        return run_db_commit(loop->db, err);
    run_db_exec(loop->db, NULL, "ROLLBACK", NULL);
    return rc;
}

caf_status run_cals_create(run_loop *loop, caf_error *err)
{
    if (!(loop->cals = calloc(loop->count ? loop->count : 1, sizeof *loop->cals)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < loop->count; i++) {
        run_cal *c = &loop->cals[i];
        c->loop = loop;
        c->cfg = loop->campaign->calibrations[i];
        c->index = i;
        c->backend = &loop->backend;
        if (asprintf(&c->dir, "%s/%s", loop->dir, c->cfg->name) < 0) {
            c->dir = NULL;
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
    }
    return CAF_OK;
}

static caf_status restore_calibrations(run_loop *loop, caf_error *err)
{
    caf_status rc = run_cals_create(loop, err);
    for (size_t i = 0; i < loop->count && rc == CAF_OK; i++) {
        run_cal *c = &loop->cals[i];
        if ((rc = caf_calibration_machine_init(&c->cm, c->cfg->name, c->cfg->max_iterations, err)) != CAF_OK)
            return rc;
        run_cal_row row;
        if ((rc = run_db_load_calibration(loop->db, c->cfg->name, &row, err)) == CAF_OK && row.found) {
            rc = caf_machine_set_state(c->cm.machine, row.state, err);
            c->cm.iteration = row.iteration;
            snprintf(c->reason, sizeof c->reason, "%s", row.reason);
            c->started = strcmp(row.state, "init") != 0;
            if (rc == CAF_OK && !strcmp(row.state, "failed"))
                rc = run_retry_failed(c, err);
            else if (c->started)
                caf_info("%s: resuming in %s at iteration %d", c->cfg->name, row.state, row.iteration);
        }
        free(row.config);
    }
    return rc;
}

static bool is_input_problem(caf_status rc)
{
    return rc == CAF_ERR_INVALID || rc == CAF_ERR_NOT_FOUND || rc == CAF_ERR_FORMAT;
}

/* From running_collector (or init): fails the collector and the calibration with reason. */
static caf_status fail_collector(run_cal *c, const char *reason, caf_error *err)
{
    caf_status rc = CAF_OK;
    if (!strcmp(run_cal_state(c), "init"))
        rc = run_cal_fire(c, "submit_collector", NULL, err);
    if (rc == CAF_OK)
        rc = run_cal_fire(c, "fail", reason, err);
    return rc == CAF_OK ? run_cal_fire(c, "fail_fully", reason, err) : rc;
}

/* Moves one calibration on as far as it can without waiting; *moved when anything changed. */
static caf_status step(run_cal *c, bool *moved, caf_error *err)
{
    const char *s = run_cal_state(c);
    caf_status rc = CAF_OK;
    char reason[1024];
    caf_error local = {0};
    if (!strcmp(s, "init") || (!strcmp(s, "running_collector") && !c->job_open)) {
        rc = run_collect_open(c, &local);
        *moved = true;
        if (is_input_problem(rc)) {
            snprintf(reason, sizeof reason, "collector input: %s", local.message);
            return fail_collector(c, reason, err);
        }
        if (rc != CAF_OK) {
            *err = local;
            return rc;
        }
        return !strcmp(s, "init") ? run_cal_fire(c, "submit_collector", NULL, err) : CAF_OK;
    }
    if (!strcmp(s, "running_collector")) {
        bool done;
        if ((rc = run_collect_step(c, &done, err)) != CAF_OK || !done)
            return rc;
        *moved = true;
        rc = run_collect_finish(c, reason, sizeof reason, err);
        if (rc == CAF_ERR_STATE)
            return fail_collector(c, reason, err);
        return rc == CAF_OK ? run_cal_fire(c, "complete", NULL, err) : rc;
    }
    if (!strcmp(s, "collector_completed")) {
        *moved = true;
        return run_cal_fire(c, "run_algorithms", NULL, err);
    }
    if (!strcmp(s, "running_algorithms") || !strcmp(s, "algorithms_completed")) {
        caf_strategy_outcome outcome;
        bool finished;
        if ((rc = run_algorithms_step(c, &finished, &outcome, reason, sizeof reason, moved, err)) != CAF_OK ||
            !finished)
            return rc;
        *moved = true;
        if (!strcmp(s, "running_algorithms")) {
            if (outcome == CAF_OUTCOME_FAILED)
                return (rc = run_cal_fire(c, "fail", reason, err)) ? rc : run_cal_fire(c, "fail_fully", reason, err);
            return run_cal_fire(c, "complete", NULL, err);
        }
        if (outcome == CAF_OUTCOME_ITERATE && caf_calibration_machine_can_iterate(&c->cm))
            return run_cal_fire(c, "iterate", NULL, err);
        if (outcome == CAF_OUTCOME_ITERATE) {
            /* As basf2: the limit ends the loop and the calibration completes with the last payloads; the
             * reason (logged as a warning and kept in the state) says so. */
            snprintf(reason, sizeof reason, "an algorithm asked to iterate, but max_iterations (%d) is reached",
                     c->cfg->max_iterations);
            return run_cal_fire(c, "finish", reason, err);
        }
        return run_cal_fire(c, "finish", NULL, err);
    }
    return CAF_OK;
}

/* Fails every calibration not yet started whose dependency failed, naming it. */
static caf_status fail_dependents(run_loop *loop, bool *moved, caf_error *err)
{
    caf_status rc = CAF_OK;
    for (size_t i = 0; i < loop->count && rc == CAF_OK; i++) {
        run_cal *c = &loop->cals[i];
        if (c->started || run_cal_finished(c))
            continue;
        for (size_t d = 0; d < c->cfg->depends_on.count; d++) {
            run_cal *dep = &loop->cals[caf_campaign_index(loop->campaign, c->cfg->depends_on.items[d])];
            if (strcmp(run_cal_state(dep), "failed") != 0)
                continue;
            char reason[600];
            snprintf(reason, sizeof reason, "dependency %s failed: %.500s", dep->cfg->name, dep->reason);
            rc = run_cal_fail(c, reason, err);
            *moved = true;
            break;
        }
    }
    return rc;
}

static void start_ready(run_loop *loop, bool *moved)
{
    bool completed[loop->count + 1], started[loop->count + 1];
    size_t ready[loop->count + 1];
    for (size_t i = 0; i < loop->count; i++) {
        completed[i] = !strcmp(run_cal_state(&loop->cals[i]), "completed");
        started[i] = loop->cals[i].started || run_cal_finished(&loop->cals[i]);
    }
    size_t n = caf_campaign_ready(loop->campaign, completed, started, ready);
    for (size_t k = 0; k < n; k++) {
        loop->cals[ready[k]].started = true;
        *moved = true;
    }
}

/* Waits until a local subjob or an algorithm driver may have changed, or interval passed: the backend's
 * descriptors (local: its processes' pidfds) and every driver's pipe and pidfd in one poll. */
static void wait_for_news(run_loop *loop, double interval)
{
    int ms = (int)(interval * 1000.0);
    /* The backends that can wake the loop (local ones: a subjob's exit): the campaign's and each other one
     * a calibration uses. Batch backends cannot; their jobs are polled when the wait ends, after at most
     * one poll interval. */
    caf_backend *wakers[loop->backend_count + 1];
    size_t nw = 0;
    if (loop->backend.ops->wait)
        wakers[nw++] = &loop->backend;
    for (size_t k = 0; k < loop->backend_count; k++)
        if (loop->backends[k].open && loop->backends[k].backend.ops->wait)
            wakers[nw++] = &loop->backends[k].backend;
    if (loop->drivers == 0 && nw == 1) {
        wakers[0]->ops->wait(wakers[0], interval);
        return;
    }
    size_t room = 2 * loop->count + 256 * (nw + 1), n = 0;
    struct pollfd *fds = calloc(room, sizeof *fds);
    if (!fds) {
        poll(NULL, 0, ms < 50 ? ms : 50);
        return;
    }
    bool blind = false; /* a driver or the backend cannot wake us: look again soon */
    for (size_t i = 0; i < loop->count; i++) {
        run_driver *d = loop->cals[i].driver;
        if (!d)
            continue;
        size_t added = run_driver_pollfds(d, fds + n);
        blind = blind || (d->pidfd < 0 && !d->exited);
        n += added;
    }
    for (size_t k = 0; k < nw; k++) {
        size_t added = wakers[k]->ops->wake_fds ? wakers[k]->ops->wake_fds(wakers[k], fds + n, room - n) : 0;
        blind = blind || added == 0;
        n += added;
    }
    if (blind && ms > 50)
        ms = 50;
    poll(fds, n, ms); /* EINTR (Ctrl-C) simply ends the wait early */
    free(fds);
}

static caf_status loop_run(run_loop *loop, caf_error *err)
{
    caf_status rc = CAF_OK;
    run_progress_tick(loop, false);
    for (;;) {
        if (loop->options->stop && *loop->options->stop)
            return caf_error_set(err, CAF_ERR_STATE, "interrupted; run again to resume (%s)", loop->dir);
        bool moved = false, waiting = false, all_done = true;
        if ((rc = fail_dependents(loop, &moved, err)) != CAF_OK)
            return rc;
        start_ready(loop, &moved);
        for (size_t i = 0; i < loop->count && rc == CAF_OK; i++) {
            run_cal *c = &loop->cals[i];
            if (!c->started || run_cal_finished(c))
                continue;
            rc = step(c, &moved, err);
            /* a collector job, an algorithm driver, or algorithms waiting for a driver slot */
            waiting = waiting || c->job_open || c->driver || !strcmp(run_cal_state(c), "running_algorithms") ||
                      !strcmp(run_cal_state(c), "algorithms_completed");
        }
        if (rc != CAF_OK)
            return rc;
        for (size_t i = 0; i < loop->count; i++)
            all_done = all_done && run_cal_finished(&loop->cals[i]);
        if (all_done)
            return CAF_OK;
        run_progress_tick(loop, false);
        if (moved || !waiting)
            continue;
        wait_for_news(loop, loop->campaign->poll_interval > 0 ? loop->campaign->poll_interval : 1.0);
    }
}

/* max_parallel_algorithms, or the number of cores (at least 2, so that one hanging algorithm never
 * holds back every other calibration's). */
static int max_parallel_algorithms(const caf_campaign *campaign)
{
    if (campaign->max_parallel_algorithms > 0)
        return campaign->max_parallel_algorithms;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 2 ? (int)(cores < 1024 ? cores : 1024) : 2;
}

static caf_status finish(run_loop *loop, caf_error *err)
{
    caf_status rc = run_write_outputs(loop, err);
    if (rc != CAF_OK)
        return rc;
    char failed[900] = "";
    size_t n = 0, used = 0;
    for (size_t i = 0; i < loop->count; i++) {
        const run_cal *c = &loop->cals[i];
        if (!strcmp(run_cal_state(c), "completed"))
            continue;
        n++;
        int w = snprintf(failed + used, sizeof failed - used, "%s%s (%s)", used ? "; " : "", c->cfg->name,
                         c->reason);
        if (w > 0 && (size_t)w < sizeof failed - used)
            used += (size_t)w;
    }
    struct rusage usage;
    double peak_mb = getrusage(RUSAGE_SELF, &usage) == 0 ? (double)usage.ru_maxrss / 1024.0 : 0.0;
    caf_info("%zu of %zu calibrations completed in %.1f s (peak memory of this caf %.0f MB); database %s/database, "
             "summary %s/summary.txt",
             loop->count - n, loop->count, run_monotonic() - loop->started, peak_mb, loop->dir, loop->dir);
    if (n)
        return caf_error_set(err, CAF_ERR_STATE, "%zu calibration%s failed: %s", n, n == 1 ? "" : "s", failed);
    return CAF_OK;
}

static void close_loop(run_loop *loop)
{
    for (size_t i = 0; loop->cals && i < loop->count; i++) {
        run_cal *c = &loop->cals[i];
        if (c->driver) { /* interrupted: its execution is run again from a clean folder on resume */
            run_driver_free(c->driver);
            c->driver = NULL;
        }
        run_collect_close(c);
        if (c->cm.machine)
            caf_calibration_machine_close(&c->cm);
        run_cal_free_chain(c);
        free(c->dir);
    }
    free(loop->cals);
    if (loop->backend_open)
        caf_backend_close(&loop->backend);
    for (size_t i = 0; i < loop->backend_count; i++) {
        if (loop->backends[i].open)
            caf_backend_close(&loop->backends[i].backend);
        free(loop->backends[i].name);
        free(loop->backends[i].settings);
    }
    free(loop->backends);
    run_db_close(loop->db);
    free(loop->dir);
    free(loop->caf_command);
    free(loop->base_dir);
}

/* Points every calibration at its backend (basf2 Calibration.backend): the campaign's, or one opened
 * for each other (name, settings) a calibration names. */
static caf_status open_calibration_backends(run_loop *loop, caf_error *err)
{
    const caf_campaign *campaign = loop->campaign;
    const char *own = campaign->backend ? campaign->backend : "local";
    char *own_settings = json_dumps(campaign->backend_settings, JSON_COMPACT | JSON_SORT_KEYS);
    if (!own_settings || !(loop->backends = calloc(loop->count + 1, sizeof *loop->backends))) {
        free(own_settings);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    caf_status rc = CAF_OK;
    for (size_t i = 0; i < loop->count && rc == CAF_OK; i++) {
        run_cal *c = &loop->cals[i];
        const char *name = caf_calibration_backend(campaign, c->cfg);
        char *settings = json_dumps(caf_calibration_backend_settings(campaign, c->cfg), JSON_COMPACT | JSON_SORT_KEYS);
        if (!settings) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        if (!strcmp(name, own) && !strcmp(settings, own_settings)) {
            free(settings);
            continue; /* c->backend is the campaign's already */
        }
        run_backend *b = NULL;
        for (size_t k = 0; k < loop->backend_count && !b; k++)
            if (!strcmp(loop->backends[k].name, name) && !strcmp(loop->backends[k].settings, settings))
                b = &loop->backends[k];
        if (!b) {
            b = &loop->backends[loop->backend_count++];
            b->settings = settings;
            settings = NULL;
            if (!(b->name = strdup(name)))
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            else if ((rc = caf_backend_open(&b->backend, name, caf_calibration_backend_settings(campaign, c->cfg),
                                            err)) == CAF_OK)
                b->open = true;
            else
                caf_error_prefix(err, "calibration '%s': ", c->cfg->name);
            if (rc == CAF_OK)
                caf_info("%s: collector jobs on backend %s %s", c->cfg->name, name, b->settings);
        }
        free(settings);
        c->backend = &b->backend;
    }
    free(own_settings);
    return rc;
}

caf_status caf_run(const caf_campaign *campaign, const caf_run_options *options, caf_error *err)
{
    caf_run_options defaults = {0};
    const caf_run_options *o = options ? options : &defaults;
    caf_run_options checked = *o;
    checked.servers_may_be_offline = true;
    caf_config_problems problems = {0};
    if (run_check_campaign(campaign, &checked, &problems) > 0) {
        caf_status rc = run_report_problems(campaign, &problems, "in the campaign", err);
        caf_config_problems_clear(&problems);
        return rc;
    }
    caf_status iov_rc = run_check_iov(o, err);
    if (iov_rc != CAF_OK) {
        caf_config_problems_clear(&problems);
        return iov_rc;
    }
    if (o->iov) {
        char text[CAF_IOV_TEXT_MAX];
        caf_info("calibrating only IoV %s: input files without a run inside it are not collected, and the "
                 "strategies see only the runs inside it", caf_iov_format(*o->iov, text, sizeof text));
    }
    run_loop loop = {.campaign = campaign, .options = o, .count = campaign->calibration_count,
                     .max_drivers = max_parallel_algorithms(campaign), .started = run_monotonic()};
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    loop.dir = run_output_folder(campaign->output_dir, o->base_dir);
    loop.caf_command = strdup(o->caf_command ? o->caf_command : exe);
    loop.base_dir = o->base_dir ? run_absolute_path(o->base_dir) : NULL;
    caf_file_lock lock = {.fd = -1};
    char *lock_path = NULL;
    caf_status rc = loop.dir && loop.caf_command && (!o->base_dir || loop.base_dir) &&
                            asprintf(&lock_path, "%s/%s", loop.dir ? loop.dir : "", CAF_RUN_LOCK_FILE) >= 0
                        ? caf_mkdir_p(loop.dir, err)
                        : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && (rc = caf_file_lock_try(&lock, lock_path, err)) == CAF_ERR_EXISTS)
        rc = caf_error_set(err, CAF_ERR_EXISTS, "%s is in use by another caf run (lock %s)", loop.dir, lock_path);
    if (rc == CAF_OK)
        run_sweep_temporaries(loop.dir);
    if (rc == CAF_OK)
        rc = run_db_open(loop.dir, RUN_DB_CREATE, &loop.db, err);
    if (rc == CAF_OK && (rc = run_check_recorded(&loop, &problems, err)) == CAF_OK && problems.count > 0)
        rc = run_report_problems(campaign, &problems, "against the recorded run", err);
    if (rc == CAF_OK)
        rc = record_campaign(&loop, err);
    if (rc == CAF_OK)
        rc = restore_calibrations(&loop, err);
    if (rc == CAF_OK && (rc = caf_backend_open(&loop.backend, campaign->backend ? campaign->backend : "local",
                                               campaign->backend_settings, err)) == CAF_OK)
        loop.backend_open = true;
    if (rc == CAF_OK)
        rc = open_calibration_backends(&loop, err);
    if (rc == CAF_OK) {
        rc = loop_run(&loop, err);
        run_progress_tick(&loop, true);
    }
    if (rc == CAF_OK)
        rc = finish(&loop, err);
    close_loop(&loop);
    caf_file_lock_release(&lock);
    free(lock_path);
    caf_config_problems_clear(&problems);
    return rc;
}
