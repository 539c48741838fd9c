/* Checks a campaign, however it was built, and lists every problem with the best location known. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/backend.h"
#include "caf/campaign.h"
#include "caf/input_sandbox.h"
#include "caf/job_policy.h"
#include "caf/path.h"
#include "caf/python_algorithm.h"

static const char *const backends[] = {"local", "slurm", "htcondor", "lsf", "pbs"};

/* Where to report a problem of the campaign as a whole: the start of the file, or nowhere. */
static caf_mark top(const caf_campaign *c)
{
    return c->source ? (caf_mark){1, 1} : (caf_mark){0, 0};
}

/* Where to report a problem of key k of cal: its value, else the calibration. */
static caf_mark at(const caf_calibration_config *cal, caf_calibration_key k)
{
    return cal->marks[k].line > 0 ? cal->marks[k] : cal->mark;
}

/* Calibration names become folder names: letters, digits, '_', '-', '.', not starting with '.'. */
static bool safe_name(const char *name)
{
    if (!*name || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

static void check_global(const caf_campaign *c, caf_config_problems *p)
{
    if (!c->output_dir || !*c->output_dir) {
        if (c->marks[CAF_CAMPAIGN_OUTPUT_DIR].line == 0)
            caf_config_problems_add(p, top(c), c->output_dir ? "output_dir: must not be empty"
                                                             : "missing required key 'output_dir'");
    }
    bool known = false;
    for (size_t i = 0; c->backend && i < sizeof backends / sizeof *backends; i++)
        known = known || strcmp(c->backend, backends[i]) == 0;
    if (!known)
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_BACKEND].line ? c->marks[CAF_CAMPAIGN_BACKEND] : top(c),
                                "backend: unknown backend '%s' (local, slurm, htcondor, lsf or pbs)",
                                c->backend ? c->backend : "");
    if (!(c->heartbeat > 0))
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_HEARTBEAT], "heartbeat must be more than 0 seconds");
    if (!(c->poll_interval > 0))
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_POLL_INTERVAL], "poll_interval must be more than 0 seconds");
    if (c->max_parallel_algorithms < 0)
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_MAX_PARALLEL_ALGORITHMS],
                                "max_parallel_algorithms must be at least 1 (or 0 for the default), not %d",
                                c->max_parallel_algorithms);
    if (c->algorithm_time_limit < 0)
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_ALGORITHM_TIME_LIMIT],
                                "algorithm_time_limit must be more than 0 seconds (or 0 for none)");
    if (c->algorithm_memory_limit_mb < 0)
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_ALGORITHM_MEMORY_LIMIT],
                                "algorithm_memory_limit must be more than 0 MiB (or 0 for none)");
    if (c->calibration_count == 0 && c->marks[CAF_CAMPAIGN_CALIBRATIONS].line == 0)
        caf_config_problems_add(p, top(c), "missing required key 'calibrations'");
    else if (c->calibration_count == 0)
        caf_config_problems_add(p, c->marks[CAF_CAMPAIGN_CALIBRATIONS], "calibrations: the list is empty");
}

/* An algorithm in Python is "python:MODULE:FUNCTION" with a dotted module name and a function name. */
static void check_python_target(const caf_calibration_config *cal, const caf_algorithm_config *a, caf_mark m,
                                caf_config_problems *p)
{
    size_t prefix = strlen(CAF_PYTHON_ALGORITHM_PLUGIN);
    if (strncmp(a->plugin, CAF_PYTHON_ALGORITHM_PLUGIN, prefix) != 0 || (a->plugin[prefix] && a->plugin[prefix] != ':'))
        return;
    const char *target = a->plugin[prefix] ? a->plugin + prefix + 1 : "";
    const char *colon = strrchr(target, ':');
    bool ok = colon && colon > target && colon[1];
    for (const char *c = target; ok && *c; c++)
        ok = isalnum((unsigned char)*c) || *c == '_' || (c < colon && *c == '.') || c == colon;
    if (!ok)
        caf_config_problems_add(p, m, "calibration '%s': python: '%s' is not MODULE:FUNCTION (e.g. "
                                "my_algorithms.gain:calibrate)", cal->name, target);
}

