/* Reading collector outputs: metadata and object list at open; the RunRange and the objects' key counts at
 * open or, for a lazily opened file (what an algorithm execution opens), when first asked for; objects per
 * key on demand, every piece of a key merged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "collector/object_internal.h"
#include "collector/output_internal.h"

struct caf_collector_output {
    sqlite3 *db;
    char *path, *collector, *module;
    json_t *parameters;
    caf_run_range runs;           /* read when runs_loaded */
    caf_collector_object_info *objects;
    size_t n_objects;
    bool runs_loaded, counts_loaded; /* lazily opened files read these on first use */
    sqlite3_stmt *pieces, *chunks, *keys;
    sqlite3_stmt *has_run; /* prepared on first use */
    int witness;           /* a descriptor of the file opened ahead (output_set_witness), -1: none */
};

static caf_status load_runs(caf_collector_output *f, caf_error *err);
static caf_status load_counts(caf_collector_output *f, caf_error *err);

sqlite3 *output_db(const caf_collector_output *f)
{
    return f->db;
}

sqlite3_stmt *output_chunks_stmt(const caf_collector_output *f)
{
    return f->chunks;
}

const char *caf_collector_output_path(const caf_collector_output *f)
{
    return f->path;
}

const char *caf_collector_output_collector(const caf_collector_output *f)
{
    return f->collector;
}

const char *caf_collector_output_module(const caf_collector_output *f)
{
    return f->module;
}

const json_t *caf_collector_output_parameters(const caf_collector_output *f)
{
    return f->parameters;
}

/* The handle behind a const pointer: what is read on first use is cached in it (every handle is made by
 * caf_collector_output_open*, never const). */
static caf_collector_output *mutable_of(const caf_collector_output *f)
{
    return (caf_collector_output *)(uintptr_t)f;
}

caf_status caf_collector_output_load_run_range(const caf_collector_output *f, const caf_run_range **out,
                                               caf_error *err)
{
    caf_status st = f->runs_loaded ? CAF_OK : load_runs(mutable_of(f), err);
    *out = &f->runs;
    return st;
}

const caf_run_range *caf_collector_output_run_range(const caf_collector_output *f)
{
    const caf_run_range *rr;
    caf_error err = {0};
    if (caf_collector_output_load_run_range(f, &rr, &err) != CAF_OK)
        caf_log_error("%s", err.message);
    return rr;
}

caf_status caf_collector_output_has_run(const caf_collector_output *f, caf_exprun run, bool *has, caf_error *err)
{
    *has = false;
    if (f->runs_loaded) {
        *has = caf_run_range_contains(&f->runs, run);
        return CAF_OK;
    }
    caf_collector_output *m = mutable_of(f);
    int rc = SQLITE_OK;
    if (!m->has_run &&
        (rc = sqlite3_prepare_v2(m->db, "SELECT 1 FROM runs WHERE exp = ? AND run = ?", -1, &m->has_run, NULL)) !=
            SQLITE_OK)
        return output_sqlite_error(err, f->db, rc, "%s: reading the RunRange", f->path);
    sqlite3_bind_int(m->has_run, 1, run.exp);
    sqlite3_bind_int(m->has_run, 2, run.run);
    rc = sqlite3_step(m->has_run);
    *has = rc == SQLITE_ROW;
    sqlite3_reset(m->has_run);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return output_sqlite_error(err, f->db, rc, "%s: reading the RunRange", f->path);
    return CAF_OK;
}

caf_granularity caf_collector_output_granularity(const caf_collector_output *f)
{
    return f->runs.granularity;
}

size_t caf_collector_output_object_count(const caf_collector_output *f)
{
    return f->n_objects;
}

/* The key counts, read now if the file was opened lazily (a file that cannot answer leaves them 0, logged). */
static void ensure_counts(const caf_collector_output *f)
{
    caf_error err = {0};
    if (!f->counts_loaded && load_counts(mutable_of(f), &err) != CAF_OK)
        caf_log_error("%s", err.message);
}

static const caf_collector_object_info *find_info(const caf_collector_output *f, const char *name)
{
    for (size_t i = 0; i < f->n_objects; i++)
        if (!strcmp(f->objects[i].name, name))
            return &f->objects[i];
    return NULL;
}

