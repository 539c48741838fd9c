/* The execution zygote (caf/algorithm_zygote.h): both sides of its socket.
 *
 * Protocol over a SOCK_SEQPACKET socketpair, one execution at a time:
 *   runner -> zygote  "R" + memory limit (uint64) with three descriptors: the result pipe's write end, the
 *                     log, a memfd holding the spec's JSON (caf_algo_run_spec_to_json);
 *   zygote -> runner  "P" + pid (int32) once the child is forked and in its own process group;
 *   zygote -> runner  "S" + wait status (int32) once the child has ended (the zygote has then killed what
 *                     the child left in its group).
 * The zygote keeps an ended child as a zombie until the next request (or its end), so the runner can never
 * signal a reused process group while it has not yet read the status.
 *
 * Children forked ahead: the zygote forks the next execution's child before its request comes (at its start,
 * and once it reported a child's end, while the runner commits that execution's result). That child does what
 * does not depend on the request (its own process group, default signals, death signal, stdin from /dev/null;
 * caf_runner_child_detach), opens the collector outputs the previous request named (collector/output_warm.h:
 * in the child, never in the zygote, as an SQLite connection must not cross a fork; used only when the next
 * request names the same file, unchanged), and waits on a socketpair of its own for the request, which the
 * zygote passes on as it came ("R" + memory limit with the three descriptors). The child then applies what
 * depends on it (log, memory limit; caf_runner_child_attach) and runs it. So the fork and the inputs' opening
 * leave the execution's critical path; "P" names that child, already in its own group. A child forked ahead
 * that died before its request (killed, OOM) is reaped and the request gets a child forked then; one never
 * used is killed and reaped when the zygote ends, which it does before its runner stops waiting for it. */
#include "caf/algorithm_zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "algorithm/runner_internal.h"
#include "caf/log.h"
#include "caf/plugin.h"
#include "caf/python_algorithm.h"
#include "collector/output_warm.h"

#ifndef CAF_BUILD_DIR
#define CAF_BUILD_DIR ""
#endif
#ifndef CAF_ZYGOTE_INSTALL_PATH
#define CAF_ZYGOTE_INSTALL_PATH ""
#endif
#ifndef CAF_ZYGOTE_FROM_BINDIR
#define CAF_ZYGOTE_FROM_BINDIR ""
#endif

extern char **environ;

/* Set, with LD_BIND_NOW=1, in a C zygote's environment when the caller had no LD_BIND_NOW: the dynamic
 * loader then binds every symbol at the zygote's start, once, instead of in each forked child at its first
 * call (a page copied and a symbol lookup per function and per child). The zygote removes both. */
#define BIND_NOW_ADDED "CAF_ZYGOTE_BIND_NOW_ADDED"

struct caf_algo_zygote {
    char *plugin;
    char *algorithm;   /* a Python algorithm's MODULE:FUNCTION */
    char *python_path;
    pid_t pid;
    int fd; /* the runner's end of the socket, -1 when not running */
    unsigned starts;
};

/* ---- sending and receiving ---- */

static ssize_t send_with_fds(int sock, const void *data, size_t size, const int *fds, size_t fd_count)
{
    struct iovec iov = {(void *)data, size};
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd_count > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(fd_count * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(fd_count * sizeof(int));
        memcpy(CMSG_DATA(c), fds, fd_count * sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Receives one message (up to size bytes) and up to 3 descriptors (close-on-exec); *fd_count set. */
static ssize_t recv_with_fds(int sock, void *data, size_t size, int *fds, size_t *fd_count, int flags)
{
    struct iovec iov = {data, size};
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR);
    if (fd_count)
        *fd_count = 0;
    for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int tmp[8];
        memcpy(tmp, CMSG_DATA(c), (got < 8 ? got : 8) * sizeof(int));
        for (size_t i = 0; i < got && i < 8; i++) {
            if (fds && fd_count && *fd_count < 3)
                fds[(*fd_count)++] = tmp[i];
            else
                close(tmp[i]);
        }
    }
    return n;
}

/* ---- the zygote process ---- */

/* What the zygote keeps between requests. */
typedef struct zygote_state {
    int sock;               /* the runner's socket */
    pid_t self;
    const caf_algo_zygote_hooks *hooks;
    pid_t served;           /* the last child served: kept as a zombie once ended, reaped at the next request */
    pid_t ready;            /* the child forked ahead, waiting for its request on ready_sock; 0: none */
    int ready_sock;         /* the zygote's end of that child's socket */
    char **inputs;          /* the last request's inputs, which the child forked ahead opens */
    size_t input_count;
} zygote_state;

static caf_algo_run_spec *read_spec(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0)
        return NULL;
    char *text = malloc((size_t)size + 1);
    ssize_t got = text ? pread(fd, text, (size_t)size, 0) : -1;
    caf_algo_run_spec *spec = NULL;
    caf_error err = {0};
    if (got == size && caf_algo_run_spec_from_json(text, (size_t)size, &spec, &err) != CAF_OK)
        spec = NULL;
    free(text);
    return spec;
}

