/* The local backend's shepherd process and the protocol caf speaks with it (see local_shepherd.h). */
#include "jobs/local_shepherd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MSG_SPAWN = 'S', MSG_KILL = 'K', MSG_ANSWER = 'A', MSG_EXITED = 'X' };

/* Frames larger than this are refused (a subjob's argv and environment are far smaller). */
#define MAX_FRAME (64u << 20)

bool shepherd_proc_stat(pid_t pid, char *state, unsigned long long *start)
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
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
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

/* ---- frames ---- */

typedef struct frame {
    unsigned char *data;
    size_t len, cap;
    bool failed; /* out of memory */
} frame;

static void put(frame *f, const void *data, size_t n)
{
    if (f->failed)
        return;
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + n)
            cap *= 2;
        unsigned char *grown = realloc(f->data, cap);
        if (!grown) {
            f->failed = true;
            return;
        }
        f->data = grown;
        f->cap = cap;
    }
    memcpy(f->data + f->len, data, n);
    f->len += n;
}

static void put_u32(frame *f, uint32_t v) { put(f, &v, sizeof v); }
static void put_u64(frame *f, uint64_t v) { put(f, &v, sizeof v); }
static void put_str(frame *f, const char *s) { put(f, s, strlen(s) + 1); }

/* Starts a frame of the given type; finish_frame fills in its length. */
static size_t begin_frame(frame *f, char type)
{
    size_t at = f->len;
    put_u32(f, 0);
    put(f, &type, 1);
    return at;
}

static void finish_frame(frame *f, size_t at)
{
    if (!f->failed) {
        uint32_t len = (uint32_t)(f->len - at - sizeof(uint32_t));
        memcpy(f->data + at, &len, sizeof len);
    }
}

/* Reads a payload field by field; every get checks the bounds. */
typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static bool get(reader *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return true;
}

static uint32_t get_u32(reader *r)
{
    uint32_t v = 0;
    get(r, &v, sizeof v);
    return v;
}

static uint64_t get_u64(reader *r)
{
    uint64_t v = 0;
    get(r, &v, sizeof v);
    return v;
}

/* Returns a pointer to the NUL-terminated string at the read position (inside the payload). */
static char *get_str(reader *r)
{
    if (r->bad)
        return NULL;
    const unsigned char *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!nul) {
        r->bad = true;
        return NULL;
    }
    char *s = (char *)r->p;
    r->p = nul + 1;
    return s;
}

/* Finds a complete frame at the start of buf: its payload and total size; false if incomplete. */
static bool complete_frame(const unsigned char *buf, size_t len, reader *payload, size_t *total, bool *bad)
{
    uint32_t n;
    if (len < sizeof n)
        return false;
    memcpy(&n, buf, sizeof n);
    if (n == 0 || n > MAX_FRAME) {
        *bad = true;
        return false;
    }
    if (len - sizeof n < n)
        return false;
    *payload = (reader){.p = buf + sizeof n, .end = buf + sizeof n + n};
    *total = sizeof n + n;
    return true;
}

/* Makes room for at least want more bytes in a receive buffer. */
static bool reserve(unsigned char **buf, size_t len, size_t *cap, size_t want)
{
    if (*cap - len >= want)
        return true;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap - len < want)
        ncap *= 2;
    unsigned char *grown = realloc(*buf, ncap);
    if (!grown)
        return false;
    *buf = grown;
    *cap = ncap;
    return true;
}

/* ---- inside the shepherd ---- */

typedef struct shepherd {
    int sock;          /* -1 once caf has gone */
    int sigfd;         /* SIGCHLD */
    frame out;         /* queued for caf */
    unsigned char *in;
    size_t in_len, in_cap;
    shepherd_child *children;
    size_t n_children, cap_children;
} shepherd;

static void queue_answer(shepherd *sh, shepherd_message_kind kind, const shepherd_child *c, const char *text)
{
    if (sh->sock < 0)
        return;
    size_t at = begin_frame(&sh->out, MSG_ANSWER);
    put_u32(&sh->out, (uint32_t)kind);
    put_u32(&sh->out, (uint32_t)(c ? c->pid : 0));
    put_u64(&sh->out, c ? c->start : 0);
    put_str(&sh->out, text ? text : "");
    finish_frame(&sh->out, at);
}