static void check_algorithms(const caf_calibration_config *cal, caf_config_problems *p)
{
    const char *granularity = cal->granularity == CAF_GRANULARITY_ALL ? "all" : "run";
    for (size_t i = 0; i < cal->algorithm_count; i++) {
        const caf_algorithm_config *a = &cal->algorithms[i];
        caf_mark m = a->mark.line ? a->mark : cal->mark;
        caf_mark sm = a->strategy_mark.line ? a->strategy_mark : m;
        if (!a->plugin || !*a->plugin) {
            caf_config_problems_add(p, m, "calibration '%s': algorithm %zu: missing required key 'plugin'",
                                    cal->name, i + 1);
            continue;
        }
        check_python_target(cal, a, m, p);
        if (a->time_limit < 0)
            caf_config_problems_add(p, a->time_limit_mark.line ? a->time_limit_mark : m,
                                    "calibration '%s': algorithm '%s': time_limit must be more than 0 seconds",
                                    cal->name, a->plugin);
        if (a->memory_limit_mb < 0)
            caf_config_problems_add(p, a->memory_limit_mark.line ? a->memory_limit_mark : m,
                                    "calibration '%s': algorithm '%s': memory_limit must be more than 0 MiB",
                                    cal->name, a->plugin);
        caf_error err = {0};
        if (caf_strategy_params_validate(&a->strategy, &err) != CAF_OK)
            caf_config_problems_add(p, sm, "calibration '%s': algorithm '%s': %s", cal->name, a->plugin,
                                    err.message);
        if (caf_strategy_check_granularity(a->strategy.kind, granularity, &err) != CAF_OK)
            caf_config_problems_add(p, sm, "calibration '%s': algorithm '%s': %s", cal->name, a->plugin,
                                    err.message);
    }
}

static void check_numbers(const caf_calibration_config *cal, caf_config_problems *p)
{
    static const struct {
        caf_calibration_key key;
        size_t offset;
        int minimum;
    } limits[] = {
        {CAF_CAL_MAX_FILES_PER_COLLECTOR_JOB, offsetof(caf_calibration_config, max_files_per_collector_job), 1},
        {CAF_CAL_MAX_COLLECTOR_JOBS, offsetof(caf_calibration_config, max_collector_jobs), 0},
        {CAF_CAL_MAX_FILES_PER_RUN, offsetof(caf_calibration_config, max_files_per_run), 0},
        {CAF_CAL_MAX_ITERATIONS, offsetof(caf_calibration_config, max_iterations), 0},
    };
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        int value = *(const int *)((const char *)cal + limits[i].offset);
        if (value < limits[i].minimum)
            caf_config_problems_add(p, at(cal, limits[i].key), "calibration '%s': %s must be at least %d, not %d",
                                    cal->name, caf_calibration_key_name(limits[i].key), limits[i].minimum, value);
    }
    for (size_t i = 0; i < cal->ignored_run_count; i++)
        if (cal->ignored_runs[i].exp < 0 || cal->ignored_runs[i].run < 0)
            caf_config_problems_add(p, at(cal, CAF_CAL_IGNORED_RUNS), "calibration '%s': ignored run %d,%d is negative",
                                    cal->name, cal->ignored_runs[i].exp, cal->ignored_runs[i].run);
}

/* The text a path file's YAML reader sees for a condition's 'if' once the run wrote it as JSON, or NULL
 * when no condition can be written that way. */
static const char *condition_text(const json_t *expr, char *buf, size_t size)
{
    if (json_is_string(expr))
        return json_string_value(expr);
    if (json_is_boolean(expr))
        return json_is_true(expr) ? "true" : "false";
    if (json_is_integer(expr)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(expr));
        return buf;
    }
    if (json_is_real(expr)) {
        snprintf(buf, size, "%g", json_real_value(expr));
        return buf;
    }
    return NULL;
}

/* Adds one pre-collector condition to the module at index of main, as the collector job's path file
 * loader would (caf_path_set_add_condition parses it with the engine's parser); false with *why set. */
