/* Baselines for event-reading benchmarks, shared by bench programs (header-only: each bench_*.c is
 * built alone). A bench that measures a caf layer against "bare HDF5" calls these in the same run and
 * quotes the ratio. */
#ifndef CAF_BENCH_EVENT_READ_BASELINE_H
#define CAF_BENCH_EVENT_READ_BASELINE_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "caf/event_file.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The bare HDF5 read loop: reads the 1-D float32 dataset `dataset` (e.g. "events/columns/x") of path
 * in hyperslabs of batch values into one buffer and sums them into *sum. Returns values per second
 * (the best of `repeat` passes), or -1 on failure. */
static inline double bench_bare_hdf5_float_rate(const char *path, const char *dataset, size_t batch, int repeat,
                                                double *sum)
{
    double best = -1;
    for (int pass = 0; pass < repeat; pass++) {
        double t0 = bench_now();
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = f >= 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
        if (d < 0)
            return -1;
        hid_t space = H5Dget_space(d);
        hsize_t n;
        H5Sget_simple_extent_dims(space, &n, NULL);
        float *buf = malloc(batch * sizeof *buf);
        double s = 0;
        for (hsize_t start = 0; start < n; start += batch) {
            hsize_t count = n - start < batch ? n - start : batch;
            H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL);
            hid_t mem = H5Screate_simple(1, &count, NULL);
            H5Dread(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, buf);
            H5Sclose(mem);
            for (hsize_t i = 0; i < count; i++)
                s += buf[i];
        }
        free(buf);
        H5Sclose(space);
        H5Dclose(d);
        H5Fclose(f);
        double rate = (double)n / (bench_now() - t0);
        if (rate > best)
            best = rate;
        *sum = s;
    }
    return best;
}

/* Writes a benchmark event file: n events of experiment 1 in runs of per_run events, a float32 column
 * "x" (= i % 1000) and, if hits, an array "hits" of 4 float32 amplitudes per event. Returns 0 on
 * success. */
static inline int bench_write_event_file_runs(const char *path, size_t n, size_t per_run, int hits)
{
    static const caf_column_desc columns[] = {{"x", CAF_COLUMN_FLOAT32}};
    static const caf_column_desc fields[] = {{"amplitude", CAF_COLUMN_FLOAT32}};
    static const caf_array_desc arrays[] = {{"hits", fields, 1}};
    caf_event_schema s = {.columns = columns, .n_columns = 1, .arrays = arrays, .n_arrays = hits ? 1 : 0};
    caf_event_writer *w;
    caf_error err = {0};
    if (caf_event_writer_open(&w, path, &s, NULL, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    enum { BLOCK = 65536 };
    int32_t *exp = malloc(BLOCK * 4), *run = malloc(BLOCK * 4);
    uint32_t *evt = malloc(BLOCK * 4);
    float *x = malloc(BLOCK * 4), *amp = malloc(4 * BLOCK * 4);
    int64_t *off = malloc((BLOCK + 1) * 8);
    int rc = 0;
    for (size_t first = 0; first < n && !rc; first += BLOCK) {
        size_t m = n - first < BLOCK ? n - first : BLOCK;
        off[0] = 0;
        for (size_t j = 0; j < m; j++) {
            size_t i = first + j;
            exp[j] = 1, run[j] = (int32_t)(i / per_run), evt[j] = (uint32_t)i, x[j] = (float)(i % 1000);
            for (int k = 0; k < 4; k++)
                amp[4 * j + (size_t)k] = (float)k;
            off[j + 1] = off[j] + 4;
        }
        const void *cols[] = {x};
        const void *af0[] = {amp};
        const void *const *af[] = {af0};
        const int64_t *offs[] = {off};
        caf_event_batch b = {.count = m, .exp = exp, .run = run, .event = evt, .columns = cols,
                             .array_offsets = offs, .array_fields = af};
        if (caf_event_writer_append(w, &b, &err))
            rc = -1;
    }
    free(exp), free(run), free(evt), free(x), free(amp), free(off);
    if (rc) {
        fprintf(stderr, "%s\n", err.message);
        caf_event_writer_abort(w);
        return -1;
    }
    if (caf_event_writer_close(w, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    return 0;
}

/* bench_write_event_file_runs with runs of 100,000 events and hits. */
static inline int bench_write_event_file(const char *path, size_t n)
{
    return bench_write_event_file_runs(path, n, 100000, 1);
}

#endif
