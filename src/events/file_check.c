/* Untrusted event files are read in child processes. HDF5 1.10.8 (Debian 12's) crashes, overflows heap
 * buffers, loops forever or allocates without bound on some malformed files, inside its own code; no
 * check caf could make before calling it prevents that. So the first read of a file caf did not write
 * happens in a forked worker with a time-out, an address-space limit and no core dumps, and the parent
 * turns whatever happened into one line naming the file.
 *
 * A worker serves many files (a fork per file would cost more than reading a small file's metadata):
 * over a socketpair it receives a path ending in NUL and answers, for each, with an optional line "E"
 * when it moves from the metadata to the events (so a crash there is reported as such) and then one
 * line of JSON: {"ok": true, "meta": {...}} or {"ok": false, "code": N, "message": "...", "nomem": b}.
 * The socket closing without an answer means the worker died. A worker that reported any failure is
 * retired and a fresh one forked for the next file: a file that made HDF5 fail may have left its state
 * damaged, and a damaged worker must not read the next file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caf/event_file.h"
#include "events/event_file_internal.h"
#include "events/hdf5_util.h"

#define EVENTS_PHASE_MARK "E\n"
#define RETIRE_AFTER_FILES 256 /* bounds what a silent corruption could reach */

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double env_number(const char *name, double fallback)
{
    const char *text = getenv(name);
    if (!text || !*text)
        return fallback;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    return errno || *end || !(v > 0) ? fallback : v;
}

static caf_file_check_options resolve_options(const caf_file_check_options *opts)
{
    caf_file_check_options o = opts ? *opts : (caf_file_check_options){0};
    if (!(o.timeout_s > 0))
        o.timeout_s = env_number("CAF_FILE_CHECK_TIMEOUT", CAF_FILE_CHECK_DEFAULT_TIMEOUT_S);
    if (!(o.memory_mib > 0))
        o.memory_mib = env_number("CAF_FILE_CHECK_MEMORY", CAF_FILE_CHECK_DEFAULT_MEMORY_MIB);
    if (o.jobs == 0)
        o.jobs = (unsigned)env_number("CAF_FILE_CHECK_JOBS", CAF_FILE_CHECK_DEFAULT_JOBS);
    if (o.jobs == 0)
        o.jobs = 1;
    return o;
}

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a named pipe";
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a file";
}

caf_status caf_event_file_check_regular(const char *path, caf_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        struct stat st;
        if (errno != ENOENT && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return caf_error_set(err, CAF_ERR_INVALID, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
        return caf_error_errno(err, errno, "%s", path);
    }
    struct stat st;
    int rc = fstat(fd, &st);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return caf_error_errno(err, saved, "%s", path);
    if (!S_ISREG(st.st_mode))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
    return CAF_OK;
}

/* ---- the child ---- */

static void write_all(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        text += w;
        n -= (size_t)w;
    }
}

/* Limits the child's address space to what it has now plus limit_mib: relative, because a sanitizer
 * build has terabytes of shadow mappings reserved before main. */
static void limit_memory(double limit_mib)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    rlim_t now = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    struct rlimit old;
    if (getrlimit(RLIMIT_AS, &old) != 0)
        return;
    rlim_t want = now + (rlim_t)(limit_mib * 1024.0 * 1024.0);
    if (old.rlim_max != RLIM_INFINITY && want > old.rlim_max)
        want = old.rlim_max;
    struct rlimit lim = {want, old.rlim_max};
    setrlimit(RLIMIT_AS, &lim);
}

static bool looks_like_nomem(const caf_error *err)
{
    return err->code == CAF_ERR_NOMEM || strstr(err->message, "memory allocation failed") ||
           strstr(err->message, "out of memory") || strstr(err->message, "unable to allocate");
}

/* Streams exp, run and trigger through a reader on the open file (which it takes, with meta, into *r), whose
 * own checks (segments against exp and run, the run table, trigger values) then apply to the whole file
 * before a caller reads it in its own process. */