static bool add_condition(caf_path_set *set, size_t index, const json_t *cond, char *why, size_t size)
{
    static const char shape[] = "a condition must be a mapping with 'if', and optionally 'path' and 'after'";
    if (!json_is_object(cond)) {
        snprintf(why, size, "%s", shape);
        return false;
    }
    const char *key, *target = NULL, *after = "end", *text = NULL;
    const json_t *v, *expr = NULL;
    char buf[64];
    json_object_foreach((json_t *)cond, key, v) {
        if (strcmp(key, "if") == 0 && !(text = condition_text(expr = v, buf, sizeof buf))) {
            snprintf(why, size, "'if' must be a condition such as \"== 1\"");
            return false;
        } else if (strcmp(key, "path") == 0 && !json_is_null(v) && !(json_is_string(v) && *json_string_value(v))) {
            snprintf(why, size, "'path' must be a non-empty text");
            return false;
        } else if (strcmp(key, "path") == 0) {
            target = json_string_value(v);
        } else if (strcmp(key, "after") == 0) {
            after = json_string_value(v);
            if (!after || (strcmp(after, "end") != 0 && strcmp(after, "continue") != 0)) {
                snprintf(why, size, "'after' must be end or continue");
                return false;
            }
        } else if (strcmp(key, "if") != 0) {
            snprintf(why, size, "unknown condition key '%s' (known: if, path, after)", key);
            return false;
        }
    }
    if (!expr) {
        snprintf(why, size, "a condition needs 'if'");
        return false;
    }
    caf_error err = {0};
    if (caf_path_set_add_condition(set, "main", index, text, target,
                                   strcmp(after, "continue") == 0 ? CAF_AFTER_CONTINUE : CAF_AFTER_END,
                                   &err) != CAF_OK) {
        snprintf(why, size, "%s", err.message);
        return false;
    }
    return true;
}

/* The pre-collector modules and their conditions, checked by building the path the collector jobs will
 * load (the modules, then the collector), so `caf config check`, the run's own check and every collector
 * job agree on what is a condition. */
/* who: "gain" for the short form, "gain': collection 'mumu" for a collection (messages quote it). */
static void check_path_of(const char *who, const caf_module_config *modules, size_t count, const char *collector,
                          caf_mark fallback, caf_config_problems *p)
{
    if (count == 0)
        return;
    caf_path_set *set = NULL;
    caf_error err = {0};
    bool ok = caf_path_set_new(&set, &err) == CAF_OK;
    for (size_t i = 0; ok && i < count; i++) {
        const caf_module_config *m = &modules[i];
        caf_mark mm = m->mark.line ? m->mark : fallback;
        size_t index;
        if (!m->module || caf_path_set_add_module(set, "main", m->module, NULL, &index, &err) != CAF_OK) {
            ok = false;
            break;
        }
        if (m->conditions && !json_is_array(m->conditions)) {
            caf_config_problems_add(p, mm, "calibration '%s': pre_collector module %zu: conditions must be a list",
                                    who, i + 1);
            ok = false;
            continue;
        }
        for (size_t k = 0; k < json_array_size(m->conditions); k++) {
            char why[600];
            if (!add_condition(set, index, json_array_get(m->conditions, k), why, sizeof why)) {
                caf_config_problems_add(p, m->condition_marks ? m->condition_marks[k] : mm,
                                        "calibration '%s': pre_collector module %zu: condition %zu: %s", who,
                                        i + 1, k + 1, why);
                ok = false;
            }
        }
    }
    if (ok && collector && *collector && caf_path_set_add_module(set, "main", collector, NULL, NULL, &err) != CAF_OK)
        ok = false;
    if (ok && caf_path_set_validate(set, &err) != CAF_OK)
        ok = false;
    if (!ok && (err.code || !set))
        caf_config_problems_add(p, fallback, "calibration '%s': pre_collector: %s", who, err.message);
    caf_path_set_free(set);
}

static void check_pre_collector(const caf_calibration_config *cal, caf_config_problems *p)
{
    if (cal->collection_count == 0) {
        check_path_of(cal->name, cal->pre_collector, cal->pre_collector_count, cal->collector,
                      at(cal, CAF_CAL_PRE_COLLECTOR), p);
        return;
    }
    for (size_t k = 0; k < cal->collection_count; k++) {
        const caf_collection_config *col = cal->collections[k];
        char who[512];
        snprintf(who, sizeof who, "%s': collection '%s", cal->name, col->name ? col->name : "");
        check_path_of(who, col->pre_collector, col->pre_collector_count, col->collector,
                      col->marks[CAF_COL_PRE_COLLECTOR].line ? col->marks[CAF_COL_PRE_COLLECTOR] : col->mark, p);
    }
}

