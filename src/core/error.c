/* Error codes plus messages, in the manner of SQLite: the code says what kind of failure it was, the
 * message says which file, line or key was at fault. */
#include "caf/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void caf_error_clear(caf_error *err)
{
    if (!err)
        return;
    err->code = CAF_OK;
    err->message[0] = '\0';
}

/* A message is one line whatever a file name or a value it quotes holds: control characters become '?'. */
static void keep_on_one_line(char *message)
{
    for (unsigned char *p = (unsigned char *)message; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

caf_status caf_error_setv(caf_error *err, caf_status code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    keep_on_one_line(err->message);
    return code;
}

caf_status caf_error_set(caf_error *err, caf_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    caf_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

caf_status caf_error_prefix(caf_error *err, const char *fmt, ...)
{
    if (!err)
        return CAF_ERR_INVALID;
    char prefix[CAF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[CAF_ERROR_MESSAGE_MAX];
    snprintf(joined, sizeof joined, "%s%s", prefix, err->message);
    memcpy(err->message, joined, sizeof joined);
    keep_on_one_line(err->message);
    return err->code;
}

caf_status caf_error_errno(caf_error *err, int errnum, const char *fmt, ...)
{
    caf_status code = errnum == ENOMEM ? CAF_ERR_NOMEM : errnum == ENOENT ? CAF_ERR_NOT_FOUND : CAF_ERR_IO;
    if (!err)
        return code;
    char what[CAF_ERROR_MESSAGE_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return caf_error_set(err, code, "%s: %s", what, strerror(errnum));
}

const char *caf_status_name(caf_status code)
{
    switch (code) {
    case CAF_OK: return "ok";
    case CAF_ERR_INVALID: return "invalid argument";
    case CAF_ERR_FORMAT: return "format error";
    case CAF_ERR_IO: return "I/O error";
    case CAF_ERR_NOMEM: return "out of memory";
    case CAF_ERR_NOT_FOUND: return "not found";
    case CAF_ERR_EXISTS: return "already exists";
    case CAF_ERR_STATE: return "wrong state";
    case CAF_ERR_PLUGIN: return "plugin error";
    case CAF_ERR_EXTERNAL: return "external command failed";
    case CAF_ERR_TIMEOUT: return "timed out";
    }
    return "unknown error";
}
