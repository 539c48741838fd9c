/* Event files: the C writer and reader round trip every column kind, metadata, batches that cross chunk
 * boundaries, selections, row-wise copies and empty files; bad files are refused with one line naming
 * the file and the missing thing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/event_file.h"
#include "caf/file.h"
#include "test_support.h"

/* The content of event i, so that every value read back can be checked. */
static int ev_exp(size_t i) { return i >= 7000 ? 2 : 1; }
static int ev_run(size_t i) { return (int)((i / 1000) % 3) + 1; }
static uint32_t ev_number(size_t i) { return (uint32_t)(i + 1); }
static float ev_energy(size_t i) { return (float)i * 0.5f; }
static int32_t ev_ntrk(size_t i) { return (int32_t)(i % 7) - 3; }
static double ev_weight(size_t i) { return (double)i * 1e-3; }
static uint8_t ev_flags(size_t i) { return (uint8_t)(i % 256); }
static int64_t ev_big(size_t i) { return (int64_t)i * 10000000000LL; }
static size_t ev_nhits(size_t i) { return i % 5; }
static int32_t hit_channel(size_t i, size_t k) { return (int32_t)(i * 10 + k); }
static float hit_amp(size_t i, size_t k) { return (float)i + (float)k * 0.25f; }
static double hit_time(size_t i, size_t k) { return -(double)i - (double)k; }
static size_t ev_nclusters(size_t i) { return i % 11 == 0 ? 2 : 0; }
static int8_t trig(size_t i, size_t l) { return (int8_t)((i + l) % 3) - 1; }
static int8_t trig_np(size_t i, size_t l) { return (int8_t)((i + 2 * l) % 3) - 1; }
static uint8_t trig_present(size_t i) { return i % 13 != 0; }

#define N_LINES 3
static const char *const line_names[N_LINES] = {"software_trigger_cut&hlt&accept_mu_mu", "accept_bhabha", "hadron"};
static const int32_t line_prescales[N_LINES] = {1, 10, 1};
static const caf_column_desc test_columns[] = {
    {"energy", CAF_COLUMN_FLOAT32}, {"ntrk", CAF_COLUMN_INT32}, {"weight", CAF_COLUMN_FLOAT64},
    {"flags", CAF_COLUMN_UINT8},    {"big", CAF_COLUMN_INT64},
};
static const caf_column_desc hit_fields[] = {
    {"channel", CAF_COLUMN_INT32}, {"amplitude", CAF_COLUMN_FLOAT32}, {"time", CAF_COLUMN_FLOAT64}};
static const caf_column_desc cluster_fields[] = {{"e", CAF_COLUMN_FLOAT32}};
static const caf_array_desc test_arrays[] = {{"hits", hit_fields, 3}, {"clusters", cluster_fields, 1}};

static caf_event_schema test_schema(void)
{
    return (caf_event_schema){.columns = test_columns, .n_columns = 5, .arrays = test_arrays, .n_arrays = 2,
                              .has_trigger = true, .trigger_lines = line_names, .trigger_prescales = line_prescales,
                              .n_trigger_lines = N_LINES};
}

