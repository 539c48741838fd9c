/* Toy detector data. A small calorimeter-like detector: every hit deposits either a fixed-energy line
 * (CAF_TOY_PEAK_ENERGY, smeared by the energy resolution) or a continuum, and the channel reads
 * amplitude = gain * energy + noise and time = t0 + jitter. Gains and t0 drift slowly from run to run and
 * jump at one run (a high-voltage change), so a per-run peak fit recovers the gains with a known
 * uncertainty and a calibration must split its intervals of validity at the jump. Every random number
 * comes from caf's xoshiro256** generator (caf_random) seeded from (seed, purpose, exp, run), so the
 * output depends on the options only, not on the order of work or the platform's rand(). */
#include "caf/toy_generator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/event_file.h"
#include "caf/file.h"
#include "caf/json.h"
#include "caf/module.h"
#include "caf/version.h"

#define ENERGY_RESOLUTION 3.0 /* sigma of the peak energy, same units as CAF_TOY_PEAK_ENERGY */
#define NOISE 1.0             /* electronic noise on the amplitude */
#define TIME_RESOLUTION 0.5   /* ns */
#define PEAK_FRACTION 0.6     /* share of hits that deposit the peak energy */
/* Time walk of a leading-edge discriminator: small pulses cross the threshold later. The toy's thresholds
 * are set per channel in energy units (from the channel's gain), so the walk depends on the deposited
 * energy: walk(E) = TIME_WALK * (sqrt(CAF_TOY_PEAK_ENERGY / E) - 1), zero at the peak energy. A time
 * calibration must estimate E = amplitude / gain, i.e. it needs the gains. */
#define TIME_WALK 1.0         /* ns */
#define N_LINES 4

typedef caf_random rng;

/* The toy's streams: one for the constants (purpose "constants") and one per run ("events"). */
static void rng_seed(rng *r, uint64_t seed, const char *purpose, int exp, int run)
{
    caf_random_seed_for_run(r, seed, purpose, (caf_exprun){exp, run});
}

static double rng_uniform(rng *r)
{
    return caf_random_uniform(r);
}

static int rng_int(rng *r, int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_uniform(r) * (hi - lo + 1));
}

static double rng_gauss(rng *r, double mean, double sigma)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return mean + sigma * sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static const char *const line_names[N_LINES] = {CAF_TOY_LINE_MUMU, CAF_TOY_LINE_BHABHA, CAF_TOY_LINE_HADRON,
                                                CAF_TOY_LINE_2TRK};
static const int32_t line_prescales[N_LINES] = {1, 10, 1, 1};

enum process { MUMU, BHABHA, HADRON, BACKGROUND };
/* Cumulative shares of the processes among recorded events. */
static const double process_share[] = {0.10, 0.40, 0.80, 1.0};

typedef struct toy {
    caf_toy_options o;
    int n_runs;
    int jump_index; /* index of the first run after the high-voltage change */
    double *base_gain, *gain_drift, *gain_jump, *base_t0, *t0_jump;
    bool *dead, *hot;
} toy;

static caf_exprun run_of_index(const toy *t, int k)
{
    return (caf_exprun){1 + k / t->o.runs_per_experiment, 1 + k % t->o.runs_per_experiment};
}

static double gain_at(const toy *t, int c, int k)
{
    double g = t->base_gain[c] * (1.0 + t->gain_drift[c] * k);
    return k >= t->jump_index ? g * t->gain_jump[c] : g;
}

static double t0_at(const toy *t, int c, int k)
{
    double v = t->base_t0[c] + 0.05 * k;
    return k >= t->jump_index ? v + t->t0_jump[c] : v;
}

/* Events of run k: some runs are short (as runs ended by a beam abort are). */
static int events_of_run(const toy *t, rng *r, int k)
{
    if (k % t->o.runs_per_experiment == 2)
        return 5 + rng_int(r, 0, t->o.events_per_run / 100);
    return (int)(t->o.events_per_run * (0.8 + 0.4 * rng_uniform(r)));
}

