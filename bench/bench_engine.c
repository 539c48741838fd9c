/* The module engine: a path with one trivial module (ColumnSum, summing one float32 column) against the
 * bare HDF5 read loop of bench/event_read_baseline.h over the same column of the same file, measured in
 * the same run, interleaved, best of 9 passes each. Two files: one run, and runs of 100,000 events
 * (run boundaries come from the reader's run segments, so neither needs the exp/run columns). Also a
 * path whose condition forces the event-by-event mode (Prescale 1.0 + ColumnSum). Prints events/s and
 * ratios.
 *
 * usage: bench_engine [EVENTS]   (default 8,000,000; plugins from $CAF_PLUGIN_PATH or ../plugins) */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/event_read_baseline.h"
#include "caf/engine.h"
#include "caf/log.h"
#include "caf/path.h"

/* n events of a float32 column x (= i % 1000) in runs of per_run events. */
static int write_file(const char *path, size_t n, size_t per_run)
{
    static const caf_column_desc columns[] = {{"x", CAF_COLUMN_FLOAT32}};
    caf_event_schema s = {.columns = columns, .n_columns = 1};
    caf_event_writer *w;
    caf_error err = {0};
    if (caf_event_writer_open(&w, path, &s, NULL, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    enum { BLOCK = 65536 };
    int32_t *exp = malloc(BLOCK * 4), *run = malloc(BLOCK * 4);
    uint32_t *evt = malloc(BLOCK * 4);
    float *x = malloc(BLOCK * 4);
    int rc = 0;
    for (size_t first = 0; first < n && !rc; first += BLOCK) {
        size_t m = n - first < BLOCK ? n - first : BLOCK;
        for (size_t j = 0; j < m; j++) {
            size_t i = first + j;
            exp[j] = 1, run[j] = (int32_t)(i / per_run), evt[j] = (uint32_t)i, x[j] = (float)(i % 1000);
        }
        const void *cols[] = {x};
        caf_event_batch b = {.count = m, .exp = exp, .run = run, .event = evt, .columns = cols};
        rc = caf_event_writer_append(w, &b, &err) ? -1 : 0;
    }
    free(exp), free(run), free(evt), free(x);
    if (rc || caf_event_writer_close(w, &err)) {
        if (rc)
            caf_event_writer_abort(w);
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    return 0;
}

static double logged_sum;

/* ColumnSum reports its total as an info line; the bench checks it against the bare loop's sum. */
static void sink(caf_log_level level, const char *line, void *userdata)
{
    (void)level, (void)userdata;
    const char *p = strstr(line, "sum of x ");
    if (p)
        logged_sum = strtod(p + 9, NULL);
}

static double engine_rate(const char *yaml, const char *path, size_t batch, double *sum)
{
    caf_path_set *set;
    caf_engine *e;
    caf_error err = {0};
    const char *inputs[] = {path};
    caf_engine_options o = {.inputs = inputs, .n_inputs = 1, .seed = 1, .batch_size = batch};
    if (caf_path_set_parse(yaml, strlen(yaml), "bench.yaml", &set, &err) ||
        caf_engine_open(&e, set, &o, &err)) {
        fprintf(stderr, "bench_engine: %s\n", err.message);
        return -1;
    }
    logged_sum = -1;
    /* timed: opening the file and processing its events, as the bare loop opens and reads; loading the
     * plugins and parsing the path happen once per process, not per file */
    double t0 = bench_now();
    caf_status st = caf_engine_run(e, &err);
    double t1 = bench_now();
    int64_t n = caf_engine_get_stats(e).events;
    caf_engine_close(e);
    caf_path_set_free(set);
    if (st) {
        fprintf(stderr, "bench_engine: %s\n", err.message);
        return -1;
    }
    *sum = logged_sum;
    return (double)n / (t1 - t0);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 8000000;
    if (!getenv("CAF_PLUGIN_PATH")) {
        char self[4096], plugins[4200];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(plugins, sizeof plugins, "%s/../plugins", dirname(self));
        setenv("CAF_PLUGIN_PATH", plugins, 1);
    }
    caf_hdf5_silence();
    caf_log_set_sink(sink, NULL);
    char dir[] = "/tmp/caf-bench-engine-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char one[256], many[256];
    snprintf(one, sizeof one, "%s/one_run.h5", dir);
    snprintf(many, sizeof many, "%s/many_runs.h5", dir);
    if (write_file(one, n, n) || write_file(many, n, 100000))
        return 1;
    const char *bulk = "- {module: ColumnSum, params: {column: x}}\n";
    const char *single = "- {module: Prescale, params: {prescale: 1.0}, conditions: [{if: false}]}\n"
                         "- {module: ColumnSum, params: {column: x}}\n";
    printf("bench_engine: %zu events, path [ColumnSum(x)] vs bare HDF5 loop over x, best of 9 interleaved passes\n", n);
    const struct {
        const char *file, *what, *yaml;
        size_t batch;
    } cases[] = {
        {one, "one run, batch 16384 (engine default)", bulk, 16384},
        {one, "one run, batch 4096", bulk, 4096},
        {one, "one run, batch 65536", bulk, 65536},
        {many, "runs of 100k, batch 16384", bulk, 16384},
        {one, "event by event (Prescale + condition), batch 16384", single, 16384},
    };
    int rc = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0] && !rc; c++) {
        double bare = -1, eng = -1, s_bare = 0, s_eng = 0;
        for (int pass = 0; pass < 9; pass++) {
            double r1 = bench_bare_hdf5_float_rate(cases[c].file, "events/columns/x", cases[c].batch, 1, &s_bare);
            double r2 = engine_rate(cases[c].yaml, cases[c].file, cases[c].batch, &s_eng);
            bare = r1 > bare ? r1 : bare;
            eng = r2 > eng ? r2 : eng;
        }
        if (bare <= 0 || eng <= 0 || s_bare != s_eng) {
            fprintf(stderr, "bench_engine: a loop failed or summed differently (%.17g vs %.17g)\n", s_bare, s_eng);
            rc = 1;
            break;
        }
        printf("  %-52s bare %.3e events/s | engine %.3e events/s | ratio %.2f\n", cases[c].what, bare, eng,
               eng / bare);
    }
    caf_log_set_sink(NULL, NULL);
    unlink(one);
    unlink(many);
    rmdir(dir);
    return rc;
}
