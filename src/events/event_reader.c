/* Event-file reader: streams events in batches. Each selected column is read with one hyperslab
 * H5Dread per batch straight into a buffer the reader owns, and the batch hands out const pointers to
 * those buffers, so a consumer touches the data without another copy. Only selected columns are read:
 * a module that needs one float column costs one dataset read per batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/event_file_internal.h"
#include "events/hdf5_util.h"

typedef struct rcol {
    hid_t id;
    hid_t space;
    caf_column_type type;
    bool selected;
    void *buf;
} rcol;

typedef struct rarray {
    hid_t offsets;
    hid_t offsets_space;
    bool selected; /* offsets are read */
    int64_t *offsets_buf;
    int64_t n_values;
    rcol *fields;
    size_t n_fields;
    size_t cap_values;
    const void **field_ptrs;
} rarray;

struct caf_event_reader {
    char *path;
    hid_t file;
    caf_event_file_meta meta;
    /* the schema and the storage behind it */
    caf_event_schema schema;
    caf_column_desc *column_descs;
    caf_array_desc *array_descs;
    char **lines;
    int32_t *prescales;
    size_t batch_size;
    int64_t pos;
    /* events counted per run-table row while the file is read from its start with exp and run, to check
     * the columns against /meta at the end; checking stops at a seek */
    int64_t *seen_per_run;
    int64_t counted_to;
    rcol exp, run, event;
    rcol *columns;
    rarray *arrays;
    rcol trig_result, trig_nonprescaled, trig_present;
    bool trigger_selected;
    const void **column_ptrs;
    const int64_t **offset_ptrs;
    const void ***field_ptr_arrays;
    /* run segments of the whole file (from /events/segments), or NULL: then exp and run are always read
     * and the batch segments are found from them */
    int64_t (*file_segments)[4];
    size_t n_file_segments;
    size_t segment_cursor; /* a segment at or before the next batch's first event */
    caf_run_segment *batch_segments;
    caf_event_batch batch;
};

static void close_col(rcol *c)
{
    if (c->space > 0)
        H5Sclose(c->space);
    if (c->id > 0)
        H5Dclose(c->id);
    free(c->buf);
}

void caf_event_reader_close(caf_event_reader *r)
{
    if (!r)
        return;
    close_col(&r->exp);
    close_col(&r->run);
    close_col(&r->event);
    close_col(&r->trig_result);
    close_col(&r->trig_nonprescaled);
    close_col(&r->trig_present);
    for (size_t i = 0; r->columns && i < r->schema.n_columns; i++) {
        close_col(&r->columns[i]);
        free((char *)r->column_descs[i].name);
    }
    for (size_t a = 0; r->arrays && a < r->schema.n_arrays; a++) {
        rarray *ra = &r->arrays[a];
        if (ra->offsets_space > 0)
            H5Sclose(ra->offsets_space);
        if (ra->offsets > 0)
            H5Dclose(ra->offsets);
        free(ra->offsets_buf);
        for (size_t f = 0; ra->fields && f < ra->n_fields; f++) {
            close_col(&ra->fields[f]);
            free((char *)r->array_descs[a].fields[f].name);
        }
        free(ra->fields);
        free((void *)r->array_descs[a].fields);
        free((char *)r->array_descs[a].name);
        free(ra->field_ptrs);
    }
    free(r->arrays);
    free(r->columns);
    free(r->column_descs);
    free(r->array_descs);
    caf_h5_free_strings(r->lines, r->schema.n_trigger_lines);
    free(r->prescales);
    free(r->column_ptrs);
    free(r->offset_ptrs);
    free(r->field_ptr_arrays);
    free(r->file_segments);
    free(r->batch_segments);
    free(r->seen_per_run);
    caf_event_file_meta_free(&r->meta);
    if (r->file > 0)
        H5Fclose(r->file);
    free(r->path);
    free(r);
}

