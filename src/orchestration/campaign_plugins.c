/* Plugin existence for configuration checks: collectors, algorithms (PLUGIN or PLUGIN:ALGORITHM) and
 * pre-collector modules are looked for as NAME.so on the search path, without loading them (a check must
 * not run plugin code); whether the file is a plugin of the right kind shows when the job runs it.
 * Strategy plugins are loaded, but only in a child process (caf_strategy_plugin_check): their parameters
 * and granularities are declared in code, and a bad value must be found before anything runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/campaign.h"
#include "caf/file.h"
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

size_t caf_campaign_check_plugins(const caf_campaign *c, const char *search_path, caf_config_problems *problems)
{
    size_t before = problems->count;
    if (!search_path)
        search_path = getenv("CAF_PLUGIN_PATH");
    if (!search_path)
        search_path = CAF_PLUGIN_INSTALL_DIR;
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
            check_one("algorithm", cal->name, cal->algorithms[a].plugin, cal->algorithms[a].mark, search_path,
                      problems);
        for (size_t a = 0; a < cal->algorithm_count; a++)
            if (cal->algorithms[a].strategy.kind == CAF_STRATEGY_PLUGIN)
                check_strategy(cal, &cal->algorithms[a], search_path, problems);
    }
    return problems->count - before;
}
