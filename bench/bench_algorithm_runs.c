/* Algorithm executions at scale: a trivial algorithm (TestAlgorithms:test reading its run's histogram and
 * saving one constants payload) under SequentialRunByRun over 1,000 / 5,000 / 10,000 runs. Each
 * execution runs in a child forked by an execution zygote (caf/algorithm_zygote.h: the plugin is loaded once;
 * CAF_ALGO_ZYGOTE=off: forked from this process, the plugin loaded per execution) that opens its input, sends
 * its result over the pipe and writes its
 * execution's staging database, and is committed into one output database, as caf run's algorithm driver
 * does (src/orchestration/run_algorithms.c): each commit is made while the next execution's child runs
 * (orchestration/run_commit_queue.h; CAF_COMMIT_OVERLAP=off: at once, between executions, as before).
 * Reported next to their targets:
 *   - ms per execution, fork and plugin load included (target <= 5 ms), and its growth from the smallest
 *     to the largest size (target: flat, i.e. linear total time);
 *   - fsync + fdatasync + syncfs calls per committed execution, its lineage record committed with it as caf
 *     run does (through the commit journal), counted with `strace -f -c` on separate runs of 100 and 300
 *     runs (target <= 3; skipped when strace is missing);
 *   - peak resident memory of the driving process and of its largest child;
 *   - the smallest size again with commits made at once (CAF_COMMIT_OVERLAP=off), as a ratio.
 *
 * usage: bench_algorithm_runs [BUILD_DIR] [SIZE...]      (BUILD_DIR/tests/plugins holds TestAlgorithms) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caf/algorithm_runner.h"
#include "caf/algorithm_zygote.h"
#include "caf/collector_output.h"
#include "caf/file.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "caf/log.h"
#include "caf/strategy.h"
#include "orchestration/run_commit_queue.h"
#include "orchestration/run_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const caf_error *err)
{
    fprintf(stderr, "bench_algorithm_runs: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* A collector output with a 10-bin histogram "h" of 22 entries for each of runs 1..n of experiment 1; two
 * of them placed by the run number, so that every run's mean, and so its payload, differs. */
static void write_input(const char *path, int n)
{
    caf_error err = {0};
    caf_collector_info info = {"BenchCollector", "BenchCollector", CAF_GRANULARITY_RUN, NULL};
    caf_collector_writer *w;
    caf_object *h;
    if (caf_collector_writer_open(path, &info, &w, &err) != CAF_OK ||
        caf_hist1d_new("h", 10, 0.0, 10.0, &h, &err) != CAF_OK)
        die("writing the input", &err);
    for (int r = 1; r <= n; r++) {
        caf_object_reset(h);
        for (int i = 0; i < 20; i++)
            caf_hist1d_fill(h, (double)((r + i) % 10), 1.0);
        caf_hist1d_fill(h, (double)(r % 1000) / 100.0, 1.0);
        caf_hist1d_fill(h, (double)(r / 1000) * 1e-4, 1.0);
        caf_exprun run = {1, r};
        if (caf_collector_writer_add_run(w, run, &err) != CAF_OK ||
            caf_collector_writer_put(w, "h", run, h, &err) != CAF_OK)
            die("writing the input", &err);
        if (r % 500 == 0 && caf_collector_writer_flush(w, &err) != CAF_OK)
            die("flushing the input", &err);
    }
    caf_object_free(h);
    if (caf_collector_writer_commit(w, &err) != CAF_OK)
        die("committing the input", &err);
}

typedef struct bench_ctx {
    const char *dir;
    const char *input;
    caf_localdb *out; /* the output database, open from the first commit on */
    caf_algo_zygote *zygote; /* forks the executions (NULL with CAF_ALGO_ZYGOTE=off: this process does) */
    size_t committed;
    const caf_strategy_state *state;
    run_commit_queue queue; /* the commit made while the next execution's child runs */
    bool overlap;           /* commits wait in the queue (else made at once) */
} bench_ctx;

static char *execution_dir(const bench_ctx *b, size_t index)
{
    char *p = NULL;
    return asprintf(&p, "%s/execution_%zu", b->dir, index) < 0 ? NULL : p;
}

