/* Running an execution in a child process. The child is forked (not exec'd: the algorithm plugin is
 * loaded in the child only, so a plugin that crashes while loading cannot hurt the caller) and put in its
 * own process group, so that a timeout or a memory overrun kills whatever it started too. The parent
 * reads the pipe while it waits (a large payload would otherwise fill the pipe and block the child) and
 * learns of the child's exit through a pidfd, falling back to polling where there is none. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "algorithm/algorithm_internal.h"
#include "algorithm/runner_internal.h"
#include "caf/localdb.h"
#include "caf/log.h"
#include "caf/python_algorithm.h"

/* RLIMIT_AS cannot be combined with AddressSanitizer, which reserves terabytes of address space for its
 * shadow memory; sanitized builds rely on the resident-memory watch alone. */
#if defined(__SANITIZE_ADDRESS__)
#define CAF_RUNNER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAF_RUNNER_ASAN 1
#endif
#endif
#ifndef CAF_RUNNER_ASAN
#define CAF_RUNNER_ASAN 0
#endif

#define LOG_TAIL_MAX (64u * 1024u)
#define WATCH_INTERVAL_MS 20

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The address-space size (resident false) or resident memory (true) of process pid, in bytes; 0 when
 * unknown. */
static size_t memory_of(pid_t pid, bool resident)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long size = 0, rss = 0;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    return n == 2 ? (size_t)(resident ? rss : size) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* ---- The child ---- */

static const char *child_algorithm_name = "";

static void child_log_sink(caf_log_level level, const char *line, void *userdata)
{
    (void)userdata;
    static const char *const prefixes[] = {"debug: ", "", "warning: ", "error: "};
    fprintf(stderr, "algorithm %s: %s%s\n", child_algorithm_name, prefixes[level], line);
}

static caf_status child_configure(const caf_algo_run_spec *spec, caf_algorithm *alg, caf_error *err)
{
    caf_status st = caf_algorithm_set_params(alg, spec->param_count, spec->param_names, spec->param_values, err);
    if (st == CAF_OK && spec->collector)
        st = caf_algorithm_set_collector(alg, spec->collector, err);
    if (st == CAF_OK)
        st = caf_algorithm_set_collection_inputs(alg, spec->inputs, spec->input_collections, spec->input_collectors,
                                                 spec->input_count, err);
    if (st == CAF_OK)
        st = caf_algorithm_set_chain(alg, spec->chain, spec->chain_count, err);
    if (st == CAF_OK)
        st = caf_algorithm_set_input_state(alg, spec->input_state, err);
    return st;
}

/* The limit is on what the algorithm adds to the process it was forked from: the child starts with its
 * caller's address space, which may be large. */
static void apply_memory_limit(size_t limit)
{
    if (limit == 0 || CAF_RUNNER_ASAN)
        return;
    rlim_t total = (rlim_t)(memory_of(getpid(), false) + limit);
    struct rlimit rl = {total, total};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        caf_warning("cannot limit the address space to %zu bytes: %s", limit, strerror(errno));
}

/* The caller's signal handlers (a test harness catching SIGSEGV, a program's cleanup handler) must not
 * run in the child: a crash there has to end the child so the parent sees the signal. */
static void default_signals(void)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                                SIGALRM, SIGCHLD};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

