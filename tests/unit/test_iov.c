/* Runs and intervals of validity (core layer). Every expected value below is worked out by hand from the
 * semantics in include/caf/iov.h: ends inclusive, run -1 = whole experiment, experiment -1 = open, and the
 * line of (exp, run) points on which (e, INT_MAX) is followed by (e + 1, 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/iov.h"

#define IOV(a, b, c, d) ((caf_iov){(a), (b), (c), (d)})
#define ER(e, r) ((caf_exprun){(e), (r)})
#define N_OF(array) (sizeof(array) / sizeof((array)[0]))

/* Compares through the text form so a failure prints both IoVs. */
static void check_iov(caf_iov got, const char *expected)
{
    char text[CAF_IOV_TEXT_MAX];
    assert_string_equal(caf_iov_format(got, text, sizeof text), expected);
}

/* Checks a malloc'd list of IoVs against the expected text forms, then frees it. */
static void check_iov_list(caf_iov *got, size_t got_count, const char *const *expected, size_t expected_count)
{
    char joined_got[1024] = "", joined_expected[1024] = "";
    char text[CAF_IOV_TEXT_MAX];
    for (size_t i = 0; i < got_count; i++) {
        strcat(joined_got, caf_iov_format(got[i], text, sizeof text));
        strcat(joined_got, " ");
    }
    for (size_t i = 0; i < expected_count; i++) {
        strcat(joined_expected, expected[i]);
        strcat(joined_expected, " ");
    }
    assert_string_equal(joined_got, joined_expected);
    assert_int_equal(got_count, expected_count);
    if (got_count == 0)
        assert_null(got);
    free(got);
}

static void check_union(const caf_iov *in, size_t count, const char *const *expected, size_t expected_count)
{
    caf_iov *out = (caf_iov *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_iov_union(in, count, &out, &n, &err), CAF_OK);
    check_iov_list(out, n, expected, expected_count);
}

static void check_gaps(const caf_iov *covered, size_t count, caf_iov span, const char *const *expected,
                       size_t expected_count)
{
    caf_iov *out = (caf_iov *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_iov_gaps(covered, count, span, &out, &n, &err), CAF_OK);
    check_iov_list(out, n, expected, expected_count);
}

static void assert_contains_text(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- ExpRun ---- */

static void exprun_compare_orders_by_experiment_then_run(void **state)
{
    (void)state;
    assert_true(caf_exprun_compare(ER(0, 5), ER(1, 0)) < 0);
    assert_true(caf_exprun_compare(ER(1, 0), ER(0, 5)) > 0);
    assert_true(caf_exprun_compare(ER(1, 2), ER(1, 3)) < 0);
    assert_true(caf_exprun_compare(ER(1, 3), ER(1, 2)) > 0);
    assert_int_equal(caf_exprun_compare(ER(7, 7), ER(7, 7)), 0);
    assert_true(caf_exprun_compare(ER(2, 0), ER(1, 100000)) > 0);
    assert_true(caf_exprun_compare(ER(-1, -1), ER(0, 0)) < 0);
    assert_true(caf_exprun_compare(ER(INT_MAX, INT_MAX), ER(INT_MAX, INT_MAX - 1)) > 0);
    caf_exprun a = ER(3, 1), b = ER(2, 9);
    assert_true(caf_exprun_qsort_compare(&a, &b) > 0);
    assert_true(caf_exprun_qsort_compare(&b, &a) < 0);
    assert_int_equal(caf_exprun_qsort_compare(&a, &a), 0);
}

static void exprun_sort_unique_sorts_and_drops_duplicates(void **state)
{
    (void)state;
    caf_exprun runs[] = {ER(1, 3), ER(0, 7), ER(1, 3), ER(0, 2), ER(1, 0), ER(0, 7), ER(1, 3)};
    size_t n = caf_exprun_sort_unique(runs, N_OF(runs));
    assert_int_equal(n, 4);
    const caf_exprun expected[] = {ER(0, 2), ER(0, 7), ER(1, 0), ER(1, 3)};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(runs[i].exp, expected[i].exp);
        assert_int_equal(runs[i].run, expected[i].run);
    }
    caf_exprun one[] = {ER(5, 5)};
    assert_int_equal(caf_exprun_sort_unique(one, 1), 1);
    assert_int_equal(one[0].exp, 5);
    assert_int_equal(caf_exprun_sort_unique(NULL, 0), 0);
    caf_exprun same[] = {ER(2, 2), ER(2, 2), ER(2, 2)};
    assert_int_equal(caf_exprun_sort_unique(same, 3), 1);
}

static void exprun_parse_accepts_dot_and_colon(void **state)
{
    (void)state;
    caf_error err = {0};
    caf_exprun r = {0, 0};
    assert_int_equal(caf_exprun_parse("1.2", &r, &err), CAF_OK);
    assert_int_equal(r.exp, 1);
    assert_int_equal(r.run, 2);
    assert_int_equal(caf_exprun_parse("3:15", &r, &err), CAF_OK);
    assert_int_equal(r.exp, 3);
    assert_int_equal(r.run, 15);
    assert_int_equal(caf_exprun_parse(" 4 . 5 ", &r, &err), CAF_OK);
    assert_int_equal(r.exp, 4);
    assert_int_equal(r.run, 5);
    assert_int_equal(caf_exprun_parse("-1.-1", &r, &err), CAF_OK);
    assert_int_equal(r.exp, -1);
    assert_int_equal(r.run, -1);
    assert_int_equal(caf_exprun_parse("2147483647:2147483647", &r, &err), CAF_OK);
    assert_int_equal(r.exp, INT_MAX);
    assert_int_equal(r.run, INT_MAX);
    assert_int_equal(caf_exprun_parse("0.0", &r, &err), CAF_OK);
    assert_int_equal(r.exp, 0);
    assert_int_equal(r.run, 0);
}

static void exprun_parse_rejects_junk_with_the_text(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"", "expected"},
        {"12", "expected"},
        {"1.2.3", "more than one separator"},
        {"1:2.3", "more than one separator"},
        {"a.1", "experiment is not an integer"},
        {"1.b", "run is not an integer"},
        {"1.", "run is empty"},
        {".1", "experiment is empty"},
        {"1.99999999999", "run is out of range"},
        {"2147483648.0", "experiment is out of range"},
        {"-2.0", "experiment is below -1"},
        {"1.+2", "run is not an integer"},
        {"1.2x", "run is not an integer"},
        {"1 2.3", "experiment is not an integer"},
        {"-.3", "experiment is not an integer"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        caf_error err = {0};
        caf_exprun r = {42, 43};
        assert_int_equal(caf_exprun_parse(cases[i].text, &r, &err), CAF_ERR_INVALID);
        assert_int_equal(err.code, CAF_ERR_INVALID);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", cases[i].text);
        assert_contains_text(err.message, quoted);
        assert_contains_text(err.message, cases[i].reason);
        assert_null(strchr(err.message, '\n'));
        assert_int_equal(r.exp, 42); /* untouched on failure */
        assert_int_equal(r.run, 43);
    }
    caf_exprun r;
    assert_int_equal(caf_exprun_parse("x", &r, NULL), CAF_ERR_INVALID);
    caf_error err = {0};
    assert_int_equal(caf_exprun_parse(NULL, &r, &err), CAF_ERR_INVALID);
    assert_contains_text(err.message, "no text");
}