/* Opens dataset name below loc as a column: checks rank, length and numeric type. */
static caf_status open_col(caf_event_reader *r, hid_t loc, const char *name, const char *shown, int rank,
                           hsize_t len, hsize_t width, rcol *c, caf_error *err)
{
    if (!caf_h5_exists(loc, name))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: missing column '%s'", r->path, shown);
    c->id = H5Dopen2(loc, name, H5P_DEFAULT);
    if (c->id < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, r->path, "cannot open column");
    c->space = H5Dget_space(c->id);
    hid_t type = H5Dget_type(c->id);
    bool numeric = caf_h5_column_type_of(type, &c->type);
    H5Tclose(type);
    if (!numeric)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: column '%s' is not numeric", r->path, shown);
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(c->space) != rank)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: column '%s' must have %d dimension%s", r->path, shown, rank,
                             rank == 1 ? "" : "s");
    H5Sget_simple_extent_dims(c->space, dims, NULL);
    if (dims[0] != len || (rank == 2 && dims[1] != width))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: column '%s' has %llu entries, expected %llu", r->path, shown,
                             (unsigned long long)dims[0], (unsigned long long)len);
    return CAF_OK;
}

/* Reads count rows (of width values; 0 = 1-D) from row start of column c into buf. */
static herr_t read_slab(const rcol *c, hid_t memtype, hsize_t start, hsize_t count, hsize_t width, void *buf)
{
    if (count == 0)
        return 0;
    int rank = width ? 2 : 1;
    hsize_t s[2] = {start, 0}, n[2] = {count, width};
    if (H5Sselect_hyperslab(c->space, H5S_SELECT_SET, s, NULL, n, NULL) < 0)
        return -1;
    hid_t mem = H5Screate_simple(rank, n, NULL);
    herr_t st = H5Dread(c->id, memtype, mem, c->space, H5P_DEFAULT, buf);
    H5Sclose(mem);
    return st;
}

/* Lists the links of group name (if it exists) into a malloc'd array of malloc'd names, sorted. */
static caf_status list_group(hid_t file, const char *name, char ***out, size_t *n, const char *path, caf_error *err)
{
    *out = NULL;
    *n = 0;
    if (!caf_h5_exists(file, name))
        return CAF_OK;
    hid_t g = H5Gopen2(file, name, H5P_DEFAULT);
    H5G_info_t info;
    if (g < 0 || H5Gget_info(g, &info) < 0) {
        if (g >= 0)
            H5Gclose(g);
        return caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot list group");
    }
    char **names = calloc(info.nlinks + 1, sizeof *names);
    caf_status rc = names ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (hsize_t i = 0; !rc && i < info.nlinks; i++) {
        char buf[512];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT) < 0)
            rc = caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot list group");
        else if (!(names[i] = strdup(buf)))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    H5Gclose(g);
    if (rc) {
        caf_h5_free_strings(names, info.nlinks);
        return rc;
    }
    *out = names;
    *n = info.nlinks;
    return CAF_OK;
}

static caf_status open_columns(caf_event_reader *r, caf_error *err)
{
    hsize_t n = (hsize_t)r->meta.n_events;
    char **names;
    size_t count;
    caf_status rc = list_group(r->file, CAF_EF_COLUMNS, &names, &count, r->path, err);
    if (rc)
        return rc;
    r->columns = calloc(count + 1, sizeof *r->columns);
    r->column_descs = calloc(count + 1, sizeof *r->column_descs);
    if (!r->columns || !r->column_descs) {
        caf_h5_free_strings(names, count);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    r->schema.n_columns = count;
    r->schema.columns = r->column_descs;
    for (size_t i = 0; i < count; i++)
        r->column_descs[i].name = names[i];
    free(names);
    hid_t g = count ? H5Gopen2(r->file, CAF_EF_COLUMNS, H5P_DEFAULT) : -1;
    for (size_t i = 0; !rc && i < count; i++) {
        char shown[600];
        snprintf(shown, sizeof shown, "%s/%s", CAF_EF_COLUMNS, r->column_descs[i].name);
        if (!caf_event_name_is_valid(r->column_descs[i].name))
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: column name '%s' is reserved or invalid", r->path, shown);
        else
            rc = open_col(r, g, r->column_descs[i].name, shown, 1, n, 0, &r->columns[i], err);
        r->column_descs[i].type = r->columns[i].type;
    }
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

static caf_status open_array(caf_event_reader *r, hid_t g, size_t a, caf_error *err)
{
    rarray *ra = &r->arrays[a];
    caf_array_desc *desc = &r->array_descs[a];
    hsize_t n = (hsize_t)r->meta.n_events;
    char shown[600];
    snprintf(shown, sizeof shown, "%s/%s/offsets", CAF_EF_ARRAYS, desc->name);
    rcol off = {0};
    caf_status rc = open_col(r, g, "offsets", shown, 1, n + 1, 0, &off, err);
    ra->offsets = off.id;
    ra->offsets_space = off.space;
    if (rc)
        return rc;
    int64_t ends[2];
    if (read_slab(&off, H5T_NATIVE_INT64, 0, 1, 0, &ends[0]) < 0 || read_slab(&off, H5T_NATIVE_INT64, n, 1, 0, &ends[1]) < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, r->path, "cannot read array offsets");
    if (ends[0] != 0 || ends[1] < 0)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: '%s' must start at 0 and not decrease", r->path, shown);
    ra->n_values = ends[1];
    char **names;
    size_t count;
    char group_path[600];
    snprintf(group_path, sizeof group_path, "%s/%s", CAF_EF_ARRAYS, desc->name);
    if ((rc = list_group(r->file, group_path, &names, &count, r->path, err)))
        return rc;
    /* every member except "offsets" is a field */
    caf_column_desc *fields = calloc(count + 1, sizeof *fields);
    ra->fields = calloc(count + 1, sizeof *ra->fields);
    ra->field_ptrs = calloc(count + 1, sizeof *ra->field_ptrs);
    if (!fields || !ra->fields || !ra->field_ptrs) {
        free(fields);
        caf_h5_free_strings(names, count);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    size_t nf = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], "offsets") == 0)
            free(names[i]);
        else
            fields[nf++].name = names[i];
    }
    free(names);
    desc->fields = fields;
    desc->n_fields = nf;
    ra->n_fields = nf;
    for (size_t f = 0; !rc && f < nf; f++) {
        snprintf(shown, sizeof shown, "%s/%s/%s", CAF_EF_ARRAYS, desc->name, fields[f].name);
        rc = open_col(r, g, fields[f].name, shown, 1, (hsize_t)ra->n_values, 0, &ra->fields[f], err);
        fields[f].type = ra->fields[f].type;
    }
    return rc;
}

