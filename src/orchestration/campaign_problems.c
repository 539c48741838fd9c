/* Configuration problems: collected, not thrown, so that a bad campaign is reported in full at once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "caf/campaign.h"

/* When memory runs out, a problem still has to be recorded: a list that stayed empty would say "valid".
 * The list then ends in this problem without a message (formatted as "out of memory"), which needs no
 * allocation when the list was empty and takes the slot kept spare for it otherwise. */
static caf_config_problem out_of_memory_only[1] = {{{0, 0}, NULL}};

static void record_out_of_memory(caf_config_problems *problems, caf_mark mark)
{
    if (problems->count == 0) {
        problems->items = out_of_memory_only;
        problems->count = 1;
    } else {
        problems->items[problems->count++] = (caf_config_problem){.mark = mark, .message = NULL};
    }
    problems->out_of_memory = true;
}

bool caf_config_problems_add(caf_config_problems *problems, caf_mark mark, const char *fmt, ...)
{
    if (problems->out_of_memory)
        return false; /* the list already says why it is incomplete, and has no room left */
    /* one slot more than needed, so that a failure after this one can still be recorded */
    caf_config_problem *grown = realloc(problems->items, (problems->count + 2) * sizeof *grown);
    if (!grown) {
        record_out_of_memory(problems, mark);
        return false;
    }
    problems->items = grown;
    va_list ap;
    va_start(ap, fmt);
    char *message = NULL;
    int n = vasprintf(&message, fmt, ap);
    va_end(ap);
    if (n < 0) {
        record_out_of_memory(problems, mark);
        return false;
    }
    /* a problem is one line, whatever the file put into a key or value it quotes */
    for (char *c = message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    problems->items[problems->count++] = (caf_config_problem){.mark = mark, .message = message};
    return true;
}

void caf_config_problems_clear(caf_config_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        free(problems->items[i].message);
    if (problems->items != out_of_memory_only)
        free(problems->items);
    problems->items = NULL;
    problems->count = 0;
    problems->out_of_memory = false;
}

char *caf_config_problem_format(const caf_config_problems *problems, size_t i, const char *file, char *buf,
                                size_t size)
{
    const caf_config_problem *p = &problems->items[i];
    const char *message = p->message ? p->message : "out of memory";
    if (file && p->mark.line > 0)
        snprintf(buf, size, "%s:%d:%d: %s", file, p->mark.line, p->mark.column, message);
    else if (file)
        snprintf(buf, size, "%s: %s", file, message);
    else
        snprintf(buf, size, "%s", message);
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
