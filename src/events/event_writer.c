/* Event-file writer: appends batches of events to extendible chunked datasets in a temporary file
 * beside the final path, computes the metadata from what was appended, and renames the file into place
 * at close, so that readers never see a half-written event file under its final name. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/version.h"
#include "caf/temp_file.h"
#include "events/event_file_internal.h"
#include "events/hdf5_util.h"

typedef struct wdset {
    hid_t id;
    caf_column_type type;
} wdset;

typedef struct warray {
    hid_t offsets;
    wdset *fields;
    size_t n_fields;
    int64_t total; /* values written so far: the next event's first offset */
} warray;

struct caf_event_writer {
    char *final_path;
    char *temp_path;
    hid_t file;
    char *creator;
    char *creator_version;
    uint64_t seed;
    char **parents;
    size_t n_parents;
    hid_t exp, run, event;
    wdset *columns;
    size_t n_columns;
    warray *arrays;
    size_t n_arrays;
    bool has_trigger;
    size_t n_lines;
    hid_t trig_result, trig_nonprescaled, trig_present;
    int64_t n_events;
    caf_run_count *runs; /* sorted */
    size_t n_runs, cap_runs;
    size_t last_run; /* index of the run of the previous event: events usually come in runs */
    int64_t (*segments)[4]; /* (exp, run, first event, events) of each stretch of one run */
    size_t n_segments, cap_segments;
};

static caf_status writer_fail(caf_event_writer *w, caf_error *err, const char *what)
{
    return caf_h5_fail(err, CAF_ERR_IO, w->final_path, what);
}

static hid_t create_extendible(hid_t loc, const char *name, hid_t type, int rank, hsize_t chunk, hsize_t width,
                               int deflate)
{
    hsize_t dims[2] = {0, width}, maxdims[2] = {H5S_UNLIMITED, width}, chunks[2] = {chunk, width};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = caf_h5_untimed_dcpl(); /* equal content gives equal bytes */
    H5Pset_chunk(dcpl, rank, chunks);
    if (deflate > 0) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)deflate);
    }
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

/* Appends n rows (of width values each, width 0 meaning a 1-D dataset) to dataset d. */
static herr_t append_rows(hid_t d, hid_t memtype, const void *data, hsize_t n, hsize_t width)
{
    if (n == 0)
        return 0;
    int rank = width ? 2 : 1;
    hid_t space = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    hsize_t start[2] = {dims[0], 0}, count[2] = {n, width};
    dims[0] += n;
    if (H5Dset_extent(d, dims) < 0)
        return -1;
    space = H5Dget_space(d);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t mem = H5Screate_simple(rank, count, NULL);
    herr_t st = H5Dwrite(d, memtype, mem, space, H5P_DEFAULT, data);
    H5Sclose(mem);
    H5Sclose(space);
    return st;
}

static char *dup_or(const char *s, const char *fallback)
{
    return strdup(s ? s : fallback);
}

static caf_status check_schema(const caf_event_schema *s, const char *path, caf_error *err)
{
    for (size_t i = 0; i < s->n_columns; i++)
        if (!caf_event_name_is_valid(s->columns[i].name) || caf_column_type_size(s->columns[i].type) == 0)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: column %zu: invalid name '%s' or type", path, i,
                                 s->columns[i].name ? s->columns[i].name : "");
    for (size_t a = 0; a < s->n_arrays; a++) {
        if (!caf_event_name_is_valid(s->arrays[a].name))
            return caf_error_set(err, CAF_ERR_INVALID, "%s: array %zu: invalid name '%s'", path, a,
                                 s->arrays[a].name ? s->arrays[a].name : "");
        for (size_t f = 0; f < s->arrays[a].n_fields; f++)
            if (!caf_event_name_is_valid(s->arrays[a].fields[f].name) ||
                caf_column_type_size(s->arrays[a].fields[f].type) == 0)
                return caf_error_set(err, CAF_ERR_INVALID, "%s: array '%s' field %zu: invalid name or type", path,
                                     s->arrays[a].name, f);
    }
    if (s->has_trigger) {
        if (s->n_trigger_lines == 0)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: trigger data needs at least one trigger line", path);
        for (size_t l = 0; l < s->n_trigger_lines; l++) {
            if (!s->trigger_lines[l] || !*s->trigger_lines[l])
                return caf_error_set(err, CAF_ERR_INVALID, "%s: trigger line %zu has no name", path, l);
            if (s->trigger_prescales && s->trigger_prescales[l] < 1)
                return caf_error_set(err, CAF_ERR_INVALID, "%s: trigger line '%s' has prescale %d (must be >= 1)",
                                     path, s->trigger_lines[l], s->trigger_prescales[l]);
            for (size_t k = 0; k < l; k++)
                if (strcmp(s->trigger_lines[k], s->trigger_lines[l]) == 0)
                    return caf_error_set(err, CAF_ERR_INVALID, "%s: trigger line '%s' is listed twice", path,
                                         s->trigger_lines[l]);
        }
    }
    return CAF_OK;
}