static void exprun_format_uses_the_belle2_dot_encoding(void **state)
{
    (void)state;
    char buf[CAF_EXPRUN_TEXT_MAX];
    assert_string_equal(caf_exprun_format(ER(1, 2), buf, sizeof buf), "1.2");
    assert_string_equal(caf_exprun_format(ER(0, 15), buf, sizeof buf), "0.15");
    assert_string_equal(caf_exprun_format(ER(-1, -1), buf, sizeof buf), "-1.-1");
    assert_string_equal(caf_exprun_format(ER(INT_MAX, INT_MAX), buf, sizeof buf), "2147483647.2147483647");
    assert_string_equal(caf_exprun_format(ER(INT_MIN, INT_MIN), buf, sizeof buf), "-2147483648.-2147483648");
    const caf_exprun samples[] = {ER(0, 0), ER(12, 1032), ER(-1, -1), ER(INT_MAX, 0)};
    for (size_t i = 0; i < N_OF(samples); i++) {
        caf_exprun back;
        assert_int_equal(caf_exprun_parse(caf_exprun_format(samples[i], buf, sizeof buf), &back, NULL), CAF_OK);
        assert_int_equal(caf_exprun_compare(back, samples[i]), 0);
    }
}

/* ---- IoV basics ---- */

static void empty_and_always_are_distinct(void **state)
{
    (void)state;
    assert_true(caf_iov_is_empty(CAF_IOV_EMPTY));
    assert_false(caf_iov_is_always(CAF_IOV_EMPTY));
    assert_true(caf_iov_is_always(CAF_IOV_ALWAYS));
    assert_false(caf_iov_is_empty(CAF_IOV_ALWAYS));
    check_iov(CAF_IOV_EMPTY, "-1,-1,-1,-1");
    check_iov(CAF_IOV_ALWAYS, "0,0,-1,-1");

    assert_false(caf_iov_is_empty(IOV(1, 2, 1, 3)));
    assert_false(caf_iov_is_empty(IOV(-1, -1, 5, 3)));
    assert_false(caf_iov_is_empty(IOV(5, 3, -1, -1)));

    /* run -1 at the low end is run 0: still every run of every experiment */
    assert_true(caf_iov_is_always(IOV(0, -1, -1, -1)));
    /* the last point of the line is (INT_MAX, INT_MAX): nothing is missing */
    assert_true(caf_iov_is_always(IOV(-1, -1, INT_MAX, -1)));
    assert_true(caf_iov_is_always(IOV(0, 0, INT_MAX, INT_MAX)));
    assert_false(caf_iov_is_always(IOV(0, 1, -1, -1)));
    assert_false(caf_iov_is_always(IOV(1, 0, -1, -1)));
    assert_false(caf_iov_is_always(IOV(0, 0, 5, -1)));
    assert_false(caf_iov_is_always(IOV(-1, -1, 5, -1)));
    assert_false(caf_iov_is_always(IOV(0, 0, INT_MAX, INT_MAX - 1)));
}

static void equal_compares_the_four_numbers(void **state)
{
    (void)state;
    assert_true(caf_iov_equal(IOV(1, 2, 3, 4), IOV(1, 2, 3, 4)));
    assert_true(caf_iov_equal(CAF_IOV_EMPTY, IOV(-1, -1, -1, -1)));
    assert_false(caf_iov_equal(IOV(1, 2, 3, 4), IOV(1, 2, 3, 5)));
    assert_false(caf_iov_equal(IOV(1, 2, 3, 4), IOV(0, 2, 3, 4)));
    assert_false(caf_iov_equal(IOV(1, 2, 3, 4), IOV(1, 3, 3, 4)));
    assert_false(caf_iov_equal(IOV(1, 2, 3, 4), IOV(1, 2, 2, 4)));
    /* the same runs written differently are not the same numbers */
    assert_false(caf_iov_equal(IOV(3, -1, 3, -1), IOV(3, 0, 3, -1)));
    assert_false(caf_iov_equal(CAF_IOV_EMPTY, CAF_IOV_ALWAYS));
}

static void validate_accepts_every_legal_form(void **state)
{
    (void)state;
    const caf_iov valid[] = {
        CAF_IOV_EMPTY,        CAF_IOV_ALWAYS,         IOV(1, 2, 1, 3),        IOV(3, -1, 3, -1),
        IOV(-1, -1, 5, 3),    IOV(5, 3, -1, -1),      IOV(2, 7, 2, 7),        IOV(0, 0, 0, 0),
        IOV(1, -1, 4, 2),     IOV(1, 9, 2, 0),        IOV(4, 100, 4, -1),     IOV(-1, -1, 0, -1),
        IOV(INT_MAX, INT_MAX, INT_MAX, INT_MAX),      IOV(INT_MAX, -1, -1, -1),
    };
    for (size_t i = 0; i < N_OF(valid); i++) {
        caf_error err = {0};
        if (caf_iov_validate(valid[i], &err) != CAF_OK)
            fail_msg("valid IoV %zu rejected: %s", i, err.message);
    }
}