static void reap(pid_t *child)
{
    if (*child > 0)
        waitpid(*child, NULL, 0);
    *child = 0;
}

/* The child's wait status from waitid's answer, encoded as waitpid encodes it. */
static int wait_status_of(const siginfo_t *info)
{
    if (info->si_code == CLD_EXITED)
        return (info->si_status & 0xff) << 8;
    return (info->si_status & 0x7f) | (info->si_code == CLD_DUMPED ? 0x80 : 0);
}

/* In a child just forked: what every execution's process does before its request (its own group, default
 * signals, death signal, stdin from /dev/null, the hooks' start). */
static void child_start(const zygote_state *z)
{
    close(z->sock);
    if (z->ready_sock >= 0)
        close(z->ready_sock);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    caf_runner_child_detach(z->self);
    if (z->hooks->child_start)
        z->hooks->child_start(z->hooks->ctx);
}

/* In the child: the request (memory limit; result pipe, log and spec descriptors) carried out. */
static _Noreturn void child_execute(const zygote_state *z, uint64_t memory_limit, const int fds[3])
{
    caf_algo_run_spec *spec = read_spec(fds[2]);
    close(fds[2]);
    if (!spec) {
        caf_error err = {0};
        caf_error_set(&err, CAF_ERR_NOMEM, "algorithm zygote: cannot read the execution's spec");
        _exit(caf_algo_child_send_error(fds[0], "", err.code, &err) ? 0 : 1);
    }
    spec->memory_limit = (size_t)memory_limit;
    caf_runner_child_attach(spec, fds[1]);
    z->hooks->child(spec, fds[0], z->hooks->ctx);
    _exit(1); /* a child hook that returned sent nothing */
}

/* In the child forked ahead: opens the last request's inputs, then waits for its own request. The zygote's end
 * closing (the zygote ended or dropped this child) ends it. */
static _Noreturn void child_wait_for_request(const zygote_state *z, int sock)
{
    caf_collector_output_warm_up((const char *const *)z->inputs, z->input_count);
    unsigned char request[16];
    int fds[3];
    size_t fd_count = 0;
    ssize_t n = recv_with_fds(sock, request, sizeof request, fds, &fd_count, 0);
    if (n != 9 || request[0] != 'R' || fd_count != 3)
        _exit(0);
    close(sock);
    uint64_t memory_limit;
    memcpy(&memory_limit, request + 1, sizeof memory_limit);
    child_execute(z, memory_limit, fds);
}

/* Forks the next execution's child ahead of its request, unless one is waiting already. */
static void fork_ahead(zygote_state *z)
{
    if (z->ready > 0)
        return;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    fflush(NULL);
    if (z->hooks->before_fork)
        z->hooks->before_fork(z->hooks->ctx);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        child_start(z);
        child_wait_for_request(z, sv[1]);
    }
    if (z->hooks->after_fork)
        z->hooks->after_fork(z->hooks->ctx);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return;
    }
    setpgid(pid, pid); /* also done by the child: the group exists before any request */
    z->ready = pid;
    z->ready_sock = sv[0];
}