static void check_required(const caf_calibration_config *cal, size_t index, caf_config_problems *p)
{
    if (!*cal->name) {
        if (cal->marks[CAF_CAL_NAME].line == 0)
            caf_config_problems_add(p, cal->mark, "calibration %zu: missing required key 'name'", index + 1);
        return;
    }
    if (!safe_name(cal->name))
        caf_config_problems_add(p, at(cal, CAF_CAL_NAME),
                                "calibration '%s': a name may hold only letters, digits, '_', '-' and '.', and "
                                "not start with '.'", cal->name);
    /* with collections, each collection names its collector and inputs (check_collections) */
    bool short_form = cal->collection_count == 0 && cal->marks[CAF_CAL_COLLECTIONS].line == 0;
    if (short_form && (!cal->collector || !*cal->collector) && cal->marks[CAF_CAL_COLLECTOR].line == 0)
        caf_config_problems_add(p, cal->mark, "calibration '%s': missing required key 'collector'", cal->name);
    if (cal->algorithm_count == 0 && cal->marks[CAF_CAL_ALGORITHMS].line == 0)
        caf_config_problems_add(p, cal->mark, "calibration '%s': missing required key 'algorithms'", cal->name);
    if (short_form && cal->input_files.count == 0 && cal->input_file_lists.count == 0 && cal->marks[CAF_CAL_INPUT_FILES].line == 0 &&
        cal->marks[CAF_CAL_INPUT_FILE_LISTS].line == 0)
        caf_config_problems_add(p, cal->mark, "calibration '%s': missing required key 'input_files' (or "
                                "'input_file_lists')", cal->name);
}

/* Where to report a problem of key k of a collection: its value, else the collection. */
static caf_mark col_at(const caf_collection_config *col, caf_collection_key k)
{
    return col->marks[k].line > 0 ? col->marks[k] : col->mark;
}

/* True when the short form's key k was given although the calibration lists collections. */
static bool short_form_key_given(const caf_calibration_config *cal, caf_collection_key k)
{
    caf_calibration_key ck = caf_collection_key_in_calibration(k);
    if (cal->marks[ck].line > 0)
        return true;
    switch (k) { /* built in C: anything but the default */
    case CAF_COL_COLLECTOR: return cal->collector != NULL;
    case CAF_COL_PRE_COLLECTOR: return cal->pre_collector_count > 0;
    case CAF_COL_INPUT_FILES: return cal->input_files.count > 0;
    case CAF_COL_INPUT_FILE_LISTS: return cal->input_file_lists.count > 0;
    case CAF_COL_OUTPUT_PATTERNS: return cal->output_patterns.count > 0;
    default: return false;
    }
}

/* A calibration's `collections:`: each named (unique, a safe folder name), with a collector and input
 * files and sane limits; the short form's collector keys may not be given beside them (which would win
 * is not obvious), except database_chain and input_sandbox, which are the calibration's and apply to every
 * collection (each collection may add its own). */
