/* The normalised configuration a run records for every calibration: every key with its value (defaults
 * included), so that a resumed run can tell exactly which keys changed instead of mixing old and new. */
#include <stdio.h>
#include <string.h>

#include "orchestration/run_internal.h"

static json_t *strings_json(const caf_string_list *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < list->count; i++)
        json_array_append_new(a, json_string(list->items[i]));
    return a;
}

static json_t *iov_json(bool has, caf_iov iov)
{
    return has ? json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high) : json_null();
}

static json_t *strategy_json(const caf_strategy_params *p)
{
    if (p->kind == CAF_STRATEGY_PLUGIN) /* the built-ins' keys stay as they were, so their records still match */
        return json_pack("{s:s, s:O}", "name", p->plugin, "parameters",
                         p->plugin_parameters ? p->plugin_parameters : json_object());
    json_t *boundaries = json_array();
    for (size_t i = 0; boundaries && i < p->payload_boundary_count; i++)
        json_array_append_new(boundaries, json_pack("[ii]", p->payload_boundaries[i].exp,
                                                     p->payload_boundaries[i].run));
    return json_pack("{s:s, s:o, s:i, s:o, s:b, s:o}", "name", caf_strategy_kind_name(p->kind), "apply_iov",
                     iov_json(p->has_apply_iov, p->apply_iov), "step_size", p->step_size, "iov_coverage",
                     iov_json(p->has_iov_coverage, p->iov_coverage), "has_experiment_settings",
                     p->has_experiment_settings, "payload_boundaries",
                     p->has_payload_boundaries ? boundaries : (json_decref(boundaries), json_null()));
}

/* The limits an algorithm's executions run under, its own or the campaign's (null: none). */
static json_t *limits_json(const caf_campaign *campaign, const caf_algorithm_config *a)
{
    double seconds = caf_algorithm_time_limit(campaign, a);
    long mb = caf_algorithm_memory_limit_mb(campaign, a);
    return json_pack("{s:o, s:o}", "time_limit", seconds > 0 ? json_real(seconds) : json_null(), "memory_limit",
                     mb > 0 ? json_integer(mb) : json_null());
}

static json_t *modules_json(const caf_module_config *list, size_t count)
{
    json_t *modules = json_array();
    for (size_t i = 0; modules && i < count; i++) {
        json_t *m = json_pack("{s:s, s:O}", "module", list[i].module, "params", list[i].parameters);
        if (m && list[i].conditions)
            json_object_set(m, "conditions", list[i].conditions);
        json_array_append_new(modules, m);
    }
    return modules;
}

/* One explicit collection, every key with its value. */
static json_t *collection_json(const caf_collection_config *col)
{
    json_t *config = json_pack("{s:s, s:{s:s, s:O}, s:o, s:o, s:o, s:i, s:i, s:i, s:I, s:O, s:o, s:o}", "name", col->name,
                     "collector", "plugin", col->collector ? col->collector : "", "params", col->collector_parameters,
                     "pre_collector", modules_json(col->pre_collector, col->pre_collector_count), "input_files",
                     strings_json(&col->input_files), "input_file_lists", strings_json(&col->input_file_lists),
                     "max_files_per_collector_job", col->max_files_per_collector_job, "max_collector_jobs",
                     col->max_collector_jobs, "max_files_per_run", col->max_files_per_run, "files_per_run_seed",
                     (json_int_t)col->files_per_run_seed, "backend_args", col->backend_args, "database_chain",
                     strings_json(&col->database_chain), "output_patterns", strings_json(&col->output_patterns));
    if (config && col->input_sandbox.count > 0) /* added later: recorded only when given */
        json_object_set_new(config, "input_sandbox", strings_json(&col->input_sandbox));
    return config;
}

json_t *run_calibration_config_json(const caf_campaign *campaign, const caf_calibration_config *cal)
{
    json_t *modules = modules_json(cal->pre_collector, cal->pre_collector_count), *algorithms = json_array(),
           *ignored = json_array();
    for (size_t i = 0; algorithms && i < cal->algorithm_count; i++) {
        json_t *a = json_pack("{s:s, s:O, s:o}", "plugin", cal->algorithms[i].plugin, "params",
                              cal->algorithms[i].parameters, "strategy", strategy_json(&cal->algorithms[i].strategy));
        if (a)
            json_object_update_new(a, limits_json(campaign, &cal->algorithms[i]));
        json_array_append_new(algorithms, a);
    }
    for (size_t i = 0; ignored && i < cal->ignored_run_count; i++)
        json_array_append_new(ignored, json_pack("[ii]", cal->ignored_runs[i].exp, cal->ignored_runs[i].run));
    /* The keys are named as in the campaign file (docs/configuration.md). Keys added later are recorded
     * only when they are not at their defaults, so a folder started before they existed resumes. */
    json_t *config = json_pack("{s:s, s:{s:s, s:O}, s:o, s:o, s:o, s:o, s:s, s:i, s:i, s:i, s:I, s:O, s:o, s:o, s:o, s:i, "
                     "s:o}",
                     "name", cal->name, "collector", "plugin", cal->collector ? cal->collector : "", "params",
                     cal->collector_parameters, "pre_collector", modules, "algorithms", algorithms, "input_files",
                     strings_json(&cal->input_files), "input_file_lists", strings_json(&cal->input_file_lists),
                     "granularity", caf_granularity_name(cal->granularity), "max_files_per_collector_job",
                     cal->max_files_per_collector_job, "max_collector_jobs", cal->max_collector_jobs,
                     "max_files_per_run", cal->max_files_per_run, "files_per_run_seed",
                     (json_int_t)cal->files_per_run_seed, "backend_args", cal->backend_args, "database_chain",
                     strings_json(&cal->database_chain), "depends_on", strings_json(&cal->depends_on),
                     "ignored_runs", ignored, "max_iterations", cal->max_iterations, "output_patterns",
                     strings_json(&cal->output_patterns));
    if (config && cal->collection_count > 0) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < cal->collection_count; i++)
            json_array_append_new(list, collection_json(cal->collections[i]));
        json_object_set_new(config, "collections", list);
    }
    if (config && cal->input_sandbox.count > 0)
        json_object_set_new(config, "input_sandbox", strings_json(&cal->input_sandbox));
    if (config && !cal->save_payloads)
        json_object_set_new(config, "save_payloads", json_false());
    if (config && cal->backend)
        json_object_set_new(config, "backend", json_string(cal->backend));
    if (config && cal->backend_settings)
        json_object_set(config, "backend_settings", cal->backend_settings);
    return config;
}

json_t *run_campaign_config_json(const caf_campaign *campaign)
{
    return json_pack("{s:s, s:O}", "backend", campaign->backend ? campaign->backend : "local", "backend_settings",
                     campaign->backend_settings);
}

void run_config_diff(const json_t *old, const json_t *now, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)now, key, value) {
        if (json_equal(value, json_object_get(old, key)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", key);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
    json_object_foreach((json_t *)old, key, value) {
        if (json_object_get(now, key))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", key);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}
