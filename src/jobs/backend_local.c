/* The local backend: subjobs run on this machine, at most one per core at a time, with no daemon. A
 * shepherd process (local_shepherd.h), started on the first submission, starts each subjob's command
 * directly (no wrapper script, unless the job has setup lines or output patterns, which the wrapper script
 * handles), in its own session (so that one kill of the process group removes everything it started), reaps
 * it and writes its exit-code file, and outlives caf so that nothing is lost when caf ends first. A batch
 * id is "PID:START" with START the process start time from /proc/PID/stat, so that a restarted caf can tell
 * its subjob from an unrelated process that got the same pid, and re-attach to it; "busy" when another copy
 * of the subjob held its lock, so nothing was started (the scheduler waits for that copy's exit code). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "caf/backend.h"
#include "caf/wrapper_script.h"
#include "jobs/local_shepherd.h"

/* A subjob process: one this caf's shepherd started (ours: it tells us when it ends), or one found running
 * from an earlier caf (watched through a pidfd and /proc). */
struct local_proc {
    pid_t pid;
    unsigned long long start;
    bool ours;          /* started by the shepherd of generation gen, which reports its end */
    unsigned gen;
    bool ended;
    int pidfd;        /* foreign processes only; -1 if the kernel has none */
    double killed_at; /* when caf killed it for its time limit (monotonic), until that failure is reported */
};

struct local_state {
    struct local_proc *procs;
    size_t n, cap;
    local_shepherd shepherd;
    unsigned gen; /* shepherds started so far (a new one when the last one died) */
};

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static bool grow(struct local_state *st, size_t more)
{
    if (st->n + more <= st->cap)
        return true;
    size_t cap = (st->n + more) * 2;
    struct local_proc *grown = realloc(st->procs, cap * sizeof *grown);
    if (!grown)
        return false;
    st->procs = grown;
    st->cap = cap;
    return true;
}

static void mark_ended(struct local_proc *p)
{
    p->ended = true;
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
}

static bool proc_running(pid_t pid, unsigned long long start)
{
    char state;
    unsigned long long now_start;
    return shepherd_proc_stat(pid, &state, &now_start) && now_start == start && state != 'Z' && state != 'X';
}

/* Applies one message that is not an answer to a spawn (an exit). */
static void apply_exit(struct local_state *st, const shepherd_message *m)
{
    struct local_proc *p = m->kind == SHEPHERD_EXITED ? find_proc(st, m->pid, m->start) : NULL;
    if (p)
        mark_ended(p);
}

/* Takes in every message the shepherd sent so far. When the shepherd is gone, our processes are checked
 * through /proc instead (their exit codes are then never recorded: the scheduler fails them after its
 * grace period, as it does a wrapper script killed before writing its exit code). */
static void drain(struct local_state *st)
{
    shepherd_message m;
    int got;
    while ((got = shepherd_next(&st->shepherd, false, &m)) == 1)
        apply_exit(st, &m);
}

/* True while the process (pid, start) is alive. */
static bool alive(struct local_state *st, pid_t pid, unsigned long long start)
{
    struct local_proc *p = find_proc(st, pid, start);
    if (p && p->ended)
        return false;
    if (p && p->ours && p->gen == st->gen && st->shepherd.fd >= 0)
        return true; /* its shepherd is there to tell */
    bool running = proc_running(pid, start);
    if (!running && p)
        mark_ended(p);
    if (running && !p && grow(st, 1)) /* first seen: watch it through a pidfd */
        st->procs[st->n++] = (struct local_proc){
            .pid = pid, .start = start, .pidfd = (int)syscall(SYS_pidfd_open, pid, 0)};
    return running;
}

/* Drops ended processes from the table so it does not grow with the number of subjobs. */
static void compact(struct local_state *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++)
        if (!st->procs[i].ended || st->procs[i].killed_at > 0)
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
    st->shepherd.fd = -1;
    backend->state = st;
    backend->max_active = slots;
    backend->poll_interval_s = 0.5;
    backend->exit_file_grace_s = 2;
    backend->starts_commands = true;
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
    shepherd_close(&st->shepherd); /* it finishes the subjobs still running on its own */
    free(st->procs);
    free(st);
    backend->state = NULL;
}

/* The words of sub's command (direct) or `bash run.sh`, and the job's environment as NAME=VALUE. */
typedef struct spawn_words {
    char **argv;
    size_t argc;
    char **env;
    size_t envc;
} spawn_words;

static void spawn_words_free(spawn_words *w)
{
    free(w->argv); /* the words belong to the job */
    for (size_t i = 0; i < w->envc; i++)
        free(w->env[i]);
    free(w->env);
}

/* The wrapper script still runs subjobs whose job has setup lines (shell code) or output patterns (shell
 * globs copied after the command). */
