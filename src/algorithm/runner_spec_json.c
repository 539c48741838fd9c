/* The part of a runner spec an execution's child needs, as JSON: how the child of an algorithm written in
 * Python (python_algorithm.c), which execs an interpreter and so keeps nothing of its parent's memory,
 * learns what to run. Output database, log, limits stay in the parent, which enforces them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "algorithm/runner_internal.h"
#include "caf/algorithm_runner.h"

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *string_list(const char *const *items, size_t count)
{
    if (!items)
        return json_null();
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, string_or_null(items[i]));
    return list;
}

json_t *caf_algo_run_spec_to_json(const caf_algo_run_spec *s)
{
    json_t *runs = json_array(), *params = json_array();
    for (size_t i = 0; runs && i < s->run_count; i++)
        json_array_append_new(runs, json_pack("[ii]", s->runs[i].exp, s->runs[i].run));
    for (size_t i = 0; params && i < s->param_count; i++)
        json_array_append_new(params, json_pack("[ss]", s->param_names[i], s->param_values[i]));
    json_t *iov = s->iov ? json_pack("[iiii]", s->iov->exp_low, s->iov->run_low, s->iov->exp_high, s->iov->run_high)
                         : json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:b, s:b, s:i, s:o}",
                     "plugin", string_or_null(s->plugin), "algorithm", string_or_null(s->algorithm), "collector",
                     string_or_null(s->collector), "inputs", string_list(s->inputs, s->input_count),
                     "input_collections", string_list(s->input_collections, s->input_count), "input_collectors",
                     string_list(s->input_collectors, s->input_count), "runs", runs, "iteration", s->iteration,
                     "iov", iov, "params", params, "chain", string_list(s->chain, s->chain_count), "input_state",
                     string_or_null(s->input_state), "find_boundaries", s->find_boundaries,
                     "experiment_settings", s->experiment_settings, "settings_exp", s->settings_exp,
                     "python_path", string_or_null(s->python_path));
}

/* The spec and everything it points to: strings borrowed from root, arrays owned. */
typedef struct spec_holder {
    caf_algo_run_spec spec; /* first: the pointer handed out is the holder's */
    json_t *root;
    caf_iov iov;
} spec_holder;

void caf_algo_run_spec_free(caf_algo_run_spec *spec)
{
    if (!spec)
        return;
    spec_holder *h = (spec_holder *)spec;
    free((void *)spec->inputs);
    free((void *)spec->input_collections);
    free((void *)spec->input_collectors);
    free((void *)spec->runs);
    free((void *)spec->param_names);
    free((void *)spec->param_values);
    free((void *)spec->chain);
    json_decref(h->root);
    free(h);
}

/* The strings of a JSON list (null entries NULL) into *out (malloc'd; NULL for a null list). */
static bool strings_of(const json_t *list, const char *const **out, size_t *count)
{
    *out = NULL;
    if (json_is_null(list) || !list)
        return true;
    if (!json_is_array(list))
        return false;
    size_t n = json_array_size(list);
    const char **items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        if (!json_is_null(v) && !json_is_string(v)) {
            free(items);
            return false;
        }
        items[i] = json_string_value(v);
    }
    *out = items;
    if (count)
        *count = n;
    return true;
}

caf_status caf_algo_run_spec_from_json(const char *text, size_t size, caf_algo_run_spec **out, caf_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, size, 0, &jerr);
    if (!root)
        return caf_error_set(err, CAF_ERR_FORMAT, "runner spec: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    spec_holder *h = calloc(1, sizeof *h);
    if (!h) {
        json_decref(root);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    h->root = root;
    caf_algo_run_spec *s = &h->spec;
    s->plugin = json_string_value(json_object_get(root, "plugin"));
    s->algorithm = json_string_value(json_object_get(root, "algorithm"));
    s->collector = json_string_value(json_object_get(root, "collector"));
    s->input_state = json_string_value(json_object_get(root, "input_state"));
    s->python_path = json_string_value(json_object_get(root, "python_path"));
    s->iteration = (int)json_integer_value(json_object_get(root, "iteration"));
    s->find_boundaries = json_is_true(json_object_get(root, "find_boundaries"));
    s->experiment_settings = json_is_true(json_object_get(root, "experiment_settings"));
    s->settings_exp = (int)json_integer_value(json_object_get(root, "settings_exp"));
    bool ok = strings_of(json_object_get(root, "inputs"), &s->inputs, &s->input_count) &&
              strings_of(json_object_get(root, "input_collections"), &s->input_collections, NULL) &&
              strings_of(json_object_get(root, "input_collectors"), &s->input_collectors, NULL) &&
              strings_of(json_object_get(root, "chain"), &s->chain, &s->chain_count);
    const json_t *iov = json_object_get(root, "iov");
    if (ok && json_is_array(iov)) {
        ok = json_unpack((json_t *)iov, "[iiii]", &h->iov.exp_low, &h->iov.run_low, &h->iov.exp_high,
                         &h->iov.run_high) == 0;
        s->iov = &h->iov;
    }
    const json_t *runs = json_object_get(root, "runs"), *params = json_object_get(root, "params");
    size_t nruns = json_array_size(runs), nparams = json_array_size(params);
    caf_exprun *r = calloc(nruns ? nruns : 1, sizeof *r);
    const char **names = calloc(nparams ? nparams : 1, sizeof *names);
    const char **values = calloc(nparams ? nparams : 1, sizeof *values);
    s->runs = r;
    s->run_count = nruns;
    s->param_names = names;
    s->param_values = values;
    s->param_count = nparams;
    ok = ok && r && names && values;
    for (size_t i = 0; ok && i < nruns; i++)
        ok = json_unpack(json_array_get(runs, i), "[ii]", &r[i].exp, &r[i].run) == 0;
    for (size_t i = 0; ok && i < nparams; i++)
        ok = json_unpack(json_array_get(params, i), "[ss]", &names[i], &values[i]) == 0;
    if (!ok || !s->plugin) {
        caf_algo_run_spec_free(s);
        return caf_error_set(err, CAF_ERR_FORMAT, "runner spec: a field is missing or has the wrong type");
    }
    *out = s;
    return CAF_OK;
}

int caf_algo_run_spec_memfd(const caf_algo_run_spec *spec, bool inherited)
{
    json_t *j = caf_algo_run_spec_to_json(spec);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    int fd = memfd_create("caf-algorithm-spec", inherited ? 0 : MFD_CLOEXEC);
    size_t size = strlen(text), done = 0;
    while (fd >= 0 && done < size) {
        ssize_t w = write(fd, text + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            fd = -1;
            break;
        }
        done += (size_t)w;
    }
    free(text);
    if (fd >= 0)
        lseek(fd, 0, SEEK_SET);
    return fd;
}
