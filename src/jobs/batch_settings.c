/* The backend_settings keys every batch backend understands (docs/jobs.md, "Batch backends"). */
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

static caf_status number(const json_t *value, const char *backend, const char *key, double min, double *out,
                         caf_error *err)
{
    if (!json_is_number(value) || json_number_value(value) < min)
        return caf_error_set(err, CAF_ERR_INVALID, "backend_settings of %s: \"%s\" must be a number >= %g",
                             backend, key, min);
    *out = json_number_value(value);
    return CAF_OK;
}

caf_status batch_settings_parse(batch_settings *settings, caf_backend *backend, const char *backend_name,
                                const json_t *obj, caf_error *err)
{
    return batch_settings_parse_extra(settings, backend, backend_name, obj, NULL, err);
}

caf_status batch_settings_parse_extra(batch_settings *settings, caf_backend *backend, const char *backend_name,
                                      const json_t *obj, const batch_extra_keys *extra, caf_error *err)
{
    memset(settings, 0, sizeof *settings);
    settings->submit_timeout_s = 120;
    settings->query_timeout_s = 60;
    settings->max_running = 0;
    if (!obj)
        return CAF_OK;
    if (!json_is_object(obj))
        return caf_error_set(err, CAF_ERR_INVALID, "backend_settings of %s must be an object", backend_name);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        double v = 0;
        caf_status rc = CAF_OK;
        if (strcmp(key, "submit_timeout_s") == 0) {
            rc = number(value, backend_name, key, 1, &settings->submit_timeout_s, err);
        } else if (strcmp(key, "query_timeout_s") == 0) {
            rc = number(value, backend_name, key, 1, &settings->query_timeout_s, err);
        } else if (strcmp(key, "poll_interval_s") == 0) {
            rc = number(value, backend_name, key, 0.05, &backend->poll_interval_s, err);
        } else if (strcmp(key, "exit_file_grace_s") == 0) {
            rc = number(value, backend_name, key, 0, &backend->exit_file_grace_s, err);
        } else if (strcmp(key, "max_running") == 0) {
            rc = number(value, backend_name, key, 0, &v, err);
            settings->max_running = (int)v;
        } else if (strcmp(key, "submit_args") == 0) {
            size_t i;
            json_t *item;
            if (!json_is_array(value))
                rc = caf_error_set(err, CAF_ERR_INVALID,
                                   "backend_settings of %s: \"submit_args\" must be an array of strings",
                                   backend_name);
            json_array_foreach(value, i, item) {
                if (rc != CAF_OK)
                    break;
                if (!json_is_string(item))
                    rc = caf_error_set(err, CAF_ERR_INVALID,
                                       "backend_settings of %s: submit_args[%zu] must be a string", backend_name,
                                       i);
                else
                    rc = caf_strings_push(&settings->submit_args, json_string_value(item), err);
            }
        } else {
            bool handled = false;
            if (extra)
                rc = extra->parse(settings, backend_name, key, value, &handled, err);
            if (rc == CAF_OK && !handled)
                rc = caf_error_set(err, CAF_ERR_INVALID,
                                   "backend_settings of %s: unknown key \"%s\" (known: submit_timeout_s, "
                                   "query_timeout_s, poll_interval_s, exit_file_grace_s, max_running, submit_args%s)",
                                   backend_name, key, extra ? extra->names : "");
        }
        if (rc != CAF_OK) {
            if (extra && extra->release)
                extra->release(settings);
            batch_settings_free(settings);
            return rc;
        }
    }
    return CAF_OK;
}

void batch_settings_free(batch_settings *settings)
{
    caf_strings_free(&settings->submit_args);
}

caf_status batch_backend_open(caf_backend *backend, const char *name, const json_t *obj, size_t state_size,
                              caf_error *err)
{
    return batch_backend_open_extra(backend, name, obj, state_size, NULL, err);
}

caf_status batch_backend_open_extra(caf_backend *backend, const char *name, const json_t *obj, size_t state_size,
                                    const batch_extra_keys *extra, caf_error *err)
{
    batch_settings *settings = calloc(1, state_size);
    if (!settings)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = batch_settings_parse_extra(settings, backend, name, obj, extra, err);
    if (rc != CAF_OK) {
        free(settings);
        return rc;
    }
    backend->state = settings;
    return CAF_OK;
}

void batch_backend_close(caf_backend *backend)
{
    batch_settings *settings = backend->state;
    if (settings)
        batch_settings_free(settings);
    free(settings);
    backend->state = NULL;
}
