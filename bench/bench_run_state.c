/* Saving a strategy's progress after every change: as rows of the CAF run's state database (one insert or
 * update per new or newly committed execution, what caf run does) against a whole JSON snapshot of the
 * state each time (caf_strategy_state_save). SequentialRunByRun over N runs with a free scripted algorithm
 * (every second run lacks data), so the times are pure bookkeeping; N and 2N show how each grows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orchestration/run_internal.h"

typedef struct bench {
    sqlite3 *db;
    const char *snapshot; /* NULL: rows */
    size_t saved;
    bool committed[1 << 16];
} bench;

static caf_status execute(void *ctx, const caf_execution *e, caf_execution_result *result, caf_error *err)
{
    (void)ctx, (void)err;
    int entries = 0;
    for (size_t i = 0; i < e->run_count; i++)
        entries += e->runs[i].run % 2 ? 60 : 50;
    *result = entries >= 100 ? CAF_RESULT_OK : CAF_RESULT_NOT_ENOUGH_DATA;
    return CAF_OK;
}

static caf_status commit(void *ctx, const caf_execution *e, caf_error *err)
{
    (void)ctx, (void)e, (void)err;
    return CAF_OK;
}

static caf_status progress(void *ctx, const caf_strategy_state *s, caf_error *err)
{
    bench *b = ctx;
    if (b->snapshot)
        return caf_strategy_state_save(s, b->snapshot, err);
    caf_status rc = CAF_OK;
    for (size_t i = 0; i < s->execution_count && rc == CAF_OK; i++) {
        if (i < b->saved && b->committed[i] == s->executions[i].committed)
            continue;
        rc = run_db_save_execution(b->db, "bench", 0, &s->executions[i], NULL, NULL, err);
        b->committed[i] = s->executions[i].committed;
    }
    b->saved = s->execution_count;
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds to run the strategy over n runs saving after every change (rows when snapshot is NULL). */
static double measure(size_t n, const char *dir, const char *snapshot)
{
    caf_exprun *runs = malloc(n * sizeof *runs);
    for (size_t i = 0; i < n; i++)
        runs[i] = (caf_exprun){1, (int)i + 1};
    static bench b;
    memset(&b, 0, sizeof b);
    b.snapshot = snapshot;
    caf_error err = {0};
    if (!snapshot && run_db_open(dir, RUN_DB_CREATE, &b.db, &err) != CAF_OK) {
        fprintf(stderr, "bench_run_state: %s\n", err.message);
        exit(1);
    }
    if (b.db)
        run_db_exec(b.db, NULL, "DELETE FROM executions", NULL);
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_callbacks cb = {.execute = execute, .commit = commit, .progress = progress, .ctx = &b};
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    double t0 = now();
    if (caf_strategy_run(&p, 0, runs, n, NULL, 0, &cb, &s, &err) != CAF_OK) {
        fprintf(stderr, "bench_run_state: %s\n", err.message);
        exit(1);
    }
    double t = now() - t0;
    caf_strategy_state_clear(&s);
    sqlite3_close(b.db);
    free(runs);
    return t;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 500;
    if (n * 2 > (1u << 16))
        n = 1u << 15;
    char dir[] = "/tmp/caf-bench-run-state-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char snapshot[sizeof dir + 32];
    snprintf(snapshot, sizeof snapshot, "%s/state.json", dir);
    printf("bench_run_state: SequentialRunByRun, progress saved after every change (rows: best of 3)\n");
    for (size_t k = n; k <= 2 * n; k *= 2) {
        double rows = 1e9, json = measure(k, dir, snapshot);
        for (int rep = 0; rep < 3; rep++) {
            double r = measure(k, dir, NULL);
            rows = r < rows ? r : rows;
        }
        printf("  %6zu runs: rows %.3f s, JSON snapshots %.3f s (snapshots / rows = %.1fx)\n", k, rows, json,
               json / rows);
    }
    static const char *const leftovers[] = {CAF_RUN_STATE_FILE, CAF_RUN_STATE_FILE "-wal",
                                            CAF_RUN_STATE_FILE "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[sizeof dir + 64];
        snprintf(p, sizeof p, "%s/%s", dir, leftovers[i]);
        unlink(p);
    }
    unlink(snapshot);
    rmdir(dir);
    return 0;
}
