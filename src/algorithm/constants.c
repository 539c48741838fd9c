/* Constants payloads as canonical JSON. jansson writes reals with "%.17g" (enough digits to read back
 * the same double) and always marks them as reals, and sorts keys on request, so one dump flag set gives
 * canonical text; the only value that needs care is -0, which compares equal to 0 but prints as "-0.0". */
#include "caf/constants.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct caf_constants {
    json_t *object;
};

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17))

caf_status caf_constants_new(caf_constants **out, caf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->object = json_object())) {
        free(*out);
        *out = NULL;
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

void caf_constants_free(caf_constants *constants)
{
    if (!constants)
        return;
    json_decref(constants->object);
    free(constants);
}

static caf_status check_name(const char *name, caf_error *err)
{
    if (!name || !*name)
        return caf_error_set(err, CAF_ERR_INVALID, "a constant needs a non-empty name");
    return CAF_OK;
}

static json_t *canonical_real(double value)
{
    return json_real(value == 0.0 ? 0.0 : value); /* folds -0 into 0 */
}

static caf_status set_value(caf_constants *constants, const char *name, json_t *value, caf_error *err)
{
    if (!value || json_object_set_new(constants->object, name, value) != 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory setting constant '%s'", name);
    return CAF_OK;
}

caf_status caf_constants_set_double(caf_constants *constants, const char *name, double value, caf_error *err)
{
    if (check_name(name, err) != CAF_OK)
        return CAF_ERR_INVALID;
    if (!isfinite(value))
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s': %g is not a finite number", name, value);
    return set_value(constants, name, canonical_real(value), err);
}

caf_status caf_constants_set_int(caf_constants *constants, const char *name, int64_t value, caf_error *err)
{
    if (check_name(name, err) != CAF_OK)
        return CAF_ERR_INVALID;
    return set_value(constants, name, json_integer((json_int_t)value), err);
}

caf_status caf_constants_set_string(caf_constants *constants, const char *name, const char *value,
                                    caf_error *err)
{
    if (check_name(name, err) != CAF_OK)
        return CAF_ERR_INVALID;
    if (!value)
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s': NULL string", name);
    json_t *s = json_string(value);
    if (!s)
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s': the string is not UTF-8", name);
    return set_value(constants, name, s, err);
}

caf_status caf_constants_set_array(caf_constants *constants, const char *name, const double *values, size_t count,
                                   caf_error *err)
{
    if (check_name(name, err) != CAF_OK)
        return CAF_ERR_INVALID;
    json_t *array = json_array();
    if (!array)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(values[i])) {
            json_decref(array);
            return caf_error_set(err, CAF_ERR_INVALID, "constant '%s'[%zu]: %g is not a finite number", name, i,
                                 values[i]);
        }
        if (json_array_append_new(array, canonical_real(values[i])) != 0) {
            json_decref(array);
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
    }
    return set_value(constants, name, array, err);
}

static caf_status lookup(const caf_constants *constants, const char *name, json_t **out, caf_error *err)
{
    *out = json_object_get(constants->object, name ? name : "");
    if (!*out)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "no constant '%s'", name ? name : "");
    return CAF_OK;
}

caf_status caf_constants_get_double(const caf_constants *constants, const char *name, double *out,
                                    caf_error *err)
{
    json_t *v;
    if (lookup(constants, name, &v, err) != CAF_OK)
        return CAF_ERR_NOT_FOUND;
    if (!json_is_number(v))
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s' is not a number", name);
    *out = json_number_value(v);
    return CAF_OK;
}

caf_status caf_constants_get_int(const caf_constants *constants, const char *name, int64_t *out, caf_error *err)
{
    json_t *v;
    if (lookup(constants, name, &v, err) != CAF_OK)
        return CAF_ERR_NOT_FOUND;
    if (!json_is_integer(v))
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s' is not an integer", name);
    *out = (int64_t)json_integer_value(v);
    return CAF_OK;
}

caf_status caf_constants_get_string(const caf_constants *constants, const char *name, const char **out,
                                    caf_error *err)
{
    json_t *v;
    if (lookup(constants, name, &v, err) != CAF_OK)
        return CAF_ERR_NOT_FOUND;
    if (!json_is_string(v))
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s' is not a string", name);
    *out = json_string_value(v);
    return CAF_OK;
}

caf_status caf_constants_get_array(const caf_constants *constants, const char *name, double **values,
                                   size_t *count, caf_error *err)
{
    *values = NULL;
    *count = 0;
    json_t *v;
    if (lookup(constants, name, &v, err) != CAF_OK)
        return CAF_ERR_NOT_FOUND;
    if (!json_is_array(v))
        return caf_error_set(err, CAF_ERR_INVALID, "constant '%s' is not an array", name);
    size_t n = json_array_size(v);
    if (n == 0)
        return CAF_OK;
    double *copy = malloc(n * sizeof *copy);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        if (!json_is_number(item)) {
            free(copy);
            return caf_error_set(err, CAF_ERR_INVALID, "constant '%s'[%zu] is not a number", name, i);
        }
        copy[i] = json_number_value(item);
    }
    *values = copy;
    *count = n;
    return CAF_OK;
}

caf_status caf_constants_serialize(const caf_constants *constants, char **text, size_t *size, caf_error *err)
{
    *text = json_dumps(constants->object, CANONICAL_FLAGS);
    if (!*text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory serialising constants");
    *size = strlen(*text);
    return CAF_OK;
}

/* -0 read from text becomes 0, so that parsed constants serialize as the setters' do. */
static void fold_negative_zero(json_t *value)
{
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_real(value) && json_real_value(value) == 0.0)
        json_real_set(value, 0.0);
    else if (json_is_array(value))
        json_array_foreach(value, i, item) fold_negative_zero(item);
    else if (json_is_object(value))
        json_object_foreach(value, key, item) fold_negative_zero(item);
}

caf_status caf_constants_parse(const char *text, size_t size, caf_constants **out, caf_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *object = json_loadb(text, size, 0, &jerr);
    if (!object)
        return caf_error_set(err, CAF_ERR_FORMAT, "constants: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(object)) {
        json_decref(object);
        return caf_error_set(err, CAF_ERR_FORMAT, "constants: the top level is not a JSON object");
    }
    *out = calloc(1, sizeof **out);
    if (!*out) {
        json_decref(object);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    fold_negative_zero(object);
    (*out)->object = object;
    return CAF_OK;
}
