/* The local backend: each subjob is `bash run.sh` in its own session (so that one kill of the process
 * group removes everything it started), at most one per core at a time, with no daemon. A batch id is
 * "PID:START" with START the process start time from /proc/PID/stat, so that a restarted caf can tell
 * its subjob from an unrelated process that got the same pid, and re-attach to it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caf/backend.h"
#include "caf/file.h"

/* A subjob process this caf started (and so must reap). */
struct local_proc {
    pid_t pid;
    unsigned long long start;
    int pidfd;  /* readable once the process exits; -1 if the kernel has none */
    bool ended; /* reaped */
};

struct local_state {
    struct local_proc *procs;
    size_t n, cap;
    /* how subjobs start: posix_spawn (a vfork, cheap however large caf is) into a new session, with
     * default signal handling and stdio on /dev/null (the wrapper redirects its own output) */
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
};

extern char **environ;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the state letter and start time (clock ticks after boot) of pid; false if it does not exist. */
static bool proc_stat(pid_t pid, char *state, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return false;
    /* after ") ": field 3 is the state, field 22 the start time */
    char st = 0;
    unsigned long long t = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 3)
            st = tok[0];
        if (field == 22) {
            t = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (field != 22)
        return false;
    *state = st;
    *start = t;
    return true;
}

/* Seconds the process that started at start (clock ticks after boot) has been running. */
static double proc_age(unsigned long long start)
{
    double uptime = 0;
    FILE *f = fopen("/proc/uptime", "re");
    if (f) {
        if (fscanf(f, "%lf", &uptime) != 1)
            uptime = 0;
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    return uptime - (double)start / (double)(hz > 0 ? hz : 100);
}

static bool parse_id(const char *id, pid_t *pid, unsigned long long *start)
{
    int p = 0;
    unsigned long long s = 0;
    if (!id || sscanf(id, "%d:%llu", &p, &s) != 2 || p <= 1)
        return false;
    *pid = p;
    *start = s;
    return true;
}

static struct local_proc *find_proc(struct local_state *st, pid_t pid, unsigned long long start)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->procs[i].pid == pid && st->procs[i].start == start)
            return &st->procs[i];
    return NULL;
}

static void mark_ended(struct local_proc *p)
{
    p->ended = true;
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
}

/* True while the process (pid, start) is alive; reaps it if it is our child. */
static bool alive(struct local_state *st, pid_t pid, unsigned long long start)
{
    struct local_proc *p = find_proc(st, pid, start);
    if (p) {
        if (p->ended)
            return false;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            mark_ended(p);
            return false;
        }
        return true;
    }
    char state;
    unsigned long long now_start;
    return proc_stat(pid, &state, &now_start) && now_start == start && state != 'Z' && state != 'X';
}

/* Drops reaped processes from the table so it does not grow with the number of subjobs. */
static void compact(struct local_state *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++)
        if (!st->procs[i].ended)
            st->procs[k++] = st->procs[i];
    st->n = k;
}

static caf_status local_open(caf_backend *backend, const json_t *settings, caf_error *err)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int slots = cores > 0 ? (int)cores : 1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)settings, key, v)
    {
        if (strcmp(key, "slots") != 0)
            return caf_error_set(err, CAF_ERR_INVALID, "backend_settings: unknown key '%s' (local knows 'slots')",
                                 key);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
            return caf_error_set(err, CAF_ERR_INVALID, "backend_settings: 'slots' must be a positive integer");
        slots = (int)json_integer_value(v);
    }
    struct local_state *st = calloc(1, sizeof *st);
    if (!st)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGQUIT);
    if (posix_spawnattr_init(&st->attr) != 0 || posix_spawn_file_actions_init(&st->actions) != 0 ||
        posix_spawnattr_setflags(&st->attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) !=
            0 ||
        posix_spawnattr_setsigmask(&st->attr, &none) != 0 || posix_spawnattr_setsigdefault(&st->attr, &defaults) != 0 ||
        posix_spawn_file_actions_addopen(&st->actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&st->actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&st->actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0) != 0) {
        free(st);
        return caf_error_set(err, CAF_ERR_NOMEM, "cannot prepare process spawning");
    }
    backend->state = st;
    backend->max_active = slots;
    backend->poll_interval_s = 0.5;
    backend->exit_file_grace_s = 2;
    return CAF_OK;
}

static void local_close(caf_backend *backend)
{
    struct local_state *st = backend->state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        if (st->procs[i].pidfd >= 0)
            close(st->procs[i].pidfd);
    posix_spawnattr_destroy(&st->attr);
    posix_spawn_file_actions_destroy(&st->actions);
    free(st->procs);
    free(st);
    backend->state = NULL;
}