static void check_collections(const caf_calibration_config *cal, caf_config_problems *p)
{
    if (cal->collection_count == 0)
        return;
    for (int k = CAF_COL_COLLECTOR; k < CAF_COL_KEY_COUNT; k++) {
        caf_calibration_key ck = caf_collection_key_in_calibration((caf_collection_key)k);
        if (k != CAF_COL_DATABASE_CHAIN && k != CAF_COL_INPUT_SANDBOX && short_form_key_given(cal, (caf_collection_key)k))
            caf_config_problems_add(p, at(cal, ck), "calibration '%s': '%s' cannot be given beside 'collections': "
                                    "set it in each collection", cal->name, caf_calibration_key_name(ck));
    }
    for (size_t i = 0; i < cal->collection_count; i++) {
        const caf_collection_config *col = cal->collections[i];
        if (!col->name || !*col->name) {
            caf_config_problems_add(p, col->mark, "calibration '%s': collection %zu: missing required key 'name'",
                                    cal->name, i + 1);
            continue;
        }
        if (!safe_name(col->name))
            caf_config_problems_add(p, col_at(col, CAF_COL_NAME),
                                    "calibration '%s': collection '%s': a name may hold only letters, digits, '_', "
                                    "'-' and '.', and not start with '.'", cal->name, col->name);
        for (size_t j = 0; j < i; j++)
            if (cal->collections[j]->name && strcmp(cal->collections[j]->name, col->name) == 0) {
                caf_mark first = col_at(cal->collections[j], CAF_COL_NAME);
                caf_config_problems_add(p, col_at(col, CAF_COL_NAME),
                                        "calibration '%s': collection '%s' is defined twice%s", cal->name, col->name,
                                        first.line ? " (see the first one above)" : "");
                break;
            }
        if ((!col->collector || !*col->collector) && col->marks[CAF_COL_COLLECTOR].line == 0)
            caf_config_problems_add(p, col->mark, "calibration '%s': collection '%s': missing required key "
                                    "'collector'", cal->name, col->name);
        if (col->input_files.count == 0 && col->input_file_lists.count == 0)
            caf_config_problems_add(p, col->marks[CAF_COL_INPUT_FILES].line ? col->marks[CAF_COL_INPUT_FILES]
                                    : col->marks[CAF_COL_INPUT_FILE_LISTS].line ? col->marks[CAF_COL_INPUT_FILE_LISTS]
                                                                                 : col->mark,
                                    "calibration '%s': collection '%s': no input files (give 'input_files' or "
                                    "'input_file_lists')", cal->name, col->name);
        static const struct {
            caf_collection_key key;
            size_t offset;
            int minimum;
        } limits[] = {
            {CAF_COL_MAX_FILES_PER_COLLECTOR_JOB, offsetof(caf_collection_config, max_files_per_collector_job), 1},
            {CAF_COL_MAX_COLLECTOR_JOBS, offsetof(caf_collection_config, max_collector_jobs), 0},
            {CAF_COL_MAX_FILES_PER_RUN, offsetof(caf_collection_config, max_files_per_run), 0},
        };
        for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
            int value = *(const int *)((const char *)col + limits[k].offset);
            if (value < limits[k].minimum)
                caf_config_problems_add(p, col_at(col, limits[k].key),
                                        "calibration '%s': collection '%s': %s must be at least %d, not %d", cal->name,
                                        col->name, caf_collection_key_name(limits[k].key), limits[k].minimum, value);
        }
    }
}

static void check_dependencies(const caf_campaign *c, caf_config_problems *p, bool *all_known)
{
    *all_known = true;
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        for (size_t d = 0; d < cal->depends_on.count; d++) {
            const char *dep = cal->depends_on.items[d];
            caf_mark m = cal->depends_on.marks[d].line ? cal->depends_on.marks[d] : at(cal, CAF_CAL_DEPENDS_ON);
            if (strcmp(dep, cal->name) == 0) {
                caf_config_problems_add(p, m, "calibration '%s': depends_on: a calibration cannot depend on itself",
                                        cal->name);
                *all_known = false;
            } else if (caf_campaign_index(c, dep) == SIZE_MAX) {
                caf_config_problems_add(p, m, "calibration '%s': depends_on: unknown calibration '%s'", cal->name,
                                        dep);
                *all_known = false;
            }
        }
    }
}

typedef struct named {
    const caf_calibration_config *cal;
    size_t index;
} named;

