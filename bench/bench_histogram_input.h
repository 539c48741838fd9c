/* The benchmarks' collector output: RUNS runs of one 1-D histogram "h" of BINS bins, 2,000 fills each
 * (collector "BenchCollector"), written through libcaf's collector writer. Shared by bench_algorithm and
 * bench_python, which read it in C and through the Python package. */
#ifndef CAF_BENCH_HISTOGRAM_INPUT_H
#define CAF_BENCH_HISTOGRAM_INPUT_H

#include <stdio.h>
#include <stdlib.h>

#include "caf/collector_output.h"

static void die(const char *what, const caf_error *err);

static void write_input(const char *path, int runs, int bins)
{
    caf_error err = {0};
    caf_collector_info info = {"BenchCollector", "BenchCollector", CAF_GRANULARITY_RUN, NULL};
    caf_collector_writer *w;
    caf_object *h;
    if (caf_collector_writer_open(path, &info, &w, &err) != CAF_OK ||
        caf_hist1d_new("h", bins, 0.0, (double)bins, &h, &err) != CAF_OK)
        die("writing the input", &err);
    unsigned seed = 12345;
    for (int r = 1; r <= runs; r++) {
        caf_object_reset(h);
        for (int i = 0; i < 2000; i++) {
            seed = seed * 1103515245u + 12345u;
            caf_hist1d_fill(h, (double)(seed >> 8) / (double)(1u << 24) * bins, 1.0);
        }
        caf_exprun run = {1, r};
        if (caf_collector_writer_add_run(w, run, &err) != CAF_OK ||
            caf_collector_writer_put(w, "h", run, h, &err) != CAF_OK)
            die("writing the input", &err);
        if (r % 100 == 0 && caf_collector_writer_flush(w, &err) != CAF_OK)
            die("flushing the input", &err);
    }
    caf_object_free(h);
    if (caf_collector_writer_commit(w, &err) != CAF_OK)
        die("committing the input", &err);
}

#endif
