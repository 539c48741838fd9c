/* A whole campaign at production size on the local backend: RUNS runs (10 experiments) of FILES_PER_RUN
 * tiny event files each (10,000 x 10 = 100,000 files in `make bench`), one calibration with a trivial
 * collector (TrivialCollector: one histogram per run, 100 files per collector job) and a trivial algorithm
 * (TestAlgorithms:test, one payload per execution) under SequentialRunByRun (one execution per run).
 *
 * `caf run` is timed from outside: each line it logs is stamped when it arrives, and the phases are cut at
 * the run loop's own lines (state transitions, "merging ..."): indexing (the file index, the campaign's
 * inputs and the collector jobs' folders), collection, merging, algorithms, and commit (the final merged
 * database and summaries). Also reported: the peak memory of the run loop (its closing line) and the size
 * of its state database. The same campaign at a tenth of the runs is run first in the same process, so
 * that each phase's time per run at both sizes shows what does not grow linearly.
 *
 * usage: bench_campaign BUILD_DIR [RUNS [FILES_PER_RUN]]   (default 1000 10; `make bench` runs 10000 10)
 *        bench_campaign --write DIR RUNS FILES_PER_RUN    (only writes the files and campaign.yaml into DIR, for
 *                                                          profiling `caf run campaign.yaml` there by hand) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bench/bench_toy_files.h"
#include "caf/event_file.h"
#include "caf/file.h"

#define EXPERIMENTS 10
#define FILES_PER_JOB 100

enum { PH_INDEX, PH_COLLECT, PH_MERGE, PH_ALGO, PH_COMMIT, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {"indexing", "collection", "merging", "algorithms", "commit"};

/* The run loop's lines that end each phase, in order (the algorithms phase starts at its own line). */
static const char *const phase_ends[PH_COUNT] = {"init -> running_collector", "merging ",
                                                 "running_collector -> collector_completed",
                                                 "running_algorithms -> algorithms_completed",
                                                 "calibrations completed in "};