/* Appends events [first, first + n) built from the functions above. */
static void append_events(caf_event_writer *w, size_t first, size_t n)
{
    int32_t *exp = malloc(n * 4), *run = malloc(n * 4), *ntrk = malloc(n * 4);
    uint32_t *evt = malloc(n * 4);
    float *energy = malloc(n * 4);
    double *weight = malloc(n * 8);
    uint8_t *flags = malloc(n), *present = malloc(n);
    int64_t *big = malloc(n * 8), *hoff = malloc((n + 1) * 8), *coff = malloc((n + 1) * 8);
    int32_t *chan = malloc(n * 5 * 4);
    float *amp = malloc(n * 5 * 4), *ce = malloc(n * 2 * 4);
    double *time = malloc(n * 5 * 8);
    int8_t *res = malloc(n * N_LINES), *np = malloc(n * N_LINES);
    /* a non-zero base proves the writer accepts offsets that do not start at 0 */
    hoff[0] = 3;
    coff[0] = 0;
    for (size_t j = 0; j < n; j++) {
        size_t i = first + j;
        exp[j] = ev_exp(i), run[j] = ev_run(i), evt[j] = ev_number(i), energy[j] = ev_energy(i);
        ntrk[j] = ev_ntrk(i), weight[j] = ev_weight(i), flags[j] = ev_flags(i), big[j] = ev_big(i);
        present[j] = trig_present(i);
        hoff[j + 1] = hoff[j] + (int64_t)ev_nhits(i);
        for (size_t k = 0; k < ev_nhits(i); k++) {
            size_t at = (size_t)(hoff[j] - 3) + k;
            chan[at] = hit_channel(i, k), amp[at] = hit_amp(i, k), time[at] = hit_time(i, k);
        }
        coff[j + 1] = coff[j] + (int64_t)ev_nclusters(i);
        for (size_t k = 0; k < ev_nclusters(i); k++)
            ce[coff[j] + (int64_t)k] = (float)k + 0.5f;
        for (size_t l = 0; l < N_LINES; l++) {
            res[j * N_LINES + l] = trig(i, l);
            np[j * N_LINES + l] = trig_np(i, l);
        }
    }
    /* shift the hit arrays so that index hoff[0] (= 3) is their first entry */
    const void *cols[] = {energy, ntrk, weight, flags, big};
    const void *hf[] = {chan - 3, amp - 3, time - 3};
    const void *cf[] = {ce};
    const void *const *af[] = {hf, cf};
    const int64_t *offs[] = {hoff, coff};
    caf_event_batch b = {.count = n, .exp = exp, .run = run, .event = evt, .columns = cols, .array_offsets = offs,
                         .array_fields = af, .trigger_result = res, .trigger_result_nonprescaled = np,
                         .trigger_present = present};
    caf_error err = {0};
    assert_int_equal(caf_event_writer_append(w, &b, &err), CAF_OK);
    free(exp), free(run), free(ntrk), free(evt), free(energy), free(weight), free(flags), free(present);
    free(big), free(hoff), free(coff), free(chan), free(amp), free(ce), free(time), free(res), free(np);
}

static char *write_test_file(const char *dir, const char *name, size_t n_events, size_t chunk)
{
    char *path = caf_path_join(dir, name);
    caf_event_schema s = test_schema();
    const char *parents[] = {"/data/raw/a.h5", "/data/raw/b.h5"};
    caf_event_writer_options o = {.creator = "test_event_file", .creator_version = "9.9",
                                  .random_seed = 0xFEDCBA9876543210ULL, .parents = parents, .n_parents = 2,
                                  .chunk_events = chunk};
    caf_event_writer *w;
    caf_error err = {0};
    assert_int_equal(caf_event_writer_open(&w, path, &s, &o, &err), CAF_OK);
    for (size_t first = 0; first < n_events; first += 777)
        append_events(w, first, n_events - first < 777 ? n_events - first : 777);
    assert_int_equal(caf_event_writer_count(w), (int64_t)n_events);
    assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);
    return path;
}

static void check_event(const caf_event_reader *r, const caf_event_batch *b, size_t j)
{
    const caf_event_schema *s = caf_event_reader_schema(r);
    size_t i = (size_t)b->first + j;
    assert_int_equal(b->exp[j], ev_exp(i));
    assert_int_equal(b->run[j], ev_run(i));
    assert_int_equal(b->event[j], ev_number(i));
    assert_true(((const float *)b->columns[caf_event_schema_find_column(s, "energy")])[j] == ev_energy(i));
    assert_int_equal(((const int32_t *)b->columns[caf_event_schema_find_column(s, "ntrk")])[j], ev_ntrk(i));
    assert_true(((const double *)b->columns[caf_event_schema_find_column(s, "weight")])[j] == ev_weight(i));
    assert_int_equal(((const uint8_t *)b->columns[caf_event_schema_find_column(s, "flags")])[j], ev_flags(i));
    assert_true(((const int64_t *)b->columns[caf_event_schema_find_column(s, "big")])[j] == ev_big(i));
    size_t h = (size_t)caf_event_schema_find_array(s, "hits");
    const int64_t *off = b->array_offsets[h];
    assert_int_equal(off[j + 1] - off[j], ev_nhits(i));
    const int32_t *chan = b->array_fields[h][caf_event_schema_find_field(s, h, "channel")];
    const float *amp = b->array_fields[h][caf_event_schema_find_field(s, h, "amplitude")];
    const double *time = b->array_fields[h][caf_event_schema_find_field(s, h, "time")];
    for (size_t k = 0; k < ev_nhits(i); k++) {
        assert_int_equal(chan[off[j] + (int64_t)k], hit_channel(i, k));
        assert_true(amp[off[j] + (int64_t)k] == hit_amp(i, k));
        assert_true(time[off[j] + (int64_t)k] == hit_time(i, k));
    }
    size_t c = (size_t)caf_event_schema_find_array(s, "clusters");
    assert_int_equal(b->array_offsets[c][j + 1] - b->array_offsets[c][j], ev_nclusters(i));
    for (size_t l = 0; l < N_LINES; l++) {
        size_t col = (size_t)caf_event_schema_find_trigger_line(s, line_names[l]);
        assert_int_equal(b->trigger_result[j * N_LINES + col], trig(i, l));
        assert_int_equal(b->trigger_result_nonprescaled[j * N_LINES + col], trig_np(i, l));
    }
    assert_non_null(b->trigger_present);
    assert_int_equal(b->trigger_present[j], trig_present(i));
}