/* Creates the groups and empty datasets of the schema. */
static caf_status create_layout(caf_event_writer *w, const caf_event_schema *s, const caf_event_writer_options *o,
                                caf_error *err)
{
    hsize_t chunk = o && o->chunk_events ? o->chunk_events : CAF_EVENT_DEFAULT_CHUNK;
    /* array fields hold several entries per event: bigger chunks keep the chunk count per event similar */
    hsize_t value_chunk = chunk * 4;
    int deflate = o ? o->deflate_level : 0;
    const char *fmt = CAF_EF_FORMAT_NAME;
    int32_t version = CAF_EVENT_FORMAT_VERSION;
    caf_status rc;
    if ((rc = caf_h5_write_attr_string(w->file, CAF_EF_ATTR_FORMAT, fmt, w->final_path, err)) ||
        (rc = caf_h5_write_attr(w->file, CAF_EF_ATTR_VERSION, H5T_NATIVE_INT32, &version, 0, w->final_path, err)))
        return rc;
    hid_t events = caf_h5_create_group(w->file, CAF_EF_EVENTS);
    hid_t columns = caf_h5_create_group(w->file, CAF_EF_COLUMNS);
    hid_t arrays = caf_h5_create_group(w->file, CAF_EF_ARRAYS);
    if (events < 0 || columns < 0 || arrays < 0)
        rc = writer_fail(w, err, "cannot create groups");
    if (!rc) {
        w->exp = create_extendible(events, "exp", H5T_STD_I32LE, 1, chunk, 0, deflate);
        w->run = create_extendible(events, "run", H5T_STD_I32LE, 1, chunk, 0, deflate);
        w->event = create_extendible(events, "event", H5T_STD_U32LE, 1, chunk, 0, deflate);
        if (w->exp < 0 || w->run < 0 || w->event < 0)
            rc = writer_fail(w, err, "cannot create event id datasets");
    }
    for (size_t i = 0; !rc && i < s->n_columns; i++) {
        w->columns[i].type = s->columns[i].type;
        w->columns[i].id = create_extendible(columns, s->columns[i].name, caf_h5_native_type(s->columns[i].type), 1,
                                             chunk, 0, deflate);
        if (w->columns[i].id < 0)
            rc = writer_fail(w, err, "cannot create column dataset");
    }
    for (size_t a = 0; !rc && a < s->n_arrays; a++) {
        warray *wa = &w->arrays[a];
        hid_t g = caf_h5_create_group(arrays, s->arrays[a].name);
        if (g < 0) {
            rc = writer_fail(w, err, "cannot create array group");
            break;
        }
        wa->offsets = create_extendible(g, "offsets", H5T_STD_I64LE, 1, chunk, 0, deflate);
        int64_t zero = 0;
        if (wa->offsets < 0 || append_rows(wa->offsets, H5T_NATIVE_INT64, &zero, 1, 0) < 0)
            rc = writer_fail(w, err, "cannot create offsets dataset");
        for (size_t f = 0; !rc && f < wa->n_fields; f++) {
            const caf_column_desc *fd = &s->arrays[a].fields[f];
            wa->fields[f].type = fd->type;
            wa->fields[f].id = create_extendible(g, fd->name, caf_h5_native_type(fd->type), 1, value_chunk, 0, deflate);
            if (wa->fields[f].id < 0)
                rc = writer_fail(w, err, "cannot create array field dataset");
        }
        H5Gclose(g);
    }
    if (!rc && s->has_trigger) {
        hid_t g = caf_h5_create_group(w->file, CAF_EF_TRIGGER);
        int32_t *prescales = malloc(s->n_trigger_lines * sizeof *prescales);
        for (size_t l = 0; prescales && l < s->n_trigger_lines; l++)
            prescales[l] = s->trigger_prescales ? s->trigger_prescales[l] : 1;
        if (g < 0 || !prescales)
            rc = writer_fail(w, err, "cannot create trigger group");
        if (!rc)
            rc = caf_h5_write_strings(g, "lines", s->trigger_lines, s->n_trigger_lines, w->final_path, err);
        if (!rc)
            rc = caf_h5_write_array(g, "prescales", H5T_NATIVE_INT32, prescales, s->n_trigger_lines, w->final_path,
                                    err);
        if (!rc) {
            w->trig_result = create_extendible(g, "result", H5T_STD_I8LE, 2, chunk, s->n_trigger_lines, deflate);
            w->trig_nonprescaled =
                create_extendible(g, "result_nonprescaled", H5T_STD_I8LE, 2, chunk, s->n_trigger_lines, deflate);
            w->trig_present = create_extendible(g, "present", H5T_STD_U8LE, 1, chunk, 0, deflate);
            if (w->trig_result < 0 || w->trig_nonprescaled < 0 || w->trig_present < 0)
                rc = writer_fail(w, err, "cannot create trigger datasets");
        }
        free(prescales);
        if (g >= 0)
            H5Gclose(g);
    }
    if (events >= 0)
        H5Gclose(events);
    if (columns >= 0)
        H5Gclose(columns);
    if (arrays >= 0)
        H5Gclose(arrays);
    return rc;
}