static void handle_spawn(shepherd *sh, reader *r)
{
    shepherd_spawn req = {0};
    uint32_t direct = get_u32(r);
    uint32_t argc = get_u32(r), envc = get_u32(r);
    req.direct = direct != 0;
    req.dir = get_str(r);
    req.exit_code_file = get_str(r);
    size_t left = (size_t)(r->end - r->p);
    char **argv = !r->bad && argc > 0 && argc <= left && envc <= left ? calloc(argc + 1, sizeof *argv) : NULL;
    char **env = argv ? calloc(envc + 1, sizeof *env) : NULL;
    for (uint32_t i = 0; env && i < argc; i++)
        argv[i] = get_str(r);
    for (uint32_t i = 0; env && i < envc; i++)
        env[i] = get_str(r);
    char text[256] = "";
    shepherd_child child = {.lock_fd = -1};
    shepherd_message_kind kind = SHEPHERD_REFUSED;
    if (sh->n_children == sh->cap_children) {
        size_t cap = sh->cap_children ? sh->cap_children * 2 : 16;
        shepherd_child *grown = realloc(sh->children, cap * sizeof *grown);
        if (grown) {
            sh->children = grown;
            sh->cap_children = cap;
        }
    }
    if (!env || r->bad) {
        snprintf(text, sizeof text, "malformed or oversized spawn request");
    } else if (sh->n_children == sh->cap_children) {
        snprintf(text, sizeof text, "out of memory");
    } else {
        req.argv = argv;
        req.argc = argc;
        req.env = env;
        req.envc = envc;
        kind = subjob_spawn(&req, &child, text, sizeof text);
        if (kind == SHEPHERD_STARTED)
            sh->children[sh->n_children++] = child;
    }
    queue_answer(sh, kind, kind == SHEPHERD_STARTED ? &child : NULL, text);
    free(argv);
    free(env);
}

static void handle_kill(shepherd *sh, reader *r)
{
    pid_t pid = (pid_t)get_u32(r);
    unsigned long long start = get_u64(r);
    int sig = (int)get_u32(r);
    if (r->bad || pid <= 1)
        return;
    for (size_t i = 0; i < sh->n_children; i++)
        if (sh->children[i].pid == pid && sh->children[i].start == start) {
            sh->children[i].record = false;
            kill(-pid, sig);
            return;
        }
}

static void reap(shepherd *sh)
{
    struct signalfd_siginfo info;
    while (read(sh->sigfd, &info, sizeof info) == (ssize_t)sizeof info)
        ;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        size_t i = 0;
        while (i < sh->n_children && sh->children[i].pid != pid)
            i++;
        if (i == sh->n_children)
            continue;
        shepherd_child *c = &sh->children[i];
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (c->record)
            subjob_record_exit(c, code);
        if (c->lock_fd >= 0)
            close(c->lock_fd); /* after the exit code: the lock covers the whole attempt */
        if (sh->sock >= 0) {
            size_t at = begin_frame(&sh->out, MSG_EXITED);
            put_u32(&sh->out, (uint32_t)pid);
            put_u64(&sh->out, c->start);
            put_u32(&sh->out, (uint32_t)(c->record ? code : -1));
            finish_frame(&sh->out, at);
        }
        free(c->exit_code_file);
        sh->children[i] = sh->children[--sh->n_children];
    }
}

static void caf_gone(shepherd *sh)
{
    close(sh->sock);
    sh->sock = -1;
    sh->out.len = 0;
}

