/* The collector framework through the engine: TestCollector over real event files, with both
 * granularities, preScale, maxEventsPerRun (also across a revisited run), the output read back and
 * compared with the events, and bad input (a name registered twice, an unregistered object, a
 * granularity typo, a failing hook): a one-line error naming collector and object, and no output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "caf/collector_output.h"
#include "caf/temp_file.h"
#include "module_fixture.h"
#include "test_support.h"

#define N_EVENTS 40

struct env {
    char *dir, *a, *b, *out;
    fx_event ev[N_EVENTS];
};

/* Runs 1.1 (events 1-12), 1.2 (13-25, split over both files), 2.1 (26-34), then 1.1 again (35-40). */
static caf_exprun run_of(int n)
{
    if (n <= 12 || n >= 35)
        return (caf_exprun){1, 1};
    return n <= 25 ? (caf_exprun){1, 2} : (caf_exprun){2, 1};
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    e->dir = test_make_temp_dir("collector");
    for (int i = 0; i < N_EVENTS; i++) {
        int n = i + 1;
        caf_exprun r = run_of(n);
        e->ev[i] = (fx_event){.exp = r.exp, .run = r.run, .event = (uint32_t)n, .energy = (float)(n % 10) + 0.25f};
    }
    e->a = fx_write(e->dir, "a.h5", e->ev, 20, NULL, 0, false);
    e->b = fx_write(e->dir, "b.h5", e->ev + 20, N_EVENTS - 20, NULL, 0, false);
    e->out = caf_path_join(e->dir, "out.sqlite");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    test_remove_tree(e->dir);
    free(e->dir), free(e->a), free(e->b), free(e->out), free(e);
    return 0;
}

/* The same type's merge as the plugin's, so that the test can merge pieces after the plugin is gone. */
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

/* While the plugin runs it registers the type itself; the test registers its own copy only for reading. */
static void register_type(bool on)
{
    static const caf_user_type t = {"test.eventlist", eventlist_merge, NULL, NULL};
    if (on)
        assert_int_equal(caf_user_type_register(&t, NULL), CAF_OK);
    else
        caf_user_type_unregister(t.name);
}

/* Runs TestCollector, after the modules in prefix (YAML list items), with extra parameter lines (YAML,
 * indented by 4) and seed. */
static caf_status run_collector_after(struct env *e, const char *prefix, const char *extra, uint64_t seed,
                                      caf_error *err)
{
    unlink(e->out);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%s"
             "- module: TestCollector\n"
             "  params:\n"
             "    outputFileName: \"%s\"\n"
             "%s",
             prefix ? prefix : "", e->out, extra ? extra : "");
    const char *inputs[] = {e->a, e->b};
    register_type(false);
    caf_status st = fx_run(yaml, inputs, 2, seed, 0, err);
    register_type(true);
    return st;
}

/* Runs TestCollector alone: the engine hands it stretches of events (its bulk hook). */
static caf_status run_collector(struct env *e, const char *extra, uint64_t seed, caf_error *err)
{
    return run_collector_after(e, NULL, extra, seed, err);
}

/* Checks every object of key against the events whose run is in the key and that `selected` says were
 * collected. */