/* The batch's run segments cover it in order and match each event's (exp, run). */
static void check_segments(const caf_event_batch *b)
{
    assert_true(b->n_segments >= 1);
    assert_int_equal(b->segments[0].begin, 0);
    assert_int_equal(b->segments[b->n_segments - 1].end, b->count);
    for (size_t s = 0; s < b->n_segments; s++) {
        if (s)
            assert_int_equal(b->segments[s].begin, b->segments[s - 1].end);
        assert_true(b->segments[s].end > b->segments[s].begin);
        for (size_t j = b->segments[s].begin; j < b->segments[s].end; j++) {
            assert_int_equal(b->segments[s].exp, ev_exp((size_t)b->first + j));
            assert_int_equal(b->segments[s].run, ev_run((size_t)b->first + j));
        }
    }
}

static void round_trip_every_column_kind_across_chunks(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "all.h5", 10000, 1000);
    caf_event_reader *r;
    caf_error err = {0};
    caf_event_reader_options o = {.batch_size = 333}; /* not a divisor of the 1000-event chunks */
    assert_int_equal(caf_event_reader_open(&r, path, &o, &err), CAF_OK);
    const caf_event_schema *s = caf_event_reader_schema(r);
    assert_int_equal(s->n_columns, 5);
    assert_int_equal(s->n_arrays, 2);
    assert_true(s->has_trigger);
    assert_int_equal(s->n_trigger_lines, N_LINES);
    assert_int_equal(s->columns[caf_event_schema_find_column(s, "big")].type, CAF_COLUMN_INT64);
    assert_int_equal(s->columns[caf_event_schema_find_column(s, "flags")].type, CAF_COLUMN_UINT8);
    assert_int_equal(s->trigger_prescales[caf_event_schema_find_trigger_line(s, "accept_bhabha")], 10);
    size_t seen = 0, batches = 0;
    const caf_event_batch *b;
    while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
        assert_int_equal(b->first, (int64_t)seen);
        for (size_t j = 0; j < b->count; j++)
            check_event(r, b, j);
        check_segments(b);
        seen += b->count;
        batches++;
    }
    assert_int_equal(err.code, CAF_OK);
    assert_int_equal(seen, 10000);
    assert_int_equal(batches, 31); /* 30 full batches of 333 and one of 10 */
    /* seek back into the middle of a chunk and read again */
    assert_int_equal(caf_event_reader_seek(r, 4321, &err), CAF_OK);
    assert_int_equal(caf_event_reader_next(r, &b, &err), CAF_OK);
    assert_int_equal(b->first, 4321);
    for (size_t j = 0; j < b->count; j++)
        check_event(r, b, j);
    assert_int_equal(caf_event_reader_seek(r, 10001, &err), CAF_ERR_INVALID);
    caf_event_reader_close(r);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* Run segments come from the file's table without reading exp and run, and from the columns when a file
 * (say, one written by h5py) has no table. */