static caf_status open_arrays(caf_event_reader *r, caf_error *err)
{
    char **names;
    size_t count;
    caf_status rc = list_group(r->file, CAF_EF_ARRAYS, &names, &count, r->path, err);
    if (rc)
        return rc;
    r->arrays = calloc(count + 1, sizeof *r->arrays);
    r->array_descs = calloc(count + 1, sizeof *r->array_descs);
    if (!r->arrays || !r->array_descs) {
        caf_h5_free_strings(names, count);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    r->schema.n_arrays = count;
    r->schema.arrays = r->array_descs;
    for (size_t i = 0; i < count; i++)
        r->array_descs[i].name = names[i];
    free(names);
    for (size_t a = 0; !rc && a < count; a++) {
        char group_path[600];
        snprintf(group_path, sizeof group_path, "%s/%s", CAF_EF_ARRAYS, r->array_descs[a].name);
        if (!caf_event_name_is_valid(r->array_descs[a].name)) {
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: array name '%s' is reserved or invalid", r->path, group_path);
            break;
        }
        H5O_info_t info;
        if (H5Oget_info_by_name(r->file, group_path, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) {
            H5Eclear2(H5E_DEFAULT);
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: '%s' must be a group (offsets plus fields)", r->path,
                               group_path);
            break;
        }
        hid_t g = H5Gopen2(r->file, group_path, H5P_DEFAULT);
        rc = open_array(r, g, a, err);
        H5Gclose(g);
    }
    return rc;
}

static caf_status open_trigger(caf_event_reader *r, caf_error *err)
{
    if (!caf_h5_exists(r->file, CAF_EF_TRIGGER))
        return CAF_OK;
    hid_t g = H5Gopen2(r->file, CAF_EF_TRIGGER, H5P_DEFAULT);
    if (g < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, r->path, "cannot open trigger group");
    size_t n_lines = 0, n_prescales = 0;
    caf_status rc = caf_h5_read_strings(g, "lines", &r->lines, &n_lines, r->path, err);
    r->schema.n_trigger_lines = n_lines;
    if (!rc)
        rc = caf_h5_read_whole(g, "prescales", H5T_NATIVE_INT32, 4, (void **)&r->prescales, &n_prescales, r->path,
                               err);
    if (!rc && (n_lines == 0 || n_prescales != n_lines))
        rc = caf_error_set(err, CAF_ERR_FORMAT,
                           "%s: '%s' needs at least one line and one prescale per line (%zu lines, %zu prescales)",
                           r->path, CAF_EF_TRIGGER, n_lines, n_prescales);
    for (size_t l = 0; !rc && l < n_lines; l++)
        if (r->prescales[l] < 1)
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: trigger line '%s' has prescale %d (must be >= 1)", r->path,
                               r->lines[l], r->prescales[l]);
    hsize_t n = (hsize_t)r->meta.n_events;
    if (!rc)
        rc = open_col(r, g, "result", CAF_EF_TRIGGER "/result", 2, n, n_lines, &r->trig_result, err);
    if (!rc)
        rc = open_col(r, g, "result_nonprescaled", CAF_EF_TRIGGER "/result_nonprescaled", 2, n, n_lines,
                      &r->trig_nonprescaled, err);
    if (!rc && caf_h5_exists(g, "present"))
        rc = open_col(r, g, "present", CAF_EF_TRIGGER "/present", 1, n, 0, &r->trig_present, err);
    H5Gclose(g);
    if (!rc) {
        r->schema.has_trigger = true;
        r->schema.trigger_lines = (const char *const *)r->lines;
        r->schema.trigger_prescales = r->prescales;
    }
    return rc;
}

