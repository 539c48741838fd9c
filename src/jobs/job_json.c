/* Jobs to and from JSON: the JOB.json a user writes (docs/jobs.md) and the state file caf keeps in the
 * working folder, which is the same object plus a "subjobs" array and the id its journal names
 * (include/caf/job_journal.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/input_sandbox.h"
#include "caf/job.h"
#include "caf/job_journal.h"
#include "caf/json.h"

static const char *const spec_keys[] = {"name", "command", "args", "input_files", "working_dir", "output_dir",
                                        "output_patterns", "input_sandbox", "setup", "env", "backend",
                                        "backend_args", "backend_settings", "split", "retry", "policy", "subjobs",
                                        "journal_id", NULL};

static bool key_allowed(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0)
            return true;
    return false;
}

static caf_status check_keys(const json_t *obj, const char *where, const char *const *allowed, caf_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        if (!key_allowed(key, allowed))
            return caf_error_set(err, CAF_ERR_INVALID, "%sunknown key '%s'", where, key);
    }
    return CAF_OK;
}

static caf_status get_string(const json_t *obj, const char *key, bool required, char **out, caf_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return caf_error_set(err, CAF_ERR_INVALID, "missing key '%s'", key);
        return CAF_OK;
    }
    if (!json_is_string(v))
        return caf_error_set(err, CAF_ERR_INVALID, "key '%s' must be a string", key);
    free(*out);
    *out = strdup(json_string_value(v));
    return *out ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

static caf_status strings_from_json(const json_t *v, const char *key, caf_strings *out, caf_error *err)
{
    if (!v || json_is_null(v))
        return CAF_OK;
    if (!json_is_array(v))
        return caf_error_set(err, CAF_ERR_INVALID, "key '%s' must be an array of strings", key);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            return caf_error_set(err, CAF_ERR_INVALID, "key '%s'[%zu] must be a string", key, i);
        caf_status rc = caf_strings_push(out, json_string_value(item), err);
        if (rc != CAF_OK)
            return rc;
    }
    return CAF_OK;
}

static caf_status get_long(const json_t *obj, const char *key, long *out, caf_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return CAF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return caf_error_set(err, CAF_ERR_INVALID, "key '%s' must be a non-negative integer", key);
    *out = (long)json_integer_value(v);
    return CAF_OK;
}

static caf_status get_double(const json_t *obj, const char *key, double *out, caf_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return CAF_OK;
    if (!json_is_number(v))
        return caf_error_set(err, CAF_ERR_INVALID, "key '%s' must be a number", key);
    *out = json_number_value(v);
    return CAF_OK;
}

static json_t *strings_to_json(const caf_strings *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < list->count; i++)
        json_array_append_new(a, json_string(list->items[i]));
    return a;
}

/* Makes path absolute against base_dir (malloc'd into *out). */
static caf_status absolute(const char *base_dir, const char *path, char **out, caf_error *err)
{
    *out = path[0] == '/' ? strdup(path) : caf_path_join(base_dir, path);
    return *out ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

static bool name_is_safe(const char *name)
{
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *c = name; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return false;
    return true;
}

static bool env_name_is_valid(const char *name)
{
    if (!*name || ('0' <= *name && *name <= '9'))
        return false;
    for (const char *c = name; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') || *c == '_'))
            return false;
    return true;
}

static caf_status parse_backend_args(caf_job *job, const json_t *obj, caf_error *err)
{
    if (!obj)
        return CAF_OK;
    static const char *const keys[] = {"queue", "memory_mb", "time_s", "cores", "extra_lines", NULL};
    caf_status rc = json_is_object(obj) ? check_keys(obj, "backend_args: ", keys, err)
                                        : caf_error_set(err, CAF_ERR_INVALID, "key 'backend_args' must be an object");
    long cores = 0;
    if (rc == CAF_OK)
        rc = get_string(obj, "queue", false, &job->backend_args.queue, err);
    if (rc == CAF_OK)
        rc = get_long(obj, "memory_mb", &job->backend_args.memory_mb, err);
    if (rc == CAF_OK)
        rc = get_long(obj, "time_s", &job->backend_args.time_s, err);
    if (rc == CAF_OK)
        rc = get_long(obj, "cores", &cores, err);
    if (rc == CAF_OK && cores > INT_MAX)
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'cores' is too large");
    job->backend_args.cores = (int)cores;
    if (rc == CAF_OK)
        rc = strings_from_json(json_object_get(obj, "extra_lines"), "extra_lines", &job->backend_args.extra_lines,
                               err);
    return rc;
}

static caf_status parse_split(caf_job *job, const json_t *obj, caf_error *err)
{
    if (!obj)
        return CAF_OK;
    static const char *const keys[] = {"max_files_per_subjob", "max_subjobs", "arg_sets", NULL};
    caf_status rc = json_is_object(obj) ? check_keys(obj, "split: ", keys, err)
                                        : caf_error_set(err, CAF_ERR_INVALID, "key 'split' must be an object");
    if (rc == CAF_OK)
        rc = get_long(obj, "max_files_per_subjob", &job->splitter.max_files_per_subjob, err);
    if (rc == CAF_OK)
        rc = get_long(obj, "max_subjobs", &job->splitter.max_subjobs, err);
    json_t *sets = json_object_get(obj, "arg_sets");
    if (rc != CAF_OK || !sets)
        return rc;
    if (!json_is_array(sets))
        return caf_error_set(err, CAF_ERR_INVALID, "key 'arg_sets' must be an array of arrays of strings");
    job->splitter.arg_sets = calloc(json_array_size(sets) + 1, sizeof *job->splitter.arg_sets);
    if (!job->splitter.arg_sets)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *set;
    json_array_foreach(sets, i, set)
    {
        job->splitter.n_arg_sets = i + 1;
        char key[48];
        snprintf(key, sizeof key, "arg_sets[%zu]", i);
        rc = strings_from_json(set, key, &job->splitter.arg_sets[i], err);
        if (rc == CAF_OK && !json_is_array(set))
            rc = caf_error_set(err, CAF_ERR_INVALID, "key '%s' must be an array of strings", key);
        if (rc != CAF_OK)
            return rc;
    }
    return CAF_OK;
}

static caf_status parse_retry(caf_job *job, const json_t *obj, caf_error *err)
{
    job->retry = (caf_retry){.max_retries = 2, .memory_factor = 1.0, .time_factor = 1.0};
    if (!obj)
        return CAF_OK;
    static const char *const keys[] = {"max_retries", "memory_factor", "time_factor", NULL};
    caf_status rc = json_is_object(obj) ? check_keys(obj, "retry: ", keys, err)
                                        : caf_error_set(err, CAF_ERR_INVALID, "key 'retry' must be an object");
    long retries = job->retry.max_retries;
    if (rc == CAF_OK)
        rc = get_long(obj, "max_retries", &retries, err);
    if (rc == CAF_OK && retries > 1000)
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'max_retries' must be at most 1000");
    job->retry.max_retries = (int)retries;
    if (rc == CAF_OK)
        rc = get_double(obj, "memory_factor", &job->retry.memory_factor, err);
    if (rc == CAF_OK)
        rc = get_double(obj, "time_factor", &job->retry.time_factor, err);
    if (rc == CAF_OK && (job->retry.memory_factor < 1.0 || job->retry.time_factor < 1.0))
        rc = caf_error_set(err, CAF_ERR_INVALID, "retry factors must be at least 1");
    return rc;
}

static caf_status parse_env(caf_job *job, const json_t *obj, caf_error *err)
{
    if (!obj)
        return CAF_OK;
    if (!json_is_object(obj))
        return caf_error_set(err, CAF_ERR_INVALID, "key 'env' must be an object of strings");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)obj, name, value)
    {
        if (!env_name_is_valid(name))
            return caf_error_set(err, CAF_ERR_INVALID, "env: '%s' is not a valid variable name", name);
        if (!json_is_string(value))
            return caf_error_set(err, CAF_ERR_INVALID, "env: value of '%s' must be a string", name);
        caf_status rc = caf_strings_push(&job->env_names, name, err);
        if (rc == CAF_OK)
            rc = caf_strings_push(&job->env_values, json_string_value(value), err);
        if (rc != CAF_OK)
            return rc;
    }
    return CAF_OK;
}

