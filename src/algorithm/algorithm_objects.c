/* Collected objects for an algorithm: one object merged over a set of runs and every input file (or the
 * input files of one collection), kept in a cache keyed by (name, collection, sorted run set) for the rest
 * of the execution, so that asking twice costs one
 * merge. Each file merges its own runs (caf_collector_output_merge_runs); the files' results are then
 * merged in the sorted order of the file names, so the outcome does not depend on how files were listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"

void caf_algo_cache_clear(caf_algorithm *alg)
{
    for (size_t i = 0; i < alg->cache_count; i++) {
        free(alg->cache[i].name);
        free(alg->cache[i].collection);
        free(alg->cache[i].runs);
        caf_object_free(alg->cache[i].object);
    }
    alg->cache_count = 0;
}

static bool same_collection(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* True when input i is read for collection (NULL: every input is). */
static bool in_collection(const caf_algorithm *alg, size_t i, const char *collection)
{
    return !collection || (alg->input_collections && same_collection(alg->input_collections[i], collection));
}

static caf_algo_cache_entry *cache_find(caf_algorithm *alg, const char *name, const char *collection,
                                        const caf_exprun *runs, size_t count)
{
    for (size_t i = 0; i < alg->cache_count; i++) {
        caf_algo_cache_entry *e = &alg->cache[i];
        if (e->run_count == count && strcmp(e->name, name) == 0 && same_collection(e->collection, collection) &&
            (count == 0 || memcmp(e->runs, runs, count * sizeof *runs) == 0))
            return e;
    }
    return NULL;
}

/* Takes ownership of name, collection, runs and object (all freed on failure). */
static caf_status cache_add(caf_algorithm *alg, char *name, char *collection, caf_exprun *runs, size_t count,
                            caf_object *object, caf_error *err)
{
    void *items = alg->cache;
    caf_status st = caf_algo_reserve(&items, &alg->cache_capacity, alg->cache_count + 1, sizeof *alg->cache, err);
    alg->cache = items;
    if (st != CAF_OK) {
        free(name);
        free(collection);
        free(runs);
        caf_object_free(object);
        return st;
    }
    alg->cache[alg->cache_count++] = (caf_algo_cache_entry){name, collection, runs, count, object};
    return CAF_OK;
}

caf_status caf_algo_unknown_collection(const caf_algorithm *alg, const char *collection, caf_error *err)
{
    char names[600] = "";
    size_t used = 0;
    for (size_t i = 0; alg->input_collections && i < alg->input_count && used < sizeof names; i++)
        if (alg->input_collections[i] && !strstr(names, alg->input_collections[i]))
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                     alg->input_collections[i]);
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s: no input of collection '%s' (there are: %s)",
                         alg->full_name, collection, used ? names : "no named collections");
}

/* CAF_ERR_NOT_FOUND listing the objects the first input holds, when no input has name. */
static caf_status check_known(const caf_algorithm *alg, const char *name, const char *collection, caf_error *err)
{
    bool any = false;
    for (size_t i = 0; i < alg->input_count; i++) {
        if (!in_collection(alg, i, collection))
            continue;
        any = true;
        if (caf_collector_output_has_object(alg->inputs[i], name))
            return CAF_OK;
    }
    if (!any)
        return caf_algo_unknown_collection(alg, collection, err);
    char names[600] = "";
    size_t used = 0;
    const caf_collector_output *f = alg->inputs[0];
    size_t n = caf_collector_output_object_count(f);
    for (size_t i = 0; i < n && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 caf_collector_output_object(f, i)->name);
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s: no collected object '%s' in the output of collector "
                         "'%s' (it has: %s)", alg->full_name, name, alg->collector, n ? names : "nothing");
}

/* The runs of sorted that file f collected (*n of them, into subset, which has room for count). */
static caf_status runs_in_file(const caf_collector_output *f, const caf_exprun *sorted, size_t count,
                               caf_exprun *subset, size_t *n, caf_error *err)
{
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        bool has;
        caf_status st = caf_collector_output_has_run(f, sorted[i], &has, err);
        if (st != CAF_OK)
            return st;
        if (has)
            subset[(*n)++] = sorted[i];
    }
    return CAF_OK;
}

