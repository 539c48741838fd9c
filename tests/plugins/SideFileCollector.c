/* A collector that keeps side files, as Millepede's collector writes its binaries: besides a counter
 * "events" per run, it writes into the job's folder, when the job ends, seen.txt (one line "exp run
 * events" per run it saw) and run-EXP-RUN.bin (the run's event count as 8 bytes, native order). With
 * `escape` set it also leaves run-escape.bin, a link to that path, which caf must refuse. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "caf/collector.h"

typedef struct seen_run {
    caf_exprun run;
    uint64_t events;
} seen_run;

typedef struct side_state {
    seen_run *runs;
    size_t count;
} side_state;

static const caf_param_spec params[] = {
    {"escape", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "also leave run-escape.bin, a link to this path"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    side_state *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = s;
    caf_object *counter;
    caf_status st = caf_counter_new("events", &counter, err);
    return st == CAF_OK ? caf_collector_register(c, "events", counter, err) : st;
}

/* The entry of run, added when new (a run visited again continues its count). */
static seen_run *entry_of(side_state *s, caf_exprun run)
{
    for (size_t i = 0; i < s->count; i++)
        if (caf_exprun_compare(s->runs[i].run, run) == 0)
            return &s->runs[i];
    seen_run *grown = realloc(s->runs, (s->count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    s->runs = grown;
    s->runs[s->count] = (seen_run){run, 0};
    return &s->runs[s->count++];
}

static caf_status count_events(caf_collector *c, side_state *s, caf_exprun run, size_t n, caf_error *err)
{
    seen_run *e = entry_of(s, run);
    if (!e)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    e->events += n;
    caf_counter_add(caf_collector_object(c, "events"), (int64_t)n, (double)n);
    return CAF_OK;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    return count_events(c, state, ev->exprun, 1, err);
}

static caf_status collect_events(caf_collector *c, void *state, const caf_event_batch *batch, size_t first,
                                 size_t count, caf_exprun run, caf_error *err)
{
    (void)batch, (void)first;
    return count_events(c, state, run, count, err);
}

static caf_status write_side_files(caf_collector *c, const side_state *s, caf_error *err)
{
    FILE *text = fopen("seen.txt", "w");
    if (!text)
        return caf_error_errno(err, errno, "seen.txt");
    for (size_t i = 0; i < s->count; i++) {
        fprintf(text, "%d %d %llu\n", s->runs[i].run.exp, s->runs[i].run.run, (unsigned long long)s->runs[i].events);
        char name[64];
        snprintf(name, sizeof name, "run-%d-%d.bin", s->runs[i].run.exp, s->runs[i].run.run);
        FILE *bin = fopen(name, "wb");
        if (!bin || fwrite(&s->runs[i].events, sizeof s->runs[i].events, 1, bin) != 1 || fclose(bin) != 0) {
            fclose(text);
            return caf_error_set(err, CAF_ERR_IO, "cannot write %s", name);
        }
    }
    if (fclose(text) != 0)
        return caf_error_set(err, CAF_ERR_IO, "cannot write seen.txt");
    const char *escape = caf_params_string(caf_collector_params(c), "escape", "");
    if (*escape && symlink(escape, "run-escape.bin") != 0)
        return caf_error_errno(err, errno, "run-escape.bin");
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    side_state *s = state;
    caf_status st = success && s ? write_side_files(c, s, err) : CAF_OK;
    if (s)
        free(s->runs);
    free(s);
    return st;
}

static const caf_collector_descriptor side_file_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "SideFileCollector",
    .description = "Counts events per run and keeps side files seen.txt and run-EXP-RUN.bin (tests).",
    .params = params,
    .prepare = prepare,
    .collect = collect,
    .finish = finish,
    .collect_events = collect_events,
};

CAF_COLLECTOR_PLUGIN(side_file_collector)
