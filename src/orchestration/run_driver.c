/* An algorithm driver: a child process forked from the run loop that runs one calibration's algorithm
 * phase (which forks one runner child per execution) and reports its progress to the loop as JSON lines
 * over a pipe, so the loop goes on stepping every other calibration while algorithms run or hang. The
 * loop alone writes the state database: the driver never touches the parent's SQLite connection, and it
 * ends with _exit so nothing of the parent (atexit handlers, stdio buffers) runs twice.
 *
 * A driver must not outlive the loop: it asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG, checked
 * against a parent that died before the request), and a write to the pipe of a dead loop kills it too
 * (SIGPIPE). The runner's execution children die with the driver the same way. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/log.h"
#include "orchestration/run_internal.h"

/* Only the pipe's write end stays open in the driver: the loop's lock, its SQLite files and its subjobs'
 * pidfds are the loop's alone (an inherited lock descriptor would hold caf.lock after the loop died). */
static void close_other_fds(int keep)
{
    bool below = keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0;
    if (below && close_range((unsigned)keep + 1, ~0U, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? (int)max : 65536); fd++)
        if (fd != keep)
            close(fd);
}

caf_status run_driver_start(run_driver **out, const char *name, run_driver_body body, void *arg, caf_error *err)
{
    *out = NULL;
    run_driver *d = calloc(1, sizeof *d);
    if (!d)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(d);
        return caf_error_errno(err, errno, "algorithm driver: pipe");
    }
    fflush(NULL); /* buffered output must not be written twice, once by each process */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        caf_status rc = caf_error_errno(err, errno, "algorithm driver: fork");
        close(fds[0]);
        close(fds[1]);
        free(d);
        return rc;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        /* Ctrl-C reaches the whole foreground group: the loop stops and kills the driver itself, so an
         * interrupted execution is not mistaken for a failed one. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        char title[16]; /* what ps and pgrep show for the driver (and its executions) */
        snprintf(title, sizeof title, "caf-algo %s", name);
        prctl(PR_SET_NAME, title);
        close(fds[0]);
        close_other_fds(fds[1]);
        body(arg, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    d->pid = pid;
    d->fd = fds[0];
#ifdef SYS_pidfd_open
    d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
    d->pidfd = -1;
#endif
    *out = d;
    return CAF_OK;
}

caf_status run_driver_send(int fd, json_t *message)
{
    char *text = message ? json_dumps(message, JSON_COMPACT) : NULL;
    json_decref(message);
    if (!text)
        return CAF_ERR_NOMEM;
    size_t size = strlen(text);
    text[size] = '\n'; /* json_dumps never puts a newline inside a compact document */
    size++;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, text + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(text);
            return CAF_ERR_IO;
        }
        done += (size_t)n;
    }
    free(text);
    return CAF_OK;
}

caf_status run_driver_read(run_driver *d, run_driver_line on_line, void *ctx, caf_error *err)
{
    for (;;) {
        if (d->fd < 0)
            return CAF_OK;
        if (d->cap - d->len < 65536) {
            size_t cap = d->cap ? d->cap * 2 : 131072;
            char *grown = realloc(d->buf, cap);
            if (!grown)
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory reading an algorithm driver");
            d->buf = grown;
            d->cap = cap;
        }
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return CAF_OK;
        if (n <= 0) { /* every writer is gone */
            close(d->fd);
            d->fd = -1;
            return CAF_OK;
        }
        d->len += (size_t)n;
        char *start = d->buf, *nl;
        while ((nl = memchr(start, '\n', d->len - (size_t)(start - d->buf)))) {
            *nl = '\0';
            json_error_t jerr;
            json_t *message = json_loads(start, 0, &jerr);
            caf_status rc = message ? on_line(ctx, message, err)
                                    : caf_error_set(err, CAF_ERR_FORMAT, "algorithm driver: unreadable report: %s",
                                                    jerr.text);
            json_decref(message);
            start = nl + 1;
            if (rc != CAF_OK) {
                d->len = 0;
                return rc;
            }
        }
        d->len -= (size_t)(start - d->buf);
        memmove(d->buf, start, d->len);
    }
}

bool run_driver_exited(run_driver *d)
{
    if (!d->exited && waitpid(d->pid, &d->status, WNOHANG) == d->pid)
        d->exited = true;
    return d->exited;
}

void run_driver_describe_end(const run_driver *d, char *buf, size_t size)
{
    if (WIFSIGNALED(d->status))
        snprintf(buf, size, "the algorithm driver (process %d) was killed by signal %d (%s) before its algorithms "
                 "finished", (int)d->pid, WTERMSIG(d->status), strsignal(WTERMSIG(d->status)));
    else
        snprintf(buf, size, "the algorithm driver (process %d) exited with status %d before its algorithms finished",
                 (int)d->pid, WEXITSTATUS(d->status));
}

size_t run_driver_pollfds(const run_driver *d, struct pollfd *fds)
{
    size_t n = 0;
    if (d->fd >= 0)
        fds[n++] = (struct pollfd){.fd = d->fd, .events = POLLIN};
    if (!d->exited && d->pidfd >= 0)
        fds[n++] = (struct pollfd){.fd = d->pidfd, .events = POLLIN};
    return n;
}

void run_driver_free(run_driver *d)
{
    if (!d)
        return;
    if (!d->exited) {
        kill(d->pid, SIGKILL); /* its execution's runner child follows through its own death signal */
        waitpid(d->pid, &d->status, 0);
    }
    if (d->fd >= 0)
        close(d->fd);
    if (d->pidfd >= 0)
        close(d->pidfd);
    free(d->buf);
    free(d);
}