static caf_status execute(void *ctx, const caf_execution *e, caf_execution_result *result, caf_error *err)
{
    bench_ctx *b = ctx;
    char *dir = execution_dir(b, e->index), *db = NULL, *log = NULL;
    if (!dir || asprintf(&db, "%s/database", dir) < 0 || asprintf(&log, "%s/algorithm.log", dir) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_mkdir_p(dir, err);
    const char *names[] = {"object"}, *values[] = {"h"};
    caf_algo_run_spec spec = {
        .plugin = "TestAlgorithms", .algorithm = "test", .collector = "BenchCollector",
        .inputs = &b->input, .input_count = 1, .runs = e->runs, .run_count = e->run_count,
        .iteration = e->iteration, .iov = &e->iov, .param_names = names, .param_values = values,
        .param_count = 1, .output_db = db, .output_db_staging = true, .log_path = log, .zygote = b->zygote,
        .while_running = run_commit_queue_while_running, .while_running_ctx = &b->queue,
    };
    caf_algo_run_result out = {0};
    if (rc == CAF_OK)
        rc = caf_algo_run(&spec, &out, err);
    caf_status flushed = run_commit_queue_flush(&b->queue, err);
    if (rc == CAF_OK)
        rc = flushed;
    *result = out.result == CAF_ALGO_OK ? CAF_RESULT_OK : CAF_RESULT_FAILURE;
    caf_algo_run_result_clear(&out);
    free(dir);
    free(db);
    free(log);
    return rc;
}

static caf_status commit_now(void *ctx, size_t index, const char *message, caf_error *err)
{
    (void)message;
    bench_ctx *b = ctx;
    const caf_execution *e = &b->state->executions[index];
    char *dir = execution_dir(b, e->index), *db = NULL;
    if (!dir || asprintf(&db, "%s/database", dir) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = CAF_OK;
    if (!b->out) {
        char *out = caf_path_join(b->dir, "output_database");
        rc = out ? caf_localdb_open(out, CAF_LOCALDB_CREATE, &b->out, err) : CAF_ERR_NOMEM;
        free(out);
    }
    /* with a lineage record of the size caf run writes (run_lineage.c: the execution, its payloads, one
     * collector job of 10 input files), committed with the lines through the commit journal */
    char *record_file = NULL;
    json_t *record = json_pack("{s:s, s:s, s:i, s:{s:I, s:o, s:[iiii], s:s}, s:[{s:s, s:s}], s:[]}", "format",
                               CAF_LINEAGE_FORMAT, "calibration", "bench", "iteration", e->iteration, "execution",
                               "index", (json_int_t)e->index, "runs", caf_json_runs(e->runs, e->run_count), "iov",
                               e->iov.exp_low, e->iov.run_low, e->iov.exp_high, e->iov.run_high, "result", "ok",
                               "payloads", "name", "TestConstants", "md5", "0123456789abcdef0123456789abcdef",
                               "collector_jobs");
    json_t *files = json_array();
    for (int i = 0; i < 10; i++)
        json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:I}", "path", "/data/campaign/toy_e0001_r00001_f00.h5",
                                               "size", (json_int_t)49304, "mtime", "2026-12-07T13:50:49Z", "mtime_ns",
                                               (json_int_t)1796651449123456789));
    json_array_append_new(json_object_get(record, "collector_jobs"),
                          json_pack("{s:s, s:i, s:o}", "job", "bench-iteration-0", "subjob", (int)e->index, "input_files", files));
    if (rc == CAF_OK && (!record || asprintf(&record_file, "bench.execution_%zu.json", e->index) < 0))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = run_db_copy_staged_with_lineage(db, b->out, record_file, record, err);
    json_decref(record);
    free(record_file);
    b->committed += rc == CAF_OK;
    free(dir);
    free(db);
    return rc;
}

static caf_status commit(void *ctx, const caf_execution *e, caf_error *err)
{
    bench_ctx *b = ctx;
    return b->overlap ? run_commit_queue_push(&b->queue, e->index, NULL, err) : commit_now(b, e->index, NULL, err);
}