const caf_collector_object_info *caf_collector_output_object(const caf_collector_output *f, size_t i)
{
    if (i >= f->n_objects)
        return NULL;
    ensure_counts(f);
    return &f->objects[i];
}

const caf_collector_object_info *caf_collector_output_find_object(const caf_collector_output *f, const char *name)
{
    const caf_collector_object_info *o = find_info(f, name);
    if (o)
        ensure_counts(f);
    return o;
}

bool caf_collector_output_has_object(const caf_collector_output *f, const char *name)
{
    return find_info(f, name) != NULL;
}

void caf_collector_output_close(caf_collector_output *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->pieces);
    sqlite3_finalize(f->chunks);
    sqlite3_finalize(f->keys);
    sqlite3_finalize(f->has_run);
    sqlite3_close(f->db);
    if (f->witness >= 0) /* after the connection: closing a descriptor of the file drops its locks */
        close(f->witness);
    for (size_t i = 0; i < f->n_objects; i++) {
        free((char *)f->objects[i].name);
        free((char *)f->objects[i].type_name);
    }
    free(f->objects);
    json_decref(f->parameters);
    caf_run_range_clear(&f->runs);
    free(f->path);
    free(f->collector);
    free(f->module);
    free(f);
}

static const char *sqlite_type_name(int type)
{
    switch (type) {
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT: return "a real number";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "a blob";
    default: return "NULL";
    }
}

caf_status output_column_text(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                              const char *column, const char **out, caf_error *err)
{
    int type = sqlite3_column_type(s, col);
    const char *text = type == SQLITE_TEXT ? (const char *)sqlite3_column_text(s, col) : NULL;
    if (type == SQLITE_TEXT && !text)
        return caf_error_set(err, CAF_ERR_NOMEM, "%s: table '%s', row %lld: out of memory reading %s", path, table,
                             (long long)row, column);
    if (!text || !*text || strlen(text) != (size_t)sqlite3_column_bytes(s, col))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: table '%s', row %lld: %s is %s, not a name", path, table,
                             (long long)row, column, text ? "empty or holds a NUL byte" : sqlite_type_name(type));
    /* Names go into one-line messages and printed listings. */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: table '%s', row %lld: %s holds a control character", path,
                                 table, (long long)row, column);
    *out = text;
    return CAF_OK;
}

caf_status output_column_int(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                             const char *column, sqlite3_int64 min, sqlite3_int64 max, sqlite3_int64 *out,
                             caf_error *err)
{
    int type = sqlite3_column_type(s, col);
    if (type != SQLITE_INTEGER)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: table '%s', row %lld: %s is %s, not an integer", path, table,
                             (long long)row, column, sqlite_type_name(type));
    sqlite3_int64 v = sqlite3_column_int64(s, col);
    if (v < min || v > max)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: table '%s', row %lld: %s %lld is not in %lld..%lld", path, table,
                             (long long)row, column, (long long)v, (long long)min, (long long)max);
    *out = v;
    return CAF_OK;
}

caf_status output_column_exprun(sqlite3_stmt *s, int col, const char *path, const char *table, sqlite3_int64 row,
                                caf_exprun *out, caf_error *err)
{
    sqlite3_int64 exp, run;
    caf_status st = output_column_int(s, col, path, table, row, "exp", -1, INT32_MAX, &exp, err);
    if (st == CAF_OK)
        st = output_column_int(s, col + 1, path, table, row, "run", -1, INT32_MAX, &run, err);
    if (st == CAF_OK)
        *out = (caf_exprun){(int)exp, (int)run};
    return st;
}

/* The meta values the reader needs, in one pass over the table (malloc'd; NULL when absent). */
typedef struct meta_values {
    char *format, *version, *granularity, *params, *collector, *module;
} meta_values;