bool caf_algo_run_in_child(const caf_algo_run_spec *spec, caf_algorithm *alg, int fd)
{
    static char name[512];
    snprintf(name, sizeof name, "%s", caf_algorithm_full_name(alg));
    child_algorithm_name = name;
    caf_log_set_sink(child_log_sink, NULL);
    caf_error err = {0};
    caf_status st = child_configure(spec, alg, &err);
    caf_exprun *boundaries = NULL;
    size_t boundary_count = 0;
    if (st == CAF_OK) /* basf2's pre_algorithm: before everything else this process does with the algorithm */
        st = caf_algorithm_pre_algorithm(alg, spec->iteration, &err);
    if (st == CAF_OK && spec->find_boundaries) {
        st = caf_algorithm_find_boundaries(alg, spec->runs, spec->run_count, spec->iteration, &boundaries,
                                           &boundary_count, &err);
    } else if (st == CAF_OK) {
        caf_algo_result result;
        if (spec->experiment_settings)
            st = caf_algorithm_setup_experiment(alg, spec->settings_exp, &err);
        if (st == CAF_OK)
            st = caf_algorithm_execute(alg, spec->runs, spec->run_count, spec->iteration, spec->iov, &result, &err);
        size_t payload_count = 0;
        caf_algorithm_payloads(alg, &payload_count);
        if (st == CAF_OK)
            caf_info("%s with %zu payload(s)%s%s", caf_algo_result_name(result), payload_count,
                     *caf_algorithm_message(alg) ? ": " : "", caf_algorithm_message(alg));
    }
    fflush(stdout);
    fflush(stderr);
    bool sent = caf_runner_send(fd, name, st == CAF_OK ? alg : NULL, st, &err, boundaries, boundary_count);
    free(boundaries);
    return sent;
}

bool caf_algo_child_send_error(int fd, const char *algorithm, caf_status status, const caf_error *err)
{
    fflush(stdout);
    fflush(stderr);
    return caf_runner_send(fd, algorithm, NULL, status, err, NULL, 0);
}

void caf_runner_child_detach(pid_t parent)
{
    setpgid(0, 0);
    default_signals();
    /* an algorithm must not outlive the calibration that started it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
}

void caf_runner_child_attach(const caf_algo_run_spec *spec, int log_fd)
{
    if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        close(log_fd);
    }
    static char name[512];
    snprintf(name, sizeof name, "%s:%s", spec->plugin ? spec->plugin : "", spec->algorithm ? spec->algorithm : "");
    child_algorithm_name = name;
    caf_log_set_sink(child_log_sink, NULL);
    apply_memory_limit(spec->memory_limit);
}

void caf_runner_child_setup(const caf_algo_run_spec *spec, int fd, int log_fd, pid_t parent)
{
    (void)fd;
    caf_runner_child_detach(parent);
    caf_runner_child_attach(spec, log_fd);
}

_Noreturn void caf_runner_child_run(const caf_algo_run_spec *spec, int fd, const caf_plugin *loaded)
{
    char name[512];
    snprintf(name, sizeof name, "%s:%s", spec->plugin ? spec->plugin : "", spec->algorithm ? spec->algorithm : "");
    if (caf_algo_is_python(spec->plugin)) /* the interpreter takes over this process: same limits, log, pipe */
        caf_python_algorithm_exec(spec, fd, name);
    caf_error err = {0};
    caf_algorithm *alg = NULL;
    caf_status st = loaded ? caf_algo_open_loaded(loaded, spec->plugin, spec->algorithm, &alg, &err)
                           : caf_algorithm_open(spec->plugin, spec->algorithm, &alg, &err);
    bool sent = st == CAF_OK ? caf_algo_run_in_child(spec, alg, fd) : caf_algo_child_send_error(fd, name, st, &err);
    /* no cleanup: the process ends here, and unloading a misbehaving plugin could still crash it */
    _exit(sent ? 0 : 1);
}

_Noreturn void caf_runner_child_main(const caf_algo_run_spec *spec, int fd, int log_fd, pid_t parent)
{
    caf_runner_child_setup(spec, fd, log_fd, parent);
    caf_runner_child_run(spec, fd, NULL);
}

/* ---- The parent ---- */

typedef enum child_end { END_EXITED, END_TIMEOUT, END_MEMORY } child_end;

typedef struct child_watch {
    pid_t pid;
    int pidfd;
    int pipe_fd;
    unsigned char *data;
    size_t size;
    size_t capacity;
    bool eof;
    bool exited;
    int status;
    child_end end;
    size_t resident;          /* bytes, the most seen */
    size_t resident_at_start; /* the caller's resident memory at fork, which the child shares */
    caf_algo_zygote *zygote;  /* the child's parent, which reports its end; NULL: the child is ours */
} child_watch;

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}


