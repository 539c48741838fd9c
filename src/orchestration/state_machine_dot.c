/* Graphviz output of any state machine, for documentation and for looking at a stuck calibration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "orchestration/state_machine_internal.h"

/* Writes text as a DOT quoted string. */
static void put_quoted(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

char *caf_machine_to_dot(const caf_machine *m)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    fputs("digraph ", out);
    put_quoted(out, m->name);
    fputs(" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", out);
    for (size_t i = 0; i < m->state_count; i++) {
        fputs("  ", out);
        put_quoted(out, m->states[i].name);
        fputs(i == m->current ? " [style=\"rounded,filled\", fillcolor=lightblue];\n" : ";\n", out);
    }
    for (size_t i = 0; i < m->transition_count; i++) {
        const machine_transition *t = &m->transitions[i];
        fputs("  ", out);
        put_quoted(out, m->states[t->source].name);
        fputs(" -> ", out);
        put_quoted(out, m->states[t->dest].name);
        fputs(" [label=", out);
        put_quoted(out, t->name);
        fputs(t->condition ? ", style=dashed];\n" : "];\n", out);
    }
    fputs("}\n", out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

caf_status caf_machine_write_dot(const caf_machine *m, const char *path, caf_error *err)
{
    char *text = caf_machine_to_dot(m);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: out of memory writing machine '%s'", path, m->name);
    caf_status rc = caf_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
