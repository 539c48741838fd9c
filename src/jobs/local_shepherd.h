/* The local backend's shepherd: one small process per open local backend (a fork of caf, started on the
 * first submission, detached: its own session, parented to init) that starts subjobs' commands itself
 * (fork + exec, no wrapper script), is their parent, reaps them and writes each exit-code file atomically
 * before telling caf. It outlives caf: when caf ends (normally after `caf jobs submit` without --wait, or
 * killed) the shepherd keeps waiting for the subjobs it started, records their exit codes and then exits,
 * so a restarted caf re-attaches to them exactly as to a wrapper script that outlived its caf.
 *
 * caf and the shepherd talk over a stream socket in frames (u32 length, then the payload); the shepherd
 * never blocks on a write (it queues), so neither side can deadlock the other. Private to src/jobs. */
#ifndef CAF_JOBS_LOCAL_SHEPHERD_H
#define CAF_JOBS_LOCAL_SHEPHERD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "caf/error.h"

/* What the shepherd needs to start one subjob. */
typedef struct shepherd_spawn {
    bool direct;                /* true: run argv directly (the shepherd locks, redirects and records);
                                   false: argv is `bash run.sh`, which does all that itself */
    const char *dir;            /* the subjob's folder: working folder, stdout, stderr, lock file */
    const char *exit_code_file; /* where the exit code goes (direct only) */
    char *const *argv;          /* NULL-terminated; argv[0] is found through PATH (the job's if it sets one) */
    size_t argc;
    char *const *env;           /* NAME=VALUE set on top of caf's environment (direct only) */
    size_t envc;
} shepherd_spawn;

/* One message from the shepherd. */
typedef enum shepherd_message_kind {
    SHEPHERD_STARTED,  /* answer to a spawn: pid and start set */
    SHEPHERD_BUSY,     /* answer to a spawn: another copy of the subjob holds its lock; nothing started */
    SHEPHERD_REFUSED,  /* answer to a spawn: could not start (text says why) */
    SHEPHERD_EXITED,   /* a started process ended and was reaped; code is its exit code as recorded, or -1
                          when nothing was recorded (a wrapper-script subjob, or one caf asked to kill) */
} shepherd_message_kind;

typedef struct shepherd_message {
    shepherd_message_kind kind;
    pid_t pid;
    unsigned long long start; /* start time in clock ticks after boot (/proc/PID/stat field 22) */
    int code;
    char text[256];
} shepherd_message;

/* caf's end of the conversation with one shepherd. */
typedef struct local_shepherd {
    int fd;                /* the socket; -1 before the start and once the shepherd is gone */
    unsigned char *in;     /* bytes received and not yet decoded */
    size_t in_len, in_cap;
} local_shepherd;

/* Starts a shepherd (detached; it is not caf's child). */
caf_status shepherd_start(local_shepherd *s, caf_error *err);

/* Closes caf's end: the shepherd ends once every process it started has ended and been recorded. */
void shepherd_close(local_shepherd *s);

/* Asks the shepherd to start a subjob; the answer comes as a message, in request order. */
caf_status shepherd_send_spawn(local_shepherd *s, const shepherd_spawn *req, caf_error *err);

/* Asks the shepherd to send sig to the process group of (pid, start), one of its processes; its exit code
 * will not be recorded (like a wrapper script killed with its command). */
caf_status shepherd_send_kill(local_shepherd *s, pid_t pid, unsigned long long start, int sig, caf_error *err);

/* Decodes the next message into *m: 1 when there was one, 0 when none is waiting (only without block),
 * -1 when the shepherd is gone (s->fd is then -1). */
int shepherd_next(local_shepherd *s, bool block, shepherd_message *m);

/* Reads the state letter and start time of pid from /proc; false if it does not exist. */
bool shepherd_proc_stat(pid_t pid, char *state, unsigned long long *start);

/* ---- inside the shepherd (subjob_spawn.c) ---- */

/* A process the shepherd started. */
typedef struct shepherd_child {
    pid_t pid;
    unsigned long long start;
    int lock_fd;        /* the subjob's lock, held until the exit code is recorded; -1 if none */
    bool record;        /* write the exit code when it ends */
    char *exit_code_file;
} shepherd_child;

/* Starts req in a new session: lock, stale temporary files removed, stdin from /dev/null, stdout and
 * stderr appended to DIR/stdout and DIR/stderr, environment, working folder, then exec. Returns the kind
 * of answer and fills *child (STARTED) or text (REFUSED). */
shepherd_message_kind subjob_spawn(const shepherd_spawn *req, shepherd_child *child, char *text, size_t text_size);

/* Writes code to child's exit-code file atomically (temporary file + rename). */
void subjob_record_exit(const shepherd_child *child, int code);

#endif