static bool read_pipe(child_watch *w)
{
    if (w->capacity - w->size < 65536) {
        size_t cap = w->capacity ? w->capacity * 2 : 131072;
        unsigned char *n = realloc(w->data, cap);
        if (!n)
            return false;
        w->data = n;
        w->capacity = cap;
    }
    ssize_t n = read(w->pipe_fd, w->data + w->size, w->capacity - w->size);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        w->eof = true;
        close(w->pipe_fd);
        w->pipe_fd = -1;
    } else {
        w->size += (size_t)n;
    }
    return true;
}

static void kill_group(child_watch *w)
{
    kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL); /* in case the child had not reached setpgid yet */
}

static void try_reap(child_watch *w)
{
    if (w->zygote) { /* the zygote reaps it, kills what it left, and says how it ended */
        w->exited = caf_runner_zygote_status(w->zygote, false, &w->status);
        return;
    }
    /* the child is a zombie now, so its process-group id cannot be reused yet: kill what it left behind */
    siginfo_t info = {0};
    if (waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == w->pid)
        kill(-w->pid, SIGKILL);
    pid_t r = waitpid(w->pid, &w->status, WNOHANG);
    if (r == w->pid)
        w->exited = true;
}

/* Waits for the child to exit and its pipe to close, reading the pipe meanwhile. */
static caf_status watch_child(child_watch *w, const caf_algo_run_spec *spec, double start, caf_error *err)
{
    double deadline = spec->timeout_seconds > 0 ? start + spec->timeout_seconds : 0;
    double exited_at = 0;
    while (!(w->eof && w->exited)) {
        struct pollfd fds[2];
        nfds_t n = 0;
        if (!w->eof)
            fds[n++] = (struct pollfd){w->pipe_fd, POLLIN, 0};
        if (!w->exited && w->zygote)
            fds[n++] = (struct pollfd){caf_runner_zygote_fd(w->zygote), POLLIN, 0};
        else if (!w->exited && w->pidfd >= 0)
            fds[n++] = (struct pollfd){w->pidfd, POLLIN, 0};
        int wait_ms = -1;
        if (spec->memory_limit || (w->pidfd < 0 && !w->zygote) || w->exited)
            wait_ms = WATCH_INTERVAL_MS;
        if (deadline > 0 && !w->exited) {
            double left = deadline - now_seconds();
            int left_ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
            if (wait_ms < 0 || left_ms < wait_ms)
                wait_ms = left_ms;
        }
        int ready = poll(fds, n, wait_ms);
        if (ready < 0 && errno != EINTR) {
            kill_group(w);
            return caf_error_errno(err, errno, "waiting for the algorithm's process");
        }
        for (nfds_t i = 0; ready > 0 && i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (fds[i].fd == w->pipe_fd && !read_pipe(w)) {
                kill_group(w);
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory reading the algorithm's result");
            }
        }
        if (!w->exited)
            try_reap(w);
        if (w->exited && exited_at == 0)
            exited_at = now_seconds();
        if (!w->exited && spec->memory_limit) {
            size_t resident = memory_of(w->pid, true);
            w->resident = resident > w->resident ? resident : w->resident;
            if (resident > w->resident_at_start + spec->memory_limit && w->end == END_EXITED) {
                w->end = END_MEMORY;
                kill_group(w);
            }
        }
        if (!w->exited && deadline > 0 && now_seconds() >= deadline && w->end == END_EXITED) {
            w->end = END_TIMEOUT;
            kill_group(w);
        }
        /* a process that left the group (setsid) may keep the pipe open: do not wait for it forever */
        if (w->exited && !w->eof && now_seconds() - exited_at > 5.0) {
            close(w->pipe_fd);
            w->pipe_fd = -1;
            w->eof = true;
        }
    }
    return CAF_OK;
}

