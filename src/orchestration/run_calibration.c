/* One calibration in a CAF run: its machine (every transition recorded as a row with its reason), its
 * folders, and the database chains its iteration reads through. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/json.h"
#include "caf/log.h"
#include "orchestration/run_internal.h"

const char *run_cal_state(const run_cal *c)
{
    return caf_machine_state(c->cm.machine);
}

bool run_cal_finished(const run_cal *c)
{
    const char *s = run_cal_state(c);
    return !strcmp(s, "completed") || !strcmp(s, "failed");
}

caf_status run_cal_fire(run_cal *c, const char *transition, const char *reason, caf_error *err)
{
    char from[40];
    snprintf(from, sizeof from, "%s", run_cal_state(c));
    caf_status rc = caf_machine_fire(c->cm.machine, transition, err);
    if (rc != CAF_OK)
        return rc;
    if (reason)
        snprintf(c->reason, sizeof c->reason, "%s", reason);
    caf_log(reason ? CAF_LOG_WARNING : CAF_LOG_INFO, "%s: iteration %d: %s -> %s%s%s", c->cfg->name,
            c->cm.iteration, from, run_cal_state(c), reason ? ": " : "", reason ? reason : "");
    return run_db_set_state(c->loop->db, c->cfg->name, from, run_cal_state(c), c->cm.iteration, c->reason, err);
}

caf_status run_cal_fail(run_cal *c, const char *reason, caf_error *err)
{
    char from[40];
    snprintf(from, sizeof from, "%s", run_cal_state(c));
    caf_status rc = caf_machine_set_state(c->cm.machine, "failed", err);
    if (rc != CAF_OK)
        return rc;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    caf_warning("%s: iteration %d: %s -> failed: %s", c->cfg->name, c->cm.iteration, from, reason);
    return run_db_set_state(c->loop->db, c->cfg->name, from, "failed", c->cm.iteration, c->reason, err);
}

char *run_cal_iteration_dir(const run_cal *c, int iteration)
{
    char *p = NULL;
    return asprintf(&p, "%s/iteration_%d", c->dir, iteration) < 0 ? NULL : p;
}

char *run_cal_database(const run_cal *c, int iteration)
{
    char *p = NULL;
    return asprintf(&p, "%s/iteration_%d/database", c->dir, iteration) < 0 ? NULL : p;
}

static caf_status chain_add(run_cal *c, char *path, const char *source, caf_error *err)
{
    char *label = path ? strdup(source) : NULL;
    if (!path || !label) {
        free(path);
        free(label);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    char **grown = realloc(c->chain, (c->chain_count + 1) * sizeof *grown);
    char **grown_sources = grown ? realloc(c->chain_sources, (c->chain_count + 1) * sizeof *grown_sources) : NULL;
    if (grown)
        c->chain = grown;
    if (!grown_sources) {
        free(path);
        free(label);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    c->chain_sources = grown_sources;
    c->chain[c->chain_count] = path;
    c->chain_sources[c->chain_count++] = label;
    return CAF_OK;
}

void run_cal_free_chain(run_cal *c)
{
    for (size_t i = 0; i < c->chain_count; i++) {
        free(c->chain[i]);
        free(c->chain_sources[i]);
    }
    free(c->chain);
    free(c->chain_sources);
    c->chain = c->chain_sources = NULL;
    c->chain_count = 0;
}

static bool names(const caf_string_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (!strcmp(list->items[i], name))
            return true;
    return false;
}

/* Marks every calibration cal depends on, directly or through others. */
static void mark_ancestors(const caf_campaign *campaign, size_t cal, bool *ancestor)
{
    const caf_string_list *deps = &campaign->calibrations[cal]->depends_on;
    for (size_t d = 0; d < deps->count; d++) {
        size_t k = caf_campaign_index(campaign, deps->items[d]);
        if (k != SIZE_MAX && !ancestor[k]) {
            ancestor[k] = true;
            mark_ancestors(campaign, k, ancestor);
        }
    }
}

