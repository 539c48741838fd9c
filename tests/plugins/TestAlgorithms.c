/* Test algorithms: "test" can be told by its parameters to return any result, to crash, abort, hang,
 * exit or eat memory after saving payloads, to read a collected object, to save payloads with the default,
 * an explicit or a per-run IoV, to read a payload from its database chain and to count its executions in
 * its JSON state (with the experiment its setup_experiment hook was called for, if it was), to read an
 * object of each named collection alone (caf_algo_get_collection_object); it also finds
 * payload boundaries where a run's mean jumps; it can mark its start and end with files, wait for another
 * file (another calibration's progress) and sleep. "minimal" returns OK and
 * implements nothing else. The runner and `caf algo` tests drive them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/algorithm.h"
#include "caf/log.h"

static const caf_param_spec test_params[] = {
    {"result", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "OK", "the result to return: OK, ITERATE, "
     "NOT_ENOUGH_DATA, FAILURE, or a number (an out-of-range one tests the framework's check)"},
    {"message", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "the reason given with the result"},
    {"action", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "none", "after saving: none, crash, abort, hang, exit "
     "or eat_memory"},
    {"binary_output", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "print bytes that are not UTF-8 (and a "
     "NUL and a micro sign) to stdout, and give a message that is not UTF-8"},
    {"eat_limit_mb", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "4096", "eat_memory gives up (FAILURE) after this"},
    {"object", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "a collected 1-D histogram to read (empty: none)"},
    {"min_entries", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "0", "NOT_ENOUGH_DATA when the object has fewer"},
    {"payloads", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "1", "constants payloads to save: TestConstants, "
     "TestConstants1, ..."},
    {"value", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "1.0", "the value the payloads hold"},
    {"payload_iov", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "explicit IoV e1,r1,e2,r2 of the payloads "
     "(empty: the default IoV)"},
    {"blob_mb", CAF_PARAM_INT, CAF_PARAM_DEFAULTED, "0", "also save TestBlob.bin of this many MiB (bytes i % 251)"},
    {"per_run", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "also save TestPerRun once per requested run"},
    {"read_payload", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "constants payload to read at the first "
     "requested run; its 'value' is added to value"},
    {"boundary_shift", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "5.0", "boundary finding: a run whose object "
     "mean moved more than this from the last boundary's starts a new payload"},
    {"preset_boundaries", CAF_PARAM_STRING_LIST, CAF_PARAM_DEFAULTED, "[]", "boundaries e:r set up front"},
    {"pre_algorithm_fails", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "the pre_algorithm hook fails"},
    {"marker", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "create the files MARKER.start when calibrate begins "
     "and MARKER.end when it returns (empty: none)"},
    {"wait_for", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "after MARKER.start, wait until this file exists "
     "(empty: do not wait)"},
    {"wait_timeout", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "60", "wait_for gives up (FAILURE) after this many "
     "seconds"},
    {"sleep", CAF_PARAM_DOUBLE, CAF_PARAM_DEFAULTED, "0", "seconds to sleep before saving payloads"},
    {"collections", CAF_PARAM_STRING_LIST, CAF_PARAM_DEFAULTED, "[]", "read object from each of these "
     "collections alone and write its entries to the JSON state's collection_entries"},
    {"report_env", CAF_PARAM_STRING, CAF_PARAM_DEFAULTED, "''", "write this environment variable's value to the "
     "JSON state's env (null when unset; empty: nothing)"},
    {"report_pid", CAF_PARAM_BOOL, CAF_PARAM_DEFAULTED, "false", "write the process id of the execution to the "
     "JSON state's pid"},
    {NULL, 0, 0, NULL, NULL},
};

static caf_algo_result eat_memory(const caf_params *p, caf_error *err)
{
    const size_t chunk = 8u << 20;
    int64_t limit = caf_params_int(p, "eat_limit_mb", 4096);
    void **chunks = NULL;
    size_t count = 0;
    for (;;) {
        if ((int64_t)((count + 1) * (chunk >> 20)) > limit) {
            caf_error_set(err, CAF_ERR_NOMEM, "ate %zu MiB and nobody stopped me", count * (chunk >> 20));
            break;
        }
        void **n = realloc(chunks, (count + 1) * sizeof *n);
        void *block = malloc(chunk);
        if (!n || !block) {
            caf_log_error("out of memory after %zu MiB", count * (chunk >> 20));
            abort(); /* as an uncaught std::bad_alloc would */
        }
        chunks = n;
        memset(block, 0x5a, chunk); /* touch every page so it is resident */
        chunks[count++] = block;
    }
    for (size_t i = 0; i < count; i++)
        free(chunks[i]);
    free(chunks);
    return CAF_ALGO_FAILURE;
}

