/* TriggerSkim through the engine, on event files written with the C writer: every parameter, both
 * logic modes, random and counter prescales, missing trigger data, unknown lines, resultOnMissing,
 * skipFirstEvent and the errors at initialize. The events a skim keeps are compared one by one with the
 * Belle II rules applied to the trigger decisions written into the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "module_fixture.h"
#include "test_support.h"

#define N_EVENTS 3000
static const char *const lines[] = {"mumu", "bhabha", "hadron"};

/* The decisions written for event i, line l: a mixture of -1, 0 and 1 that differs between lines. */
static int8_t decision(size_t i, size_t l)
{
    static const int8_t table[5] = {1, -1, 0, -1, 1};
    return table[(i * (2 * l + 3) + 7 * l + i / 7) % 5];
}

struct files {
    char *dir;
    char *all;     /* every event has trigger results */
    char *missing; /* every 17th event has none */
    char *none;    /* the file has no trigger data */
    char *log;
    fx_event *ev;
};

static int setup(void **state)
{
    struct files *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir("trigger_skim");
    f->ev = calloc(N_EVENTS, sizeof *f->ev);
    for (size_t i = 0; i < N_EVENTS; i++) {
        f->ev[i] = (fx_event){.exp = 1, .run = 1 + (int)(i / 1000), .event = (uint32_t)(i + 1),
                              .energy = (float)i, .present = 1};
        for (size_t l = 0; l < 3; l++) {
            f->ev[i].trig[l] = decision(i, l);
            f->ev[i].np[l] = decision(i + 1, l);
        }
    }
    f->all = fx_write(f->dir, "all.h5", f->ev, N_EVENTS, lines, 3, true);
    for (size_t i = 0; i < N_EVENTS; i++)
        f->ev[i].present = i % 17 != 5;
    f->missing = fx_write(f->dir, "missing.h5", f->ev, N_EVENTS, lines, 3, true);
    f->none = fx_write(f->dir, "none.h5", f->ev, N_EVENTS, NULL, 0, false);
    for (size_t i = 0; i < N_EVENTS; i++)
        f->ev[i].present = 1;
    f->log = caf_path_join(f->dir, "log.txt");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct files *f = *state;
    test_remove_tree(f->dir);
    free(f->dir), free(f->all), free(f->missing), free(f->none), free(f->log), free(f->ev), free(f);
    return 0;
}

/* Runs TriggerSkim with params over file; the events whose return value satisfies cond are returned
 * (their numbers, in order). */
static caf_status skim(struct files *f, const char *params, const char *cond, const char *file, uint64_t seed,
                       int64_t **kept, size_t *n, caf_error *err)
{
    remove(f->log);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "paths:\n"
             "  main:\n"
             "    - module: TriggerSkim\n"
             "      params: %s\n"
             "      conditions: [{if: \"%s\", path: keep}]\n"
             "  keep:\n"
             "    - module: TestRecorder\n"
             "      params: {log: \"%s\"}\n",
             params, cond, f->log);
    const char *inputs[] = {file};
    caf_status st = fx_run(yaml, inputs, 1, seed, 0, err);
    *kept = fx_logged_events(f->log, "TestRecorder", n);
    return st;
}

/* Asserts that kept holds exactly the events i (numbers i + 1) for which want(i) is true. */
static void assert_kept(const int64_t *kept, size_t n, bool (*want)(const fx_event *, size_t), const fx_event *ev)
{
    size_t k = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        if (!want(&ev[i], i))
            continue;
        assert_true(k < n);
        assert_int_equal(kept[k], (int64_t)i + 1);
        k++;
    }
    assert_int_equal(k, n);
}

static bool mumu_or_bhabha(const fx_event *e, size_t i) { (void)i; return e->trig[0] == 1 || e->trig[1] == 1; }
static bool mumu_and_bhabha(const fx_event *e, size_t i) { (void)i; return e->trig[0] == 1 && e->trig[1] == 1; }
static bool neither_accepts(const fx_event *e, size_t i) { return !mumu_or_bhabha(e, i); }
static bool hadron_rejects(const fx_event *e, size_t i) { (void)i; return e->trig[2] == -1; }
static bool hadron_no_result(const fx_event *e, size_t i) { (void)i; return e->trig[2] == 0; }
static bool every(const fx_event *e, size_t i) { (void)e, (void)i; return true; }
static bool none_at_all(const fx_event *e, size_t i) { (void)e, (void)i; return false; }
static bool mumu(const fx_event *e, size_t i) { (void)i; return e->trig[0] == 1; }