/* Ends the child forked ahead, if any (it is in its own group, with nothing started yet). */
static void drop_ready(zygote_state *z)
{
    if (z->ready > 0) {
        kill(z->ready, SIGKILL);
        waitpid(z->ready, NULL, 0);
    }
    if (z->ready_sock >= 0)
        close(z->ready_sock);
    z->ready = 0;
    z->ready_sock = -1;
}

/* The request handed to the child forked ahead when it is still alive, else to a child forked now: its pid,
 * -1 when none could be forked. */
static pid_t hand_over(zygote_state *z, const unsigned char *request, int *fds)
{
    if (z->ready > 0) {
        pid_t ready = z->ready, ended = waitpid(ready, NULL, WNOHANG); /* it may have died meanwhile (OOM) */
        if (ended == 0 && send_with_fds(z->ready_sock, request, 9, fds, 3) == 9) {
            close(z->ready_sock);
            z->ready = 0;
            z->ready_sock = -1;
            return ready;
        }
        if (ended == ready) /* reaped: nothing left to end */
            z->ready = 0;
        drop_ready(z);
    }
    uint64_t memory_limit;
    memcpy(&memory_limit, request + 1, sizeof memory_limit);
    fflush(NULL);
    if (z->hooks->before_fork)
        z->hooks->before_fork(z->hooks->ctx);
    pid_t pid = fork();
    if (pid == 0) {
        child_start(z);
        child_execute(z, memory_limit, fds);
    }
    if (z->hooks->after_fork)
        z->hooks->after_fork(z->hooks->ctx);
    if (pid > 0)
        setpgid(pid, pid); /* also done by the child: the group exists before the runner hears of it */
    return pid;
}

/* Keeps the inputs the spec in fd names, for the next child forked ahead (none when it cannot be read). */
static void remember_inputs(zygote_state *z, int fd)
{
    for (size_t i = 0; i < z->input_count; i++)
        free(z->inputs[i]);
    free(z->inputs);
    z->inputs = NULL;
    z->input_count = 0;
    caf_algo_run_spec *spec = read_spec(fd);
    if (spec && spec->input_count > 0 && (z->inputs = calloc(spec->input_count, sizeof *z->inputs))) {
        for (size_t i = 0; i < spec->input_count; i++)
            if (spec->inputs[i] && (z->inputs[z->input_count] = strdup(spec->inputs[i])))
                z->input_count++;
    }
    caf_algo_run_spec_free(spec);
}

/* Serves one request: hands it to a child, reports the child, waits for its end, reports that and forks the
 * next one ahead. false when the socket broke (the runner is gone). */
static bool serve(zygote_state *z, const unsigned char *request, size_t size, int *fds, size_t fd_count)
{
    reap(&z->served);
    if (size != 9 || request[0] != 'R' || fd_count != 3) {
        for (size_t i = 0; i < fd_count; i++)
            close(fds[i]);
        return false;
    }
    pid_t pid = hand_over(z, request, fds);
    close(fds[0]);
    close(fds[1]);
    unsigned char reply[5];
    int32_t value = pid > 0 ? (int32_t)pid : -1;
    reply[0] = 'P';
    memcpy(reply + 1, &value, sizeof value);
    bool sent = send_with_fds(z->sock, reply, sizeof reply, NULL, 0) == (ssize_t)sizeof reply;
    if (pid > 0)
        remember_inputs(z, fds[2]); /* while the child runs */
    close(fds[2]);
    if (!sent)
        return false;
    if (pid < 0)
        return true;
    z->served = pid;
    siginfo_t info = {0};
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL); /* a zombie keeps its group id: what it left behind goes with it */
    value = (int32_t)wait_status_of(&info);
    reply[0] = 'S';
    memcpy(reply + 1, &value, sizeof value);
    bool sent_status = send_with_fds(z->sock, reply, sizeof reply, NULL, 0) == (ssize_t)sizeof reply;
    /* after the status, not while the child runs: a fork then would delay the status of a child that ends
     * meanwhile; now it overlaps with the runner's commit of the result */
    fork_ahead(z);
    return sent_status;
}