static void make_constants(toy *t)
{
    rng r;
    rng_seed(&r, t->o.seed, "toy constants", 0, 0);
    int n = t->o.n_channels;
    for (int c = 0; c < n; c++) {
        t->base_gain[c] = 0.85 + 0.3 * rng_uniform(&r);
        t->gain_drift[c] = rng_gauss(&r, 0.0, 0.002);
        t->gain_jump[c] = rng_gauss(&r, 1.10, 0.03);
        t->base_t0[c] = rng_gauss(&r, 0.0, 2.0);
        t->t0_jump[c] = rng_gauss(&r, 1.5, 0.3);
    }
    /* two dead and two hot channels, distinct */
    int marked = 0;
    while (marked < 4 && marked < n) {
        int c = rng_int(&r, 0, n - 1);
        if (t->dead[c] || t->hot[c])
            continue;
        if (marked < 2)
            t->dead[c] = true;
        else
            t->hot[c] = true;
        marked++;
    }
}

/* Growable arrays for the events of one file. */
typedef struct buf {
    int32_t *exp, *run, *ntrk, *chan;
    uint32_t *event;
    float *etot, *amp, *time;
    int64_t *off;
    int8_t *res, *np;
    uint8_t *present;
    size_t n, cap, hits, cap_hits;
} buf;

static bool buf_reserve(buf *b, size_t events, size_t hits)
{
    if (events > b->cap) {
        size_t c = events * 2;
        void *p[] = {realloc(b->exp, c * 4), realloc(b->run, c * 4), realloc(b->ntrk, c * 4),
                     realloc(b->event, c * 4), realloc(b->etot, c * 4), realloc(b->off, (c + 1) * 8),
                     realloc(b->res, c * N_LINES), realloc(b->np, c * N_LINES), realloc(b->present, c)};
        b->exp = p[0] ? p[0] : b->exp, b->run = p[1] ? p[1] : b->run, b->ntrk = p[2] ? p[2] : b->ntrk;
        b->event = p[3] ? p[3] : b->event, b->etot = p[4] ? p[4] : b->etot, b->off = p[5] ? p[5] : b->off;
        b->res = p[6] ? p[6] : b->res, b->np = p[7] ? p[7] : b->np, b->present = p[8] ? p[8] : b->present;
        for (size_t i = 0; i < 9; i++)
            if (!p[i])
                return false;
        b->cap = c;
    }
    if (hits > b->cap_hits) {
        size_t c = hits * 2;
        void *p[] = {realloc(b->chan, c * 4), realloc(b->amp, c * 4), realloc(b->time, c * 4)};
        b->chan = p[0] ? p[0] : b->chan, b->amp = p[1] ? p[1] : b->amp, b->time = p[2] ? p[2] : b->time;
        if (!p[0] || !p[1] || !p[2])
            return false;
        b->cap_hits = c;
    }
    return true;
}

static void buf_free(buf *b)
{
    free(b->exp), free(b->run), free(b->ntrk), free(b->chan), free(b->event), free(b->etot);
    free(b->amp), free(b->time), free(b->off), free(b->res), free(b->np), free(b->present);
}

/* Per-run statistics for truth.json. */
typedef struct run_stats {
    int64_t accepted[N_LINES];
    int64_t hits;
    int *peak_hits; /* per channel */
} run_stats;

