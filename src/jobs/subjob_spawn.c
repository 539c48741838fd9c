/* Starting one subjob's command directly, inside the local backend's shepherd, with what the wrapper script
 * gives a batch subjob: the subjob's lock (so a second copy leaves without touching anything), the removal
 * of what earlier attempts left half-written, stdin from /dev/null, stdout/stderr appended to the subjob's
 * files, the job's environment, the subjob's folder as working folder, and the exit code written to the
 * exit-code file in one rename once the process has ended. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/temp_file.h"
#include "caf/wrapper_script.h"
#include "jobs/local_shepherd.h"

extern char **environ;

/* The descriptor the command inherits its subjob's lock on: the wrapper script's, so both look alike. */
#define SUBJOB_LOCK_FD 200

/* The exit code's temporary file: the wrapper script's name, swept the same way once the lock is free. */
static char *exit_temp_path(const char *exit_code_file)
{
    const char *base = strrchr(exit_code_file, '/');
    int dir_len = base ? (int)(base - exit_code_file + 1) : 0;
    base = base ? base + 1 : exit_code_file;
    char *path = NULL;
    if (asprintf(&path, "%.*s.%s" CAF_TEMP_MARK "wrapper", dir_len, exit_code_file, base) < 0)
        return NULL;
    return path;
}

/* Removes DIR/.*.caf-tmp-* (what earlier attempts left half-written); called holding the lock. */
static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] == '.' && strstr(e->d_name + 1, CAF_TEMP_MARK))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static int open_append(const char *dir, const char *name)
{
    char *path = caf_path_join(dir, name);
    int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666) : -1;
    free(path);
    return fd;
}

/* The value of NAME in the job's environment settings, else in the shepherd's (caf's) environment. */
static const char *job_getenv(const shepherd_spawn *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = req->envc; i-- > 0;)
        if (strncmp(req->env[i], name, len) == 0 && req->env[i][len] == '=')
            return req->env[i] + len + 1;
    return getenv(name);
}

/* Finds command through the job's PATH as execvp would (malloc'd); a name with a slash, or one found
 * nowhere, is returned as it is (exec then fails with the reason). */
static char *resolve_command(const shepherd_spawn *req)
{
    const char *command = req->argv[0];
    const char *path = job_getenv(req, "PATH");
    if (strchr(command, '/') || !*command)
        return strdup(command);
    if (!path)
        path = "/bin:/usr/bin";
    for (const char *p = path;; p++) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *full = NULL;
        if (asprintf(&full, "%.*s%s%s", (int)len, p, len ? "/" : "", command) < 0)
            return NULL;
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
            return full;
        free(full);
        if (!colon)
            break;
        p = colon;
    }
    return strdup(command);
}

/* caf's environment with the job's settings on top (the array is malloc'd, the strings are borrowed). */
static char **job_environment(const shepherd_spawn *req)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + req->envc + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < req->envc && !replaced; j++)
            replaced = strncmp(req->env[j], environ[i], len) == 0;
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < req->envc; j++)
        env[k++] = req->env[j];
    return env;
}

/* When posix_spawn cannot start the command (no such program, a folder that cannot be entered), a child
 * that only reports it takes its place, so the subjob fails with the exit code and the message on its
 * stderr that a shell gives (127 when the program does not exist, 126 when it cannot be run, 1 when the
 * folder cannot be entered). Rare, so a plain fork. */
static pid_t spawn_failure_reporter(const shepherd_spawn *req, int err_fd, int error)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setsid();
    struct stat st;
    if (stat(req->dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(req->dir, X_OK) != 0) {
        dprintf(err_fd, "caf: cannot enter %s: %s\n", req->dir, strerror(error));
        _exit(1);
    }
    dprintf(err_fd, "caf: cannot run %s: %s\n", req->argv[0], strerror(error));
    _exit(error == ENOENT ? 127 : 126);
}

/* A new session (one kill of the process group reaches everything the subjob starts), no blocked signals
 * and the default action for those the shepherd (or caf) ignores or handles. */
static int set_session_and_signals(posix_spawnattr_t *attr)
{
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD};
    for (size_t i = 0; i < sizeof reset / sizeof *reset; i++)
        sigaddset(&defaults, reset[i]);
    int rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(attr, &defaults);
    return rc;
}

