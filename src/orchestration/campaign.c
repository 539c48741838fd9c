/* The campaign model and its C builder API. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caf/campaign.h"
#include "caf/job_policy.h"

static const char *const calibration_keys[CAF_CAL_KEY_COUNT] = {
    "name", "collector", "pre_collector", "algorithms", "input_files", "input_file_lists", "granularity",
    "max_files_per_collector_job", "max_collector_jobs", "max_files_per_run", "files_per_run_seed",
    "backend_args", "database_chain", "depends_on", "ignored_runs", "max_iterations", "output_patterns",
    "collections", "save_payloads", "backend", "backend_settings", "job_policy", "input_sandbox",
};

static const char *const collection_keys[CAF_COL_KEY_COUNT] = {
    "name", "collector", "pre_collector", "input_files", "input_file_lists", "max_files_per_collector_job",
    "max_collector_jobs", "max_files_per_run", "files_per_run_seed", "backend_args", "database_chain",
    "output_patterns", "input_sandbox",
};

static const caf_calibration_key collection_to_calibration[CAF_COL_KEY_COUNT] = {
    CAF_CAL_KEY_COUNT, CAF_CAL_COLLECTOR, CAF_CAL_PRE_COLLECTOR, CAF_CAL_INPUT_FILES, CAF_CAL_INPUT_FILE_LISTS,
    CAF_CAL_MAX_FILES_PER_COLLECTOR_JOB, CAF_CAL_MAX_COLLECTOR_JOBS, CAF_CAL_MAX_FILES_PER_RUN,
    CAF_CAL_FILES_PER_RUN_SEED, CAF_CAL_BACKEND_ARGS, CAF_CAL_DATABASE_CHAIN, CAF_CAL_OUTPUT_PATTERNS,
    CAF_CAL_INPUT_SANDBOX,
};

static const char *const campaign_keys[CAF_CAMPAIGN_KEY_COUNT] = {
    "output_dir", "backend", "backend_settings", "heartbeat", "poll_interval", "max_parallel_algorithms",
    "algorithm_time_limit", "algorithm_memory_limit", "calibrations", "defaults", "job_policy",
};

const char *const caf_campaign_backends[] = {"local", "slurm", "htcondor", "lsf", "pbs", NULL};

const char *caf_calibration_backend(const caf_campaign *campaign, const caf_calibration_config *cal)
{
    return cal->backend ? cal->backend : campaign->backend ? campaign->backend : "local";
}

/* Applies the keys of obj one at a time, so that one bad value does not hide the good ones. */
static void apply_policy_keys(caf_job_policy *policy, const json_t *obj)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        json_t *one = json_pack("{s:O}", key, value);
        caf_job_policy_apply(policy, one, NULL, NULL);
        json_decref(one);
    }
}

void caf_calibration_job_policy(const caf_campaign *campaign, const caf_calibration_config *cal,
                                caf_job_policy *policy)
{
    caf_job_policy_defaults(caf_calibration_backend(campaign, cal), policy);
    if (json_is_object(campaign->job_policy))
        apply_policy_keys(policy, campaign->job_policy);
    if (json_is_object(cal->job_policy))
        apply_policy_keys(policy, cal->job_policy);
}

const json_t *caf_calibration_backend_settings(const caf_campaign *campaign, const caf_calibration_config *cal)
{
    static json_t *empty; /* one shared, never freed, never changed */
    if (cal->backend_settings)
        return cal->backend_settings;
    if (!cal->backend || !strcmp(cal->backend, campaign->backend ? campaign->backend : "local"))
        return campaign->backend_settings;
    if (!empty)
        empty = json_object();
    return empty;
}

const char *caf_calibration_key_name(caf_calibration_key key)
{
    return (unsigned)key < CAF_CAL_KEY_COUNT ? calibration_keys[key] : "unknown";
}

const char *caf_collection_key_name(caf_collection_key key)
{
    return (unsigned)key < CAF_COL_KEY_COUNT ? collection_keys[key] : "unknown";
}