static void run_segments_with_and_without_table(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "seg.h5", 9000, 1000);
    const char *only_energy[] = {"energy"};
    caf_event_reader_options o = {.batch_size = 700, .select = only_energy, .n_select = 1};
    for (int pass = 0; pass < 2; pass++) {
        caf_event_reader *r;
        caf_error err = {0};
        assert_int_equal(caf_event_reader_open(&r, path, &o, &err), CAF_OK);
        const caf_event_batch *b;
        size_t seen = 0, segments = 0;
        while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
            assert_null(b->exp);
            assert_null(b->run);
            check_segments(b);
            seen += b->count;
            segments += b->n_segments;
        }
        assert_int_equal(seen, 9000);
        assert_true(segments >= 9); /* a new run every 1000 events */
        /* after a seek into the middle of a run */
        assert_int_equal(caf_event_reader_seek(r, 2500, &err), CAF_OK);
        assert_int_equal(caf_event_reader_next(r, &b, &err), CAF_OK);
        check_segments(b);
        assert_int_equal(b->segments[0].run, ev_run(2500));
        caf_event_reader_close(r);
        /* second pass: the same file without its segment table */
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(H5Ldelete(f, "events/segments", H5P_DEFAULT) >= 0 || pass == 1);
        H5Fclose(f);
    }
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void metadata_is_computed_and_read_back(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "meta.h5", 10000, 4096);
    caf_event_file_meta m;
    caf_error err = {0};
    assert_int_equal(caf_event_file_meta_read(path, &m, &err), CAF_OK);
    assert_int_equal(m.format_version, CAF_EVENT_FORMAT_VERSION);
    assert_string_equal(m.creator, "test_event_file");
    assert_string_equal(m.creator_version, "9.9");
    assert_true(m.random_seed == 0xFEDCBA9876543210ULL);
    assert_int_equal(m.n_events, 10000);
    assert_int_equal(m.n_parents, 2);
    assert_string_equal(m.parents[1], "/data/raw/b.h5");
    assert_int_equal(m.n_experiments, 2);
    assert_int_equal(m.experiments[0], 1);
    assert_int_equal(m.experiments[1], 2);
    /* count the runs the same way the events were made */
    int64_t expected[3][4] = {{0}};
    for (size_t i = 0; i < 10000; i++)
        expected[ev_exp(i)][ev_run(i)]++;
    size_t n_expected = 0;
    for (int e = 1; e <= 2; e++)
        for (int r = 1; r <= 3; r++)
            if (expected[e][r]) {
                assert_true(n_expected < m.n_runs);
                assert_int_equal(m.runs[n_expected].exp, e);
                assert_int_equal(m.runs[n_expected].run, r);
                assert_int_equal(m.runs[n_expected].events, expected[e][r]);
                n_expected++;
            }
    assert_int_equal(m.n_runs, n_expected);
    assert_int_equal(m.low.exp, 1);
    assert_int_equal(m.low.run, 1);
    assert_int_equal(m.high.exp, 2);
    assert_int_equal(m.high.run, 3);
    json_t *j = caf_event_file_meta_to_json(&m);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "n_events")), 10000);
    assert_int_equal(json_array_size(json_object_get(j, "runs")), n_expected);
    json_decref(j);
    caf_event_file_meta_free(&m);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void selection_reads_only_what_is_named(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "sel.h5", 2500, 1000);
    const char *select[] = {"energy", "hits/amplitude", "run"};
    caf_event_reader_options o = {.batch_size = 1024, .select = select, .n_select = 3};
    caf_event_reader *r;
    caf_error err = {0};
    assert_int_equal(caf_event_reader_open(&r, path, &o, &err), CAF_OK);
    const caf_event_schema *s = caf_event_reader_schema(r);
    size_t e = (size_t)caf_event_schema_find_column(s, "energy");
    size_t h = (size_t)caf_event_schema_find_array(s, "hits");
    size_t amp = (size_t)caf_event_schema_find_field(s, h, "amplitude");
    const caf_event_batch *b;
    size_t seen = 0;
    while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
        assert_null(b->exp);
        assert_null(b->event);
        assert_null(b->trigger_result);
        assert_null(b->columns[caf_event_schema_find_column(s, "ntrk")]);
        assert_null(b->array_fields[h][caf_event_schema_find_field(s, h, "channel")]);
        assert_null(b->array_offsets[caf_event_schema_find_array(s, "clusters")]);
        for (size_t j = 0; j < b->count; j++) {
            size_t i = (size_t)b->first + j;
            assert_int_equal(b->run[j], ev_run(i));
            assert_true(caf_batch_float32(b, e, j) == ev_energy(i));
            const float *a = b->array_fields[h][amp];
            for (size_t k = 0; k < ev_nhits(i); k++)
                assert_true(a[b->array_offsets[h][j] + (int64_t)k] == hit_amp(i, k));
        }
        seen += b->count;
    }
    assert_int_equal(seen, 2500);
    caf_event_reader_close(r);
    const char *bad[] = {"no_such_column"};
    /* "trigger" on a file without trigger data is accepted and yields NULL trigger pointers */
    {
        char *plain = caf_path_join(dir, "plain.h5");
        caf_event_schema none = {0};
        caf_event_writer *w;
        assert_int_equal(caf_event_writer_open(&w, plain, &none, NULL, &err), CAF_OK);
        int32_t e1 = 1, r1 = 2;
        uint32_t n1 = 3;
        caf_event_batch one = {.count = 1, .exp = &e1, .run = &r1, .event = &n1};
        assert_int_equal(caf_event_writer_append(w, &one, &err), CAF_OK);
        assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);
        const char *trig_only[] = {"trigger", "run"};
        caf_event_reader_options to = {.select = trig_only, .n_select = 2};
        assert_int_equal(caf_event_reader_open(&r, plain, &to, &err), CAF_OK);
        assert_false(caf_event_reader_schema(r)->has_trigger);
        assert_int_equal(caf_event_reader_next(r, &b, &err), CAF_OK);
        assert_non_null(b);
        assert_int_equal(b->run[0], 2);
        assert_null(b->trigger_result);
        assert_null(b->trigger_present);
        caf_event_reader_close(r);
        free(plain);
    }
    o.select = bad;
    o.n_select = 1;
    assert_int_equal(caf_event_reader_open(&r, path, &o, &err), CAF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "no_such_column"));
    assert_non_null(strstr(err.message, path));
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void append_rows_copies_selected_events(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *in = write_test_file(dir, "in.h5", 3000, 1000);
    char *out = caf_path_join(dir, "even.h5");
    caf_event_reader *r;
    caf_error err = {0};
    caf_event_reader_options ro = {.batch_size = 700};
    assert_int_equal(caf_event_reader_open(&r, in, &ro, &err), CAF_OK);
    const char *parents[] = {in};
    caf_event_writer_options wo = {.creator = "skim", .parents = parents, .n_parents = 1, .chunk_events = 256,
                                   .deflate_level = 4}; /* compressed chunks read back the same */
    caf_event_writer *w;
    assert_int_equal(caf_event_writer_open(&w, out, caf_event_reader_schema(r), &wo, &err), CAF_OK);
    const caf_event_batch *b;
    size_t rows[700];
    while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
        size_t n = 0;
        /* keep events with an even index, in reverse order inside the batch to exercise the gather */
        for (size_t j = b->count; j-- > 0;)
            if ((b->first + (int64_t)j) % 2 == 0)
                rows[n++] = j;
        assert_int_equal(caf_event_writer_append_rows(w, b, rows, n, &err), CAF_OK);
    }
    caf_event_reader_close(r);
    assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "events/columns/energy", H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_nfilters(dcpl), 2); /* shuffle + deflate */
    H5Pclose(dcpl), H5Dclose(d), H5Fclose(f);
    assert_int_equal(caf_event_reader_open(&r, out, NULL, &err), CAF_OK);
    assert_int_equal(caf_event_reader_meta(r)->n_events, 1500);
    assert_string_equal(caf_event_reader_meta(r)->parents[0], in);
    const caf_event_schema *s = caf_event_reader_schema(r);
    size_t h = (size_t)caf_event_schema_find_array(s, "hits");
    size_t chan = (size_t)caf_event_schema_find_field(s, h, "channel");
    size_t seen = 0;
    while (caf_event_reader_next(r, &b, &err) == CAF_OK && b) {
        for (size_t j = 0; j < b->count; j++) {
            size_t i = b->event[j] - 1; /* the original index */
            assert_int_equal(i % 2, 0);
            assert_true(caf_batch_float32(b, (size_t)caf_event_schema_find_column(s, "energy"), j) == ev_energy(i));
            assert_int_equal(b->array_offsets[h][j + 1] - b->array_offsets[h][j], ev_nhits(i));
            for (size_t k = 0; k < ev_nhits(i); k++)
                assert_int_equal(((const int32_t *)b->array_fields[h][chan])[b->array_offsets[h][j] + (int64_t)k],
                                 hit_channel(i, k));
            assert_int_equal(b->trigger_present[j], trig_present(i));
            assert_int_equal(b->trigger_result[j * N_LINES + 2], trig(i, 2));
        }
        seen += b->count;
    }
    assert_int_equal(seen, 1500);
    caf_event_reader_close(r);
    free(in);
    free(out);
    test_remove_tree(dir);
    free(dir);
}

