/* The engine over real event files: the order of the lifecycle calls across files and runs, conditions
 * routing events into other paths (END and CONTINUE, nested, true/false), -n, failures, plugins that
 * cannot be loaded, and the Prescale, EventSelector and Output modules (Output's file read back with
 * the reader: events, metadata and parents; no file after a failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>

#include "caf/log.h"
#include "module_fixture.h"
#include "test_support.h"

struct env {
    char *dir;
    char *a, *b; /* a: run 1.1 events 1-5, 1.2 events 6-8; b: 1.2 events 9-10, 2.1 events 11-12 */
    char *log;
    fx_event ev[12];
};

static const char *const lines[] = {"mumu", "bhabha"};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    e->dir = test_make_temp_dir("engine");
    for (size_t i = 0; i < 12; i++) {
        int n = (int)i + 1;
        e->ev[i] = (fx_event){.exp = n <= 10 ? 1 : 2, .run = n <= 5 ? 1 : n <= 10 ? 2 : 1, .event = (uint32_t)n,
                              .energy = (float)n * 0.5f, .present = 1};
        e->ev[i].trig[0] = n % 3 == 0 ? 1 : -1;
        e->ev[i].trig[1] = n % 4 == 0 ? 1 : 0;
        e->ev[i].np[0] = e->ev[i].np[1] = 1;
    }
    e->a = fx_write(e->dir, "a.h5", e->ev, 8, lines, 2, true);
    e->b = fx_write(e->dir, "b.h5", e->ev + 8, 4, lines, 2, true);
    e->log = caf_path_join(e->dir, "log.txt");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    test_remove_tree(e->dir);
    free(e->dir), free(e->a), free(e->b), free(e->log), free(e);
    return 0;
}

/* Runs yaml (with every LOG replaced by the log path) over a and b. */
static caf_status run(struct env *e, const char *yaml, int64_t max_events, caf_error *err)
{
    remove(e->log);
    char text[8192];
    size_t o = 0;
    for (const char *p = yaml; *p && o < sizeof text - 600; p++) {
        if (!strncmp(p, "LOG", 3)) {
            o += (size_t)snprintf(text + o, sizeof text - o, "\"%s\"", e->log);
            p += 2;
        } else {
            text[o++] = *p;
        }
    }
    text[o] = '\0';
    const char *inputs[] = {e->a, e->b};
    return fx_run(text, inputs, 2, 99, max_events, err);
}

