/* Output: writes the events that reach it to a new event file, with the input files recorded as its
 * parents and the process seed in its metadata. The file is written under a temporary name and
 * appears under its final name only when processing succeeded. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/log.h"
#include "caf/module.h"
#include "caf/version.h"

static const caf_param_spec params[] = {
    {"outputFileName", CAF_PARAM_STRING, CAF_PARAM_REQUIRED, NULL, "the event file to write"},
    {"compressionLevel", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "0", "gzip level of the datasets, 0 (none) to 9"},
    {NULL, 0, 0, NULL, NULL},
};

struct output {
    const char *path;
    int level;
    caf_event_writer *writer;
    char *schema_file; /* the input whose schema the writer follows */
    char *signature;   /* of that schema */
    char **parents;
    size_t n_parents;
    size_t *rows; /* rows of the current batch that reached the module */
    size_t n_rows, cap_rows;
};

static void free_output(struct output *o)
{
    caf_event_writer_abort(o->writer);
    for (size_t i = 0; i < o->n_parents; i++)
        free(o->parents[i]);
    free(o->parents);
    free(o->rows);
    free(o->schema_file);
    free(o->signature);
    free(o);
}

/* The absolute path of file when it exists, else a copy of file. */
static char *absolute(const char *file)
{
    char *abs = realpath(file, NULL);
    return abs ? abs : strdup(file);
}

static caf_status initialize(caf_module_context *ctx, void **state, caf_error *err)
{
    const caf_params *p = caf_module_params(ctx);
    const char *name = caf_module_instance_name(ctx);
    struct output *o = calloc(1, sizeof *o);
    if (!o)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    o->path = caf_params_string(p, "outputFileName", "");
    int64_t level = caf_params_int(p, "compressionLevel", 0);
    caf_status st = CAF_OK;
    if (!*o->path)
        st = caf_error_set(err, CAF_ERR_INVALID, "module %s: outputFileName is empty", name);
    else if (level < 0 || level > 9)
        st = caf_error_set(err, CAF_ERR_INVALID, "module %s: compressionLevel must be 0 to 9", name);
    o->level = (int)level;
    size_t n_inputs;
    const char *const *inputs = caf_module_input_files(ctx, &n_inputs);
    o->parents = calloc(n_inputs ? n_inputs : 1, sizeof *o->parents);
    if (st == CAF_OK && !o->parents)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char *out_abs = st == CAF_OK ? absolute(o->path) : NULL;
    for (size_t i = 0; st == CAF_OK && i < n_inputs; i++) {
        if (!(o->parents[i] = absolute(inputs[i])) || !out_abs)
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else if (!strcmp(o->parents[i], out_abs))
            st = caf_error_set(err, CAF_ERR_INVALID, "module %s: outputFileName %s is also an input", name, o->path);
        o->n_parents = i + 1;
    }
    free(out_abs);
    if (st == CAF_OK)
        st = caf_module_require(ctx, "*", err); /* the output keeps everything the input has */
    if (st != CAF_OK) {
        free_output(o);
        return st;
    }
    *state = o;
    return CAF_OK;
}

/* Appends text to a growing string; false when out of memory. */
static bool append(char **buf, size_t *len, const char *a, const char *b)
{
    size_t add = strlen(a) + strlen(b) + 1;
    char *n = realloc(*buf, *len + add + 1);
    if (!n)
        return false;
    *buf = n;
    *len += (size_t)snprintf(n + *len, add + 1, "%s%s;", a, b);
    return true;
}

/* A text listing the schema's columns, arrays and trigger lines: two files whose events can go into
 * one output have the same signature. Caller frees; NULL when out of memory. */