int caf_algo_zygote_serve(int sock, pid_t parent, const caf_algo_zygote_hooks *hooks)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a zygote must not outlive its runner */
    if (getppid() != parent)
        return 1;
    signal(SIGINT, SIG_IGN); /* Ctrl-C is the runner's to handle, as for the driver */
    signal(SIGPIPE, SIG_IGN);
    fcntl(sock, F_SETFD, FD_CLOEXEC);
    zygote_state z = {.sock = sock, .self = getpid(), .hooks = hooks, .ready_sock = -1};
    fork_ahead(&z);
    for (;;) {
        unsigned char request[64];
        int fds[3];
        size_t fd_count = 0;
        ssize_t n = recv_with_fds(sock, request, sizeof request, fds, &fd_count, 0);
        if (n <= 0 || !serve(&z, request, (size_t)n, fds, fd_count))
            break;
    }
    drop_ready(&z);
    if (z.served > 0)
        kill(-z.served, SIGKILL);
    reap(&z.served);
    for (size_t i = 0; i < z.input_count; i++)
        free(z.inputs[i]);
    free(z.inputs);
    return 0;
}

/* The plugin the C zygote loaded, and its name on the plugin path. */
typedef struct zygote_plugin {
    const char *name;
    caf_plugin so; /* handle NULL when it did not load */
} zygote_plugin;

static void c_child(const caf_algo_run_spec *spec, int result_fd, void *ctx)
{
    const zygote_plugin *z = ctx;
    bool same = z->so.handle && spec->plugin && strcmp(spec->plugin, z->name) == 0;
    caf_runner_child_run(spec, result_fd, same ? &z->so : NULL);
}

int caf_algo_zygote_main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: caf-algo-zygote SOCKET_FD PARENT_PID PLUGIN (started by libcaf's algorithm runner)\n");
        return 2;
    }
    int sock = atoi(argv[1]);
    pid_t parent = (pid_t)atol(argv[2]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1;
    prctl(PR_SET_NAME, "caf-zygote");
    if (getenv(BIND_NOW_ADDED)) { /* the runner asked for it for this process only: not for the algorithms' own
                                   * programs */
        unsetenv("LD_BIND_NOW");
        unsetenv(BIND_NOW_ADDED);
    }
    /* nothing of the runner's but the socket: an inherited lock or pipe must not live on in the zygote */
    if (sock != 3 && dup2(sock, 3) == 3) {
        close(sock);
        sock = 3;
    }
    close_range(4, ~0U, 0);
    /* Loaded once here, the plugin is in every child's copy of this process, which uses this handle (no
     * search, no dlopen: a plugin file removed or replaced meanwhile changes nothing for them). A plugin
     * that fails to load is reported by each child as before. */
    zygote_plugin plugin = {.name = argv[3]};
    caf_error err = {0};
    if (caf_plugin_open(&plugin.so, argv[3], &err) != CAF_OK)
        caf_debug("algorithm zygote: %s", err.message);
    /* what every child would otherwise do again after the fork: SQLite's one-time set-up */
    sqlite3_initialize();
    caf_algo_zygote_hooks hooks = {.child = c_child, .ctx = &plugin};
    int rc = caf_algo_zygote_serve(sock, parent, &hooks);
    caf_plugin_close(&plugin.so); /* the zygote now ends by itself when its runner closes the socket */
    return rc;
}

/* ---- the runner's side ---- */

/* The zygote program: $CAF_ALGO_ZYGOTE, the build tree's for a program of the build tree, else the one
 * installed beside the program (a relocated installation), else the one of the configured prefix. NULL when
 * disabled. */
static const char *zygote_program(void)
{
    const char *env = getenv("CAF_ALGO_ZYGOTE");
    if (env && *env)
        return strcmp(env, "off") == 0 ? NULL : env;
    static char built[4200];
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    size_t len = strlen(CAF_BUILD_DIR);
    if (n > 0 && len > 0) {
        if (strncmp(exe, CAF_BUILD_DIR, len) == 0 && exe[len] == '/') {
            snprintf(built, sizeof built, "%s/bin/caf-algo-zygote", CAF_BUILD_DIR);
            return built;
        }
    }
    char *slash = n > 0 && *CAF_ZYGOTE_FROM_BINDIR ? strrchr(exe, '/') : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(built, sizeof built, "%s/%s", exe, CAF_ZYGOTE_FROM_BINDIR);
        if (access(built, X_OK) == 0)
            return built;
    }
    return CAF_ZYGOTE_INSTALL_PATH;
}

