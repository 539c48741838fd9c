/* IoV strategies: every expected execution list and IoV below is derived by hand from the rules in
 * /work/shared/reference/strategies.md (reproduced in docs/ARCHITECTURE.md, ## orchestration). The
 * scripted algorithm needs `needed` entries and each run holds a known number of entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/strategy.h"
#include "scripted_algorithm.h"
#include "test_support.h"

#define ER(e, r) ((caf_exprun){(e), (r)})
#define IOV(a, b, c, d) ((caf_iov){(a), (b), (c), (d)})
#define N_OF(array) (sizeof(array) / sizeof((array)[0]))

/* Runs the strategy to an outcome; returns the status. */
static caf_status run(const caf_strategy_params *p, const caf_exprun *runs, size_t n, const caf_exprun *ignored,
                      size_t ignored_n, scripted_algorithm *a, caf_strategy_state *state)
{
    caf_strategy_callbacks cb = scripted_callbacks(a);
    caf_error err = {0};
    caf_status rc = caf_strategy_run(p, 0, runs, n, ignored, ignored_n, &cb, state, &err);
    if (rc != CAF_OK)
        print_message("strategy error: %s\n", err.message);
    return rc;
}

/* The committed IoVs as "a,b,c,d " text, from the state (and the algorithm must agree). */
static void check_committed(const caf_strategy_state *state, const scripted_algorithm *a, const char *expected)
{
    caf_iov *iovs;
    size_t n;
    assert_int_equal(caf_strategy_committed_iovs(state, &iovs, &n, NULL), CAF_OK);
    char text[2048] = "", one[CAF_IOV_TEXT_MAX];
    for (size_t i = 0; i < n; i++) {
        strcat(text, caf_iov_format(iovs[i], one, sizeof one));
        strcat(text, " ");
    }
    free(iovs);
    assert_string_equal(text, expected);
    assert_string_equal(a->committed, expected);
}

static void check_gaps(const caf_strategy_state *state, const char *expected)
{
    caf_iov *gaps;
    size_t n;
    assert_int_equal(caf_strategy_iov_gaps(state, &gaps, &n, NULL), CAF_OK);
    char text[2048] = "", one[CAF_IOV_TEXT_MAX];
    for (size_t i = 0; i < n; i++) {
        strcat(text, caf_iov_format(gaps[i], one, sizeof one));
        strcat(text, " ");
    }
    free(gaps);
    assert_string_equal(text, expected);
}

static caf_exprun runs_1_to_5[] = {ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 4), ER(1, 5)};

/* ---- SequentialRunByRun ---- */

static void worked_example_of_the_spec(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 40};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1:1,1,1,1=not_enough_data 1.1,1.2:1,1,1,2=not_enough_data "
                               "1.1,1.2,1.3:1,1,1,3=ok 1.4:1,4,1,4=not_enough_data "
                               "1.4,1.5:1,4,1,5=not_enough_data 1.1,1.2,1.3,1.4,1.5:1,1,1,5=ok ");
    check_committed(&s, &a, "1,1,1,5 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_COMPLETED);
    assert_int_equal(s.execution_count, 6);
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);
}

static void low_statistics_runs_merge_forward(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    scripted_set_entries(&a, 1, 2, 30);
    scripted_set_entries(&a, 1, 3, 30);
    scripted_set_entries(&a, 1, 4, 50);
    caf_exprun runs[] = {ER(1, 6), ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 4), ER(1, 5)}; /* unsorted on purpose */
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs, N_OF(runs), NULL, 0, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1:1,1,1,1=ok 1.2:1,2,1,2=not_enough_data 1.2,1.3:1,2,1,3=not_enough_data "
                               "1.2,1.3,1.4:1,2,1,4=ok 1.5:1,5,1,5=ok 1.6:1,6,1,6=ok ");
    check_committed(&s, &a, "1,1,1,1 1,2,1,4 1,5,1,5 1,6,1,6 ");
    caf_strategy_state_clear(&s);
}

