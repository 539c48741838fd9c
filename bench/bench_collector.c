/* The collector framework.
 *
 * 1. Collecting: TrivialCollector (one 100-bin histogram per run, filled from a float32 column) against
 *    the engine running ColumnSum (a trivial module summing the same column) over the same file, in the
 *    same process, interleaved, best of 5 each, 20 M events in runs of 100,000 (--events, --per-run).
 *    Goal: the collector at >= 70 % of the engine's rate.
 *    Also against HistFillModule, a plain module filling the same histogram: the framework's own cost.
 * 2. Merging: N collector outputs of R runs x 10 histograms of 1,000 bins merged with
 *    caf_collector_output_merge_files, against reading the same files' bytes once with read(2).
 *    Goal: within 3x. The size is N = 1,000, R = 100 (16 GB of input); the default run uses
 *    N = 20 (--outputs N, --runs R to change, --full for the size).
 *
 * usage: bench_collector [--events N] [--per-run N] [--outputs N] [--runs R] [--full]
 * (runs of 100,000 events by default, as bench_engine's multi-run file)
 * (plugins from $CAF_PLUGIN_PATH, else ../tests/plugins and ../plugins beside this program) */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/event_read_baseline.h"
#include "caf/collector_output.h"
#include "caf/engine.h"
#include "caf/file.h"
#include "caf/log.h"
#include "caf/path.h"
#include <sqlite3.h>

#define HISTS 10
#define BINS 1000

