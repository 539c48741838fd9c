/* Wrapper scripts: quoting, and a real bash run of a generated script over file names with spaces,
 * quotes, $, backticks and newlines, in folders with such names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/job.h"
#include "caf/process.h"
#include "caf/wrapper_script.h"
#include "test_support.h"

static void quote_escapes_single_quotes(void **state)
{
    (void)state;
    char *q = caf_shell_quote("it's $x `y` \"z\"");
    assert_string_equal(q, "'it'\\''s $x `y` \"z\"'");
    free(q);
    q = caf_shell_quote("");
    assert_string_equal(q, "''");
    free(q);
}

/* Every name here must reach the command byte for byte and come back as an output. */
static const char *const nasty[] = {"with space", "it's", "double\"quote", "$HOME", "`touch pwned`",
                                    "new\nline", "star*", "-dash", "back\\slash", "semi;colon&"};
#define N_NASTY (sizeof nasty / sizeof *nasty)

static void quoted_names_reach_the_command_unchanged(void **state)
{
    (void)state;
    char *base = test_make_temp_dir("wrapper");
    char *top = caf_path_join(base, "dir with 'quote' $and `tick`\nnewline");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(top, &err), CAF_OK);
    json_t *files = json_array();
    for (size_t i = 0; i < N_NASTY; i++) {
        char *path = caf_path_join(top, nasty[i]);
        assert_int_equal(caf_file_write_atomic(path, nasty[i], strlen(nasty[i]), &err), CAF_OK);
        json_array_append_new(files, json_string(path));
        free(path);
    }
    /* the command writes its arguments NUL-separated into "args out.bin" and copies each input to
     * "copy N out.bin"; "$CAF_NASTY" must arrive unexpanded */
    json_t *spec = json_pack("{s:s, s:s, s:[s,s,s,s], s:o, s:s, s:[s], s:{s:s}, s:[s]}", "name", "nasty",
                             "command", "sh", "args", "-c",
                             "printf '%s\\0' \"$@\" \"$CAF_NASTY\" > 'args out.bin'; i=0; for f; do "
                             "[ -f \"$f\" ] && cp -- \"$f\" \"copy $i out.bin\"; i=$((i+1)); done",
                             "sh", "arg 'with' $quotes `and` \"more\"", "input_files", files, "working_dir",
                             top, "output_patterns", "* out.bin", "env", "CAF_NASTY", "$(touch pwned) 'x'",
                             "setup", "export CAF_SETUP_RAN=1");
    assert_non_null(spec);
    caf_job job;
    assert_int_equal(caf_job_from_json(&job, spec, base, &err), CAF_OK);
    json_decref(spec);
    caf_subjob *sub = &job.subjobs[0];
    assert_int_equal(caf_wrapper_script_write(&job, sub, &err), CAF_OK);
    assert_int_equal(caf_mkdir_p(sub->output_dir, &err), CAF_OK);

    char *argv[] = {"bash", sub->script_path, NULL};
    caf_process_result res;
    assert_int_equal(caf_process_run(argv, NULL, &res, &err), CAF_OK);
    assert_int_equal(res.exit_code, 0);
    caf_process_result_free(&res);

    char *text = test_read_file(sub->dir, "exit_code");
    assert_non_null(text);
    assert_string_equal(text, "0\n");
    free(text);
    /* the arguments, as the command saw them, in its output folder */
    char *args_path = caf_path_join(sub->output_dir, "args out.bin");
    char *data;
    size_t size;
    assert_int_equal(caf_file_read(args_path, &data, &size, &err), CAF_OK);
    const char *p = data;
    assert_string_equal(p, "arg 'with' $quotes `and` \"more\"");
    p += strlen(p) + 1;
    for (size_t i = 0; i < N_NASTY; i++) {
        char *expect = caf_path_join(top, nasty[i]);
        assert_string_equal(p, expect);
        p += strlen(p) + 1;
        free(expect);
    }
    assert_string_equal(p, "$(touch pwned) 'x'");
    free(data);
    free(args_path);
    for (size_t i = 0; i < N_NASTY; i++) {
        char name[64];
        snprintf(name, sizeof name, "copy %zu out.bin", i + 1);
        char *copy = caf_path_join(sub->output_dir, name);
        assert_int_equal(caf_file_read(copy, &data, &size, &err), CAF_OK);
        assert_string_equal(data, nasty[i]);
        free(data);
        free(copy);
    }
    /* nothing was executed that should not have been */
    char *pwned = caf_path_join(sub->dir, "pwned");
    assert_false(caf_path_exists(pwned));
    free(pwned);
    caf_job_close(&job);
    free(top);
    test_remove_tree(base);
    free(base);
}

static void failing_setup_and_command_exit_codes_are_recorded(void **state)
{
    (void)state;
    char *base = test_make_temp_dir("wrapper");
    caf_error err = {0};
    const char *cases[][3] = {
        /* setup, command argument, expected exit code */
        {"true", "exit 7", "7\n"},
        {"false", "exit 0", "1\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *spec = json_pack("{s:s, s:s, s:[s,s], s:s, s:[s]}", "name", "codes", "command", "sh", "args", "-c",
                                 cases[i][1], "working_dir", base, "setup", cases[i][0]);
        caf_job job;
        assert_int_equal(caf_job_from_json(&job, spec, base, &err), CAF_OK);
        json_decref(spec);
        assert_int_equal(caf_wrapper_script_write(&job, &job.subjobs[0], &err), CAF_OK);
        char *argv[] = {"bash", job.subjobs[0].script_path, NULL};
        caf_process_result res;
        assert_int_equal(caf_process_run(argv, NULL, &res, &err), CAF_OK);
        caf_process_result_free(&res);
        char *text = test_read_file(job.subjobs[0].dir, "exit_code");
        assert_string_equal(text, cases[i][2]);
        free(text);
        if (i == 1) {
            char *log = test_read_file(job.subjobs[0].dir, "stderr");
            assert_non_null(strstr(log, "caf: setup command 1 failed with exit code 1"));
            free(log);
        }
        caf_job_close(&job);
    }
    test_remove_tree(base);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quote_escapes_single_quotes),
        cmocka_unit_test(quoted_names_reach_the_command_unchanged),
        cmocka_unit_test(failing_setup_and_command_exit_codes_are_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
