/* Running external commands: captured output, stdin, exit codes, time-outs, start failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/process.h"
#include "test_support.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void captures_stdout_stderr_and_exit_code(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    caf_process_result res;
    caf_error err = {0};
    assert_int_equal(caf_process_run(argv, NULL, &res, &err), CAF_OK);
    assert_int_equal(res.exit_code, 3);
    assert_int_equal(res.signal, 0);
    assert_false(res.timed_out);
    assert_string_equal(res.out_text, "out\n");
    assert_string_equal(res.err_text, "err\n");
    caf_process_result_free(&res);
}

static void passes_arguments_verbatim_and_feeds_stdin(void **state)
{
    (void)state;
    /* an argument a shell would expand must arrive untouched */
    char *argv[] = {"sh", "-c", "printf '%s|' \"$1\"; cat", "sh", "$HOME `id` 'q' \"d\"\nline", NULL};
    caf_process_options opts = {.stdin_text = "from stdin"};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, &opts, &res, NULL), CAF_OK);
    assert_int_equal(res.exit_code, 0);
    assert_string_equal(res.out_text, "$HOME `id` 'q' \"d\"\nline|from stdin");
    caf_process_result_free(&res);
}

static void large_output_and_input_do_not_deadlock(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *input = malloc(n + 1);
    memset(input, 'x', n);
    input[n] = '\0';
    char *argv[] = {"sh", "-c", "cat; cat >&2 </dev/null; head -c 300000 /dev/zero >&2", NULL};
    caf_process_options opts = {.stdin_text = input};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, &opts, &res, NULL), CAF_OK);
    assert_int_equal(res.out_size, n);
    assert_int_equal(res.err_size, 300000);
    caf_process_result_free(&res);
    free(input);
}

static void runs_in_the_given_folder(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("process");
    char *argv[] = {"pwd", NULL};
    caf_process_options opts = {.cwd = dir};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, &opts, &res, NULL), CAF_OK);
    char expect[4200];
    snprintf(expect, sizeof expect, "%s\n", dir);
    assert_string_equal(res.out_text, expect);
    caf_process_result_free(&res);
    test_remove_tree(dir);
    free(dir);
}

static void time_out_kills_the_program_and_its_children(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("process");
    char script[4400];
    /* the child starts a grandchild that would hold stdout open; both must die */
    snprintf(script, sizeof script, "sleep 30 & echo $! > '%s/pid'; wait", dir);
    char *argv[] = {"sh", "-c", script, NULL};
    caf_process_options opts = {.timeout_s = 0.3};
    caf_process_result res;
    caf_error err = {0};
    double t0 = now_s();
    assert_int_equal(caf_process_run(argv, &opts, &res, &err), CAF_ERR_TIMEOUT);
    assert_true(now_s() - t0 < 5.0);
    assert_true(res.timed_out);
    assert_non_null(strstr(err.message, "sh: no answer within"));
    caf_process_result_free(&res);
    char *pid_text = test_read_file(dir, "pid");
    assert_non_null(pid_text);
    pid_t grandchild = (pid_t)atoi(pid_text);
    free(pid_text);
    for (int i = 0; i < 100 && kill(grandchild, 0) == 0; i++)
        usleep(20000); /* reaped by init shortly after the kill */
    assert_int_not_equal(kill(grandchild, 0), 0);
    test_remove_tree(dir);
    free(dir);
}

static void missing_program_is_not_found(void **state)
{
    (void)state;
    char *argv[] = {"caf-no-such-program-xyz", NULL};
    caf_process_result res;
    caf_error err = {0};
    assert_int_equal(caf_process_run(argv, NULL, &res, &err), CAF_ERR_NOT_FOUND);
    assert_string_equal(err.message, "caf-no-such-program-xyz: command not found");
    assert_null(res.out_text);
}

static void signal_death_is_reported(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, NULL, &res, NULL), CAF_OK);
    assert_int_equal(res.signal, 9);
    assert_int_equal(res.exit_code, 137);
    caf_process_result_free(&res);
    char buf[8];
    assert_string_equal(caf_process_first_line("\nfirst line\nsecond", buf, sizeof buf), "first l");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(captures_stdout_stderr_and_exit_code),
        cmocka_unit_test(passes_arguments_verbatim_and_feeds_stdin),
        cmocka_unit_test(large_output_and_input_do_not_deadlock),
        cmocka_unit_test(runs_in_the_given_folder),
        cmocka_unit_test(time_out_kills_the_program_and_its_children),
        cmocka_unit_test(missing_program_is_not_found),
        cmocka_unit_test(signal_death_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
