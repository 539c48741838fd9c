/* Loading an algorithm plugin: find PLUGIN.so, call its entry point, pick the algorithm by name and check
 * its descriptor before anything trusts it. Parameters are declared and parsed as module parameters. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"
#include "caf/python_algorithm.h"
#include "modules/params_internal.h"

caf_status caf_algorithm_split_name(const char *text, char **plugin, char **algorithm, caf_error *err)
{
    *plugin = NULL;
    *algorithm = NULL;
    const char *colon = text ? strchr(text, ':') : NULL;
    size_t len = colon ? (size_t)(colon - text) : (text ? strlen(text) : 0);
    /* an algorithm in Python is python:MODULE:FUNCTION (caf/python_algorithm.h) */
    bool python = len == strlen(CAF_PYTHON_ALGORITHM_PLUGIN) && strncmp(text, CAF_PYTHON_ALGORITHM_PLUGIN, len) == 0;
    if (len == 0 || (colon && (!colon[1] || (!python && strchr(colon + 1, ':')))))
        return caf_error_set(err, CAF_ERR_INVALID, "'%s' is not PLUGIN:ALGORITHM", text ? text : "");
    *plugin = strndup(text, len);
    if (colon)
        *algorithm = strdup(colon + 1);
    if (!*plugin || (colon && !*algorithm)) {
        free(*plugin);
        free(*algorithm);
        *plugin = *algorithm = NULL;
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

size_t caf_algorithm_descriptor_size(uint32_t abi_version)
{
    switch (abi_version) {
    case 1: return offsetof(caf_algorithm_descriptor, setup_experiment);
    case 2: return offsetof(caf_algorithm_descriptor, pre_algorithm);
    case 3: return sizeof(caf_algorithm_descriptor);
    default: return 0;
    }
}

caf_status caf_algorithm_descriptor_upgrade(const caf_algorithm_descriptor *d, const char *where,
                                            caf_algorithm_descriptor *out, caf_error *err)
{
    memset(out, 0, sizeof *out);
    /* only abi_version is read before the size is known: every version starts with it */
    size_t size = caf_algorithm_descriptor_size(d->abi_version);
    if (size == 0)
        return caf_error_set(err, CAF_ERR_PLUGIN, "%s: algorithm ABI version %u, this caf knows versions 1 to %d",
                             where, d->abi_version, CAF_ALGORITHM_ABI_VERSION);
    memcpy(out, d, size);
    return CAF_OK;
}

/* What caf_algorithm_plugin_list hands out: the loaded plugin and its descriptors as this caf's version. */
typedef struct plugin_listing {
    caf_plugin so;
    caf_algorithm_descriptor *copies;
    const caf_algorithm_descriptor **list; /* NULL-terminated, pointing into copies */
} plugin_listing;

/* The descriptor list of the loaded plugin so, from its entry point. */
static caf_status entry_list(const caf_plugin *so, const caf_algorithm_descriptor *const **list, caf_error *err)
{
    void *sym;
    caf_status st = caf_plugin_symbol(so, CAF_ALGORITHM_ENTRY_SYMBOL, &sym, err);
    if (st == CAF_OK) {
        caf_algorithm_entry_fn entry;
        memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
        *list = entry();
        if (!*list || !(*list)[0])
            st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: %s returned no algorithms", so->path,
                               CAF_ALGORITHM_ENTRY_SYMBOL);
    }
    return st;
}

/* Opens PLUGIN.so and returns its descriptor list. */
static caf_status load_list(const char *plugin, caf_plugin *so, const caf_algorithm_descriptor *const **list,
                            caf_error *err)
{
    caf_status st = caf_plugin_open(so, plugin, err);
    if (st != CAF_OK)
        return st;
    st = entry_list(so, list, err);
    if (st != CAF_OK)
        caf_plugin_close(so);
    return st;
}

void caf_algorithm_plugin_close(void *handle)
{
    plugin_listing *l = handle;
    if (!l)
        return;
    caf_plugin_close(&l->so);
    free(l->copies);
    free(l->list);
    free(l);
}