/* input_sandbox: files by path (relative to base_dir), each base name usable and distinct. */
static caf_status parse_sandbox(caf_job *job, const json_t *value, const char *base_dir, caf_error *err)
{
    caf_strings paths = {0};
    caf_status rc = strings_from_json(value, "input_sandbox", &paths, err);
    for (size_t i = 0; rc == CAF_OK && i < paths.count; i++) {
        const char *why = caf_input_sandbox_name_problem(paths.items[i]);
        for (size_t k = 0; !why && k < i; k++)
            if (!strcmp(caf_input_sandbox_name(paths.items[k]), caf_input_sandbox_name(paths.items[i])))
                why = "has the base name of an earlier entry (both would be the same file in the subjob's folder)";
        char *abs = NULL;
        rc = why ? caf_error_set(err, CAF_ERR_INVALID, "key 'input_sandbox': '%s' %s", paths.items[i], why)
                 : absolute(base_dir, paths.items[i], &abs, err);
        if (rc == CAF_OK)
            rc = caf_strings_push(&job->input_sandbox, abs, err);
        free(abs);
    }
    caf_strings_free(&paths);
    return rc;
}

static caf_status parse_spec(caf_job *job, const json_t *spec, const char *base_dir, caf_error *err)
{
    if (!json_is_object(spec))
        return caf_error_set(err, CAF_ERR_INVALID, "a job must be a JSON object");
    caf_status rc = get_string(spec, "name", true, &job->name, err);
    if (rc == CAF_OK && !name_is_safe(job->name))
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'name': '%s' may hold only letters, digits, '_', '-' and '.'",
                           job->name);
    if (rc == CAF_OK)
        rc = check_keys(spec, "", spec_keys, err);
    if (rc == CAF_OK)
        rc = get_string(spec, "command", true, &job->command, err);
    if (rc == CAF_OK && !job->command[0])
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'command' is empty");
    if (rc == CAF_OK)
        rc = strings_from_json(json_object_get(spec, "args"), "args", &job->args, err);
    caf_strings files = {0};
    if (rc == CAF_OK)
        rc = strings_from_json(json_object_get(spec, "input_files"), "input_files", &files, err);
    for (size_t i = 0; rc == CAF_OK && i < files.count; i++) {
        char *abs = NULL;
        rc = absolute(base_dir, files.items[i], &abs, err);
        if (rc == CAF_OK)
            rc = caf_strings_push(&job->input_files, abs, err);
        free(abs);
    }
    caf_strings_free(&files);
    char *dir = NULL;
    if (rc == CAF_OK)
        rc = get_string(spec, "working_dir", false, &dir, err);
    if (rc == CAF_OK)
        rc = absolute(base_dir, dir ? dir : job->name, &job->working_dir, err);
    free(dir);
    dir = NULL;
    if (rc == CAF_OK)
        rc = get_string(spec, "output_dir", false, &dir, err);
    if (rc == CAF_OK)
        rc = dir ? absolute(base_dir, dir, &job->output_dir, err) : absolute(job->working_dir, "output", &job->output_dir, err);
    free(dir);
    if (rc == CAF_OK)
        rc = strings_from_json(json_object_get(spec, "output_patterns"), "output_patterns", &job->output_patterns, err);
    if (rc == CAF_OK)
        rc = parse_sandbox(job, json_object_get(spec, "input_sandbox"), base_dir, err);
    if (rc == CAF_OK)
        rc = strings_from_json(json_object_get(spec, "setup"), "setup", &job->setup_commands, err);
    if (rc == CAF_OK)
        rc = parse_env(job, json_object_get(spec, "env"), err);
    if (rc == CAF_OK)
        rc = get_string(spec, "backend", false, &job->backend, err);
    if (rc == CAF_OK && !job->backend && !(job->backend = strdup("local")))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == CAF_OK)
        rc = parse_backend_args(job, json_object_get(spec, "backend_args"), err);
    json_t *settings = json_object_get(spec, "backend_settings");
    if (rc == CAF_OK && settings && !json_is_object(settings))
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'backend_settings' must be an object");
    if (rc == CAF_OK && settings)
        job->backend_settings = json_incref(settings);
    json_t *policy = json_object_get(spec, "policy");
    if (rc == CAF_OK && policy && !json_is_object(policy))
        rc = caf_error_set(err, CAF_ERR_INVALID, "key 'policy' must be an object");
    if (rc == CAF_OK && policy)
        job->policy = json_incref(policy);
    if (rc == CAF_OK)
        rc = parse_split(job, json_object_get(spec, "split"), err);
    if (rc == CAF_OK)
        rc = parse_retry(job, json_object_get(spec, "retry"), err);
    return rc;
}

