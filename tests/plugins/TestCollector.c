/* A collector for the tests: fills one object of every type from the "energy" column and the event
 * number, and misbehaves on request (registers a name twice, asks for an unregistered object, fails in
 * a hook) so that the framework's error handling can be checked. */
#include <stdlib.h>
#include <string.h>

#include "caf/collector.h"
#include "caf/event_file.h"

typedef struct test_state {
    size_t energy_index;
    const char *ask_for;
    const char *fail_in;
    int64_t start_runs, close_runs;
} test_state;

/* The user type: event numbers as little arrays of uint32, merged by concatenation. */
static caf_status eventlist_merge(caf_user_bytes *acc, const caf_user_bytes *other, void *userdata, caf_error *err)
{
    (void)userdata;
    unsigned char *n = realloc(acc->data, acc->size + other->size);
    if (!n)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    memcpy(n + acc->size, other->data, other->size);
    acc->data = n;
    acc->size += other->size;
    return CAF_OK;
}

static const caf_user_type user_types[] = {{"test.eventlist", eventlist_merge, NULL, NULL}};

static const caf_param_spec params[] = {
    {"energyBins", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "20", "bins of the energy histogram over [0, 10)"},
    {"registerTwice", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "register 'energy' twice in prepare"},
    {"askFor", CAF_PARAM_STRING, CAF_PARAM_OPTIONAL, NULL, "an object name to ask for in every collect"},
    {"failIn", CAF_PARAM_STRING, CAF_PARAM_OPTIONAL, NULL, "a hook that fails: prepare, start_run, collect, close_run"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_status fail_if(const test_state *s, const char *hook, caf_error *err)
{
    if (s->fail_in && !strcmp(s->fail_in, hook))
        return caf_error_set(err, CAF_ERR_STATE, "TestCollector fails in %s as asked", hook);
    return CAF_OK;
}

static caf_status prepare(caf_collector *c, void **state, caf_error *err)
{
    test_state *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *state = s;
    const caf_params *p = caf_collector_params(c);
    s->ask_for = caf_params_string(p, "askFor", NULL);
    s->fail_in = caf_params_string(p, "failIn", NULL);
    caf_status st = fail_if(s, "prepare", err);
    caf_object *o;
    static const caf_ntuple_column cols[] = {{"exp", CAF_COLUMN_INT32}, {"run", CAF_COLUMN_INT32},
                                             {"event", CAF_COLUMN_INT64}, {"energy", CAF_COLUMN_FLOAT32}};
    if (st == CAF_OK && (st = caf_hist1d_new("energy", (int)caf_params_int(p, "energyBins", 20), 0, 10, &o, err)) == CAF_OK)
        st = caf_collector_register(c, "energy", o, err);
    if (st == CAF_OK && caf_params_bool(p, "registerTwice", false) &&
        (st = caf_hist1d_new("energy again", 5, 0, 10, &o, err)) == CAF_OK)
        st = caf_collector_register(c, "energy", o, err);
    if (st == CAF_OK && (st = caf_hist2d_new("energy vs event mod 4", 10, 0, 10, 4, 0, 4, &o, err)) == CAF_OK)
        st = caf_collector_register(c, "map", o, err);
    if (st == CAF_OK && (st = caf_profile_new("energy by event mod 5", 5, 0, 5, &o, err)) == CAF_OK)
        st = caf_collector_register(c, "profile", o, err);
    if (st == CAF_OK && (st = caf_counter_new("events", &o, err)) == CAF_OK)
        st = caf_collector_register(c, "events", o, err);
    if (st == CAF_OK && (st = caf_ntuple_new("rows", cols, 4, &o, err)) == CAF_OK)
        st = caf_collector_register(c, "rows", o, err);
    if (st == CAF_OK && (st = caf_user_object_new("test.eventlist", "event numbers", &o, err)) == CAF_OK)
        st = caf_collector_register(c, "eventlist", o, err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "energy", err);
    if (st == CAF_OK)
        st = caf_collector_require(c, "event", err);
    return st;
}

static caf_status begin_file(caf_collector *c, void *state, const caf_event_reader *reader, caf_error *err)
{
    test_state *s = state;
    ptrdiff_t i = caf_event_schema_find_column(caf_event_reader_schema(reader), "energy");
    if (i < 0)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "collector %s: %s has no 'energy' column", caf_collector_name(c),
                             caf_event_reader_path(reader));
    s->energy_index = (size_t)i;
    return CAF_OK;
}

static caf_status start_run(caf_collector *c, void *state, caf_exprun run, caf_error *err)
{
    (void)c, (void)run;
    test_state *s = state;
    s->start_runs++;
    return fail_if(s, "start_run", err);
}

static caf_status collect(caf_collector *c, void *state, const caf_event *ev, caf_error *err)
{
    test_state *s = state;
    caf_status st = fail_if(s, "collect", err);
    if (st != CAF_OK)
        return st;
    if (s->ask_for) {
        caf_object *o;
        if ((st = caf_collector_get(c, s->ask_for, &o, err)) != CAF_OK)
            return st;
    }
    double energy = ((const float *)ev->batch->columns[s->energy_index])[ev->row];
    caf_hist1d_fill(caf_collector_object(c, "energy"), energy, 1);
    caf_hist2d_fill(caf_collector_object(c, "map"), energy, (double)(ev->event % 4), 1);
    caf_profile_fill(caf_collector_object(c, "profile"), (double)(ev->event % 5), energy, 1);
    caf_counter_add(caf_collector_object(c, "events"), 1, energy);
    caf_cell row[4];
    row[0].i32 = ev->exprun.exp;
    row[1].i32 = ev->exprun.run;
    row[2].i64 = ev->event;
    row[3].f32 = (float)energy;
    if ((st = caf_ntuple_append(caf_collector_object(c, "rows"), row, err)) != CAF_OK)
        return st;
    uint32_t number = (uint32_t)ev->event;
    return caf_user_object_append(caf_collector_object(c, "eventlist"), &number, sizeof number, err);
}

static caf_status close_run(caf_collector *c, void *state, caf_exprun run, caf_error *err)
{
    (void)c, (void)run;
    test_state *s = state;
    s->close_runs++;
    return fail_if(s, "close_run", err);
}

static caf_status finish(caf_collector *c, void *state, bool success, caf_error *err)
{
    (void)c, (void)success, (void)err;
    free(state);
    return CAF_OK;
}

static const caf_collector_descriptor test_collector = {
    .abi_version = CAF_COLLECTOR_ABI_VERSION,
    .name = "TestCollector",
    .description = "Fills one object of every type from the energy column (for the tests).",
    .params = params,
    .user_types = user_types,
    .n_user_types = 1,
    .prepare = prepare,
    .begin_file = begin_file,
    .start_run = start_run,
    .collect = collect,
    .close_run = close_run,
    .finish = finish,
};

CAF_COLLECTOR_PLUGIN(test_collector)