static double cpu_seconds(void)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
                    children.ru_stime.tv_sec) +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
                    children.ru_stime.tv_usec) * 1e-6;
}

/* One size in this process: prints "executions committed seconds maxrss_self_kb maxrss_children_kb lines
 * cpu_seconds". */
static int run_one_size(int n)
{
    char tmpl[] = "/tmp/caf-bench-runs-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        die("mkdtemp", NULL);
    char input[4200];
    snprintf(input, sizeof input, "%s/collected.sqlite", dir);
    write_input(input, n);
    caf_exprun *runs = malloc((size_t)n * sizeof *runs);
    for (int i = 0; i < n; i++)
        runs[i] = (caf_exprun){1, i + 1};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    const char *overlap = getenv("CAF_COMMIT_OVERLAP");
    bench_ctx b = {.dir = dir, .input = input, .state = &s, .overlap = !overlap || strcmp(overlap, "off") != 0};
    run_commit_queue_init(&b.queue, commit_now, &b);
    caf_strategy_callbacks cb = {.ctx = &b, .execute = execute, .commit = commit};
    caf_error err = {0};
    double t0 = now(), c0 = cpu_seconds();
    if (caf_algo_zygote_open(&(caf_algo_run_spec){.plugin = "TestAlgorithms"}, &b.zygote, &err) != CAF_OK)
        die("the zygote", &err);
    if (caf_strategy_run(&p, 0, runs, (size_t)n, NULL, 0, &cb, &s, &err) != CAF_OK ||
        run_commit_queue_flush(&b.queue, &err) != CAF_OK)
        die("the strategy", &err);
    run_commit_queue_clear(&b.queue);
    caf_algo_zygote_close(b.zygote); /* its CPU time counts once it is reaped */
    double seconds = now() - t0, cpu = cpu_seconds() - c0;
    size_t lines = b.out ? caf_localdb_entry_count(b.out) : 0;
    caf_localdb_close(b.out);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("%zu %zu %.6f %ld %ld %zu %.6f\n", s.execution_count, b.committed, seconds, self.ru_maxrss,
           children.ru_maxrss, lines, cpu);
    caf_strategy_state_clear(&s);
    free(runs);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "bench_algorithm_runs: could not remove %s\n", dir);
    free(cmd);
    return 0;
}

typedef struct size_result {
    int runs;
    size_t executions, committed, lines;
    double seconds, cpu;
    long self_kb, child_kb;
} size_result;

/* Runs `[prefix...] self --one n` and reads its line. */
static bool measure(const char *self, const char *prefix, int n, size_result *r)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "%s'%s' --one %d", prefix, self, n) < 0)
        return false;
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f)
        return false;
    r->runs = n;
    bool ok = fscanf(f, "%zu %zu %lf %ld %ld %zu %lf", &r->executions, &r->committed, &r->seconds, &r->self_kb,
                     &r->child_kb, &r->lines, &r->cpu) == 7;
    return pclose(f) == 0 && ok;
}