static void check_key(caf_collector_output *f, caf_exprun key, const fx_event *ev, const bool *selected)
{
    caf_error err = {0};
    caf_object *energy, *events, *rows, *list, *profile, *map;
    assert_int_equal(caf_collector_output_read(f, "energy", key, &energy, &err), CAF_OK);
    assert_int_equal(caf_collector_output_read(f, "events", key, &events, &err), CAF_OK);
    assert_int_equal(caf_collector_output_read(f, "rows", key, &rows, &err), CAF_OK);
    assert_int_equal(caf_collector_output_read(f, "eventlist", key, &list, &err), CAF_OK);
    assert_int_equal(caf_collector_output_read(f, "profile", key, &profile, &err), CAF_OK);
    assert_int_equal(caf_collector_output_read(f, "map", key, &map, &err), CAF_OK);
    caf_object *want;
    assert_int_equal(caf_hist1d_new(NULL, 20, 0, 10, &want, NULL), CAF_OK);
    int64_t n = 0;
    double sum = 0;
    size_t row = 0;
    const uint32_t *numbers = (const uint32_t *)caf_user_object_bytes(list)->data;
    for (int i = 0; i < N_EVENTS; i++) {
        caf_exprun r = {ev[i].exp, ev[i].run};
        bool in_key = key.exp == -1 || (r.exp == key.exp && r.run == key.run);
        if (!in_key || !selected[i])
            continue;
        caf_hist1d_fill(want, ev[i].energy, 1);
        n++;
        sum += ev[i].energy;
        /* rows come in event order within a key (pieces are read in order) */
        assert_true(row < caf_ntuple_rows(rows));
        assert_int_equal(caf_ntuple_get_i64(rows, row, 2), ev[i].event);
        assert_int_equal(caf_ntuple_get_i64(rows, row, 0), ev[i].exp);
        assert_true(caf_ntuple_get_f64(rows, row, 3) == ev[i].energy);
        assert_int_equal(numbers[row], ev[i].event);
        row++;
    }
    assert_int_equal(caf_ntuple_rows(rows), row);
    assert_int_equal(caf_user_object_bytes(list)->size, 4 * row);
    assert_int_equal(caf_counter_count(events), n);
    assert_true(fabs(caf_counter_sum(events) - sum) < 1e-9);
    assert_int_equal(caf_hist1d_entries(energy), n);
    for (int b = 0; b <= 21; b++)
        assert_true(caf_hist1d_content(energy, b) == caf_hist1d_content(want, b));
    assert_int_equal(caf_profile_entries(profile), n);
    assert_int_equal(caf_hist2d_entries(map), n);
    caf_object_free(want);
    caf_object_free(energy), caf_object_free(events), caf_object_free(rows), caf_object_free(list);
    caf_object_free(profile), caf_object_free(map);
}

static void test_granularity_run(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run_collector(e, NULL, 1, &err), CAF_OK);
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(e->out, &f, &err), CAF_OK);
    assert_string_equal(caf_collector_output_collector(f), "TestCollector");
    assert_string_equal(caf_collector_output_module(f), "TestCollector");
    assert_int_equal(caf_collector_output_granularity(f), CAF_GRANULARITY_RUN);
    const json_t *params = caf_collector_output_parameters(f);
    assert_string_equal(json_string_value(json_object_get(params, "granularity")), "run");
    assert_int_equal(json_integer_value(json_object_get(params, "maxEventsPerRun")), -1);
    const caf_run_range *rr = caf_collector_output_run_range(f);
    assert_int_equal(rr->count, 3);
    assert_true(rr->runs[0].exp == 1 && rr->runs[0].run == 1 && rr->runs[2].exp == 2 && rr->runs[2].run == 1);
    assert_int_equal(caf_collector_output_object_count(f), 6);
    assert_string_equal(caf_collector_output_object(f, 0)->name, "energy"); /* sorted by name */
    assert_string_equal(caf_collector_output_find_object(f, "eventlist")->type_name, "test.eventlist");
    assert_int_equal(caf_collector_output_find_object(f, "rows")->key_count, 3);
    bool all[N_EVENTS];
    for (int i = 0; i < N_EVENTS; i++)
        all[i] = true;
    for (size_t i = 0; i < rr->count; i++)
        check_key(f, rr->runs[i], e->ev, all);
    /* run 1.1 was entered twice: two pieces, merged on reading */
    caf_object *o;
    assert_int_equal(caf_collector_output_read(f, "events", (caf_exprun){1, 1}, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), 18);
    caf_object_free(o);
    /* merging over runs */
    caf_exprun some[] = {{1, 2}, {2, 1}, {7, 7}};
    assert_int_equal(caf_collector_output_merge_runs(f, "events", some, 3, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), 22);
    caf_object_free(o);
    assert_int_equal(caf_collector_output_merge_runs(f, "events", NULL, 0, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), N_EVENTS);
    caf_object_free(o);
    /* asking for what is not there */
    assert_int_equal(caf_collector_output_read(f, "nope", (caf_exprun){1, 1}, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "'nope'"));
    assert_non_null(strstr(err.message, "TestCollector"));
    assert_int_equal(caf_collector_output_read(f, "events", (caf_exprun){3, 3}, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "3.3"));
    caf_exprun none[] = {{9, 9}};
    assert_int_equal(caf_collector_output_merge_runs(f, "events", none, 1, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "no data for object 'events'"));
    caf_collector_output_close(f);
}

