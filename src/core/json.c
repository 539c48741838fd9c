/* JSON load and save on top of jansson and the atomic file writer. */
#include "caf/json.h"

#include <stdlib.h>
#include <string.h>

#include "caf/file.h"

caf_status caf_json_load_file(const char *path, json_t **out, caf_error *err)
{
    *out = NULL;
    char *text;
    size_t size;
    caf_status rc = caf_file_read(path, &text, &size, err);
    if (rc != CAF_OK)
        return rc;
    json_error_t jerr;
    json_t *value = json_loadb(text, size, 0, &jerr);
    free(text);
    if (!value)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    *out = value;
    return CAF_OK;
}

char *caf_json_dump_file_text(const json_t *value, size_t *size)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *with_newline = realloc(text, n + 2);
    if (!with_newline) {
        free(text);
        return NULL;
    }
    with_newline[n] = '\n';
    with_newline[n + 1] = '\0';
    *size = n + 1;
    return with_newline;
}

caf_status caf_json_save_file(const char *path, const json_t *value, caf_error *err)
{
    size_t n;
    char *text = caf_json_dump_file_text(value, &n);
    if (!text)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: cannot encode JSON (out of memory?)", path);
    caf_status rc = caf_file_write_atomic(path, text, n, err);
    free(text);
    return rc;
}

char *caf_json_dump_compact(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

json_t *caf_json_runs(const caf_exprun *runs, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        json_array_append_new(a, json_pack("[ii]", runs[i].exp, runs[i].run));
    return a;
}

json_t *caf_json_iov(caf_iov iov)
{
    return json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}
