/* Merging collector outputs into one file, as the orchestrator does with the outputs of a collector's
 * jobs. Inputs are read one after the other; every piece is merged into an accumulator per
 * (object, key) held in a hash table. When the accumulators outgrow the memory budget they are written
 * out as pieces and dropped, so memory stays bounded; readers merge the pieces of a key anyway. */
#include <stdlib.h>
#include <string.h>

#include "collector/output_internal.h"

typedef struct acc_entry {
    char *name; /* NULL = free slot */
    caf_exprun key;
    caf_object *obj;
    size_t bytes; /* encoded size of the last piece merged: the accumulator's size */
} acc_entry;

typedef struct acc_table {
    acc_entry *slots;
    size_t capacity, count, bytes;
} acc_table;

static uint64_t hash_key(const char *name, caf_exprun key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ (uint32_t)key.exp) * 1099511628211ull;
    h = (h ^ (uint32_t)key.run) * 1099511628211ull;
    return h;
}

static acc_entry *table_find(acc_table *t, const char *name, caf_exprun key)
{
    size_t i = hash_key(name, key) & (t->capacity - 1);
    while (t->slots[i].name) {
        if (t->slots[i].key.exp == key.exp && t->slots[i].key.run == key.run && !strcmp(t->slots[i].name, name))
            return &t->slots[i];
        i = (i + 1) & (t->capacity - 1);
    }
    return &t->slots[i];
}

static caf_status table_grow(acc_table *t, caf_error *err)
{
    size_t cap = t->capacity ? 2 * t->capacity : 1024;
    acc_entry *old = t->slots;
    size_t old_cap = t->capacity;
    if (!(t->slots = calloc(cap, sizeof *t->slots))) {
        t->slots = old;
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    t->capacity = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].name)
            *table_find(t, old[i].name, old[i].key) = old[i];
    free(old);
    return CAF_OK;
}

/* Writes every accumulator as a piece, in (name, key) order, and empties the table. */
static int entry_compare(const void *a, const void *b)
{
    const acc_entry *x = *(acc_entry *const *)a, *y = *(acc_entry *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : caf_exprun_compare(x->key, y->key);
}

static caf_status table_flush(acc_table *t, caf_collector_writer *w, caf_error *err)
{
    caf_status st = CAF_OK;
    acc_entry **order = malloc((t->count ? t->count : 1) * sizeof *order);
    if (!order)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < t->capacity; i++)
        if (t->slots[i].name)
            order[n++] = &t->slots[i];
    qsort(order, n, sizeof *order, entry_compare);
    for (size_t i = 0; i < n; i++) {
        if (st == CAF_OK)
            st = caf_collector_writer_put(w, order[i]->name, order[i]->key, order[i]->obj, err);
        free(order[i]->name);
        caf_object_free(order[i]->obj);
        *order[i] = (acc_entry){0};
    }
    free(order);
    t->count = t->bytes = 0;
    if (st == CAF_OK)
        st = caf_collector_writer_flush(w, err);
    return st;
}

static void table_free(acc_table *t)
{
    for (size_t i = 0; i < t->capacity; i++)
        if (t->slots[i].name) {
            free(t->slots[i].name);
            caf_object_free(t->slots[i].obj);
        }
    free(t->slots);
}

/* Merges every piece of the open input f into the table. */
static caf_status merge_input(acc_table *t, caf_collector_output *f, caf_collector_writer *w, size_t budget,
                              caf_error *err)
{
    sqlite3 *db = output_db(f);
    sqlite3_stmt *s;
    const char *path = caf_collector_output_path(f);
    int rc = sqlite3_prepare_v2(db, "SELECT id, name, exp, run, bytes FROM pieces ORDER BY name, exp, run, idx", -1, &s,
                                NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, db, rc, "%s: listing pieces", path);
    caf_status st = CAF_OK;
    while (st == CAF_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        /* Every column is checked before use: SQLite does not enforce the declared types (nor NOT NULL
         * in a file whose schema was edited), and a NULL name or a negative size must not get further. */
        sqlite3_int64 piece = sqlite3_column_int64(s, 0), bytes;
        const char *name;
        caf_exprun key;
        if ((st = output_column_text(s, 1, path, "pieces", piece, "name", &name, err)) != CAF_OK ||
            (st = output_column_exprun(s, 2, path, "pieces", piece, &key, err)) != CAF_OK ||
            (st = output_column_int(s, 4, path, "pieces", piece, "bytes", 0, INT64_MAX, &bytes, err)) != CAF_OK)
            break;
        const caf_collector_object_info *declared = caf_collector_output_find_object(f, name);
        if (!declared) {
            st = caf_error_set(err, CAF_ERR_FORMAT, "%s: table 'pieces', row %lld: object '%s' is not in table 'objects'",
                               path, (long long)piece, name);
            break;
        }
        if ((t->count + 1) * 2 > t->capacity && (st = table_grow(t, err)) != CAF_OK)
            break;
        acc_entry *e = table_find(t, name, key);
        if (e->name) {
            st = output_merge_piece(db, output_chunks_stmt(f), piece, declared->type_name, &e->obj, err);
            if (st != CAF_OK)
                caf_error_prefix(err, "%s: object '%s': ", path, name);
            if ((size_t)bytes > e->bytes) { /* ntuples grow when merged; histograms keep their size */
                t->bytes += (size_t)bytes - e->bytes;
                e->bytes = (size_t)bytes;
            }
        } else {
            caf_object *obj = NULL;
            if ((st = output_read_piece(db, output_chunks_stmt(f), piece, declared->type_name, &obj, err)) != CAF_OK) {
                caf_error_prefix(err, "%s: object '%s': ", path, name);
                break;
            }
            if (!(e->name = strdup(name))) {
                caf_object_free(obj);
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            } else {
                e->key = key;
                e->obj = obj;
                e->bytes = (size_t)bytes;
                t->count++;
                t->bytes += (size_t)bytes;
            }
        }
        if (st == CAF_OK && t->bytes > budget)
            st = table_flush(t, w, err);
    }
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, db, rc, "%s: listing pieces", path);
    sqlite3_finalize(s);
    return st;
}