/* "n1 n2 ..." of the events instance who saw. */
static void assert_events(struct env *e, const char *who, const char *expected)
{
    size_t n;
    int64_t *ev = fx_logged_events(e->log, who, &n);
    char got[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", i ? " " : "", (long long)ev[i]);
    free(ev);
    if (strcmp(got, expected))
        fail_msg("%s saw '%s', expected '%s'", who, got, expected);
}

static void lifecycle_calls_follow_files_and_runs(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- module: TestRecorder\n  params: {log: LOG}\n", 0, &err), CAF_OK);
    char *log = test_read_file(e->dir, "log.txt");
    const char *expected = "TestRecorder initialize\nTestRecorder begin_file\nTestRecorder begin_run 1 1\n"
                           "TestRecorder event 1 1 1\nTestRecorder event 1 1 2\nTestRecorder event 1 1 3\n"
                           "TestRecorder event 1 1 4\nTestRecorder event 1 1 5\nTestRecorder end_run 1 1\n"
                           "TestRecorder begin_run 1 2\nTestRecorder event 1 2 6\nTestRecorder event 1 2 7\n"
                           "TestRecorder event 1 2 8\nTestRecorder begin_file\nTestRecorder event 1 2 9\n"
                           "TestRecorder event 1 2 10\nTestRecorder end_run 1 2\nTestRecorder begin_run 2 1\n"
                           "TestRecorder event 2 1 11\nTestRecorder event 2 1 12\nTestRecorder end_run 2 1\n"
                           "TestRecorder terminate ok\n";
    assert_string_equal(log, expected);
    free(log);
}

static void modules_read_columns_through_the_batch(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- module: TestRecorder\n  params: {log: LOG, column: energy}\n", 0, &err), CAF_OK);
    char *log = test_read_file(e->dir, "log.txt");
    for (int n = 1; n <= 12; n++) {
        char want[64];
        snprintf(want, sizeof want, " %d %g\n", n, n * 0.5);
        assert_non_null(strstr(log, want));
    }
    free(log);
}

static void conditions_route_events_to_other_paths(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    const char *yaml = "paths:\n"
                       "  main:\n"
                       "    - module: TestRecorder\n"
                       "      name: first\n"
                       "      params: {log: LOG, returnModulo: 3}\n"
                       "      conditions:\n"
                       "        - {if: \"== 0\", path: zero, after: continue}\n"
                       "        - {if: \"=1\", path: one}\n"
                       "        - {if: \">= 0\", path: other}\n"
                       "    - module: TestRecorder\n"
                       "      name: tail\n"
                       "      params: {log: LOG}\n"
                       "  zero:\n"
                       "    - {module: TestRecorder, name: z, params: {log: LOG}}\n"
                       "  one:\n"
                       "    - {module: TestRecorder, name: o, params: {log: LOG}}\n"
                       "  other:\n"
                       "    - {module: TestRecorder, name: x, params: {log: LOG}}\n";
    assert_int_equal(run(e, yaml, 0, &err), CAF_OK);
    assert_events(e, "first", "1 2 3 4 5 6 7 8 9 10 11 12");
    assert_events(e, "z", "3 6 9 12");   /* == 0, then back to the main path */
    assert_events(e, "tail", "3 6 9 12"); /* only after CONTINUE */
    assert_events(e, "o", "1 4 7 10");   /* == 1 ends after its path */
    assert_events(e, "x", "2 5 8 11");   /* the first condition that holds decides */
}

static void end_inside_a_condition_path_ends_the_event(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    const char *yaml = "main: m\n"
                       "paths:\n"
                       "  m:\n"
                       "    - module: TestRecorder\n"
                       "      name: a\n"
                       "      params: {log: LOG, returnModulo: 2}\n"
                       "      conditions: [{if: \"== 0\", path: sub, after: continue}]\n"
                       "    - {module: TestRecorder, name: tail, params: {log: LOG}}\n"
                       "  sub:\n"
                       "    - module: TestRecorder\n"
                       "      name: b\n"
                       "      params: {log: LOG, returnModulo: 3}\n"
                       "      conditions: [{if: \"!= 0\"}]\n"
                       "    - {module: TestRecorder, name: c, params: {log: LOG}}\n";
    assert_int_equal(run(e, yaml, 0, &err), CAF_OK);
    assert_events(e, "b", "2 4 6 8 10 12");
    assert_events(e, "c", "6 12");                  /* b returned 0: on to c */
    assert_events(e, "tail", "1 3 5 6 7 9 11 12"); /* b's END also skipped the main path's rest */
}

static void false_without_a_path_ends_processing(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    const char *yaml = "- module: TestRecorder\n"
                       "  name: a\n"
                       "  params: {log: LOG, returnModulo: 2}\n"
                       "  conditions: [{if: false}]\n"
                       "- {module: TestRecorder, name: tail, params: {log: LOG}}\n";
    assert_int_equal(run(e, yaml, 0, &err), CAF_OK);
    assert_events(e, "tail", "1 3 5 7 9 11");
    const char *yaml_true = "- module: TestRecorder\n"
                            "  name: a\n"
                            "  params: {log: LOG, returnModulo: 2}\n"
                            "  conditions: [{if: true, path: p, after: continue}]\n"
                            "- {module: TestRecorder, name: tail, params: {log: LOG}}\n";
    /* a list is the main path alone: no other path to name */
    assert_int_equal(run(e, yaml_true, 0, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "test.yaml:4:"));
    assert_non_null(strstr(err.message, "'p'"));
}

static void conditions_need_a_return_value(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- {module: TestRecorder, name: quiet, params: {log: LOG}, conditions: [{if: true}]}\n", 0,
                         &err),
                     CAF_ERR_STATE);
    assert_non_null(strstr(err.message, "quiet"));
    assert_non_null(strstr(err.message, "return value"));
    char *log = test_read_file(e->dir, "log.txt");
    assert_non_null(strstr(log, "terminate failed"));
    free(log);
}

static void max_events_stops_early_and_still_ends_the_run(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- module: TestRecorder\n  params: {log: LOG}\n", 4, &err), CAF_OK);
    assert_events(e, "TestRecorder", "1 2 3 4");
    char *log = test_read_file(e->dir, "log.txt");
    assert_non_null(strstr(log, "end_run 1 1\nTestRecorder terminate ok\n"));
    free(log);
}

