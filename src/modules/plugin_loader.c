/* Finding plugins by name on the plugin path and loading them with dlopen. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/plugin.h"

#ifndef CAF_PLUGIN_INSTALL_DIR
#define CAF_PLUGIN_INSTALL_DIR "/usr/local/lib/caf/plugins"
#endif

static const char plugin_suffix[] = ".so";

static bool push_string(char ***list, size_t *count, size_t *cap, const char *s, size_t len)
{
    if (*count + 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        char **n = realloc(*list, ncap * sizeof *n);
        if (!n)
            return false;
        *list = n;
        *cap = ncap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return false;
    (*list)[(*count)++] = copy;
    (*list)[*count] = NULL;
    return true;
}

char **caf_plugin_dirs(void)
{
    char **dirs = NULL;
    size_t count = 0, cap = 0;
    const char *env = getenv("CAF_PLUGIN_PATH");
    bool ok = true;
    while (ok && env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if (len > 0) /* an empty entry ("a::b") means nothing, not the current folder */
            ok = push_string(&dirs, &count, &cap, env, len);
        env = colon ? colon + 1 : NULL;
    }
    if (ok)
        ok = push_string(&dirs, &count, &cap, CAF_PLUGIN_INSTALL_DIR, strlen(CAF_PLUGIN_INSTALL_DIR));
    if (!ok) {
        caf_plugin_dirs_free(dirs);
        return NULL;
    }
    return dirs;
}

void caf_plugin_dirs_free(char **dirs)
{
    if (!dirs)
        return;
    for (char **d = dirs; *d; d++)
        free(*d);
    free(dirs);
}

caf_status caf_plugin_find(const char *name, char **path, caf_error *err)
{
    *path = NULL;
    if (!name || !*name || strchr(name, '/'))
        return caf_error_set(err, CAF_ERR_INVALID, "plugin name '%s' is not a plain name", name ? name : "");
    char **dirs = caf_plugin_dirs();
    if (!dirs)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory while searching plugin '%s'", name);
    char searched[600] = "";
    size_t used = 0;
    for (char **d = dirs; *d; d++) {
        size_t len = strlen(*d) + strlen(name) + sizeof plugin_suffix + 1;
        char *candidate = malloc(len);
        if (!candidate) {
            caf_plugin_dirs_free(dirs);
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory while searching plugin '%s'", name);
        }
        snprintf(candidate, len, "%s/%s%s", *d, name, plugin_suffix);
        if (caf_path_exists(candidate)) {
            caf_plugin_dirs_free(dirs);
            *path = candidate;
            return CAF_OK;
        }
        free(candidate);
        if (used < sizeof searched)
            used += (size_t)snprintf(searched + used, sizeof searched - used, "%s%s", d == dirs ? "" : ":", *d);
    }
    caf_plugin_dirs_free(dirs);
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "no plugin '%s' (%s%s) on the plugin path %s", name, name,
                         plugin_suffix, searched);
}

caf_status caf_plugin_open_file(caf_plugin *plugin, const char *path, caf_error *err)
{
    plugin->handle = NULL;
    plugin->path = strdup(path);
    if (!plugin->path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory loading %s", path);
    dlerror();
    plugin->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin->handle) {
        const char *why = dlerror();
        caf_status st = caf_error_set(err, CAF_ERR_PLUGIN, "cannot load plugin %s: %s", path, why ? why : "unknown");
        free(plugin->path);
        plugin->path = NULL;
        return st;
    }
    return CAF_OK;
}

caf_status caf_plugin_open(caf_plugin *plugin, const char *name, caf_error *err)
{
    char *path;
    caf_status st = caf_plugin_find(name, &path, err);
    if (st != CAF_OK)
        return st;
    st = caf_plugin_open_file(plugin, path, err);
    free(path);
    return st;
}

caf_status caf_plugin_symbol(const caf_plugin *plugin, const char *symbol, void **out, caf_error *err)
{
    dlerror();
    *out = dlsym(plugin->handle, symbol);
    if (!*out)
        return caf_error_set(err, CAF_ERR_PLUGIN, "plugin %s has no entry point %s", plugin->path, symbol);
    return CAF_OK;
}

void caf_plugin_close(caf_plugin *plugin)
{
    if (!plugin)
        return;
    if (plugin->handle)
        dlclose(plugin->handle);
    free(plugin->path);
    plugin->handle = NULL;
    plugin->path = NULL;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

caf_status caf_plugin_list(char ***names, caf_error *err)
{
    *names = NULL;
    char **dirs = caf_plugin_dirs();
    if (!dirs)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory listing plugins");
    char **list = calloc(1, sizeof *list); /* an empty list is still a NULL-terminated array */
    size_t count = 0, cap = 1;
    bool ok = list != NULL;
    for (char **d = dirs; ok && *d; d++) {
        DIR *dir = opendir(*d);
        if (!dir)
            continue; /* a folder on the path that does not exist holds no plugins */
        struct dirent *e;
        while (ok && (e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            size_t slen = sizeof plugin_suffix - 1;
            if (len <= slen || strcmp(e->d_name + len - slen, plugin_suffix) != 0)
                continue;
            bool seen = false;
            for (size_t i = 0; i < count && !seen; i++)
                seen = strlen(list[i]) == len - slen && !strncmp(list[i], e->d_name, len - slen);
            if (!seen)
                ok = push_string(&list, &count, &cap, e->d_name, len - slen);
        }
        closedir(dir);
    }
    caf_plugin_dirs_free(dirs);
    if (!ok) {
        caf_plugin_dirs_free(list);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory listing plugins");
    }
    qsort(list, count, sizeof *list, compare_names);
    *names = list;
    return CAF_OK;
}