static void trailing_runs_merge_into_the_held_back_payload(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    scripted_set_entries(&a, 1, 5, 20);
    scripted_set_entries(&a, 1, 8, 20);
    caf_exprun runs[] = {ER(1, 1), ER(1, 3), ER(1, 5), ER(1, 8)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs, N_OF(runs), NULL, 0, &a, &s), CAF_OK);
    /* IoVs end just before the next run still to process: runs 2, 4, 6-7 without data stay covered. */
    assert_string_equal(a.log, "1.1:1,1,1,2=ok 1.3:1,3,1,4=ok 1.5:1,5,1,7=not_enough_data "
                               "1.5,1.8:1,5,1,8=not_enough_data 1.3,1.5,1.8:1,3,1,8=ok ");
    check_committed(&s, &a, "1,1,1,2 1,3,1,8 ");
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);
}

static void step_size_takes_runs_in_steps(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 40};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.step_size = 2;
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1,1.2:1,1,1,2=not_enough_data 1.1,1.2,1.3,1.4:1,1,1,4=ok "
                               "1.5:1,5,1,5=not_enough_data 1.1,1.2,1.3,1.4,1.5:1,1,1,5=ok ");
    check_committed(&s, &a, "1,1,1,5 ");
    caf_strategy_state_clear(&s);
}

static caf_exprun three_experiments[] = {ER(1, 1), ER(1, 2), ER(2, 3), ER(2, 4), ER(3, 1)};

static void experiments_tile_without_coverage(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.has_experiment_settings = true;
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, three_experiments, 5, NULL, 0, &a, &s), CAF_OK);
    /* First exp starts at its first run, middle ones span 0..-1, the last one ends at its last run. */
    check_committed(&s, &a, "1,1,1,1 1,2,1,-1 2,0,2,3 2,4,2,-1 3,0,3,1 ");
    assert_int_equal(a.settings_calls, 3);
    assert_int_equal(a.settings_exps[0], 1);
    assert_int_equal(a.settings_exps[1], 2);
    assert_int_equal(a.settings_exps[2], 3);
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);
}

static void experiments_tile_with_coverage(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.has_iov_coverage = true;
    p.iov_coverage = IOV(1, 0, 3, 100);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, three_experiments, 5, NULL, 0, &a, &s), CAF_OK);
    check_committed(&s, &a, "1,0,1,1 1,2,1,-1 2,0,2,3 2,4,2,-1 3,0,3,100 ");
    assert_int_equal(a.settings_calls, 0); /* has_experiment_settings is off */
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);

    /* Open-ended coverage. */
    scripted_algorithm b = {.needed = 100, .default_entries = 100};
    p.iov_coverage = IOV(0, 0, -1, -1);
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, three_experiments, 5, NULL, 0, &b, &s), CAF_OK);
    check_committed(&s, &b, "0,0,1,1 1,2,1,-1 2,0,2,3 2,4,2,-1 3,0,-1,-1 ");
    caf_strategy_state_clear(&s);
}

static void ignored_runs_are_removed_first(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_exprun ignored[] = {ER(1, 2), ER(2, 3), ER(2, 4), ER(7, 7)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, three_experiments, 5, ignored, N_OF(ignored), &a, &s), CAF_OK);
    /* Experiment 2 is gone entirely: exp 1 ends at -1 and exp 3 starts at 0, so exp 2 is a gap. */
    assert_string_equal(a.log, "1.1:1,1,1,-1=ok 3.1:3,0,3,1=ok ");
    check_committed(&s, &a, "1,1,1,-1 3,0,3,1 ");
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);
}

