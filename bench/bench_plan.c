/* caf plan over a large production: FILES tiny event files in RUNS runs (10 experiments), one calibration
 * reading them all (10 files per collector job) with a SimpleRunByRun algorithm (one IoV per run) and a
 * SequentialBoundaries one, planned by `caf plan --json` with a warm file-index cache (a first plan fills
 * it). Reported: the warm plan's wall time and peak RSS (the command as a user runs it, measured by wait4)
 * against the targets (< 2 s and < 200 MB for 100,000 files in 10,000 runs), and against the
 * baseline of the same run: the warm file index alone over the same files (what every start of a run
 * costs anyway).
 *
 * usage: bench_plan BUILD_DIR [FILES RUNS]   (default 2000 200; `make bench` runs 100000 10000) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bench/bench_toy_files.h"
#include "caf/event_file.h"
#include "caf/file.h"
#include "caf/file_index.h"

#define EXPERIMENTS 10
#define FILES_PER_JOB 10
#define REPEAT 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const caf_error *err)
{
    fprintf(stderr, "bench_plan: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void write_campaign(const char *path, const char *data, int runs)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("writing the campaign", NULL);
    fprintf(f, "output_dir: out\ncalibrations:\n  - name: big\n    collector: ExampleHitCollector\n"
               "    input_files: [\"%s/*.h5\"]\n    max_files_per_collector_job: %d\n    ignored_runs: [[1, 3]]\n"
               "    algorithms:\n      - plugin: ExampleChannelStatusAlgorithm\n        strategy: SimpleRunByRun\n"
               "      - plugin: ExampleGainAlgorithm\n        strategy: SequentialBoundaries\n"
               "        strategy_parameters:\n          payload_boundaries: [",
            data, FILES_PER_JOB);
    int per_exp = runs / EXPERIMENTS > 0 ? runs / EXPERIMENTS : 1;
    for (int e = 1; e <= EXPERIMENTS; e++)
        fprintf(f, "%s[%d, %d]", e > 1 ? ", " : "", e, per_exp / 2);
    fprintf(f, "]\n");
    if (fclose(f) != 0)
        die("writing the campaign", NULL);
}

/* Runs `caf plan CAMPAIGN --json` with stdout to /dev/null; returns its wall time, *rss_mb its peak. */
static double plan(const char *caf, const char *campaign, double *rss_mb)
{
    fflush(stdout); /* a child must not print what the parent buffered */
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(caf, caf, "-q", "plan", campaign, "--json", (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("caf plan failed", NULL);
    *rss_mb = (double)ru.ru_maxrss / 1024.0;
    return now() - t0;
}

/* The baseline: the warm file index over the same files in a child; returns its wall time. */
static double index_only(const char *data, const char *cache, size_t expect)
{
    fflush(stdout); /* a child must not print what the parent buffered */
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        caf_file_index *ix;
        caf_error err = {0};
        if (caf_file_index_open(&ix, cache, &err) || caf_file_index_add_dir(ix, data, &err))
            _exit(1);
        const caf_run_files *runs;
        size_t n_runs;
        caf_file_index_runs(ix, &runs, &n_runs, &err);
        caf_file_index_stats st = caf_file_index_get_stats(ix);
        caf_file_index_close(ix);
        _exit(st.files == expect && st.files_opened == 0 ? 0 : 2);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the warm file index did not answer every file from its cache", NULL);
    return now() - t0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: bench_plan BUILD_DIR [FILES RUNS]\n");
        return 2;
    }
    size_t files = argc == 4 ? strtoull(argv[2], NULL, 10) : 2000;
    int runs = argc == 4 ? atoi(argv[3]) : 200;
    if (runs < EXPERIMENTS || files < (size_t)runs)
        die("needs RUNS >= 10 and FILES >= RUNS", NULL);
    char *plugins = caf_path_join(argv[1], "plugins"), *caf = caf_path_join(argv[1], "bin/caf");
    setenv("CAF_PLUGIN_PATH", plugins, 1);
    caf_hdf5_silence();
    char dir[] = "/tmp/caf-bench-plan-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *data = caf_path_join(dir, "data"), *campaign = caf_path_join(dir, "campaign.yaml");
    char *cache = caf_path_join(dir, "out/file_index.sqlite");
    caf_error err = {0};
    if (caf_mkdir_p(data, &err) != CAF_OK)
        die("mkdir", &err);
    double t0 = now();
    for (int r = 0; r < runs; r++) { /* experiments 1-10, runs 1, 2, ... in each */
        size_t copies = files / (size_t)runs + ((size_t)r < files % (size_t)runs ? 1 : 0);
        bench_write_toy_run(data, 1 + r % EXPERIMENTS, 1 + r / EXPERIMENTS, copies);
    }
    write_campaign(campaign, data, runs);
    double written = now() - t0, rss;
    double cold = plan(caf, campaign, &rss);
    printf("bench_plan: %zu files in %d runs written in %.0f s; first plan (cold index) %.1f s\n", files, runs,
           written, cold);
    double best_plan = 1e30, best_rss = 0, best_index = 1e30;
    for (int i = 0; i < REPEAT; i++) { /* interleaved, best of REPEAT: the machine is shared */
        double t = plan(caf, campaign, &rss);
        if (t < best_plan)
            best_plan = t, best_rss = rss;
        double ix = index_only(data, cache, files);
        best_index = ix < best_index ? ix : best_index;
    }
    printf("bench_plan: warm plan of %zu files in %d runs (%zu collector jobs, %d IoVs): %.2f s (target < 2 s), "
           "peak RSS %.0f MB (target < 200 MB); the warm file index alone %.2f s, plan/index %.2f\n",
           files, runs, (files + FILES_PER_JOB - 1) / FILES_PER_JOB, runs, best_plan, best_rss, best_index,
           best_plan / best_index);
    int rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0;
    free(plugins), free(caf), free(data), free(campaign), free(cache);
    return rc;
}