/* Simulates one event of run k into b. */
static bool simulate_event(const toy *t, rng *r, int k, uint32_t number, buf *b, run_stats *st)
{
    caf_exprun er = run_of_index(t, k);
    double u = rng_uniform(r);
    enum process p = u < process_share[0] ? MUMU : u < process_share[1] ? BHABHA : u < process_share[2] ? HADRON : BACKGROUND;
    static const int hit_range[][2] = {{2, 4}, {6, 12}, {10, 25}, {1, 3}};
    int nhits = rng_int(r, hit_range[p][0], hit_range[p][1]);
    int nhot = 0;
    for (int c = 0; c < t->o.n_channels; c++)
        nhot += t->hot[c];
    if (!buf_reserve(b, b->n + 1, b->hits + (size_t)nhits + (size_t)nhot))
        return false;
    size_t i = b->n;
    b->exp[i] = er.exp, b->run[i] = er.run, b->event[i] = number;
    b->ntrk[i] = p == MUMU || p == BHABHA ? 2 : p == HADRON ? rng_int(r, 3, 10) : rng_int(r, 0, 1);
    b->off[i] = (int64_t)b->hits;
    double etot = 0;
    for (int h = 0; h < nhits; h++) {
        int c;
        do
            c = rng_int(r, 0, t->o.n_channels - 1);
        while (t->dead[c]);
        bool peak = rng_uniform(r) < PEAK_FRACTION;
        double e = peak ? rng_gauss(r, CAF_TOY_PEAK_ENERGY, ENERGY_RESOLUTION) : 10.0 + 190.0 * rng_uniform(r);
        double a = gain_at(t, c, k) * e + rng_gauss(r, 0.0, NOISE);
        b->chan[b->hits] = c;
        b->amp[b->hits] = (float)a;
        double walk = TIME_WALK * (sqrt(CAF_TOY_PEAK_ENERGY / e) - 1.0);
        b->time[b->hits] = (float)rng_gauss(r, t0_at(t, c, k) + walk, TIME_RESOLUTION);
        b->hits++;
        st->peak_hits[c] += peak;
        etot += a;
    }
    for (int c = 0; c < t->o.n_channels; c++)
        if (t->hot[c] && rng_uniform(r) < 0.3) {
            double a = -20.0 * log(1.0 - rng_uniform(r));
            b->chan[b->hits] = c;
            b->amp[b->hits] = (float)a;
            b->time[b->hits] = (float)(-50.0 + 100.0 * rng_uniform(r));
            b->hits++;
            etot += a;
        }
    st->hits += (int64_t)(b->hits - (size_t)b->off[i]);
    b->etot[i] = (float)etot;
    /* HLT: each line's cut accepts its process with 95% efficiency and others rarely; the result after
     * prescale additionally passes 1 in P accepted events. 1% of decisions have no result; 0.2% of
     * events have no trigger object at all. */
    static const enum process line_process[N_LINES] = {MUMU, BHABHA, HADRON, MUMU};
    for (int l = 0; l < N_LINES; l++) {
        bool match = line_process[l] == p || (l == 3 && (p == BHABHA || (p == HADRON && b->ntrk[i] == 2)));
        int8_t np = rng_uniform(r) < (match ? 0.95 : 0.01) ? 1 : -1;
        int8_t res = np == 1 && rng_uniform(r) * line_prescales[l] < 1.0 ? 1 : -1;
        if (rng_uniform(r) < 0.01)
            np = res = 0;
        b->np[i * N_LINES + l] = np;
        b->res[i * N_LINES + l] = res;
    }
    b->present[i] = rng_uniform(r) >= 0.002;
    if (!b->present[i])
        memset(&b->res[i * N_LINES], 0, N_LINES), memset(&b->np[i * N_LINES], 0, N_LINES);
    for (int l = 0; l < N_LINES; l++)
        st->accepted[l] += b->res[i * N_LINES + l] == 1;
    b->n++;
    b->off[b->n] = (int64_t)b->hits;
    return true;
}