static void empty_file_has_no_runs_and_no_batches(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "empty.h5", 0, 0);
    caf_event_file_meta m;
    caf_error err = {0};
    assert_int_equal(caf_event_file_meta_read(path, &m, &err), CAF_OK);
    assert_int_equal(m.n_events, 0);
    assert_int_equal(m.n_runs, 0);
    assert_int_equal(m.n_experiments, 0);
    assert_int_equal(m.low.exp, -1);
    assert_int_equal(m.high.run, -1);
    caf_event_file_meta_free(&m);
    caf_event_reader *r;
    assert_int_equal(caf_event_reader_open(&r, path, NULL, &err), CAF_OK);
    const caf_event_batch *b = (const caf_event_batch *)1;
    assert_int_equal(caf_event_reader_next(r, &b, &err), CAF_OK);
    assert_null(b);
    caf_event_reader_close(r);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static size_t count_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return (size_t)n;
}

static void abort_leaves_nothing_and_close_leaves_only_the_file(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = caf_path_join(dir, "out.h5");
    caf_event_schema s = test_schema();
    caf_event_writer *w;
    caf_error err = {0};
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_OK);
    append_events(w, 0, 100);
    assert_false(caf_path_exists(path)); /* only the temporary file exists while writing */
    assert_int_equal(count_entries(dir), 1);
    caf_event_writer_abort(w);
    assert_int_equal(count_entries(dir), 0);
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_OK);
    append_events(w, 0, 100);
    assert_int_equal(caf_event_writer_close(w, &err), CAF_OK);
    assert_true(caf_path_exists(path));
    assert_int_equal(count_entries(dir), 1);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void writer_rejects_bad_schema_and_values(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = caf_path_join(dir, "bad.h5");
    caf_error err = {0};
    caf_event_writer *w;
    caf_column_desc reserved[] = {{"run", CAF_COLUMN_INT32}};
    caf_event_schema s = {.columns = reserved, .n_columns = 1};
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "'run'"));
    int32_t bad_prescale[N_LINES] = {1, 0, 1};
    s = test_schema();
    s.trigger_prescales = bad_prescale;
    assert_int_equal(caf_event_writer_open(&w, path, &s, NULL, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "accept_bhabha"));
    /* a trigger value outside -1..1 */
    caf_event_schema t = {.has_trigger = true, .trigger_lines = line_names, .n_trigger_lines = 1};
    assert_int_equal(caf_event_writer_open(&w, path, &t, NULL, &err), CAF_OK);
    int32_t e = 1, r = 1;
    uint32_t n = 5;
    int8_t res = 2, np = 1;
    caf_event_batch b = {.count = 1, .exp = &e, .run = &r, .event = &n, .trigger_result = &res,
                         .trigger_result_nonprescaled = &np};
    assert_int_equal(caf_event_writer_append(w, &b, &err), CAF_ERR_INVALID);
    assert_non_null(strstr(err.message, "event 5"));
    caf_event_writer_abort(w);
    assert_false(caf_path_exists(path));
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* ---- bad input ---- */

