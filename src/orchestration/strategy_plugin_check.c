/* Checking a strategy plugin for `caf config check` and `caf run`: loading a plugin runs its code, so the
 * check loads it in a child process that reports one problem per line through a pipe. A plugin that
 * crashes or hangs while loaded becomes a problem naming it, never a crash of caf. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestration/strategy_internal.h"

/* Seconds a plugin may take to load and answer before the check gives up on it. */
#define CHECK_TIMEOUT_S 30

/* Writes "PARAMETER\tMESSAGE\n" with tabs and newlines of the message made spaces. */
static void report(int fd, const char *parameter, const char *message)
{
    char line[800];
    int n = snprintf(line, sizeof line, "%s\t%s", parameter, message);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    size_t tab = strlen(parameter);
    for (size_t i = tab + 1; i < len; i++)
        if (line[i] == '\n' || line[i] == '\t')
            line[i] = ' ';
    line[len++] = '\n';
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, line + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        done += (size_t)w;
    }
}

/* Each given parameter alone against the declarations made optional, so that every bad value is reported
 * with its own name (and so its own FILE:LINE:COLUMN); then all of them together for the required ones. */
static void check_parameters(int fd, const caf_strategy_descriptor *desc, const json_t *parameters)
{
    size_t n = 0;
    while (desc->params && desc->params[n].name)
        n++;
    caf_param_spec *optional = calloc(n + 1, sizeof *optional);
    if (!optional) {
        report(fd, "", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        optional[i] = desc->params[i];
        optional[i].presence = CAF_PARAM_OPTIONAL;
    }
    caf_strategy_descriptor alone = *desc;
    alone.params = optional;
    bool bad = false;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)parameters, key, value) {
        json_t *one = json_pack("{s:O}", key, value);
        caf_params *parsed = NULL;
        caf_error err = {0};
        if (!one || caf_strategy_descriptor_parse_params(&alone, one, &parsed, &err) != CAF_OK) {
            report(fd, key, one ? err.message : "out of memory");
            bad = true;
        }
        caf_params_free(parsed);
        json_decref(one);
    }
    free(optional);
    if (bad)
        return;
    caf_params *parsed = NULL;
    caf_error err = {0};
    if (caf_strategy_descriptor_parse_params(desc, parameters, &parsed, &err) != CAF_OK)
        report(fd, "", err.message);
    caf_params_free(parsed);
}

static void child_check(int fd, const char *path, const char *name, const json_t *parameters,
                        const char *granularity)
{
    caf_strategy_plugin plugin;
    caf_error err = {0};
    if (caf_strategy_plugin_open_file(&plugin, path, name, &err) != CAF_OK) {
        report(fd, "", err.message);
        return;
    }
    if (granularity && caf_strategy_descriptor_check_granularity(plugin.desc, granularity, &err) != CAF_OK)
        report(fd, "", err.message);
    check_parameters(fd, plugin.desc, parameters);
    caf_strategy_plugin_close(&plugin);
}

/* Reads the child's lines into problems. */
static void read_problems(int fd, caf_strategy_check_problem *problems, size_t max, size_t *count)
{
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab || *count >= max)
            continue;
        *tab = '\0';
        caf_strategy_check_problem *p = &problems[(*count)++];
        snprintf(p->parameter, sizeof p->parameter, "%s", line);
        snprintf(p->message, sizeof p->message, "%s", tab + 1);
    }
    fclose(in);
}

caf_status caf_strategy_plugin_check(const char *path, const char *name, const json_t *parameters,
                                     const char *granularity, caf_strategy_check_problem *problems, size_t max,
                                     size_t *count, caf_error *err)
{
    *count = 0;
    int fds[2];
    if (pipe(fds) != 0)
        return caf_error_set(err, CAF_ERR_IO, "strategy %s: cannot make a pipe to check it: %s", name,
                             strerror(errno));
    fflush(NULL); /* the child must not write the parent's buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return caf_error_set(err, CAF_ERR_IO, "strategy %s: cannot start a process to check it: %s", name,
                             strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        /* The caller's handlers (a test framework's, say) must not turn the plugin's crash into something
         * else: the parent reads the signal from the exit status. */
        static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM};
        for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
            signal(crash_signals[i], SIG_DFL);
        alarm(CHECK_TIMEOUT_S);
        child_check(fds[1], path, name, parameters, granularity);
        _exit(0);
    }
    close(fds[1]);
    read_problems(fds[0], problems, max, count);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status) && *count < max) {
        caf_strategy_check_problem *p = &problems[(*count)++];
        p->parameter[0] = '\0';
        if (WTERMSIG(status) == SIGALRM)
            snprintf(p->message, sizeof p->message, "strategy plugin %s (%s) did not answer within %d s of loading",
                     name, path, CHECK_TIMEOUT_S);
        else
            snprintf(p->message, sizeof p->message, "strategy plugin %s (%s) crashed while being checked: %s",
                     name, path, strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && *count < max) {
        caf_strategy_check_problem *p = &problems[(*count)++];
        p->parameter[0] = '\0';
        snprintf(p->message, sizeof p->message, "strategy plugin %s (%s) exited with status %d while being checked",
                 name, path, WEXITSTATUS(status));
    }
    return CAF_OK;
}
