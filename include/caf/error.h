/* Errors: every fallible caf function returns a caf_status code and, when given a caf_error, fills it
 * with a one-line message that names the file, line, key or job at fault. There is no global error
 * state: the caller owns the caf_error and may pass NULL when it only wants the code. */
#ifndef CAF_ERROR_H
#define CAF_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_status {
    CAF_OK = 0,
    CAF_ERR_INVALID = 1,   /* bad argument or value (a malformed IoV, an illegal payload name) */
    CAF_ERR_FORMAT = 2,    /* a file's content does not follow its format */
    CAF_ERR_IO = 3,        /* the operating system refused a read, write, lock or rename */
    CAF_ERR_NOMEM = 4,     /* an allocation failed */
    CAF_ERR_NOT_FOUND = 5, /* the thing asked for does not exist */
    CAF_ERR_EXISTS = 6,    /* the thing to create already exists */
    CAF_ERR_STATE = 7,     /* the call is not allowed in the object's current state */
    CAF_ERR_PLUGIN = 8,    /* a plugin could not be loaded or misbehaved */
    CAF_ERR_EXTERNAL = 9,  /* an external program or library failed */
    CAF_ERR_TIMEOUT = 10,  /* something took longer than allowed */
} caf_status;

#define CAF_ERROR_MESSAGE_MAX 1024

/* A status code plus the message that explains it. Zero-initialise, or call caf_error_clear. */
typedef struct caf_error {
    caf_status code;
    char message[CAF_ERROR_MESSAGE_MAX];
} caf_error;

/* Resets err (if not NULL) to CAF_OK with an empty message. */
void caf_error_clear(caf_error *err);

/* Sets err (if not NULL) to code and a printf-style message; returns code so callers can
 * `return caf_error_set(...)`. Control characters in the message (a quoted file name's newline) become
 * '?', so that it stays one line. */
caf_status caf_error_set(caf_error *err, caf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like caf_error_set, with a va_list. */
caf_status caf_error_setv(caf_error *err, caf_status code, const char *fmt, va_list ap);

/* Prefixes err's message with a printf-style context ("FILE: ") and returns err's code. */
caf_status caf_error_prefix(caf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets err from errno: "<what>: <strerror(errnum)>", code CAF_ERR_IO (CAF_ERR_NOMEM for ENOMEM,
 * CAF_ERR_NOT_FOUND for ENOENT); returns that code. */
caf_status caf_error_errno(caf_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns a static, human-readable name for code ("invalid argument", ...); never NULL. */
const char *caf_status_name(caf_status code);

#ifdef __cplusplus
}
#endif
#endif