static double engine_seconds(const char *yaml, const char *input, int64_t *events)
{
    caf_path_set *set;
    caf_engine *e;
    caf_error err = {0};
    const char *inputs[] = {input};
    caf_engine_options o = {.inputs = inputs, .n_inputs = 1, .seed = 1};
    if (caf_path_set_parse(yaml, strlen(yaml), "bench.yaml", &set, &err) || caf_engine_open(&e, set, &o, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    double t0 = bench_now();
    caf_status st = caf_engine_run(e, &err);
    double t1 = bench_now();
    *events = caf_engine_get_stats(e).events;
    caf_engine_close(e);
    caf_path_set_free(set);
    if (st) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    return t1 - t0;
}

static void bench_collect(const char *dir, size_t n, size_t per_run)
{
    char input[512], out[512], yaml_base[256], yaml_coll[1024];
    const char *yaml_fill = "- {module: HistFillModule}\n";
    snprintf(input, sizeof input, "%s/events.h5", dir);
    snprintf(out, sizeof out, "%s/trivial.sqlite", dir);
    if (bench_write_event_file_runs(input, n, per_run, 0))
        exit(1);
    snprintf(yaml_base, sizeof yaml_base, "- {module: ColumnSum, params: {column: x}}\n");
    snprintf(yaml_coll, sizeof yaml_coll, "- {module: TrivialCollector, params: {column: x, outputFileName: \"%s\"}}\n",
             out);
    double best_base = 1e30, best_coll = 1e30, best_fill = 1e30;
    int64_t events = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t = engine_seconds(yaml_base, input, &events);
        best_base = t < best_base ? t : best_base;
        t = engine_seconds(yaml_fill, input, &events);
        best_fill = t < best_fill ? t : best_fill;
        t = engine_seconds(yaml_coll, input, &events);
        best_coll = t < best_coll ? t : best_coll;
    }
    caf_collector_output *f;
    caf_error err = {0};
    if (caf_collector_output_open(out, &f, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    size_t runs = caf_collector_output_run_range(f)->count;
    caf_collector_output_close(f);
    /* the per-job constant: closing, fsync'ing and renaming the output, timed on a tiny job */
    char tiny[512];
    snprintf(tiny, sizeof tiny, "%s/tiny.h5", dir);
    if (bench_write_event_file_runs(tiny, 1000, 1000, 0))
        exit(1);
    double best_tiny = 1e30;
    int64_t tiny_events;
    for (int pass = 0; pass < 5; pass++) {
        double t = engine_seconds(yaml_coll, tiny, &tiny_events);
        best_tiny = t < best_tiny ? t : best_tiny;
    }
    unlink(tiny);
    double base = (double)events / best_base, coll = (double)events / best_coll, fill = (double)events / best_fill;
    printf("bench_collector collect: %lld events in %zu runs of %zu; engine + ColumnSum %.3g events/s, "
           "engine + TrivialCollector %.3g events/s: %.0f %% of the engine's rate (goal >= 70 %%)\n",
           (long long)events, runs, per_run, base, coll, 100.0 * coll / base);
    printf("bench_collector collect: the same histogram filled by a plain module (HistFillModule, no framework, "
           "no output) %.3g events/s: the collector runs at %.0f %% of it (the framework's own cost)\n",
           fill, 100.0 * coll / fill);
    printf("bench_collector collect: a job's constant cost (a 1,000-event job: writing, fsync'ing and renaming "
           "the output) %.1f ms\n", 1e3 * best_tiny);
}

/* One collector output of runs x HISTS histograms of BINS bins. */
static void write_output(const char *path, int runs)
{
    caf_error err = {0};
    caf_collector_info info = {"BenchCollector", "BenchCollector", CAF_GRANULARITY_RUN, NULL};
    caf_collector_writer *w;
    if (caf_collector_writer_open(path, &info, &w, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    caf_object *h;
    caf_hist1d_new("h", BINS, 0, 1, &h, &err);
    for (int i = 0; i < BINS * 3; i++)
        caf_hist1d_fill(h, (i % BINS + 0.5) / BINS, 1.0 + i % 7);
    for (int r = 1; r <= runs; r++) {
        for (int k = 0; k < HISTS; k++) {
            char name[16];
            snprintf(name, sizeof name, "h%d", k);
            if (caf_collector_writer_put(w, name, (caf_exprun){1, r}, h, &err)) {
                fprintf(stderr, "bench_collector: %s\n", err.message);
                exit(1);
            }
        }
        caf_collector_writer_add_run(w, (caf_exprun){1, r}, &err);
        caf_collector_writer_flush(w, &err);
    }
    caf_object_free(h);
    if (caf_collector_writer_commit(w, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
}

/* Reads every byte of the files once; returns the byte count. */
static size_t read_all(char **paths, int n)
{
    static char buf[1 << 20];
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY);
        ssize_t got;
        while (fd >= 0 && (got = read(fd, buf, sizeof buf)) > 0)
            total += (size_t)got;
        if (fd >= 0)
            close(fd);
    }
    return total;
}

/* Reads every chunk blob of the files through SQLite once (the same bytes as the merge reads, without
 * decoding or adding); returns the blob bytes. */
static size_t read_blobs(char **paths, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        sqlite3 *db;
        sqlite3_stmt *s;
        if (sqlite3_open_v2(paths[i], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT data FROM chunks ORDER BY piece, seq", -1, &s, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench_collector: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_exec(db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL); /* as the merge reads */
        while (sqlite3_step(s) == SQLITE_ROW) {
            const unsigned char *b = sqlite3_column_blob(s, 0);
            total += (size_t)sqlite3_column_bytes(s, 0) + (b ? b[0] & 0 : 0);
        }
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    return total;
}

static void bench_merge(const char *dir, int outputs, int runs)
{
    char **paths = calloc((size_t)outputs, sizeof *paths);
    caf_error err = {0};
    for (int i = 0; i < outputs; i++) {
        paths[i] = malloc(600);
        snprintf(paths[i], 600, "%s/job%04d.sqlite", dir, i);
        if (i == 0)
            write_output(paths[0], runs);
        else if (caf_file_copy_atomic(paths[0], paths[i], &err)) {
            fprintf(stderr, "bench_collector: %s\n", err.message);
            exit(1);
        }
    }
    char merged[600];
    snprintf(merged, sizeof merged, "%s/merged.sqlite", dir);
    double ts = bench_now();
    size_t blob_bytes = read_blobs(paths, outputs);
    double t0 = bench_now();
    size_t bytes = read_all(paths, outputs);
    double t1 = bench_now();
    if (caf_collector_output_merge_files(merged, (const char *const *)paths, (size_t)outputs, NULL, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    double t2 = bench_now();
    /* the merged sum is checked, so that the timing is of a real merge */
    caf_collector_output *f;
    caf_object *h;
    if (caf_collector_output_open(merged, &f, &err) ||
        caf_collector_output_read(f, "h3", (caf_exprun){1, runs}, &h, &err)) {
        fprintf(stderr, "bench_collector: %s\n", err.message);
        exit(1);
    }
    if (caf_hist1d_entries(h) != (int64_t)outputs * BINS * 3) {
        fprintf(stderr, "bench_collector: merged histogram has %lld entries\n", (long long)caf_hist1d_entries(h));
        exit(1);
    }
    caf_object_free(h);
    caf_collector_output_close(f);
    printf("bench_collector merge: %d outputs x %d runs x %d histograms of %d bins (%.0f MB): reading the bytes "
           "once %.2f s (%.0f MB/s), merging %.2f s (%.0f MB/s): %.2fx the read (goal <= 3x)\n",
           outputs, runs, HISTS, BINS, bytes / 1e6, t1 - t0, bytes / 1e6 / (t1 - t0), t2 - t1,
           bytes / 1e6 / (t2 - t1), (t2 - t1) / (t1 - t0));
    printf("bench_collector merge: reading the same objects' bytes once through SQLite (%.0f MB of chunks) %.2f s: "
           "merging is %.2fx that read\n",
           blob_bytes / 1e6, t0 - ts, (t2 - t1) / (t0 - ts));
    for (int i = 0; i < outputs; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    unlink(merged);
    free(paths);
}

int main(int argc, char **argv)
{
    size_t events = 20000000, per_run = 100000;
    int outputs = 20, runs = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--per-run") && i + 1 < argc)
            per_run = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--outputs") && i + 1 < argc)
            outputs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--full"))
            outputs = 1000, runs = 100;
        else {
            fprintf(stderr, "usage: bench_collector [--events N] [--per-run N] [--outputs N] [--runs R] [--full]\n");
            return 2;
        }
    }
    if (!getenv("CAF_PLUGIN_PATH")) {
        char self[4096], plugins[9000];
        snprintf(self, sizeof self, "%s", argv[0]);
        const char *d = dirname(self);
        snprintf(plugins, sizeof plugins, "%s/../tests/plugins:%s/../plugins", d, d);
        setenv("CAF_PLUGIN_PATH", plugins, 1);
    }
    caf_hdf5_silence();
    caf_log_set_level(CAF_LOG_WARNING);
    char dir[] = "/tmp/caf-bench-collector-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    bench_collect(dir, events, per_run ? per_run : 1);
    bench_merge(dir, outputs, runs);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/events.h5", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/trivial.sqlite", dir);
    unlink(cmd);
    rmdir(dir);
    return 0;
}