static void close_datasets(caf_event_writer *w)
{
    hid_t ids[] = {w->exp, w->run, w->event, w->trig_result, w->trig_nonprescaled, w->trig_present};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (ids[i] > 0)
            H5Dclose(ids[i]);
    for (size_t i = 0; w->columns && i < w->n_columns; i++)
        if (w->columns[i].id > 0)
            H5Dclose(w->columns[i].id);
    for (size_t a = 0; w->arrays && a < w->n_arrays; a++) {
        if (w->arrays[a].offsets > 0)
            H5Dclose(w->arrays[a].offsets);
        for (size_t f = 0; w->arrays[a].fields && f < w->arrays[a].n_fields; f++)
            if (w->arrays[a].fields[f].id > 0)
                H5Dclose(w->arrays[a].fields[f].id);
    }
    if (w->file > 0)
        H5Fclose(w->file);
    w->file = 0;
}

static void writer_free(caf_event_writer *w)
{
    close_datasets(w);
    for (size_t a = 0; w->arrays && a < w->n_arrays; a++)
        free(w->arrays[a].fields);
    free(w->arrays);
    free(w->columns);
    caf_h5_free_strings(w->parents, w->n_parents);
    free(w->creator);
    free(w->creator_version);
    free(w->runs);
    free(w->segments);
    free(w->final_path);
    free(w->temp_path);
    free(w);
}

void caf_event_writer_abort(caf_event_writer *w)
{
    if (!w)
        return;
    close_datasets(w);
    if (w->temp_path)
        unlink(w->temp_path);
    writer_free(w);
}