static caf_status local_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    struct local_state *st = backend->state;
    compact(st);
    if (st->n + n > st->cap) {
        size_t cap = (st->n + n) * 2;
        struct local_proc *grown = realloc(st->procs, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        st->procs = grown;
        st->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        caf_subjob *sub = subs[i];
        pid_t pid;
        char *argv[] = {"bash", sub->script_path, NULL};
        int e = posix_spawn(&pid, "/bin/bash", &st->actions, &st->attr, argv, environ);
        if (e != 0)
            return caf_error_errno(err, e, "job %s, subjob %zu: cannot start /bin/bash", job->name, sub->index);
        char state;
        unsigned long long start = 0;
        if (!proc_stat(pid, &state, &start))
            start = 0;
        struct local_proc *p = &st->procs[st->n++];
        *p = (struct local_proc){.pid = pid, .start = start, .pidfd = (int)syscall(SYS_pidfd_open, pid, 0)};
        char id[64];
        snprintf(id, sizeof id, "%d:%llu", (int)pid, start);
        free(sub->batch_id);
        sub->batch_id = strdup(id);
        if (!sub->batch_id) {
            kill(-pid, SIGKILL);
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
    }
    return CAF_OK;
}

/* Kills the process group of pid (the subjob and all it started) and reaps it if it is ours. */
static void kill_group(struct local_state *st, pid_t pid, unsigned long long start, int sig)
{
    kill(-pid, sig);
    struct local_proc *p = find_proc(st, pid, start);
    if (p && !p->ended && sig == SIGKILL && waitpid(pid, NULL, 0) == pid)
        mark_ended(p);
}

static caf_status local_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_batch_report *reports, caf_error *err)
{
    (void)job;
    (void)err;
    struct local_state *st = backend->state;
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        reports[i] = (caf_batch_report){.state = CAF_BATCH_UNKNOWN};
        if (!parse_id(subs[i]->batch_id, &pid, &start))
            continue;
        if (!alive(st, pid, start)) {
            reports[i].state = CAF_BATCH_FINISHED;
            continue;
        }
        if (subs[i]->time_s > 0 && proc_age(start) > (double)subs[i]->time_s) {
            kill_group(st, pid, start, SIGKILL);
            reports[i].state = CAF_BATCH_FAILED;
            snprintf(reports[i].reason, sizeof reports[i].reason, "exceeded its time limit of %ld s (killed)",
                     subs[i]->time_s);
            continue;
        }
        reports[i].state = CAF_BATCH_RUNNING;
    }
    compact(st);
    return CAF_OK;
}

/* Sends sig (unless 0) to the process group of every subjob still alive; returns how many are. */
static size_t signal_alive(struct local_state *st, caf_subjob **subs, size_t n, int sig)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        if (parse_id(subs[i]->batch_id, &pid, &start) && alive(st, pid, start)) {
            count++;
            if (sig)
                kill(-pid, sig);
        }
    }
    return count;
}

static caf_status local_cancel(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    (void)job;
    (void)err;
    struct local_state *st = backend->state;
    /* SIGTERM first so that commands may clean up, SIGKILL for whatever is left after 3 s */
    signal_alive(st, subs, n, SIGTERM);
    double deadline = monotonic_now() + 3.0;
    while (signal_alive(st, subs, n, 0) > 0 && monotonic_now() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        /* the group may outlive its leader (a command's background children): kill it either way */
        if (parse_id(subs[i]->batch_id, &pid, &start)) {
            char state;
            unsigned long long s;
            bool recycled = proc_stat(pid, &state, &s) && s != start; /* the pid is someone else's now */
            if (find_proc(st, pid, start) || !recycled)
                kill_group(st, pid, start, SIGKILL);
        }
    }
    compact(st);
    return CAF_OK;
}

static size_t local_wake_fds(caf_backend *backend, struct pollfd *fds, size_t max)
{
    struct local_state *st = backend->state;
    size_t n = 0;
    for (size_t i = 0; i < st->n && n < max; i++)
        if (!st->procs[i].ended && st->procs[i].pidfd >= 0)
            fds[n++] = (struct pollfd){.fd = st->procs[i].pidfd, .events = POLLIN};
    return n;
}

static void local_wait(caf_backend *backend, double timeout_s)
{
    struct pollfd fds[256];
    nfds_t nfds = (nfds_t)local_wake_fds(backend, fds, 256);
    int ms = (int)(timeout_s * 1000.0);
    if (nfds == 0 && ms > 50)
        ms = 50; /* no pidfds (re-attached processes or an old kernel): poll often */
    poll(fds, nfds, ms); /* EINTR (Ctrl-C) simply ends the wait early */
}

const caf_backend_ops caf_backend_ops_local = {
    .name = "local",
    .summary = "a pool of processes on this machine (one per core by default)",
    .open = local_open,
    .submit = local_submit,
    .poll = local_poll,
    .cancel = local_cancel,
    .wait = local_wait,
    .wake_fds = local_wake_fds,
    .close = local_close,
};
