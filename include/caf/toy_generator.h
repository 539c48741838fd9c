/* Toy detector data for tests and the demo: event files of a small calorimeter-like detector with known
 * per-channel gains and time offsets (which drift, and jump at a known run after a high-voltage change),
 * dead and hot channels and HLT trigger lines with realistic rates and prescales. The true constants are
 * written beside the data as truth.json so that calibrations can be checked against them. Deterministic
 * for a given seed: equal options give equal truth and equal event content. */
#ifndef CAF_TOY_GENERATOR_H
#define CAF_TOY_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_toy_options {
    uint64_t seed;
    int n_channels;        /* detector channels; 0 = 48 */
    int n_experiments;     /* 0 = 2 (experiments numbered 1, 2, ...) */
    int runs_per_experiment; /* 0 = 4 (runs numbered 1, 2, ...) */
    int events_per_run;    /* typical events of a normal run; 0 = 2000 */
    int files_per_run;     /* event files per run (events split between them); 0 = 1 */
} caf_toy_options;

/* Names of the trigger lines the toy records, in column order (Belle II HLT style). */
#define CAF_TOY_LINE_MUMU "software_trigger_cut&hlt&accept_mu_mu"
#define CAF_TOY_LINE_BHABHA "software_trigger_cut&hlt&accept_bhabha"
#define CAF_TOY_LINE_HADRON "software_trigger_cut&hlt&accept_hadron"
#define CAF_TOY_LINE_2TRK "software_trigger_cut&hlt&accept_2_tracks"

/* Energy (arbitrary units) of the fixed line every hit amplitude peaks at: amplitude = gain * energy +
 * noise, so a per-channel peak fit recovers gain = peak / CAF_TOY_PEAK_ENERGY. */
#define CAF_TOY_PEAK_ENERGY 100.0

/* Writes OUTDIR/toy_eEEEE_rRRRRR_fFF.h5 event files and OUTDIR/truth.json (creating outdir). truth.json:
 * seed, n_channels, peak_energy, energy_resolution, noise, time_resolution, time_walk (hit time =
 * t0 + time_walk * (sqrt(peak_energy / energy) - 1) + jitter), peak_fraction, hv_change
 * {exp, run}, dead_channels, hot_channels, trigger_lines [{name, prescale}], and per run: exp, run,
 * events, hits, after_hv_change, gain[c], t0[c], peak_hits[c], gain_stat_error[c] (the statistical error
 * of a gain from the mean of that run's peak hits), accepted {line: events}, files [{name, events}].
 * Columns: per event "n_tracks" (int32), "total_energy" (float32); array "hits" with fields "channel"
 * (int32), "amplitude" (float32), "time" (float32); trigger lines CAF_TOY_LINE_*. */
caf_status caf_toy_generate(const char *outdir, const caf_toy_options *options, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
