/* Running an external program with captured output and a time-out. The child gets its own process
 * group so that a time-out kills whatever it started too (a hanging sbatch may have forked a helper). */
#include "caf/process.h"

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

extern char **environ;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growing buffer for one captured stream. */
struct capture {
    char *data;
    size_t size, cap;
};

static int capture_append(struct capture *c, const char *bytes, size_t n)
{
    if (c->size + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->size + n + 1)
            cap *= 2;
        char *grown = realloc(c->data, cap);
        if (!grown)
            return -1;
        c->data = grown;
        c->cap = cap;
    }
    memcpy(c->data + c->size, bytes, n);
    c->size += n;
    c->data[c->size] = '\0';
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* In the child: wire the pipes, change folder, add the environment and exec; on failure report errno
 * through report_fd (close-on-exec, so a successful exec closes it silently). */
static void child_exec(char *const argv[], const caf_process_options *opts, int in_fd, int out_fd, int err_fd,
                       int report_fd)
{
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
        goto fail;
    if (opts && opts->cwd && chdir(opts->cwd) != 0)
        goto fail;
    if (opts && opts->env)
        for (char *const *e = opts->env; *e; e++)
            if (putenv(*e) != 0)
                goto fail;
    execvp(argv[0], argv);
fail:;
    int code = errno;
    ssize_t ignored = write(report_fd, &code, sizeof code);
    (void)ignored;
    _exit(127);
}

static caf_status start_failure(caf_error *err, const char *program, int code, const char *cwd)
{
    if (code == ENOENT && !(cwd && access(cwd, F_OK) != 0))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: command not found", program);
    return caf_error_errno(err, code, "%s: cannot start", program);
}

caf_status caf_process_run(char *const argv[], const caf_process_options *opts, caf_process_result *result,
                           caf_error *err)
{
    memset(result, 0, sizeof *result);
    if (!argv || !argv[0])
        return caf_error_set(err, CAF_ERR_INVALID, "caf_process_run: empty argv");
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, rep_pipe[2] = {-1, -1};
    int in_null = -1;
    caf_status rc = CAF_OK;
    struct capture out = {0}, errc = {0};
    bool has_stdin = opts && opts->stdin_text;
    if ((has_stdin ? pipe2(in_pipe, O_CLOEXEC) : 0) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
        pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(rep_pipe, O_CLOEXEC) != 0) {
        rc = caf_error_errno(err, errno, "%s: pipe", argv[0]);
        goto done;
    }
    if (!has_stdin) {
        in_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in_null < 0) {
            rc = caf_error_errno(err, errno, "/dev/null");
            goto done;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = caf_error_errno(err, errno, "%s: fork", argv[0]);
        goto done;
    }
    if (pid == 0)
        child_exec(argv, opts, has_stdin ? in_pipe[0] : in_null, out_pipe[1], err_pipe[1], rep_pipe[1]);
    setpgid(pid, pid); /* also here, so that a kill right after fork reaches the group */
    close_fd(&in_pipe[0]);
    close_fd(&in_null);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    close_fd(&rep_pipe[1]);

    int start_errno = 0;
    ssize_t got;
    do
        got = read(rep_pipe[0], &start_errno, sizeof start_errno);
    while (got < 0 && errno == EINTR);
    close_fd(&rep_pipe[0]);
    if (got == (ssize_t)sizeof start_errno) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        rc = start_failure(err, argv[0], start_errno, opts ? opts->cwd : NULL);
        goto done;
    }

    const char *to_write = has_stdin ? opts->stdin_text : NULL;
    size_t left = has_stdin ? (opts->stdin_size ? opts->stdin_size : strlen(opts->stdin_text)) : 0;
    if (has_stdin && left == 0)
        close_fd(&in_pipe[1]);
    if (in_pipe[1] >= 0)
        fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    double timeout = opts ? opts->timeout_s : 0;
    double deadline = timeout > 0 ? monotonic_now() + timeout : 0;
    double kill_at = 0;
    bool timed_out = false;
    bool alloc_failed = false;
    while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
        struct pollfd fds[3];
        int nfds = 0;
        int idx_out = -1, idx_err = -1, idx_in = -1;
        if (out_pipe[0] >= 0)
            fds[idx_out = nfds++] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
        if (err_pipe[0] >= 0)
            fds[idx_err = nfds++] = (struct pollfd){.fd = err_pipe[0], .events = POLLIN};
        if (in_pipe[1] >= 0)
            fds[idx_in = nfds++] = (struct pollfd){.fd = in_pipe[1], .events = POLLOUT};
        int wait_ms = -1;
        if (deadline > 0) {
            double now = monotonic_now();
            double until = kill_at > 0 ? kill_at : deadline;
            if (now >= until) {
                if (!timed_out) {
                    timed_out = true;
                    kill(-pid, SIGTERM);
                    kill_at = now + 2.0;
                    deadline = kill_at;
                    continue;
                }
                kill(-pid, SIGKILL);
                break; /* its output may be held open by a grandchild that ignores us: stop reading */
            }
            wait_ms = (int)((until - now) * 1000.0) + 1;
        }
        int n = poll(fds, (nfds_t)nfds, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        char buf[8192];
        if (idx_in >= 0 && fds[idx_in].revents) {
            ssize_t w = write(in_pipe[1], to_write, left);
            if (w > 0) {
                to_write += w;
                left -= (size_t)w;
            }
            if (left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
                close_fd(&in_pipe[1]);
        }
        int idx[2] = {idx_out, idx_err};
        int *fdp[2] = {&out_pipe[0], &err_pipe[0]};
        struct capture *cap[2] = {&out, &errc};
        for (int k = 0; k < 2; k++) {
            if (idx[k] < 0 || !fds[idx[k]].revents)
                continue;
            ssize_t r = read(*fdp[k], buf, sizeof buf);
            if (r > 0) {
                if (capture_append(cap[k], buf, (size_t)r) != 0)
                    alloc_failed = true;
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close_fd(fdp[k]);
            }
        }
    }
    close_fd(&in_pipe[1]);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, timed_out ? WNOHANG : 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (w == 0) { /* timed out and still alive after SIGTERM: make sure */
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
    }
    if (WIFEXITED(status)) {
        result->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result->signal = WTERMSIG(status);
        result->exit_code = 128 + result->signal;
    }
    result->timed_out = timed_out;
    if (alloc_failed || (!out.data && capture_append(&out, "", 0) != 0) ||
        (!errc.data && capture_append(&errc, "", 0) != 0)) {
        rc = caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory capturing its output", argv[0]);
        goto done;
    }
    result->out_text = out.data;
    result->out_size = out.size;
    result->err_text = errc.data;
    result->err_size = errc.size;
    out.data = errc.data = NULL;
    if (timed_out)
        rc = caf_error_set(err, CAF_ERR_TIMEOUT, "%s: no answer within %.0f s (killed)", argv[0], timeout);
done:
    free(out.data);
    free(errc.data);
    close_fd(&in_pipe[0]);
    close_fd(&in_pipe[1]);
    close_fd(&in_null);
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    close_fd(&rep_pipe[0]);
    close_fd(&rep_pipe[1]);
    if (rc != CAF_OK && rc != CAF_ERR_TIMEOUT)
        memset(result, 0, sizeof *result);
    return rc;
}

void caf_process_result_free(caf_process_result *result)
{
    if (!result)
        return;
    free(result->out_text);
    free(result->err_text);
    memset(result, 0, sizeof *result);
}

const char *caf_process_first_line(const char *text, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!text)
        return buf;
    while (*text == '\n' || *text == ' ')
        text++;
    size_t n = strcspn(text, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return buf;
}