static int compare_counts(const void *a, const void *b)
{
    const caf_run_count *x = a, *y = b;
    return caf_ef_exprun_cmp((caf_exprun){x->exp, x->run}, (caf_exprun){y->exp, y->run});
}

/* Reads /events/segments if the file has it and checks it covers the events in order and agrees with
 * the run table. */
static caf_status open_segments(caf_event_reader *r, caf_error *err)
{
    const char *name = CAF_EF_EVENTS "/segments";
    if (!caf_h5_exists(r->file, name))
        return CAF_OK;
    hid_t d = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (d < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, r->path, "cannot open events/segments");
    hid_t space = H5Dget_space(d);
    hid_t type = H5Dget_type(d);
    hsize_t dims[2] = {0, 0};
    caf_status rc = CAF_OK;
    if (H5Sget_simple_extent_ndims(space) != 2 || H5Tget_class(type) != H5T_INTEGER ||
        (H5Sget_simple_extent_dims(space, dims, NULL), dims[1] != 4))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: 'events/segments' must be integers of shape (S, 4)", r->path);
    else if (!(r->file_segments = malloc((dims[0] + 1) * sizeof *r->file_segments)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    else if (dims[0] && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->file_segments) < 0)
        rc = caf_h5_fail(err, CAF_ERR_FORMAT, r->path, "cannot read events/segments");
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(d);
    if (rc)
        return rc;
    size_t n = (size_t)dims[0];
    r->n_file_segments = n;
    int64_t next = 0;
    caf_run_count *counts = malloc((n + 1) * sizeof *counts);
    if (!counts)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const int64_t *seg = r->file_segments[i];
        if (seg[0] < 0 || seg[1] < 0 || seg[0] > INT32_MAX || seg[1] > INT32_MAX || seg[2] != next || seg[3] <= 0)
            rc = caf_error_set(err, CAF_ERR_FORMAT,
                               "%s: 'events/segments' row %zu does not continue the events in order", r->path, i);
        next += seg[3];
        counts[i] = (caf_run_count){(int)seg[0], (int)seg[1], seg[3]};
    }
    if (!rc && next != r->meta.n_events)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: 'events/segments' covers %lld events, the file has %lld",
                           r->path, (long long)next, (long long)r->meta.n_events);
    if (!rc) {
        qsort(counts, n, sizeof *counts, compare_counts);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (m && counts[m - 1].exp == counts[i].exp && counts[m - 1].run == counts[i].run)
                counts[m - 1].events += counts[i].events;
            else
                counts[m++] = counts[i];
        }
        bool same = m == r->meta.n_runs;
        for (size_t i = 0; same && i < m; i++)
            same = counts[i].exp == r->meta.runs[i].exp && counts[i].run == r->meta.runs[i].run &&
                   counts[i].events == r->meta.runs[i].events;
        if (!same)
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: 'events/segments' disagrees with the run table in /meta",
                               r->path);
    }
    free(counts);
    return rc;
}