static void validate_rejects_and_explains(void **state)
{
    (void)state;
    const struct {
        caf_iov iov;
        const char *quoted;
        const char *reason;
    } cases[] = {
        {IOV(-2, 0, 1, 1), "-2,0,1,1", "exp_low -2 is below -1"},
        {IOV(0, -5, 1, 1), "0,-5,1,1", "run_low -5 is below -1"},
        {IOV(0, 0, -3, -1), "0,0,-3,-1", "exp_high -3 is below -1"},
        {IOV(0, 0, 1, -7), "0,0,1,-7", "run_high -7 is below -1"},
        {IOV(INT_MIN, -1, -1, -1), "-2147483648,-1,-1,-1", "exp_low -2147483648 is below -1"},
        {IOV(-1, 3, 5, 5), "-1,3,5,5", "run_low 3"},
        {IOV(-1, 0, 5, 5), "-1,0,5,5", "run_low 0"},
        {IOV(5, 5, -1, 0), "5,5,-1,0", "run_high 0"},
        {IOV(-1, -1, -1, 4), "-1,-1,-1,4", "run_high 4"},
        {IOV(-1, 2, -1, -1), "-1,2,-1,-1", "run_low 2"},
        {IOV(3, 5, 3, 4), "3,5,3,4", "low end 3,5 is after the high end 3,4"},
        {IOV(4, 0, 3, -1), "4,0,3,-1", "low end 4,0 is after the high end 3,-1"},
        {IOV(4, -1, 3, -1), "4,-1,3,-1", "low end 4,-1 is after the high end 3,-1"},
        {IOV(2, 1, 2, 0), "2,1,2,0", "after the high end"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        caf_error err = {0};
        assert_int_equal(caf_iov_validate(cases[i].iov, &err), CAF_ERR_INVALID);
        assert_int_equal(err.code, CAF_ERR_INVALID);
        assert_contains_text(err.message, cases[i].quoted);
        assert_contains_text(err.message, cases[i].reason);
        assert_null(strchr(err.message, '\n'));
        assert_int_equal(caf_iov_validate(cases[i].iov, NULL), CAF_ERR_INVALID);
    }
    /* a run bound with an open experiment is named as such */
    caf_error err = {0};
    caf_iov_validate(IOV(-1, 3, 5, 5), &err);
    assert_contains_text(err.message, "exp_low is -1");
    caf_iov_validate(IOV(5, 5, -1, 0), &err);
    assert_contains_text(err.message, "exp_high is -1");
}

static void parse_reads_four_numbers_and_validates(void **state)
{
    (void)state;
    const struct {
        const char *text;
        caf_iov expected;
    } cases[] = {
        {"1,2,3,4", IOV(1, 2, 3, 4)},
        {" 1 , 2 ,3,\t4 ", IOV(1, 2, 3, 4)},
        {"0,0,-1,-1", CAF_IOV_ALWAYS},
        {"-1,-1,-1,-1", CAF_IOV_EMPTY},
        {"2147483647,0,2147483647,-1", IOV(INT_MAX, 0, INT_MAX, -1)},
        {"-1,-1,5,3", IOV(-1, -1, 5, 3)},
        {"7,-1,7,-1", IOV(7, -1, 7, -1)},
        {"007,08,9,10", IOV(7, 8, 9, 10)},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        caf_error err = {0};
        caf_iov got = IOV(9, 9, 9, 9);
        if (caf_iov_parse(cases[i].text, &got, &err) != CAF_OK)
            fail_msg("\"%s\" rejected: %s", cases[i].text, err.message);
        assert_true(caf_iov_equal(got, cases[i].expected));
    }
}

static void parse_rejects_junk_and_names_the_text(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"", "empty"},
        {"1,2,3", "found 3"},
        {"1,2,3,4,5", "found 5"},
        {"1;2;3;4", "found 1"},
        {"1,2,3,", "run_high (field 4) is empty"},
        {"1,,3,4", "run_low (field 2) is empty"},
        {",2,3,4", "exp_low (field 1) is empty"},
        {"1,2,x,4", "exp_high (field 3) is not an integer"},
        {"1,2,3,4x", "run_high (field 4) is not an integer"},
        {"1.5,2,3,4", "exp_low (field 1) is not an integer"},
        {"0x1,2,3,4", "exp_low (field 1) is not an integer"},
        {"+1,2,3,4", "exp_low (field 1) is not an integer"},
        {"1 2,3,4,5", "exp_low (field 1) is not an integer"},
        {"1,2,3,-", "run_high (field 4) is not an integer"},
        {"1,2,3,2147483648", "run_high (field 4) is out of range"},
        {"1,2,3,-2147483649", "run_high (field 4) is out of range"},
        {"1,99999999999999999999999,3,4", "run_low (field 2) is out of range"},
        {"1,2,3,-2", "run_high (field 4) is below -1"},
        {"3,5,3,4", "the low end 3,5 is after the high end 3,4"},
        {"-1,3,-1,-1", "run_low 3 needs an experiment"},
        {"1,2,-1,5", "run_high 5 needs an experiment"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        caf_error err = {0};
        caf_iov got = IOV(9, 9, 9, 9);
        assert_int_equal(caf_iov_parse(cases[i].text, &got, &err), CAF_ERR_INVALID);
        assert_int_equal(err.code, CAF_ERR_INVALID);
        char quoted[80];
        snprintf(quoted, sizeof quoted, "\"%s\"", cases[i].text);
        assert_contains_text(err.message, quoted);
        assert_contains_text(err.message, cases[i].reason);
        assert_null(strchr(err.message, '\n'));
        assert_true(caf_iov_equal(got, IOV(9, 9, 9, 9))); /* untouched on failure */
    }
    caf_iov got;
    assert_int_equal(caf_iov_parse("junk", &got, NULL), CAF_ERR_INVALID);
    caf_error err = {0};
    assert_int_equal(caf_iov_parse(NULL, &got, &err), CAF_ERR_INVALID);
    assert_contains_text(err.message, "no text");
}

static void format_and_parse_round_trip(void **state)
{
    (void)state;
    char buf[CAF_IOV_TEXT_MAX];
    assert_string_equal(caf_iov_format(IOV(1, 2, 3, 4), buf, sizeof buf), "1,2,3,4");
    assert_string_equal(caf_iov_format(IOV(INT_MIN, INT_MIN, INT_MIN, INT_MIN), buf, sizeof buf),
                        "-2147483648,-2147483648,-2147483648,-2147483648");
    const caf_iov samples[] = {CAF_IOV_EMPTY,       CAF_IOV_ALWAYS,    IOV(1, 2, 1, 3),
                               IOV(3, -1, 3, -1),   IOV(-1, -1, 5, 3), IOV(5, 3, -1, -1),
                               IOV(INT_MAX, INT_MAX, INT_MAX, INT_MAX)};
    for (size_t i = 0; i < N_OF(samples); i++) {
        caf_iov back = IOV(9, 9, 9, 9);
        assert_int_equal(caf_iov_parse(caf_iov_format(samples[i], buf, sizeof buf), &back, NULL), CAF_OK);
        assert_true(caf_iov_equal(back, samples[i]));
    }
    const char *texts[] = {"0,0,-1,-1", "-1,-1,-1,-1", "12,1000,12,1032", "4,-1,6,-1"};
    for (size_t i = 0; i < N_OF(texts); i++) {
        caf_iov iov;
        assert_int_equal(caf_iov_parse(texts[i], &iov, NULL), CAF_OK);
        assert_string_equal(caf_iov_format(iov, buf, sizeof buf), texts[i]);
    }
    /* a short buffer is truncated, never overrun */
    char small[6];
    assert_string_equal(caf_iov_format(IOV(10, 20, 30, 40), small, sizeof small), "10,20");
}

static void iov_of_run_is_that_run_alone(void **state)
{
    (void)state;
    check_iov(caf_iov_of_run(ER(4, 7)), "4,7,4,7");
    assert_true(caf_iov_contains_exprun(caf_iov_of_run(ER(4, 7)), ER(4, 7)));
    assert_false(caf_iov_contains_exprun(caf_iov_of_run(ER(4, 7)), ER(4, 8)));
    assert_false(caf_iov_contains_exprun(caf_iov_of_run(ER(4, 7)), ER(4, 6)));
    assert_true(caf_iov_is_empty(caf_iov_of_run(ER(-1, -1))));
}

/* ---- Set operations ---- */

