/* Logging: leveled messages to stderr, or to a sink the program installs. The level and sink are
 * process-wide on purpose: a log line must reach the same place whichever layer writes it. */
#ifndef CAF_LOG_H
#define CAF_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum caf_log_level {
    CAF_LOG_DEBUG = 0,
    CAF_LOG_INFO = 1,
    CAF_LOG_WARNING = 2,
    CAF_LOG_ERROR = 3,
    CAF_LOG_QUIET = 4,
} caf_log_level;

/* Receives one formatted log line (without trailing newline). */
typedef void (*caf_log_sink)(caf_log_level level, const char *line, void *userdata);

/* Sets the lowest level that is emitted (default CAF_LOG_INFO, or $CAF_LOG_LEVEL if set). */
void caf_log_set_level(caf_log_level level);

/* Returns the lowest level that is emitted. */
caf_log_level caf_log_get_level(void);

/* Parses "debug", "info", "warning", "error" or "quiet"; returns 0 and sets *out, or -1. */
int caf_log_level_parse(const char *text, caf_log_level *out);

/* Sends log lines to sink (NULL restores stderr). */
void caf_log_set_sink(caf_log_sink sink, void *userdata);

/* Prints one formatted line to stderr as caf does without a sink ("caf: warning: ..."); for sinks that
 * only need to do something around it. */
void caf_log_print(caf_log_level level, const char *line);

/* Emits a printf-style message at level. */
void caf_log(caf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define caf_debug(...) caf_log(CAF_LOG_DEBUG, __VA_ARGS__)
#define caf_info(...) caf_log(CAF_LOG_INFO, __VA_ARGS__)
#define caf_warning(...) caf_log(CAF_LOG_WARNING, __VA_ARGS__)
#define caf_log_error(...) caf_log(CAF_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
