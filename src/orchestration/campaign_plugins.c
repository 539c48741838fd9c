/* Plugins for configuration checks: collectors, algorithms (PLUGIN or PLUGIN:ALGORITHM) and pre-collector
 * modules are looked for as NAME.so on the search path. Algorithm plugins are then loaded, each in a child
 * process (plugin code is user code: a crash or a hang there must not end the check), to find what only
 * loading tells: that the plugin holds the algorithm, with a sound descriptor, and the hooks its strategy
 * needs. Collectors and modules are checked when the job runs them.
 * Strategy plugins are loaded in a child process too (caf_strategy_plugin_check): their parameters and
 * granularities are declared in code, and a bad value must be found before anything runs. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm_instance.h"
#include "caf/campaign.h"
#include "caf/file.h"
#include "caf/python_algorithm.h"
#include "caf/strategy_plugin.h"

caf_status caf_plugin_search(const char *name, const char *search_path, char **found, caf_error *err)
{
    *found = NULL;
    if (!search_path)
        return CAF_OK;
    char *copy = strdup(search_path);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        size_t len = strlen(dir) + strlen(name) + 5;
        char *path = malloc(len);
        if (!path) {
            free(copy);
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
        snprintf(path, len, "%s/%s.so", dir, name);
        if (caf_path_exists(path) && !caf_path_is_dir(path)) {
            *found = path;
            break;
        }
        free(path);
    }
    free(copy);
    return CAF_OK;
}

static void check_one(const char *kind, const char *cal, const char *name, caf_mark mark, const char *search_path,
                      caf_config_problems *problems)
{
    char *found = NULL;
    if (!name || !*name)
        return;
    /* "PLUGIN:ALGORITHM" names one algorithm of a plugin holding several. */
    char file[256];
    snprintf(file, sizeof file, "%.*s", (int)strcspn(name, ":"), name);
    caf_status rc = caf_plugin_search(file, search_path, &found, NULL);
    if (rc == CAF_OK && !found)
        caf_config_problems_add(problems, mark, "calibration '%s': %s plugin '%s' not found (no %s.so in %s)", cal,
                                kind, name, file, search_path && *search_path ? search_path : "an empty plugin path");
    free(found);
}

/* Where parameter name's value was written, else the strategy's own mark. */
static caf_mark parameter_mark(const caf_algorithm_config *a, const char *name, caf_mark fallback)
{
    json_int_t line, column;
    json_t *at = name && *name && a->strategy_parameter_marks ? json_object_get(a->strategy_parameter_marks, name)
                                                              : NULL;
    if (at && json_unpack(at, "[II]", &line, &column) == 0)
        return (caf_mark){(int)line, (int)column};
    return fallback;
}

static void check_strategy(const caf_calibration_config *cal, const caf_algorithm_config *a, const char *search_path,
                           caf_config_problems *problems)
{
    const char *name = a->strategy.plugin;
    caf_mark sm = a->strategy_mark.line ? a->strategy_mark : (a->mark.line ? a->mark : cal->mark);
    char file[CAF_STRATEGY_NAME_MAX];
    snprintf(file, sizeof file, "%.*s", (int)strcspn(name, ":"), name);
    char *found = NULL;
    caf_error err = {0};
    if (caf_plugin_search(file, search_path, &found, &err) != CAF_OK || !found) {
        caf_config_problems_add(problems, sm,
                                "calibration '%s': algorithm '%s': strategy '%s' is neither a built-in (SingleIOV, "
                                "SimpleRunByRun, SequentialRunByRun, SequentialBoundaries) nor a strategy plugin "
                                "(no %s.so in %s)",
                                cal->name, a->plugin, name, file,
                                search_path && *search_path ? search_path : "an empty plugin path");
        free(found);
        return;
    }
    caf_strategy_check_problem found_problems[32];
    size_t n = 0;
    const char *granularity = cal->granularity == CAF_GRANULARITY_ALL ? "all" : "run";
    if (caf_strategy_plugin_check(found, name, a->strategy.plugin_parameters, granularity, found_problems,
                                  sizeof found_problems / sizeof *found_problems, &n, &err) != CAF_OK)
        caf_config_problems_add(problems, sm, "calibration '%s': algorithm '%s': %s", cal->name, a->plugin,
                                err.message);
    for (size_t i = 0; i < n; i++)
        caf_config_problems_add(problems, parameter_mark(a, found_problems[i].parameter, sm),
                                "calibration '%s': algorithm '%s': %s", cal->name, a->plugin,
                                found_problems[i].message);
    free(found);
}