/* Marks what options->select names; everything when there is no selection. */
static caf_status apply_selection(caf_event_reader *r, const caf_event_reader_options *o, caf_error *err)
{
    bool all = !o || !o->select;
    r->exp.selected = r->run.selected = r->event.selected = all;
    r->trigger_selected = all && r->schema.has_trigger;
    for (size_t i = 0; i < r->schema.n_columns; i++)
        r->columns[i].selected = all;
    for (size_t a = 0; a < r->schema.n_arrays; a++) {
        r->arrays[a].selected = all;
        for (size_t f = 0; f < r->arrays[a].n_fields; f++)
            r->arrays[a].fields[f].selected = all;
    }
    for (size_t s = 0; !all && s < o->n_select; s++) {
        const char *name = o->select[s];
        const char *slash = strchr(name, '/');
        ptrdiff_t i;
        if (strcmp(name, CAF_EVENT_SELECT_EXP) == 0)
            r->exp.selected = true;
        else if (strcmp(name, CAF_EVENT_SELECT_RUN) == 0)
            r->run.selected = true;
        else if (strcmp(name, CAF_EVENT_SELECT_EVENT) == 0)
            r->event.selected = true;
        else if (strcmp(name, CAF_EVENT_SELECT_TRIGGER) == 0)
            r->trigger_selected = r->schema.has_trigger; /* no trigger data: batches keep NULL pointers */
        else if ((i = caf_event_schema_find_column(&r->schema, name)) >= 0)
            r->columns[i].selected = true;
        else if ((i = caf_event_schema_find_array(&r->schema, name)) >= 0) {
            r->arrays[i].selected = true;
            for (size_t f = 0; f < r->arrays[i].n_fields; f++)
                r->arrays[i].fields[f].selected = true;
        } else if (slash) {
            char array[512];
            snprintf(array, sizeof array, "%.*s", (int)(slash - name), name);
            ptrdiff_t a = caf_event_schema_find_array(&r->schema, array);
            ptrdiff_t f = a >= 0 ? caf_event_schema_find_field(&r->schema, (size_t)a, slash + 1) : -1;
            if (f < 0)
                return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no array field '%s'", r->path, name);
            r->arrays[a].selected = true;
            r->arrays[a].fields[f].selected = true;
        } else {
            return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: no column '%s'", r->path, name);
        }
    }
    return CAF_OK;
}

static caf_status allocate_buffers(caf_event_reader *r, caf_error *err)
{
    size_t n = r->batch_size;
    bool ok = true;
    rcol *ids[] = {&r->exp, &r->run, &r->event};
    for (size_t i = 0; i < 3; i++)
        if (ids[i]->selected || (i < 2 && !r->file_segments))
            ok = ok && (ids[i]->buf = malloc(n * 4));
    ok = ok && (r->batch_segments = malloc(n * sizeof *r->batch_segments));
    if (r->exp.buf && r->run.buf)
        ok = ok && (r->seen_per_run = calloc(r->meta.n_runs + 1, sizeof *r->seen_per_run));
    for (size_t i = 0; i < r->schema.n_columns; i++)
        if (r->columns[i].selected)
            ok = ok && (r->columns[i].buf = malloc(n * caf_column_type_size(r->columns[i].type)));
    for (size_t a = 0; a < r->schema.n_arrays; a++)
        if (r->arrays[a].selected)
            ok = ok && (r->arrays[a].offsets_buf = malloc((n + 1) * sizeof(int64_t)));
    if (r->trigger_selected) {
        size_t lines = r->schema.n_trigger_lines;
        ok = ok && (r->trig_result.buf = malloc(n * lines)) && (r->trig_nonprescaled.buf = malloc(n * lines));
        if (r->trig_present.id > 0)
            ok = ok && (r->trig_present.buf = malloc(n));
    }
    r->column_ptrs = calloc(r->schema.n_columns + 1, sizeof *r->column_ptrs);
    r->offset_ptrs = calloc(r->schema.n_arrays + 1, sizeof *r->offset_ptrs);
    r->field_ptr_arrays = calloc(r->schema.n_arrays + 1, sizeof *r->field_ptr_arrays);
    ok = ok && r->column_ptrs && r->offset_ptrs && r->field_ptr_arrays;
    if (!ok)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < r->schema.n_arrays; a++)
        r->field_ptr_arrays[a] = r->arrays[a].field_ptrs;
    r->batch.columns = r->column_ptrs;
    r->batch.array_offsets = r->offset_ptrs;
    r->batch.array_fields = (const void *const *const *)r->field_ptr_arrays;
    return CAF_OK;
}