/* Checks that f belongs with the first input and declares its objects. */
static caf_status check_input(caf_collector_output *first, caf_collector_output *f, caf_run_range *runs,
                              caf_error *err)
{
    const char *path = caf_collector_output_path(f);
    if (strcmp(caf_collector_output_collector(f), caf_collector_output_collector(first)) != 0)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: collector %s differs from %s in %s", path,
                             caf_collector_output_collector(f), caf_collector_output_collector(first),
                             caf_collector_output_path(first));
    caf_status st = caf_run_range_merge(runs, caf_collector_output_run_range(f), err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "%s: ", path);
    for (size_t i = 0; i < caf_collector_output_object_count(f); i++) {
        const caf_collector_object_info *o = caf_collector_output_object(f, i);
        const caf_collector_object_info *seen = caf_collector_output_find_object(first, o->name);
        if (seen && strcmp(seen->type_name, o->type_name) != 0)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: object '%s' is a %s, but a %s in %s", path, o->name,
                                 o->type_name, seen->type_name, caf_collector_output_path(first));
    }
    return CAF_OK;
}

/* Declares every object of f in the output (names and types only; objects without data are listed too),
 * from the list the reader checked when it opened f. */
static caf_status declare_objects(caf_collector_output *f, caf_collector_writer *w, caf_error *err)
{
    caf_status st = CAF_OK;
    for (size_t i = 0; st == CAF_OK && i < caf_collector_output_object_count(f); i++) {
        const caf_collector_object_info *o = caf_collector_output_object(f, i);
        st = output_writer_declare_type(w, o->name, o->type_name, err);
    }
    return st;
}

caf_status caf_collector_output_merge_files(const char *out_path, const char *const *inputs, size_t ninputs,
                                            const caf_collector_merge_options *options, caf_error *err)
{
    if (ninputs == 0)
        return caf_error_set(err, CAF_ERR_INVALID, "merging collector outputs into %s: no inputs", out_path);
    size_t budget = options && options->memory_budget ? options->memory_budget : (size_t)256 << 20;
    caf_collector_output *first;
    caf_status st = caf_collector_output_open(inputs[0], &first, err);
    if (st != CAF_OK)
        return st;
    caf_collector_info info = {caf_collector_output_collector(first), caf_collector_output_module(first),
                               caf_collector_output_granularity(first), caf_collector_output_parameters(first)};
    caf_collector_writer *w;
    if ((st = caf_collector_writer_open(out_path, &info, &w, err)) != CAF_OK) {
        caf_collector_output_close(first);
        return st;
    }
    caf_run_range runs;
    caf_run_range_init(&runs, info.granularity);
    acc_table table = {0};
    for (size_t i = 0; st == CAF_OK && i < ninputs; i++) {
        caf_collector_output *f = first;
        if (i > 0 && (st = caf_collector_output_open(inputs[i], &f, err)) != CAF_OK)
            break;
        st = check_input(first, f, &runs, err);
        if (st == CAF_OK)
            st = declare_objects(f, w, err);
        if (st == CAF_OK)
            st = merge_input(&table, f, w, budget, err);
        if (f != first)
            caf_collector_output_close(f);
    }
    if (st == CAF_OK)
        st = table_flush(&table, w, err);
    for (size_t i = 0; st == CAF_OK && i < runs.count; i++)
        st = caf_collector_writer_add_run(w, runs.runs[i], err);
    table_free(&table);
    caf_run_range_clear(&runs);
    caf_collector_output_close(first);
    if (st != CAF_OK) {
        caf_collector_writer_abort(w);
        return st;
    }
    return caf_collector_writer_commit(w, err);
}