static const char *effective_path(const char *search_path)
{
    if (!search_path)
        search_path = getenv("CAF_PLUGIN_PATH");
    return search_path ? search_path : CAF_PLUGIN_INSTALL_DIR;
}

/* "python:MODULE:FUNCTION" (caf/python_algorithm.h). */
static bool is_python(const char *plugin)
{
    size_t n = strlen(CAF_PYTHON_ALGORITHM_PLUGIN);
    return plugin && strncmp(plugin, CAF_PYTHON_ALGORITHM_PLUGIN, n) == 0 && plugin[n] == ':';
}

/* The folder Python modules of the campaign are looked for first: its file's (as `caf run` does). */
static char *campaign_folder(const caf_campaign *c)
{
    if (!c->source)
        return NULL;
    char *copy = strdup(c->source), *folder = NULL;
    if (copy)
        folder = realpath(dirname(copy), NULL);
    free(copy);
    return folder;
}

/* An algorithm in Python: imported in a child interpreter; its description, or NULL with a problem. */
static json_t *probe_python(const caf_campaign *c, const char *cal, const caf_algorithm_config *a,
                            caf_config_problems *problems)
{
    const char *target = a->plugin + strlen(CAF_PYTHON_ALGORITHM_PLUGIN) + 1;
    if (!strchr(target, ':')) /* not MODULE:FUNCTION: caf_campaign_validate says so */
        return NULL;
    char *folder = campaign_folder(c);
    json_t *list = NULL;
    caf_error err = {0};
    if (caf_python_algorithm_probe(target, folder, 60, &list, &err) != CAF_OK) {
        caf_config_problems_add(problems, a->mark, "calibration '%s': %s", cal, err.message);
        list = NULL;
    }
    free(folder);
    return list;
}

/* One loaded plugin's description (caf_algorithm_plugin_probe), kept for the other algorithms naming it. */
typedef struct probed {
    char *plugin;
    json_t *algorithms; /* NULL when it could not be loaded */
    bool refused;       /* the loader refused the file: not checked here, the run says why */
    char error[CAF_ERROR_MESSAGE_MAX];
} probed;

static const probed *probe(probed **cache, size_t *count, const char *plugin, const char *search_path)
{
    for (size_t i = 0; i < *count; i++)
        if (!strcmp((*cache)[i].plugin, plugin))
            return &(*cache)[i];
    probed *grown = realloc(*cache, (*count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    *cache = grown;
    probed *p = &grown[(*count)++];
    memset(p, 0, sizeof *p);
    caf_error err = {0};
    p->plugin = strdup(plugin);
    caf_status rc = caf_algorithm_plugin_probe(plugin, search_path, 30, &p->algorithms, &err);
    p->refused = rc == CAF_ERR_FORMAT;
    if (rc != CAF_OK)
        snprintf(p->error, sizeof p->error, "%s", err.message);
    return p;
}

static bool has_hook(const json_t *algorithm, const char *hook)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(algorithm, "hooks"), i, h)
        if (!strcmp(json_string_value(h), hook))
            return true;
    return false;
}

static char *hook_list(const json_t *algorithm, char *buf, size_t size)
{
    size_t used = 0, i;
    json_t *h;
    buf[0] = '\0';
    json_array_foreach(json_object_get(algorithm, "hooks"), i, h)
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", json_string_value(h));
    return buf;
}

/* The probed algorithm a configuration entry names (PLUGIN:ALGORITHM, or PLUGIN holding one), or NULL
 * with a problem added. */
static const json_t *find_algorithm(const probed *p, const char *cal, const caf_algorithm_config *a,
                                    caf_config_problems *problems)
{
    const char *colon = strchr(a->plugin, ':');
    size_t n = json_array_size(p->algorithms);
    if (!colon && n != 1) {
        caf_config_problems_add(problems, a->mark, "calibration '%s': algorithm plugin '%s' holds %zu algorithms: "
                                "say which (%s:NAME)", cal, a->plugin, n, a->plugin);
        return NULL;
    }
    char names[512] = "";
    size_t used = 0, i;
    json_t *alg;
    json_array_foreach(p->algorithms, i, alg) {
        const char *name = json_string_value(json_object_get(alg, "name"));
        if (!colon || !strcmp(name, colon + 1))
            return alg;
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", name);
    }
    caf_config_problems_add(problems, a->mark, "calibration '%s': algorithm plugin '%.*s' has no algorithm '%s' "
                            "(it has %s)", cal, (int)(colon - a->plugin), a->plugin, colon + 1, names);
    return NULL;
}

