/* ExampleHitCollector: the collector half of a gain calibration on the toy detector (`caf gen toy`).
 *
 * Per run it fills
 *   hits       hits per channel (a 1-D histogram with one bin per channel): dead channels stay empty,
 *              hot ones stand out;
 *   amplitude  the amplitude of every hit by channel (a 2-D histogram, channel x amplitude): each
 *              channel's slice peaks at gain * CAF_TOY_PEAK_ENERGY, so an algorithm can fit the peak
 *              and recover the channel's gain;
 *   events     the number of events collected.
 * It reads only the "hits" array's channel and amplitude fields. Everything else (granularity,
 * preScale, maxEventsPerRun, the output file, run-by-run flushing) is the framework's. */
#include <stdlib.h>

#include "caf/collector.h"
#include "caf/event_file.h"

typedef struct hit_state {
    int channels;
    size_t array, channel_field, amplitude_field;
} hit_state;

static const caf_param_spec params[] = {
    {"nChannels", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "48", "detector channels (the toy's --channels)"},
    {"amplitudeBins", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "200", "amplitude bins per channel"},
    {"amplitudeMax", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "400", "upper edge of the amplitude axis"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    const caf_params *p = caf_collector_params(c);
    hit_state *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = s;
    s->channels = (int)caf_params_int(p, "nChannels", 48);
    caf_object *hits, *amplitude, *events;
    caf_status st = caf_hist1d_new("hits per channel", s->channels, 0, s->channels, &hits, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "hits", hits, err);
    if (st == CAF_OK)
        st = caf_hist2d_new("amplitude by channel", s->channels, 0, s->channels,
                            (int)caf_params_int(p, "amplitudeBins", 200), 0, caf_params_double(p, "amplitudeMax", 400),
                            &amplitude, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "amplitude", amplitude, err);
    if (st == CAF_OK)
        st = caf_counter_new("events", &events, err);
    if (st == CAF_OK)
        st = caf_collector_register(c, "events", events, err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/channel", err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "hits/amplitude", err);
    return st;
}

static caf_status begin_file(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err)
{
    hit_state *s = state;
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    ptrdiff_t a = caf_event_schema_find_array(schema, "hits");
    ptrdiff_t ch = a < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)a, "channel");
    ptrdiff_t amp = a < 0 ? -1 : caf_event_schema_find_field(schema, (size_t)a, "amplitude");
    if (ch < 0 || amp < 0 || schema->arrays[a].fields[ch].type != CAF_COLUMN_INT32 ||
        schema->arrays[a].fields[amp].type != CAF_COLUMN_FLOAT32)
        return caf_error_set(err, CAF_ERR_FORMAT, "collector %s: %s has no hits array with int32 channel and float32 "
                             "amplitude", caf_collector_name(c), caf_event_reader_path(reader));
    s->array = (size_t)a;
    s->channel_field = (size_t)ch;
    s->amplitude_field = (size_t)amp;
    return CAF_OK;
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    (void)err;
    hit_state *s = state;
    caf_object *hits = caf_collector_object(c, "hits");
    caf_object *amplitude = caf_collector_object(c, "amplitude");
    caf_counter_add(caf_collector_object(c, "events"), 1, 1.0);
    const int64_t *offsets = ev->batch->array_offsets[s->array];
    const int32_t *channel = ev->batch->array_fields[s->array][s->channel_field];
    const float *amp = ev->batch->array_fields[s->array][s->amplitude_field];
    for (int64_t h = offsets[ev->row]; h < offsets[ev->row + 1]; h++) {
        caf_hist1d_fill(hits, channel[h], 1.0);
        caf_hist2d_fill(amplitude, channel[h], amp[h], 1.0);
    }
    return CAF_OK;
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor hit_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "ExampleHitCollector",
    .description = "Hits per channel and the amplitude spectrum of every channel from toy data (the collector "
                   "half of a gain calibration).",
    .params = params,
    .prepare = prepare,
    .begin_file = begin_file,
    .collect = collect,
    .finish = finish,
};

CAF_COLLECTOR_PLUGIN(hit_collector)