static int compare_by_name(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->cal->name, y->cal->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Each calibration named like an earlier one, found by sorting (a long campaign costs n log n). */
static void check_unique_names(const caf_campaign *c, caf_config_problems *p)
{
    size_t n = c->calibration_count;
    named *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        caf_config_problems_add(p, top(c), "out of memory checking the calibration names");
        return;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (named){c->calibrations[i], i};
    qsort(sorted, n, sizeof *sorted, compare_by_name);
    size_t first = 0;
    for (size_t k = 1; k < n; k++) {
        const caf_calibration_config *cal = sorted[k].cal;
        if (strcmp(cal->name, sorted[k - 1].cal->name) != 0)
            first = k;
        if (first == k || !*cal->name)
            continue;
        caf_mark first_mark = at(sorted[first].cal, CAF_CAL_NAME);
        if (first_mark.line)
            caf_config_problems_add(p, at(cal, CAF_CAL_NAME), "calibration '%s' is defined twice (first at line %d)",
                                    cal->name, first_mark.line);
        else
            caf_config_problems_add(p, at(cal, CAF_CAL_NAME), "calibration '%s' is defined twice", cal->name);
    }
    free(sorted);
}

/* True when pattern can only match inside the collector job's folder: relative, without ".." components. */
static bool pattern_stays_inside(const char *pattern)
{
    if (pattern[0] == '/')
        return false;
    for (const char *q = pattern; *q;) {
        size_t len = strcspn(q, "/");
        if (len == 2 && q[0] == '.' && q[1] == '.')
            return false;
        q += len + (q[len] == '/');
    }
    return true;
}

/* Output patterns select files of the collector job's folder: never empty, never outside it. */
static void check_output_patterns(const caf_calibration_config *cal, caf_config_problems *p)
{
    for (size_t k = 0; k < caf_calibration_collection_count(cal); k++) {
        caf_collection_config col;
        caf_calibration_collection(cal, k, &col);
        for (size_t i = 0; i < col.output_patterns.count; i++) {
            const char *pattern = col.output_patterns.items[i];
            caf_mark m = col.output_patterns.marks && col.output_patterns.marks[i].line ? col.output_patterns.marks[i]
                                                                                        : col_at(&col, CAF_COL_OUTPUT_PATTERNS);
            const char *why = !*pattern || pattern[strlen(pattern) - 1] == '/' ? "names no file"
                              : !pattern_stays_inside(pattern) ? "leaves the collector job's folder (absolute, or "
                                                                 "with a '..' component)"
                                                               : NULL;
            if (why)
                caf_config_problems_add(p, m, "calibration '%s'%s%s%s: output_patterns: '%s' %s", cal->name,
                                        cal->collection_count ? ": collection '" : "",
                                        cal->collection_count && col.name ? col.name : "",
                                        cal->collection_count ? "'" : "", pattern, why);
        }
    }
}

/* Checks the names of one input_sandbox list: each usable in a subjob's folder and distinct from the ones
 * before it and from the calibration's own (before, may be NULL: the list is the calibration's). */
static void check_sandbox_list(const caf_calibration_config *cal, const char *collection, const caf_string_list *list,
                               caf_mark fallback, const caf_string_list *before, caf_config_problems *p)
{
    for (size_t i = 0; i < list->count; i++) {
        const char *item = list->items[i], *name = caf_input_sandbox_name(item);
        const char *why = caf_input_sandbox_name_problem(item);
        if (!why && !strcmp(name, "collector_output.sqlite"))
            why = "is the name of the collector's output";
        for (size_t k = 0; !why && before && k < before->count; k++)
            if (!strcmp(caf_input_sandbox_name(before->items[k]), name))
                why = "has the base name of a file in the calibration's input_sandbox";
        for (size_t k = 0; !why && k < i; k++)
            if (!strcmp(caf_input_sandbox_name(list->items[k]), name))
                why = "has the base name of an earlier entry (both would be one file in the subjob's folder)";
        if (why)
            caf_config_problems_add(p, list->marks && list->marks[i].line ? list->marks[i] : fallback,
                                    "calibration '%s'%s%s%s: input_sandbox: '%s' %s", cal->name,
                                    collection ? ": collection '" : "", collection ? collection : "",
                                    collection ? "'" : "", item, why);
    }
}

/* input_sandbox: the calibration's list and each collection's own. Whether the files exist is
 * caf_campaign_check_files's. */
static void check_input_sandbox(const caf_calibration_config *cal, caf_config_problems *p)
{
    check_sandbox_list(cal, NULL, &cal->input_sandbox, at(cal, CAF_CAL_INPUT_SANDBOX), NULL, p);
    for (size_t k = 0; k < cal->collection_count; k++) {
        const caf_collection_config *col = cal->collections[k];
        check_sandbox_list(cal, col->name ? col->name : "", &col->input_sandbox, col_at(col, CAF_COL_INPUT_SANDBOX),
                           &cal->input_sandbox, p);
    }
}

static void check_backend(const caf_calibration_config *cal, caf_config_problems *p)
{
    bool known = !cal->backend;
    for (size_t i = 0; cal->backend && caf_campaign_backends[i]; i++)
        known = known || !strcmp(cal->backend, caf_campaign_backends[i]);
    if (!known)
        caf_config_problems_add(p, at(cal, CAF_CAL_BACKEND), "calibration '%s': backend: unknown backend '%s' (local, "
                                "slurm, htcondor, lsf or pbs)", cal->name, cal->backend);
}

/* Where key's value was written, per marks ({key: [line, column]}); else fallback. */
static caf_mark key_mark(const json_t *marks, const char *key, caf_mark fallback)
{
    const json_t *m = json_object_get(marks, key);
    return json_is_array(m) ? (caf_mark){(int)json_integer_value(json_array_get(m, 0)),
                                         (int)json_integer_value(json_array_get(m, 1))}
                            : fallback;
}

/* Lets the backend judge its settings the way caf run will open it: every key alone (a problem at that
 * key's value: wrong type, out of range, unknown), then all together (a problem at the mapping). */
static void check_backend_settings(const char *who, const char *backend, const json_t *settings,
                                   const json_t *marks, caf_mark fallback, caf_config_problems *p)
{
    if (!json_is_object(settings) || !caf_backend_find(backend))
        return; /* an unknown backend is a problem of its own */
    size_t before = p->count;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)settings, key, value) {
        json_t *one = json_pack("{s:O}", key, value);
        caf_backend b;
        caf_error err = {0};
        if (one && caf_backend_open(&b, backend, one, &err) != CAF_OK)
            caf_config_problems_add(p, key_mark(marks, key, fallback), "%s%s", who, err.message);
        else if (one)
            caf_backend_close(&b);
        json_decref(one);
    }
    caf_backend b;
    caf_error err = {0};
    if (p->count == before && caf_backend_open(&b, backend, settings, &err) != CAF_OK)
        caf_config_problems_add(p, fallback, "%s%s", who, err.message);
    else if (p->count == before)
        caf_backend_close(&b);
}

