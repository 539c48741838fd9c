/* Shared by the module and engine tests: small event files written with the C writer, and a runner
 * that sends them through a path given as YAML text, with the test plugins on the plugin path. Header
 * only (static functions) so that only the tests that include it carry it. */
#ifndef CAF_TEST_MODULE_FIXTURE_H
#define CAF_TEST_MODULE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/engine.h"
#include "caf/event_file.h"
#include "caf/file.h"
#include "caf/path.h"

#define FX_MAX_LINES 4

/* One event of a test file. */
typedef struct fx_event {
    int exp, run;
    uint32_t event;
    float energy;
    int8_t trig[FX_MAX_LINES]; /* result after prescale per line */
    int8_t np[FX_MAX_LINES];   /* without prescale */
    uint8_t present;           /* has a trigger result */
} fx_event;

/* Points the plugin path at the test plugins, then the built-in ones. */
static void fx_plugin_path(void)
{
    const char *build = getenv("CAF_BUILD_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/plugins:%s/plugins", build ? build : ".", build ? build : ".");
    setenv("CAF_PLUGIN_PATH", path, 1);
}

/* Writes n events into dir/name (returned, malloc'd) with one float32 column "energy" and, when
 * n_lines > 0 or has_trigger, the given trigger lines. */
static char *fx_write(const char *dir, const char *name, const fx_event *ev, size_t n, const char *const *lines,
                      size_t n_lines, bool has_trigger)
{
    char *path = caf_path_join(dir, name);
    static const caf_column_desc columns[] = {{"energy", CAF_COLUMN_FLOAT32}};
    int32_t prescales[FX_MAX_LINES] = {1, 1, 1, 1};
    caf_event_schema schema = {.columns = columns, .n_columns = 1, .has_trigger = has_trigger,
                               .trigger_lines = lines, .trigger_prescales = prescales,
                               .n_trigger_lines = has_trigger ? n_lines : 0};
    caf_event_writer_options o = {.creator = "module test", .creator_version = "0"};
    caf_event_writer *w;
    caf_error err = {0};
    if (caf_event_writer_open(&w, path, &schema, &o, &err) != CAF_OK) {
        fprintf(stderr, "fx_write: %s\n", err.message);
        abort();
    }
    size_t m = n ? n : 1, l = n_lines ? n_lines : 1;
    int32_t *exp = malloc(m * 4), *run = malloc(m * 4);
    uint32_t *num = malloc(m * 4);
    float *energy = malloc(m * 4);
    int8_t *res = calloc(m * l, 1), *np = calloc(m * l, 1);
    uint8_t *present = malloc(m);
    for (size_t i = 0; i < n; i++) {
        exp[i] = ev[i].exp, run[i] = ev[i].run, num[i] = ev[i].event, energy[i] = ev[i].energy;
        present[i] = ev[i].present;
        for (size_t k = 0; k < n_lines; k++) {
            res[i * n_lines + k] = ev[i].trig[k];
            np[i * n_lines + k] = ev[i].np[k];
        }
    }
    const void *cols[] = {energy};
    caf_event_batch b = {.count = n, .exp = exp, .run = run, .event = num, .columns = cols,
                         .trigger_result = has_trigger ? res : NULL,
                         .trigger_result_nonprescaled = has_trigger ? np : NULL,
                         .trigger_present = has_trigger ? present : NULL};
    caf_status st = n ? caf_event_writer_append(w, &b, &err) : CAF_OK;
    if (st == CAF_OK)
        st = caf_event_writer_close(w, &err);
    else
        caf_event_writer_abort(w);
    if (st != CAF_OK) {
        fprintf(stderr, "fx_write: %s\n", err.message);
        abort();
    }
    free(exp), free(run), free(num), free(energy), free(res), free(np), free(present);
    return path;
}

/* Runs the path in yaml (named "test.yaml" in messages) over the inputs. */
static caf_status fx_run(const char *yaml, const char *const *inputs, size_t n_inputs, uint64_t seed,
                         int64_t max_events, caf_error *err)
{
    fx_plugin_path();
    caf_path_set *set;
    caf_status st = caf_path_set_parse(yaml, strlen(yaml), "test.yaml", &set, err);
    if (st != CAF_OK)
        return st;
    caf_engine_options o = {.inputs = inputs, .n_inputs = n_inputs, .seed = seed, .max_events = max_events,
                            .batch_size = 100};
    caf_engine *e;
    st = caf_engine_open(&e, set, &o, err);
    if (st == CAF_OK) {
        st = caf_engine_run(e, err);
        caf_engine_close(e);
    }
    caf_path_set_free(set);
    return st;
}

/* The event numbers logged by recorder instance `who` in the log at path, in order (malloc'd). */
static int64_t *fx_logged_events(const char *path, const char *who, size_t *count)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, cap = 64;
    int64_t *out = malloc(cap * sizeof *out);
    char line[512], name[128], what[64];
    while (f && fgets(line, sizeof line, f)) {
        long long e;
        int x, r;
        if (sscanf(line, "%127s %63s %d %d %lld", name, what, &x, &r, &e) == 5 && !strcmp(name, who) &&
            !strcmp(what, "event")) {
            if (n == cap)
                out = realloc(out, (cap *= 2) * sizeof *out);
            out[n++] = e;
        }
    }
    if (f)
        fclose(f);
    *count = n;
    return out;
}

#endif