static caf_status check_events(hid_t file, const char *path, caf_event_file_meta *meta, caf_event_reader **r,
                               caf_error *err)
{
    static const char *const select[] = {CAF_EVENT_SELECT_EXP, CAF_EVENT_SELECT_RUN, CAF_EVENT_SELECT_TRIGGER};
    caf_event_reader_options ro = {.batch_size = 65536, .select = select, .n_select = 3};
    caf_status rc = caf_event_reader_open_h5(r, file, path, meta, &ro, err);
    const caf_event_batch *b = NULL;
    while (rc == CAF_OK && (rc = caf_event_reader_next(*r, &b, err)) == CAF_OK && b)
        ;
    return rc;
}

/* Answers for one file: its metadata, then (with o->events) its events, from one HDF5 open of the file. */
static void answer(int fd, const char *path, const caf_file_check_options *o)
{
    caf_event_file_meta meta = {0};
    caf_event_reader *r = NULL;
    caf_error err = {0};
    hid_t file = caf_h5_open_read(path, &err);
    caf_status rc = file < 0 ? (err.code ? err.code : CAF_ERR_FORMAT)
                             : caf_event_file_meta_read_h5(file, path, &meta, &err);
    if (rc == CAF_OK && o->events) {
        write_all(fd, EVENTS_PHASE_MARK, strlen(EVENTS_PHASE_MARK));
        rc = check_events(file, path, &meta, &r, &err); /* the reader holds file and meta from now on */
        file = -1;
    }
    json_t *j = rc == CAF_OK ? json_pack("{s:b, s:o}", "ok", 1, "meta",
                                         caf_event_file_meta_to_json(r ? caf_event_reader_meta(r) : &meta))
                             : json_pack("{s:b, s:i, s:s, s:b}", "ok", 0, "code", (int)rc, "message", err.message,
                                         "nomem", looks_like_nomem(&err));
    caf_event_reader_close(r);
    caf_event_file_meta_free(&meta);
    if (file >= 0)
        H5Fclose(file);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL; /* compact JSON has no newline */
    json_decref(j);
    if (!text)
        _exit(3); /* no answer: the parent reports the file as bad */
    write_all(fd, text, strlen(text));
    write_all(fd, "\n", 1);
    free(text);
}

static void worker_main(int fd, const caf_file_check_options *o)
{
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) { /* a library's or a sanitizer's report would break the parent's one-line message */
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
    }
    /* Hold nothing of the parent's: a copy of the run's lock, of another child's pipe or of a sibling
     * worker's socket (an idle sibling would then never see its socket close) would keep them open after
     * the parent let go of them. */
    if (fd != 3 && dup2(fd, 3) == 3)
        fd = 3;
    close_range(4, ~0U, 0);
    limit_memory(o->memory_mib);
    FILE *in = fdopen(fd, "r");
    char *path = NULL;
    size_t cap = 0;
    while (in && getdelim(&path, &cap, '\0', in) > 0)
        answer(fd, path, o);
    _exit(0);
}

/* ---- the parent ---- */