/* Every job_policy key judged alone against its range, reported at its value. */
static void check_job_policy(const char *who, const json_t *policy, const json_t *marks, caf_mark fallback,
                             caf_config_problems *p)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)policy, key, value) {
        json_t *one = json_pack("{s:O}", key, value);
        caf_job_policy jp;
        caf_job_policy_defaults(NULL, &jp);
        caf_error err = {0};
        if (one && caf_job_policy_apply(&jp, one, NULL, &err) != CAF_OK)
            caf_config_problems_add(p, key_mark(marks, key, fallback), "%s%s", who, err.message);
        json_decref(one);
    }
}

static void check_all_backend_settings(const caf_campaign *c, caf_config_problems *p)
{
    check_job_policy("", c->job_policy, c->job_policy_marks,
                     c->marks[CAF_CAMPAIGN_JOB_POLICY].line ? c->marks[CAF_CAMPAIGN_JOB_POLICY] : top(c), p);
    caf_mark m = c->marks[CAF_CAMPAIGN_BACKEND_SETTINGS].line ? c->marks[CAF_CAMPAIGN_BACKEND_SETTINGS] : top(c);
    check_backend_settings("", c->backend, c->backend_settings, c->backend_settings_marks, m, p);
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        char who[300];
        snprintf(who, sizeof who, "calibration '%s': ", cal->name);
        check_job_policy(who, cal->job_policy, cal->job_policy_marks, at(cal, CAF_CAL_JOB_POLICY), p);
        if (!cal->backend_settings)
            continue;
        check_backend_settings(who, caf_calibration_backend(c, cal), cal->backend_settings,
                               cal->backend_settings_marks, at(cal, CAF_CAL_BACKEND_SETTINGS), p);
    }
}

size_t caf_campaign_validate(const caf_campaign *c, caf_config_problems *p)
{
    size_t before = p->count;
    check_global(c, p);
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        check_required(cal, i, p);
        check_algorithms(cal, p);
        check_numbers(cal, p);
        check_pre_collector(cal, p);
        check_collections(cal, p);
        check_output_patterns(cal, p);
        check_input_sandbox(cal, p);
        check_backend(cal, p);
    }
    check_unique_names(c, p);
    check_all_backend_settings(c, p);
    bool all_known;
    check_dependencies(c, p, &all_known);
    char cycle[512];
    if (all_known && caf_campaign_find_cycle(c, cycle, sizeof cycle)) {
        char first[256];
        snprintf(first, sizeof first, "%s", cycle);
        char *arrow = strstr(first, " -> ");
        if (arrow)
            *arrow = '\0';
        const caf_calibration_config *cal = caf_campaign_find(c, first);
        caf_config_problems_add(p, cal ? at(cal, CAF_CAL_DEPENDS_ON) : top(c), "dependency cycle: %s", cycle);
    }
    return p->count - before;
}
