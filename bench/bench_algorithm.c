/* Algorithm framework benchmarks.
 *
 * 1. Merging one object over 1,000 runs of 1,000-bin histograms for an execution (caf_algo_get_object in
 *    calibrate), against reading the same stored bytes (the object's chunks, straight from the collector
 *    output's SQLite table) and against reading the whole file. Goal: within 3x of reading the bytes.
 * 2. Runner overhead per execution (fork, pipe, plugin load, input open, result over the pipe) with an
 *    algorithm that does nothing, against a bare fork/exec of /bin/true.
 *
 * usage: bench_algorithm [BUILD_DIR]   (BUILD_DIR/tests/plugins holds the TestAlgorithms plugin) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caf/algorithm_instance.h"
#include "caf/algorithm_runner.h"
#include "caf/collector_output.h"
#include "caf/file.h"
#include "caf/log.h"
#include "bench_histogram_input.h"

#define RUNS 1000
#define BINS 1000
#define REPEAT 7
#define EXECUTIONS 40

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const caf_error *err)
{
    fprintf(stderr, "bench_algorithm: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* ---- 1. merging ---- */

static int64_t merged_entries;

static caf_algo_result merge_calibrate(caf_algo_context *ctx, caf_error *err)
{
    const caf_object *h;
    if (caf_algo_get_object(ctx, "h", &h, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    merged_entries = caf_hist1d_entries(h);
    return CAF_ALGO_OK;
}

static const caf_algorithm_descriptor merge_descriptor = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "merge",
    .description = "merges h over the requested runs",
    .collector = "BenchCollector",
    .calibrate = merge_calibrate,
};

static double time_merge(const char *path)
{
    caf_algorithm *alg;
    caf_error err = {0};
    if (caf_algorithm_new(&merge_descriptor, &alg, &err) != CAF_OK ||
        caf_algorithm_set_inputs(alg, &path, 1, &err) != CAF_OK)
        die("setting up the merge", &err);
    double best = 1e30;
    for (int i = 0; i < REPEAT; i++) {
        caf_algo_result r;
        double t0 = now();
        if (caf_algorithm_execute(alg, NULL, 0, 0, NULL, &r, &err) != CAF_OK || r != CAF_ALGO_OK)
            die("merging", &err);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    if (merged_entries != (int64_t)RUNS * 2000)
        die("merging gave the wrong entry count", NULL);
    caf_algorithm_close(alg);
    return best;
}

/* Reads every stored chunk of object h (the bytes the merge decodes); returns the byte count. */
static double time_read_chunks(const char *path, size_t *bytes)
{
    double best = 1e30;
    for (int i = 0; i < REPEAT; i++) {
        double t0 = now();
        sqlite3 *db;
        sqlite3_stmt *st;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT c.data FROM chunks c JOIN pieces p ON c.piece = p.id WHERE p.name = 'h' "
                                   "ORDER BY p.exp, p.run, p.idx, c.seq", -1, &st, NULL) != SQLITE_OK)
            die("reading the chunks", NULL);
        size_t total = 0;
        unsigned char sink = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *data = sqlite3_column_blob(st, 0);
            int n = sqlite3_column_bytes(st, 0);
            for (int k = 0; k < n; k += 64)
                sink ^= data[k]; /* touch the bytes, as a decoder would */
            total += (size_t)n;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        double t = now() - t0;
        best = t < best ? t : best;
        *bytes = total + (sink & 0); /* keep sink alive */
    }
    return best;
}

static double time_read_file(const char *path, size_t *bytes)
{
    double best = 1e30;
    for (int i = 0; i < REPEAT; i++) {
        double t0 = now();
        char *data;
        caf_error err = {0};
        if (caf_file_read(path, &data, bytes, &err) != CAF_OK)
            die("reading the file", &err);
        free(data);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

/* ---- 2. runner overhead ---- */

static double time_runner(const char *input)
{
    caf_algo_run_spec spec = {0};
    spec.plugin = "TestAlgorithms";
    spec.algorithm = "minimal";
    spec.collector = "BenchCollector";
    spec.inputs = &input;
    spec.input_count = 1;
    double t0 = now();
    for (int i = 0; i < EXECUTIONS; i++) {
        caf_algo_run_result out = {0};
        caf_error err = {0};
        if (caf_algo_run(&spec, &out, &err) != CAF_OK || out.result != CAF_ALGO_OK)
            die("running the minimal algorithm", &err);
        caf_algo_run_result_clear(&out);
    }
    return (now() - t0) / EXECUTIONS;
}

static double time_fork_exec(void)
{
    double t0 = now();
    for (int i = 0; i < EXECUTIONS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("fork/exec of /bin/true", NULL);
    }
    return (now() - t0) / EXECUTIONS;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : getenv("CAF_BUILD_DIR");
    char plugins[4096];
    snprintf(plugins, sizeof plugins, "%s/tests/plugins", build ? build : "build");
    setenv("CAF_PLUGIN_PATH", plugins, 1);
    caf_log_set_level(CAF_LOG_WARNING);
    char tmpl[] = "/tmp/caf-bench-algorithm-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        die("mkdtemp", NULL);
    char big[4200], small[4200];
    snprintf(big, sizeof big, "%s/runs.sqlite", dir);
    snprintf(small, sizeof small, "%s/one.sqlite", dir);
    write_input(big, RUNS, BINS);
    write_input(small, 1, 10);

    size_t chunk_bytes = 0, file_bytes = 0;
    double merge = time_merge(big);
    double chunks = time_read_chunks(big, &chunk_bytes);
    double file = time_read_file(big, &file_bytes);
    printf("algorithm merge: 1 object over %d runs of %d-bin histograms (%.1f MB stored) in %.1f ms\n", RUNS, BINS,
           (double)chunk_bytes / 1e6, merge * 1e3);
    printf("  reading the same bytes (SQLite chunks) %.1f ms: merge/read = %.2fx (goal <= 3x)\n", chunks * 1e3,
           merge / chunks);
    printf("  reading the whole file (%.1f MB) %.1f ms: merge/file = %.2fx\n", (double)file_bytes / 1e6, file * 1e3,
           merge / file);

    char plugin[4200];
    snprintf(plugin, sizeof plugin, "%s/TestAlgorithms.so", plugins);
    if (!caf_path_exists(plugin)) {
        printf("algorithm runner: skipped, %s is not built (tests are off)\n", plugin);
        unlink(big);
        unlink(small);
        rmdir(dir);
        return 0;
    }
    double runner = time_runner(small);
    double bare = time_fork_exec();
    printf("algorithm runner: %.2f ms per execution (fork, pipe, plugin load, input open, result), bare "
           "fork/exec of /bin/true %.2f ms: overhead ratio %.1fx\n",
           runner * 1e3, bare * 1e3, runner / bare);
    unlink(big);
    unlink(small);
    rmdir(dir);
    return 0;
}
