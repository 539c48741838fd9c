/* Configuration problems: collected, not thrown, so that a bad campaign is reported in full at once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "caf/campaign.h"

bool caf_config_problems_add(caf_config_problems *problems, caf_mark mark, const char *fmt, ...)
{
    caf_config_problem *grown = realloc(problems->items, (problems->count + 1) * sizeof *grown);
    if (!grown)
        return false;
    problems->items = grown;
    va_list ap;
    va_start(ap, fmt);
    char *message = NULL;
    int n = vasprintf(&message, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    problems->items[problems->count++] = (caf_config_problem){.mark = mark, .message = message};
    return true;
}

void caf_config_problems_clear(caf_config_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        free(problems->items[i].message);
    free(problems->items);
    problems->items = NULL;
    problems->count = 0;
}

char *caf_config_problem_format(const caf_config_problems *problems, size_t i, const char *file, char *buf,
                                size_t size)
{
    const caf_config_problem *p = &problems->items[i];
    if (file && p->mark.line > 0)
        snprintf(buf, size, "%s:%d:%d: %s", file, p->mark.line, p->mark.column, p->message);
    else if (file)
        snprintf(buf, size, "%s: %s", file, p->message);
    else
        snprintf(buf, size, "%s", p->message);
    return buf;
}

static bool before(caf_mark a, caf_mark b)
{
    return a.line < b.line || (a.line == b.line && a.column < b.column);
}

void caf_config_problems_sort(caf_config_problems *problems)
{
    /* Insertion sort: stable, so problems at one place keep the order they were found in. */
    for (size_t i = 1; i < problems->count; i++) {
        caf_config_problem p = problems->items[i];
        size_t j = i;
        for (; j > 0 && before(p.mark, problems->items[j - 1].mark); j--)
            problems->items[j] = problems->items[j - 1];
        problems->items[j] = p;
    }
}