static caf_algo_result act(const caf_params *p, caf_error *err)
{
    const char *action = caf_params_string(p, "action", "none");
    if (!strcmp(action, "crash")) {
        caf_info("crashing on purpose");
        raise(SIGSEGV);
    } else if (!strcmp(action, "abort")) {
        caf_info("aborting on purpose");
        abort();
    } else if (!strcmp(action, "hang")) {
        caf_info("hanging on purpose");
        for (;;)
            sleep(1);
    } else if (!strcmp(action, "exit")) {
        caf_info("exiting on purpose");
        exit(0);
    } else if (!strcmp(action, "eat_memory")) {
        caf_info("eating memory on purpose");
        return eat_memory(p, err);
    }
    return CAF_ALGO_UNDEFINED; /* nothing done: continue */
}

/* Reads the object and checks min_entries; sets *entries and *mean. */
static caf_algo_result read_object(caf_algo_context *ctx, const caf_params *p, double *entries, double *mean,
                                   caf_error *err)
{
    const char *name = caf_params_string(p, "object", "");
    *entries = 0;
    *mean = 0;
    if (!*name)
        return CAF_ALGO_UNDEFINED;
    const caf_object *h;
    if (caf_algo_get_object(ctx, name, &h, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    if (caf_object_kind_of(h) != CAF_OBJECT_HIST1D) {
        caf_error_set(err, CAF_ERR_INVALID, "object %s is a %s, not a hist1d", name, caf_object_type_name(h));
        return CAF_ALGO_FAILURE;
    }
    *entries = (double)caf_hist1d_entries(h);
    *mean = caf_hist1d_mean(h);
    caf_info("object %s: %.0f entries, mean %g", name, *entries, *mean);
    if (*entries < (double)caf_params_int(p, "min_entries", 0)) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "object %s has %.0f entries, fewer than %lld", name, *entries,
                      (long long)caf_params_int(p, "min_entries", 0));
        return CAF_ALGO_NOT_ENOUGH_DATA;
    }
    return CAF_ALGO_UNDEFINED;
}

static caf_status save_constants(caf_algo_context *ctx, const char *name, double value, double entries,
                                 double mean, const caf_iov *iov, caf_error *err)
{
    caf_constants *c;
    caf_status st = caf_constants_new(&c, err);
    if (st != CAF_OK)
        return st;
    double pair[2] = {mean, entries};
    st = caf_constants_set_double(c, "value", value, err);
    if (st == CAF_OK)
        st = caf_constants_set_int(c, "iteration", caf_algo_iteration(ctx), err);
    if (st == CAF_OK)
        st = caf_constants_set_array(c, "mean_entries", pair, 2, err);
    if (st == CAF_OK)
        st = caf_algo_save_constants(ctx, name, c, iov, err);
    caf_constants_free(c);
    return st;
}

