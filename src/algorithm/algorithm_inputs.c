/* An algorithm's inputs: the collector outputs it reads (one granularity; one collector, or one per
 * collection when they belong to named collections), the database chain it reads payloads from, and the
 * JSON state of its previous execution. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/log.h"
#include "collector/output_warm.h"

void caf_algo_close_inputs(caf_algorithm *alg)
{
    caf_algo_side_files_close(alg); /* before input_count goes */
    for (size_t i = 0; i < alg->input_count; i++) {
        caf_collector_output_close(alg->inputs[i]);
        free(alg->input_paths[i]);
        if (alg->input_collections)
            free(alg->input_collections[i]);
    }
    free(alg->inputs);
    free(alg->input_paths);
    free(alg->input_collections);
    alg->inputs = NULL;
    alg->input_paths = NULL;
    alg->input_collections = NULL;
    alg->input_count = 0;
    caf_run_range_clear(&alg->collected);
    alg->collected_loaded = false;
}

caf_status caf_algorithm_set_inputs(caf_algorithm *alg, const char *const *paths, size_t count, caf_error *err)
{
    return caf_algorithm_set_collection_inputs(alg, paths, NULL, NULL, count, err);
}

caf_status caf_algorithm_set_collection_inputs(caf_algorithm *alg, const char *const *paths,
                                               const char *const *collections, const char *const *collectors,
                                               size_t count, caf_error *err)
{
    caf_algo_close_inputs(alg);
    if (count == 0)
        return caf_error_set(err, CAF_ERR_INVALID, "algorithm %s: no input files", alg->full_name);
    alg->input_paths = calloc(count, sizeof *alg->input_paths);
    alg->input_collections = calloc(count, sizeof *alg->input_collections);
    alg->inputs = calloc(count, sizeof *alg->inputs);
    const char **expected = calloc(count, sizeof *expected); /* each input's collector, aligned with paths */
    if (!alg->input_paths || !alg->input_collections || !alg->inputs || !expected) {
        free(expected);
        caf_algo_close_inputs(alg);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    /* a sorted, duplicate-free list, as basf2 keeps it, so that the merge order does not depend on the
     * order the caller listed the files in */
    for (size_t i = 0; i < count; i++) {
        char *canonical = realpath(paths[i], NULL);
        if (!canonical) {
            caf_status st = caf_error_errno(err, errno, "algorithm %s: input %s", alg->full_name, paths[i]);
            free(expected);
            caf_algo_close_inputs(alg);
            return st;
        }
        size_t at = 0;
        while (at < alg->input_count && strcmp(alg->input_paths[at], canonical) < 0)
            at++;
        if (at < alg->input_count && strcmp(alg->input_paths[at], canonical) == 0) {
            free(canonical);
            continue;
        }
        char *collection = collections && collections[i] ? strdup(collections[i]) : NULL;
        if (collections && collections[i] && !collection) {
            free(canonical);
            free(expected);
            caf_algo_close_inputs(alg);
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
        size_t tail = alg->input_count - at;
        memmove(alg->input_paths + at + 1, alg->input_paths + at, tail * sizeof *alg->input_paths);
        memmove(alg->input_collections + at + 1, alg->input_collections + at, tail * sizeof *alg->input_collections);
        memmove(expected + at + 1, expected + at, tail * sizeof *expected);
        alg->input_paths[at] = canonical;
        alg->input_collections[at] = collection;
        expected[at] = collectors && collectors[i] ? collectors[i] : alg->collector;
        alg->input_count++;
    }
    caf_status st = CAF_OK;
    for (size_t i = 0; i < alg->input_count && st == CAF_OK; i++) {
        const char *path = alg->input_paths[i];
        st = caf_collector_output_open_lazy(path, &alg->inputs[i], err);
        if (st != CAF_OK)
            break;
        const char *collector = caf_collector_output_collector(alg->inputs[i]);
        if (strcmp(collector, expected[i]) != 0) {
            st = caf_error_set(err, CAF_ERR_INVALID, "input %s comes from collector '%s', not '%s'", path, collector,
                               expected[i]);
            break;
        }
        caf_granularity g = caf_collector_output_granularity(alg->inputs[i]);
        if (i == 0) {
            caf_run_range_init(&alg->collected, g);
        } else if (g != alg->collected.granularity) {
            st = caf_error_set(err, CAF_ERR_INVALID, "input %s has granularity '%s' but %s has '%s'", path,
                               caf_granularity_name(g), alg->input_paths[0],
                               caf_granularity_name(alg->collected.granularity));
            break;
        }
    }
    free(expected);
    caf_collector_output_warm_discard(); /* what a zygote's child opened ahead for other inputs */
    if (st != CAF_OK) {
        caf_error_prefix(err, "algorithm %s: ", alg->full_name);
        caf_algo_close_inputs(alg);
    }
    return st;
}

caf_status caf_algo_load_collected(caf_algorithm *alg, caf_error *err)
{
    caf_status st = CAF_OK;
    for (size_t i = 0; !alg->collected_loaded && i < alg->input_count && st == CAF_OK; i++) {
        const caf_run_range *rr;
        st = caf_collector_output_load_run_range(alg->inputs[i], &rr, err);
        if (st == CAF_OK)
            st = caf_run_range_merge(&alg->collected, rr, err);
    }
    if (st != CAF_OK) { /* never half a list: asked again, the same error */
        caf_granularity g = alg->collected.granularity;
        caf_run_range_clear(&alg->collected);
        caf_run_range_init(&alg->collected, g);
        return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    }
    alg->collected_loaded = alg->input_count > 0;
    return CAF_OK;
}

caf_status caf_algo_was_collected(caf_algorithm *alg, caf_exprun run, bool *was, caf_error *err)
{
    *was = false;
    if (alg->collected_loaded) {
        *was = caf_run_range_contains(&alg->collected, run);
        return CAF_OK;
    }
    for (size_t i = 0; !*was && i < alg->input_count; i++)
        if (caf_collector_output_has_run(alg->inputs[i], run, was, err) != CAF_OK)
            return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    return CAF_OK;
}

const caf_run_range *caf_algorithm_collected(const caf_algorithm *alg)
{
    caf_algorithm *m = (caf_algorithm *)(uintptr_t)alg; /* read on first use, cached in the instance */
    caf_error err = {0};
    if (caf_algo_load_collected(m, &err) != CAF_OK)
        caf_log_error("%s", err.message);
    return &alg->collected;
}

void caf_algo_forget_chain(caf_algorithm *alg)
{
    caf_dbchain_close(alg->chain);
    alg->chain = NULL;
    for (size_t i = 0; i < alg->chain_count; i++)
        free(alg->chain_paths[i]);
    free(alg->chain_paths);
    alg->chain_paths = NULL;
    alg->chain_count = 0;
}

caf_status caf_algorithm_set_chain(caf_algorithm *alg, const char *const *paths, size_t count, caf_error *err)
{
    char **copy = count ? calloc(count, sizeof *copy) : NULL;
    bool ok = !count || copy;
    for (size_t i = 0; ok && i < count; i++)
        ok = (copy[i] = strdup(paths[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; copy && i < count; i++)
            free(copy[i]);
        free(copy);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    caf_algo_forget_chain(alg);
    alg->chain_paths = copy;
    alg->chain_count = count;
    return CAF_OK;
}

caf_status caf_algo_open_chain(caf_algorithm *alg, caf_error *err)
{
    if (alg->chain || alg->chain_count == 0)
        return CAF_OK;
    if (caf_dbchain_open((const char *const *)alg->chain_paths, alg->chain_count, &alg->chain, err) != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: database chain: ", alg->full_name);
    return CAF_OK;
}

caf_status caf_algorithm_set_input_state(caf_algorithm *alg, const char *json_text, caf_error *err)
{
    json_error_t jerr;
    json_t *state = json_loads(json_text ? json_text : "{}", 0, &jerr);
    if (!state)
        return caf_error_set(err, CAF_ERR_FORMAT, "algorithm %s: input state: %d:%d: %s", alg->full_name, jerr.line,
                             jerr.column, jerr.text);
    if (!json_is_object(state)) {
        json_decref(state);
        return caf_error_set(err, CAF_ERR_FORMAT, "algorithm %s: input state: the top level is not a JSON object",
                             alg->full_name);
    }
    json_decref(alg->input_state);
    alg->input_state = state;
    return CAF_OK;
}