static char *schema_signature(const caf_event_schema *s)
{
    char *buf = calloc(1, 1);
    size_t len = 0;
    bool ok = buf != NULL;
    for (size_t i = 0; ok && i < s->n_columns; i++)
        ok = append(&buf, &len, s->columns[i].name, caf_column_type_name(s->columns[i].type));
    for (size_t a = 0; ok && a < s->n_arrays; a++) {
        ok = append(&buf, &len, "array ", s->arrays[a].name);
        for (size_t f = 0; ok && f < s->arrays[a].n_fields; f++)
            ok = append(&buf, &len, s->arrays[a].fields[f].name, caf_column_type_name(s->arrays[a].fields[f].type));
    }
    for (size_t l = 0; ok && s->has_trigger && l < s->n_trigger_lines; l++)
        ok = append(&buf, &len, "trigger ", s->trigger_lines[l]);
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

static caf_status begin_file(caf_module_context *ctx, void *state, const caf_event_reader *reader, caf_error *err)
{
    struct output *o = state;
    const char *name = caf_module_instance_name(ctx);
    const caf_event_schema *schema = caf_event_reader_schema(reader);
    char *signature = schema_signature(schema);
    if (!signature)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (o->writer) {
        bool same = !strcmp(signature, o->signature);
        free(signature);
        if (!same)
            return caf_error_set(err, CAF_ERR_INVALID,
                                 "module %s: %s holds other columns or trigger lines than %s; they cannot go into one "
                                 "output file",
                                 name, caf_event_reader_path(reader), o->schema_file);
        return CAF_OK;
    }
    o->signature = signature;
    free(o->schema_file);
    if (!(o->schema_file = strdup(caf_event_reader_path(reader))))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_event_writer_options wo = {
        .creator = "caf process",
        .creator_version = CAF_VERSION_STRING,
        .random_seed = caf_module_seed(ctx),
        .parents = (const char *const *)o->parents,
        .n_parents = o->n_parents,
        .deflate_level = o->level,
    };
    caf_status st = caf_event_writer_open(&o->writer, o->path, schema, &wo, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "module %s: ", name);
    return CAF_OK;
}

static caf_status event(caf_module_context *ctx, void *state, const caf_event *ev, caf_error *err)
{
    (void)ctx;
    struct output *o = state;
    if (o->n_rows == o->cap_rows) {
        size_t cap = o->cap_rows ? 2 * o->cap_rows : 1024;
        size_t *n = realloc(o->rows, cap * sizeof *n);
        if (!n)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        o->rows = n;
        o->cap_rows = cap;
    }
    o->rows[o->n_rows++] = ev->row;
    return CAF_OK;
}

/* Appends the rows kept from the batch before the reader reuses it. */
static caf_status end_batch(caf_module_context *ctx, void *state, const caf_event_batch *batch, caf_error *err)
{
    struct output *o = state;
    if (!o->n_rows)
        return CAF_OK;
    caf_status st = caf_event_writer_append_rows(o->writer, batch, o->rows, o->n_rows, err);
    o->n_rows = 0;
    if (st != CAF_OK)
        return caf_error_prefix(err, "module %s: %s: ", caf_module_instance_name(ctx), o->path);
    return CAF_OK;
}

static caf_status terminate(caf_module_context *ctx, void *state, bool success, caf_error *err)
{
    struct output *o = state;
    caf_status st = CAF_OK;
    if (success && o->writer) {
        int64_t n = caf_event_writer_count(o->writer);
        st = caf_event_writer_close(o->writer, err);
        o->writer = NULL;
        if (st == CAF_OK)
            caf_info("module %s: wrote %lld events to %s", caf_module_instance_name(ctx), (long long)n, o->path);
        else
            caf_error_prefix(err, "module %s: ", caf_module_instance_name(ctx));
    } else if (success) {
        caf_warning("module %s: no input file was read, so %s was not written", caf_module_instance_name(ctx),
                    o->path);
    }
    free_output(o); /* aborts a writer still open: the output never appears after a failure */
    return st;
}

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "Output",
    .description = "Writes the events that reach it to a new event file with the same columns, arrays and "
                   "trigger lines as the input, recording the input files as its parents and the process "
                   "seed. The file appears under its final name only when the whole process succeeded.",
    .params = params,
    .initialize = initialize,
    .begin_file = begin_file,
    .event = event,
    .end_batch = end_batch,
    .terminate = terminate,
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