static void expect_open_failure(const char *path, const char *needle)
{
    caf_error err = {0};
    caf_event_reader *r = NULL;
    caf_status rc = caf_event_reader_open(&r, path, NULL, &err);
    assert_int_not_equal(rc, CAF_OK);
    assert_null(r);
    assert_non_null(strstr(err.message, path));
    if (!strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
    assert_null(strchr(err.message, '\n'));
}

static void not_hdf5_and_missing_file_are_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    test_write_file(dir, "text.h5", "this is not HDF5\n");
    char *path = caf_path_join(dir, "text.h5");
    expect_open_failure(path, "not an HDF5 file");
    caf_event_file_meta m;
    caf_error err = {0};
    assert_int_equal(caf_event_file_meta_read(path, &m, &err), CAF_ERR_FORMAT);
    char *missing = caf_path_join(dir, "missing.h5");
    expect_open_failure(missing, "No such file");
    free(missing);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

static void truncated_file_is_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "full.h5", 5000, 1000);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    char *data;
    size_t size;
    caf_error err = {0};
    assert_int_equal(caf_file_read(path, &data, &size, &err), CAF_OK);
    char *cut = caf_path_join(dir, "cut.h5");
    assert_int_equal(caf_file_write_atomic(cut, data, size / 2, &err), CAF_OK);
    expect_open_failure(cut, "truncated");
    free(data);
    free(cut);
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* Writes a valid file, then removes link (a dataset or group) or attribute attr of object obj from it. */
static char *damaged_copy(const char *dir, const char *name, const char *link, const char *obj, const char *attr)
{
    char *path = write_test_file(dir, name, 1000, 256);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    if (link)
        assert_true(H5Ldelete(f, link, H5P_DEFAULT) >= 0);
    if (attr)
        assert_true(H5Adelete_by_name(f, obj, attr, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    return path;
}

static void missing_column_or_metadata_is_named(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    struct {
        const char *link, *obj, *attr, *needle;
    } cases[] = {
        {"events/run", NULL, NULL, "missing column 'events/run'"},
        {"events/arrays/hits/offsets", NULL, NULL, "missing column 'events/arrays/hits/offsets'"},
        {"events/trigger/result_nonprescaled", NULL, NULL, "missing column 'events/trigger/result_nonprescaled'"},
        {"meta/run_events", NULL, NULL, "missing dataset 'run_events'"},
        {"meta", NULL, NULL, "missing metadata group '/meta'"},
        {NULL, "meta", "creator", "missing metadata '/meta' attribute 'creator'"},
        {NULL, "/", "caf_format", "missing metadata '/' attribute 'caf_format'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char name[32];
        snprintf(name, sizeof name, "damaged%zu.h5", c);
        char *path = damaged_copy(dir, name, cases[c].link, cases[c].obj, cases[c].attr);
        expect_open_failure(path, cases[c].needle);
        free(path);
    }
    test_remove_tree(dir);
    free(dir);
}

static void inconsistent_metadata_is_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "lie.h5", 1000, 256);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "meta", H5P_DEFAULT);
    hid_t a = H5Aopen(g, "n_events", H5P_DEFAULT);
    assert_true(a >= 0);
    int64_t lie = 999;
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &lie) >= 0);
    H5Aclose(a);
    H5Gclose(g);
    H5Fclose(f);
    expect_open_failure(path, "n_events is 999");
    free(path);
    test_remove_tree(dir);
    free(dir);
}