caf_status caf_event_reader_open_h5(caf_event_reader **out, hid_t file, const char *path, caf_event_file_meta *meta,
                                    const caf_event_reader_options *options, caf_error *err)
{
    *out = NULL;
    caf_event_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        caf_event_file_meta_free(meta);
        H5Fclose(file);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    r->batch_size = options && options->batch_size ? options->batch_size : CAF_EVENT_DEFAULT_BATCH;
    r->file = file;
    r->meta = *meta;
    memset(meta, 0, sizeof *meta);
    hsize_t n = (hsize_t)r->meta.n_events;
    caf_status rc = open_col(r, r->file, "events/exp", "events/exp", 1, n, 0, &r->exp, err);
    if (!rc)
        rc = open_col(r, r->file, "events/run", "events/run", 1, n, 0, &r->run, err);
    if (!rc)
        rc = open_col(r, r->file, "events/event", "events/event", 1, n, 0, &r->event, err);
    if (!rc)
        rc = open_segments(r, err);
    if (!rc)
        rc = open_columns(r, err);
    if (!rc)
        rc = open_arrays(r, err);
    if (!rc)
        rc = open_trigger(r, err);
    if (!rc)
        rc = apply_selection(r, options, err);
    if (!rc)
        rc = allocate_buffers(r, err);
    if (rc) {
        caf_event_reader_close(r);
        return rc;
    }
    *out = r;
    return CAF_OK;
}

caf_status caf_event_reader_open(caf_event_reader **out, const char *path, const caf_event_reader_options *options,
                                 caf_error *err)
{
    *out = NULL;
    hid_t file = caf_h5_open_read(path, err);
    if (file < 0)
        return err ? err->code : CAF_ERR_FORMAT;
    caf_event_file_meta meta;
    caf_status rc = caf_event_file_meta_read_h5(file, path, &meta, err);
    if (rc) {
        H5Fclose(file);
        return rc;
    }
    return caf_event_reader_open_h5(out, file, path, &meta, options, err);
}

const caf_event_file_meta *caf_event_reader_meta(const caf_event_reader *r)
{
    return &r->meta;
}

const caf_event_schema *caf_event_reader_schema(const caf_event_reader *r)
{
    return &r->schema;
}

const char *caf_event_reader_path(const caf_event_reader *r)
{
    return r->path;
}

caf_status caf_event_reader_seek(caf_event_reader *r, int64_t index, caf_error *err)
{
    if (index < 0 || index > r->meta.n_events)
        return caf_error_set(err, CAF_ERR_INVALID, "%s: event index %lld is outside 0..%lld", r->path,
                             (long long)index, (long long)r->meta.n_events);
    r->pos = index;
    r->segment_cursor = 0; /* found again from the start; seeks are rare */
    return CAF_OK;
}

static caf_status read_fail(caf_event_reader *r, caf_error *err, const char *what)
{
    return caf_h5_fail(err, CAF_ERR_FORMAT, r->path, what);
}

/* Reads the offsets of count events from pos, checks and rebases them, then the selected fields. */
static caf_status read_array(caf_event_reader *r, rarray *ra, const char *name, hsize_t pos, hsize_t count,
                             caf_error *err)
{
    rcol off = {.id = ra->offsets, .space = ra->offsets_space};
    if (read_slab(&off, H5T_NATIVE_INT64, pos, count + 1, 0, ra->offsets_buf) < 0)
        return read_fail(r, err, "cannot read array offsets");
    int64_t base = ra->offsets_buf[0];
    for (hsize_t i = 0; i <= count; i++) {
        int64_t v = ra->offsets_buf[i] - base;
        if (v < 0 || (i && v < ra->offsets_buf[i - 1]) || ra->offsets_buf[i] > ra->n_values)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: offsets of array '%s' decrease or overrun at event %llu",
                                 r->path, name, (unsigned long long)(pos + i));
        ra->offsets_buf[i] = v;
    }
    size_t values = (size_t)ra->offsets_buf[count];
    for (size_t f = 0; f < ra->n_fields; f++) {
        rcol *c = &ra->fields[f];
        if (!c->selected)
            continue;
        size_t size = caf_column_type_size(c->type);
        if (values > ra->cap_values || !c->buf) {
            size_t cap = values > ra->cap_values ? values + values / 2 : ra->cap_values;
            void *grown = realloc(c->buf, (cap ? cap : 1) * size);
            if (!grown)
                return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            c->buf = grown;
            /* all fields share the capacity; grow the others on their turn */
            for (size_t g = 0; g < ra->n_fields; g++)
                if (g != f && ra->fields[g].selected && ra->fields[g].buf) {
                    void *other = realloc(ra->fields[g].buf, (cap ? cap : 1) * caf_column_type_size(ra->fields[g].type));
                    if (!other)
                        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                    ra->fields[g].buf = other;
                }
            ra->cap_values = cap;
        }
        if (read_slab(c, caf_h5_native_type(c->type), (hsize_t)base, values, 0, c->buf) < 0)
            return read_fail(r, err, "cannot read array field");
    }
    return CAF_OK;
}