static bool runs_directly(const caf_job *job)
{
    return !caf_job_needs_wrapper_script(job);
}

static bool spawn_words_make(const caf_job *job, const caf_subjob *sub, spawn_words *w)
{
    *w = (spawn_words){0};
    if (!runs_directly(job)) {
        w->argv = calloc(3, sizeof *w->argv);
        if (!w->argv)
            return false;
        w->argv[0] = "bash";
        w->argv[1] = sub->script_path;
        w->argc = 2;
        return true;
    }
    size_t n = 1 + job->args.count + sub->args.count + sub->input_files.count;
    w->argv = calloc(n + 1, sizeof *w->argv);
    w->env = calloc(job->env_names.count + 1, sizeof *w->env);
    if (!w->argv || !w->env)
        return false;
    w->argv[w->argc++] = job->command;
    for (size_t i = 0; i < job->args.count; i++)
        w->argv[w->argc++] = job->args.items[i];
    for (size_t i = 0; i < sub->args.count; i++)
        w->argv[w->argc++] = sub->args.items[i];
    for (size_t i = 0; i < sub->input_files.count; i++)
        w->argv[w->argc++] = sub->input_files.items[i];
    for (size_t i = 0; i < job->env_names.count; i++) {
        if (asprintf(&w->env[w->envc], "%s=%s", job->env_names.items[i], job->env_values.items[i]) < 0)
            return false;
        w->envc++;
    }
    return true;
}

static caf_status local_submit(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                               caf_error *err)
{
    struct local_state *st = backend->state;
    drain(st);
    compact(st);
    if (!grow(st, n))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st->shepherd.fd < 0) {
        caf_status rc = shepherd_start(&st->shepherd, err);
        if (rc != CAF_OK)
            return rc;
        st->gen++;
    }
    /* all requests first, then the answers: the shepherd starts each while caf sends the next */
    size_t sent = 0;
    caf_status rc = CAF_OK;
    for (; sent < n && rc == CAF_OK; sent++) {
        spawn_words w;
        if (!spawn_words_make(job, subs[sent], &w)) {
            spawn_words_free(&w);
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        shepherd_spawn req = {.direct = runs_directly(job), .dir = subs[sent]->dir,
                              .exit_code_file = subs[sent]->exit_code_file, .argv = w.argv, .argc = w.argc,
                              .env = w.env, .envc = w.envc};
        rc = shepherd_send_spawn(&st->shepherd, &req, err);
        spawn_words_free(&w);
        if (rc != CAF_OK)
            break;
    }
    for (size_t i = 0; i < sent;) {
        shepherd_message m;
        if (shepherd_next(&st->shepherd, true, &m) < 0) {
            if (rc == CAF_OK)
                rc = caf_error_set(err, CAF_ERR_IO, "job %s: the local backend's shepherd process ended unexpectedly",
                                   job->name);
            break;
        }
        if (m.kind == SHEPHERD_EXITED) {
            apply_exit(st, &m);
            continue;
        }
        caf_subjob *sub = subs[i++];
        if (m.kind == SHEPHERD_REFUSED) {
            if (rc == CAF_OK)
                rc = caf_error_set(err, CAF_ERR_IO, "job %s, subjob %zu: %s", job->name, sub->index, m.text);
            continue;
        }
        char id[64] = "busy";
        if (m.kind == SHEPHERD_STARTED) {
            snprintf(id, sizeof id, "%d:%llu", (int)m.pid, m.start);
            st->procs[st->n++] = (struct local_proc){.pid = m.pid, .start = m.start, .ours = true, .gen = st->gen, .pidfd = -1};
        }
        free(sub->batch_id);
        sub->batch_id = strdup(id);
        if (!sub->batch_id && m.kind == SHEPHERD_STARTED)
            shepherd_send_kill(&st->shepherd, m.pid, m.start, SIGKILL, NULL);
        if (!sub->batch_id && rc == CAF_OK)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return rc;
}

/* True while some process of the group pid leads (or led) is alive: its leader may be reaped before the
 * rest of the group has died of the same signal. */
static bool group_alive(pid_t pid)
{
    return kill(-pid, 0) == 0 || errno == EPERM;
}

/* Kills the process group of (pid, start): through the shepherd when it is ours (so that no exit code is
 * recorded, as for a wrapper script killed with its command), else directly. */
static void kill_group(struct local_state *st, pid_t pid, unsigned long long start, int sig)
{
    struct local_proc *p = find_proc(st, pid, start);
    if (p && p->ours && p->gen == st->gen && !p->ended && st->shepherd.fd >= 0 &&
        shepherd_send_kill(&st->shepherd, pid, start, sig, NULL) == CAF_OK)
        return;
    kill(-pid, sig);
}

static caf_status local_poll(caf_backend *backend, const caf_job *job, caf_subjob **subs, size_t n,
                             caf_batch_report *reports, caf_error *err)
{
    (void)job;
    (void)err;
    struct local_state *st = backend->state;
    drain(st);
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        reports[i] = (caf_batch_report){.state = CAF_BATCH_UNKNOWN};
        if (subs[i]->batch_id && strcmp(subs[i]->batch_id, "busy") == 0) {
            reports[i].state = CAF_BATCH_FINISHED; /* nothing started: the lock's holder decides */
            continue;
        }
        if (!parse_id(subs[i]->batch_id, &pid, &start))
            continue;
        struct local_proc *p;
        if (!alive(st, pid, start)) {
            p = find_proc(st, pid, start);
            if (p && p->killed_at > 0 && group_alive(pid) && monotonic_now() - p->killed_at < 10) {
                kill(-pid, SIGKILL);
                reports[i].state = CAF_BATCH_RUNNING;
                continue;
            }
            reports[i].state = CAF_BATCH_FINISHED;
            if (p && p->killed_at > 0) {
                p->killed_at = 0; /* reported: compact may drop it */
                reports[i].state = CAF_BATCH_FAILED;
                snprintf(reports[i].reason, sizeof reports[i].reason, "exceeded its time limit of %ld s (killed)",
                         subs[i]->time_s);
            }
            continue;
        }
        reports[i].state = CAF_BATCH_RUNNING;
        if (subs[i]->time_s > 0 && proc_age(start) > (double)subs[i]->time_s) {
            /* The failure is reported once every process of the attempt is gone, so that the retry never
             * finds the subjob's lock still held by the attempt it replaces. */
            p = find_proc(st, pid, start);
            if (!p || p->killed_at == 0)
                kill_group(st, pid, start, SIGKILL);
            if (p && p->killed_at == 0)
                p->killed_at = monotonic_now();
            if (!p) {
                reports[i].state = CAF_BATCH_FAILED;
                snprintf(reports[i].reason, sizeof reports[i].reason,
                         "exceeded its time limit of %ld s (killed)", subs[i]->time_s);
            }
        }
    }
    compact(st);
    return CAF_OK;
}

