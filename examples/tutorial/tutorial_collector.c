/* TutorialCollector: the collector of docs/tutorial.md. For every run it adds up the time of every hit
 * of the toy detector (`caf gen toy`) in two counters, so that an algorithm can compute the mean hit
 * time and its uncertainty over any set of runs: counters merge by adding, with no binning. */
#include <stdlib.h>

#include "caf/collector.h"
#include "caf/event_file.h"

typedef struct tutorial_state {
    size_t hits;  /* index of the "hits" array in the file's schema */
    size_t time;  /* index of its "time" field */
} tutorial_state;

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    tutorial_state *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = s;
    caf_object *time, *time2;
    caf_status st = caf_counter_new("hit times", &time, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "time", time, err);
    if (st == CAF_OK)
        st = caf_counter_new("squared hit times", &time2, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "time2", time2, err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/time", err);
    return st;
}

static caf_status begin_file(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err)
{
    tutorial_state *s = state;
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    ptrdiff_t hits = caf_event_schema_find_array(schema, "hits");
    ptrdiff_t time = hits < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)hits, "time");
    if (time < 0 || schema->arrays[hits].fields[time].type != CAF_COLUMN_FLOAT32)
        return caf_error_set(err, CAF_ERR_FORMAT, "collector %s: %s has no hits array with a float32 time",
                             caf_collector_name(c), caf_event_reader_path(reader));
    s->hits = (size_t)hits;
    s->time = (size_t)time;
    return CAF_OK;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    (void)err;
    tutorial_state *s = state;
    caf_object *time = caf_collector_object(c, "time");
    caf_object *time2 = caf_collector_object(c, "time2");
    const int64_t *offsets = ev->batch->array_offsets[s->hits];
    const float *t = ev->batch->array_fields[s->hits][s->time];
    for (int64_t h = offsets[ev->row]; h < offsets[ev->row + 1]; h++) {
        caf_counter_add(time, 1, t[h]);
        caf_counter_add(time2, 1, (double)t[h] * t[h]);
    }
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor tutorial_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "TutorialCollector",
    .description = "Sums of the hit times and their squares per run (the collector of docs/tutorial.md).",
    .prepare = prepare,
    .begin_file = begin_file,
    .collect = collect,
    .finish = finish,
};

CAF_COLLECTOR_PLUGIN(tutorial_collector)