static void test_granularity_all(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run_collector(e, "    granularity: all\n", 1, &err), CAF_OK);
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(e->out, &f, &err), CAF_OK);
    assert_int_equal(caf_collector_output_granularity(f), CAF_GRANULARITY_ALL);
    assert_int_equal(caf_collector_output_run_range(f)->count, 3); /* the real runs, even with "all" */
    caf_exprun *keys;
    size_t n;
    assert_int_equal(caf_collector_output_keys(f, "energy", &keys, &n, &err), CAF_OK);
    assert_int_equal(n, 1);
    assert_true(keys[0].exp == -1 && keys[0].run == -1);
    free(keys);
    bool all[N_EVENTS];
    for (int i = 0; i < N_EVENTS; i++)
        all[i] = true;
    check_key(f, CAF_EXPRUN_ALL, e->ev, all);
    /* merging "all" over runs: the single object when any asked run was collected */
    caf_object *o;
    caf_exprun one[] = {{2, 1}};
    assert_int_equal(caf_collector_output_merge_runs(f, "events", one, 1, &o, &err), CAF_OK);
    assert_int_equal(caf_counter_count(o), N_EVENTS);
    caf_object_free(o);
    caf_collector_output_close(f);
}

static int64_t count_of(struct env *e, caf_exprun key)
{
    caf_collector_output *f;
    caf_error err = {0};
    assert_int_equal(caf_collector_output_open(e->out, &f, &err), CAF_OK);
    caf_object *o;
    int64_t n = 0;
    if (caf_collector_output_read(f, "events", key, &o, &err) == CAF_OK) {
        n = caf_counter_count(o);
        caf_object_free(o);
    }
    caf_collector_output_close(f);
    return n;
}

static void test_prescale(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    /* 0: nothing collected, no runs recorded, but a complete file listing the objects */
    assert_int_equal(run_collector(e, "    preScale: 0\n", 1, &err), CAF_OK);
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(e->out, &f, &err), CAF_OK);
    assert_int_equal(caf_collector_output_run_range(f)->count, 0);
    assert_int_equal(caf_collector_output_object_count(f), 6);
    assert_int_equal(caf_collector_output_find_object(f, "energy")->key_count, 0);
    caf_collector_output_close(f);
    /* 0.5: about half, the same events for the same seed */
    assert_int_equal(run_collector(e, "    preScale: 0.5\n", 7, &err), CAF_OK);
    int64_t a = count_of(e, (caf_exprun){1, 1}) + count_of(e, (caf_exprun){1, 2}) + count_of(e, (caf_exprun){2, 1});
    assert_true(a > 5 && a < 35);
    caf_object *first;
    assert_int_equal(caf_collected_merge_files((const char *const *)&e->out, 1, "rows", NULL, 0, &first, &err), CAF_OK);
    assert_int_equal(run_collector(e, "    preScale: 0.5\n", 7, &err), CAF_OK);
    caf_object *second;
    assert_int_equal(caf_collected_merge_files((const char *const *)&e->out, 1, "rows", NULL, 0, &second, &err),
                     CAF_OK);
    assert_int_equal(caf_ntuple_rows(first), caf_ntuple_rows(second));
    for (size_t i = 0; i < caf_ntuple_rows(first); i++)
        assert_int_equal(caf_ntuple_get_i64(first, i, 2), caf_ntuple_get_i64(second, i, 2));
    assert_int_equal((int64_t)caf_ntuple_rows(first), a);
    caf_object_free(first);
    caf_object_free(second);
    /* a value outside [0, 1] is an error naming the collector */
    assert_int_equal(run_collector(e, "    preScale: 1.5\n", 7, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "collector TestCollector: preScale 1.5"));
    assert_false(caf_path_exists(e->out));
}

static void test_max_events_per_run(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    /* 1.1 gets 12 events, then 6 more when revisited: a limit of 14 takes 12 + 2 over the job */
    assert_int_equal(run_collector(e, "    maxEventsPerRun: 14\n", 1, &err), CAF_OK);
    assert_int_equal(count_of(e, (caf_exprun){1, 1}), 14);
    assert_int_equal(count_of(e, (caf_exprun){1, 2}), 13);
    assert_int_equal(count_of(e, (caf_exprun){2, 1}), 9);
    bool sel[N_EVENTS];
    for (int i = 0; i < N_EVENTS; i++)
        sel[i] = i + 1 <= 36; /* events 35 and 36 are the two taken on the revisit */
    caf_collector_output *f;
    assert_int_equal(caf_collector_output_open(e->out, &f, &err), CAF_OK);
    check_key(f, (caf_exprun){1, 1}, e->ev, sel);
    caf_collector_output_close(f);
    /* a limit of 12 is reached in the first visit; the revisit adds nothing and no piece */
    assert_int_equal(run_collector(e, "    maxEventsPerRun: 12\n", 1, &err), CAF_OK);
    assert_int_equal(count_of(e, (caf_exprun){1, 1}), 12);
    assert_int_equal(count_of(e, (caf_exprun){2, 1}), 9);
    /* 0: nothing */
    assert_int_equal(run_collector(e, "    maxEventsPerRun: 0\n", 1, &err), CAF_OK);
    assert_int_equal(count_of(e, (caf_exprun){1, 2}), 0);
}