static caf_algo_result save_payloads(caf_algo_context *ctx, const caf_params *p, double value, double entries,
                                     double mean, caf_error *err)
{
    const char *iov_text = caf_params_string(p, "payload_iov", "");
    caf_iov iov;
    const caf_iov *iov_ptr = NULL;
    if (*iov_text) {
        if (caf_iov_parse(iov_text, &iov, err) != CAF_OK)
            return CAF_ALGO_FAILURE;
        iov_ptr = &iov;
    }
    int64_t n = caf_params_int(p, "payloads", 1);
    for (int64_t i = 0; i < n; i++) {
        char name[64];
        if (i == 0)
            snprintf(name, sizeof name, "TestConstants");
        else
            snprintf(name, sizeof name, "TestConstants%lld", (long long)i);
        if (save_constants(ctx, name, value + (double)i, entries, mean, iov_ptr, err) != CAF_OK)
            return CAF_ALGO_FAILURE;
    }
    int64_t blob_mb = caf_params_int(p, "blob_mb", 0);
    if (blob_mb > 0) {
        size_t size = (size_t)blob_mb << 20;
        unsigned char *blob = malloc(size);
        if (!blob) {
            caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            return CAF_ALGO_FAILURE;
        }
        for (size_t i = 0; i < size; i++)
            blob[i] = (unsigned char)(i % 251);
        caf_status st = caf_algo_save_bytes(ctx, "TestBlob", "bin", blob, size, iov_ptr, err);
        free(blob);
        if (st != CAF_OK)
            return CAF_ALGO_FAILURE;
    }
    if (caf_params_bool(p, "per_run", false)) {
        size_t count;
        const caf_exprun *runs = caf_algo_runs(ctx, &count);
        for (size_t i = 0; i < count; i++) {
            caf_iov one = caf_iov_of_run(runs[i]);
            if (save_constants(ctx, "TestPerRun", (double)runs[i].run, entries, mean, &one, err) != CAF_OK)
                return CAF_ALGO_FAILURE;
        }
    }
    return CAF_ALGO_UNDEFINED;
}

/* For each name of the collections parameter: the entries of object in that collection alone, into the
 * output state's collection_entries (and the entries of every collection merged into "entries"). */
static caf_algo_result read_collections(caf_algo_context *ctx, const caf_params *p, double entries, caf_error *err)
{
    const caf_param_value *names = caf_params_get(p, "collections");
    if (!names || names->count == 0)
        return CAF_ALGO_UNDEFINED;
    json_t *out = json_object();
    json_object_set_new(caf_algo_output_state(ctx), "collection_entries", out);
    json_object_set_new(caf_algo_output_state(ctx), "entries", json_real(entries));
    for (size_t i = 0; i < names->count; i++) {
        const caf_object *h;
        if (caf_algo_get_collection_object(ctx, names->strings[i], caf_params_string(p, "object", ""), &h, err) !=
            CAF_OK)
            return CAF_ALGO_FAILURE;
        json_object_set_new(out, names->strings[i], json_real((double)caf_hist1d_entries(h)));
    }
    return CAF_ALGO_UNDEFINED;
}

/* Adds the 'value' of the payload read_payload at the first requested run to *value. */
static caf_algo_result read_previous(caf_algo_context *ctx, const caf_params *p, double *value, caf_error *err)
{
    const char *name = caf_params_string(p, "read_payload", "");
    if (!*name)
        return CAF_ALGO_UNDEFINED;
    size_t count;
    const caf_exprun *runs = caf_algo_runs(ctx, &count);
    caf_constants *c;
    if (caf_algo_read_constants(ctx, name, runs[0], &c, err) != CAF_OK)
        return CAF_ALGO_FAILURE;
    double previous = 0;
    caf_status st = caf_constants_get_double(c, "value", &previous, err);
    caf_constants_free(c);
    if (st != CAF_OK)
        return CAF_ALGO_FAILURE;
    caf_info("read %s: value %g", name, previous);
    json_object_set_new(caf_algo_output_state(ctx), "read_value", json_real(previous));
    *value += previous;
    return CAF_ALGO_UNDEFINED;
}

/* The experiment setup_experiment was last called for in this process (each execution is a fresh child). */
static bool settings_set_up;
static int settings_exp;

static caf_status test_setup_experiment(caf_algo_context *ctx, int exp, caf_error *err)
{
    (void)ctx;
    (void)err;
    caf_info("experiment settings for experiment %d", exp);
    settings_set_up = true;
    settings_exp = exp;
    return CAF_OK;
}

/* What the pre_algorithm hook saw in this process: how often it was called, and the iteration. */
static int pre_algorithm_calls;
static int pre_algorithm_iteration;

