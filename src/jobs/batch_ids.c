/* Bookkeeping the batch backends share: grouping subjobs into submissions, finding a subjob by its
 * batch id in status output, and filling poll reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

size_t batch_group_same_request(caf_subjob **subs, size_t from, size_t n)
{
    size_t count = 1;
    for (size_t i = from + 1; i < n; i++) {
        if (subs[i]->memory_mb == subs[from]->memory_mb && subs[i]->time_s == subs[from]->time_s) {
            caf_subjob *t = subs[from + count];
            subs[from + count] = subs[i];
            subs[i] = t;
            count++;
        }
    }
    return count;
}

static int by_id(const void *a, const void *b)
{
    const caf_subjob *x = *(caf_subjob *const *)a, *y = *(caf_subjob *const *)b;
    return strcmp(x->batch_id ? x->batch_id : "", y->batch_id ? y->batch_id : "");
}

void batch_sort_by_id(caf_subjob **subs, size_t n, caf_subjob **out)
{
    memcpy(out, subs, n * sizeof *out);
    qsort(out, n, sizeof *out, by_id);
}

long batch_find_id(caf_subjob *const *sorted, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid]->batch_id ? sorted[mid]->batch_id : "", id);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

caf_status batch_set_id(caf_subjob *sub, const char *id, caf_error *err)
{
    char *copy = strdup(id);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(sub->batch_id);
    sub->batch_id = copy;
    return CAF_OK;
}

void batch_for_each_line(char *text, void (*fn)(char *line, void *ctx), void *ctx)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
        if (line[strspn(line, " \t")] != '\0')
            fn(line, ctx);
}

void batch_report(caf_batch_report *report, caf_batch_state state, const char *fmt, ...)
{
    report->state = state;
    report->reason[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(report->reason, sizeof report->reason, fmt, ap);
        va_end(ap);
    }
}

void batch_safe_name(const char *name, char *buf, size_t size)
{
    size_t k = 0;
    for (const char *p = name ? name : ""; *p && k + 1 < size && k < 40; p++) {
        char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_' || c == '.';
        buf[k++] = plain ? c : '_';
    }
    if (k == 0 && size > 3)
        k = (size_t)snprintf(buf, size, "caf");
    buf[k] = '\0';
}