static caf_status write_file(const char *path, const toy *t, const buf *b, caf_error *err)
{
    static const caf_column_desc columns[] = {{"n_tracks", CAF_COLUMN_INT32}, {"total_energy", CAF_COLUMN_FLOAT32}};
    static const caf_column_desc fields[] = {
        {"channel", CAF_COLUMN_INT32}, {"amplitude", CAF_COLUMN_FLOAT32}, {"time", CAF_COLUMN_FLOAT32}};
    static const caf_array_desc arrays[] = {{"hits", fields, 3}};
    caf_event_schema s = {.columns = columns, .n_columns = 2, .arrays = arrays, .n_arrays = 1, .has_trigger = true,
                          .trigger_lines = line_names, .trigger_prescales = line_prescales, .n_trigger_lines = N_LINES};
    /* HDF5 allocates whole chunks: a short run's file would be mostly padding with the default chunk. */
    size_t chunk = b->n < CAF_EVENT_DEFAULT_CHUNK ? (b->n > 64 ? b->n : 64) : 0;
    caf_event_writer_options o = {.creator = "caf gen toy", .creator_version = CAF_VERSION_STRING,
                                  .random_seed = t->o.seed, .chunk_events = chunk};
    caf_event_writer *w;
    caf_status rc = caf_event_writer_open(&w, path, &s, &o, err);
    if (rc)
        return rc;
    const void *cols[] = {b->ntrk, b->etot};
    const void *hf[] = {b->chan, b->amp, b->time};
    const void *const *af[] = {hf};
    const int64_t *offs[] = {b->off};
    caf_event_batch batch = {.count = b->n, .exp = b->exp, .run = b->run, .event = b->event, .columns = cols,
                             .array_offsets = offs, .array_fields = af, .trigger_result = b->res,
                             .trigger_result_nonprescaled = b->np, .trigger_present = b->present};
    rc = caf_event_writer_append(w, &batch, err);
    if (rc) {
        caf_event_writer_abort(w);
        return rc;
    }
    return caf_event_writer_close(w, err);
}

