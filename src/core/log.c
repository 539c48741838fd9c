/* Leveled logging. The level comes from $CAF_LOG_LEVEL on first use so that a child process started by
 * caf (a collector job, an algorithm runner) logs at the level of its parent without extra plumbing. */
#include "caf/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int level_initialised;
static caf_log_level current_level = CAF_LOG_INFO;
static caf_log_sink current_sink;
static void *current_userdata;

static void init_level_from_environment(void)
{
    if (level_initialised)
        return;
    level_initialised = 1;
    const char *env = getenv("CAF_LOG_LEVEL");
    caf_log_level parsed;
    if (env && caf_log_level_parse(env, &parsed) == 0)
        current_level = parsed;
}

void caf_log_set_level(caf_log_level level)
{
    level_initialised = 1;
    current_level = level;
}

caf_log_level caf_log_get_level(void)
{
    init_level_from_environment();
    return current_level;
}

int caf_log_level_parse(const char *text, caf_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warning", "error", "quiet"};
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *out = (caf_log_level)i;
            return 0;
        }
    }
    return -1;
}

void caf_log_set_sink(caf_log_sink sink, void *userdata)
{
    current_sink = sink;
    current_userdata = userdata;
}

void caf_log(caf_log_level level, const char *fmt, ...)
{
    init_level_from_environment();
    if (level < current_level || level >= CAF_LOG_QUIET)
        return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (current_sink) {
        current_sink(level, line, current_userdata);
        return;
    }
    caf_log_print(level, line);
}

void caf_log_print(caf_log_level level, const char *line)
{
    static const char *const prefixes[] = {"debug: ", "", "warning: ", "error: "};
    fprintf(stderr, "caf: %s%s\n", level >= CAF_LOG_DEBUG && level <= CAF_LOG_ERROR ? prefixes[level] : "", line);
}
