/* Progress of a running campaign: per calibration its state, iteration, collector subjobs by status,
 * algorithm executions recorded, the time since this run started it and an estimate of the collection
 * time left. Without a progress callback the loop logs it as plain lines every heartbeat; with one (a
 * terminal's live block, src/cli/progress_block.c) the callback gets a snapshot a few times a second.
 *
 * The estimate is the pace of this run only: the time since it first saw the iteration's collector job
 * open, divided by the subjobs completed since then, times the subjobs still to finish. Subjobs a
 * resumed run found completed say nothing about how fast the rest will go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "orchestration/run_internal.h"

/* Snapshots for a callback at most this often (seconds): a terminal redraw per loop pass would flicker
 * and cost two state-database reads per calibration each time. */
#define RUN_PROGRESS_PERIOD 0.25

char *caf_run_format_duration(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, size, "%lds", s);
    return buf;
}

/* Keeps when this run saw c start and end, and where its collector job's pace is measured from. */
static void track(run_cal *c, double now)
{
    bool finished = run_cal_finished(c);
    if (c->started && !finished && c->seen_started == 0)
        c->seen_started = now;
    if (finished && c->seen_started > 0 && c->seen_ended == 0)
        c->seen_ended = now;
    if (!c->job_open) {
        c->paced = false;
        return;
    }
    if (c->paced && c->paced_iteration == c->cm.iteration)
        return;
    size_t n[5];
    run_collect_counts(c, n);
    c->paced = true;
    c->paced_iteration = c->cm.iteration;
    c->paced_since = now;
    c->paced_completed = n[CAF_JOB_COMPLETED];
}

/* Subjob counts of c's current iteration: the scheduler's while its job is open, else as recorded. */
static void subjob_counts(const run_cal *c, size_t n[5])
{
    if (c->job_open) {
        run_collect_counts(c, n);
        return;
    }
    static const char *const names[5] = {[CAF_JOB_INIT] = "init", [CAF_JOB_SUBMITTED] = "submitted",
                                         [CAF_JOB_RUNNING] = "running", [CAF_JOB_COMPLETED] = "completed",
                                         [CAF_JOB_FAILED] = "failed"};
    memset(n, 0, 5 * sizeof *n);
    sqlite3_stmt *st = run_db_prepare(c->loop->db, NULL, "SELECT status, COUNT(*) FROM subjobs WHERE "
                                                         "calibration = ? AND iteration = ? GROUP BY status",
                                      "ti", c->cfg->name, c->cm.iteration);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        for (int k = 0; k < 5; k++)
            if (status && !strcmp(status, names[k]))
                n[k] += (size_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
}

static size_t executions_recorded(const run_cal *c)
{
    sqlite3_stmt *st = run_db_prepare(c->loop->db, NULL, "SELECT COUNT(*) FROM executions WHERE calibration = ? "
                                                         "AND iteration = ?", "ti", c->cfg->name, c->cm.iteration);
    size_t count = st && sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return count;
}

static caf_run_progress_calibration snapshot_of(const run_cal *c, double now)
{
    size_t n[5];
    subjob_counts(c, n);
    caf_run_progress_calibration p = {
        .name = c->cfg->name,
        .state = run_cal_state(c),
        .iteration = c->cm.iteration,
        .completed = n[CAF_JOB_COMPLETED],
        .running = n[CAF_JOB_RUNNING],
        .queued = n[CAF_JOB_INIT] + n[CAF_JOB_SUBMITTED],
        .failed = n[CAF_JOB_FAILED],
        .executions = executions_recorded(c),
        .elapsed_s = c->seen_started == 0 ? -1 : (c->seen_ended > 0 ? c->seen_ended : now) - c->seen_started,
        .remaining_s = -1,
        .held_back = c->job_open ? c->held_back : "",
    };
    p.subjobs = p.completed + p.running + p.queued + p.failed;
    size_t since = p.completed > c->paced_completed ? p.completed - c->paced_completed : 0;
    if (c->job_open && c->paced && since > 0)
        p.remaining_s = (now - c->paced_since) / (double)since * (double)(p.running + p.queued);
    return p;
}

/* The plain lines of one calibration at a heartbeat. */
static void log_plain(const run_cal *c, const caf_run_progress_calibration *p, int max_drivers)
{
    char elapsed[32], elapsed_left[32];
    caf_run_format_duration(p->elapsed_s, elapsed, sizeof elapsed);
    if (c->driver)
        caf_info("%s: iteration %d: algorithms running (process %d): %zu executions done, %s elapsed", p->name,
                 p->iteration, (int)c->driver->pid, p->executions, elapsed);
    else if (c->started && !strcmp(p->state, "running_algorithms"))
        caf_info("%s: iteration %d: algorithms waiting: max_parallel_algorithms (%d) calibrations run theirs",
                 p->name, p->iteration, max_drivers);
    if (!c->job_open)
        return;
    size_t n[5];
    size_t total = run_collect_counts(c, n);
    char left[64] = "";
    if (p->remaining_s >= 0)
        snprintf(left, sizeof left, ", about %s of collection left",
                 caf_run_format_duration(p->remaining_s, elapsed_left, sizeof elapsed_left));
    caf_info("%s: iteration %d: collector subjobs: %zu completed, %zu running, %zu submitted, %zu waiting, "
             "%zu failed (of %zu); %s elapsed%s", p->name, p->iteration, n[CAF_JOB_COMPLETED], n[CAF_JOB_RUNNING],
             n[CAF_JOB_SUBMITTED], n[CAF_JOB_INIT], n[CAF_JOB_FAILED], total, elapsed, left);
    if (p->held_back[0])
        caf_info("%s: iteration %d: collector subjobs held back: %s", p->name, p->iteration, p->held_back);
}

void run_progress_tick(run_loop *loop, bool final)
{
    double now = run_monotonic();
    if (loop->last_heartbeat == 0)
        loop->last_heartbeat = now;
    for (size_t i = 0; i < loop->count; i++)
        track(&loop->cals[i], now);
    const caf_run_options *o = loop->options;
    bool callback = o->progress != NULL;
    if (callback ? !final && now - loop->last_progress < RUN_PROGRESS_PERIOD
                 : final || now - loop->last_heartbeat < loop->campaign->heartbeat)
        return;
    if (callback)
        loop->last_progress = now;
    else
        loop->last_heartbeat = now;
    caf_run_progress_calibration *cals = calloc(loop->count ? loop->count : 1, sizeof *cals);
    if (!cals)
        return;
    caf_run_progress all = {.calibrations = cals, .count = loop->count, .elapsed_s = now - loop->started,
                            .final = final};
    for (size_t i = 0; i < loop->count; i++) {
        const run_cal *c = &loop->cals[i];
        cals[i] = snapshot_of(c, now);
        all.finished += run_cal_finished(c);
        if (!callback && c->started)
            log_plain(c, &cals[i], loop->max_drivers);
    }
    if (callback)
        o->progress(&all, o->progress_userdata);
    free(cals);
}
