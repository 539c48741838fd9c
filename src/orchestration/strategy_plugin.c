/* Strategy plugins: opening PLUGIN.so, picking the strategy a "PLUGIN[:STRATEGY]" name means, and checking
 * its descriptor, its parameters and its granularities before anything trusts it. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/plugin.h"
#include "modules/params_internal.h"
#include "orchestration/strategy_internal.h"

/* The parameter parser words its messages for modules; a campaign's author must read "strategy". */
static caf_status reword_module_message(caf_status st, caf_error *err)
{
    if (st != CAF_OK && err && strncmp(err->message, "module ", 7) == 0) {
        char copy[CAF_ERROR_MESSAGE_MAX];
        snprintf(copy, sizeof copy, "strategy %s", err->message + 7);
        memcpy(err->message, copy, sizeof copy);
    }
    return st;
}

caf_status caf_strategy_descriptor_check(const caf_strategy_descriptor *desc, caf_error *err)
{
    if (desc->abi_version != CAF_STRATEGY_ABI_VERSION)
        return caf_error_set(err, CAF_ERR_PLUGIN, "strategy ABI version %u, this caf needs %d", desc->abi_version,
                             CAF_STRATEGY_ABI_VERSION);
    if (!desc->name || !*desc->name)
        return caf_error_set(err, CAF_ERR_PLUGIN, "a strategy has no name");
    if (!desc->run)
        return caf_error_set(err, CAF_ERR_PLUGIN, "strategy %s has no run function", desc->name);
    for (const char *const *g = desc->granularities; g && *g; g++)
        if (strcmp(*g, "run") != 0 && strcmp(*g, "all") != 0)
            return caf_error_set(err, CAF_ERR_PLUGIN, "strategy %s: unknown granularity \"%s\" (run or all)",
                                 desc->name, *g);
    return reword_module_message(caf_param_spec_check(desc->name, desc->params, err), err);
}

caf_status caf_strategy_descriptor_parse_params(const caf_strategy_descriptor *desc, const json_t *parameters,
                                                caf_params **out, caf_error *err)
{
    *out = NULL;
    size_t n = parameters ? json_object_size(parameters) : 0, i = 0;
    char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    caf_status st = names && values ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    if (st == CAF_OK && n > 0)
        json_object_foreach((json_t *)parameters, key, v) {
            names[i] = strdup(key);
            values[i] = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT); /* JSON is YAML flow syntax */
            if (!names[i] || !values[i]) {
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                break;
            }
            i++;
        }
    if (st == CAF_OK)
        st = reword_module_message(caf_params_parse(desc->name, desc->params, n, (const char *const *)names,
                                                    (const char *const *)values, out, err),
                                   err);
    for (size_t k = 0; k < n + 1 && names && values; k++) {
        free(names[k]);
        free(values[k]);
    }
    free(names);
    free(values);
    return st;
}

caf_status caf_strategy_descriptor_check_granularity(const caf_strategy_descriptor *desc, const char *granularity,
                                                     caf_error *err)
{
    if (strcmp(granularity, "run") != 0 && strcmp(granularity, "all") != 0)
        return caf_error_set(err, CAF_ERR_INVALID, "collector granularity must be \"run\" or \"all\", not \"%s\"",
                             granularity);
    if (!desc->granularities)
        return CAF_OK;
    size_t n = 0;
    for (; desc->granularities[n]; n++)
        if (strcmp(desc->granularities[n], granularity) == 0)
            return CAF_OK;
    if (n == 1)
        return caf_error_set(err, CAF_ERR_INVALID, "strategy %s needs collector granularity \"%s\" and refuses \"%s\"",
                             desc->name, desc->granularities[0], granularity);
    return caf_error_set(err, CAF_ERR_INVALID, "strategy %s refuses collector granularity \"%s\"", desc->name,
                         granularity);
}

/* Picks the strategy "PLUGIN[:STRATEGY]" means from the plugin's list. */
static caf_status pick(const caf_strategy_descriptor *const *list, const char *name, const char *path,
                       const caf_strategy_descriptor **out, caf_error *err)
{
    const char *colon = strchr(name, ':');
    const char *wanted = colon ? colon + 1 : name;
    size_t plugin_len = colon ? (size_t)(colon - name) : strlen(name);
    size_t n = 0;
    *out = NULL;
    for (; list[n]; n++)
        if (!*out && list[n]->name && strcmp(list[n]->name, wanted) == 0)
            *out = list[n];
    if (!*out && !colon && n == 1)
        *out = list[0];
    if (*out)
        return CAF_OK;
    char names[400] = "";
    size_t used = 0;
    for (size_t i = 0; list[i] && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 list[i]->name ? list[i]->name : "?");
    if (!colon)
        return caf_error_set(err, CAF_ERR_INVALID, "strategy plugin %s (%s) holds %zu strategies: say which "
                             "(%.*s:NAME, one of %s)", name, path, n, (int)plugin_len, name, names);
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "strategy plugin %.*s (%s) has no strategy %s (it has %s)",
                         (int)plugin_len, name, path, wanted, names);
}

caf_status caf_strategy_plugin_open_file(caf_strategy_plugin *plugin, const char *path, const char *name,
                                         caf_error *err)
{
    memset(plugin, 0, sizeof *plugin);
    caf_plugin so = {0};
    caf_status st = caf_plugin_open_file(&so, path, err);
    if (st != CAF_OK)
        return st;
    void *sym;
    st = caf_plugin_symbol(&so, CAF_STRATEGY_ENTRY_SYMBOL, &sym, err);
    const caf_strategy_descriptor *const *list = NULL;
    if (st == CAF_OK) {
        caf_strategy_entry_fn entry;
        memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
        list = entry();
        if (!list || !list[0])
            st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: %s returned no strategies", path, CAF_STRATEGY_ENTRY_SYMBOL);
    }
    const caf_strategy_descriptor *desc = NULL;
    if (st == CAF_OK)
        st = pick(list, name, path, &desc, err);
    if (st == CAF_OK && (st = caf_strategy_descriptor_check(desc, err)) != CAF_OK)
        caf_error_prefix(err, "%s: ", path);
    if (st != CAF_OK) {
        caf_plugin_close(&so);
        return st;
    }
    plugin->handle = so.handle;
    plugin->path = so.path;
    plugin->desc = desc;
    return CAF_OK;
}

caf_status caf_strategy_plugin_open(caf_strategy_plugin *plugin, const char *name, caf_error *err)
{
    memset(plugin, 0, sizeof *plugin);
    char file[CAF_STRATEGY_NAME_MAX];
    snprintf(file, sizeof file, "%.*s", (int)strcspn(name, ":"), name);
    char *path;
    caf_status st = caf_plugin_find(file, &path, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "strategy %s: ", name);
    st = caf_strategy_plugin_open_file(plugin, path, name, err);
    free(path);
    return st;
}

void caf_strategy_plugin_close(caf_strategy_plugin *plugin)
{
    if (!plugin)
        return;
    caf_plugin so = {.handle = plugin->handle, .path = plugin->path};
    caf_plugin_close(&so);
    memset(plugin, 0, sizeof *plugin);
}