static void contains_exprun_respects_closed_and_open_ends(void **state)
{
    (void)state;
    caf_iov plain = IOV(1, 2, 1, 3);
    assert_true(caf_iov_contains_exprun(plain, ER(1, 2)));
    assert_true(caf_iov_contains_exprun(plain, ER(1, 3)));
    assert_false(caf_iov_contains_exprun(plain, ER(1, 1)));
    assert_false(caf_iov_contains_exprun(plain, ER(1, 4)));
    assert_false(caf_iov_contains_exprun(plain, ER(0, 2)));
    assert_false(caf_iov_contains_exprun(plain, ER(2, 2)));

    caf_iov whole_exp = IOV(1, -1, 1, -1);
    assert_true(caf_iov_contains_exprun(whole_exp, ER(1, 0)));
    assert_true(caf_iov_contains_exprun(whole_exp, ER(1, INT_MAX)));
    assert_false(caf_iov_contains_exprun(whole_exp, ER(0, INT_MAX)));
    assert_false(caf_iov_contains_exprun(whole_exp, ER(2, 0)));

    caf_iov across = IOV(1, 5, 3, -1);
    assert_true(caf_iov_contains_exprun(across, ER(1, 5)));
    assert_true(caf_iov_contains_exprun(across, ER(2, 0)));
    assert_true(caf_iov_contains_exprun(across, ER(2, 999999)));
    assert_true(caf_iov_contains_exprun(across, ER(3, 1000000)));
    assert_false(caf_iov_contains_exprun(across, ER(1, 4)));
    assert_false(caf_iov_contains_exprun(across, ER(4, 0)));

    caf_iov open_below = IOV(-1, -1, 2, 3);
    assert_true(caf_iov_contains_exprun(open_below, ER(0, 0)));
    assert_true(caf_iov_contains_exprun(open_below, ER(1, 77)));
    assert_true(caf_iov_contains_exprun(open_below, ER(2, 3)));
    assert_false(caf_iov_contains_exprun(open_below, ER(2, 4)));

    caf_iov open_above = IOV(2, 3, -1, -1);
    assert_true(caf_iov_contains_exprun(open_above, ER(2, 3)));
    assert_true(caf_iov_contains_exprun(open_above, ER(1000, 0)));
    assert_true(caf_iov_contains_exprun(open_above, ER(INT_MAX, INT_MAX)));
    assert_false(caf_iov_contains_exprun(open_above, ER(2, 2)));
    assert_false(caf_iov_contains_exprun(open_above, ER(1, 99)));

    assert_true(caf_iov_contains_exprun(CAF_IOV_ALWAYS, ER(0, 0)));
    assert_true(caf_iov_contains_exprun(CAF_IOV_ALWAYS, ER(123, 456)));
    assert_false(caf_iov_contains_exprun(CAF_IOV_EMPTY, ER(0, 0)));
    assert_false(caf_iov_contains_exprun(CAF_IOV_EMPTY, ER(-1, -1)));
    /* (-1,-1) is the "all runs" bucket and no negative number names a run */
    assert_false(caf_iov_contains_exprun(CAF_IOV_ALWAYS, ER(-1, -1)));
    assert_false(caf_iov_contains_exprun(IOV(2, -1, 2, -1), ER(2, -1)));
    assert_false(caf_iov_contains_exprun(IOV(1, -1, 2, -1), ER(2, -1)));
    assert_false(caf_iov_contains_exprun(IOV(1, 0, 1, 9), ER(1, -3)));
}

static void contains_iov_compares_the_runs_covered(void **state)
{
    (void)state;
    assert_true(caf_iov_contains_iov(CAF_IOV_ALWAYS, IOV(5, 5, 6, 6)));
    assert_true(caf_iov_contains_iov(CAF_IOV_ALWAYS, IOV(3, 0, -1, -1)));
    assert_true(caf_iov_contains_iov(CAF_IOV_ALWAYS, IOV(-1, -1, 4, 4)));
    assert_true(caf_iov_contains_iov(CAF_IOV_ALWAYS, CAF_IOV_ALWAYS));
    assert_true(caf_iov_contains_iov(IOV(1, 0, 1, -1), IOV(1, -1, 1, -1)));
    assert_true(caf_iov_contains_iov(IOV(1, -1, 1, -1), IOV(1, 0, 1, INT_MAX)));
    assert_true(caf_iov_contains_iov(IOV(1, 0, 1, 10), IOV(1, 3, 1, 10)));
    assert_false(caf_iov_contains_iov(IOV(1, 0, 1, 10), IOV(1, 0, 1, 11)));
    assert_false(caf_iov_contains_iov(IOV(1, 0, 1, 10), IOV(0, 5, 1, 5)));
    assert_false(caf_iov_contains_iov(IOV(1, 0, 1, 10), IOV(1, 0, 1, -1)));
    assert_false(caf_iov_contains_iov(IOV(0, 0, 5, -1), CAF_IOV_ALWAYS));
    assert_true(caf_iov_contains_iov(IOV(0, 0, 5, -1), IOV(5, 100, 5, -1)));
    assert_false(caf_iov_contains_iov(IOV(0, 0, 5, -1), IOV(5, 100, 6, 0)));
    assert_true(caf_iov_contains_iov(IOV(2, 0, -1, -1), IOV(7, 7, -1, -1)));
    assert_false(caf_iov_contains_iov(IOV(7, 7, -1, -1), IOV(2, 0, -1, -1)));
    /* open below starts at 0,0: both forms hold the same runs */
    assert_true(caf_iov_contains_iov(IOV(-1, -1, 3, -1), IOV(0, 0, 3, 5)));
    assert_true(caf_iov_contains_iov(IOV(0, 0, 3, -1), IOV(-1, -1, 3, -1)));
    /* the empty IoV is in everything, and holds nothing */
    assert_true(caf_iov_contains_iov(IOV(1, 1, 1, 1), CAF_IOV_EMPTY));
    assert_true(caf_iov_contains_iov(CAF_IOV_EMPTY, CAF_IOV_EMPTY));
    assert_false(caf_iov_contains_iov(CAF_IOV_EMPTY, IOV(1, 1, 1, 1)));
    assert_false(caf_iov_contains_iov(CAF_IOV_EMPTY, CAF_IOV_ALWAYS));
}

static void overlaps_needs_a_shared_run(void **state)
{
    (void)state;
    const struct {
        caf_iov a, b;
        bool expected;
    } cases[] = {
        {IOV(1, 0, 1, 10), IOV(1, 10, 1, 20), true},
        {IOV(1, 0, 1, 10), IOV(1, 11, 1, 20), false},
        {IOV(1, 0, 1, 10), IOV(1, 3, 1, 4), true},
        {IOV(0, 0, 0, -1), IOV(0, 5, 1, 0), true},
        {IOV(0, 0, 0, -1), IOV(1, 0, 1, 5), false},
        {IOV(0, 0, 0, -1), IOV(0, INT_MAX, 0, INT_MAX), true},
        {IOV(2, 0, -1, -1), IOV(100, 0, 100, 0), true},
        {IOV(2, 0, -1, -1), IOV(1, 0, 1, -1), false},
        {IOV(-1, -1, 1, 5), IOV(1, 5, -1, -1), true},
        {IOV(-1, -1, 1, 5), IOV(1, 6, -1, -1), false},
        {IOV(-1, -1, 1, 5), IOV(-1, -1, 0, 0), true},
        {CAF_IOV_ALWAYS, IOV(-1, -1, 0, 0), true},
        {CAF_IOV_ALWAYS, CAF_IOV_ALWAYS, true},
        {CAF_IOV_EMPTY, CAF_IOV_ALWAYS, false},
        {CAF_IOV_EMPTY, CAF_IOV_EMPTY, false},
        {CAF_IOV_EMPTY, IOV(0, 0, 0, 0), false},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        if (caf_iov_overlaps(cases[i].a, cases[i].b) != cases[i].expected ||
            caf_iov_overlaps(cases[i].b, cases[i].a) != cases[i].expected)
            fail_msg("overlaps case %zu: expected %d", i, cases[i].expected);
    }
}