static caf_status read_meta(caf_collector_output *f, meta_values *m, caf_error *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(f->db, "SELECT key, value FROM meta", -1, &s, NULL);
    if (rc != SQLITE_OK) /* no meta table: not a collector output, said by the caller */
        return CAF_OK;
    struct {
        const char *key;
        char **value;
    } wanted[] = {{"format", &m->format},         {"format_version", &m->version}, {"granularity", &m->granularity},
                  {"parameters", &m->params},     {"collector", &m->collector},    {"module", &m->module}};
    caf_status st = CAF_OK;
    while (st == CAF_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        const char *value = (const char *)sqlite3_column_text(s, 1);
        for (size_t i = 0; key && value && i < sizeof wanted / sizeof wanted[0]; i++) {
            if (strcmp(key, wanted[i].key) != 0)
                continue;
            free(*wanted[i].value);
            if (!(*wanted[i].value = strdup(value)))
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
    }
    sqlite3_finalize(s);
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, f->db, rc, "%s: reading the metadata", f->path);
    return st;
}

/* Checks the meta values and sets the handle's granularity and parameters from them. */
static caf_status check_meta(caf_collector_output *f, const meta_values *m, caf_granularity *g, caf_error *err)
{
    if (!m->format || strcmp(m->format, OUTPUT_FORMAT_NAME) != 0 || !m->version || !f->collector || !f->module)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: not a collector output (no '%s' metadata)", f->path,
                             OUTPUT_FORMAT_NAME);
    if (atoi(m->version) < 1 || atoi(m->version) > CAF_COLLECTOR_FORMAT_VERSION)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: collector output format version %s is not supported (this caf "
                             "reads up to %d)", f->path, m->version, CAF_COLLECTOR_FORMAT_VERSION);
    if (caf_granularity_parse(m->granularity, g, err) != CAF_OK)
        return caf_error_prefix(err, "%s: ", f->path);
    if (!(f->parameters = json_loads(m->params ? m->params : "{}", 0, NULL)) || !json_is_object(f->parameters))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: the collector parameters are not a JSON object", f->path);
    return CAF_OK;
}

static caf_status load_meta(caf_collector_output *f, caf_error *err)
{
    meta_values m = {0};
    caf_status st = read_meta(f, &m, err);
    f->collector = m.collector;
    f->module = m.module;
    caf_granularity g = CAF_GRANULARITY_RUN;
    if (st == CAF_OK)
        st = check_meta(f, &m, &g, err);
    caf_run_range_init(&f->runs, g);
    free(m.format);
    free(m.version);
    free(m.granularity);
    free(m.params);
    return st;
}

/* The RunRange, O(runs): what an algorithm execution's lazily opened input reads only when asked. */
static caf_status load_runs(caf_collector_output *f, caf_error *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(f->db, "SELECT rowid, exp, run FROM runs ORDER BY exp, run", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, f->db, rc, "%s: reading the RunRange", f->path);
    caf_status st = CAF_OK;
    while (st == CAF_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        caf_exprun r;
        st = output_column_exprun(s, 1, f->path, "runs", sqlite3_column_int64(s, 0), &r, err);
        if (st == CAF_OK)
            st = caf_run_range_add(&f->runs, r, err);
    }
    sqlite3_finalize(s);
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, f->db, rc, "%s: reading the RunRange", f->path);
    if (st != CAF_OK) { /* asked again, the file says the same: an empty range meanwhile, never a partial one */
        caf_granularity g = f->runs.granularity;
        caf_run_range_clear(&f->runs);
        caf_run_range_init(&f->runs, g);
        return st;
    }
    f->runs_loaded = true;
    return CAF_OK;
}

