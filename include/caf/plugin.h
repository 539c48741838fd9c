/* Plugins: shared objects found by name on the plugin path and loaded with dlopen. The plugin path is
 * $CAF_PLUGIN_PATH (colon-separated folders, searched first), then the folder caf installs its own
 * plugins into. A plugin called NAME is the file NAME.so in the first folder that has one; it exposes
 * one entry-point symbol per plugin kind (modules: CAF_MODULE_ENTRY_SYMBOL in caf/module.h). */
#ifndef CAF_PLUGIN_H
#define CAF_PLUGIN_H

#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded shared object. */
typedef struct caf_plugin {
    void *handle; /* from dlopen; NULL when closed */
    char *path;   /* the file it came from (owned) */
} caf_plugin;

/* The folders searched, in order: $CAF_PLUGIN_PATH's entries, then the install folder. Returns a
 * NULL-terminated array (malloc'd, caller frees with caf_plugin_dirs_free). */
char **caf_plugin_dirs(void);

/* Frees an array returned by caf_plugin_dirs or caf_plugin_list. */
void caf_plugin_dirs_free(char **dirs);

/* Finds NAME.so on the plugin path; sets *path (malloc'd, caller frees) or fails with CAF_ERR_NOT_FOUND
 * and a message listing the folders searched. NAME must not contain '/'. */
caf_status caf_plugin_find(const char *name, char **path, caf_error *err);

/* Opens the plugin file at path (RTLD_NOW | RTLD_LOCAL). On failure the message names the file and
 * what dlopen said. Close with caf_plugin_close. */
caf_status caf_plugin_open_file(caf_plugin *plugin, const char *path, caf_error *err);

/* Finds NAME on the plugin path and opens it. */
caf_status caf_plugin_open(caf_plugin *plugin, const char *name, caf_error *err);

/* Looks up symbol in the plugin; fails with CAF_ERR_PLUGIN naming the file and the symbol when absent.
 * The returned pointer lives as long as the plugin stays open. */
caf_status caf_plugin_symbol(const caf_plugin *plugin, const char *symbol, void **out, caf_error *err);

/* Unloads the plugin (safe on a closed or zeroed handle). */
void caf_plugin_close(caf_plugin *plugin);

/* The names (file names without .so) of every plugin on the plugin path, sorted, each once (a name in
 * an earlier folder hides later ones). NULL-terminated array, caller frees with caf_plugin_dirs_free. */
caf_status caf_plugin_list(char ***names, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
