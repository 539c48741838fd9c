/* Event-file metadata: everything caf needs to plan work (runs, event counts, provenance) lives in the
 * /meta group, so that it is read without opening a single event dataset. The reader checks the items
 * against each other: a file whose run table disagrees with its event count is refused, not trusted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/event_file_internal.h"
#include "events/hdf5_util.h"

bool caf_event_name_is_valid(const char *name)
{
    static const char *const reserved[] = {"exp", "run", "event", "trigger", "offsets", "columns", "arrays"};
    if (!name || !*name || strchr(name, '/') || strchr(name, '.'))
        return false;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcmp(name, reserved[i]) == 0)
            return false;
    return true;
}

void caf_event_file_meta_free(caf_event_file_meta *meta)
{
    if (!meta)
        return;
    free(meta->creator);
    free(meta->creator_version);
    free(meta->experiments);
    free(meta->runs);
    caf_h5_free_strings(meta->parents, meta->n_parents);
    memset(meta, 0, sizeof *meta);
}

static caf_status check_format(hid_t file, const char *path, int *version, caf_error *err)
{
    char *format = NULL;
    caf_status rc = caf_h5_attr_string(file, CAF_EF_ATTR_FORMAT, &format, path, "/", err);
    if (rc)
        return rc;
    bool ok = strcmp(format, CAF_EF_FORMAT_NAME) == 0;
    free(format);
    if (!ok)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: attribute '/%s' is not '%s'", path, CAF_EF_ATTR_FORMAT,
                             CAF_EF_FORMAT_NAME);
    int64_t v;
    if ((rc = caf_h5_attr_int64(file, CAF_EF_ATTR_VERSION, &v, path, "/", err)))
        return rc;
    if (v < 1 || v > CAF_EVENT_FORMAT_VERSION)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: format version %lld is not supported (this caf reads 1..%d)",
                             path, (long long)v, CAF_EVENT_FORMAT_VERSION);
    *version = (int)v;
    return CAF_OK;
}

static caf_status read_seed(hid_t meta, const char *path, uint64_t *seed, caf_error *err)
{
    int64_t probe;
    caf_status rc = caf_h5_attr_int64(meta, "random_seed", &probe, path, "/meta", err);
    if (rc)
        return rc;
    /* read again unsigned so that seeds above 2^63 survive */
    hid_t a = H5Aopen(meta, "random_seed", H5P_DEFAULT);
    herr_t st = H5Aread(a, H5T_NATIVE_UINT64, seed);
    H5Aclose(a);
    if (st < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read '/meta' attribute 'random_seed'");
    return CAF_OK;
}

/* The run table is three parallel datasets; check they agree and describe n_events. */
static caf_status read_runs(hid_t meta_group, const char *path, caf_event_file_meta *meta, caf_error *err)
{
    int32_t *exps = NULL, *runs = NULL;
    int64_t *counts = NULL;
    size_t ne = 0, nr = 0, nc = 0;
    caf_status rc = caf_h5_read_whole(meta_group, "run_exp", H5T_NATIVE_INT32, 4, (void **)&exps, &ne, path, err);
    if (!rc)
        rc = caf_h5_read_whole(meta_group, "run_run", H5T_NATIVE_INT32, 4, (void **)&runs, &nr, path, err);
    if (!rc)
        rc = caf_h5_read_whole(meta_group, "run_events", H5T_NATIVE_INT64, 8, (void **)&counts, &nc, path, err);
    if (!rc && (ne != nr || ne != nc))
        rc = caf_error_set(err, CAF_ERR_FORMAT,
                           "%s: '/meta/run_exp', 'run_run' and 'run_events' differ in length (%zu, %zu, %zu)",
                           path, ne, nr, nc);
    if (!rc) {
        meta->runs = calloc(ne ? ne : 1, sizeof *meta->runs);
        if (!meta->runs)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    int64_t total = 0;
    for (size_t i = 0; !rc && i < ne; i++) {
        meta->runs[i] = (caf_run_count){exps[i], runs[i], counts[i]};
        if (exps[i] < 0 || runs[i] < 0 || counts[i] <= 0)
            rc = caf_error_set(err, CAF_ERR_FORMAT,
                               "%s: '/meta' run table entry %zu (exp %d, run %d, %lld events) is invalid", path,
                               i, exps[i], runs[i], (long long)counts[i]);
        else if (i > 0 && caf_ef_exprun_cmp((caf_exprun){exps[i - 1], runs[i - 1]}, (caf_exprun){exps[i], runs[i]}) >= 0)
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: '/meta' run table is not sorted by (exp, run) at entry %zu",
                               path, i);
        total += counts[i];
    }
    meta->n_runs = ne;
    if (!rc && total != meta->n_events)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: '/meta' run table counts %lld events but n_events is %lld", path,
                           (long long)total, (long long)meta->n_events);
    free(exps);
    free(runs);
    free(counts);
    return rc;
}

