/* Loading a module plugin: find NAME.so, call its entry point and check what it describes before the
 * engine trusts it. */
#include <stdlib.h>
#include <string.h>

#include "caf/plugin.h"
#include "modules/params_internal.h"

caf_status caf_module_plugin_load(caf_module_plugin *plugin, const char *name, caf_error *err)
{
    memset(plugin, 0, sizeof *plugin);
    caf_plugin so;
    caf_status st = caf_plugin_open(&so, name, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "module %s: ", name);
    void *sym;
    st = caf_plugin_symbol(&so, CAF_MODULE_ENTRY_SYMBOL, &sym, err);
    const caf_module_descriptor *d = NULL;
    if (st == CAF_OK) {
        caf_module_entry_fn entry;
        memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
        d = entry();
        if (!d)
            st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: %s returned no descriptor", so.path, CAF_MODULE_ENTRY_SYMBOL);
        else if (d->abi_version != CAF_MODULE_ABI_VERSION)
            st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: module ABI version %u, this caf needs %d", so.path,
                               d->abi_version, CAF_MODULE_ABI_VERSION);
        else if (!d->name || strcmp(d->name, name) != 0)
            st = caf_error_set(err, CAF_ERR_PLUGIN, "%s: the plugin calls its module '%s', not '%s'", so.path,
                               d->name ? d->name : "", name);
        else if ((st = caf_param_spec_check(name, d->params, err)) != CAF_OK)
            caf_error_prefix(err, "%s: ", so.path);
    }
    if (st != CAF_OK) {
        caf_error_prefix(err, "module %s: ", name);
        caf_plugin_close(&so);
        return st;
    }
    plugin->handle = so.handle;
    plugin->path = so.path;
    plugin->descriptor = d;
    return CAF_OK;
}

void caf_module_plugin_unload(caf_module_plugin *plugin)
{
    if (!plugin)
        return;
    caf_plugin so = {plugin->handle, plugin->path};
    caf_plugin_close(&so);
    memset(plugin, 0, sizeof *plugin);
}