static void failure_mid_experiment_ends_only_that_experiment(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 3)}, .failing_count = 1};
    caf_exprun runs[] = {ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 4), ER(2, 1)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs, N_OF(runs), NULL, 0, &a, &s), CAF_OK);
    /* 1.2 was held back when 1.3 failed: a success is committed only once the next success exists. 1.4 is
     * never tried, but experiment 2 still executes and commits. */
    assert_string_equal(a.log, "1.1:1,1,1,1=ok 1.2:1,2,1,2=ok 1.3:1,3,1,3=failure 2.1:2,0,2,1=ok ");
    check_committed(&s, &a, "1,1,1,1 2,0,2,1 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SequentialRunByRun: the algorithm failed on run 1.3 (experiment 1)");
    check_gaps(&s, "1,2,1,-1 ");
    caf_strategy_state_clear(&s);
}

static void every_bad_experiment_is_named_and_good_ones_commit(void **unused)
{
    (void)unused;
    /* Experiment 1 lacks data in all its runs, experiment 2 fails after a held-back success, experiment 3 is
     * fine; has_experiment_settings shows each experiment is still set up. */
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(2, 2)}, .failing_count = 1};
    scripted_set_entries(&a, 1, 1, 10);
    scripted_set_entries(&a, 1, 2, 10);
    caf_exprun runs[] = {ER(1, 1), ER(1, 2), ER(2, 1), ER(2, 2), ER(3, 1), ER(3, 2)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.has_experiment_settings = true;
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs, N_OF(runs), NULL, 0, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1:1,1,1,1=not_enough_data 1.1,1.2:1,1,1,-1=not_enough_data "
                               "2.1:2,0,2,1=ok 2.2:2,2,2,-1=failure 3.1:3,0,3,1=ok 3.2:3,2,3,2=ok ");
    check_committed(&s, &a, "3,0,3,1 3,2,3,2 ");
    assert_int_equal(a.settings_calls, 3);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SequentialRunByRun: not enough data in all the input on 2 runs 1.1..1.2 "
                                  "(experiment 1); the algorithm failed on run 2.2 (experiment 2)");
    check_gaps(&s, "1,1,1,-1 2,0,2,-1 ");
    caf_strategy_state_clear(&s);

    /* A failed merge of trailing runs also ends only its experiment. */
    scripted_algorithm b = {.needed = 100, .default_entries = 100, .failing = {ER(1, 2)}, .failing_count = 1};
    scripted_set_entries(&b, 1, 2, 10);
    caf_exprun runs_b[] = {ER(1, 1), ER(1, 2), ER(2, 1)};
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_b, N_OF(runs_b), NULL, 0, &b, &s), CAF_OK);
    check_committed(&s, &b, "2,0,2,1 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    caf_strategy_state_clear(&s);
}

static void not_enough_data_anywhere_fails(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 1000, .default_entries = 40};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &a, &s), CAF_OK);
    assert_int_equal(a.executions, 5);
    assert_int_equal(a.commits, 0);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SequentialRunByRun: not enough data in all the input on 5 runs 1.1..1.5 "
                                  "(experiment 1)");
    check_gaps(&s, "1,1,1,5 ");
    caf_strategy_state_clear(&s);
}

static void iterate_results_make_the_outcome_iterate(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .iterate = true};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 2, NULL, 0, &a, &s), CAF_OK);
    check_committed(&s, &a, "1,1,1,1 1,2,1,2 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_ITERATE);
    caf_strategy_state_clear(&s);
}

/* ---- SequentialBoundaries ---- */

static caf_exprun boundary_runs[] = {ER(1, 1), ER(1, 2), ER(1, 3), ER(1, 6), ER(1, 7), ER(1, 11), ER(2, 1), ER(2, 4)};