static bool meta_from_json(const json_t *j, caf_event_file_meta *m)
{
    memset(m, 0, sizeof *m);
    json_t *runs, *exps, *parents;
    json_int_t version, n_events, lo_e, lo_r, hi_e, hi_r;
    const char *creator, *creator_version, *seed;
    if (json_unpack((json_t *)j, "{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:{s:I, s:I}, s:{s:I, s:I}, s:o}",
                    "format_version", &version, "creator", &creator, "creator_version", &creator_version,
                    "random_seed_text", &seed, "n_events", &n_events, "experiments", &exps, "runs", &runs, "low",
                    "exp", &lo_e, "run", &lo_r, "high", "exp", &hi_e, "run", &hi_r, "parents", &parents) != 0 ||
        !json_is_array(runs) || !json_is_array(exps) || !json_is_array(parents))
        return false;
    m->format_version = (int)version;
    m->creator = strdup(creator);
    m->creator_version = strdup(creator_version);
    m->random_seed = strtoull(seed, NULL, 10);
    m->n_events = n_events;
    m->low = (caf_exprun){(int)lo_e, (int)lo_r};
    m->high = (caf_exprun){(int)hi_e, (int)hi_r};
    m->n_runs = json_array_size(runs);
    m->n_experiments = json_array_size(exps);
    m->n_parents = json_array_size(parents);
    m->runs = calloc(m->n_runs + 1, sizeof *m->runs);
    m->experiments = calloc(m->n_experiments + 1, sizeof *m->experiments);
    m->parents = calloc(m->n_parents + 1, sizeof *m->parents);
    bool ok = m->creator && m->creator_version && m->runs && m->experiments && m->parents;
    for (size_t i = 0; ok && i < m->n_runs; i++) {
        json_int_t e, r, c;
        ok = json_unpack(json_array_get(runs, i), "{s:I, s:I, s:I}", "exp", &e, "run", &r, "events", &c) == 0;
        m->runs[i] = (caf_run_count){(int)e, (int)r, (int64_t)c};
    }
    for (size_t i = 0; ok && i < m->n_experiments; i++) {
        ok = json_is_integer(json_array_get(exps, i));
        m->experiments[i] = (int)json_integer_value(json_array_get(exps, i));
    }
    for (size_t i = 0; ok && i < m->n_parents; i++) {
        const char *p = json_string_value(json_array_get(parents, i));
        ok = p && (m->parents[i] = strdup(p));
    }
    if (!ok) {
        for (size_t i = 0; m->parents && i < m->n_parents; i++)
            free(m->parents[i]);
        free(m->parents);
        m->parents = NULL;
        m->n_parents = 0;
        caf_event_file_meta_free(m);
    }
    return ok;
}

typedef struct worker {
    pid_t pid; /* 0: no worker in this slot */
    int fd;
    bool busy;
    size_t index; /* the file it reads while busy */
    size_t served;
    double deadline;
    char *data; /* what it said about the current file */
    size_t size, cap;
} worker;

static bool worker_append(worker *w, const char *bytes, size_t n)
{
    if (w->size + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->size + n + 1)
            cap *= 2;
        char *grown = realloc(w->data, cap);
        if (!grown)
            return false;
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->size, bytes, n);
    w->size += n;
    w->data[w->size] = '\0';
    return true;
}