caf_status caf_event_writer_open(caf_event_writer **out, const char *path, const caf_event_schema *schema,
                                 const caf_event_writer_options *options, caf_error *err)
{
    *out = NULL;
    caf_hdf5_silence();
    caf_status rc = check_schema(schema, path, err);
    if (rc)
        return rc;
    caf_event_writer *w = calloc(1, sizeof *w);
    if (!w)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    w->final_path = strdup(path);
    w->temp_path = caf_temp_template(path); /* names its writer (caf/temp_file.h) */
    w->creator = dup_or(options ? options->creator : NULL, "caf");
    w->creator_version = dup_or(options ? options->creator_version : NULL, CAF_VERSION_STRING);
    w->seed = options ? options->random_seed : 0;
    w->n_parents = options ? options->n_parents : 0;
    w->parents = calloc(w->n_parents + 1, sizeof *w->parents);
    w->n_columns = schema->n_columns;
    w->columns = calloc(w->n_columns + 1, sizeof *w->columns);
    w->n_arrays = schema->n_arrays;
    w->arrays = calloc(w->n_arrays + 1, sizeof *w->arrays);
    w->has_trigger = schema->has_trigger;
    w->n_lines = schema->has_trigger ? schema->n_trigger_lines : 0;
    bool ok = w->final_path && w->temp_path && w->creator && w->creator_version && w->parents && w->columns &&
              w->arrays;
    for (size_t i = 0; ok && i < w->n_parents; i++)
        ok = (w->parents[i] = strdup(options->parents[i])) != NULL;
    for (size_t a = 0; ok && a < w->n_arrays; a++) {
        w->arrays[a].n_fields = schema->arrays[a].n_fields;
        ok = (w->arrays[a].fields = calloc(w->arrays[a].n_fields + 1, sizeof *w->arrays[a].fields)) != NULL;
    }
    if (!ok) {
        writer_free(w);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    int fd = mkstemp(w->temp_path);
    if (fd >= 0)
        fchmod(fd, 0644); /* mkstemp makes 0600; event files are meant to be shared */
    if (fd < 0) {
        rc = caf_error_errno(err, errno, "%s: cannot create temporary file", path);
        free(w->temp_path);
        w->temp_path = NULL;
        writer_free(w);
        return rc;
    }
    close(fd);
    w->file = H5Fcreate(w->temp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0)
        rc = writer_fail(w, err, "cannot create HDF5 file");
    else
        rc = create_layout(w, schema, options, err);
    if (rc) {
        caf_event_writer_abort(w);
        return rc;
    }
    *out = w;
    return CAF_OK;
}

/* Counts one event of (exp, run) in the sorted run table. */
static caf_status count_run(caf_event_writer *w, int exp, int run, caf_error *err)
{
    caf_exprun r = {exp, run};
    if (w->n_runs && w->runs[w->last_run].exp == exp && w->runs[w->last_run].run == run) {
        w->runs[w->last_run].events++;
        return CAF_OK;
    }
    size_t lo = 0, hi = w->n_runs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (caf_ef_exprun_cmp((caf_exprun){w->runs[mid].exp, w->runs[mid].run}, r) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < w->n_runs && w->runs[lo].exp == exp && w->runs[lo].run == run) {
        w->runs[lo].events++;
        w->last_run = lo;
        return CAF_OK;
    }
    if (w->n_runs == w->cap_runs) {
        size_t cap = w->cap_runs ? 2 * w->cap_runs : 16;
        caf_run_count *grown = realloc(w->runs, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        w->runs = grown;
        w->cap_runs = cap;
    }
    memmove(&w->runs[lo + 1], &w->runs[lo], (w->n_runs - lo) * sizeof *w->runs);
    w->runs[lo] = (caf_run_count){exp, run, 1};
    w->n_runs++;
    w->last_run = lo;
    return CAF_OK;
}

/* Extends the last run segment with the event being counted (number w->n_events), or starts one. */
static caf_status extend_segments(caf_event_writer *w, int exp, int run, caf_error *err)
{
    int64_t(*last)[4] = w->n_segments ? &w->segments[w->n_segments - 1] : NULL;
    if (last && (*last)[0] == exp && (*last)[1] == run) {
        (*last)[3]++;
        return CAF_OK;
    }
    if (w->n_segments == w->cap_segments) {
        size_t cap = w->cap_segments ? 2 * w->cap_segments : 16;
        int64_t(*grown)[4] = realloc(w->segments, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        w->segments = grown;
        w->cap_segments = cap;
    }
    int64_t *seg = w->segments[w->n_segments++];
    seg[0] = exp, seg[1] = run, seg[2] = w->n_events, seg[3] = 1;
    return CAF_OK;
}

caf_status caf_event_writer_append(caf_event_writer *w, const caf_event_batch *b, caf_error *err)
{
    size_t n = b->count;
    if (n == 0)
        return CAF_OK;
    if (!b->exp || !b->run || !b->event)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks exp, run or event numbers", w->final_path);
    if (w->n_columns && !b->columns)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks its columns", w->final_path);
    for (size_t i = 0; i < w->n_columns; i++)
        if (!b->columns[i])
            return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks column %zu", w->final_path, i);
    for (size_t a = 0; a < w->n_arrays; a++) {
        if (!b->array_offsets || !b->array_offsets[a] || !b->array_fields || !b->array_fields[a])
            return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks array %zu", w->final_path, a);
        for (size_t f = 0; f < w->arrays[a].n_fields; f++)
            if (!b->array_fields[a][f])
                return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks field %zu of array %zu", w->final_path,
                                     f, a);
        for (size_t i = 0; i < n; i++)
            if (b->array_offsets[a][i + 1] < b->array_offsets[a][i])
                return caf_error_set(err, CAF_ERR_INVALID, "%s: array %zu offsets decrease at event %zu",
                                     w->final_path, a, i);
    }
    if (w->has_trigger && (!b->trigger_result || !b->trigger_result_nonprescaled))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks trigger results", w->final_path);
    for (size_t i = 0; i < n; i++)
        if (b->exp[i] < 0 || b->run[i] < 0)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: event %u has a negative experiment or run (%d, %d)",
                                 w->final_path, b->event[i], b->exp[i], b->run[i]);
    if (w->has_trigger)
        for (size_t i = 0; i < n * w->n_lines; i++)
            if (b->trigger_result[i] < -1 || b->trigger_result[i] > 1 || b->trigger_result_nonprescaled[i] < -1 ||
                b->trigger_result_nonprescaled[i] > 1)
                return caf_error_set(err, CAF_ERR_INVALID, "%s: trigger result of event %u is not -1, 0 or 1",
                                     w->final_path, b->event[i / w->n_lines]);

    if (append_rows(w->exp, H5T_NATIVE_INT32, b->exp, n, 0) < 0 ||
        append_rows(w->run, H5T_NATIVE_INT32, b->run, n, 0) < 0 ||
        append_rows(w->event, H5T_NATIVE_UINT32, b->event, n, 0) < 0)
        return writer_fail(w, err, "cannot write event ids");
    for (size_t i = 0; i < w->n_columns; i++)
        if (append_rows(w->columns[i].id, caf_h5_native_type(w->columns[i].type), b->columns[i], n, 0) < 0)
            return writer_fail(w, err, "cannot write column");
    caf_status rc = CAF_OK;
    int64_t *offsets = w->n_arrays ? malloc(n * sizeof *offsets) : NULL;
    if (w->n_arrays && !offsets)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t a = 0; !rc && a < w->n_arrays; a++) {
        warray *wa = &w->arrays[a];
        const int64_t *in = b->array_offsets[a];
        for (size_t i = 0; i < n; i++)
            offsets[i] = wa->total + (in[i + 1] - in[0]);
        hsize_t values = (hsize_t)(in[n] - in[0]);
        if (append_rows(wa->offsets, H5T_NATIVE_INT64, offsets, n, 0) < 0)
            rc = writer_fail(w, err, "cannot write array offsets");
        for (size_t f = 0; !rc && f < wa->n_fields; f++) {
            size_t size = caf_column_type_size(wa->fields[f].type);
            const char *base = (const char *)b->array_fields[a][f] + (size_t)in[0] * size;
            if (append_rows(wa->fields[f].id, caf_h5_native_type(wa->fields[f].type), base, values, 0) < 0)
                rc = writer_fail(w, err, "cannot write array field");
        }
        wa->total += (int64_t)values;
    }
    free(offsets);
    if (rc)
        return rc;
    if (w->has_trigger) {
        uint8_t *present = NULL;
        const uint8_t *p = b->trigger_present;
        if (!p) {
            present = malloc(n);
            if (!present)
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            memset(present, 1, n);
            p = present;
        }
        if (append_rows(w->trig_result, H5T_NATIVE_INT8, b->trigger_result, n, w->n_lines) < 0 ||
            append_rows(w->trig_nonprescaled, H5T_NATIVE_INT8, b->trigger_result_nonprescaled, n, w->n_lines) < 0 ||
            append_rows(w->trig_present, H5T_NATIVE_UINT8, p, n, 0) < 0)
            rc = writer_fail(w, err, "cannot write trigger results");
        free(present);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = count_run(w, b->exp[i], b->run[i], err)) || (rc = extend_segments(w, b->exp[i], b->run[i], err)))
            return rc;
        w->n_events++;
    }
    return CAF_OK;
}