/* The event numbers in "rows" over all runs of the output. */
static caf_object *all_rows(struct env *e)
{
    caf_object *rows;
    caf_error err = {0};
    assert_int_equal(caf_collected_merge_files((const char *const *)&e->out, 1, "rows", NULL, 0, &rows, &err), CAF_OK);
    return rows;
}

/* A condition in the path makes the engine call modules event by event: the gates must give the same
 * events as in bulk mode. */
static void test_event_by_event_mode(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    static const char *const extras[] = {"    preScale: 0.5\n    maxEventsPerRun: 5\n", "    maxEventsPerRun: 14\n",
                                         "    preScale: 0.3\n"};
    const char *prefix = "- {module: Prescale, params: {prescale: 1.0}, conditions: [{if: false}]}\n";
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(run_collector(e, extras[k], 11, &err), CAF_OK);
        caf_object *bulk = all_rows(e);
        assert_int_equal(run_collector_after(e, prefix, extras[k], 11, &err), CAF_OK);
        caf_object *single = all_rows(e);
        assert_true(caf_ntuple_rows(bulk) > 0);
        assert_int_equal(caf_ntuple_rows(bulk), caf_ntuple_rows(single));
        for (size_t i = 0; i < caf_ntuple_rows(bulk); i++)
            assert_int_equal(caf_ntuple_get_i64(bulk, i, 2), caf_ntuple_get_i64(single, i, 2));
        caf_object_free(bulk);
        caf_object_free(single);
    }
}

static void test_bad_input(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run_collector(e, "    registerTwice: true\n", 1, &err), CAF_ERR_EXISTS);
    assert_non_null(strstr(err.message, "collector TestCollector: object 'energy' is registered twice"));
    assert_null(strchr(err.message, '\n'));
    assert_false(caf_path_exists(e->out));
    assert_int_equal(run_collector(e, "    askFor: nope\n", 1, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "collector TestCollector: object 'nope' is not registered"));
    assert_false(caf_path_exists(e->out));
    assert_int_equal(run_collector(e, "    granularity: rn\n", 1, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "collector TestCollector: granularity 'rn' is neither 'run' nor 'all'"));
    assert_false(caf_path_exists(e->out));
    static const char *const hooks[] = {"prepare", "start_run", "collect", "close_run"};
    for (size_t i = 0; i < 4; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "    failIn: %s\n", hooks[i]);
        assert_int_not_equal(run_collector(e, extra, 1, &err), CAF_OK);
        assert_non_null(strstr(err.message, hooks[i]));
        assert_non_null(strstr(err.message, "TestCollector"));
        assert_false(caf_path_exists(e->out));
    }
    /* no temporary files are left behind either */
    DIR *d = opendir(e->dir);
    struct dirent *de;
    while ((de = readdir(d)))
        assert_null(strstr(de->d_name, CAF_TEMP_MARK));
    closedir(d);
    /* an output folder that does not exist */
    char *missing = caf_path_join(e->dir, "no/such/dir/out.sqlite");
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "- module: TestCollector\n  params: {outputFileName: \"%s\"}\n", missing);
    const char *inputs[] = {e->a};
    register_type(false);
    assert_int_equal(fx_run(yaml, inputs, 1, 1, 0, &err), CAF_ERR_NOT_FOUND);
    register_type(true);
    assert_non_null(strstr(err.message, "collector TestCollector"));
    free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_granularity_run),    cmocka_unit_test(test_granularity_all),
        cmocka_unit_test(test_prescale),           cmocka_unit_test(test_max_events_per_run),
        cmocka_unit_test(test_event_by_event_mode), cmocka_unit_test(test_bad_input),
    };
    (void)fx_logged_events; /* the fixture's event log is for the engine tests */
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    caf_user_type_unregister("test.eventlist");
    return rc;
}