static void adjacency_follows_the_line_across_experiments(void **state)
{
    (void)state;
    const struct {
        caf_iov a, b;
        bool expected;
    } cases[] = {
        /* the end of experiment 0 is followed by the start of experiment 1 */
        {IOV(0, 0, 0, -1), IOV(1, 0, 1, 5), true},
        {IOV(0, 0, 0, -1), IOV(1, -1, 1, 5), true},
        {IOV(0, 0, 0, INT_MAX), IOV(1, -1, 1, 3), true},
        {IOV(1, -1, 1, -1), IOV(2, -1, 2, -1), true},
        /* runs 0,11 .. 0,-1 lie between */
        {IOV(0, 0, 0, 10), IOV(1, 0, 1, 5), false},
        /* run 1,0 lies between */
        {IOV(0, 0, 0, -1), IOV(1, 1, 1, 5), false},
        /* experiment 1 lies between */
        {IOV(0, 0, 0, -1), IOV(2, 0, 2, 5), false},
        {IOV(0, 0, 0, 10), IOV(0, 11, 0, 20), true},
        {IOV(0, 0, 0, 10), IOV(0, 12, 0, 20), false},
        /* overlapping is not adjacent */
        {IOV(0, 0, 0, 10), IOV(0, 10, 0, 20), false},
        {IOV(0, 0, 0, 10), IOV(0, 0, 0, 10), false},
        /* open ends */
        {IOV(-1, -1, 3, -1), IOV(4, 0, -1, -1), true},
        {IOV(-1, -1, 3, 7), IOV(3, 8, -1, -1), true},
        {IOV(-1, -1, 3, 7), IOV(3, 9, -1, -1), false},
        {IOV(0, 0, 4, -1), IOV(5, 0, -1, -1), true},
        {CAF_IOV_ALWAYS, IOV(3, 0, 3, 0), false},
        {CAF_IOV_EMPTY, CAF_IOV_ALWAYS, false},
        {CAF_IOV_EMPTY, IOV(0, 0, 0, 0), false},
        {CAF_IOV_EMPTY, CAF_IOV_EMPTY, false},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        if (caf_iov_adjacent(cases[i].a, cases[i].b) != cases[i].expected ||
            caf_iov_adjacent(cases[i].b, cases[i].a) != cases[i].expected)
            fail_msg("adjacent case %zu: expected %d", i, cases[i].expected);
    }
}

static void intersection_keeps_the_tighter_end(void **state)
{
    (void)state;
    check_iov(caf_iov_intersection(IOV(1, 0, 1, 10), IOV(1, 5, 2, 3)), "1,5,1,10");
    check_iov(caf_iov_intersection(IOV(1, 5, 2, 3), IOV(1, 0, 1, 10)), "1,5,1,10");
    check_iov(caf_iov_intersection(IOV(0, 0, 0, 10), IOV(0, 10, 0, 20)), "0,10,0,10");
    check_iov(caf_iov_intersection(IOV(0, 0, 5, -1), IOV(5, 7, 9, 9)), "5,7,5,-1");
    /* intersecting with "always" returns the other IoV as written */
    check_iov(caf_iov_intersection(CAF_IOV_ALWAYS, IOV(3, -1, 5, -1)), "3,-1,5,-1");
    check_iov(caf_iov_intersection(IOV(3, -1, 5, -1), CAF_IOV_ALWAYS), "3,-1,5,-1");
    check_iov(caf_iov_intersection(CAF_IOV_ALWAYS, CAF_IOV_ALWAYS), "0,0,-1,-1");
    /* open ends */
    check_iov(caf_iov_intersection(IOV(2, 3, -1, -1), IOV(-1, -1, 4, 5)), "2,3,4,5");
    check_iov(caf_iov_intersection(IOV(-1, -1, 4, 5), IOV(2, 3, -1, -1)), "2,3,4,5");
    check_iov(caf_iov_intersection(IOV(2, 3, -1, -1), IOV(1, 0, -1, -1)), "2,3,-1,-1");
    check_iov(caf_iov_intersection(IOV(-1, -1, 4, 5), IOV(-1, -1, 6, -1)), "-1,-1,4,5");
    /* equal ends written differently: the first argument's form wins */
    check_iov(caf_iov_intersection(IOV(3, -1, 3, -1), IOV(3, 0, 3, 7)), "3,-1,3,7");
    check_iov(caf_iov_intersection(IOV(3, 0, 3, 7), IOV(3, -1, 3, -1)), "3,0,3,7");
    check_iov(caf_iov_intersection(IOV(-1, -1, 5, 5), CAF_IOV_ALWAYS), "-1,-1,5,5");
    check_iov(caf_iov_intersection(CAF_IOV_ALWAYS, IOV(-1, -1, 5, 5)), "0,0,5,5");
    /* both ends of the line: never mistaken for the empty IoV */
    caf_iov whole = caf_iov_intersection(IOV(-1, -1, INT_MAX, -1), CAF_IOV_ALWAYS);
    check_iov(whole, "-1,-1,2147483647,-1");
    assert_true(caf_iov_is_always(whole));
    whole = caf_iov_intersection(CAF_IOV_ALWAYS, IOV(-1, -1, INT_MAX, -1));
    check_iov(whole, "0,0,-1,-1");
    /* nothing shared */
    check_iov(caf_iov_intersection(IOV(0, 0, 0, -1), IOV(1, 0, 1, 5)), "-1,-1,-1,-1");
    check_iov(caf_iov_intersection(IOV(-1, -1, 1, 5), IOV(1, 6, -1, -1)), "-1,-1,-1,-1");
    check_iov(caf_iov_intersection(CAF_IOV_EMPTY, CAF_IOV_ALWAYS), "-1,-1,-1,-1");
    check_iov(caf_iov_intersection(CAF_IOV_ALWAYS, CAF_IOV_EMPTY), "-1,-1,-1,-1");
}

static void qsort_compare_orders_by_low_then_high_empty_first(void **state)
{
    (void)state;
    caf_iov list[] = {IOV(1, 0, 1, 5), CAF_IOV_EMPTY,  CAF_IOV_ALWAYS,   IOV(0, 0, 0, 5),
                      IOV(1, 0, 1, 2), IOV(-1, -1, 0, 3), IOV(0, 6, 0, 6), CAF_IOV_EMPTY};
    qsort(list, N_OF(list), sizeof list[0], caf_iov_qsort_compare);
    const char *expected[] = {"-1,-1,-1,-1", "-1,-1,-1,-1", "-1,-1,0,3", "0,0,0,5",
                              "0,0,-1,-1",   "0,6,0,6",     "1,0,1,2",   "1,0,1,5"};
    char text[CAF_IOV_TEXT_MAX];
    for (size_t i = 0; i < N_OF(list); i++)
        assert_string_equal(caf_iov_format(list[i], text, sizeof text), expected[i]);
    caf_iov a = IOV(2, 0, 2, 9), b = IOV(2, 0, 2, 9), c = IOV(2, 1, 2, 2);
    assert_int_equal(caf_iov_qsort_compare(&a, &b), 0);
    assert_true(caf_iov_qsort_compare(&a, &c) < 0);
    assert_true(caf_iov_qsort_compare(&c, &a) > 0);
    /* low run -1 is run 0: 3,-1,... sorts before 3,1,... */
    caf_iov d = IOV(3, -1, 3, 1), e = IOV(3, 1, 3, 1);
    assert_true(caf_iov_qsort_compare(&d, &e) < 0);
    /* the same runs written differently still get a definite order, and only equal IoVs compare 0 */
    caf_iov f = IOV(3, -1, 3, -1), g = IOV(3, 0, 3, -1);
    assert_true(caf_iov_qsort_compare(&f, &g) != 0);
    assert_true((caf_iov_qsort_compare(&f, &g) > 0) == (caf_iov_qsort_compare(&g, &f) < 0));
}