/* environ with entries (NAME=VALUE) put over it: a new array whose strings are borrowed; NULL when out of
 * memory. */
static char **environment_with(char *const *entries)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (entries[extra])
        extra++;
    char **env = calloc(n + extra + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; env && i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < extra && !replaced; j++) {
            size_t len = (size_t)(strchr(entries[j], '=') - entries[j]) + 1;
            replaced = strncmp(environ[i], entries[j], len) == 0;
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; env && j < extra; j++)
        env[k++] = entries[j];
    return env;
}

static caf_status start(caf_algo_zygote *z, caf_error *err)
{
    bool python = caf_algo_is_python(z->plugin);
    const char *program = python ? caf_python_interpreter() : zygote_program();
    if (!program || !*program || (!python && access(program, X_OK) != 0))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm zygote: no program %s",
                             program && *program ? program : "(none installed)");
    char *entries[5] = {0};
    char **env = environ;
    if (python && (!caf_python_env_entries(z->python_path, entries) || !(env = environment_with(entries)))) {
        for (int i = 0; i < 5; i++)
            free(entries[i]);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    bool env_made = python;
    static char *const bind_now[] = {"LD_BIND_NOW=1", BIND_NOW_ADDED "=1", NULL};
    if (!python && !getenv("LD_BIND_NOW")) {
        if (!(env = environment_with(bind_now)))
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        env_made = true;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        caf_status st = caf_error_errno(err, errno, "algorithm zygote: socketpair");
        if (env_made)
            free(env);
        for (int i = 0; i < 5; i++)
            free(entries[i]);
        return st;
    }
    char fd_arg[16], parent_arg[24];
    snprintf(fd_arg, sizeof fd_arg, "%d", sv[1]);
    snprintf(parent_arg, sizeof parent_arg, "%ld", (long)getpid());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    /* dup2 onto itself clears close-on-exec for the zygote's end only */
    posix_spawn_file_actions_adddup2(&actions, sv[1], sv[1]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *c_argv[] = {(char *)program, fd_arg, parent_arg, z->plugin, NULL};
    char *py_argv[] = {(char *)program, "-m", "caf._algorithm_runner", "--zygote", fd_arg, parent_arg,
                       z->algorithm ? z->algorithm : "", NULL};
    fflush(NULL);
    pid_t pid;
    int rc = python ? posix_spawnp(&pid, program, &actions, &attr, py_argv, env)
                    : posix_spawn(&pid, program, &actions, &attr, c_argv, env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (env_made)
        free(env);
    for (int i = 0; i < 5; i++)
        free(entries[i]);
    if (rc != 0) {
        close(sv[0]);
        return caf_error_errno(err, rc, "algorithm zygote: cannot start %s", program);
    }
    z->pid = pid;
    z->fd = sv[0];
    z->starts++;
    return CAF_OK;
}

/* Whether process pid (our child) ended within ms milliseconds; reaped then. */
static bool ended_within(pid_t pid, int ms)
{
    int fd = -1;
#ifdef SYS_pidfd_open
    fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, ms) < 0 && errno == EINTR)
            ;
        close(fd);
    }
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        if (fd >= 0 || waited >= ms)
            return false;
        usleep(1000);
    }
}

static void stop(caf_algo_zygote *z)
{
    if (z->fd >= 0)
        close(z->fd); /* the zygote sees its socket close, ends and reaps its children, and ends */
    z->fd = -1;
    if (z->pid > 0 && !ended_within(z->pid, 1000)) { /* busy with a child that does not end, or dead already */
        kill(z->pid, SIGKILL);
        waitpid(z->pid, NULL, 0);
    }
    z->pid = 0;
}

static void free_zygote(caf_algo_zygote *z)
{
    free(z->plugin);
    free(z->algorithm);
    free(z->python_path);
    free(z);
}