static void or_mode_is_the_default_and_keeps_events_with_any_line_accepted(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [mumu, bhabha]}", "== 1", f->all, 1, &kept, &n, &err), CAF_OK);
    assert_true(n > 100 && n < N_EVENTS - 100);
    assert_kept(kept, n, mumu_or_bhabha, f->ev);
    free(kept);
    /* the return value is 0 for the others: "false" (< 1) catches exactly them */
    assert_int_equal(skim(f, "{triggerLines: [mumu, bhabha]}", "false", f->all, 1, &kept, &n, &err), CAF_OK);
    assert_kept(kept, n, neither_accepts, f->ev);
    free(kept);
}

static void and_mode_needs_every_line(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [mumu, bhabha], logicMode: and}", "== 1", f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_true(n > 10);
    assert_kept(kept, n, mumu_and_bhabha, f->ev);
    free(kept);
}

static void expected_result_selects_rejected_or_undecided_events(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [hadron], expectedResult: -1}", "== 1", f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, hadron_rejects, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: [hadron], expectedResult: 0}", "true", f->all, 1, &kept, &n, &err), CAF_OK);
    assert_true(n > 0);
    assert_kept(kept, n, hadron_no_result, f->ev);
    free(kept);
}

static void empty_line_list_gives_true_for_and_and_false_for_or(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [], logicMode: and}", "== 1", f->all, 1, &kept, &n, &err), CAF_OK);
    assert_kept(kept, n, every, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: []}", "== 1", f->all, 1, &kept, &n, &err), CAF_OK);
    assert_kept(kept, n, none_at_all, f->ev);
    free(kept);
}

/* Counter mode: among the events where the line matches, the 1st, P+1-th, 2P+1-th ... pass. */
static size_t counter_matches;
static bool counter_every_third_mumu(const fx_event *e, size_t i)
{
    if (i == 0)
        counter_matches = 0;
    if (e->trig[0] != 1)
        return false;
    return counter_matches++ % 3 == 0;
}

static void counter_prescale_passes_first_then_every_pth_matching_event(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [[mumu, 3]], useRandomNumbersForPreScale: false}", "== 1", f->all, 1,
                          &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, counter_every_third_mumu, f->ev);
    free(kept);
}

/* Mixed items in "or": bhabha unprescaled, mumu counted 1 in 2 on its own matches (also when bhabha
 * already accepted the event, as every item is evaluated). */
static size_t mixed_matches;
static bool mixed_or(const fx_event *e, size_t i)
{
    if (i == 0)
        mixed_matches = 0;
    bool mumu_pass = e->trig[0] == 1 && mixed_matches++ % 2 == 0;
    return e->trig[1] == 1 || mumu_pass;
}

static void names_and_pairs_mix_with_per_line_counters(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [bhabha, [mumu, 2]], useRandomNumbersForPreScale: false}", "== 1",
                          f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, mixed_or, f->ev);
    free(kept);
    /* prescale 1 keeps every matching event, in either mode */
    assert_int_equal(skim(f, "{triggerLines: [[mumu, 1]]}", "== 1", f->all, 7, &kept, &n, &err), CAF_OK);
    assert_kept(kept, n, mumu, f->ev);
    free(kept);
}

static void random_prescale_is_reproducible_and_keeps_about_one_in_p(void **state)
{
    struct files *f = *state;
    int64_t *a, *b, *c;
    size_t na, nb, nc;
    caf_error err = {0};
    const char *params = "{triggerLines: [[mumu, 4]]}";
    assert_int_equal(skim(f, params, "== 1", f->all, 42, &a, &na, &err), CAF_OK);
    assert_int_equal(skim(f, params, "== 1", f->all, 42, &b, &nb, &err), CAF_OK);
    assert_int_equal(skim(f, params, "== 1", f->all, 43, &c, &nc, &err), CAF_OK);
    /* same seed, same events */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    /* every kept event matches the line; the count is near matches / 4 (within 5 standard deviations) */
    size_t matches = 0;
    for (size_t i = 0; i < N_EVENTS; i++)
        matches += f->ev[i].trig[0] == 1;
    for (size_t k = 0; k < na; k++)
        assert_int_equal(f->ev[a[k] - 1].trig[0], 1);
    double mean = matches / 4.0, sigma = sqrt(matches * 0.25 * 0.75);
    assert_true(fabs((double)na - mean) < 5 * sigma);
    /* another seed draws differently */
    assert_false(na == nc && !memcmp(a, c, na * sizeof *a));
    free(a), free(b), free(c);
}