/* Forks the worker of slot w. */
static caf_status start_worker(worker *w, const char *path, const caf_file_check_options *o, caf_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return caf_error_errno(err, errno, "%s: cannot make a socket for the metadata reader", path);
    fflush(NULL); /* buffered output must not be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(sv[0]);
        close(sv[1]);
        return caf_error_errno(err, saved, "%s: cannot start the metadata reader", path);
    }
    if (pid == 0) {
        close(sv[0]);
        worker_main(sv[1], o);
    }
    close(sv[1]);
    *w = (worker){.pid = pid, .fd = sv[0], .data = w->data, .cap = w->cap};
    return CAF_OK;
}

/* Ends the worker: closing its socket makes an idle one exit; kill makes sure of a busy one. */
static int stop_worker(worker *w, bool kill_it)
{
    if (kill_it)
        kill(w->pid, SIGKILL);
    close(w->fd);
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    w->fd = -1;
    w->busy = false;
    return status;
}

static caf_status send_path(worker *w, const char *path, caf_error *err)
{
    size_t n = strlen(path) + 1, done = 0;
    while (done < n) {
        ssize_t sent = send(w->fd, path + done, n - done, MSG_NOSIGNAL); /* a dead worker must not SIGPIPE us */
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return caf_error_errno(err, errno, "%s: cannot reach the metadata reader", path);
        done += (size_t)sent;
    }
    return CAF_OK;
}

/* Gives the worker of slot w (forking one when it has none) file i; false when that failed (errs[i] says
 * why). */
static bool assign(worker *w, size_t i, const char *path, const caf_file_check_options *o, caf_error *err)
{
    if (!w->pid && start_worker(w, path, o, err) != CAF_OK)
        return false;
    if (send_path(w, path, err) != CAF_OK) {
        stop_worker(w, true);
        return false;
    }
    w->busy = true;
    w->index = i;
    w->size = 0;
    w->deadline = monotonic_now() + o->timeout_s;
    return true;
}

/* The answer's line, once complete: the text after the events mark up to its newline, else NULL. */
static const char *complete_answer(worker *w, bool *in_events)
{
    const char *text = w->data ? w->data : "";
    *in_events = strncmp(text, EVENTS_PHASE_MARK, strlen(EVENTS_PHASE_MARK)) == 0;
    if (*in_events)
        text += strlen(EVENTS_PHASE_MARK);
    char *nl = strchr(text, '\n');
    if (!nl)
        return NULL;
    *nl = '\0';
    return text;
}

/* Turns the worker's answer into file i's outcome; false when the worker must be retired. */
static bool take_answer(const char *text, const char *path, const caf_file_check_options *o, const char *doing,
                        caf_event_file_meta *meta, caf_error *err)
{
    json_t *answer = json_loads(text, 0, NULL);
    int ok = 0, nomem = 0, code = CAF_ERR_FORMAT;
    const char *message = NULL;
    json_t *jmeta = NULL;
    if (!answer || json_unpack(answer, "{s:b, s?o, s?i, s?s, s?b}", "ok", &ok, "meta", &jmeta, "code", &code,
                               "message", &message, "nomem", &nomem) != 0)
        caf_error_set(err, CAF_ERR_EXTERNAL, "%s: the metadata reader's answer is not understood", path);
    else if (!ok && nomem)
        caf_error_set(err, CAF_ERR_EXTERNAL,
                      "%s: the HDF5 library exceeded the memory limit of %g MiB while %s (limit "
                      "$CAF_FILE_CHECK_MEMORY)",
                      path, o->memory_mib, doing);
    else if (!ok)
        caf_error_set(err, code > 0 && code <= CAF_ERR_TIMEOUT ? (caf_status)code : CAF_ERR_FORMAT, "%s",
                      message ? message : "unknown failure");
    else if (meta && !meta_from_json(jmeta, meta))
        caf_error_set(err, CAF_ERR_EXTERNAL, "%s: the metadata reader's answer is not valid metadata", path);
    else
        caf_error_clear(err);
    json_decref(answer);
    return err->code == CAF_OK;
}

/* The worker died or was killed while reading path: say how. */
static void report_death(int status, bool timed_out, const char *path, const caf_file_check_options *o,
                         const char *doing, caf_error *err)
{
    if (timed_out)
        caf_error_set(err, CAF_ERR_TIMEOUT,
                      "%s: the HDF5 library did not answer within %g s while %s (reader killed; limit "
                      "$CAF_FILE_CHECK_TIMEOUT)",
                      path, o->timeout_s, doing);
    else if (WIFSIGNALED(status))
        caf_error_set(err, CAF_ERR_EXTERNAL, "%s: the HDF5 library crashed (signal %d) while %s", path,
                      WTERMSIG(status), doing);
    else /* a sanitizer's report, an allocator giving up, or exit() inside the library */
        caf_error_set(err, CAF_ERR_EXTERNAL,
                      "%s: the HDF5 library crashed (the reader exited with status %d and no answer) while %s", path,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1, doing);
}

size_t caf_event_files_check(const char *const *paths, size_t n, const caf_file_check_options *opts,
                             caf_event_file_meta *metas, caf_error *errs)
{
    caf_file_check_options o = resolve_options(opts);
    size_t n_workers = o.jobs < n ? o.jobs : (n ? n : 1);
    worker *ws = calloc(n_workers, sizeof *ws);
    struct pollfd *fds = calloc(n_workers, sizeof *fds);
    size_t *slot_of = calloc(n_workers, sizeof *slot_of);
    size_t bad = 0;
    if (metas)
        memset(metas, 0, n * sizeof *metas);
    if (!ws || !fds || !slot_of) {
        for (size_t i = 0; i < n; i++)
            caf_error_set(&errs[i], CAF_ERR_NOMEM, "%s: out of memory", paths[i]);
        free(ws), free(fds), free(slot_of);
        return n;
    }
    size_t next = 0, busy = 0;
    for (;;) {
        for (size_t k = 0; k < n_workers && next < n; k++) {
            if (ws[k].busy)
                continue;
            /* a named pipe, a folder or a missing file is refused here, without a worker */
            while (next < n && (caf_event_file_check_regular(paths[next], &errs[next]) != CAF_OK ||
                                !assign(&ws[k], next, paths[next], &o, &errs[next])))
                next++, bad++;
            if (next < n)
                next++, busy++;
        }
        if (busy == 0)
            break;
        double now = monotonic_now(), soonest = 0;
        nfds_t nfds = 0;
        for (size_t k = 0; k < n_workers; k++) {
            if (!ws[k].busy)
                continue;
            if (now >= ws[k].deadline) {
                size_t i = ws[k].index;
                bool in_events = false;
                complete_answer(&ws[k], &in_events);
                report_death(stop_worker(&ws[k], true), true, paths[i], &o,
                             in_events ? "checking its events" : "reading its metadata", &errs[i]);
                bad++, busy--;
                continue;
            }
            if (soonest == 0 || ws[k].deadline < soonest)
                soonest = ws[k].deadline;
            slot_of[nfds] = k;
            fds[nfds++] = (struct pollfd){.fd = ws[k].fd, .events = POLLIN};
        }
        if (nfds == 0)
            continue;
        if (poll(fds, nfds, (int)((soonest - now) * 1000.0) + 1) < 0 && errno != EINTR)
            break;
        for (nfds_t f = 0; f < nfds; f++) {
            if (!fds[f].revents)
                continue;
            worker *w = &ws[slot_of[f]];
            size_t i = w->index;
            char buf[16384];
            ssize_t got = recv(w->fd, buf, sizeof buf, 0);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            bool in_events = false;
            if (got > 0 && !worker_append(w, buf, (size_t)got))
                got = -1; /* cannot hold the answer: treat the worker as lost */
            const char *text = got > 0 ? complete_answer(w, &in_events) : NULL;
            if (got > 0 && !text)
                continue; /* more to come */
            const char *doing = in_events ? "checking its events" : "reading its metadata";
            if (got <= 0) {
                complete_answer(w, &in_events);
                doing = in_events ? "checking its events" : "reading its metadata";
                report_death(stop_worker(w, true), false, paths[i], &o, doing, &errs[i]);
            } else {
                w->busy = false;
                bool fine = take_answer(text, paths[i], &o, doing, metas ? &metas[i] : NULL, &errs[i]);
                if (!fine || ++w->served >= RETIRE_AFTER_FILES)
                    stop_worker(w, false);
            }
            bad += errs[i].code != CAF_OK;
            busy--;
        }
    }
    for (size_t k = 0; k < n_workers; k++) {
        if (ws[k].busy) { /* poll failed: do not leave a file unanswered */
            caf_error_set(&errs[ws[k].index], CAF_ERR_IO, "%s: lost the metadata reader", paths[ws[k].index]);
            bad++;
        }
        if (ws[k].pid)
            stop_worker(&ws[k], ws[k].busy);
        free(ws[k].data);
    }
    free(ws), free(fds), free(slot_of);
    return bad;
}

caf_status caf_event_file_meta_read_isolated(const char *path, const caf_file_check_options *opts,
                                             caf_event_file_meta *meta, caf_error *err)
{
    caf_error local = {0};
    caf_event_files_check(&path, 1, opts, meta, &local);
    if (err)
        *err = local;
    return local.code;
}