static bool strings_equal_json(const caf_strings *list, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) != list->count)
        return false;
    for (size_t i = 0; i < list->count; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || strcmp(s, list->items[i]) != 0)
            return false;
    }
    return true;
}

/* Copies the saved progress of each subjob in arr into job's freshly split subjobs. */
static caf_status apply_saved_subjobs(caf_job *job, const json_t *arr, const char *where, caf_error *err)
{
    if (!json_is_array(arr) || json_array_size(arr) != job->n_subjobs)
        return caf_error_set(err, CAF_ERR_STATE,
                             "%s: saved state has %zu subjobs but the job makes %zu; the job changed since it was "
                             "submitted (remove %s to start over)",
                             where, json_array_size(arr), job->n_subjobs, where);
    for (size_t i = 0; i < job->n_subjobs; i++) {
        caf_subjob *sub = &job->subjobs[i];
        json_t *s = json_array_get(arr, i);
        if (!json_is_object(s) || !strings_equal_json(&sub->args, json_object_get(s, "args")) ||
            !strings_equal_json(&sub->input_files, json_object_get(s, "input_files")))
            return caf_error_set(err, CAF_ERR_STATE,
                                 "%s: subjob %zu's arguments or input files changed since it was submitted "
                                 "(remove %s to start over)",
                                 where, i, where);
        caf_job_status status = CAF_JOB_INIT;
        if (caf_job_status_parse(json_string_value(json_object_get(s, "status")), &status) != CAF_OK)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: subjob %zu: bad 'status'", where, i);
        sub->status = status;
        sub->attempt = (int)json_integer_value(json_object_get(s, "attempt"));
        sub->exit_code = json_is_integer(json_object_get(s, "exit_code"))
                             ? (int)json_integer_value(json_object_get(s, "exit_code"))
                             : -1;
        sub->memory_mb = (long)json_integer_value(json_object_get(s, "memory_mb"));
        sub->time_s = (long)json_integer_value(json_object_get(s, "time_s"));
        sub->lost_since = json_number_value(json_object_get(s, "lost_since"));
        const char *batch_id = json_string_value(json_object_get(s, "batch_id"));
        const char *reason = json_string_value(json_object_get(s, "reason"));
        const char *exit_file = json_string_value(json_object_get(s, "exit_code_file"));
        free(sub->batch_id);
        free(sub->reason);
        sub->batch_id = batch_id ? strdup(batch_id) : NULL;
        sub->reason = reason ? strdup(reason) : NULL;
        if (exit_file) {
            free(sub->exit_code_file);
            sub->exit_code_file = strdup(exit_file);
        }
        if ((batch_id && !sub->batch_id) || (reason && !sub->reason) || !sub->exit_code_file)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    return CAF_OK;
}

caf_status caf_job_from_json(caf_job *job, const json_t *spec, const char *base_dir, caf_error *err)
{
    memset(job, 0, sizeof *job);
    caf_status rc = parse_spec(job, spec, base_dir, err);
    if (rc != CAF_OK && job->name && name_is_safe(job->name))
        caf_error_prefix(err, "job %s: ", job->name);
    if (rc == CAF_OK)
        rc = caf_job_split(job, err); /* its messages name the job */
    json_t *saved = json_object_get(spec, "subjobs");
    if (rc == CAF_OK && saved)
        rc = apply_saved_subjobs(job, saved, job->name, err);
    if (rc != CAF_OK)
        caf_job_close(job);
    return rc;
}

caf_status caf_job_load_spec(caf_job *job, const char *path, caf_error *err)
{
    memset(job, 0, sizeof *job);
    json_t *spec = NULL;
    caf_status rc = caf_json_load_file(path, &spec, err);
    if (rc != CAF_OK)
        return rc;
    char *copy = strdup(path);
    char *slash = copy ? strrchr(copy, '/') : NULL;
    char cwd[PATH_MAX];
    const char *base = NULL;
    if (slash) {
        *slash = '\0';
        base = slash == copy ? "/" : copy;
    } else if (getcwd(cwd, sizeof cwd)) {
        base = cwd;
    }
    char *abs_base = NULL;
    if (base && base[0] != '/' && getcwd(cwd, sizeof cwd))
        abs_base = caf_path_join(cwd, base);
    if (!copy || !base)
        rc = caf_error_set(err, CAF_ERR_IO, "%s: cannot find its folder", path);
    else
        rc = caf_job_from_json(job, spec, abs_base ? abs_base : base, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "%s: ", path);
    free(abs_base);
    free(copy);
    json_decref(spec);
    return rc;
}

static json_t *subjob_to_json(const caf_subjob *sub)
{
    json_t *s = caf_subjob_progress_json(sub);
    if (!s)
        return NULL;
    json_object_set_new(s, "args", strings_to_json(&sub->args));
    json_object_set_new(s, "input_files", strings_to_json(&sub->input_files));
    json_object_set_new(s, "dir", json_string(sub->dir));
    json_object_set_new(s, "exit_code_file", json_string(sub->exit_code_file));
    return s;
}

json_t *caf_job_to_json(const caf_job *job)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "name", json_string(job->name));
    json_object_set_new(j, "command", json_string(job->command));
    json_object_set_new(j, "args", strings_to_json(&job->args));
    json_object_set_new(j, "input_files", strings_to_json(&job->input_files));
    json_object_set_new(j, "working_dir", json_string(job->working_dir));
    json_object_set_new(j, "output_dir", json_string(job->output_dir));
    json_object_set_new(j, "output_patterns", strings_to_json(&job->output_patterns));
    json_object_set_new(j, "input_sandbox", strings_to_json(&job->input_sandbox));
    json_object_set_new(j, "setup", strings_to_json(&job->setup_commands));
    json_t *env = json_object();
    for (size_t i = 0; i < job->env_names.count; i++)
        json_object_set_new(env, job->env_names.items[i], json_string(job->env_values.items[i]));
    json_object_set_new(j, "env", env);
    json_object_set_new(j, "backend", json_string(job->backend));
    json_t *ba = json_object();
    if (job->backend_args.queue)
        json_object_set_new(ba, "queue", json_string(job->backend_args.queue));
    json_object_set_new(ba, "memory_mb", json_integer(job->backend_args.memory_mb));
    json_object_set_new(ba, "time_s", json_integer(job->backend_args.time_s));
    json_object_set_new(ba, "cores", json_integer(job->backend_args.cores));
    json_object_set_new(ba, "extra_lines", strings_to_json(&job->backend_args.extra_lines));
    json_object_set_new(j, "backend_args", ba);
    if (job->backend_settings)
        json_object_set(j, "backend_settings", job->backend_settings);
    if (job->policy)
        json_object_set(j, "policy", job->policy);
    json_t *split = json_object();
    if (job->splitter.max_files_per_subjob > 0)
        json_object_set_new(split, "max_files_per_subjob", json_integer(job->splitter.max_files_per_subjob));
    if (job->splitter.max_subjobs > 0)
        json_object_set_new(split, "max_subjobs", json_integer(job->splitter.max_subjobs));
    if (job->splitter.arg_sets) {
        json_t *sets = json_array();
        for (size_t i = 0; i < job->splitter.n_arg_sets; i++)
            json_array_append_new(sets, strings_to_json(&job->splitter.arg_sets[i]));
        json_object_set_new(split, "arg_sets", sets);
    }
    json_object_set_new(j, "split", split);
    json_t *retry = json_object();
    json_object_set_new(retry, "max_retries", json_integer(job->retry.max_retries));
    json_object_set_new(retry, "memory_factor", json_real(job->retry.memory_factor));
    json_object_set_new(retry, "time_factor", json_real(job->retry.time_factor));
    json_object_set_new(j, "retry", retry);
    json_t *subs = json_array();
    for (size_t i = 0; i < job->n_subjobs; i++)
        json_array_append_new(subs, subjob_to_json(&job->subjobs[i]));
    json_object_set_new(j, "subjobs", subs);
    return j;
}