static void random_draws_of_a_run_do_not_depend_on_other_runs(void **state)
{
    struct files *f = *state;
    /* a file holding only run 2 makes the same decisions for run 2 as the file with runs 1 to 3 */
    char *run2 = fx_write(f->dir, "run2.h5", f->ev + 1000, 1000, lines, 3, true);
    int64_t *whole, *part;
    size_t nw, np;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [[mumu, 3], [hadron, 2]]}", "== 1", f->all, 5, &whole, &nw, &err), CAF_OK);
    assert_int_equal(skim(f, "{triggerLines: [[mumu, 3], [hadron, 2]]}", "== 1", run2, 5, &part, &np, &err), CAF_OK);
    size_t k = 0;
    for (size_t i = 0; i < nw; i++)
        if (whole[i] > 1000 && whole[i] <= 2000) {
            assert_true(k < np);
            assert_int_equal(whole[i], part[k++]);
        }
    assert_int_equal(k, np);
    assert_true(np > 0);
    free(whole), free(part), free(run2);
}

static void missing_trigger_result_is_fatal_without_result_on_missing(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [mumu]}", "== 1", f->missing, 1, &kept, &n, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "TriggerSkim"));
    assert_non_null(strstr(err.message, "missing.h5"));
    assert_non_null(strstr(err.message, "event 6 ")); /* i = 5 is the first event without results */
    assert_non_null(strstr(err.message, "resultOnMissing"));
    free(kept);
    /* a file without any trigger data: the same */
    assert_int_equal(skim(f, "{triggerLines: [mumu]}", "== 1", f->none, 1, &kept, &n, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "none.h5"));
    free(kept);
}

static bool missing_ones(const fx_event *e, size_t i) { (void)e; return i % 17 == 5; }
static bool mumu_where_present(const fx_event *e, size_t i) { return i % 17 != 5 && e->trig[0] == 1; }

static void result_on_missing_is_returned_for_events_without_results(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [mumu], resultOnMissing: 5}", "== 5", f->missing, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, missing_ones, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: [mumu], resultOnMissing: 5}", "== 1", f->missing, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, mumu_where_present, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: [mumu], resultOnMissing: -2}", "< 0", f->none, 1, &kept, &n, &err), CAF_OK);
    assert_kept(kept, n, every, f->ev);
    free(kept);
}

static void unknown_line_is_fatal_without_result_on_missing(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, "{triggerLines: [mumu, gamma_gamma]}", "== 1", f->all, 1, &kept, &n, &err),
                     CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "gamma_gamma"));
    assert_non_null(strstr(err.message, "all.h5"));
    assert_non_null(strstr(err.message, "mumu=")); /* the lines the event has, with values */
    assert_non_null(strstr(err.message, "hadron="));
    free(kept);
}

static void unknown_line_counts_as_accepted_when_result_on_missing_is_non_zero(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    /* non-zero: accepted, so "or" keeps everything and "and" reduces to the known line */
    assert_int_equal(skim(f, "{triggerLines: [mumu, gamma_gamma], resultOnMissing: 1}", "== 1", f->all, 1, &kept, &n,
                          &err),
                     CAF_OK);
    assert_kept(kept, n, every, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: [mumu, gamma_gamma], resultOnMissing: 3, logicMode: and}", "== 1",
                          f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, mumu, f->ev);
    free(kept);
    /* zero: not accepted */
    assert_int_equal(skim(f, "{triggerLines: [mumu, gamma_gamma], resultOnMissing: 0}", "== 1", f->all, 1, &kept, &n,
                          &err),
                     CAF_OK);
    assert_kept(kept, n, mumu, f->ev);
    free(kept);
    assert_int_equal(skim(f, "{triggerLines: [mumu, gamma_gamma], resultOnMissing: 0, logicMode: and}", "== 1",
                          f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_int_equal(n, 0);
    free(kept);
}

static bool first_or_bhabha(const fx_event *e, size_t i) { return i == 0 || e->trig[1] == 1; }

static void skip_first_event_returns_true_for_the_first_event_only(void **state)
{
    struct files *f = *state;
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_not_equal(f->ev[0].trig[1], 1); /* else the test could not tell */
    assert_int_equal(skim(f, "{triggerLines: [bhabha], skipFirstEvent: true}", "== 1", f->all, 1, &kept, &n, &err),
                     CAF_OK);
    assert_kept(kept, n, first_or_bhabha, f->ev);
    free(kept);
    /* the first event is skipped even when it has no trigger result */
    assert_int_equal(skim(f, "{triggerLines: [mumu], skipFirstEvent: yes}", "== 1", f->none, 1, &kept, &n, &err),
                     CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "event 2 "));
    free(kept);
}

