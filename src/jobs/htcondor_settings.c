/* The backend_settings only HTCondor understands (docs/jobs.md, "HTCondor"): basf2's HTCondor backend_args
 * (universe, getenv, request_memory, path_prefix, extra_lines) and transfer_files. Every value ends up
 * in the submit description, so none may hold a newline (it would start a submit command of its own). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

static caf_status wrong(caf_error *err, const char *backend, const char *key, const char *what)
{
    return caf_error_set(err, CAF_ERR_INVALID, "backend_settings of %s: \"%s\" must be %s", backend, key, what);
}

/* A string for one submit command: no newline, carriage return or NUL. */
static caf_status one_line(const json_t *value, const char *backend, const char *key, const char *what, char **out,
                           caf_error *err)
{
    if (!json_is_string(value) || strpbrk(json_string_value(value), "\r\n") ||
        strlen(json_string_value(value)) != json_string_length(value))
        return wrong(err, backend, key, what);
    char *copy = strdup(json_string_value(value));
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(*out);
    *out = copy;
    return CAF_OK;
}

/* HTCondor's memory request: MiB as a number, or a number with a unit (K, KB, M, MB, G, GB, T, TB). */
static bool memory_text(const char *text)
{
    const char *p = text;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p) || *p == '.')
        p++;
    while (*p == ' ')
        p++;
    static const char *const units[] = {"", "K", "KB", "M", "MB", "G", "GB", "T", "TB"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcasecmp(p, units[i]) == 0)
            return true;
    return false;
}

static caf_status parse_key(batch_settings *settings, const char *backend, const char *key, const json_t *value,
                            bool *handled, caf_error *err)
{
    htcondor_settings *c = &((htcondor_backend *)settings)->condor;
    *handled = true;
    if (strcmp(key, "universe") == 0) {
        const char *u = json_string_value(value);
        bool word = u && *u;
        for (const char *p = u; word && *p; p++)
            word = isalpha((unsigned char)*p) != 0;
        return word ? one_line(value, backend, key, "a universe name", &c->universe, err)
                    : wrong(err, backend, key, "a universe name such as \"vanilla\" (letters only)");
    }
    if (strcmp(key, "getenv") == 0 || strcmp(key, "transfer_files") == 0) {
        if (!json_is_boolean(value))
            return wrong(err, backend, key, "true or false");
        *(key[0] == 'g' ? &c->getenv : &c->transfer_files) = json_is_true(value);
        return CAF_OK;
    }
    if (strcmp(key, "request_memory") == 0) {
        if (json_is_integer(value) && json_integer_value(value) > 0) {
            char text[32];
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
            json_t *s = json_string(text);
            caf_status rc = s ? one_line(s, backend, key, "", &c->request_memory, err)
                              : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            json_decref(s);
            return rc;
        }
        if (json_is_string(value) && memory_text(json_string_value(value)))
            return one_line(value, backend, key, "", &c->request_memory, err);
        return wrong(err, backend, key, "a number of MiB or a size such as \"4 GB\"");
    }
    if (strcmp(key, "path_prefix") == 0) {
        caf_status rc = one_line(value, backend, key, "a string on one line without commas", &c->path_prefix, err);
        if (rc == CAF_OK && strchr(c->path_prefix, ','))
            rc = wrong(err, backend, key, "a string on one line without commas");
        return rc;
    }
    if (strcmp(key, "extra_lines") == 0) {
        if (!json_is_array(value))
            return wrong(err, backend, key, "a list of strings, one submit command each");
        caf_strings_free(&c->extra_lines);
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item) {
            char *line = NULL;
            caf_status rc = one_line(item, backend, key, "a list of strings, one submit command each", &line, err);
            if (rc == CAF_OK)
                rc = caf_strings_push(&c->extra_lines, line, err);
            free(line);
            if (rc != CAF_OK)
                return rc;
        }
        return CAF_OK;
    }
    *handled = false;
    return CAF_OK;
}

static void release(batch_settings *settings)
{
    htcondor_settings *c = &((htcondor_backend *)settings)->condor;
    free(c->universe);
    free(c->request_memory);
    free(c->path_prefix);
    caf_strings_free(&c->extra_lines);
    memset(c, 0, sizeof *c);
}

const batch_extra_keys htcondor_extra_keys = {
    .names = ", universe, getenv, request_memory, path_prefix, extra_lines, transfer_files",
    .parse = parse_key,
    .release = release,
};