caf_status caf_algorithm_plugin_list(const char *plugin, const caf_algorithm_descriptor *const **list,
                                     void **handle_out, caf_error *err)
{
    *handle_out = NULL;
    plugin_listing *l = calloc(1, sizeof *l);
    if (!l)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const caf_algorithm_descriptor *const *raw;
    caf_status st = load_list(plugin, &l->so, &raw, err);
    if (st != CAF_OK) {
        free(l);
        return caf_error_prefix(err, "algorithm plugin %s: ", plugin);
    }
    size_t n = 0;
    while (raw[n])
        n++;
    l->copies = calloc(n, sizeof *l->copies);
    l->list = calloc(n + 1, sizeof *l->list);
    if (!l->copies || !l->list)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == CAF_OK && i < n; i++) {
        st = caf_algorithm_descriptor_upgrade(raw[i], l->so.path, &l->copies[i], err);
        l->list[i] = &l->copies[i];
    }
    if (st != CAF_OK) {
        caf_algorithm_plugin_close(l);
        return caf_error_prefix(err, "algorithm plugin %s: ", plugin);
    }
    *list = l->list;
    *handle_out = l;
    return CAF_OK;
}

static caf_status check_descriptor(const char *full_name, const char *where, const caf_algorithm_descriptor *d,
                                   caf_error *err)
{
    if (!d->calibrate)
        return caf_error_set(err, CAF_ERR_PLUGIN, "%s: the algorithm has no calibrate function", where);
    if (!d->collector || !*d->collector)
        return caf_error_set(err, CAF_ERR_PLUGIN, "%s: the algorithm names no collector", where);
    if (caf_param_spec_check(full_name, d->params, err) != CAF_OK)
        return caf_error_prefix(err, "%s: ", where);
    return CAF_OK;
}

/* The module parameter parser words its messages for modules; an algorithm's user must read
 * "algorithm". */
static void reword_module_message(caf_error *err)
{
    if (err && strncmp(err->message, "module ", 7) == 0) {
        char copy[CAF_ERROR_MESSAGE_MAX];
        snprintf(copy, sizeof copy, "algorithm %s", err->message + 7);
        memcpy(err->message, copy, sizeof copy);
    }
}

/* Makes an instance of descriptor d; takes over so (if not NULL) only on success. */
static caf_status new_instance(const char *plugin, const caf_algorithm_descriptor *d, const caf_plugin *so,
                               caf_algorithm **out, caf_error *err)
{
    *out = NULL;
    caf_algorithm *alg = calloc(1, sizeof *alg);
    size_t full_len = strlen(plugin) + strlen(d->name ? d->name : "") + 2;
    if (alg)
        alg->full_name = malloc(full_len);
    if (!alg || !alg->full_name) {
        free(alg);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    snprintf(alg->full_name, full_len, "%s:%s", plugin, d->name ? d->name : "");
    alg->ctx.alg = alg;
    alg->d = &alg->desc;
    alg->iov = CAF_IOV_EMPTY;
    alg->result = CAF_ALGO_UNDEFINED;
    caf_run_range_init(&alg->collected, CAF_GRANULARITY_RUN);
    alg->input_state = json_object();
    alg->output_state = json_object();
    caf_status st = caf_algorithm_descriptor_upgrade(d, so ? so->path : plugin, &alg->desc, err);
    d = alg->d;
    if (st == CAF_OK && (!alg->input_state || !alg->output_state))
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st == CAF_OK && (!d->name || !*d->name))
        st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: an algorithm has no name", so ? so->path : plugin);
    if (st == CAF_OK)
        st = check_descriptor(alg->full_name, so ? so->path : plugin, d, err);
    if (st == CAF_OK)
        st = caf_algorithm_set_params(alg, 0, NULL, NULL, err);
    if (st == CAF_OK && !(alg->collector = strdup(d->collector)))
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st != CAF_OK) {
        caf_error_prefix(err, "algorithm %s: ", alg->full_name);
        caf_algorithm_close(alg);
        return st;
    }
    if (so)
        alg->plugin = *so;
    *out = alg;
    return CAF_OK;
}

