/* Fuzzing harness: collector output files (SQLite, docs/collector-format.md) and the collected-object
 * encoding inside them.
 *
 * An input that starts with SQLite's magic is written to a scratch file and read as `caf collector
 * inspect|merge` and algorithms do: open (metadata, RunRange, object list), every object's keys, each
 * key read, each object merged over its runs and printed (text and JSON), the RunRange of the file, and
 * the file merged with itself into a new output (with a small memory budget, so accumulators are
 * flushed as several pieces) which must then open and read. Any other input is one object in the
 * single-buffer form (caf_object_from_bytes): decoded, printed, re-encoded and decoded again (which must
 * succeed), cloned and merged with itself. */
#include <stdbool.h>
#include <stdint.h>

#include "caf/collected.h"
#include "caf/collector_output.h"
#include "fuzz_support.h"

/* Bounds that keep one input fast; real files have few objects, fuzzed ones can list thousands. */
enum { MAX_OBJECTS = 16, MAX_KEYS = 16, PRINT_ROWS = 4 };

static FILE *sink(void)
{
    static FILE *null;
    if (!null && !(null = fopen("/dev/null", "w")))
        abort();
    return null;
}

static void show(const caf_object *obj)
{
    caf_error err = {0};
    fuzz_check_error(caf_object_print(obj, sink(), PRINT_ROWS, &err), &err, "caf_object_print");
    json_t *j = caf_object_to_json(obj, PRINT_ROWS);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    free(text);
    json_decref(j);
}

static void fuzz_object(const uint8_t *data, size_t size)
{
    caf_error err = {0};
    caf_object *obj = NULL;
    caf_status st = caf_object_from_bytes(data, size, &obj, &err);
    fuzz_check_error(st, &err, "caf_object_from_bytes");
    if (st != CAF_OK)
        return;
    show(obj);
    void *bytes = NULL;
    size_t n = 0;
    st = caf_object_to_bytes(obj, &bytes, &n, &err);
    fuzz_check_error(st, &err, "caf_object_to_bytes");
    if (st == CAF_OK) {
        caf_object *again = NULL;
        st = caf_object_from_bytes(bytes, n, &again, &err);
        if (st != CAF_OK) {
            fprintf(stderr, "an object caf encoded does not decode: %s\n", err.message);
            abort();
        }
        caf_object_free(again);
    }
    free(bytes);
    caf_object *copy = NULL;
    st = caf_object_clone(obj, &copy, &err);
    fuzz_check_error(st, &err, "caf_object_clone");
    if (st == CAF_OK) {
        const caf_object *list[1] = {copy};
        fuzz_check_error(caf_object_merge(obj, list, 1, &err), &err, "caf_object_merge");
        caf_object_free(copy);
    }
    caf_object_free(obj);
}

/* Reads what the open file f holds the way the reader's users do. */
static void read_all(caf_collector_output *f)
{
    caf_error err = {0};
    size_t nobjects = caf_collector_output_object_count(f);
    for (size_t i = 0; i < nobjects && i < MAX_OBJECTS; i++) {
        const caf_collector_object_info *o = caf_collector_output_object(f, i);
        if (caf_collector_output_find_object(f, o->name) != o) {
            fprintf(stderr, "object '%s' is not found by its own name\n", o->name);
            abort();
        }
        caf_exprun *keys = NULL;
        size_t nkeys = 0;
        caf_status st = caf_collector_output_keys(f, o->name, &keys, &nkeys, &err);
        fuzz_check_error(st, &err, "caf_collector_output_keys");
        for (size_t k = 0; st == CAF_OK && k < nkeys && k < MAX_KEYS; k++) {
            caf_object *obj = NULL;
            caf_status rs = caf_collector_output_read(f, o->name, keys[k], &obj, &err);
            fuzz_check_error(rs, &err, "caf_collector_output_read");
            if (rs == CAF_OK && strcmp(caf_object_type_name(obj), o->type_name) != 0) {
                fprintf(stderr, "object '%s' is listed as %s but read as %s\n", o->name, o->type_name,
                        caf_object_type_name(obj));
                abort();
            }
            caf_object_free(obj);
        }
        free(keys);
        caf_object *merged = NULL;
        st = caf_collector_output_merge_runs(f, o->name, NULL, 0, &merged, &err);
        fuzz_check_error(st, &err, "caf_collector_output_merge_runs");
        if (st == CAF_OK)
            show(merged);
        caf_object_free(merged);
    }
    json_t *params = (json_t *)caf_collector_output_parameters(f);
    char *text = json_dumps(params, JSON_COMPACT);
    free(text);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    const char *in = fuzz_write_file("in.sqlite", data, size);
    char in_path[512], out_path[512];
    snprintf(in_path, sizeof in_path, "%s", in);
    snprintf(out_path, sizeof out_path, "%s/out.sqlite", fuzz_scratch());
    caf_error err = {0};
    caf_collector_output *f = NULL;
    caf_status st = caf_collector_output_open(in_path, &f, &err);
    fuzz_check_error(st, &err, "caf_collector_output_open");
    if (st != CAF_OK)
        return;
    read_all(f);
    caf_collector_output_close(f);

    const char *paths[2] = {in_path, in_path};
    caf_run_range runs;
    st = caf_collected_run_range_of_files(paths, 2, &runs, &err);
    fuzz_check_error(st, &err, "caf_collected_run_range_of_files");
    if (st == CAF_OK)
        caf_run_range_clear(&runs);

    caf_collector_merge_options options = {4096};
    st = caf_collector_output_merge_files(out_path, paths, 2, &options, &err);
    fuzz_check_error(st, &err, "caf_collector_output_merge_files");
    if (st != CAF_OK)
        return;
    /* What the merger wrote is caf's own output: it must open again. */
    st = caf_collector_output_open(out_path, &f, &err);
    if (st != CAF_OK) {
        fprintf(stderr, "the merged output does not open: %s\n", err.message);
        abort();
    }
    read_all(f);
    caf_collector_output_close(f);
    unlink(out_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char magic[16] = "SQLite format 3";
    fuzz_scratch();
    if (size >= sizeof magic && memcmp(data, magic, sizeof magic) == 0)
        fuzz_file(data, size);
    else
        fuzz_object(data, size);
    return 0;
}