/* Reads what caf sent and handles every complete frame. */
static void receive(shepherd *sh)
{
    for (;;) {
        if (!reserve(&sh->in, sh->in_len, &sh->in_cap, 65536)) {
            caf_gone(sh); /* out of memory: stop taking work, finish what runs */
            return;
        }
        ssize_t n = recv(sh->sock, sh->in + sh->in_len, sh->in_cap - sh->in_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
            caf_gone(sh);
            return;
        }
        if (n < 0)
            break;
        sh->in_len += (size_t)n;
    }
    size_t used = 0, total;
    reader r;
    bool bad = false;
    while (complete_frame(sh->in + used, sh->in_len - used, &r, &total, &bad)) {
        char type = 0;
        get(&r, &type, 1);
        if (type == MSG_SPAWN)
            handle_spawn(sh, &r);
        else if (type == MSG_KILL)
            handle_kill(sh, &r);
        used += total;
        reap(sh); /* a quick command may have ended already: tell caf in the same write */
    }
    if (bad) {
        caf_gone(sh);
        return;
    }
    memmove(sh->in, sh->in + used, sh->in_len - used);
    sh->in_len -= used;
}

static void flush(shepherd *sh)
{
    size_t sent = 0;
    while (sh->sock >= 0 && sent < sh->out.len) {
        ssize_t n = send(sh->sock, sh->out.data + sent, sh->out.len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            caf_gone(sh);
            return;
        }
        sent += (size_t)n;
    }
    if (sh->sock < 0)
        return;
    memmove(sh->out.data, sh->out.data + sent, sh->out.len - sent);
    sh->out.len -= sent;
}

/* Shows the shepherd as "caf: local backend shepherd" in ps and pgrep -f, not as the caf command that forked
 * it (whose command line tests and users look for). The argument strings are contiguous from argv[0]. */
static void retitle(void)
{
    extern char *program_invocation_name;
    char buf[4096], first[4096];
    size_t total = 0, first_len = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0; total += (size_t)n)
        if (total == 0) {
            memcpy(first, buf, (size_t)n);
            first_len = (size_t)n;
        }
    if (fd >= 0)
        close(fd);
    const char title[] = "caf: local backend shepherd";
    size_t name_len = program_invocation_name ? strlen(program_invocation_name) : 0;
    if (total < sizeof title || name_len >= first_len || memcmp(program_invocation_name, first, name_len + 1) != 0)
        return; /* not where the command line lives, or too short to hold the title */
    memset(program_invocation_name, 0, total);
    memcpy(program_invocation_name, title, sizeof title);
}

static void close_other_descriptors(int keep)
{
    if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0) != 0)
        for (int fd = 3; fd < keep; fd++)
            close(fd);
    if (syscall(SYS_close_range, keep + 1, ~0U, 0) != 0)
        for (int fd = keep + 1; fd < 65536; fd++)
            close(fd);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2 && null >= 0; fd++)
        if (fd != null)
            dup2(null, fd);
    if (null > 2)
        close(null);
}