static caf_status test_pre_algorithm(caf_algo_context *ctx, int iteration, caf_error *err)
{
    caf_info("pre_algorithm for iteration %d", iteration);
    if (caf_params_bool(caf_algo_params(ctx), "pre_algorithm_fails", false))
        return caf_error_set(err, CAF_ERR_INVALID, "failing in pre_algorithm as asked");
    pre_algorithm_calls++;
    pre_algorithm_iteration = iteration;
    return CAF_OK;
}

static void count_executions(caf_algo_context *ctx)
{
    const json_t *in = caf_algo_input_state(ctx);
    json_int_t previous = json_integer_value(json_object_get(in, "executions"));
    json_t *out = caf_algo_output_state(ctx);
    json_object_set_new(out, "executions", json_integer(previous + 1));
    size_t count;
    const caf_exprun *runs = caf_algo_runs(ctx, &count);
    json_object_set_new(out, "runs", json_integer((json_int_t)count));
    json_object_set_new(out, "first_exp", json_integer(count ? runs[0].exp : -1));
    json_object_set_new(out, "iteration", json_integer(caf_algo_iteration(ctx)));
    if (settings_set_up)
        json_object_set_new(out, "settings_exp", json_integer(settings_exp));
    if (pre_algorithm_calls > 0) {
        json_object_set_new(out, "pre_algorithm_calls", json_integer(pre_algorithm_calls));
        json_object_set_new(out, "pre_algorithm_iteration", json_integer(pre_algorithm_iteration));
    }
}