/* fsync and fdatasync calls counted by strace -c in file. */
static long count_syncs(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long total = 0;
    while (fgets(line, sizeof line, f)) {
        double pct, secs;
        long usecs, calls;
        char name[64];
        /* "% time     seconds  usecs/call     calls    errors syscall" rows */
        if (sscanf(line, "%lf %lf %ld %ld %63s", &pct, &secs, &usecs, &calls, name) == 5 ||
            sscanf(line, "%lf %lf %ld %ld %*d %63s", &pct, &secs, &usecs, &calls, name) == 5) {
            const char *syscall = strrchr(line, ' ');
            syscall = syscall ? syscall + 1 : name;
            if (!strncmp(syscall, "fsync", 5) || !strncmp(syscall, "fdatasync", 9) || !strncmp(syscall, "syncfs", 6))
                total += calls;
        }
    }
    fclose(f);
    return total;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--one"))
        return run_one_size(atoi(argv[2]));
    const char *build = argc > 1 ? argv[1] : getenv("CAF_BUILD_DIR");
    char plugins[4096];
    snprintf(plugins, sizeof plugins, "%s/tests/plugins", build ? build : "build");
    char plugin[4200];
    snprintf(plugin, sizeof plugin, "%s/TestAlgorithms.so", plugins);
    if (!caf_path_exists(plugin)) {
        printf("algorithm executions at scale: skipped, %s is not built (tests are off)\n", plugin);
        return 0;
    }
    setenv("CAF_PLUGIN_PATH", plugins, 1);
    setenv("CAF_LOG_LEVEL", "warning", 1);
    int sizes[16] = {1000, 5000, 10000};
    int size_count = 3;
    if (argc > 2) {
        size_count = 0;
        for (int i = 2; i < argc && size_count < 16; i++)
            sizes[size_count++] = atoi(argv[i]);
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        die("readlink /proc/self/exe", NULL);
    self[len] = '\0';

    size_result first = {0}, r;
    for (int k = 0; k < size_count; k++) {
        if (!measure(self, "", sizes[k], &r) || r.committed != r.executions || r.lines != r.committed)
            die("a run", NULL);
        double ms = r.seconds * 1e3 / (double)r.executions, cpu_ms = r.cpu * 1e3 / (double)r.executions;
        if (k == 0)
            first = r;
        double growth = ms / (first.seconds * 1e3 / (double)first.executions);
        double cpu_growth = cpu_ms / (first.cpu * 1e3 / (double)first.executions);
        printf("algorithm executions: %5d runs, %5zu executions committed: %.2f ms per execution (target <= 5: %s), "
               "%.2fx the %d-run figure (target flat); CPU %.2f ms per execution (%.2fx); peak memory %.1f MB "
               "driver, %.1f MB largest child\n",
               r.runs, r.executions, ms, ms <= 5.0 ? "met" : "MISSED", growth, first.runs, cpu_ms, cpu_growth,
               r.self_kb / 1024.0, r.child_kb / 1024.0);
        fflush(stdout);
    }
    /* the same smallest size with every commit made at once, between executions: what the overlap saves */
    size_result serial;
    if (!measure(self, "CAF_COMMIT_OVERLAP=off ", first.runs, &serial) || serial.committed != serial.executions)
        die("a run with CAF_COMMIT_OVERLAP=off", NULL);
    printf("algorithm executions: %d runs with each commit made at once between executions (CAF_COMMIT_OVERLAP=off): "
           "%.2f ms per execution; overlapped with the next execution's child: %.2fx that\n", serial.runs,
           serial.seconds * 1e3 / (double)serial.executions,
           (first.seconds / (double)first.executions) / (serial.seconds / (double)serial.executions));
    fflush(stdout);
    if (system("command -v strace >/dev/null 2>&1") != 0) {
        printf("algorithm executions: fsyncs per committed execution: skipped (strace is not installed)\n");
        return 0;
    }
    char trace[] = "/tmp/caf-bench-strace-XXXXXX";
    int fd = mkstemp(trace);
    if (fd < 0)
        die("mkstemp", NULL);
    close(fd);
    /* two sizes: the difference is what the commits cost, without what is done once (creating the output
     * database) */
    char prefix[256];
    snprintf(prefix, sizeof prefix, "strace -f -c -e trace=fsync,fdatasync,syncfs -o %s ", trace);
    size_result small, big;
    if (!measure(self, prefix, 100, &small))
        die("the run under strace", NULL);
    long small_syncs = count_syncs(trace);
    if (!measure(self, prefix, 300, &big))
        die("the run under strace", NULL);
    long big_syncs = count_syncs(trace);
    unlink(trace);
    double per = (double)(big_syncs - small_syncs) / (double)(big.committed - small.committed);
    printf("algorithm executions: fsync/fdatasync/syncfs calls (under strace): %ld for %zu committed executions, "
           "%ld for %zu: %.2f per committed execution, lineage record included (target <= 3: %s), %ld made once\n",
           small_syncs, small.committed, big_syncs, big.committed, per, per <= 3.0 ? "met" : "MISSED",
           small_syncs - (long)(per * (double)small.committed + 0.5));
    return 0;
}