static void a_failing_event_stops_and_terminates_with_failure(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- {module: TestRecorder, name: boom, params: {log: LOG, failAtEvent: 7}}\n", 0, &err),
                     CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "boom"));
    assert_non_null(strstr(err.message, "failing at event 7"));
    assert_non_null(strstr(err.message, "a.h5"));
    assert_events(e, "boom", "1 2 3 4 5 6");
    char *log = test_read_file(e->dir, "log.txt");
    assert_non_null(strstr(log, "boom terminate failed\n"));
    free(log);
}

static void expect_failure(struct env *e, const char *yaml, caf_status code, const char *const *needles)
{
    caf_error err = {0};
    assert_int_equal(run(e, yaml, 0, &err), code);
    for (; *needles; needles++)
        if (!strstr(err.message, *needles))
            fail_msg("'%s' lacks '%s'", err.message, *needles);
    assert_null(strchr(err.message, '\n'));
}

static void modules_that_cannot_be_loaded_are_named(void **state)
{
    struct env *e = *state;
    expect_failure(e, "- module: TestRecorder\n  params: {log: LOG}\n- module: NoSuchModule\n", CAF_ERR_NOT_FOUND,
                   (const char *[]){"test.yaml:3:3", "NoSuchModule", "plugin path", NULL});
    expect_failure(e, "- module: NoEntryPoint\n", CAF_ERR_PLUGIN,
                   (const char *[]){"test.yaml:1:3", "NoEntryPoint", "caf_module_plugin_v1", NULL});
    expect_failure(e, "- module: WrongName\n", CAF_ERR_PLUGIN, (const char *[]){"WrongName", "SomethingElse", NULL});
    /* nothing ran: the log was never written */
    assert_null(test_read_file(e->dir, "log.txt"));
}

static void parameter_errors_name_module_and_place(void **state)
{
    struct env *e = *state;
    expect_failure(e, "- module: TestRecorder\n  params:\n    log: LOG\n    colour: red\n", CAF_ERR_INVALID,
                   (const char *[]){"test.yaml:4:5", "TestRecorder", "no parameter 'colour'", "returnModulo", NULL});
    expect_failure(e, "- module: TestRecorder\n  params:\n    log: LOG\n    failAtEvent: [1]\n", CAF_ERR_INVALID,
                   (const char *[]){"test.yaml:4:18", "TestRecorder", "failAtEvent", "an int", NULL});
    expect_failure(e, "- module: TestRecorder\n", CAF_ERR_INVALID,
                   (const char *[]){"test.yaml:1:3", "TestRecorder", "log", "required", NULL});
    expect_failure(e, "- module: Prescale\n  params: {prescale: 1.5}\n", CAF_ERR_INVALID,
                   (const char *[]){"Prescale", "[0, 1]", NULL});
    expect_failure(e, "- module: EventSelector\n  params: {runRange: [5, 2]}\n", CAF_ERR_INVALID,
                   (const char *[]){"EventSelector", "runRange", NULL});
    expect_failure(e, "- module: EventSelector\n  params: {runRange: [5]}\n", CAF_ERR_INVALID,
                   (const char *[]){"EventSelector", "[low, high]", NULL});
}

static void event_selector_keeps_ranges(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- {module: EventSelector, params: {runRange: [2, -1]}, conditions: [{if: false}]}\n"
                            "- {module: TestRecorder, params: {log: LOG}}\n",
                         0, &err),
                     CAF_OK);
    assert_events(e, "TestRecorder", "6 7 8 9 10");
    assert_int_equal(run(e, "- module: EventSelector\n"
                            "  params: {expRange: [-1, 1], eventRange: [3, 7]}\n"
                            "  conditions: [{if: false}]\n"
                            "- {module: TestRecorder, params: {log: LOG}}\n",
                         0, &err),
                     CAF_OK);
    assert_events(e, "TestRecorder", "3 4 5 6 7");
}