static void expect_init_error(struct files *f, const char *params, const char *const *needles)
{
    int64_t *kept;
    size_t n;
    caf_error err = {0};
    assert_int_equal(skim(f, params, "== 1", f->all, 1, &kept, &n, &err), CAF_ERR_INVALID);
    for (; *needles; needles++)
        if (!strstr(err.message, *needles))
            fail_msg("'%s' lacks '%s'", err.message, *needles);
    assert_null(strchr(err.message, '\n'));
    assert_int_equal(n, 0); /* nothing ran */
    free(kept);
}

static void bad_parameters_stop_at_initialize(void **state)
{
    struct files *f = *state;
    expect_init_error(f, "{triggerLines: [mumu], logicMode: xor}", (const char *[]){"TriggerSkim", "logicMode", "xor", NULL});
    expect_init_error(f, "{triggerLines: [mumu], expectedResult: 2}",
                      (const char *[]){"TriggerSkim", "expectedResult", "2", NULL});
    expect_init_error(f, "{triggerLines: [mumu, [bhabha, 0]]}", (const char *[]){"TriggerSkim", "bhabha", "below 1", NULL});
    expect_init_error(f, "{triggerLines: [[bhabha, -3]]}", (const char *[]){"prescale -3", NULL});
    expect_init_error(f, "{expectedResult: 1}", (const char *[]){"TriggerSkim", "triggerLines", "required", NULL});
    expect_init_error(f, "{triggerLines: [mumu], expectedResult: one}",
                      (const char *[]){"test.yaml:4:", "TriggerSkim", "expectedResult", "'one'", NULL});
    expect_init_error(f, "{triggerLines: [mumu, [bhabha, x]]}", (const char *[]){"test.yaml:4:", "item 2", NULL});
    expect_init_error(f, "{triggerLines: [mumu], prescale: 3}",
                      (const char *[]){"test.yaml:4:", "TriggerSkim", "no parameter 'prescale'", NULL});
    expect_init_error(f, "{triggerLines: [mumu], useRandomNumbersForPreScale: maybe}",
                      (const char *[]){"useRandomNumbersForPreScale", "bool", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(or_mode_is_the_default_and_keeps_events_with_any_line_accepted),
        cmocka_unit_test(and_mode_needs_every_line),
        cmocka_unit_test(expected_result_selects_rejected_or_undecided_events),
        cmocka_unit_test(empty_line_list_gives_true_for_and_and_false_for_or),
        cmocka_unit_test(counter_prescale_passes_first_then_every_pth_matching_event),
        cmocka_unit_test(names_and_pairs_mix_with_per_line_counters),
        cmocka_unit_test(random_prescale_is_reproducible_and_keeps_about_one_in_p),
        cmocka_unit_test(random_draws_of_a_run_do_not_depend_on_other_runs),
        cmocka_unit_test(missing_trigger_result_is_fatal_without_result_on_missing),
        cmocka_unit_test(result_on_missing_is_returned_for_events_without_results),
        cmocka_unit_test(unknown_line_is_fatal_without_result_on_missing),
        cmocka_unit_test(unknown_line_counts_as_accepted_when_result_on_missing_is_non_zero),
        cmocka_unit_test(skip_first_event_returns_true_for_the_first_event_only),
        cmocka_unit_test(bad_parameters_stop_at_initialize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