static void union_merges_overlapping_and_adjacent_chains(void **state)
{
    (void)state;
    /* a chain of neighbours, crossing into the next experiment at its run 0 */
    const caf_iov chain[] = {IOV(0, 0, 0, 10), IOV(0, 21, 0, -1), IOV(1, 0, 1, 3), IOV(0, 11, 0, 20)};
    const char *chain_expected[] = {"0,0,1,3"};
    check_union(chain, N_OF(chain), chain_expected, 1);

    const caf_iov mixed[] = {IOV(5, 0, 5, 10), IOV(1, 0, 1, 3), IOV(5, 5, 5, 20), IOV(1, 4, 1, 4)};
    const char *mixed_expected[] = {"1,0,1,4", "5,0,5,20"};
    check_union(mixed, N_OF(mixed), mixed_expected, 2);

    /* 0,11 .. 0,-1 lie between: no merge */
    const caf_iov gap_across[] = {IOV(1, 0, 1, 5), IOV(0, 0, 0, 10)};
    const char *gap_across_expected[] = {"0,0,0,10", "1,0,1,5"};
    check_union(gap_across, N_OF(gap_across), gap_across_expected, 2);

    const caf_iov adjacent_across[] = {IOV(0, 5, 0, -1), IOV(1, -1, 1, 5)};
    const char *adjacent_across_expected[] = {"0,5,1,5"};
    check_union(adjacent_across, N_OF(adjacent_across), adjacent_across_expected, 1);

    const caf_iov contained[] = {IOV(2, 3, 4, 5), IOV(0, 0, 9, -1), IOV(9, 7, 9, 8)};
    const char *contained_expected[] = {"0,0,9,-1"};
    check_union(contained, N_OF(contained), contained_expected, 1);

    const caf_iov dups[] = {IOV(1, 1, 1, 1), IOV(1, 1, 1, 1), IOV(1, 1, 1, 1)};
    const char *dups_expected[] = {"1,1,1,1"};
    check_union(dups, N_OF(dups), dups_expected, 1);

    /* unions say run 0 for a low end and -1 for the end of an experiment */
    const caf_iov canonical[] = {IOV(3, -1, 3, -1), IOV(7, 0, 7, INT_MAX)};
    const char *canonical_expected[] = {"3,0,3,-1", "7,0,7,-1"};
    check_union(canonical, N_OF(canonical), canonical_expected, 2);

    const caf_iov single[] = {IOV(4, 4, 8, 8)};
    const char *single_expected[] = {"4,4,8,8"};
    check_union(single, 1, single_expected, 1);
}

static void union_handles_open_ends_and_empty_input(void **state)
{
    (void)state;
    const caf_iov halves[] = {IOV(2, 6, -1, -1), IOV(-1, -1, 2, 5)};
    const char *halves_expected[] = {"0,0,-1,-1"};
    check_union(halves, N_OF(halves), halves_expected, 1);

    const caf_iov swallowed[] = {IOV(3, 0, -1, -1), IOV(10, 0, 10, 5), IOV(1, 0, 1, 1), IOV(2, -1, 2, -1)};
    const char *swallowed_expected[] = {"1,0,1,1", "2,0,-1,-1"};
    check_union(swallowed, N_OF(swallowed), swallowed_expected, 2);

    /* 2,10 .. 2,-1 lie between */
    const caf_iov short_of_it[] = {IOV(3, 0, -1, -1), IOV(2, -1, 2, 9)};
    const char *short_of_it_expected[] = {"2,0,2,9", "3,0,-1,-1"};
    check_union(short_of_it, N_OF(short_of_it), short_of_it_expected, 2);

    const caf_iov not_touching[] = {IOV(-1, -1, 2, 5), IOV(2, 7, -1, -1)};
    const char *not_touching_expected[] = {"0,0,2,5", "2,7,-1,-1"};
    check_union(not_touching, N_OF(not_touching), not_touching_expected, 2);

    const caf_iov with_empty[] = {CAF_IOV_EMPTY, IOV(1, 1, 1, 1), CAF_IOV_EMPTY};
    const char *with_empty_expected[] = {"1,1,1,1"};
    check_union(with_empty, N_OF(with_empty), with_empty_expected, 1);

    const caf_iov only_empty[] = {CAF_IOV_EMPTY, CAF_IOV_EMPTY};
    check_union(only_empty, N_OF(only_empty), NULL, 0);
    check_union(NULL, 0, NULL, 0);

    const caf_iov always_and_more[] = {IOV(4, 4, 4, 4), CAF_IOV_ALWAYS, IOV(-1, -1, 0, 0)};
    const char *always_expected[] = {"0,0,-1,-1"};
    check_union(always_and_more, N_OF(always_and_more), always_expected, 1);
}