/* Splits the batch [pos, pos + count) into runs, from the file's segment table or the exp/run buffers. */
static void find_segments(caf_event_reader *r, int64_t pos, size_t count)
{
    size_t n = 0;
    if (r->file_segments) {
        size_t k = r->segment_cursor;
        while (k + 1 < r->n_file_segments && r->file_segments[k][2] + r->file_segments[k][3] <= pos)
            k++;
        r->segment_cursor = k;
        for (; k < r->n_file_segments && r->file_segments[k][2] < pos + (int64_t)count; k++) {
            const int64_t *seg = r->file_segments[k];
            int64_t begin = seg[2] > pos ? seg[2] - pos : 0;
            int64_t end = seg[2] + seg[3] - pos < (int64_t)count ? seg[2] + seg[3] - pos : (int64_t)count;
            r->batch_segments[n++] = (caf_run_segment){(int)seg[0], (int)seg[1], (size_t)begin, (size_t)end};
        }
    } else {
        const int32_t *exp = r->exp.buf, *run = r->run.buf;
        for (size_t i = 0; i < count; i++) {
            if (n && r->batch_segments[n - 1].exp == exp[i] && r->batch_segments[n - 1].run == run[i])
                r->batch_segments[n - 1].end = i + 1;
            else
                r->batch_segments[n++] = (caf_run_segment){exp[i], run[i], i, i + 1};
        }
    }
    r->batch.segments = r->batch_segments;
    r->batch.n_segments = n;
}

/* Checks the batch's exp and run columns against its segments (when they came from the table) and, while
 * the file is read in order from the start, counts them against the run table; a file whose columns
 * disagree with its metadata is refused rather than processed with wrong run boundaries. */
static caf_status check_runs(caf_event_reader *r, int64_t pos, size_t count, caf_error *err)
{
    const int32_t *exp = r->exp.buf, *run = r->run.buf;
    for (size_t s = 0; s < r->batch.n_segments; s++) {
        const caf_run_segment *seg = &r->batch.segments[s];
        for (size_t i = seg->begin; r->file_segments && i < seg->end; i++)
            if (exp[i] != seg->exp || run[i] != seg->run)
                return caf_error_set(err, CAF_ERR_FORMAT,
                                     "%s: 'events/segments' says event %lld is of run %d.%d, events/exp and "
                                     "events/run say %d.%d",
                                     r->path, (long long)(pos + (int64_t)i), seg->exp, seg->run, exp[i], run[i]);
        if (r->counted_to != pos)
            continue;
        caf_run_count key = {seg->exp, seg->run, 0};
        const caf_run_count *row = bsearch(&key, r->meta.runs, r->meta.n_runs, sizeof key, compare_counts);
        if (!row)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: event %lld is of run %d.%d, which /meta does not list",
                                 r->path, (long long)(pos + (int64_t)seg->begin), seg->exp, seg->run);
        r->seen_per_run[row - r->meta.runs] += (int64_t)(seg->end - seg->begin);
    }
    if (r->counted_to != pos)
        return CAF_OK;
    r->counted_to = pos + (int64_t)count;
    if (r->counted_to < r->meta.n_events)
        return CAF_OK;
    for (size_t i = 0; i < r->meta.n_runs; i++)
        if (r->seen_per_run[i] != r->meta.runs[i].events)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: run %d.%d has %lld events in events/run, /meta says %lld",
                                 r->path, r->meta.runs[i].exp, r->meta.runs[i].run, (long long)r->seen_per_run[i],
                                 (long long)r->meta.runs[i].events);
    return CAF_OK;
}

/* A trigger decision is -1, 0 or 1 (Belle II's SoftwareTriggerCutResult); anything else would be read
 * as some decision by whoever compares it, so the file is refused. */