/* A new id for a saved state: random, so that no journal left by an earlier state can name it. */
static void new_journal_id(char id[17])
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
    }
    snprintf(id, 17, "%016llx", (unsigned long long)v);
}

caf_status caf_job_save(caf_job *job, caf_error *err)
{
    char *path = caf_job_state_path(job);
    char *journal = caf_job_journal_path(job);
    char id[17];
    new_journal_id(id);
    json_t *j = caf_job_to_json(job);
    caf_status rc = (!path || !journal || !j || json_object_set_new(j, "journal_id", json_string(id)) != 0)
                        ? caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name)
                        : caf_mkdir_p(job->working_dir, err);
    char *text = rc == CAF_OK ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    size_t size = text ? strlen(text) : 0;
    if (rc == CAF_OK && !text)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    if (rc == CAF_OK) {
        text[size] = '\n'; /* json_dumps leaves room: the terminating NUL becomes the newline */
        rc = caf_file_write_atomic(path, text, size + 1, err);
    }
    if (rc == CAF_OK) {
        /* The journal of the state before is stale now (and ignored if this unlink is lost to a kill). */
        if (unlink(journal) != 0 && errno != ENOENT)
            rc = caf_error_errno(err, errno, "%s", journal);
        memcpy(job->journal_id, id, sizeof id);
        job->state_bytes = size + 1;
        job->journal_bytes = 0;
        for (size_t i = 0; i < job->n_subjobs; i++)
            job->subjobs[i].unsaved = false;
    }
    free(text);
    json_decref(j);
    free(journal);
    free(path);
    return rc;
}

