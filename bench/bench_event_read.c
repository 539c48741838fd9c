/* Event reading: caf's batch reader streaming one float column against a bare HDF5 hyperslab loop over
 * the same dataset, measured in the same run on the same (page-cached) file. Prints events/s of each
 * and the ratio. The bare loop lives in bench/event_read_baseline.h for other benches (the path engine)
 * to quote against.
 *
 * usage: bench_event_read [EVENTS]   (default 8,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/event_read_baseline.h"
#include "caf/event_file.h"

static double caf_reader_rate(const char *path, const char *const *select, size_t n_select, size_t batch,
                              int repeat, double *sum)
{
    double best = -1;
    for (int pass = 0; pass < repeat; pass++) {
        double t0 = bench_now();
        caf_event_reader_options o = {.batch_size = batch, .select = select, .n_select = n_select};
        caf_event_reader *r;
        caf_error err = {0};
        if (caf_event_reader_open(&r, path, &o, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return -1;
        }
        size_t x = (size_t)caf_event_schema_find_column(caf_event_reader_schema(r), "x");
        const caf_event_batch *b;
        double s = 0;
        int64_t n = 0;
        while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
            const float *v = b->columns[x];
            for (size_t i = 0; i < b->count; i++)
                s += v[i];
            n += (int64_t)b->count;
        }
        caf_event_reader_close(r);
        double rate = (double)n / (bench_now() - t0);
        if (rate > best)
            best = rate;
        *sum = s;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 8000000;
    caf_hdf5_silence();
    char dir[] = "/tmp/caf-bench-event-read-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/events.h5", dir);
    double t0 = bench_now();
    if (bench_write_event_file(path, n))
        return 1;
    double write_s = bench_now() - t0;
    printf("bench_event_read: %zu events (float column + 4-entry hits array), written in %.2f s (%.2e events/s)\n",
           n, write_s, (double)n / write_s);
    const int repeat = 9;
    const size_t batches[] = {4096, 65536};
    const char *only_x[] = {"x"};
    const char *engine_set[] = {"x", "exp", "run", "event"};
    int rc = 0;
    for (size_t k = 0; k < 2; k++) {
        /* interleave single passes and keep each loop's best, so that load from other processes on the
         * machine hits all three alike */
        double s_bare = 0, s_caf = 0, s_ids = 0, bare = -1, caf = -1, ids = -1;
        for (int pass = 0; pass < repeat; pass++) {
            double r1 = bench_bare_hdf5_float_rate(path, "events/columns/x", batches[k], 1, &s_bare);
            double r2 = caf_reader_rate(path, only_x, 1, batches[k], 1, &s_caf);
            double r3 = caf_reader_rate(path, engine_set, 4, batches[k], 1, &s_ids);
            bare = r1 > bare ? r1 : bare;
            caf = r2 > caf ? r2 : caf;
            ids = r3 > ids ? r3 : ids;
        }
        if (bare <= 0 || caf <= 0 || ids <= 0 || s_bare != s_caf || s_bare != s_ids) {
            fprintf(stderr, "bench_event_read: a loop failed or read other values (%g %g %g)\n", s_bare, s_caf, s_ids);
            rc = 1;
            break;
        }
        printf("  batch %6zu: bare HDF5 loop %.3e events/s | caf reader (x, runs from segments) %.3e events/s, ratio %.2f | "
               "caf reader (x + exp, run, event) %.3e events/s, ratio %.2f\n",
               batches[k], bare, caf, caf / bare, ids, ids / bare);
    }
    unlink(path);
    rmdir(dir);
    return rc;
}