/* Starts the command (posix_spawn: a vfork-like clone whose cost does not grow with the shepherd's size). */
static int spawn_direct(const shepherd_spawn *req, int out, int err, int lock, pid_t *pid)
{
    char *path = resolve_command(req);
    char **env = job_environment(req);
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    int rc = ENOMEM;
    if (!path || !env || posix_spawnattr_init(&attr) != 0)
        goto out;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        posix_spawnattr_destroy(&attr);
        goto out;
    }
    rc = set_session_and_signals(&attr);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
    /* dup2 onto the same number clears close-on-exec too (POSIX 2017, glibc 2.29) */
    if (rc == 0 && lock >= 0)
        rc = posix_spawn_file_actions_adddup2(&actions, lock, SUBJOB_LOCK_FD);
    if (rc == 0)
        rc = posix_spawn_file_actions_addchdir_np(&actions, req->dir);
    if (rc == 0)
        rc = posix_spawn(pid, path, &actions, &attr, req->argv, env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0 && rc != ENOMEM && rc != EAGAIN) {
        *pid = spawn_failure_reporter(req, err, rc);
        rc = *pid < 0 ? errno : 0;
    }
out:
    free(path);
    free(env);
    return rc;
}

/* Starts bash run.sh (the wrapper script does the rest), stdio on /dev/null. */
static int spawn_script(const shepherd_spawn *req, pid_t *pid)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    if (posix_spawnattr_init(&attr) != 0)
        return ENOMEM;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        posix_spawnattr_destroy(&attr);
        return ENOMEM;
    }
    int rc = set_session_and_signals(&attr);
    for (int fd = 0; fd <= 2 && rc == 0; fd++)
        rc = posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawnp(pid, req->argv[0], &actions, &attr, req->argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

shepherd_message_kind subjob_spawn(const shepherd_spawn *req, shepherd_child *child, char *text, size_t text_size)
{
    *child = (shepherd_child){.lock_fd = -1};
    int out = -1, err = -1, lock = -1;
    if (req->direct) {
        char *lock_path = caf_path_join(req->dir, CAF_SUBJOB_LOCK_FILE);
        lock = lock_path ? open(lock_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666) : -1;
        if (lock < 0) {
            snprintf(text, text_size, "%s: %s", lock_path ? lock_path : req->dir, strerror(errno));
            free(lock_path);
            return SHEPHERD_REFUSED;
        }
        free(lock_path);
        int rc;
        while ((rc = flock(lock, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
            ;
        if (rc != 0 && errno == EWOULDBLOCK) {
            close(lock);
            return SHEPHERD_BUSY;
        }
        /* a file system without locks runs unlocked, as the wrapper script does */
        if (rc == 0)
            remove_stale_temporaries(req->dir);
        out = open_append(req->dir, "stdout");
        err = out >= 0 ? open_append(req->dir, "stderr") : -1;
        child->exit_code_file = strdup(req->exit_code_file);
        if (out < 0 || err < 0 || !child->exit_code_file) {
            snprintf(text, text_size, "%s/stdout or stderr: %s", req->dir,
                     child->exit_code_file ? strerror(errno) : "out of memory");
            goto refused;
        }
        child->record = true;
    }
    pid_t pid = -1;
    int e = req->direct ? spawn_direct(req, out, err, lock, &pid) : spawn_script(req, &pid);
    if (e != 0) {
        snprintf(text, text_size, "cannot start %s: %s", req->argv[0], strerror(e));
        goto refused;
    }
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    char state;
    child->pid = pid;
    if (!shepherd_proc_stat(pid, &state, &child->start))
        child->start = 0;
    child->lock_fd = lock;
    return SHEPHERD_STARTED;
refused:
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    if (lock >= 0)
        close(lock);
    free(child->exit_code_file);
    child->exit_code_file = NULL;
    return SHEPHERD_REFUSED;
}

void subjob_record_exit(const shepherd_child *child, int code)
{
    char *tmp = exit_temp_path(child->exit_code_file);
    if (!tmp)
        return; /* no exit-code file: caf fails the attempt after its grace period */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) {
        char line[16];
        int len = snprintf(line, sizeof line, "%d\n", code);
        bool ok = write(fd, line, (size_t)len) == len;
        if (close(fd) == 0 && ok)
            rename(tmp, child->exit_code_file);
        else
            unlink(tmp);
    }
    free(tmp);
}
