/* State machines: the calibration and algorithm machines' valid paths, refused transitions with their
 * messages, callbacks in order, restoring a state, and the Graphviz text (checked by dot when installed). */
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

#include "caf/state_machine.h"
#include "test_support.h"

static void fire_ok(caf_machine *m, const char *transition, const char *expected_state)
{
    caf_error err = {0};
    if (caf_machine_fire(m, transition, &err) != CAF_OK)
        fail_msg("%s", err.message);
    assert_string_equal(caf_machine_state(m), expected_state);
}

static void calibration_runs_iterates_and_completes(void **unused)
{
    (void)unused;
    caf_calibration_machine cm;
    /* As basf2: another iteration while iteration < max_iterations, so max_iterations 2 allows passes 0, 1, 2. */
    assert_int_equal(caf_calibration_machine_init(&cm, "gain", 2, NULL), CAF_OK);
    assert_string_equal(caf_machine_state(cm.machine), "init");
    for (int it = 0; it < 3; it++) {
        if (it == 0)
            fire_ok(cm.machine, "submit_collector", "running_collector");
        else
            fire_ok(cm.machine, "iterate", "running_collector");
        assert_int_equal(cm.iteration, it);
        fire_ok(cm.machine, "complete", "collector_completed");
        fire_ok(cm.machine, "run_algorithms", "running_algorithms");
        fire_ok(cm.machine, "complete", "algorithms_completed");
        assert_int_equal(caf_calibration_machine_can_iterate(&cm), it < 2);
    }
    /* Iteration 2 is the last one max_iterations 2 allows. */
    assert_false(caf_machine_can_fire(cm.machine, "iterate"));
    caf_error err = {0};
    assert_int_equal(caf_machine_fire(cm.machine, "iterate", &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "internal error: machine 'calibration gain': transition 'iterate' refused in "
                                     "state 'algorithms_completed': iteration 2 reached max_iterations 2");
    assert_string_equal(caf_machine_state(cm.machine), "algorithms_completed");
    fire_ok(cm.machine, "finish", "completed");
    assert_int_equal(caf_machine_fire(cm.machine, "submit_collector", &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "internal error: machine 'calibration gain': transition 'submit_collector' is "
                                     "not allowed in state 'completed'");
    caf_calibration_machine_close(&cm);

    /* max_iterations 0: the first pass is the only one. */
    assert_int_equal(caf_calibration_machine_init(&cm, "gain", 0, NULL), CAF_OK);
    fire_ok(cm.machine, "submit_collector", "running_collector");
    fire_ok(cm.machine, "complete", "collector_completed");
    fire_ok(cm.machine, "run_algorithms", "running_algorithms");
    fire_ok(cm.machine, "complete", "algorithms_completed");
    assert_false(caf_calibration_machine_can_iterate(&cm));
    fire_ok(cm.machine, "finish", "completed");
    caf_calibration_machine_close(&cm);
}

static void calibration_failures_end_in_failed(void **unused)
{
    (void)unused;
    caf_calibration_machine cm;
    assert_int_equal(caf_calibration_machine_init(&cm, "t0", 5, NULL), CAF_OK);
    fire_ok(cm.machine, "submit_collector", "running_collector");
    fire_ok(cm.machine, "fail", "collector_failed");
    assert_false(caf_machine_can_fire(cm.machine, "run_algorithms"));
    fire_ok(cm.machine, "fail_fully", "failed");
    caf_calibration_machine_close(&cm);

    assert_int_equal(caf_calibration_machine_init(&cm, "t0", 5, NULL), CAF_OK);
    caf_error err = {0};
    assert_int_equal(caf_machine_fire(cm.machine, "complete", &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "internal error: machine 'calibration t0': transition 'complete' is not "
                                     "allowed in state 'init'");
    assert_int_equal(caf_machine_set_state(cm.machine, "running_algorithms", NULL), CAF_OK);
    fire_ok(cm.machine, "fail", "algorithms_failed");
    assert_int_equal(caf_machine_fire(cm.machine, "finish", &err), CAF_ERR_STATE);
    fire_ok(cm.machine, "fail_fully", "failed");
    assert_int_equal(caf_machine_set_state(cm.machine, "sleeping", &err), CAF_ERR_NOT_FOUND);
    assert_string_equal(err.message, "machine 'calibration t0' has no state 'sleeping'");
    caf_calibration_machine_close(&cm);

    assert_int_equal(caf_calibration_machine_init(&cm, "t0", -1, &err), CAF_ERR_INVALID);
    assert_string_equal(err.message, "calibration 't0': max_iterations must be at least 0, not -1");
}

static void algorithm_machine_cycles_through_executions(void **unused)
{
    (void)unused;
    caf_machine *m;
    assert_int_equal(caf_algorithm_machine_open(&m, "GainAlgorithm", NULL), CAF_OK);
    assert_string_equal(caf_machine_state(m), "init");
    fire_ok(m, "setup_algorithm", "ready");
    fire_ok(m, "execute_runs", "running_algorithm");
    fire_ok(m, "fail", "failed");
    fire_ok(m, "setup_algorithm", "ready");
    fire_ok(m, "execute_runs", "running_algorithm");
    fire_ok(m, "complete", "completed");
    caf_error err = {0};
    assert_int_equal(caf_machine_fire(m, "execute_runs", &err), CAF_ERR_STATE);
    assert_string_equal(err.message, "internal error: machine 'algorithm GainAlgorithm': transition 'execute_runs' "
                                     "is not allowed in state 'completed'");
    assert_int_equal(caf_machine_fire(m, "no_such_thing", &err), CAF_ERR_STATE);
    caf_machine_close(m);
}

static void log_callback(const caf_machine *m, const char *state, const char *transition, void *userdata)
{
    (void)m;
    char *log = userdata;
    size_t used = strlen(log);
    snprintf(log + used, 512 - used, "%s:%s ", state, transition ? transition : "-");
}

static void exit_callback(const caf_machine *m, const char *state, const char *transition, void *userdata)
{
    char *log = userdata;
    strcat(log, "exit-");
    log_callback(m, state, transition, userdata);
}

static void callbacks_run_exit_then_enter(void **unused)
{
    (void)unused;
    char log[512] = "";
    caf_machine *m;
    assert_int_equal(caf_algorithm_machine_open(&m, "A", NULL), CAF_OK);
    assert_int_equal(caf_machine_on_exit(m, "init", exit_callback, log, NULL), CAF_OK);
    assert_int_equal(caf_machine_on_enter(m, "ready", log_callback, log, NULL), CAF_OK);
    assert_int_equal(caf_machine_on_exit(m, "ready", exit_callback, log, NULL), CAF_OK);
    assert_int_equal(caf_machine_on_enter(m, "running_algorithm", log_callback, log, NULL), CAF_OK);
    fire_ok(m, "setup_algorithm", "ready");
    fire_ok(m, "execute_runs", "running_algorithm");
    /* A refused transition runs no callback; set_state runs none either. */
    assert_int_equal(caf_machine_fire(m, "setup_algorithm", NULL), CAF_ERR_STATE);
    assert_int_equal(caf_machine_set_state(m, "ready", NULL), CAF_OK);
    assert_string_equal(log, "exit-init:setup_algorithm ready:setup_algorithm exit-ready:execute_runs "
                             "running_algorithm:execute_runs ");
    caf_error err = {0};
    assert_int_equal(caf_machine_add_transition(m, "execute_runs", "ready", "failed", NULL, NULL, &err),
                     CAF_ERR_EXISTS);
    assert_int_equal(caf_machine_add_state(m, "ready", &err), CAF_ERR_EXISTS);
    caf_machine_close(m);
}

/* Runs dot -Tsvg on path when Graphviz is installed; returns false when it is not. */
static bool dot_accepts(const char *path, const char *svg_path)
{
    if (system("command -v dot >/dev/null 2>&1") != 0)
        return false;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("dot", "dot", "-Tsvg", "-o", svg_path, path, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return true;
}

static void dot_output_lists_states_and_transitions(void **unused)
{
    (void)unused;
    caf_machine *m;
    assert_int_equal(caf_algorithm_machine_open(&m, "Say \"hi\"", NULL), CAF_OK);
    fire_ok(m, "setup_algorithm", "ready");
    char *dot = caf_machine_to_dot(m);
    assert_string_equal(dot, "digraph \"algorithm Say \\\"hi\\\"\" {\n"
                             "  rankdir=LR;\n"
                             "  node [shape=box, style=rounded];\n"
                             "  \"init\";\n"
                             "  \"ready\" [style=\"rounded,filled\", fillcolor=lightblue];\n"
                             "  \"running_algorithm\";\n"
                             "  \"completed\";\n"
                             "  \"failed\";\n"
                             "  \"init\" -> \"ready\" [label=\"setup_algorithm\"];\n"
                             "  \"ready\" -> \"running_algorithm\" [label=\"execute_runs\"];\n"
                             "  \"running_algorithm\" -> \"completed\" [label=\"complete\"];\n"
                             "  \"running_algorithm\" -> \"failed\" [label=\"fail\"];\n"
                             "  \"completed\" -> \"ready\" [label=\"setup_algorithm\"];\n"
                             "  \"failed\" -> \"ready\" [label=\"setup_algorithm\"];\n"
                             "}\n");
    free(dot);
    caf_machine_close(m);

    caf_calibration_machine cm;
    assert_int_equal(caf_calibration_machine_init(&cm, "gain", 5, NULL), CAF_OK);
    char *dir = test_make_temp_dir("dot");
    char path[4096], svg[4096];
    snprintf(path, sizeof path, "%s/calibration.dot", dir);
    snprintf(svg, sizeof svg, "%s/calibration.svg", dir);
    assert_int_equal(caf_machine_write_dot(cm.machine, path, NULL), CAF_OK);
    char *text = test_read_file(dir, "calibration.dot");
    assert_non_null(strstr(text, "  \"algorithms_completed\" -> \"running_collector\" [label=\"iterate\", "
                                 "style=dashed];\n"));
    assert_non_null(strstr(text, "  \"init\" [style=\"rounded,filled\", fillcolor=lightblue];\n"));
    free(text);
    if (dot_accepts(path, svg)) {
        char *svg_text = test_read_file(dir, "calibration.svg");
        assert_non_null(strstr(svg_text, "running_collector"));
        free(svg_text);
    }
    test_remove_tree(dir);
    free(dir);
    caf_calibration_machine_close(&cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calibration_runs_iterates_and_completes),
        cmocka_unit_test(calibration_failures_end_in_failed),
        cmocka_unit_test(algorithm_machine_cycles_through_executions),
        cmocka_unit_test(callbacks_run_exit_then_enter),
        cmocka_unit_test(dot_output_lists_states_and_transitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