/* Reads path to the end; returns the status and leaves the message in err. */
static caf_status read_all(const char *path, caf_error *err)
{
    caf_event_reader *r;
    caf_status rc = caf_event_reader_open(&r, path, NULL, err);
    if (rc)
        return rc;
    const caf_event_batch *b;
    while ((rc = caf_event_reader_next(r, &b, err)) == CAF_OK && b)
        ;
    caf_event_reader_close(r);
    return rc;
}

static void run_columns_that_disagree_with_metadata_are_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("evfile");
    char *path = write_test_file(dir, "runs.h5", 3000, 1000);
    caf_error err = {0};
    assert_int_equal(read_all(path, &err), CAF_OK);
    /* event 1500 claims run 7 */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "events/run", H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    hsize_t at = 1500, one = 1;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t mem = H5Screate_simple(1, &one, NULL);
    int32_t seven = 7;
    assert_true(H5Dwrite(d, H5T_NATIVE_INT32, mem, space, H5P_DEFAULT, &seven) >= 0);
    H5Sclose(mem), H5Sclose(space), H5Dclose(d);
    H5Fclose(f);
    assert_int_equal(read_all(path, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "event 1500"));
    assert_non_null(strstr(err.message, path));
    /* without the segment table the run table check catches it */
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Ldelete(f, "events/segments", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    assert_int_equal(read_all(path, &err), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "run 1.7"));
    free(path);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    caf_hdf5_silence();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_column_kind_across_chunks),
        cmocka_unit_test(metadata_is_computed_and_read_back),
        cmocka_unit_test(run_segments_with_and_without_table),
        cmocka_unit_test(selection_reads_only_what_is_named),
        cmocka_unit_test(append_rows_copies_selected_events),
        cmocka_unit_test(empty_file_has_no_runs_and_no_batches),
        cmocka_unit_test(abort_leaves_nothing_and_close_leaves_only_the_file),
        cmocka_unit_test(writer_rejects_bad_schema_and_values),
        cmocka_unit_test(not_hdf5_and_missing_file_are_refused),
        cmocka_unit_test(truncated_file_is_refused),
        cmocka_unit_test(missing_column_or_metadata_is_named),
        cmocka_unit_test(inconsistent_metadata_is_refused),
        cmocka_unit_test(run_columns_that_disagree_with_metadata_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