static void given_boundaries_with_empty_segment_and_trailing_merge(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 60};
    scripted_set_entries(&a, 2, 1, 100);
    scripted_set_entries(&a, 2, 4, 100);
    caf_exprun boundaries[] = {ER(1, 8), ER(1, 5), ER(1, 10), ER(2, 3)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    assert_int_equal(caf_strategy_params_set_boundaries(&p, boundaries, N_OF(boundaries), NULL), CAF_OK);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, boundary_runs, N_OF(boundary_runs), NULL, 0, &a, &s), CAF_OK);
    /* Exp 1 segments [0,4] {1,2,3}, [5,7] {6,7}, [8,9] empty (dropped), [10,-1] {11}; the last one lacks
     * data and merges into the held-back [5,..]; exp 2 segments [0,2] {1} and [3,-1] {4}. */
    assert_string_equal(a.log, "1.1,1.2,1.3:1,1,1,4=ok 1.6,1.7:1,5,1,9=ok 1.11:1,10,1,-1=not_enough_data "
                               "1.6,1.7,1.11:1,5,1,-1=ok 2.1:2,0,2,2=ok 2.4:2,3,2,4=ok ");
    check_committed(&s, &a, "1,1,1,4 1,5,1,-1 2,0,2,2 2,3,2,4 ");
    assert_int_equal(a.find_calls, 0);
    check_gaps(&s, "");
    caf_strategy_state_clear(&s);
    caf_strategy_params_clear(&p);
}

static void empty_segment_widens_its_neighbour(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_exprun boundaries[] = {ER(1, 5), ER(1, 8), ER(1, 10)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    assert_int_equal(caf_strategy_params_set_boundaries(&p, boundaries, N_OF(boundaries), NULL), CAF_OK);
    p.has_iov_coverage = true;
    p.iov_coverage = IOV(1, 0, 1, -1);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, boundary_runs, 6, NULL, 0, &a, &s), CAF_OK);
    /* [5,7] is stretched over the empty [8,9]; coverage sets both ends. */
    check_committed(&s, &a, "1,0,1,4 1,5,1,9 1,10,1,-1 ");
    caf_strategy_state_clear(&s);
    caf_strategy_params_clear(&p);
}

static void found_boundaries_are_used_and_recorded(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .found = {ER(1, 6)}, .found_count = 1};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, boundary_runs, 6, NULL, 0, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1,1.2,1.3:1,1,1,5=ok 1.6,1.7,1.11:1,6,1,11=ok ");
    check_committed(&s, &a, "1,1,1,5 1,6,1,11 ");
    assert_int_equal(a.find_calls, 1);
    assert_int_equal(s.found_count, 1);
    assert_int_equal(s.found[0].exp, 1);
    caf_strategy_state_clear(&s);
}

static void boundaries_stop_at_the_first_failed_experiment(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 2)}, .failing_count = 1};
    caf_exprun runs[] = {ER(1, 1), ER(1, 2), ER(2, 1), ER(3, 1)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    assert_int_equal(caf_strategy_params_set_boundaries(&p, NULL, 0, NULL), CAF_OK);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs, N_OF(runs), NULL, 0, &a, &s), CAF_OK);
    /* The reference ends the whole strategy here: experiments 2 and 3 are not executed. */
    assert_string_equal(a.log, "1.1,1.2:1,1,1,-1=failure ");
    assert_int_equal(a.commits, 0);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SequentialBoundaries: the algorithm failed on 2 runs 1.1..1.2 (experiment 1)");
    check_gaps(&s, "1,1,1,-1 2,0,2,-1 3,0,3,1 ");
    caf_strategy_state_clear(&s);
    caf_strategy_params_clear(&p);
}

static void no_boundaries_found_is_a_failure(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_BOUNDARIES);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, boundary_runs, 6, NULL, 0, &a, &s), CAF_OK);
    assert_int_equal(a.executions, 0);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SequentialBoundaries: the algorithm found no payload boundaries in experiment 1");
    caf_strategy_state_clear(&s);
}

/* ---- SimpleRunByRun and SingleIOV ---- */