static void shepherd_main(int sock)
{
    setsid();
    prctl(PR_SET_NAME, "caf-shepherd");
    retitle();
    close_other_descriptors(sock);
    const int ignored[] = {SIGINT, SIGHUP, SIGPIPE, SIGQUIT};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        signal(ignored[i], SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    sigset_t chld, none;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    signal(SIGCHLD, SIG_DFL);
    shepherd sh = {.sock = sock, .sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)};
    if (sh.sigfd < 0)
        _exit(1);
    for (;;) {
        reap(&sh);
        if (sh.sock >= 0 && sh.out.len)
            flush(&sh);
        if (sh.sock < 0 && sh.n_children == 0)
            _exit(0);
        struct pollfd fds[2] = {{.fd = sh.sigfd, .events = POLLIN},
                                {.fd = sh.sock, .events = (short)(POLLIN | (sh.out.len ? POLLOUT : 0))}};
        if (poll(fds, sh.sock >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            _exit(1);
        if (sh.sock >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            receive(&sh);
    }
}

/* ---- caf's side ---- */

caf_status shepherd_start(local_shepherd *s, caf_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return caf_error_errno(err, errno, "local backend: cannot create a socket pair");
    /* Two forks: the shepherd is then no child of caf (which would have to reap it) and lives on after caf. */
    pid_t mid = fork();
    if (mid == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            close(sv[0]);
            shepherd_main(sv[1]);
        }
        _exit(pid < 0 ? 1 : 0);
    }
    int e = errno;
    close(sv[1]);
    int status = 0;
    if (mid > 0)
        while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
            ;
    if (mid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        close(sv[0]);
        return caf_error_errno(err, mid < 0 ? e : EAGAIN, "local backend: cannot start its shepherd process");
    }
    s->fd = sv[0];
    s->in_len = 0;
    return CAF_OK;
}

void shepherd_close(local_shepherd *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->in);
    s->in = NULL;
    s->in_len = s->in_cap = 0;
}

static caf_status send_frame(local_shepherd *s, frame *f, caf_error *err)
{
    if (f->failed) {
        free(f->data);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t sent = 0;
    while (s->fd >= 0 && sent < f->len) {
        ssize_t n = send(s->fd, f->data + sent, f->len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(f->data);
            shepherd_close(s);
            return caf_error_errno(err, e, "local backend: its shepherd process is gone");
        }
        sent += (size_t)n;
    }
    free(f->data);
    if (s->fd < 0)
        return caf_error_set(err, CAF_ERR_IO, "local backend: its shepherd process is gone");
    return CAF_OK;
}

caf_status shepherd_send_spawn(local_shepherd *s, const shepherd_spawn *req, caf_error *err)
{
    frame f = {0};
    size_t at = begin_frame(&f, MSG_SPAWN);
    put_u32(&f, req->direct ? 1 : 0);
    put_u32(&f, (uint32_t)req->argc);
    put_u32(&f, (uint32_t)req->envc);
    put_str(&f, req->dir);
    put_str(&f, req->exit_code_file ? req->exit_code_file : "");
    for (size_t i = 0; i < req->argc; i++)
        put_str(&f, req->argv[i]);
    for (size_t i = 0; i < req->envc; i++)
        put_str(&f, req->env[i]);
    finish_frame(&f, at);
    if (!f.failed && f.len > MAX_FRAME) {
        free(f.data);
        return caf_error_set(err, CAF_ERR_INVALID, "the command line of a subjob is larger than %u bytes",
                             MAX_FRAME);
    }
    return send_frame(s, &f, err);
}

caf_status shepherd_send_kill(local_shepherd *s, pid_t pid, unsigned long long start, int sig, caf_error *err)
{
    frame f = {0};
    size_t at = begin_frame(&f, MSG_KILL);
    put_u32(&f, (uint32_t)pid);
    put_u64(&f, start);
    put_u32(&f, (uint32_t)sig);
    finish_frame(&f, at);
    return send_frame(s, &f, err);
}

int shepherd_next(local_shepherd *s, bool block, shepherd_message *m)
{
    for (;;) {
        reader r;
        size_t total;
        bool bad = false;
        if (s->fd >= 0 && complete_frame(s->in, s->in_len, &r, &total, &bad)) {
            char type = 0;
            get(&r, &type, 1);
            *m = (shepherd_message){0};
            if (type == MSG_ANSWER) {
                m->kind = (shepherd_message_kind)get_u32(&r);
                m->pid = (pid_t)get_u32(&r);
                m->start = get_u64(&r);
                const char *text = get_str(&r);
                snprintf(m->text, sizeof m->text, "%s", text ? text : "");
            } else {
                m->kind = SHEPHERD_EXITED;
                m->pid = (pid_t)get_u32(&r);
                m->start = get_u64(&r);
                m->code = (int)get_u32(&r);
            }
            memmove(s->in, s->in + total, s->in_len - total);
            s->in_len -= total;
            if (!r.bad)
                return 1;
            bad = true;
        }
        if (bad || s->fd < 0) {
            shepherd_close(s);
            return -1;
        }
        if (!reserve(&s->in, s->in_len, &s->in_cap, 4096)) {
            shepherd_close(s);
            return -1;
        }
        ssize_t n = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, block ? 0 : MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            shepherd_close(s);
            return -1;
        }
        s->in_len += (size_t)n;
    }
}