/* First match wins: this iteration's output, the previous iteration's, the final output of every ancestor
 * (the calibrations it depends on directly or through others), nearest first, then the configured
 * database_chain. As in basf2 (CAF._order_calibrations sorts a calibration's full dependency list in the
 * campaign's dependency order, and each database is then prepended to the chain), the nearest ancestor is
 * the one that comes latest in the campaign's dependency order (caf_campaign_order), so a parent always
 * comes before its own ancestors. */
caf_status run_cal_build_chain(run_cal *c, caf_error *err)
{
    run_cal_free_chain(c);
    const caf_campaign *campaign = c->loop->campaign;
    size_t n = campaign->calibration_count;
    char source[320];
    snprintf(source, sizeof source, "iteration %d output", c->cm.iteration);
    caf_status rc = chain_add(c, run_cal_database(c, c->cm.iteration), source, err);
    if (rc == CAF_OK && c->cm.iteration > 0) {
        snprintf(source, sizeof source, "iteration %d output", c->cm.iteration - 1);
        rc = chain_add(c, run_cal_database(c, c->cm.iteration - 1), source, err);
    }
    bool *ancestor = calloc(n ? n : 1, sizeof *ancestor);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (rc == CAF_OK && (!ancestor || !order))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = caf_campaign_order(campaign, order, err);
    if (rc == CAF_OK)
        mark_ancestors(campaign, c->index, ancestor);
    for (size_t k = n; rc == CAF_OK && k-- > 0;) {
        if (!ancestor[order[k]])
            continue;
        const run_cal *dep = &c->loop->cals[order[k]];
        bool parent = names(&c->cfg->depends_on, dep->cfg->name);
        snprintf(source, sizeof source, "%.256s (%s)", dep->cfg->name, parent ? "depends_on" : "ancestor");
        rc = chain_add(c, run_cal_database(dep, dep->cm.iteration), source, err);
    }
    free(ancestor);
    free(order);
    for (size_t i = 0; rc == CAF_OK && i < c->cfg->database_chain.count; i++) {
        const char *db = c->cfg->database_chain.items[i];
        char *path = NULL;
        if (db[0] == '/' || !c->loop->base_dir || caf_dbchain_entry_is_server(db))
            path = strdup(db);
        else if (asprintf(&path, "%s/%s", c->loop->base_dir, db) < 0)
            path = NULL;
        rc = chain_add(c, path, "database_chain", err);
    }
    return rc;
}

json_t *run_chain_item_json(const char *entry, const char *source)
{
    json_t *item = json_pack("{s:s, s:s?}", "database", entry, "source", source);
    char *tag, **urls;
    size_t count;
    caf_error ignored = {0};
    if (!item || caf_dbchain_server_parse(entry, &tag, &urls, &count, &ignored) != CAF_OK)
        return item;
    json_t *servers = json_array();
    for (size_t i = 0; servers && i < count; i++)
        json_array_append_new(servers, json_string(urls[i]));
    if (!servers || json_object_set_new(item, "globaltag", json_string(tag)) != 0 ||
        json_object_set_new(item, "servers", servers) != 0) {
        json_decref(item);
        item = NULL;
    }
    caf_dbchain_server_free(tag, urls, count);
    return item;
}

caf_status run_cal_record_chain(run_cal *c, caf_error *err)
{
    json_t *list = json_array();
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    for (size_t i = 0; list && i < c->chain_count; i++)
        json_array_append_new(list, run_chain_item_json(c->chain[i], c->chain_sources[i]));
    for (size_t i = 0; f && i < c->chain_count; i++) {
        char *described = caf_dbchain_entry_describe(c->chain[i]);
        fprintf(f, "%s%s (%s)", i ? ", " : "", described ? described : c->chain[i], c->chain_sources[i]);
        free(described);
    }
    if (f)
        fclose(f);
    char *dir = run_cal_iteration_dir(c, c->cm.iteration), *path = NULL;
    caf_status rc = list && f && text && dir && asprintf(&path, "%s/%s", dir, RUN_CHAIN_FILE) >= 0
                        ? caf_json_save_file(path, list, err)
                        : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        caf_info("%s: iteration %d: database chain (first match wins): %s", c->cfg->name, c->cm.iteration, text);
    json_decref(list);
    free(text);
    free(dir);
    free(path);
    return rc;
}