caf_status caf_algo_zygote_open(const caf_algo_run_spec *spec, caf_algo_zygote **out, caf_error *err)
{
    *out = NULL;
    if (!zygote_program())
        return CAF_OK;
    caf_algo_zygote *z = calloc(1, sizeof *z);
    if (!z || !(z->plugin = strdup(spec->plugin ? spec->plugin : "")) ||
        (spec->algorithm && !(z->algorithm = strdup(spec->algorithm))) ||
        (spec->python_path && !(z->python_path = strdup(spec->python_path)))) {
        if (z)
            free_zygote(z);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    z->fd = -1;
    caf_status st = start(z, err);
    if (st != CAF_OK) {
        free_zygote(z);
        return st;
    }
    *out = z;
    return CAF_OK;
}

void caf_algo_zygote_close(caf_algo_zygote *z)
{
    if (!z)
        return;
    stop(z);
    free_zygote(z);
}

pid_t caf_algo_zygote_pid(const caf_algo_zygote *z)
{
    return z ? z->pid : 0;
}

unsigned caf_algo_zygote_starts(const caf_algo_zygote *z)
{
    return z ? z->starts : 0;
}

/* One attempt: the request sent and the child's pid back. */
static caf_status request(caf_algo_zygote *z, int spec_fd, uint64_t memory_limit, int result_fd, int log_fd,
                          pid_t *pid, caf_error *err)
{
    unsigned char msg[9] = {'R'};
    memcpy(msg + 1, &memory_limit, sizeof memory_limit);
    int fds[3] = {result_fd, log_fd, spec_fd};
    unsigned char reply[16];
    if (send_with_fds(z->fd, msg, sizeof msg, fds, 3) != (ssize_t)sizeof msg)
        return caf_error_errno(err, errno, "algorithm zygote (process %d) is gone", (int)z->pid);
    ssize_t n = recv_with_fds(z->fd, reply, sizeof reply, NULL, NULL, 0);
    int32_t value;
    if (n != 5 || reply[0] != 'P')
        return caf_error_set(err, CAF_ERR_IO, "algorithm zygote (process %d) ended without starting the execution",
                             (int)z->pid);
    memcpy(&value, reply + 1, sizeof value);
    if (value <= 0)
        return caf_error_set(err, CAF_ERR_IO, "algorithm zygote (process %d) could not fork", (int)z->pid);
    *pid = (pid_t)value;
    return CAF_OK;
}

caf_status caf_runner_zygote_spawn(caf_algo_zygote *z, const caf_algo_run_spec *spec, int result_fd, int log_fd,
                                   pid_t *pid, caf_error *err)
{
    int spec_fd = caf_algo_run_spec_memfd(spec, false);
    if (spec_fd < 0)
        return caf_error_errno(err, errno ? errno : ENOMEM, "algorithm zygote: cannot write the spec");
    caf_status st = z->fd >= 0 ? request(z, spec_fd, spec->memory_limit, result_fd, log_fd, pid, err)
                               : caf_error_set(err, CAF_ERR_IO, "algorithm zygote is not running");
    if (st != CAF_OK) { /* it died (killed, crashed): one new one, with a line saying so */
        caf_warning("algorithm %s: %s; starting a new zygote", z->plugin, err->message);
        stop(z);
        caf_error again = {0};
        st = start(z, &again);
        if (st == CAF_OK)
            st = request(z, spec_fd, spec->memory_limit, result_fd, log_fd, pid, &again);
        if (st != CAF_OK) {
            *err = again;
            stop(z);
        }
    }
    close(spec_fd);
    return st;
}

int caf_runner_zygote_fd(const caf_algo_zygote *z)
{
    return z->fd;
}

bool caf_runner_zygote_status(caf_algo_zygote *z, bool wait, int *status)
{
    unsigned char reply[16];
    ssize_t n = recv_with_fds(z->fd, reply, sizeof reply, NULL, NULL, wait ? 0 : MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (n != 5 || reply[0] != 'S') { /* the zygote died with the child: the child died of it (SIGKILL) */
        caf_warning("algorithm %s: the algorithm zygote (process %d) ended during the execution, which was killed "
                    "with it; the next execution starts a new one", z->plugin, (int)z->pid);
        *status = SIGKILL;
        stop(z);
        return true;
    }
    int32_t value;
    memcpy(&value, reply + 1, sizeof value);
    *status = (int)value;
    return true;
}
