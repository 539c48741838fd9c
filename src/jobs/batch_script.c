/* The script a batch system runs for a submission: one bash driver that picks the wrapper script of
 * its array task. The wrapper paths are single-quoted words in a bash array, so no file name (spaces,
 * quotes, $, backticks, newlines) ever reaches a shell unquoted or the batch system's own parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/wrapper_script.h"
#include "jobs/batch.h"

/* The length of PREFIX when every subs[i]->script_path is PREFIX<index>/run.sh (the layout of
 * include/caf/job.h), else 0. */
static size_t common_layout_prefix(caf_subjob **subs, size_t n)
{
    if (n == 0 || !subs[0]->script_path)
        return 0;
    char tail[48];
    snprintf(tail, sizeof tail, "%zu/run.sh", subs[0]->index);
    size_t len = strlen(subs[0]->script_path), tlen = strlen(tail);
    if (len <= tlen || strcmp(subs[0]->script_path + len - tlen, tail) != 0)
        return 0;
    size_t prefix_len = len - tlen;
    for (size_t i = 1; i < n; i++) {
        const char *p = subs[i]->script_path;
        snprintf(tail, sizeof tail, "%zu/run.sh", subs[i]->index);
        if (!p || strncmp(p, subs[0]->script_path, prefix_len) != 0 || strcmp(p + prefix_len, tail) != 0)
            return 0;
    }
    return prefix_len;
}

char *batch_driver_script(const char *interpreter_line, const caf_strings *extra_lines,
                          const char *index_variable, long first_index, caf_subjob **subs, size_t n)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    bool ok = fprintf(f, "%s\n", interpreter_line) >= 0;
    for (size_t i = 0; ok && extra_lines && i < extra_lines->count; i++)
        ok = fprintf(f, "%s\n", extra_lines->items[i]) >= 0;
    ok = ok && fputs("# Written by caf: runs the wrapper script of one subjob.\n", f) >= 0;
    size_t prefix_len = common_layout_prefix(subs, n);
    if (index_variable && prefix_len > 0) {
        /* Every wrapper is PREFIX<index>/run.sh: list the indices only, so that the script the batch
         * system stores and ships to every task stays small for big arrays. */
        char *prefix = strndup(subs[0]->script_path, prefix_len);
        char *quoted = prefix ? caf_shell_quote(prefix) : NULL;
        ok = ok && quoted && fprintf(f, "prefix=%s\nsubjobs=(", quoted) >= 0;
        free(prefix);
        free(quoted);
        for (size_t i = 0; ok && i < n; i++)
            ok = fprintf(f, "%s%zu", i % 20 == 0 ? "\n" : " ", subs[i]->index) >= 0;
        ok = ok && fprintf(f,
                           "\n)\n"
                           "task=$(( ${%s:?} - %ld ))\n"
                           "if [ \"$task\" -lt 0 ] || [ -z \"${subjobs[$task]+set}\" ]; then\n"
                           "  echo \"caf: no subjob for array task ${%s}\" >&2\n"
                           "  exit 99\n"
                           "fi\n"
                           "exec /bin/bash \"$prefix${subjobs[$task]}/run.sh\"\n",
                           index_variable, first_index, index_variable) >= 0;
    } else if (index_variable) {
        ok = ok && fputs("scripts=(\n", f) >= 0;
        for (size_t i = 0; ok && i < n; i++) {
            char *quoted = caf_shell_quote(subs[i]->script_path);
            ok = quoted && fprintf(f, "%s\n", quoted) >= 0;
            free(quoted);
        }
        ok = ok && fprintf(f,
                           ")\n"
                           "task=$(( ${%s:?} - %ld ))\n"
                           "if [ \"$task\" -lt 0 ] || [ -z \"${scripts[$task]+set}\" ]; then\n"
                           "  echo \"caf: no subjob for array task ${%s}\" >&2\n"
                           "  exit 99\n"
                           "fi\n"
                           "exec /bin/bash \"${scripts[$task]}\"\n",
                           index_variable, first_index, index_variable) >= 0;
    } else {
        char *quoted = n > 0 ? caf_shell_quote(subs[0]->script_path) : NULL;
        ok = ok && quoted && fprintf(f, "exec /bin/bash %s\n", quoted) >= 0;
        free(quoted);
    }
    if (fclose(f) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

void batch_format_duration(long seconds, bool with_days, char *buf, size_t size)
{
    if (seconds < 0)
        seconds = 0;
    long days = with_days ? seconds / 86400 : 0;
    long rest = seconds - days * 86400;
    if (days > 0)
        snprintf(buf, size, "%ld-%02ld:%02ld:%02ld", days, rest / 3600, rest / 60 % 60, rest % 60);
    else
        snprintf(buf, size, "%02ld:%02ld:%02ld", rest / 3600, rest / 60 % 60, rest % 60);
}