static void touch(const char *marker, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", marker, suffix);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Waits for the file wait_for (the sign of another calibration's progress) and sleeps 'sleep'. */
static caf_algo_result wait_and_sleep(const caf_params *p, caf_error *err)
{
    const char *path = caf_params_string(p, "wait_for", "");
    double timeout = caf_params_double(p, "wait_timeout", 60), waited = 0;
    if (*path)
        caf_info("waiting for %s", path);
    while (*path && access(path, F_OK) != 0) {
        if (waited >= timeout) {
            caf_error_set(err, CAF_ERR_STATE, "gave up waiting for %s after %g s", path, timeout);
            return CAF_ALGO_FAILURE;
        }
        nap(0.05);
        waited += 0.05;
    }
    nap(caf_params_double(p, "sleep", 0));
    return CAF_ALGO_UNDEFINED;
}

static caf_algo_result test_calibrate_inner(caf_algo_context *ctx, caf_error *err);

static caf_algo_result test_calibrate(caf_algo_context *ctx, caf_error *err)
{
    const char *marker = caf_params_string(caf_algo_params(ctx), "marker", "");
    if (*marker)
        touch(marker, ".start");
    caf_algo_result r = wait_and_sleep(caf_algo_params(ctx), err);
    if (r == CAF_ALGO_UNDEFINED)
        r = test_calibrate_inner(ctx, err);
    if (*marker)
        touch(marker, ".end");
    return r;
}

static caf_algo_result test_calibrate_inner(caf_algo_context *ctx, caf_error *err)
{
    const caf_params *p = caf_algo_params(ctx);
    caf_algo_result wanted;
    const char *result_text = caf_params_string(p, "result", "OK");
    char *end;
    long number = strtol(result_text, &end, 10);
    if (end != result_text && *end == '\0')
        wanted = (caf_algo_result)number; /* may be out of range on purpose */
    else if (!caf_algo_result_parse(result_text, &wanted)) {
        caf_error_set(err, CAF_ERR_INVALID, "parameter result: '%s' is no result", result_text);
        return CAF_ALGO_FAILURE;
    }
    count_executions(ctx);
    const char *variable = caf_params_string(p, "report_env", "");
    if (*variable) {
        const char *value = getenv(variable);
        json_object_set_new(caf_algo_output_state(ctx), "env", value ? json_string(value) : json_null());
    }
    if (caf_params_bool(p, "report_pid", false))
        json_object_set_new(caf_algo_output_state(ctx), "pid", json_integer(getpid()));
    if (caf_params_bool(p, "binary_output", false)) {
        static const char junk[] = "binary \xff\xfe\x00 \xc2\xb5s \xe2\x82\n";
        fwrite(junk, 1, sizeof junk - 1, stdout);
        fflush(stdout);
    }
    double value = caf_params_double(p, "value", 1.0), entries, mean;
    caf_algo_result r = read_object(ctx, p, &entries, &mean, err);
    if (r == CAF_ALGO_UNDEFINED)
        r = read_collections(ctx, p, entries, err);
    if (r == CAF_ALGO_UNDEFINED)
        r = read_previous(ctx, p, &value, err);
    if (r == CAF_ALGO_UNDEFINED)
        r = save_payloads(ctx, p, value, entries, mean, err);
    if (r == CAF_ALGO_UNDEFINED)
        r = act(p, err);
    if (r != CAF_ALGO_UNDEFINED)
        return r;
    if (caf_params_bool(p, "binary_output", false))
        caf_error_set(err, CAF_OK, "a message with a \xff byte");
    else
        caf_error_set(err, CAF_OK, "%s", caf_params_string(p, "message", ""));
    return wanted;
}

/* ---- Boundaries: a run whose mean moved by more than boundary_shift from the last boundary ---- */

typedef struct boundary_state {
    bool have_reference;
    double reference;
} boundary_state;

static caf_status test_boundary_setup(caf_algo_context *ctx, const caf_exprun *runs, size_t count, void **state,
                                      caf_error *err)
{
    (void)runs;
    caf_info("boundary finding over %zu runs", count);
    const caf_param_value *preset = caf_params_get(caf_algo_params(ctx), "preset_boundaries");
    for (size_t i = 0; preset && i < preset->count; i++) {
        caf_exprun r;
        if (caf_exprun_parse(preset->strings[i], &r, err) != CAF_OK ||
            caf_algo_add_boundary(ctx, r, err) != CAF_OK)
            return CAF_ERR_INVALID;
    }
    *state = calloc(1, sizeof(boundary_state));
    return *state ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

static caf_status test_is_boundary_required(caf_algo_context *ctx, void *state, caf_exprun run, bool *required,
                                            caf_error *err)
{
    boundary_state *s = state;
    const caf_params *p = caf_algo_params(ctx);
    const caf_object *h;
    caf_status st = caf_algo_get_object(ctx, caf_params_string(p, "object", ""), &h, err);
    if (st != CAF_OK)
        return st;
    double mean = caf_hist1d_mean(h);
    *required = !s->have_reference || mean - s->reference > caf_params_double(p, "boundary_shift", 5.0) ||
                s->reference - mean > caf_params_double(p, "boundary_shift", 5.0);
    if (*required) {
        s->have_reference = true;
        s->reference = mean;
        caf_info("boundary at %d,%d (mean %g)", run.exp, run.run, mean);
    }
    return CAF_OK;
}

static void test_boundary_teardown(caf_algo_context *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const caf_algorithm_descriptor test_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "test",
    .description = "A configurable algorithm for testing the framework: any result, crashes, hangs, memory "
                   "use, payloads with any IoV, database reads, JSON state and payload boundaries.",
    .collector = "TestCollector",
    .params = test_params,
    .calibrate = test_calibrate,
    .boundary_setup = test_boundary_setup,
    .is_boundary_required = test_is_boundary_required,
    .boundary_teardown = test_boundary_teardown,
    .setup_experiment = test_setup_experiment,
    .pre_algorithm = test_pre_algorithm,
};

static caf_algo_result minimal_calibrate(caf_algo_context *ctx, caf_error *err)
{
    (void)ctx;
    (void)err;
    return CAF_ALGO_OK;
}

static const caf_algorithm_descriptor minimal_algorithm = {
    .abi_version = CAF_ALGORITHM_ABI_VERSION,
    .name = "minimal",
    .description = "Returns OK and saves nothing; has no parameters and no boundary hooks.",
    .collector = "TestCollector",
    .calibrate = minimal_calibrate,
};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *const list[] = {&test_algorithm, &minimal_algorithm, NULL};
    return list;
}