caf_status caf_algorithm_new(const caf_algorithm_descriptor *descriptor, caf_algorithm **out, caf_error *err)
{
    return new_instance("builtin", descriptor, NULL, out, err);
}

caf_status caf_algorithm_new_as(const char *source, const caf_algorithm_descriptor *descriptor, caf_algorithm **out,
                                caf_error *err)
{
    return new_instance(source, descriptor, NULL, out, err);
}

/* Picks algorithm name (NULL: the only one) from list and makes an instance of it that takes over so. */
static caf_status open_from_list(const char *plugin, const char *name, caf_plugin *so,
                                 const caf_algorithm_descriptor *const *list, caf_algorithm **out, caf_error *err)
{
    const caf_algorithm_descriptor *d = NULL;
    size_t n = 0;
    for (; list[n]; n++)
        if (!name || (list[n]->name && strcmp(list[n]->name, name) == 0))
            d = d ? d : list[n];
    if (!name && n > 1) {
        caf_plugin_close(so);
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm plugin %s holds %zu algorithms: say which (%s:NAME)",
                             plugin, n, plugin);
    }
    if (!d) {
        char names[512] = "";
        size_t used = 0;
        for (size_t i = 0; list[i] && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                     list[i]->name ? list[i]->name : "?");
        caf_plugin_close(so);
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s:%s: the plugin has no such algorithm (it has %s)",
                             plugin, name, names);
    }
    caf_status st = new_instance(plugin, d, so, out, err);
    if (st != CAF_OK)
        caf_plugin_close(so);
    return st;
}

caf_status caf_algorithm_open(const char *plugin, const char *name, caf_algorithm **out, caf_error *err)
{
    *out = NULL;
    caf_plugin so = {0};
    const caf_algorithm_descriptor *const *list;
    caf_status st = load_list(plugin, &so, &list, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s:%s: ", plugin, name ? name : "");
    return open_from_list(plugin, name, &so, list, out, err);
}

caf_status caf_algo_open_loaded(const caf_plugin *loaded, const char *plugin, const char *name, caf_algorithm **out,
                                caf_error *err)
{
    *out = NULL;
    const caf_algorithm_descriptor *const *list = NULL;
    caf_status st = entry_list(loaded, &list, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s:%s: ", plugin, name ? name : "");
    /* the instance names the file but holds no reference: closing it leaves the loader's handle loaded */
    caf_plugin so = {.handle = NULL, .path = strdup(loaded->path)};
    if (!so.path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return open_from_list(plugin, name, &so, list, out, err);
}

void caf_algorithm_close(caf_algorithm *alg)
{
    if (!alg)
        return;
    caf_algo_reset_execution(alg);
    free(alg->runs);
    json_decref(alg->output_state);
    json_decref(alg->input_state);
    free(alg->cache);
    free(alg->boundaries);
    caf_algo_close_inputs(alg);
    caf_algo_forget_chain(alg);
    caf_params_free(alg->params);
    free(alg->collector);
    free(alg->full_name);
    caf_plugin_close(&alg->plugin);
    free(alg);
}

const caf_algorithm_descriptor *caf_algorithm_descriptor_of(const caf_algorithm *alg)
{
    return alg->d;
}

const char *caf_algorithm_full_name(const caf_algorithm *alg)
{
    return alg->full_name;
}

caf_status caf_algorithm_set_params(caf_algorithm *alg, size_t count, const char *const *names,
                                    const char *const *values, caf_error *err)
{
    caf_params *params;
    caf_status st = caf_params_parse(alg->full_name, alg->d->params, count, names, values, &params, err);
    if (st != CAF_OK) {
        reword_module_message(err);
        return st;
    }
    caf_params_free(alg->params);
    alg->params = params;
    return CAF_OK;
}

caf_status caf_algorithm_set_collector(caf_algorithm *alg, const char *collector, caf_error *err)
{
    if (!collector || !*collector)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: empty collector name", alg->full_name);
    char *copy = strdup(collector);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(alg->collector);
    alg->collector = copy;
    return CAF_OK;
}

