/* Plugin existence for configuration checks: collectors, algorithms (PLUGIN or PLUGIN:ALGORITHM) and
 * pre-collector modules are looked for as NAME.so on the search path, without loading them (a check must
 * not run plugin code); whether the file is a plugin of the right kind shows when the job runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/campaign.h"
#include "caf/file.h"

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

size_t caf_campaign_check_plugins(const caf_campaign *c, const char *search_path, caf_config_problems *problems)
{
    size_t before = problems->count;
    if (!search_path)
        search_path = getenv("CAF_PLUGIN_PATH");
    if (!search_path)
        search_path = CAF_PLUGIN_INSTALL_DIR;
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        caf_mark m = cal->marks[CAF_CAL_COLLECTOR].line ? cal->marks[CAF_CAL_COLLECTOR] : cal->mark;
        check_one("collector", cal->name, cal->collector, m, search_path, problems);
        for (size_t a = 0; a < cal->algorithm_count; a++)
            check_one("algorithm", cal->name, cal->algorithms[a].plugin, cal->algorithms[a].mark, search_path,
                      problems);
        for (size_t m = 0; m < cal->pre_collector_count; m++) /* modules are plugins too (plugins/NAME) */
            check_one("pre-collector module", cal->name, cal->pre_collector[m].module, cal->pre_collector[m].mark,
                      search_path, problems);
    }
    return problems->count - before;
}