static void union_rejects_an_invalid_input(void **state)
{
    (void)state;
    const caf_iov in[] = {IOV(1, 0, 1, 5), IOV(3, 5, 3, 4)};
    caf_iov *out = (caf_iov *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_iov_union(in, N_OF(in), &out, &n, &err), CAF_ERR_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_contains_text(err.message, "index 1");
    assert_contains_text(err.message, "3,5,3,4");
    assert_contains_text(err.message, "after the high end");
    assert_int_equal(caf_iov_union(in, N_OF(in), &out, &n, NULL), CAF_ERR_INVALID);
}

static void gaps_required_examples(void **state)
{
    (void)state;
    const caf_iov first[] = {IOV(0, 0, 0, -1), IOV(1, 0, 1, 10)};
    const char *first_expected[] = {"1,11,1,20"};
    check_gaps(first, N_OF(first), IOV(0, 0, 1, 20), first_expected, 1);

    const caf_iov second[] = {IOV(0, 5, 0, 10)};
    const char *second_expected[] = {"0,0,0,4", "0,11,1,-1"};
    check_gaps(second, N_OF(second), IOV(0, 0, 1, -1), second_expected, 2);
}

static void gaps_with_plain_spans(void **state)
{
    (void)state;
    const char *whole[] = {"2,3,4,5"};
    check_gaps(NULL, 0, IOV(2, 3, 4, 5), whole, 1);
    const char *whole_exps[] = {"2,0,4,-1"};
    check_gaps(NULL, 0, IOV(2, -1, 4, -1), whole_exps, 1);

    /* coverage entirely outside the span */
    const caf_iov outside[] = {IOV(0, 0, 0, -1), IOV(2, 0, 2, 5)};
    const char *outside_expected[] = {"1,0,1,10"};
    check_gaps(outside, N_OF(outside), IOV(1, 0, 1, 10), outside_expected, 1);

    /* coverage sticking out of both ends of the span */
    const caf_iov both_ends[] = {IOV(1, 12, 3, 0), IOV(1, 0, 1, 7)};
    const char *both_ends_expected[] = {"1,8,1,11"};
    check_gaps(both_ends, N_OF(both_ends), IOV(1, 5, 1, 15), both_ends_expected, 1);

    /* single-run gaps */
    const caf_iov holes[] = {IOV(0, 0, 0, 0), IOV(0, 2, 0, 2), IOV(0, 4, 0, 4)};
    const char *holes_expected[] = {"0,1,0,1", "0,3,0,3"};
    check_gaps(holes, N_OF(holes), IOV(0, 0, 0, 4), holes_expected, 2);
    const char *last_run_expected[] = {"0,1,0,1", "0,3,0,3", "0,5,0,5"};
    check_gaps(holes, N_OF(holes), IOV(0, 0, 0, 5), last_run_expected, 3);
    const char *first_run_expected[] = {"0,1,0,1", "0,3,0,3"};
    check_gaps(holes + 1, 2, IOV(0, 1, 0, 4), first_run_expected, 2);

    /* adjacent coverage across experiments leaves nothing */
    const caf_iov tiles[] = {IOV(2, -1, 2, -1), IOV(0, 0, 0, -1), IOV(1, 0, 1, -1)};
    check_gaps(tiles, N_OF(tiles), IOV(0, 0, 2, -1), NULL, 0);

    /* a gap that runs to the end of an experiment ends with run -1 */
    const caf_iov to_end[] = {IOV(0, 0, 0, 9), IOV(1, 0, 1, 5)};
    const char *to_end_expected[] = {"0,10,0,-1"};
    check_gaps(to_end, N_OF(to_end), IOV(0, 0, 1, 5), to_end_expected, 1);

    /* a whole missing experiment in the middle */
    const caf_iov missing_exp[] = {IOV(0, 0, 0, -1), IOV(2, 0, 2, -1)};
    const char *missing_exp_expected[] = {"1,0,1,-1"};
    check_gaps(missing_exp, N_OF(missing_exp), IOV(0, 0, 2, -1), missing_exp_expected, 1);

    /* overlapping, unsorted coverage with empty entries */
    const caf_iov messy[] = {IOV(5, 10, 5, 20), CAF_IOV_EMPTY, IOV(5, 0, 5, 12), IOV(5, 30, 5, 40)};
    const char *messy_expected[] = {"5,21,5,29", "5,41,5,50"};
    check_gaps(messy, N_OF(messy), IOV(5, 0, 5, 50), messy_expected, 2);

    /* coverage equal to the span */
    const caf_iov exact[] = {IOV(3, 3, 4, 4)};
    check_gaps(exact, 1, IOV(3, 3, 4, 4), NULL, 0);

    /* the empty span has no gaps */
    check_gaps(NULL, 0, CAF_IOV_EMPTY, NULL, 0);
    check_gaps(exact, 1, CAF_IOV_EMPTY, NULL, 0);
}

static void gaps_with_open_spans_and_open_coverage(void **state)
{
    (void)state;
    const caf_iov two_blocks[] = {IOV(0, 0, 3, -1), IOV(5, 0, 5, 9)};
    const char *two_blocks_expected[] = {"4,0,4,-1", "5,10,-1,-1"};
    check_gaps(two_blocks, N_OF(two_blocks), CAF_IOV_ALWAYS, two_blocks_expected, 2);

    const caf_iov open_above[] = {IOV(2, 0, -1, -1)};
    const char *open_above_expected[] = {"0,0,1,-1"};
    check_gaps(open_above, 1, CAF_IOV_ALWAYS, open_above_expected, 1);

    const caf_iov open_both[] = {IOV(-1, -1, 5, 5), IOV(5, 6, -1, -1)};
    check_gaps(open_both, N_OF(open_both), IOV(3, 4, 8, 9), NULL, 0);
    check_gaps(open_both, N_OF(open_both), CAF_IOV_ALWAYS, NULL, 0);

    const caf_iov middle[] = {IOV(1, 0, 1, -1)};
    const char *middle_expected[] = {"0,0,0,-1", "2,0,2,-1"};
    check_gaps(middle, 1, IOV(-1, -1, 2, -1), middle_expected, 2);

    const char *all_expected[] = {"0,0,-1,-1"};
    check_gaps(NULL, 0, CAF_IOV_ALWAYS, all_expected, 1);
    const caf_iov below[] = {IOV(-1, -1, 7, 3)};
    const char *below_expected[] = {"7,4,-1,-1"};
    check_gaps(below, 1, IOV(7, 0, -1, -1), below_expected, 1);

    check_gaps(&CAF_IOV_ALWAYS, 1, IOV(4, 5, -1, -1), NULL, 0);
}

static void gaps_reject_invalid_span_or_coverage(void **state)
{
    (void)state;
    caf_iov *out = (caf_iov *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_iov_gaps(NULL, 0, IOV(1, 5, 0, 0), &out, &n, &err), CAF_ERR_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_contains_text(err.message, "span");
    assert_contains_text(err.message, "1,5,0,0");

    const caf_iov covered[] = {IOV(0, 0, 0, 1), IOV(0, 2, 0, 3), IOV(-1, 4, 2, 2)};
    out = (caf_iov *)1;
    n = 99;
    assert_int_equal(caf_iov_gaps(covered, N_OF(covered), CAF_IOV_ALWAYS, &out, &n, &err), CAF_ERR_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_contains_text(err.message, "index 2");
    assert_contains_text(err.message, "-1,4,2,2");
    assert_contains_text(err.message, "run_low 4");
}

static void span_of_runs_goes_from_lowest_to_highest(void **state)
{
    (void)state;
    const caf_exprun runs[] = {ER(1, 5), ER(0, 9), ER(1, 2), ER(0, 3), ER(0, 100)};
    check_iov(caf_iov_span_of_runs(runs, N_OF(runs)), "0,3,1,5");
    const caf_exprun one[] = {ER(4, 4)};
    check_iov(caf_iov_span_of_runs(one, 1), "4,4,4,4");
    const caf_exprun same_exp[] = {ER(12, 1032), ER(12, 1000), ER(12, 1016)};
    check_iov(caf_iov_span_of_runs(same_exp, N_OF(same_exp)), "12,1000,12,1032");
    assert_true(caf_iov_is_empty(caf_iov_span_of_runs(NULL, 0)));
    assert_true(caf_iov_is_empty(caf_iov_span_of_runs(runs, 0)));
}

/* ---- Run lists ---- */

static void check_groups(const caf_exprun *runs, caf_run_group *groups, size_t group_count,
                         const size_t *expected_first, const size_t *expected_count, size_t expected_groups)
{
    assert_int_equal(group_count, expected_groups);
    for (size_t i = 0; i < group_count; i++) {
        assert_ptr_equal(groups[i].runs, runs + expected_first[i]);
        assert_int_equal(groups[i].count, expected_count[i]);
    }
    if (group_count == 0)
        assert_null(groups);
    free(groups);
}

static void split_by_experiment_makes_one_group_per_experiment(void **state)
{
    (void)state;
    const caf_exprun runs[] = {ER(0, 1), ER(0, 2), ER(1, 0), ER(3, 5), ER(3, 6), ER(3, 7)};
    caf_run_group *groups = NULL;
    size_t n = 0;
    caf_error err = {0};
    assert_int_equal(caf_runs_split_by_experiment(runs, N_OF(runs), &groups, &n, &err), CAF_OK);
    const size_t first[] = {0, 2, 3}, count[] = {2, 1, 3};
    check_groups(runs, groups, n, first, count, 3);

    const caf_exprun one_exp[] = {ER(7, 1), ER(7, 1), ER(7, 9)};
    assert_int_equal(caf_runs_split_by_experiment(one_exp, N_OF(one_exp), &groups, &n, &err), CAF_OK);
    const size_t first1[] = {0}, count1[] = {3};
    check_groups(one_exp, groups, n, first1, count1, 1);

    groups = (caf_run_group *)1;
    n = 99;
    assert_int_equal(caf_runs_split_by_experiment(NULL, 0, &groups, &n, &err), CAF_OK);
    check_groups(NULL, groups, n, NULL, NULL, 0);
}

static void split_by_experiment_rejects_unsorted_runs(void **state)
{
    (void)state;
    const caf_exprun runs[] = {ER(0, 1), ER(1, 0), ER(0, 5)};
    caf_run_group *groups = (caf_run_group *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_runs_split_by_experiment(runs, N_OF(runs), &groups, &n, &err), CAF_ERR_INVALID);
    assert_null(groups);
    assert_int_equal(n, 0);
    assert_contains_text(err.message, "not sorted");
    assert_contains_text(err.message, "0.5");
    assert_contains_text(err.message, "1.0");
    assert_int_equal(caf_runs_split_by_experiment(runs, N_OF(runs), &groups, &n, NULL), CAF_ERR_INVALID);
}

static void split_at_boundaries_starts_a_group_at_each_boundary(void **state)
{
    (void)state;
    const caf_exprun runs[] = {ER(0, 1), ER(0, 2), ER(0, 5), ER(0, 8), ER(1, 0), ER(1, 3)};
    caf_run_group *groups = NULL;
    size_t n = 0;
    caf_error err = {0};

    /* a group runs up to the next boundary, across experiments if no boundary stops it */
    const caf_exprun b1[] = {ER(0, 5), ER(1, 2)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b1, N_OF(b1), &groups, &n, &err), CAF_OK);
    const size_t first1[] = {0, 2, 5}, count1[] = {2, 3, 1};
    check_groups(runs, groups, n, first1, count1, 3);

    /* any order, repeats */
    const caf_exprun b2[] = {ER(1, 2), ER(0, 5), ER(0, 5), ER(1, 2)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b2, N_OF(b2), &groups, &n, &err), CAF_OK);
    check_groups(runs, groups, n, first1, count1, 3);

    /* a boundary between runs: the next run starts the group */
    const caf_exprun b3[] = {ER(0, 4)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b3, N_OF(b3), &groups, &n, &err), CAF_OK);
    const size_t first3[] = {0, 2}, count3[] = {2, 4};
    check_groups(runs, groups, n, first3, count3, 2);

    /* empty groups (before the first run, between 0,3 and 0,4, after the last run) are dropped */
    const caf_exprun b4[] = {ER(5, 0), ER(0, 4), ER(0, 0), ER(0, 3)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b4, N_OF(b4), &groups, &n, &err), CAF_OK);
    check_groups(runs, groups, n, first3, count3, 2);

    /* a boundary on the first run does not make an empty first group */
    const caf_exprun b5[] = {ER(0, 1)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b5, N_OF(b5), &groups, &n, &err), CAF_OK);
    const size_t first5[] = {0}, count5[] = {6};
    check_groups(runs, groups, n, first5, count5, 1);

    /* the start of an experiment as a boundary: 1,-1 comes before 1,0 */
    const caf_exprun b6[] = {ER(1, -1)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b6, N_OF(b6), &groups, &n, &err), CAF_OK);
    const size_t first6[] = {0, 4}, count6[] = {4, 2};
    check_groups(runs, groups, n, first6, count6, 2);

    /* every run a boundary */
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), runs, N_OF(runs), &groups, &n, &err),
                     CAF_OK);
    const size_t first7[] = {0, 1, 2, 3, 4, 5}, count7[] = {1, 1, 1, 1, 1, 1};
    check_groups(runs, groups, n, first7, count7, 6);

    /* no boundaries: one group */
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), NULL, 0, &groups, &n, &err), CAF_OK);
    check_groups(runs, groups, n, first5, count5, 1);

    /* all boundaries after the runs: one group */
    const caf_exprun b8[] = {ER(9, 9)};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b8, 1, &groups, &n, &err), CAF_OK);
    check_groups(runs, groups, n, first5, count5, 1);

    /* duplicate runs stay together */
    const caf_exprun dup_runs[] = {ER(2, 1), ER(2, 2), ER(2, 2), ER(2, 3)};
    const caf_exprun b9[] = {ER(2, 2)};
    assert_int_equal(caf_runs_split_at_boundaries(dup_runs, N_OF(dup_runs), b9, 1, &groups, &n, &err), CAF_OK);
    const size_t first9[] = {0, 1}, count9[] = {1, 3};
    check_groups(dup_runs, groups, n, first9, count9, 2);

    /* no runs: no groups */
    groups = (caf_run_group *)1;
    n = 99;
    assert_int_equal(caf_runs_split_at_boundaries(NULL, 0, b1, N_OF(b1), &groups, &n, &err), CAF_OK);
    check_groups(NULL, groups, n, NULL, NULL, 0);
}