/* The last LOG_TAIL_MAX bytes of the log file (malloc'd), made printable. */
static char *read_log_tail(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        end = 0;
    size_t want = (size_t)end < LOG_TAIL_MAX ? (size_t)end : LOG_TAIL_MAX;
    char *text = malloc(want + 1);
    if (!text)
        return NULL;
    ssize_t got = want ? pread(fd, text, want, end - (off_t)want) : 0;
    size_t size = got > 0 ? (size_t)got : 0;
    caf_runner_make_printable(text, size);
    text[size] = '\0';
    return text;
}

static int open_log(const char *path, caf_error *err)
{
    int fd;
    if (path) {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            caf_error_errno(err, errno, "algorithm log %s", path);
        return fd;
    }
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/caf-algorithm-log-XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        caf_error_errno(err, errno, "temporary algorithm log %s", tmpl);
        return -1;
    }
    unlink(tmpl); /* the file lives as long as the descriptors do */
    return fd;
}

static void set_message(caf_algo_run_result *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_message(caf_algo_run_result *out, const char *fmt, ...)
{
    char text[CAF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    free(out->message);
    out->message = strdup(text);
}

/* Turns how the child ended into a result when it did not report one itself. */
static caf_status judge_end(const child_watch *w, const caf_algo_run_spec *spec, caf_algo_run_result *out,
                            caf_error *err)
{
    /* A copy: decoding the child's message below replaces (frees) out->algorithm. */
    char name[512];
    snprintf(name, sizeof name, "%s", out->algorithm && *out->algorithm ? out->algorithm : spec->plugin);
    if (w->end == END_TIMEOUT || w->end == END_MEMORY || !WIFEXITED(w->status) || WEXITSTATUS(w->status) != 0) {
        out->result = CAF_ALGO_FAILURE;
        out->crashed = true;
        if (w->end == END_TIMEOUT)
            set_message(out, "algorithm %s timed out after %g s and was killed", name, spec->timeout_seconds);
        else if (w->end == END_MEMORY)
            set_message(out, "algorithm %s exceeded the memory limit of %zu MiB (resident %zu MiB, %zu MiB at "
                        "start) and was killed", name, spec->memory_limit >> 20, w->resident >> 20,
                        w->resident_at_start >> 20);
        else if (WIFSIGNALED(w->status))
            set_message(out, "algorithm %s crashed: killed by signal %d (%s)%s", name, WTERMSIG(w->status),
                        strsignal(WTERMSIG(w->status)),
                        spec->memory_limit ? "; it may have hit its memory limit" : "");
        else
            set_message(out, "algorithm %s exited with status %d before reporting a result", name,
                        WEXITSTATUS(w->status));
        return CAF_OK;
    }
    caf_error why = {0};
    caf_status st = caf_runner_decode(w->data, w->size, out, &why);
    if (st == CAF_ERR_FORMAT) {
        out->result = CAF_ALGO_FAILURE;
        out->crashed = true;
        /* A partial message may have named no algorithm: the execution keeps the name it started with. */
        if (!out->algorithm || !*out->algorithm) {
            free(out->algorithm);
            out->algorithm = strdup(name);
        }
        set_message(out, "algorithm %s ended without reporting a complete result (%s)", name, why.message);
        return CAF_OK;
    }
    if (st != CAF_OK && err)
        *err = why;
    return st;
}

void caf_algo_run_result_clear(caf_algo_run_result *r)
{
    if (!r)
        return;
    free(r->algorithm);
    free(r->message);
    free(r->runs);
    caf_algo_payloads_free(r->payloads, r->payload_count);
    json_decref(r->state);
    free(r->boundaries);
    free(r->log);
    memset(r, 0, sizeof *r);
}

static caf_status start_result(const caf_algo_run_spec *spec, caf_algo_run_result *out, caf_error *err)
{
    memset(out, 0, sizeof *out);
    out->result = CAF_ALGO_FAILURE;
    out->iteration = spec->iteration;
    out->iov = CAF_IOV_EMPTY;
    out->state = json_object();
    char name[512];
    snprintf(name, sizeof name, "%s:%s", spec->plugin ? spec->plugin : "", spec->algorithm ? spec->algorithm : "");
    out->algorithm = strdup(name);
    out->message = strdup("");
    if (!out->state || !out->algorithm || !out->message)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (!spec->plugin || !*spec->plugin)
        return caf_error_set(err, CAF_ERR_INVALID, "no algorithm plugin given");
    return CAF_OK;
}

caf_status caf_algo_run(const caf_algo_run_spec *spec, caf_algo_run_result *out, caf_error *err)
{
    caf_status st = start_result(spec, out, err);
    if (st != CAF_OK)
        return st;
    int log_fd = open_log(spec->log_path, err);
    if (log_fd < 0)
        return caf_error_prefix(err, "algorithm %s: ", out->algorithm);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        close(log_fd);
        return caf_error_errno(err, errno, "algorithm %s: pipe", out->algorithm);
    }
    double start = now_seconds();
    pid_t pid = -1;
    size_t resident_at_start = 0;
    caf_algo_zygote *zygote = spec->zygote;
    if (zygote) {
        caf_error why = {0};
        if (caf_runner_zygote_spawn(zygote, spec, fds[1], log_fd, &pid, &why) != CAF_OK) {
            caf_warning("algorithm %s: %s; the execution is forked from this process", out->algorithm, why.message);
            zygote = NULL;
        } else if (spec->memory_limit) { /* the child shares the zygote's pages, not the caller's */
            resident_at_start = memory_of(caf_algo_zygote_pid(zygote), true);
        }
    }
    if (!zygote) {
        fflush(NULL); /* buffered output must not be written twice, once by each process */
        pid_t parent = getpid();
        resident_at_start = spec->memory_limit ? memory_of(getpid(), true) : 0;
        pid = fork();
        if (pid < 0) {
            st = caf_error_errno(err, errno, "algorithm %s: fork", out->algorithm);
            close(fds[0]);
            close(fds[1]);
            close(log_fd);
            return st;
        }
        if (pid == 0) {
            close(fds[0]);
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull >= 0) {
                dup2(devnull, STDIN_FILENO);
                close(devnull);
            }
            caf_runner_child_main(spec, fds[1], log_fd, parent);
        }
        setpgid(pid, pid); /* also done by the child; whichever runs first wins the race, both agree */
    }
    close(fds[1]);
    child_watch w = {.pid = pid, .pidfd = zygote ? -1 : open_pidfd(pid), .pipe_fd = fds[0],
                     .resident_at_start = resident_at_start, .zygote = zygote};
    if (spec->while_running) /* the caller's own work, overlapping the child's; the pipe waits meanwhile */
        spec->while_running(spec->while_running_ctx);
    st = watch_child(&w, spec, start, err);
    if (w.pidfd >= 0)
        close(w.pidfd);
    if (w.pipe_fd >= 0)
        close(w.pipe_fd);
    if (st != CAF_OK) {
        if (zygote)
            caf_runner_zygote_status(zygote, true, &w.status);
        else
            waitpid(pid, NULL, 0);
    } else {
        out->seconds = now_seconds() - start;
        st = judge_end(&w, spec, out, err);
    }
    free(w.data);
    out->log = read_log_tail(log_fd);
    close(log_fd);
    if (out->crashed)
        caf_log_error("%s", out->message);
    if (st == CAF_OK && !spec->find_boundaries && spec->output_db && caf_algo_result_is_success(out->result)) {
        st = caf_algo_payloads_commit(out->payloads, out->payload_count, spec->output_db,
                                      spec->output_db_staging ? CAF_LOCALDB_STAGING : 0, err);
        if (st != CAF_OK)
            caf_error_prefix(err, "algorithm %s: commit to %s: ", out->algorithm, spec->output_db);
        out->committed = st == CAF_OK;
    }
    return st;
}