/* Merges name over sorted runs from every input into *out (NULL when no file has data). */
static caf_status merge_inputs(caf_algorithm *alg, const char *name, const char *collection,
                               const caf_exprun *sorted, size_t count, caf_object **out, caf_error *err)
{
    *out = NULL;
    bool all = alg->collected.granularity == CAF_GRANULARITY_ALL;
    caf_exprun *subset = count ? malloc(count * sizeof *subset) : NULL;
    if (count && !subset)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status st = CAF_OK;
    caf_object *acc = NULL;
    for (size_t i = 0; i < alg->input_count && st == CAF_OK; i++) {
        caf_collector_output *f = alg->inputs[i];
        if (!in_collection(alg, i, collection) || !caf_collector_output_has_object(f, name))
            continue;
        size_t n = 0;
        if (!all && (st = runs_in_file(f, sorted, count, subset, &n, err)) != CAF_OK)
            break;
        if (!all && n == 0)
            continue;
        caf_object *part = NULL;
        caf_error why = {0};
        st = caf_collector_output_merge_runs(f, name, all ? NULL : subset, n, &part, &why);
        if (st == CAF_ERR_NOT_FOUND) { /* the file registered the object but has no data for these runs */
            st = CAF_OK;
            continue;
        }
        if (st != CAF_OK) {
            if (err)
                *err = why;
            break;
        }
        if (!acc) {
            acc = part;
            continue;
        }
        const caf_object *others[1] = {part};
        st = caf_object_merge(acc, others, 1, err);
        if (st != CAF_OK)
            caf_error_prefix(err, "merging %s from %s: ", name, caf_collector_output_path(f));
        caf_object_free(part);
    }
    free(subset);
    if (st != CAF_OK) {
        caf_object_free(acc);
        return st;
    }
    *out = acc;
    return CAF_OK;
}

/* An object merged over runs and the inputs of collection (NULL: every input), through the cache. */
static caf_status get_object(caf_algo_context *ctx, const char *collection, const char *name, const caf_exprun *runs,
                             size_t count, const caf_object **out, caf_error *err)
{
    *out = NULL;
    caf_algorithm *alg = ctx->alg;
    if (caf_algo_require_execution(alg, "reading collected objects", err) != CAF_OK)
        return CAF_ERR_STATE;
    if (!name || !*name)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: empty object name", alg->full_name);
    if (collection && !*collection)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: empty collection name", alg->full_name);
    caf_status st = check_known(alg, name, collection, err);
    if (st != CAF_OK)
        return st;
    caf_exprun *sorted = NULL;
    size_t n = 0;
    /* with granularity "all" every run set means the same single object: one cache key for all of them */
    if (alg->collected.granularity == CAF_GRANULARITY_RUN) {
        st = caf_algo_sorted_runs(runs, count, &sorted, &n, err);
        if (st != CAF_OK)
            return st;
    }
    caf_algo_cache_entry *hit = cache_find(alg, name, collection, sorted, n);
    if (hit) {
        free(sorted);
        *out = hit->object;
        return CAF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        bool collected;
        if ((st = caf_algo_was_collected(alg, sorted[i], &collected, err)) != CAF_OK) {
            free(sorted);
            return st;
        }
        if (!collected)
            caf_warning("algorithm %s: object %s: run %d,%d was never collected", alg->full_name, name,
                        sorted[i].exp, sorted[i].run);
    }
    caf_object *merged;
    st = merge_inputs(alg, name, collection, sorted, n, &merged, err);
    if (st != CAF_OK) {
        free(sorted);
        return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    }
    alg->merges++;
    if (!merged) {
        free(sorted);
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s: no data for object '%s'%s%s%s in the %zu "
                             "requested run(s) of %zu input file(s)", alg->full_name, name,
                             collection ? " of collection '" : "", collection ? collection : "",
                             collection ? "'" : "", count, alg->input_count);
    }
    char *key = strdup(name), *col = collection ? strdup(collection) : NULL;
    if (!key || (collection && !col)) {
        free(key);
        free(col);
        free(sorted);
        caf_object_free(merged);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    st = cache_add(alg, key, col, sorted, n, merged, err);
    if (st == CAF_OK)
        *out = merged;
    return st;
}

caf_status caf_algo_get_object_for_runs(caf_algo_context *ctx, const char *name, const caf_exprun *runs,
                                        size_t count, const caf_object **out, caf_error *err)
{
    return get_object(ctx, NULL, name, runs, count, out, err);
}

caf_status caf_algo_get_object(caf_algo_context *ctx, const char *name, const caf_object **out, caf_error *err)
{
    return get_object(ctx, NULL, name, ctx->alg->runs, ctx->alg->run_count, out, err);
}

caf_status caf_algo_get_collection_object(caf_algo_context *ctx, const char *collection, const char *name,
                                          const caf_object **out, caf_error *err)
{
    if (!collection) {
        *out = NULL;
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: no collection named", ctx->alg->full_name);
    }
    return get_object(ctx, collection, name, ctx->alg->runs, ctx->alg->run_count, out, err);
}

caf_status caf_algo_get_collection_object_for_runs(caf_algo_context *ctx, const char *collection, const char *name,
                                                   const caf_exprun *runs, size_t count, const caf_object **out,
                                                   caf_error *err)
{
    if (!collection) {
        *out = NULL;
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: no collection named", ctx->alg->full_name);
    }
    return get_object(ctx, collection, name, runs, count, out, err);
}

const char *caf_algo_input_collection(const caf_algo_context *ctx, size_t index)
{
    const caf_algorithm *alg = ctx->alg;
    return index < alg->input_count && alg->input_collections ? alg->input_collections[index] : NULL;
}