static void *gather(const void *src, size_t size, const size_t *rows, size_t n)
{
    char *out = malloc(n ? n * size : 1);
    if (out)
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * size, (const char *)src + rows[i] * size, size);
    return out;
}

caf_status caf_event_writer_append_rows(caf_event_writer *w, const caf_event_batch *b, const size_t *rows,
                                        size_t n_rows, caf_error *err)
{
    if (n_rows == 0)
        return CAF_OK;
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i] >= b->count)
            return caf_error_set(err, CAF_ERR_INVALID, "%s: row %zu is outside the batch of %zu events",
                                 w->final_path, rows[i], b->count);
    /* Everything gathered goes into one block freed at the end; pointers are set up as a batch. */
    size_t n_ptrs = 3 + w->n_columns + 3 + 2 * w->n_arrays;
    for (size_t a = 0; a < w->n_arrays; a++)
        n_ptrs += w->arrays[a].n_fields;
    void **owned = calloc(n_ptrs, sizeof *owned);
    const void **cols = calloc(w->n_columns + 1, sizeof *cols);
    const int64_t **offs = calloc(w->n_arrays + 1, sizeof *offs);
    const void **field_ptrs_storage[w->n_arrays + 1];
    if (!owned || !cols || !offs) {
        free(owned);
        free(cols);
        free(offs);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    bool ok = true;
    caf_event_batch g = {.count = n_rows};
    if (!b->exp || !b->run || !b->event) {
        ok = false;
    } else {
        g.exp = owned[k++] = gather(b->exp, 4, rows, n_rows);
        g.run = owned[k++] = gather(b->run, 4, rows, n_rows);
        g.event = owned[k++] = gather(b->event, 4, rows, n_rows);
        ok = g.exp && g.run && g.event;
    }
    for (size_t c = 0; ok && c < w->n_columns; c++) {
        ok = b->columns && b->columns[c];
        if (ok)
            ok = (cols[c] = owned[k++] = gather(b->columns[c], caf_column_type_size(w->columns[c].type), rows,
                                                n_rows)) != NULL;
    }
    g.columns = cols;
    for (size_t a = 0; ok && a < w->n_arrays; a++) {
        field_ptrs_storage[a] = NULL;
        const int64_t *in = b->array_offsets ? b->array_offsets[a] : NULL;
        ok = in && b->array_fields && b->array_fields[a];
        if (!ok)
            break;
        int64_t *o = owned[k++] = malloc((n_rows + 1) * sizeof *o);
        const void **fp = owned[k++] = calloc(w->arrays[a].n_fields + 1, sizeof *fp);
        ok = o && fp;
        if (!ok)
            break;
        o[0] = 0;
        for (size_t i = 0; i < n_rows; i++)
            o[i + 1] = o[i] + (in[rows[i] + 1] - in[rows[i]]);
        for (size_t f = 0; ok && f < w->arrays[a].n_fields; f++) {
            size_t size = caf_column_type_size(w->arrays[a].fields[f].type);
            const char *src = b->array_fields[a][f];
            char *dst = owned[k++] = malloc(o[n_rows] ? (size_t)o[n_rows] * size : 1);
            ok = src && dst;
            for (size_t i = 0; ok && i < n_rows; i++)
                memcpy(dst + (size_t)o[i] * size, src + (size_t)in[rows[i]] * size,
                       (size_t)(o[i + 1] - o[i]) * size);
            fp[f] = dst;
        }
        offs[a] = o;
        field_ptrs_storage[a] = fp;
    }
    g.array_offsets = offs;
    g.array_fields = (const void *const *const *)field_ptrs_storage;
    if (ok && w->has_trigger) {
        ok = b->trigger_result && b->trigger_result_nonprescaled;
        if (ok) {
            g.trigger_result = owned[k++] = gather(b->trigger_result, w->n_lines, rows, n_rows);
            g.trigger_result_nonprescaled = owned[k++] = gather(b->trigger_result_nonprescaled, w->n_lines, rows,
                                                                n_rows);
            ok = g.trigger_result && g.trigger_result_nonprescaled;
            if (ok && b->trigger_present)
                ok = (g.trigger_present = owned[k++] = gather(b->trigger_present, 1, rows, n_rows)) != NULL;
        }
    }
    caf_status rc = ok ? caf_event_writer_append(w, &g, err)
                       : caf_error_set(err, CAF_ERR_INVALID, "%s: batch lacks a column the file needs (or out of memory)",
                                       w->final_path);
    for (size_t i = 0; i < k; i++)
        free(owned[i]);
    free(owned);
    free(cols);
    free(offs);
    return rc;
}