caf_calibration_key caf_collection_key_in_calibration(caf_collection_key key)
{
    return (unsigned)key < CAF_COL_KEY_COUNT ? collection_to_calibration[key] : CAF_CAL_KEY_COUNT;
}

const char *caf_campaign_key_name(caf_campaign_key key)
{
    return (unsigned)key < CAF_CAMPAIGN_KEY_COUNT ? campaign_keys[key] : "unknown";
}

caf_status caf_config_set_string(char **field, const char *value, caf_error *err)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(*field);
    *field = copy;
    return CAF_OK;
}

caf_status caf_string_list_add(caf_string_list *list, const char *text, caf_mark mark, caf_error *err)
{
    char **items = realloc(list->items, (list->count + 1) * sizeof *items);
    if (items)
        list->items = items;
    caf_mark *marks = realloc(list->marks, (list->count + 1) * sizeof *marks);
    if (marks)
        list->marks = marks;
    char *copy = strdup(text);
    if (!items || !marks || !copy) {
        free(copy);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    list->items[list->count] = copy;
    list->marks[list->count++] = mark;
    return CAF_OK;
}

static void string_list_clear(caf_string_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    free(list->marks);
    memset(list, 0, sizeof *list);
}

/* A new reference to parameters, or a new empty object when NULL. */
static json_t *object_or_empty(json_t *parameters)
{
    return parameters ? json_incref(parameters) : json_object();
}

caf_status caf_campaign_init(caf_campaign *c, caf_error *err)
{
    memset(c, 0, sizeof *c);
    c->heartbeat = 5;
    c->poll_interval = 1;
    c->algorithm_time_limit = 86400; /* a hanging algorithm ends as a FAILURE within a day */
    c->backend_settings = json_object();
    if (!c->backend_settings || caf_config_set_string(&c->backend, "local", err) != CAF_OK) {
        caf_campaign_close(c);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

static void modules_free(caf_module_config *modules, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(modules[i].module);
        json_decref(modules[i].parameters);
        json_decref(modules[i].conditions);
        free(modules[i].condition_marks);
    }
    free(modules);
}

static void collection_free(caf_collection_config *col)
{
    if (!col)
        return;
    free(col->name);
    free(col->collector);
    json_decref(col->collector_parameters);
    modules_free(col->pre_collector, col->pre_collector_count);
    string_list_clear(&col->input_files);
    string_list_clear(&col->input_file_lists);
    json_decref(col->backend_args);
    string_list_clear(&col->database_chain);
    string_list_clear(&col->output_patterns);
    string_list_clear(&col->input_sandbox);
    free(col);
}

static void calibration_free(caf_calibration_config *cal)
{
    if (!cal)
        return;
    free(cal->name);
    free(cal->collector);
    json_decref(cal->collector_parameters);
    modules_free(cal->pre_collector, cal->pre_collector_count);
    for (size_t i = 0; i < cal->collection_count; i++)
        collection_free(cal->collections[i]);
    free(cal->collections);
    for (size_t i = 0; i < cal->algorithm_count; i++) {
        free(cal->algorithms[i].plugin);
        json_decref(cal->algorithms[i].parameters);
        json_decref(cal->algorithms[i].strategy_parameter_marks);
        caf_strategy_params_clear(&cal->algorithms[i].strategy);
    }
    free(cal->algorithms);
    string_list_clear(&cal->input_files);
    string_list_clear(&cal->input_file_lists);
    json_decref(cal->backend_args);
    string_list_clear(&cal->database_chain);
    string_list_clear(&cal->depends_on);
    free(cal->ignored_runs);
    string_list_clear(&cal->output_patterns);
    string_list_clear(&cal->input_sandbox);
    free(cal->backend);
    json_decref(cal->backend_settings);
    json_decref(cal->backend_settings_marks);
    json_decref(cal->job_policy);
    json_decref(cal->job_policy_marks);
    free(cal);
}

void caf_campaign_close(caf_campaign *c)
{
    for (size_t i = 0; i < c->calibration_count; i++)
        calibration_free(c->calibrations[i]);
    free(c->calibrations);
    free(c->source);
    free(c->output_dir);
    free(c->backend);
    json_decref(c->backend_settings);
    json_decref(c->backend_settings_marks);
    json_decref(c->job_policy);
    json_decref(c->job_policy_marks);
    memset(c, 0, sizeof *c);
}

caf_status caf_campaign_add_calibration(caf_campaign *c, const char *name, caf_calibration_config **out,
                                        caf_error *err)
{
    caf_calibration_config **grown = realloc(c->calibrations, (c->calibration_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    c->calibrations = grown;
    caf_calibration_config *cal = calloc(1, sizeof *cal);
    if (!cal || !(cal->name = strdup(name ? name : "")) || !(cal->collector_parameters = json_object()) ||
        !(cal->backend_args = json_object())) {
        calibration_free(cal);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    cal->granularity = CAF_GRANULARITY_RUN;
    cal->save_payloads = true;
    cal->max_files_per_collector_job = 1;
    cal->max_iterations = 5;
    c->calibrations[c->calibration_count++] = cal;
    if (out)
        *out = cal;
    return CAF_OK;
}

size_t caf_campaign_index(const caf_campaign *c, const char *name)
{
    for (size_t i = 0; i < c->calibration_count; i++)
        if (strcmp(c->calibrations[i]->name, name) == 0)
            return i;
    return SIZE_MAX;
}

caf_calibration_config *caf_campaign_find(const caf_campaign *c, const char *name)
{
    size_t i = caf_campaign_index(c, name);
    return i == SIZE_MAX ? NULL : c->calibrations[i];
}

static caf_status add_module(caf_module_config **modules, size_t *count, const char *module, json_t *parameters,
                             caf_mark mark, caf_error *err)
{
    caf_module_config *grown = realloc(*modules, (*count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *modules = grown;
    caf_module_config m = {.module = strdup(module), .parameters = object_or_empty(parameters), .mark = mark};
    if (!m.module || !m.parameters) {
        free(m.module);
        json_decref(m.parameters);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    (*modules)[(*count)++] = m;
    return CAF_OK;
}

caf_status caf_calibration_add_module(caf_calibration_config *cal, const char *module, json_t *parameters,
                                      caf_mark mark, caf_error *err)
{
    return add_module(&cal->pre_collector, &cal->pre_collector_count, module, parameters, mark, err);
}

caf_status caf_collection_add_module(caf_collection_config *col, const char *module, json_t *parameters,
                                     caf_mark mark, caf_error *err)
{
    return add_module(&col->pre_collector, &col->pre_collector_count, module, parameters, mark, err);
}

static caf_status set_collector(char **collector, json_t **parameters, const char *plugin, json_t *given,
                                caf_error *err)
{
    json_t *params = object_or_empty(given);
    if (!params || caf_config_set_string(collector, plugin, err) != CAF_OK) {
        json_decref(params);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    json_decref(*parameters);
    *parameters = params;
    return CAF_OK;
}

caf_status caf_calibration_set_collector(caf_calibration_config *cal, const char *plugin, json_t *parameters,
                                         caf_error *err)
{
    return set_collector(&cal->collector, &cal->collector_parameters, plugin, parameters, err);
}

caf_status caf_collection_set_collector(caf_collection_config *col, const char *plugin, json_t *parameters,
                                        caf_error *err)
{
    return set_collector(&col->collector, &col->collector_parameters, plugin, parameters, err);
}

caf_status caf_calibration_add_collection(caf_calibration_config *cal, const char *name,
                                          caf_collection_config **out, caf_error *err)
{
    caf_collection_config **grown = realloc(cal->collections, (cal->collection_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    cal->collections = grown;
    caf_collection_config *col = calloc(1, sizeof *col);
    if (!col || !(col->name = strdup(name ? name : "")) || !(col->collector_parameters = json_object()) ||
        !(col->backend_args = json_object())) {
        collection_free(col);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    col->max_files_per_collector_job = 1;
    cal->collections[cal->collection_count++] = col;
    if (out)
        *out = col;
    return CAF_OK;
}

size_t caf_calibration_collection_count(const caf_calibration_config *cal)
{
    return cal->collection_count ? cal->collection_count : 1;
}

void caf_calibration_collection(const caf_calibration_config *cal, size_t i, caf_collection_config *view)
{
    if (cal->collection_count) {
        *view = *cal->collections[i < cal->collection_count ? i : 0];
        return;
    }
    *view = (caf_collection_config){
        .name = CAF_DEFAULT_COLLECTION,
        .collector = cal->collector,
        .collector_parameters = cal->collector_parameters,
        .pre_collector = cal->pre_collector,
        .pre_collector_count = cal->pre_collector_count,
        .input_files = cal->input_files,
        .input_file_lists = cal->input_file_lists,
        .max_files_per_collector_job = cal->max_files_per_collector_job,
        .max_collector_jobs = cal->max_collector_jobs,
        .max_files_per_run = cal->max_files_per_run,
        .files_per_run_seed = cal->files_per_run_seed,
        .backend_args = cal->backend_args,
        .output_patterns = cal->output_patterns,
        .mark = cal->mark,
    };
    /* the short form's database_chain and input_sandbox are the calibration's: not repeated as the collection's */
    for (int k = 1; k < CAF_COL_KEY_COUNT; k++)
        if (k != CAF_COL_DATABASE_CHAIN && k != CAF_COL_INPUT_SANDBOX)
            view->marks[k] = cal->marks[collection_to_calibration[k]];
}

caf_status caf_calibration_add_algorithm(caf_calibration_config *cal, const char *plugin, json_t *parameters,
                                         const caf_strategy_params *strategy, caf_mark mark,
                                         caf_algorithm_config **out, caf_error *err)
{
    caf_algorithm_config *grown = realloc(cal->algorithms, (cal->algorithm_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    cal->algorithms = grown;
    caf_algorithm_config a = {.plugin = strdup(plugin), .parameters = object_or_empty(parameters), .mark = mark,
                              .strategy_mark = mark};
    caf_strategy_params_init(&a.strategy, CAF_STRATEGY_SINGLE_IOV);
    caf_status rc = a.plugin && a.parameters ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK && strategy)
        rc = caf_strategy_params_copy(&a.strategy, strategy, err);
    if (rc != CAF_OK) {
        free(a.plugin);
        json_decref(a.parameters);
        return rc;
    }
    cal->algorithms[cal->algorithm_count++] = a;
    if (out)
        *out = &cal->algorithms[cal->algorithm_count - 1];
    return CAF_OK;
}

caf_status caf_calibration_add_ignored_run(caf_calibration_config *cal, caf_exprun run, caf_error *err)
{
    caf_exprun *grown = realloc(cal->ignored_runs, (cal->ignored_run_count + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    cal->ignored_runs = grown;
    cal->ignored_runs[cal->ignored_run_count++] = run;
    return CAF_OK;
}

double caf_algorithm_time_limit(const caf_campaign *campaign, const caf_algorithm_config *algorithm)
{
    return algorithm->time_limit > 0 ? algorithm->time_limit : campaign->algorithm_time_limit;
}

long caf_algorithm_memory_limit_mb(const caf_campaign *campaign, const caf_algorithm_config *algorithm)
{
    return algorithm->memory_limit_mb > 0 ? algorithm->memory_limit_mb : campaign->algorithm_memory_limit_mb;
}

long caf_parse_memory_mb(const char *text)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || errno != 0 || !(x > 0) || x > 1e12)
        return -1;
    double mb;
    if (!*end || !strcasecmp(end, "M") || !strcasecmp(end, "MB") || !strcasecmp(end, "MiB"))
        mb = x;
    else if (!strcasecmp(end, "G") || !strcasecmp(end, "GB") || !strcasecmp(end, "GiB"))
        mb = x * 1024;
    else
        return -1;
    return mb >= 1 ? (long)mb : -1;
}