typedef struct campaign_result {
    double phase_s[PH_COUNT], total_s, peak_mb, state_mb;
} campaign_result;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_campaign: %s\n", what);
    exit(1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void write_campaign(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the campaign");
    fprintf(f, "output_dir: out\ncalibrations:\n  - name: big\n"
               "    collector: {plugin: TrivialCollector, parameters: {column: x}}\n"
               "    input_files: [\"data/*.h5\"]\n    max_files_per_collector_job: %d\n    algorithms:\n"
               "      - plugin: \"TestAlgorithms:test\"\n        strategy: SequentialRunByRun\n",
            FILES_PER_JOB);
    if (fclose(f) != 0)
        die("cannot write the campaign");
}

static double file_mb(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

/* Runs `caf run campaign.yaml` in dir, stamping its log lines; fills r or exits on failure. */
static void run_campaign(const char *caf, const char *dir, campaign_result *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe");
    fflush(stdout);
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0 || dup2(fds[1], STDERR_FILENO) < 0 || !freopen("/dev/null", "w", stdout))
            _exit(127);
        close(fds[0]);
        close(fds[1]);
        execl(caf, caf, "run", "campaign.yaml", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *log = fdopen(fds[0], "r");
    double ends[PH_COUNT] = {0}, algo_start = 0;
    char line[8192];
    int next = 0;
    while (log && fgets(line, sizeof line, log)) {
        double t = now();
        if (strstr(line, "collector_completed -> running_algorithms"))
            algo_start = t;
        if (next < PH_COUNT && strstr(line, phase_ends[next]))
            ends[next++] = t;
        const char *peak = strstr(line, "(peak memory of this caf ");
        if (peak)
            r->peak_mb = atof(peak + strlen("(peak memory of this caf "));
        if (strstr(line, "error:"))
            fputs(line, stderr);
    }
    if (log)
        fclose(log);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || next != PH_COUNT)
        die("caf run failed or did not log every phase");
    r->total_s = now() - t0;
    double starts[PH_COUNT] = {t0, ends[PH_INDEX], ends[PH_COLLECT], algo_start, ends[PH_ALGO]};
    for (int p = 0; p < PH_COUNT; p++)
        r->phase_s[p] = ends[p] - starts[p];
    char out[4200];
    snprintf(out, sizeof out, "%s/out", dir);
    r->state_mb = file_mb(out, "caf-state.sqlite") + file_mb(out, "caf-state.sqlite-wal");
}

/* Writes RUNS runs of per_run files into DIR/data and the campaign into DIR/campaign.yaml. */
static void write_inputs(const char *dir, int runs, size_t per_run)
{
    char data[4200], yaml[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(yaml, sizeof yaml, "%s/campaign.yaml", dir);
    caf_error err = {0};
    if (caf_mkdir_p(data, &err) != CAF_OK)
        die(err.message);
    double t0 = now();
    for (int r = 0; r < runs; r++) /* experiments 1-10, runs 1, 2, ... in each */
        bench_write_toy_run(data, 1 + r % EXPERIMENTS, 1 + r / EXPERIMENTS, per_run);
    write_campaign(yaml);
    printf("bench_campaign: %zu files in %d runs written in %.0f s\n", per_run * (size_t)runs, runs, now() - t0);
}

/* Writes the files and the campaign into a new folder, runs it; returns the result. */
static campaign_result campaign_of(const char *caf, int runs, size_t per_run)
{
    char dir[] = "/tmp/caf-bench-campaign-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    write_inputs(dir, runs, per_run);
    campaign_result res = {0};
    run_campaign(caf, dir, &res);
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        die("cannot remove the bench folder");
    return res;
}

static void print_result(int runs, size_t per_run, const campaign_result *r)
{
    printf("bench_campaign: %d runs, %zu files, %zu collector jobs, %d executions: %.1f s in all;", runs,
           per_run * (size_t)runs, (per_run * (size_t)runs + FILES_PER_JOB - 1) / FILES_PER_JOB, runs, r->total_s);
    for (int p = 0; p < PH_COUNT; p++)
        printf(" %s %.1f s%s", phase_names[p], r->phase_s[p], p + 1 < PH_COUNT ? "," : "");
    printf("; run loop peak memory %.0f MB; state database %.1f MB\n", r->peak_mb, r->state_mb);
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--write")) {
        if (atoi(argv[3]) < 1 || atoi(argv[4]) < 1)
            die("needs RUNS >= 1 and FILES_PER_RUN >= 1");
        caf_hdf5_silence();
        write_inputs(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
        return 0;
    }
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_campaign BUILD_DIR [RUNS [FILES_PER_RUN]]\n"
                        "       bench_campaign --write DIR RUNS FILES_PER_RUN\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 1000;
    size_t per_run = argc > 3 ? strtoull(argv[3], NULL, 10) : 10;
    if (runs < 10 * EXPERIMENTS || per_run < 1)
        die("needs RUNS >= 100 and FILES_PER_RUN >= 1");
    char *build = realpath(argv[1], NULL); /* caf runs in the campaign's folder */
    char *caf = build ? caf_path_join(build, "bin/caf") : NULL;
    char *plugins = build ? caf_path_join(build, "tests/plugins") : NULL;
    if (!caf || !plugins)
        die("no such build folder");
    free(build);
    setenv("CAF_PLUGIN_PATH", plugins, 1);
    caf_hdf5_silence();
    campaign_result small = campaign_of(caf, runs / 10, per_run);
    print_result(runs / 10, per_run, &small);
    campaign_result big = campaign_of(caf, runs, per_run);
    print_result(runs, per_run, &big);
    printf("bench_campaign: time per run at %d runs / at %d runs (1.0 = linear):", runs, runs / 10);
    for (int p = 0; p < PH_COUNT; p++)
        printf(" %s %.2f%s", phase_names[p], (big.phase_s[p] / runs) / (small.phase_s[p] / (runs / 10)),
               p + 1 < PH_COUNT ? "," : "");
    printf("; peak memory %.2fx, state database %.2fx for 10x the runs\n", big.peak_mb / small.peak_mb,
           big.state_mb / small.state_mb);
    free(caf);
    free(plugins);
    return 0;
}