static void simple_run_by_run_records_failures_and_goes_on(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 3)}, .failing_count = 1};
    scripted_set_entries(&a, 1, 2, 10);
    caf_exprun ignored[] = {ER(1, 5)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SIMPLE_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, ignored, 1, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.1:1,1,1,1=ok 1.2:1,2,1,2=not_enough_data 1.3:1,3,1,3=failure 1.4:1,4,1,4=ok ");
    check_committed(&s, &a, "1,1,1,1 1,4,1,4 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SimpleRunByRun: 2 of 4 runs unsuccessful: 1.2 1.3");
    check_gaps(&s, "1,2,1,3 ");
    caf_strategy_state_clear(&s);

    /* All successful and asking to iterate: the calibration may iterate. */
    scripted_algorithm b = {.needed = 100, .default_entries = 100, .iterate = true};
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 3, NULL, 0, &b, &s), CAF_OK);
    check_committed(&s, &b, "1,1,1,1 1,2,1,2 1,3,1,3 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_ITERATE);
    caf_strategy_state_clear(&s);
}

static void single_iov_span_apply_iov_and_failure(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 40};
    caf_exprun ignored[] = {ER(1, 1), ER(1, 5)};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SINGLE_IOV);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, ignored, 2, &a, &s), CAF_OK);
    assert_string_equal(a.log, "1.2,1.3,1.4:1,2,1,4=ok ");
    check_committed(&s, &a, "1,2,1,4 ");
    assert_int_equal(s.outcome, CAF_OUTCOME_COMPLETED);
    caf_strategy_state_clear(&s);

    scripted_algorithm b = {.needed = 100, .default_entries = 40};
    p.has_apply_iov = true;
    p.apply_iov = IOV(0, 0, -1, -1);
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &b, &s), CAF_OK);
    check_committed(&s, &b, "0,0,-1,-1 ");
    caf_strategy_state_clear(&s);

    scripted_algorithm c = {.needed = 1000, .default_entries = 40};
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &c, &s), CAF_OK);
    check_committed(&s, &c, "");
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "SingleIOV: the algorithm returned not_enough_data on 5 runs 1.1..1.5");
    check_gaps(&s, "0,0,-1,-1 ");
    caf_strategy_state_clear(&s);
}

static void no_runs_left_is_a_failure(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 1, .default_entries = 1};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SINGLE_IOV);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 2, runs_1_to_5, 5, &a, &s), CAF_OK);
    assert_int_equal(a.executions, 0);
    assert_int_equal(s.outcome, CAF_OUTCOME_FAILED);
    assert_string_equal(s.reason, "no runs to calibrate (2 recorded, 5 ignored)");
    caf_strategy_state_clear(&s);
}

static void experiment_settings_need_the_hook(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100};
    caf_strategy_callbacks cb = scripted_callbacks(&a);
    cb.apply_experiment_settings = NULL;
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.has_experiment_settings = true;
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    caf_error err = {0};
    assert_int_equal(caf_strategy_run(&p, 0, runs_1_to_5, 5, NULL, 0, &cb, &s, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message,
                        "has_experiment_settings is set but the algorithm has no experiment settings hook");
    assert_int_equal(a.executions, 0);
    assert_int_equal(s.outcome, CAF_OUTCOME_NONE);
    caf_strategy_state_clear(&s);
}

/* ---- configuration checks and the gaps file ---- */

static void run_based_strategies_refuse_granularity_all(void **unused)
{
    (void)unused;
    caf_error err = {0};
    assert_int_equal(caf_strategy_check_granularity(CAF_STRATEGY_SINGLE_IOV, "all", &err), CAF_OK);
    assert_int_equal(caf_strategy_check_granularity(CAF_STRATEGY_SINGLE_IOV, "run", &err), CAF_OK);
    caf_strategy_kind run_based[] = {CAF_STRATEGY_SIMPLE_RUN_BY_RUN, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN,
                                     CAF_STRATEGY_SEQUENTIAL_BOUNDARIES};
    for (size_t i = 0; i < N_OF(run_based); i++) {
        assert_int_equal(caf_strategy_check_granularity(run_based[i], "run", &err), CAF_OK);
        assert_int_equal(caf_strategy_check_granularity(run_based[i], "all", &err), CAF_ERR_INVALID);
        char expected[200];
        snprintf(expected, sizeof expected, "strategy %s needs collector granularity \"run\" and refuses \"all\"",
                 caf_strategy_kind_name(run_based[i]));
        assert_string_equal(err.message, expected);
    }
    assert_int_equal(caf_strategy_check_granularity(CAF_STRATEGY_SINGLE_IOV, "file", &err), CAF_ERR_INVALID);

    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN);
    p.step_size = 0;
    assert_int_equal(caf_strategy_params_validate(&p, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "SequentialRunByRun: step_size must be at least 1, not 0");
    assert_true(caf_strategy_param_applies(CAF_STRATEGY_SEQUENTIAL_RUN_BY_RUN, "step_size"));
    assert_false(caf_strategy_param_applies(CAF_STRATEGY_SINGLE_IOV, "step_size"));
    assert_true(caf_strategy_param_applies(CAF_STRATEGY_SEQUENTIAL_BOUNDARIES, "payload_boundaries"));
    assert_false(caf_strategy_param_applies(CAF_STRATEGY_SIMPLE_RUN_BY_RUN, "iov_coverage"));
}