static caf_status check_trigger_values(caf_event_reader *r, const char *dataset, const int8_t *values, int64_t pos,
                                       hsize_t count, caf_error *err)
{
    size_t lines = r->schema.n_trigger_lines;
    for (size_t i = 0; i < (size_t)count * lines; i++)
        if (values[i] < -1 || values[i] > 1)
            return caf_error_set(err, CAF_ERR_FORMAT,
                                 "%s: '%s/%s' holds %d at event %lld, line '%s' (a trigger result is -1, 0 or 1)",
                                 r->path, CAF_EF_TRIGGER, dataset, values[i], (long long)(pos + (int64_t)(i / lines)),
                                 r->schema.trigger_lines[i % lines]);
    return CAF_OK;
}

caf_status caf_event_reader_next(caf_event_reader *r, const caf_event_batch **batch, caf_error *err)
{
    *batch = NULL;
    if (r->pos >= r->meta.n_events)
        return CAF_OK;
    hsize_t pos = (hsize_t)r->pos;
    hsize_t count = (hsize_t)(r->meta.n_events - r->pos);
    if (count > r->batch_size)
        count = r->batch_size;
    caf_event_batch *b = &r->batch;
    b->count = count;
    b->first = r->pos;
    b->exp = b->run = NULL;
    b->event = NULL;
    if (r->exp.buf) {
        if (read_slab(&r->exp, H5T_NATIVE_INT32, pos, count, 0, r->exp.buf) < 0)
            return read_fail(r, err, "cannot read events/exp");
        b->exp = r->exp.selected ? r->exp.buf : NULL;
    }
    if (r->run.buf) {
        if (read_slab(&r->run, H5T_NATIVE_INT32, pos, count, 0, r->run.buf) < 0)
            return read_fail(r, err, "cannot read events/run");
        b->run = r->run.selected ? r->run.buf : NULL;
    }
    find_segments(r, (int64_t)pos, (size_t)count);
    if (r->exp.buf && r->run.buf) {
        caf_status rc = check_runs(r, (int64_t)pos, (size_t)count, err);
        if (rc)
            return rc;
    }
    if (r->event.selected) {
        if (read_slab(&r->event, H5T_NATIVE_UINT32, pos, count, 0, r->event.buf) < 0)
            return read_fail(r, err, "cannot read events/event");
        b->event = r->event.buf;
    }
    for (size_t i = 0; i < r->schema.n_columns; i++) {
        rcol *c = &r->columns[i];
        r->column_ptrs[i] = NULL;
        if (!c->selected)
            continue;
        if (read_slab(c, caf_h5_native_type(c->type), pos, count, 0, c->buf) < 0)
            return read_fail(r, err, "cannot read column");
        r->column_ptrs[i] = c->buf;
    }
    for (size_t a = 0; a < r->schema.n_arrays; a++) {
        rarray *ra = &r->arrays[a];
        r->offset_ptrs[a] = NULL;
        for (size_t f = 0; f < ra->n_fields; f++)
            ra->field_ptrs[f] = NULL;
        if (!ra->selected)
            continue;
        caf_status rc = read_array(r, ra, r->array_descs[a].name, pos, count, err);
        if (rc)
            return rc;
        r->offset_ptrs[a] = ra->offsets_buf;
        for (size_t f = 0; f < ra->n_fields; f++)
            ra->field_ptrs[f] = ra->fields[f].selected ? ra->fields[f].buf : NULL;
    }
    b->trigger_result = b->trigger_result_nonprescaled = NULL;
    b->trigger_present = NULL;
    if (r->trigger_selected) {
        hsize_t lines = r->schema.n_trigger_lines;
        if (read_slab(&r->trig_result, H5T_NATIVE_INT8, pos, count, lines, r->trig_result.buf) < 0 ||
            read_slab(&r->trig_nonprescaled, H5T_NATIVE_INT8, pos, count, lines, r->trig_nonprescaled.buf) < 0)
            return read_fail(r, err, "cannot read trigger results");
        caf_status rc = check_trigger_values(r, "result", r->trig_result.buf, (int64_t)pos, count, err);
        if (!rc)
            rc = check_trigger_values(r, "result_nonprescaled", r->trig_nonprescaled.buf, (int64_t)pos, count, err);
        if (rc)
            return rc;
        b->trigger_result = r->trig_result.buf;
        b->trigger_result_nonprescaled = r->trig_nonprescaled.buf;
        if (r->trig_present.buf) {
            if (read_slab(&r->trig_present, H5T_NATIVE_UINT8, pos, count, 0, r->trig_present.buf) < 0)
                return read_fail(r, err, "cannot read trigger presence");
            b->trigger_present = r->trig_present.buf;
        }
    }
    r->pos += (int64_t)count;
    *batch = b;
    return CAF_OK;
}