static void split_at_boundaries_rejects_unsorted_runs(void **state)
{
    (void)state;
    const caf_exprun runs[] = {ER(0, 3), ER(0, 2)};
    const caf_exprun b[] = {ER(0, 3)};
    caf_run_group *groups = (caf_run_group *)1;
    size_t n = 99;
    caf_error err = {0};
    assert_int_equal(caf_runs_split_at_boundaries(runs, N_OF(runs), b, 1, &groups, &n, &err), CAF_ERR_INVALID);
    assert_null(groups);
    assert_int_equal(n, 0);
    assert_contains_text(err.message, "not sorted");
    assert_contains_text(err.message, "0.2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exprun_compare_orders_by_experiment_then_run),
        cmocka_unit_test(exprun_sort_unique_sorts_and_drops_duplicates),
        cmocka_unit_test(exprun_parse_accepts_dot_and_colon),
        cmocka_unit_test(exprun_parse_rejects_junk_with_the_text),
        cmocka_unit_test(exprun_format_uses_the_belle2_dot_encoding),
        cmocka_unit_test(empty_and_always_are_distinct),
        cmocka_unit_test(equal_compares_the_four_numbers),
        cmocka_unit_test(validate_accepts_every_legal_form),
        cmocka_unit_test(validate_rejects_and_explains),
        cmocka_unit_test(parse_reads_four_numbers_and_validates),
        cmocka_unit_test(parse_rejects_junk_and_names_the_text),
        cmocka_unit_test(format_and_parse_round_trip),
        cmocka_unit_test(iov_of_run_is_that_run_alone),
        cmocka_unit_test(contains_exprun_respects_closed_and_open_ends),
        cmocka_unit_test(contains_iov_compares_the_runs_covered),
        cmocka_unit_test(overlaps_needs_a_shared_run),
        cmocka_unit_test(adjacency_follows_the_line_across_experiments),
        cmocka_unit_test(intersection_keeps_the_tighter_end),
        cmocka_unit_test(qsort_compare_orders_by_low_then_high_empty_first),
        cmocka_unit_test(union_merges_overlapping_and_adjacent_chains),
        cmocka_unit_test(union_handles_open_ends_and_empty_input),
        cmocka_unit_test(union_rejects_an_invalid_input),
        cmocka_unit_test(gaps_required_examples),
        cmocka_unit_test(gaps_with_plain_spans),
        cmocka_unit_test(gaps_with_open_spans_and_open_coverage),
        cmocka_unit_test(gaps_reject_invalid_span_or_coverage),
        cmocka_unit_test(span_of_runs_goes_from_lowest_to_highest),
        cmocka_unit_test(split_by_experiment_makes_one_group_per_experiment),
        cmocka_unit_test(split_by_experiment_rejects_unsorted_runs),
        cmocka_unit_test(split_at_boundaries_starts_a_group_at_each_boundary),
        cmocka_unit_test(split_at_boundaries_rejects_unsorted_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