/* The object list (names and types), without their key counts. */
static caf_status load_objects(caf_collector_output *f, caf_error *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(f->db, "SELECT rowid, name, type FROM objects ORDER BY name", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, f->db, rc, "%s: reading the object list", f->path);
    caf_status st = CAF_OK;
    while (st == CAF_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_int64 row = sqlite3_column_int64(s, 0);
        const char *name, *type;
        if ((st = output_column_text(s, 1, f->path, "objects", row, "name", &name, err)) != CAF_OK ||
            (st = output_column_text(s, 2, f->path, "objects", row, "type", &type, err)) != CAF_OK)
            break;
        if (find_info(f, name)) {
            st = caf_error_set(err, CAF_ERR_FORMAT, "%s: table 'objects', row %lld: object '%s' is listed twice", f->path,
                               (long long)row, name);
            break;
        }
        caf_collector_object_info *n = realloc(f->objects, (f->n_objects + 1) * sizeof *n);
        if (!n) {
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        f->objects = n;
        caf_collector_object_info *o = &f->objects[f->n_objects++];
        o->name = strdup(name);
        o->type_name = strdup(type);
        o->key_count = 0;
        if (!o->name || !o->type_name)
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    sqlite3_finalize(s);
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, f->db, rc, "%s: reading the object list", f->path);
    return st;
}

/* Every object's number of keys holding data, O(pieces): only listings (caf collector, Python) need it. */
static caf_status load_counts(caf_collector_output *f, caf_error *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(f->db, "SELECT name, COUNT(*) FROM (SELECT DISTINCT name, exp, run FROM pieces) GROUP BY name",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return output_sqlite_error(err, f->db, rc, "%s: counting the objects' keys", f->path);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        caf_collector_object_info *o = name ? (caf_collector_object_info *)find_info(f, name) : NULL;
        if (o)
            o->key_count = (size_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return output_sqlite_error(err, f->db, rc, "%s: counting the objects' keys", f->path);
    f->counts_loaded = true;
    return CAF_OK;
}

static caf_status open_output(const char *path, bool lazy, caf_collector_output **out, caf_error *err)
{
    *out = NULL;
    caf_collector_output *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    f->witness = -1;
    caf_status st = CAF_OK;
    int rc = SQLITE_OK;
    if (!caf_path_exists(path))
        st = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no such collector output", path);
    else if ((rc = sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READONLY, NULL)) != SQLITE_OK)
        st = output_sqlite_error(err, f->db, rc, "%s: cannot open collector output", path);
    /* Memory-mapped reads: blobs span many pages, and a read call per page costs more than the data. */
    if (st == CAF_OK)
        sqlite3_exec(f->db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    /* A finished output is never written again (writers make a new file and rename it into place), so the
     * shared lock taken by the first read is kept until close: without this, every statement takes and
     * drops the lock and looks for a journal and a WAL file again (six system calls; an algorithm
     * execution makes dozens of statements). */
    if (st == CAF_OK)
        sqlite3_exec(f->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL);
    if (st == CAF_OK)
        st = load_meta(f, err);
    if (st == CAF_OK)
        st = load_objects(f, err);
    if (st == CAF_OK && !lazy)
        st = load_runs(f, err);
    if (st == CAF_OK && !lazy)
        st = load_counts(f, err);
    if (st == CAF_OK &&
        ((rc = sqlite3_prepare_v2(f->db, "SELECT id FROM pieces WHERE name = ? AND exp = ? AND run = ? ORDER BY idx", -1,
                                  &f->pieces, NULL)) != SQLITE_OK ||
         (rc = sqlite3_prepare_v2(f->db, "SELECT seq, data FROM chunks WHERE piece = ? ORDER BY seq", -1, &f->chunks,
                                  NULL)) != SQLITE_OK ||
         (rc = sqlite3_prepare_v2(f->db, "SELECT exp, run, MIN(id) FROM pieces WHERE name = ? GROUP BY exp, run ORDER BY exp, run", -1,
                                  &f->keys, NULL)) != SQLITE_OK))
        st = output_sqlite_error(err, f->db, rc, "%s: not a collector output", path);
    if (st != CAF_OK) {
        caf_collector_output_close(f);
        return st;
    }
    *out = f;
    return CAF_OK;
}

caf_status caf_collector_output_open(const char *path, caf_collector_output **out, caf_error *err)
{
    return open_output(path, false, out, err);
}

caf_status caf_collector_output_open_lazy(const char *path, caf_collector_output **out, caf_error *err)
{
    if (output_warm_take(path, out)) /* opened ahead by a zygote's child, and the file is still the same */
        return CAF_OK;
    return open_output(path, true, out, err);
}

caf_status output_open_cold(const char *path, caf_collector_output **out, caf_error *err)
{
    return open_output(path, true, out, err);
}

void output_set_witness(caf_collector_output *f, int fd)
{
    f->witness = fd;
}

/* ---- Reading objects ---- */

typedef struct chunk_cursor {
    sqlite3 *db;
    sqlite3_stmt *stmt; /* SELECT seq, data FROM chunks WHERE piece = ? ORDER BY seq */
} chunk_cursor;

static caf_status chunk_source(void *ud, const void **data, size_t *size, caf_error *err)
{
    chunk_cursor *c = ud;
    int rc = sqlite3_step(c->stmt);
    if (rc == SQLITE_DONE) {
        *data = NULL;
        *size = 0;
        return CAF_OK;
    }
    if (rc != SQLITE_ROW)
        return output_sqlite_error(err, c->db, rc, "reading a chunk");
    long long seq = (long long)sqlite3_column_int64(c->stmt, 0);
    /* Bytes are bytes: a blob edited with SQL's || operator turns into text holding the same bytes. */
    int type = sqlite3_column_type(c->stmt, 1);
    if (type != SQLITE_BLOB && type != SQLITE_TEXT)
        return caf_error_set(err, CAF_ERR_FORMAT, "chunk %lld: data is %s, not a blob", seq, sqlite_type_name(type));
    *data = sqlite3_column_blob(c->stmt, 1);
    *size = (size_t)sqlite3_column_bytes(c->stmt, 1);
    if (!*size || !*data)
        return caf_error_set(err, CAF_ERR_FORMAT, "chunk %lld: data is empty", seq);
    return CAF_OK;
}

caf_status output_read_piece(sqlite3 *db, sqlite3_stmt *chunks_stmt, sqlite3_int64 piece, const char *type,
                             caf_object **out, caf_error *err)
{
    sqlite3_reset(chunks_stmt);
    sqlite3_bind_int64(chunks_stmt, 1, piece);
    chunk_cursor c = {db, chunks_stmt};
    caf_status st = caf_object_read(chunk_source, &c, out, err);
    sqlite3_reset(chunks_stmt);
    /* Readers trust the declared type (an algorithm asks for a hist1d and calls hist1d functions on it). */
    if (st == CAF_OK && strcmp(caf_object_type_name(*out), type) != 0) {
        st = caf_error_set(err, CAF_ERR_FORMAT, "the piece is a %s, but table 'objects' says %s",
                           caf_object_type_name(*out), type);
        caf_object_free(*out);
        *out = NULL;
    }
    return st == CAF_OK ? st : caf_error_prefix(err, "table 'pieces', row %lld: ", (long long)piece);
}

caf_status output_merge_piece(sqlite3 *db, sqlite3_stmt *chunks_stmt, sqlite3_int64 piece, const char *type,
                              caf_object **acc, caf_error *err)
{
    if (!*acc)
        return output_read_piece(db, chunks_stmt, piece, type, acc, err);
    sqlite3_reset(chunks_stmt);
    sqlite3_bind_int64(chunks_stmt, 1, piece);
    chunk_cursor c = {db, chunks_stmt};
    caf_status st = obj_merge_from_source(*acc, chunk_source, &c, err);
    sqlite3_reset(chunks_stmt);
    return st == CAF_OK ? st : caf_error_prefix(err, "table 'pieces', row %lld: ", (long long)piece);
}

caf_status output_accumulate(caf_object **acc, caf_object *obj, caf_error *err)
{
    if (!*acc) {
        *acc = obj;
        return CAF_OK;
    }
    const caf_object *list[1] = {obj};
    caf_status st = caf_object_merge(*acc, list, 1, err);
    caf_object_free(obj);
    return st;
}

caf_status output_read_key(sqlite3 *db, sqlite3_stmt *pieces_stmt, sqlite3_stmt *chunks_stmt, const char *name,
                           const char *type, caf_exprun key, caf_object **out, caf_error *err)
{
    *out = NULL;
    sqlite3_reset(pieces_stmt);
    sqlite3_bind_text(pieces_stmt, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(pieces_stmt, 2, key.exp);
    sqlite3_bind_int(pieces_stmt, 3, key.run);
    /* Collect the piece ids first: reading a piece uses another statement on the same connection. */
    sqlite3_int64 ids[64], *many = NULL;
    size_t n = 0, cap = 64;
    sqlite3_int64 *list = ids;
    int rc;
    caf_status st = CAF_OK;
    while ((rc = sqlite3_step(pieces_stmt)) == SQLITE_ROW) {
        if (n == cap) {
            sqlite3_int64 *g = realloc(many, 2 * cap * sizeof *g);
            if (!g) {
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                break;
            }
            if (!many)
                memcpy(g, ids, sizeof ids);
            many = list = g;
            cap *= 2;
        }
        list[n++] = sqlite3_column_int64(pieces_stmt, 0);
    }
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, db, rc, "listing the pieces of '%s'", name);
    sqlite3_reset(pieces_stmt);
    caf_object *acc = NULL;
    for (size_t i = 0; st == CAF_OK && i < n; i++)
        st = output_merge_piece(db, chunks_stmt, list[i], type, &acc, err);
    free(many);
    if (st != CAF_OK) {
        caf_object_free(acc);
        char k[CAF_EXPRUN_TEXT_MAX];
        return caf_error_prefix(err, "object '%s' for %s: ", name, caf_exprun_format(key, k, sizeof k));
    }
    *out = acc;
    return CAF_OK;
}

static caf_status require_object(const caf_collector_output *f, const char *name, const char **type, caf_error *err)
{
    const caf_collector_object_info *o = find_info(f, name);
    if (o) {
        if (type)
            *type = o->type_name;
        return CAF_OK;
    }
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: collector %s has no object '%s' registered", f->path, f->collector,
                         name);
}

caf_status caf_collector_output_keys(const caf_collector_output *f, const char *name, caf_exprun **keys,
                                     size_t *count, caf_error *err)
{
    *keys = NULL;
    *count = 0;
    caf_status st = require_object(f, name, NULL, err);
    if (st != CAF_OK)
        return st;
    sqlite3_reset(f->keys);
    sqlite3_bind_text(f->keys, 1, name, -1, SQLITE_TRANSIENT);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(f->keys)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            caf_exprun *n = realloc(*keys, cap * sizeof *n);
            if (!n) {
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                break;
            }
            *keys = n;
        }
        if ((st = output_column_exprun(f->keys, 0, f->path, "pieces", sqlite3_column_int64(f->keys, 2), &(*keys)[*count],
                                       err)) != CAF_OK)
            break;
        ++*count;
    }
    if (st == CAF_OK && rc != SQLITE_DONE)
        st = output_sqlite_error(err, f->db, rc, "%s: listing the keys of '%s'", f->path, name);
    sqlite3_reset(f->keys);
    if (st != CAF_OK) {
        free(*keys);
        *keys = NULL;
        *count = 0;
    }
    return st;
}

