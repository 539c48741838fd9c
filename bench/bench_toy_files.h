/* Many tiny event files fast, shared by the benches that need a large production (header-only: each
 * bench_*.c is built alone). One run's first file goes through the event writer; its other files are byte
 * copies (a run's files may well be equal: the file index keys them by path, size and mtime). */
#ifndef CAF_BENCH_TOY_FILES_H
#define CAF_BENCH_TOY_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "caf/event_file.h"
#include "caf/file.h"

#define BENCH_TOY_EVENTS 10 /* events per file, with a float32 column "x" */

/* Writes DATA/eEE_rRRRRR_fFFF.h5 for F < copies, each BENCH_TOY_EVENTS events of run (exp, run); exits
 * the bench with a message on failure. */
static inline void bench_write_toy_run(const char *data, int exp, int run, size_t copies)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/e%02d_r%05d_f000.h5", data, exp, run);
    static const caf_column_desc columns[] = {{"x", CAF_COLUMN_FLOAT32}};
    caf_event_schema s = {.columns = columns, .n_columns = 1};
    caf_event_writer_options o = {.chunk_events = 64};
    caf_event_writer *w;
    caf_error err = {0};
    int32_t e[BENCH_TOY_EVENTS], r[BENCH_TOY_EVENTS];
    uint32_t evt[BENCH_TOY_EVENTS];
    float x[BENCH_TOY_EVENTS];
    for (int i = 0; i < BENCH_TOY_EVENTS; i++)
        e[i] = exp, r[i] = run, evt[i] = (uint32_t)i, x[i] = (float)(100 * i + run % 100);
    const void *cols[] = {x};
    caf_event_batch b = {.count = BENCH_TOY_EVENTS, .exp = e, .run = r, .event = evt, .columns = cols};
    char *bytes = NULL;
    size_t size = 0;
    if (caf_event_writer_open(&w, path, &s, &o, &err) || caf_event_writer_append(w, &b, &err) ||
        caf_event_writer_close(w, &err) || caf_file_read(path, &bytes, &size, &err)) {
        fprintf(stderr, "bench: writing %s: %s\n", path, err.message);
        exit(1);
    }
    for (size_t k = 1; k < copies; k++) {
        snprintf(path, sizeof path, "%s/e%02d_r%05d_f%03zu.h5", data, exp, run, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(bytes, 1, size, f) != size || fclose(f) != 0) {
            fprintf(stderr, "bench: writing %s failed\n", path);
            exit(1);
        }
    }
    free(bytes);
}

#endif
