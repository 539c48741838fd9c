/* Collector outputs for algorithm tests, written with the real collector-output writer: per run a 1-D
 * histogram "peak" (100 bins over [0, 100)) filled `entries` times at `mean`, a counter "events" and an
 * ntuple "hits" with one row per entry (exp, run, index). Header-only (static functions) because the
 * test build links one support file per program. */
#ifndef CAF_TEST_ALGORITHM_FIXTURE_H
#define CAF_TEST_ALGORITHM_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "caf/collected.h"
#include "caf/collector_output.h"

typedef struct fixture_run {
    int exp;
    int run;
    int entries;
    double mean;
} fixture_run;

static int fixture_fill(caf_object *peak, caf_object *events, caf_object *hits, const fixture_run *r)
{
    caf_error err = {0};
    for (int i = 0; i < r->entries; i++) {
        caf_hist1d_fill(peak, r->mean, 1.0);
        caf_cell row[3] = {{.i32 = r->exp}, {.i32 = r->run}, {.f64 = (double)i}};
        if (caf_ntuple_append(hits, row, &err) != CAF_OK)
            return -1;
    }
    caf_counter_add(events, r->entries, (double)r->entries);
    return 0;
}

/* Writes dir/name and returns its path (malloc'd); aborts the test program on failure. */
static char *fixture_write_output(const char *dir, const char *name, const char *collector, caf_granularity g,
                                  const fixture_run *runs, size_t count)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", dir, name);
    caf_error err = {0};
    caf_collector_info info = {collector, "TestCollectorModule", g, NULL};
    caf_collector_writer *w = NULL;
    static const caf_ntuple_column cols[] = {
        {"exp", CAF_COLUMN_INT32}, {"run", CAF_COLUMN_INT32}, {"index", CAF_COLUMN_FLOAT64}};
    caf_object *peak = NULL, *events = NULL, *hits = NULL;
    if (caf_collector_writer_open(path, &info, &w, &err) != CAF_OK)
        goto fail;
    if (caf_hist1d_new("peak", 100, 0.0, 100.0, &peak, &err) != CAF_OK ||
        caf_counter_new("events", &events, &err) != CAF_OK || caf_ntuple_new("hits", cols, 3, &hits, &err) != CAF_OK)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        caf_exprun key = g == CAF_GRANULARITY_ALL ? CAF_EXPRUN_ALL : (caf_exprun){runs[i].exp, runs[i].run};
        if (g == CAF_GRANULARITY_RUN) {
            caf_object_reset(peak);
            caf_object_reset(events);
            caf_object_reset(hits);
        }
        if (fixture_fill(peak, events, hits, &runs[i]) != 0 ||
            caf_collector_writer_add_run(w, (caf_exprun){runs[i].exp, runs[i].run}, &err) != CAF_OK)
            goto fail;
        if (g == CAF_GRANULARITY_RUN && (caf_collector_writer_put(w, "peak", key, peak, &err) != CAF_OK ||
                                         caf_collector_writer_put(w, "events", key, events, &err) != CAF_OK ||
                                         caf_collector_writer_put(w, "hits", key, hits, &err) != CAF_OK))
            goto fail;
    }
    if (g == CAF_GRANULARITY_ALL && (caf_collector_writer_put(w, "peak", CAF_EXPRUN_ALL, peak, &err) != CAF_OK ||
                                     caf_collector_writer_put(w, "events", CAF_EXPRUN_ALL, events, &err) != CAF_OK ||
                                     caf_collector_writer_put(w, "hits", CAF_EXPRUN_ALL, hits, &err) != CAF_OK))
        goto fail;
    if (caf_collector_writer_commit(w, &err) != CAF_OK)
        goto fail_committed;
    caf_object_free(peak);
    caf_object_free(events);
    caf_object_free(hits);
    return path;
fail:
    caf_collector_writer_abort(w);
fail_committed:
    fprintf(stderr, "fixture %s: %s\n", path, err.message);
    abort();
}

#endif