caf_status caf_collector_output_read(const caf_collector_output *f, const char *name, caf_exprun key, caf_object **out,
                                     caf_error *err)
{
    *out = NULL;
    const char *type = NULL;
    caf_status st = require_object(f, name, &type, err);
    if (st == CAF_OK)
        st = output_read_key(f->db, f->pieces, f->chunks, name, type, key, out, err);
    if (st != CAF_OK)
        return st == CAF_ERR_NOT_FOUND ? st : caf_error_prefix(err, "%s: ", f->path);
    if (!*out) {
        char k[CAF_EXPRUN_TEXT_MAX];
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: object '%s' of collector %s has no data for %s", f->path, name,
                             f->collector, caf_exprun_format(key, k, sizeof k));
    }
    return CAF_OK;
}

/* Merges what f holds of name for runs into *acc (which may stay NULL when nothing is found). */
static caf_status merge_runs_into(const caf_collector_output *f, const char *name, const caf_exprun *runs, size_t count,
                                  caf_object **acc, caf_error *err)
{
    const char *type = NULL;
    caf_status st = require_object(f, name, &type, err);
    if (st != CAF_OK)
        return st;
    caf_exprun *keys = NULL;
    size_t nkeys = 0;
    if (f->runs.granularity == CAF_GRANULARITY_ALL) {
        bool wanted = !runs;
        for (size_t i = 0; st == CAF_OK && !wanted && i < count; i++)
            st = caf_collector_output_has_run(f, runs[i], &wanted, err);
        if (st != CAF_OK || !wanted)
            return st;
        static const caf_exprun all = {-1, -1};
        runs = &all;
        count = 1;
    } else if (!runs) {
        if ((st = caf_collector_output_keys(f, name, &keys, &nkeys, err)) != CAF_OK)
            return st;
        runs = keys;
        count = nkeys;
    }
    /* One read transaction for all runs: otherwise every statement takes and drops the file's shared
     * lock, which costs more than reading a run's histogram. */
    bool in_transaction = sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; st == CAF_OK && i < count; i++) {
        caf_object *obj;
        st = output_read_key(f->db, f->pieces, f->chunks, name, type, runs[i], &obj, err);
        if (st == CAF_OK && obj)
            st = output_accumulate(acc, obj, err);
    }
    if (in_transaction)
        sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
    free(keys);
    return st == CAF_OK ? st : caf_error_prefix(err, "%s: ", f->path);
}