size_t caf_campaign_check_algorithms(const caf_campaign *c, const char *search_path, json_t **hooks,
                                     caf_config_problems *problems)
{
    size_t before = problems->count;
    search_path = effective_path(search_path);
    probed *cache = NULL;
    size_t cached = 0;
    json_t *all = hooks ? json_array() : NULL;
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        json_t *per_cal = all ? json_array() : NULL;
        for (size_t a = 0; a < cal->algorithm_count; a++) {
            const caf_algorithm_config *ac = &cal->algorithms[a];
            if (!ac->plugin || !*ac->plugin) { /* a problem of the file already */
                if (per_cal)
                    json_array_append_new(per_cal, json_null());
                continue;
            }
            char file[256], *found = NULL;
            snprintf(file, sizeof file, "%.*s", (int)strcspn(ac->plugin, ":"), ac->plugin);
            const json_t *alg = NULL;
            json_t *python = is_python(ac->plugin) ? probe_python(c, cal->name, ac, problems) : NULL;
            if (python) {
                alg = json_array_get(python, 0);
            } else if (is_python(ac->plugin)) {
                /* could not be imported: said above */
            } else if (caf_plugin_search(file, search_path, &found, NULL) == CAF_OK && found) {
                /* a plugin not found is caf_campaign_check_plugins' problem */
                const probed *p = probe(&cache, &cached, file, search_path);
                /* A file the loader refuses is reported when the job uses it (as collectors and modules
                 * are); one whose code crashes or hangs while loading is a problem now. */
                if (p && !p->algorithms && !p->refused)
                    caf_config_problems_add(problems, ac->mark, "calibration '%s': %s", cal->name, p->error);
                else if (p && p->algorithms)
                    alg = find_algorithm(p, cal->name, ac, problems);
            }
            free(found);
            const char *why = alg ? json_string_value(json_object_get(alg, "error")) : NULL;
            if (why)
                caf_config_problems_add(problems, ac->mark, "calibration '%s': %s", cal->name, why);
            if (alg && !why && ac->strategy.has_experiment_settings && !has_hook(alg, "setup_experiment")) {
                char list[256];
                caf_config_problems_add(problems, ac->mark, "calibration '%s': algorithm '%s': has_experiment_settings "
                                        "is set but the algorithm has no setup_experiment hook (it has %s)",
                                        cal->name, ac->plugin, hook_list(alg, list, sizeof list));
            }
            if (per_cal)
                json_array_append_new(per_cal, alg ? json_deep_copy(json_object_get(alg, "hooks")) : json_null());
            json_decref(python);
        }
        if (all)
            json_array_append_new(all, per_cal);
    }
    for (size_t i = 0; i < cached; i++) {
        free(cache[i].plugin);
        json_decref(cache[i].algorithms);
    }
    free(cache);
    if (hooks)
        *hooks = all;
    return problems->count - before;
}

size_t caf_campaign_check_plugins(const caf_campaign *c, const char *search_path, caf_config_problems *problems)
{
    size_t before = problems->count;
    search_path = effective_path(search_path);
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        for (size_t k = 0; k < caf_calibration_collection_count(cal); k++) {
            caf_collection_config col;
            caf_calibration_collection(cal, k, &col);
            caf_mark m = col.marks[CAF_COL_COLLECTOR].line ? col.marks[CAF_COL_COLLECTOR] : col.mark;
            check_one("collector", cal->name, col.collector, m, search_path, problems);
            for (size_t j = 0; j < col.pre_collector_count; j++) /* modules are plugins too (plugins/NAME) */
                check_one("pre-collector module", cal->name, col.pre_collector[j].module, col.pre_collector[j].mark,
                          search_path, problems);
        }
        for (size_t a = 0; a < cal->algorithm_count; a++)
            if (!is_python(cal->algorithms[a].plugin)) /* caf_campaign_check_algorithms imports Python modules */
                check_one("algorithm", cal->name, cal->algorithms[a].plugin, cal->algorithms[a].mark, search_path,
                          problems);
        for (size_t a = 0; a < cal->algorithm_count; a++)
            if (cal->algorithms[a].strategy.kind == CAF_STRATEGY_PLUGIN)
                check_strategy(cal, &cal->algorithms[a], search_path, problems);
    }
    return problems->count - before;
}