static caf_status check_summary(hid_t meta_group, const char *path, caf_event_file_meta *meta, caf_error *err)
{
    int32_t *exps = NULL;
    size_t n = 0;
    caf_status rc = caf_h5_read_whole(meta_group, "experiments", H5T_NATIVE_INT32, 4, (void **)&exps, &n, path, err);
    if (rc)
        return rc;
    meta->experiments = (int *)exps;
    meta->n_experiments = n;
    size_t expected = 0;
    for (size_t i = 0; i < meta->n_runs; i++)
        if (i == 0 || meta->runs[i].exp != meta->runs[i - 1].exp) {
            if (expected >= n || exps[expected] != meta->runs[i].exp)
                return caf_error_set(err, CAF_ERR_FORMAT,
                                     "%s: '/meta/experiments' does not list the experiments of the run table", path);
            expected++;
        }
    if (expected != n)
        return caf_error_set(err, CAF_ERR_FORMAT,
                             "%s: '/meta/experiments' does not list the experiments of the run table", path);
    int64_t low[2], high[2];
    if ((rc = caf_h5_attr_int_array(meta_group, "low", low, 2, path, "/meta", err)) ||
        (rc = caf_h5_attr_int_array(meta_group, "high", high, 2, path, "/meta", err)))
        return rc;
    meta->low = (caf_exprun){(int)low[0], (int)low[1]};
    meta->high = (caf_exprun){(int)high[0], (int)high[1]};
    caf_exprun want_low = {-1, -1}, want_high = {-1, -1};
    if (meta->n_runs) {
        want_low = (caf_exprun){meta->runs[0].exp, meta->runs[0].run};
        want_high = (caf_exprun){meta->runs[meta->n_runs - 1].exp, meta->runs[meta->n_runs - 1].run};
    }
    if (caf_ef_exprun_cmp(meta->low, want_low) || caf_ef_exprun_cmp(meta->high, want_high))
        return caf_error_set(err, CAF_ERR_FORMAT,
                             "%s: '/meta' low (%d, %d) / high (%d, %d) disagree with the run table (%d, %d) / (%d, %d)",
                             path, meta->low.exp, meta->low.run, meta->high.exp, meta->high.run, want_low.exp,
                             want_low.run, want_high.exp, want_high.run);
    return CAF_OK;
}

caf_status caf_event_file_meta_read_h5(hid_t file, const char *path, caf_event_file_meta *meta, caf_error *err)
{
    memset(meta, 0, sizeof *meta);
    caf_status rc = check_format(file, path, &meta->format_version, err);
    if (rc)
        return rc;
    if (!caf_h5_exists(file, CAF_EF_META))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: missing metadata group '/meta'", path);
    hid_t g = H5Gopen2(file, CAF_EF_META, H5P_DEFAULT);
    if (g < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot open '/meta'");
    if (!(rc = caf_h5_attr_string(g, "creator", &meta->creator, path, "/meta", err)) &&
        !(rc = caf_h5_attr_string(g, "creator_version", &meta->creator_version, path, "/meta", err)) &&
        !(rc = read_seed(g, path, &meta->random_seed, err)) &&
        !(rc = caf_h5_attr_int64(g, "n_events", &meta->n_events, path, "/meta", err))) {
        if (meta->n_events < 0)
            rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: '/meta' n_events is negative", path);
    }
    if (!rc)
        rc = read_runs(g, path, meta, err);
    if (!rc)
        rc = check_summary(g, path, meta, err);
    if (!rc)
        rc = caf_h5_read_strings(g, "parents", &meta->parents, &meta->n_parents, path, err);
    H5Gclose(g);
    if (rc)
        caf_event_file_meta_free(meta);
    return rc;
}

caf_status caf_event_file_meta_read(const char *path, caf_event_file_meta *meta, caf_error *err)
{
    memset(meta, 0, sizeof *meta);
    hid_t file = caf_h5_open_read(path, err);
    if (file < 0)
        return err ? err->code : CAF_ERR_FORMAT;
    caf_status rc = caf_event_file_meta_read_h5(file, path, meta, err);
    H5Fclose(file);
    return rc;
}

json_t *caf_event_file_meta_to_json(const caf_event_file_meta *meta)
{
    json_t *runs = json_array(), *exps = json_array(), *parents = json_array();
    for (size_t i = 0; i < meta->n_runs; i++)
        json_array_append_new(runs, json_pack("{s:i, s:i, s:I}", "exp", meta->runs[i].exp, "run", meta->runs[i].run,
                                              "events", (json_int_t)meta->runs[i].events));
    for (size_t i = 0; i < meta->n_experiments; i++)
        json_array_append_new(exps, json_integer(meta->experiments[i]));
    for (size_t i = 0; i < meta->n_parents; i++)
        json_array_append_new(parents, json_string(meta->parents[i]));
    /* a seed above 2^63 does not fit a JSON integer in jansson: give it as text too */
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)meta->random_seed);
    return json_pack("{s:i, s:s, s:s, s:I, s:s, s:I, s:o, s:o, s:{s:i, s:i}, s:{s:i, s:i}, s:o}", "format_version",
                     meta->format_version, "creator", meta->creator ? meta->creator : "", "creator_version",
                     meta->creator_version ? meta->creator_version : "", "random_seed",
                     (json_int_t)meta->random_seed, "random_seed_text", seed, "n_events", (json_int_t)meta->n_events,
                     "experiments", exps, "runs", runs, "low", "exp", meta->low.exp, "run", meta->low.run, "high",
                     "exp", meta->high.exp, "run", meta->high.run, "parents", parents);
}