static void prescale_keeps_all_none_or_a_reproducible_fraction(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    assert_int_equal(run(e, "- {module: Prescale, params: {prescale: 0}, conditions: [{if: false}]}\n"
                            "- {module: TestRecorder, params: {log: LOG}}\n",
                         0, &err),
                     CAF_OK);
    assert_events(e, "TestRecorder", "");
    assert_int_equal(run(e, "- {module: Prescale, conditions: [{if: false}]}\n"
                            "- {module: TestRecorder, params: {log: LOG}}\n",
                         0, &err),
                     CAF_OK);
    assert_events(e, "TestRecorder", "1 2 3 4 5 6 7 8 9 10 11 12");
    /* a fraction: the same seed keeps the same events */
    const char *half = "- {module: Prescale, params: {prescale: 0.5}, conditions: [{if: false}]}\n"
                       "- {module: TestRecorder, params: {log: LOG}}\n";
    assert_int_equal(run(e, half, 0, &err), CAF_OK);
    size_t n1, n2;
    int64_t *k1 = fx_logged_events(e->log, "TestRecorder", &n1);
    assert_int_equal(run(e, half, 0, &err), CAF_OK);
    int64_t *k2 = fx_logged_events(e->log, "TestRecorder", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(k1, k2, n1 * sizeof *k1);
    assert_true(n1 > 0 && n1 < 12);
    free(k1), free(k2);
}

static void output_writes_the_events_reaching_it_with_metadata_and_parents(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    char *out = caf_path_join(e->dir, "skim.h5");
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "- {module: TriggerSkim, params: {triggerLines: [mumu, bhabha]}, conditions: [{if: false}]}\n"
             "- {module: Output, params: {outputFileName: \"%s\"}}\n",
             out);
    assert_int_equal(run(e, yaml, 0, &err), CAF_OK);
    /* kept: mumu (n % 3 == 0) or bhabha (n % 4 == 0) */
    const int kept[] = {3, 4, 6, 8, 9, 12};
    caf_event_reader *r;
    assert_int_equal(caf_event_reader_open(&r, out, NULL, &err), CAF_OK);
    const caf_event_file_meta *m = caf_event_reader_meta(r);
    assert_int_equal(m->n_events, 6);
    assert_int_equal(m->random_seed, 99);
    assert_string_equal(m->creator, "caf process");
    assert_int_equal(m->n_parents, 2);
    char *abs_a = realpath(e->a, NULL), *abs_b = realpath(e->b, NULL);
    assert_string_equal(m->parents[0], abs_a);
    assert_string_equal(m->parents[1], abs_b);
    free(abs_a), free(abs_b);
    /* per-run counts agree with the kept events */
    assert_int_equal(m->n_runs, 3);
    for (size_t r = 0; r < m->n_runs; r++) {
        int64_t n = 0;
        for (size_t k = 0; k < 6; k++)
            n += e->ev[kept[k] - 1].exp == m->runs[r].exp && e->ev[kept[k] - 1].run == m->runs[r].run;
        assert_int_equal(m->runs[r].events, n);
    }
    assert_int_equal(m->low.exp, 1);
    assert_int_equal(m->high.exp, 2);
    const caf_event_schema *s = caf_event_reader_schema(r);
    assert_int_equal(s->n_trigger_lines, 2);
    assert_int_equal(s->n_columns, 1);
    const caf_event_batch *b;
    size_t k = 0;
    while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
        for (size_t i = 0; i < b->count; i++, k++) {
            assert_true(k < 6);
            const fx_event *want = &e->ev[kept[k] - 1];
            assert_int_equal(b->event[i], want->event);
            assert_int_equal(b->exp[i], want->exp);
            assert_int_equal(b->run[i], want->run);
            assert_true(caf_batch_float32(b, 0, i) == want->energy);
            assert_int_equal(b->trigger_result[i * 2], want->trig[0]);
            assert_int_equal(b->trigger_result[i * 2 + 1], want->trig[1]);
        }
    }
    assert_int_equal(k, 6);
    caf_event_reader_close(r);
    remove(out);
    free(out);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *x;
    while ((x = readdir(d)))
        n += x->d_name[0] != '.';
    closedir(d);
    return n;
}