caf_status caf_collector_output_merge_runs(const caf_collector_output *f, const char *name, const caf_exprun *runs,
                                           size_t count, caf_object **out, caf_error *err)
{
    *out = NULL;
    caf_status st = merge_runs_into(f, name, runs, count, out, err);
    if (st != CAF_OK) {
        caf_object_free(*out);
        *out = NULL;
        return st;
    }
    if (!*out)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no data for object '%s' of collector %s in the %zu runs asked for",
                             f->path, name, f->collector, runs ? count : caf_collector_output_run_range(f)->count);
    return CAF_OK;
}

caf_status caf_collected_merge_files(const char *const *paths, size_t npaths, const char *name, const caf_exprun *runs,
                                     size_t count, caf_object **out, caf_error *err)
{
    *out = NULL;
    caf_status st = CAF_OK;
    char *collector = NULL;
    caf_granularity granularity = CAF_GRANULARITY_RUN;
    caf_object *acc = NULL;
    for (size_t i = 0; st == CAF_OK && i < npaths; i++) {
        caf_collector_output *f;
        if ((st = caf_collector_output_open(paths[i], &f, err)) != CAF_OK)
            break;
        if (!collector) {
            collector = strdup(f->collector);
            granularity = f->runs.granularity;
            if (!collector)
                st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else if (strcmp(collector, f->collector) != 0) {
            st = caf_error_set(err, CAF_ERR_INVALID, "%s: collector %s differs from %s in %s", paths[i], f->collector,
                               collector, paths[0]);
        } else if (granularity != f->runs.granularity) {
            st = caf_error_set(err, CAF_ERR_INVALID, "%s: granularity '%s' differs from '%s' in %s", paths[i],
                               caf_granularity_name(f->runs.granularity), caf_granularity_name(granularity), paths[0]);
        }
        if (st == CAF_OK)
            st = merge_runs_into(f, name, runs, count, &acc, err);
        caf_collector_output_close(f);
    }
    free(collector);
    if (st == CAF_OK && !acc)
        st = caf_error_set(err, CAF_ERR_NOT_FOUND, "no data for object '%s' in %zu collector output file%s", name, npaths,
                           npaths == 1 ? "" : "s");
    if (st != CAF_OK) {
        caf_object_free(acc);
        return st;
    }
    *out = acc;
    return CAF_OK;
}

caf_status caf_collected_run_range_of_files(const char *const *paths, size_t npaths, caf_run_range *out,
                                            caf_error *err)
{
    caf_run_range_init(out, CAF_GRANULARITY_RUN);
    caf_status st = CAF_OK;
    for (size_t i = 0; st == CAF_OK && i < npaths; i++) {
        caf_collector_output *f;
        if ((st = caf_collector_output_open(paths[i], &f, err)) != CAF_OK)
            break;
        if (i == 0)
            out->granularity = f->runs.granularity;
        st = caf_run_range_merge(out, &f->runs, err);
        if (st != CAF_OK)
            caf_error_prefix(err, "%s: ", paths[i]);
        caf_collector_output_close(f);
    }
    if (st != CAF_OK)
        caf_run_range_clear(out);
    return st;
}
