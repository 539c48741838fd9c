/* ExampleTimeCollector: the collector half of the toy detector's time calibration (`caf gen toy`).
 *
 * A time offset calibration needs each hit's time together with its channel and amplitude, because the
 * measured time depends on the deposited energy (time walk) and the energy is amplitude / gain. A
 * histogram would fix the binning in a quantity (time minus the current corrections) that changes from
 * iteration to iteration, so this collector keeps the hits themselves: an ntuple "hits" with the columns
 * channel (int32), amplitude and time (float32), one per run, plus the counter "events". The campaign
 * puts a TriggerSkim before it, so only clean di-lepton events reach it. */
#include <stdlib.h>

#include "caf/collector.h"
#include "caf/event_file.h"

typedef struct time_state {
    size_t array, channel_field, amplitude_field, time_field;
} time_state;

static const caf_param_spec params[] = {
    {"minAmplitude", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "5", "hits below this amplitude are not kept"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    time_state *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = s;
    static const caf_ntuple_column columns[] = {
        {"channel", CAF_COLUMN_INT32}, {"amplitude", CAF_COLUMN_FLOAT32}, {"time", CAF_COLUMN_FLOAT32}};
    caf_object *hits, *events;
    caf_status st = caf_ntuple_new("hits: channel, amplitude, time", columns, 3, &hits, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "hits", hits, err);
    if (st == CAF_OK)
        st = caf_counter_new("events", &events, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "events", events, err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/channel", err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/amplitude", err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/time", err);
    return st;
}

static caf_status begin_file(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err)
{
    time_state *s = state;
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    ptrdiff_t a = caf_event_schema_find_array(schema, "hits");
    ptrdiff_t ch = a < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)a, "channel");
    ptrdiff_t amp = a < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)a, "amplitude");
    ptrdiff_t tm = a < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)a, "time");
    if (ch < 0 || amp < 0 || tm < 0 || schema->arrays[a].fields[ch].type != CAF_COLUMN_INT32 ||
        schema->arrays[a].fields[amp].type != CAF_COLUMN_FLOAT32 || schema->arrays[a].fields[tm].type != CAF_COLUMN_FLOAT32)
        return caf_error_set(err, CAF_ERR_FORMAT, "collector %s: %s has no hits array with int32 channel, float32 "
                             "amplitude and float32 time", caf_collector_name(c), caf_event_reader_path(reader));
    s->array = (size_t)a;
    s->channel_field = (size_t)ch;
    s->amplitude_field = (size_t)amp;
    s->time_field = (size_t)tm;
    return CAF_OK;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    time_state *s = state;
    caf_object *hits = caf_collector_object(c, "hits");
    caf_counter_add(caf_collector_object(c, "events"), 1, 1.0);
    double min_amplitude = caf_params_double(caf_collector_params(c), "minAmplitude", 5.0);
    const int64_t *offsets = ev->batch->array_offsets[s->array];
    const int32_t *channel = ev->batch->array_fields[s->array][s->channel_field];
    const float *amp = ev->batch->array_fields[s->array][s->amplitude_field];
    const float *time = ev->batch->array_fields[s->array][s->time_field];
    for (int64_t h = offsets[ev->row]; h < offsets[ev->row + 1]; h++) {
        if (amp[h] < min_amplitude)
            continue;
        caf_cell row[3] = {{.i32 = channel[h]}, {.f32 = amp[h]}, {.f32 = time[h]}};
        if (caf_ntuple_append(hits, row, err) != CAF_OK)
            return err ? err->code : CAF_ERR_NOMEM;
    }
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor time_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "ExampleTimeCollector",
    .description = "Every hit's channel, amplitude and time from toy data, as an ntuple per run (the collector "
                   "half of a time offset calibration).",
    .params = params,
    .prepare = prepare,
    .begin_file = begin_file,
    .collect = collect,
    .finish = finish,
};

CAF_COLLECTOR_PLUGIN(time_collector)