static void gaps_file_is_written(void **unused)
{
    (void)unused;
    scripted_algorithm a = {.needed = 100, .default_entries = 100, .failing = {ER(1, 3)}, .failing_count = 1};
    caf_strategy_params p;
    caf_strategy_params_init(&p, CAF_STRATEGY_SIMPLE_RUN_BY_RUN);
    caf_strategy_state s;
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &a, &s), CAF_OK);
    char *dir = test_make_temp_dir("gaps");
    assert_int_equal(caf_strategy_write_iov_gaps(&s, dir, "GainAlgorithm", NULL), CAF_OK);
    char *text = test_read_file(dir, "GainAlgorithm_iov_gaps.json");
    assert_non_null(text);
    assert_string_equal(text, "[\n  [\n    1,\n    3,\n    1,\n    3\n  ]\n]\n");
    free(text);
    caf_strategy_state_clear(&s);

    scripted_algorithm b = {.needed = 100, .default_entries = 100};
    caf_strategy_state_init(&s);
    assert_int_equal(run(&p, runs_1_to_5, 5, NULL, 0, &b, &s), CAF_OK);
    assert_int_equal(caf_strategy_write_iov_gaps(&s, dir, "GainAlgorithm", NULL), CAF_OK);
    text = test_read_file(dir, "GainAlgorithm_iov_gaps.json");
    assert_string_equal(text, "[]\n");
    free(text);
    caf_strategy_state_clear(&s);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worked_example_of_the_spec),
        cmocka_unit_test(low_statistics_runs_merge_forward),
        cmocka_unit_test(trailing_runs_merge_into_the_held_back_payload),
        cmocka_unit_test(step_size_takes_runs_in_steps),
        cmocka_unit_test(experiments_tile_without_coverage),
        cmocka_unit_test(experiments_tile_with_coverage),
        cmocka_unit_test(ignored_runs_are_removed_first),
        cmocka_unit_test(failure_mid_experiment_ends_only_that_experiment),
        cmocka_unit_test(every_bad_experiment_is_named_and_good_ones_commit),
        cmocka_unit_test(not_enough_data_anywhere_fails),
        cmocka_unit_test(iterate_results_make_the_outcome_iterate),
        cmocka_unit_test(given_boundaries_with_empty_segment_and_trailing_merge),
        cmocka_unit_test(empty_segment_widens_its_neighbour),
        cmocka_unit_test(found_boundaries_are_used_and_recorded),
        cmocka_unit_test(boundaries_stop_at_the_first_failed_experiment),
        cmocka_unit_test(no_boundaries_found_is_a_failure),
        cmocka_unit_test(simple_run_by_run_records_failures_and_goes_on),
        cmocka_unit_test(single_iov_span_apply_iov_and_failure),
        cmocka_unit_test(no_runs_left_is_a_failure),
        cmocka_unit_test(experiment_settings_need_the_hook),
        cmocka_unit_test(run_based_strategies_refuse_granularity_all),
        cmocka_unit_test(gaps_file_is_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
