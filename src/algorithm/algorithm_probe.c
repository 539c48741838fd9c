/* Probing an algorithm plugin without trusting it: the plugin is loaded in a child process, which
 * describes every algorithm it holds (name, collector, descriptor version, hooks, or why it cannot be
 * used) as JSON over a pipe. A plugin that crashes, hangs or exits while loading ends only the child; the
 * caller gets an error saying how. `caf config check` uses it so that a missing hook is found before any
 * execution. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"

json_t *caf_algorithm_hooks_json(const caf_algorithm_descriptor *d)
{
    json_t *hooks = json_array();
    static const char *const names[] = {"calibrate", "boundary_setup", "is_boundary_required", "boundary_teardown",
                                        "setup_experiment", "pre_algorithm"};
    const bool has[] = {d->calibrate != NULL, d->boundary_setup != NULL, d->is_boundary_required != NULL,
                        d->boundary_teardown != NULL, d->setup_experiment != NULL, d->pre_algorithm != NULL};
    for (size_t i = 0; hooks && i < sizeof names / sizeof *names; i++)
        if (has[i])
            json_array_append_new(hooks, json_string(names[i]));
    return hooks;
}

/* In the child: what the plugin holds, as JSON text on fd. */
static _Noreturn void probe_child(const char *plugin, const char *search_path, int fd)
{
    /* A crash must end the child with its signal, whatever handlers the caller (or a sanitizer) set. */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        signal(fatal[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    /* the plugin's and the loader's chatter is not the caller's output */
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
        close(null_fd);
    }
    caf_log_set_level(CAF_LOG_ERROR);
    if (search_path)
        setenv("CAF_PLUGIN_PATH", search_path, 1);
    json_t *out = json_object();
    const caf_algorithm_descriptor *const *list;
    void *handle;
    caf_error err = {0};
    if (caf_algorithm_plugin_list(plugin, &list, &handle, &err) != CAF_OK) {
        json_object_set_new(out, "error", json_string(err.message));
    } else {
        json_t *algorithms = json_array();
        for (size_t i = 0; list[i]; i++) {
            const caf_algorithm_descriptor *d = list[i];
            json_t *a = json_pack("{s:s, s:s, s:i, s:o}", "name", d->name ? d->name : "", "collector",
                                  d->collector ? d->collector : "", "abi_version", (int)d->abi_version, "hooks",
                                  caf_algorithm_hooks_json(d));
            caf_algorithm *alg = NULL;
            caf_error why = {0};
            /* opening checks the descriptor and its parameter declarations as a run would */
            if (caf_algorithm_open(plugin, d->name, &alg, &why) != CAF_OK)
                json_object_set_new(a, "error", json_string(why.message));
            caf_algorithm_close(alg);
            json_array_append_new(algorithms, a);
        }
        json_object_set_new(out, "algorithms", algorithms);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    size_t left = text ? strlen(text) : 0;
    for (const char *p = text; left > 0;) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    _exit(text && left == 0 ? 0 : 1); /* no unloading: a misbehaving plugin could still crash there */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

caf_status caf_algorithm_plugin_probe(const char *plugin, const char *search_path, double timeout_s, json_t **out,
                                      caf_error *err)
{
    *out = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return caf_error_errno(err, errno, "algorithm plugin %s: cannot create a pipe", plugin);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return caf_error_errno(err, errno, "algorithm plugin %s: cannot fork", plugin);
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(plugin, search_path, fds[1]);
    }
    close(fds[1]);
    char *text = NULL;
    size_t size = 0, cap = 0;
    bool timed_out = false;
    double deadline = now_s() + (timeout_s > 0 ? timeout_s : 30);
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int ready = poll(&p, 1, (int)(left * 1000) + 1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue;
        if (cap - size < 4096) {
            char *grown = realloc(text, cap ? cap * 2 : 8192);
            if (!grown)
                break;
            text = grown;
            cap = cap ? cap * 2 : 8192;
        }
        ssize_t n = read(fds[0], text + size, cap - size - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size += (size_t)n;
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    caf_status rc = CAF_OK;
    if (timed_out)
        rc = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm plugin %s: loading it did not finish within %g s", plugin,
                           timeout_s);
    else if (WIFSIGNALED(status))
        rc = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm plugin %s: loading it crashed (signal %d, %s)", plugin,
                           WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !text)
        rc = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm plugin %s: loading it ended the process (exit status %d)",
                           plugin, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (rc == CAF_OK) {
        text[size] = '\0';
        json_t *j = json_loads(text, 0, NULL);
        const char *why = json_string_value(json_object_get(j, "error"));
        if (!json_is_object(j))
            rc = caf_error_set(err, CAF_ERR_PLUGIN, "algorithm plugin %s: loading it wrote no description", plugin);
        else if (why) /* the loader refused it: not an algorithm plugin (or not one this caf can load) */
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s", why);
        if (rc == CAF_OK)
            *out = json_incref(json_object_get(j, "algorithms"));
        json_decref(j);
    }
    free(text);
    return rc;
}
