/* caf report: one self-contained HTML page about a caf run's output folder (no network access, no
 * external scripts or fonts; plots are inline SVG): per calibration its outcome, iterations and timings,
 * collector jobs, algorithm executions, an IoV map of each payload over the run axis with its gaps, and
 * every numeric constant of the JSON payloads against run number, optionally against a reference
 * database. Page layout and classes: docs/report.md. */
#ifndef CAF_REPORT_H
#define CAF_REPORT_H

#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_report_options {
    const char *output_dir; /* a caf run output folder */
    const char *html_path;  /* the page to write; NULL: OUTPUT_DIR/report.html */
    const char *compare_db; /* a reference conditions database, or NULL */
} caf_report_options;

/* What a written report holds. Free with caf_report_result_clear. */
typedef struct caf_report_result {
    char *path;          /* the page written (malloc'd) */
    size_t calibrations; /* calibrations reported */
    size_t plots;        /* constants plots */
    size_t changed_runs; /* runs whose constants changed against the reference by more than their uncertainty */
    char **missing;      /* what a half-finished run lacks, one line each (malloc'd) */
    size_t missing_count;
    char **not_plotted;  /* payloads that are not JSON, "NAME revision REV (FILE)" (malloc'd) */
    size_t not_plotted_count;
} caf_report_result;

/* Writes the report of options->output_dir atomically (never a partial page under the final name). A
 * folder without a state database is CAF_ERR_NOT_FOUND; an unreadable reference database an error naming
 * it. A half-finished run is reported as far as it got, what is missing listed in result->missing. */
caf_status caf_report_write(const caf_report_options *options, caf_report_result *result, caf_error *err);

/* Frees what a result holds (not the struct). */
void caf_report_result_clear(caf_report_result *result);

#ifdef __cplusplus
}
#endif
#endif