/* Sends sig (unless 0) to the process group of every subjob still alive; returns how many are. */
static size_t signal_alive(struct local_state *st, caf_subjob **subs, size_t n, int sig)
{
    drain(st);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        if (parse_id(subs[i]->batch_id, &pid, &start) && alive(st, pid, start)) {
            count++;
            if (sig)
                kill_group(st, pid, start, sig);
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
    signal_alive(st, subs, n, SIGKILL);
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        unsigned long long start;
        /* the group may outlive its leader (a command's background children): kill it either way */
        if (parse_id(subs[i]->batch_id, &pid, &start)) {
            char state;
            unsigned long long s;
            bool recycled = shepherd_proc_stat(pid, &state, &s) && s != start; /* the pid is someone else's now */
            if (!recycled)
                kill(-pid, SIGKILL);
        }
    }
    /* returns once the killed processes are gone (a moment for the shepherd to reap them) */
    deadline = monotonic_now() + 2.0;
    while (signal_alive(st, subs, n, 0) > 0 && monotonic_now() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    compact(st);
    return CAF_OK;
}

static size_t local_wake_fds(caf_backend *backend, struct pollfd *fds, size_t max)
{
    struct local_state *st = backend->state;
    size_t n = 0;
    bool waiting_for_ours = false; /* the shepherd's socket says when one of ours ends */
    for (size_t i = 0; i < st->n && !waiting_for_ours; i++)
        waiting_for_ours = st->procs[i].ours && st->procs[i].gen == st->gen && !st->procs[i].ended;
    if (waiting_for_ours && st->shepherd.fd >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = st->shepherd.fd, .events = POLLIN};
    for (size_t i = 0; i < st->n && n < max; i++)
        if (!st->procs[i].ended && st->procs[i].pidfd >= 0)
            fds[n++] = (struct pollfd){.fd = st->procs[i].pidfd, .events = POLLIN};
    return n;
}

static void local_wait(caf_backend *backend, double timeout_s)
{
    struct local_state *st = backend->state;
    struct pollfd fds[256];
    nfds_t nfds = (nfds_t)local_wake_fds(backend, fds, 256);
    int ms = (int)(timeout_s * 1000.0);
    bool blind = false; /* a process we cannot be woken by: re-attached without a pidfd, or ours without shepherd */
    for (size_t i = 0; i < st->n && !blind; i++)
        blind = (!st->procs[i].ended && st->procs[i].pidfd < 0 &&
                 !(st->procs[i].ours && st->procs[i].gen == st->gen && st->shepherd.fd >= 0)) ||
                (st->procs[i].ended && st->procs[i].killed_at > 0); /* waiting for the rest of its group */
    if ((nfds == 0 || blind) && ms > 50)
        ms = 50;
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