caf_status caf_job_load_state(caf_job *job, bool *found, caf_error *err)
{
    *found = false;
    char *path = caf_job_state_path(job);
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    if (!caf_path_exists(path)) {
        free(path);
        return CAF_OK;
    }
    json_t *saved = NULL;
    caf_status rc = caf_job_state_read(path, &saved, err);
    if (rc == CAF_OK) {
        const char *name = json_string_value(json_object_get(saved, "name"));
        if (!name || strcmp(name, job->name) != 0)
            rc = caf_error_set(err, CAF_ERR_STATE, "%s: holds job '%s', not '%s'", path, name ? name : "?", job->name);
        else
            rc = apply_saved_subjobs(job, json_object_get(saved, "subjobs"), path, err);
    }
    const char *backend = json_string_value(json_object_get(saved, "backend"));
    bool active = false;
    for (size_t i = 0; rc == CAF_OK && i < job->n_subjobs; i++)
        active |= job->subjobs[i].status == CAF_JOB_SUBMITTED || job->subjobs[i].status == CAF_JOB_RUNNING;
    if (rc == CAF_OK && active && backend && strcmp(backend, job->backend) != 0) {
        char *copy = strdup(backend);
        if (!copy)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else {
            free(job->backend);
            job->backend = copy;
        }
    }
    const char *id = json_string_value(json_object_get(saved, "journal_id"));
    if (rc == CAF_OK)
        snprintf(job->journal_id, sizeof job->journal_id, "%s", id ? id : "");
    json_decref(saved);
    free(path);
    if (rc == CAF_OK)
        *found = true;
    return rc;
}
