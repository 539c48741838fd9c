/* Strategy bookkeeping: SequentialRunByRun over many runs with a trivial scripted algorithm (every second
 * run lacks data, so executions merge), then the same strategy replayed from its saved JSON state. The
 * ratio replay / fresh shows what resuming costs compared with running; the algorithm itself is free here,
 * so both times are pure strategy overhead. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "caf/strategy.h"

static int executions;

static caf_status execute(void *ctx, const caf_execution *e, caf_execution_result *result, caf_error *err)
{
    (void)ctx, (void)err;
    executions++;
    int entries = 0;
    for (size_t i = 0; i < e->run_count; i++)
        entries += e->runs[i].run % 2 ? 60 : 50; /* two runs make 110 >= 100 */
    *result = entries >= 100 ? CAF_RESULT_OK : CAF_RESULT_NOT_ENOUGH_DATA;
    return CAF_OK;
}

static caf_status commit(void *ctx, const caf_execution *e, caf_error *err)
{
    (void)ctx, (void)e, (void)err;
    return CAF_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    caf_exprun *runs = malloc(n * sizeof *runs);
    for (size_t i = 0; i < n; i++)
        runs[i] = (caf_exprun){(int)(i / 5000) + 1, (int)(i % 5000) + 1};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_callbacks cb = {.execute = execute, .commit = commit};
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};

    double t0 = now();
    if (caf_strategy_run(&p, 0, runs, n, NULL, 0, &cb, &s, &err) != CAF_OK) {
        fprintf(stderr, "bench_strategy: %s\n", err.message);
        return 1;
    }
    double fresh = now() - t0;
    int fresh_executions = executions;

    char path[] = "/tmp/caf-bench-strategy-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    t0 = now();
    caf_strategy_state_save(&s, path, &err);
    double save = now() - t0;
    caf_strategy_state loaded;
    caf_strategy_state_init(&loaded);
    t0 = now();
    caf_strategy_state_load(path, &loaded, &err);
    double load = now() - t0;
    executions = 0;
    t0 = now();
    if (caf_strategy_run(&p, 0, runs, n, NULL, 0, &cb, &loaded, &err) != CAF_OK) {
        fprintf(stderr, "bench_strategy: %s\n", err.message);
        return 1;
    }
    double replay = now() - t0;
    printf("bench_strategy: %zu runs, %d executions: fresh %.3f ms, replay %.3f ms (%d executed, ratio %.2f), "
           "state save %.3f ms, load %.3f ms\n",
           n, fresh_executions, fresh * 1e3, replay * 1e3, executions, replay / fresh, save * 1e3, load * 1e3);
    unlink(path);
    caf_strategy_state_clear(&s);
    caf_strategy_state_clear(&loaded);
    free(runs);
    return 0;
}