static void output_leaves_no_file_when_processing_fails(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    char *out = caf_path_join(e->dir, "partial.h5");
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "- {module: Output, params: {outputFileName: \"%s\"}}\n"
             "- {module: TestRecorder, params: {log: LOG, failAtEvent: 10}}\n",
             out);
    remove(e->log);
    size_t before = count_entries(e->dir); /* a.h5, b.h5 */
    assert_int_equal(run(e, yaml, 0, &err), CAF_ERR_INVALID);
    assert_false(caf_path_exists(out));
    /* only the log was added: no temporary file stays behind */
    assert_int_equal(count_entries(e->dir), before + 1);
    /* inputs with other columns or trigger lines cannot share one output */
    char *plain = fx_write(e->dir, "plain.h5", e->ev, 3, NULL, 0, false);
    const char *inputs[] = {e->a, plain};
    snprintf(yaml, sizeof yaml, "- {module: Output, params: {outputFileName: \"%s\"}}\n", out);
    assert_int_equal(fx_run(yaml, inputs, 2, 1, 0, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "plain.h5"));
    assert_non_null(strstr(err.message, "cannot go into one output"));
    assert_false(caf_path_exists(out));
    remove(plain);
    free(plain);
    /* and an output that would overwrite an input is refused before anything runs */
    snprintf(yaml, sizeof yaml, "- {module: Output, params: {outputFileName: \"%s\"}}\n", e->a);
    assert_int_equal(run(e, yaml, 0, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is also an input"));
    free(out);
}

static char captured[8192];

static void capture(caf_log_level level, const char *line, void *userdata)
{
    (void)level, (void)userdata;
    size_t used = strlen(captured);
    snprintf(captured + used, sizeof captured - used, "%s\n", line);
}

static void bulk_modules_take_stretches_and_single_events(void **state)
{
    struct env *e = *state;
    caf_error err = {0};
    caf_log_set_sink(capture, NULL);
    /* no conditions: ColumnSum gets stretches of a run; the sum covers every event */
    captured[0] = '\0';
    assert_int_equal(run(e, "- {module: ColumnSum, params: {column: energy}}\n"
                            "- {module: TestRecorder, params: {log: LOG}}\n",
                         0, &err),
                     CAF_OK);
    double sum = 0;
    for (size_t i = 0; i < 12; i++)
        sum += e->ev[i].energy;
    char want[128];
    snprintf(want, sizeof want, "module ColumnSum: 12 events, sum of energy %.17g,", sum);
    assert_non_null(strstr(captured, want));
    assert_events(e, "TestRecorder", "1 2 3 4 5 6 7 8 9 10 11 12");
    /* a condition before it: events one by one, only those that reach it */
    captured[0] = '\0';
    assert_int_equal(run(e, "- {module: TestRecorder, params: {log: LOG, returnModulo: 2}, conditions: [{if: false}]}\n"
                            "- {module: ColumnSum, params: {column: energy}}\n",
                         0, &err),
                     CAF_OK);
    sum = 0;
    for (size_t i = 0; i < 12; i += 2)
        sum += e->ev[i].energy;
    snprintf(want, sizeof want, "module ColumnSum: 6 events, sum of energy %.17g,", sum);
    assert_non_null(strstr(captured, want));
    /* -n cuts a stretch */
    captured[0] = '\0';
    assert_int_equal(run(e, "- {module: ColumnSum, params: {column: energy}}\n", 7, &err), CAF_OK);
    sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += e->ev[i].energy;
    snprintf(want, sizeof want, "module ColumnSum: 7 events, sum of energy %.17g,", sum);
    assert_non_null(strstr(captured, want));
    caf_log_set_sink(NULL, NULL);
    expect_failure(e, "- {module: ColumnSum, params: {column: nothing}}\n", CAF_ERR_NOT_FOUND,
                   (const char *[]){"ColumnSum", "nothing", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle_calls_follow_files_and_runs),
        cmocka_unit_test(modules_read_columns_through_the_batch),
        cmocka_unit_test(conditions_route_events_to_other_paths),
        cmocka_unit_test(end_inside_a_condition_path_ends_the_event),
        cmocka_unit_test(false_without_a_path_ends_processing),
        cmocka_unit_test(conditions_need_a_return_value),
        cmocka_unit_test(max_events_stops_early_and_still_ends_the_run),
        cmocka_unit_test(a_failing_event_stops_and_terminates_with_failure),
        cmocka_unit_test(modules_that_cannot_be_loaded_are_named),
        cmocka_unit_test(parameter_errors_name_module_and_place),
        cmocka_unit_test(event_selector_keeps_ranges),
        cmocka_unit_test(prescale_keeps_all_none_or_a_reproducible_fraction),
        cmocka_unit_test(output_writes_the_events_reaching_it_with_metadata_and_parents),
        cmocka_unit_test(output_leaves_no_file_when_processing_fails),
        cmocka_unit_test(bulk_modules_take_stretches_and_single_events),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
