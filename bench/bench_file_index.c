/* File index: files per second when every file's metadata is read from HDF5 (a cold cache) against a
 * warm cache that answers from SQLite by (path, size, mtime), measured in the same run. The ratio says
 * what the cache saves at every start of a production over many files.
 *
 * usage: bench_file_index [FILES]   (default 2000) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/event_file.h"
#include "caf/file.h"
#include "caf/file_index.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_small_file(const char *path, int run)
{
    caf_event_schema s = {0};
    caf_event_writer_options o = {.chunk_events = 64};
    caf_event_writer *w;
    caf_error err = {0};
    int32_t exp[10], runs[10];
    uint32_t evt[10];
    for (int i = 0; i < 10; i++)
        exp[i] = 1, runs[i] = run, evt[i] = (uint32_t)i;
    caf_event_batch b = {.count = 10, .exp = exp, .run = runs, .event = evt};
    if (caf_event_writer_open(&w, path, &s, &o, &err) || caf_event_writer_append(w, &b, &err) ||
        caf_event_writer_close(w, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    return 0;
}

/* Indexes dir with the cache at cache; returns files per second, or -1. */
static double index_rate(const char *dir, const char *cache, size_t expect_opened)
{
    double t0 = now();
    caf_file_index *ix;
    caf_error err = {0};
    if (caf_file_index_open(&ix, cache, &err) || caf_file_index_add_dir(ix, dir, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    const caf_run_files *runs;
    size_t n_runs;
    caf_file_index_runs(ix, &runs, &n_runs, &err);
    caf_file_index_stats st = caf_file_index_get_stats(ix);
    caf_file_index_close(ix);
    double rate = (double)st.files / (now() - t0);
    if (st.files_opened != expect_opened) {
        fprintf(stderr, "bench_file_index: opened %zu files, expected %zu\n", st.files_opened, expect_opened);
        return -1;
    }
    return rate;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
    caf_hdf5_silence();
    char dir[] = "/tmp/caf-bench-file-index-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *data = caf_path_join(dir, "data");
    char *cache = caf_path_join(dir, "index.sqlite");
    caf_error err = {0};
    int rc = caf_mkdir_p(data, &err) ? 1 : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char name[64];
        snprintf(name, sizeof name, "f%06zu.h5", i);
        char *path = caf_path_join(data, name);
        rc = write_small_file(path, (int)(i / 10)) ? 1 : 0;
        free(path);
    }
    double cold = rc ? -1 : index_rate(data, cache, n);
    double warm = cold > 0 ? index_rate(data, cache, 0) : -1;
    if (cold > 0 && warm > 0)
        printf("bench_file_index: %zu files: cold (HDF5 metadata) %.0f files/s, cached %.0f files/s, ratio %.1f; "
               "100,000 files: %.1f s cold, %.1f s cached\n",
               n, cold, warm, warm / cold, 1e5 / cold, 1e5 / warm);
    else
        rc = 1;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        rc = 1;
    free(data);
    free(cache);
    return rc;
}