int64_t caf_event_writer_count(const caf_event_writer *w)
{
    return w->n_events;
}

/* /events/segments: (exp, run, first, count) per stretch of one run, so readers know run boundaries
 * without reading the exp and run columns. */
static caf_status write_segments(caf_event_writer *w, caf_error *err)
{
    hsize_t dims[2] = {w->n_segments, 4};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = caf_h5_untimed_dcpl();
    hid_t d = H5Dcreate2(w->file, "events/segments", H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    caf_status rc = CAF_OK;
    if (d < 0 || (w->n_segments && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->segments) < 0))
        rc = writer_fail(w, err, "cannot write run segments");
    if (d >= 0)
        H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

static caf_status write_meta(caf_event_writer *w, caf_error *err)
{
    const char *p = w->final_path;
    hid_t g = caf_h5_create_group(w->file, CAF_EF_META);
    if (g < 0)
        return writer_fail(w, err, "cannot create '/meta'");
    size_t n = w->n_runs;
    int32_t *exps = malloc((n + 1) * sizeof *exps), *runs = malloc((n + 1) * sizeof *runs);
    int32_t *experiments = malloc((n + 1) * sizeof *experiments);
    int64_t *counts = malloc((n + 1) * sizeof *counts);
    size_t n_exp = 0;
    caf_status rc = CAF_OK;
    if (!exps || !runs || !experiments || !counts)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        exps[i] = w->runs[i].exp;
        runs[i] = w->runs[i].run;
        counts[i] = w->runs[i].events;
        if (i == 0 || exps[i] != exps[i - 1])
            experiments[n_exp++] = exps[i];
    }
    int32_t low[2] = {-1, -1}, high[2] = {-1, -1};
    if (n) {
        low[0] = exps[0], low[1] = runs[0];
        high[0] = exps[n - 1], high[1] = runs[n - 1];
    }
    if (!rc)
        rc = caf_h5_write_attr_string(g, "creator", w->creator, p, err);
    if (!rc)
        rc = caf_h5_write_attr_string(g, "creator_version", w->creator_version, p, err);
    if (!rc)
        rc = caf_h5_write_attr(g, "random_seed", H5T_NATIVE_UINT64, &w->seed, 0, p, err);
    if (!rc)
        rc = caf_h5_write_attr(g, "n_events", H5T_NATIVE_INT64, &w->n_events, 0, p, err);
    if (!rc)
        rc = caf_h5_write_attr(g, "low", H5T_NATIVE_INT32, low, 2, p, err);
    if (!rc)
        rc = caf_h5_write_attr(g, "high", H5T_NATIVE_INT32, high, 2, p, err);
    if (!rc)
        rc = caf_h5_write_array(g, "experiments", H5T_NATIVE_INT32, experiments, n_exp, p, err);
    if (!rc)
        rc = caf_h5_write_array(g, "run_exp", H5T_NATIVE_INT32, exps, n, p, err);
    if (!rc)
        rc = caf_h5_write_array(g, "run_run", H5T_NATIVE_INT32, runs, n, p, err);
    if (!rc)
        rc = caf_h5_write_array(g, "run_events", H5T_NATIVE_INT64, counts, n, p, err);
    if (!rc)
        rc = caf_h5_write_strings(g, "parents", (const char *const *)w->parents, w->n_parents, p, err);
    free(exps);
    free(runs);
    free(experiments);
    free(counts);
    H5Gclose(g);
    if (!rc)
        rc = write_segments(w, err);
    return rc;
}

caf_status caf_event_writer_close(caf_event_writer *w, caf_error *err)
{
    caf_status rc = write_meta(w, err);
    if (rc) {
        caf_event_writer_abort(w);
        return rc;
    }
    close_datasets(w);
    int fd = open(w->temp_path, O_RDONLY);
    if (fd < 0 || fsync(fd) < 0)
        rc = caf_error_errno(err, errno, "%s: cannot sync", w->temp_path);
    if (fd >= 0)
        close(fd);
    if (!rc && rename(w->temp_path, w->final_path) < 0)
        rc = caf_error_errno(err, errno, "%s: cannot rename into place", w->final_path);
    if (rc) {
        unlink(w->temp_path);
        writer_free(w);
        return rc;
    }
    char *dir = strdup(w->final_path);
    if (dir)
        rc = caf_fsync_dir(dirname(dir), err);
    free(dir);
    writer_free(w);
    return rc;
}