static json_t *doubles_json(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* Simulates run k into its files and returns its truth.json entry (NULL and err set on failure). */
static json_t *generate_run(const toy *t, const char *outdir, int k, caf_error *err)
{
    caf_exprun er = run_of_index(t, k);
    rng r;
    rng_seed(&r, t->o.seed, "toy events", er.exp, er.run);
    int n = events_of_run(t, &r, k);
    int nc = t->o.n_channels;
    run_stats st = {.peak_hits = calloc((size_t)nc, sizeof(int))};
    double *gains = malloc((size_t)nc * sizeof *gains), *t0s = malloc((size_t)nc * sizeof *t0s);
    json_t *files = json_array();
    buf b = {0};
    caf_status rc = st.peak_hits && gains && t0s && buf_reserve(&b, 1, 1) ? CAF_OK
                                                                           : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    int per_file = (n + t->o.files_per_run - 1) / t->o.files_per_run;
    uint32_t number = 1;
    for (int f = 0; !rc && f < t->o.files_per_run; f++) {
        b.n = b.hits = 0;
        b.off[0] = 0;
        for (int e = 0; !rc && e < per_file && (int)number <= n; e++)
            if (!simulate_event(t, &r, k, number++, &b, &st))
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        char name[64];
        snprintf(name, sizeof name, "toy_e%04d_r%05d_f%02d.h5", er.exp, er.run, f);
        char *path = caf_path_join(outdir, name);
        if (!rc)
            rc = path ? write_file(path, t, &b, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(path);
        json_array_append_new(files, json_pack("{s:s, s:I}", "name", name, "events", (json_int_t)b.n));
    }
    json_t *entry = NULL;
    if (!rc) {
        json_t *peaks = json_array(), *accepted = json_object(), *errors = json_array();
        for (int c = 0; c < nc; c++) {
            gains[c] = gain_at(t, c, k);
            t0s[c] = t0_at(t, c, k);
            json_array_append_new(peaks, json_integer(st.peak_hits[c]));
            /* the statistical error of a gain from the mean of this run's peak hits of channel c: the
             * amplitude width over sqrt(hits), in units of the peak energy (null without peak hits) */
            double width = hypot(gains[c] * ENERGY_RESOLUTION, NOISE);
            json_array_append_new(errors, st.peak_hits[c] ? json_real(width / sqrt(st.peak_hits[c]) / CAF_TOY_PEAK_ENERGY)
                                                          : json_null());
        }
        for (int l = 0; l < N_LINES; l++)
            json_object_set_new(accepted, line_names[l], json_integer(st.accepted[l]));
        entry = json_pack("{s:i, s:i, s:i, s:I, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "exp", er.exp, "run", er.run,
                          "events", n, "hits", (json_int_t)st.hits, "after_hv_change", k >= t->jump_index, "gain",
                          doubles_json(gains, nc), "t0", doubles_json(t0s, nc), "peak_hits", peaks,
                          "gain_stat_error", errors, "accepted", accepted, "files", files);
        files = NULL;
    }
    json_decref(files);
    buf_free(&b);
    free(st.peak_hits);
    free(gains);
    free(t0s);
    return entry;
}

caf_status caf_toy_generate(const char *outdir, const caf_toy_options *options, caf_error *err)
{
    toy t = {.o = options ? *options : (caf_toy_options){0}};
    if (t.o.n_channels <= 0)
        t.o.n_channels = 48;
    if (t.o.n_experiments <= 0)
        t.o.n_experiments = 2;
    if (t.o.runs_per_experiment <= 0)
        t.o.runs_per_experiment = 4;
    if (t.o.events_per_run <= 0)
        t.o.events_per_run = 2000;
    if (t.o.files_per_run <= 0)
        t.o.files_per_run = 1;
    if (t.o.n_channels < 8)
        return caf_error_set(err, CAF_ERR_INVALID, "the toy detector needs at least 8 channels, not %d",
                             t.o.n_channels);
    t.n_runs = t.o.n_experiments * t.o.runs_per_experiment;
    t.jump_index = t.n_runs > 1 ? t.n_runs / 2 + 1 : 0;
    if (t.jump_index >= t.n_runs)
        t.jump_index = t.n_runs - 1;
    size_t nc = (size_t)t.o.n_channels;
    t.base_gain = calloc(nc, sizeof(double));
    t.gain_drift = calloc(nc, sizeof(double));
    t.gain_jump = calloc(nc, sizeof(double));
    t.base_t0 = calloc(nc, sizeof(double));
    t.t0_jump = calloc(nc, sizeof(double));
    t.dead = calloc(nc, sizeof(bool));
    t.hot = calloc(nc, sizeof(bool));
    caf_status rc = CAF_OK;
    if (!t.base_gain || !t.gain_drift || !t.gain_jump || !t.base_t0 || !t.t0_jump || !t.dead || !t.hot)
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = caf_mkdir_p(outdir, err);
    json_t *runs = json_array();
    if (!rc) {
        make_constants(&t);
        for (int k = 0; !rc && k < t.n_runs; k++) {
            json_t *entry = generate_run(&t, outdir, k, err);
            if (!entry)
                rc = err ? err->code : CAF_ERR_IO;
            else
                json_array_append_new(runs, entry);
        }
    }
    if (!rc) {
        json_t *dead = json_array(), *hot = json_array(), *lines = json_array();
        for (int c = 0; c < t.o.n_channels; c++) {
            if (t.dead[c])
                json_array_append_new(dead, json_integer(c));
            if (t.hot[c])
                json_array_append_new(hot, json_integer(c));
        }
        for (int l = 0; l < N_LINES; l++)
            json_array_append_new(lines, json_pack("{s:s, s:i}", "name", line_names[l], "prescale", line_prescales[l]));
        caf_exprun jump = run_of_index(&t, t.jump_index);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t.o.seed);
        json_t *truth = json_pack(
            "{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:{s:i, s:i}, s:o, s:o, s:o, s:O, s:s}", "seed", seed, "n_channels",
            t.o.n_channels, "peak_energy", CAF_TOY_PEAK_ENERGY, "energy_resolution", ENERGY_RESOLUTION, "noise", NOISE,
            "time_resolution", TIME_RESOLUTION, "time_walk", TIME_WALK, "peak_fraction", PEAK_FRACTION, "hv_change", "exp", jump.exp, "run",
            jump.run, "dead_channels", dead, "hot_channels", hot, "trigger_lines", lines, "runs", runs, "note",
            "amplitude = gain * energy + N(0, noise); a peak hit has energy N(peak_energy, energy_resolution); "
            "time = t0 + time_walk * (sqrt(peak_energy / energy) - 1) + N(0, time_resolution); gain and t0 apply from hv_change on with a jump");
        char *path = caf_path_join(outdir, "truth.json");
        rc = truth && path ? caf_json_save_file(path, truth, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(path);
        json_decref(truth);
    }
    json_decref(runs);
    free(t.base_gain), free(t.gain_drift), free(t.gain_jump), free(t.base_t0), free(t.t0_jump);
    free(t.dead), free(t.hot);
    return rc;
}
