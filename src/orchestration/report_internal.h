/* What the files of caf report share (report.c the page and its data, report_jobs.c the collector jobs,
 * report_plots.c the IoV maps and constants plots, report_html.c escaping and SVG axes). Not public. */
#ifndef CAF_REPORT_INTERNAL_H
#define CAF_REPORT_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#include "caf/iov.h"
#include "caf/localdb.h"
#include "caf/report.h"

/* A string list that grows (items malloc'd). */
typedef struct report_lines {
    char **items;
    size_t count;
} report_lines;

/* Appends a formatted line; false when out of memory. */
bool report_lines_add(report_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees every line. */
void report_lines_free(report_lines *l);

/* One calibration as the page shows it. */
typedef struct report_cal {
    const char *name;
    const char *state;
    int iteration; /* the last iteration started */
    const char *reason;
    char *dir;           /* OUTPUT_DIR/NAME */
    caf_exprun *axis;    /* the runs its algorithms executed on, every iteration, sorted */
    size_t axis_count;
    caf_localdb *db;     /* its last iteration's database, NULL when there is none yet */
} report_cal;

/* The page being written and what it found. */
typedef struct report_page {
    FILE *out;
    sqlite3 *state;
    const char *output_dir;
    caf_localdb *reference; /* --compare, or NULL */
    const char *reference_path;
    report_lines missing;
    report_lines not_plotted;
    report_lines changed; /* "CAL: run E.R" once each */
    size_t plots;
    int next_id; /* unique element ids */
} report_page;

/* Writes text HTML-escaped (also inside attribute values). */
void report_html(FILE *out, const char *text);

/* A printf into the page with every %s argument escaped is not C; so: report_html for untrusted text,
 * fprintf for the markup around it. */

/* "e.r" */
char *report_run_text(caf_exprun r, char *buf, size_t size);

/* Writes the collector jobs section of every iteration of c (caf-job.json, the subjobs' stdout summary
 * line of caf process and their stderr). */
void report_collector_jobs(report_page *p, const report_cal *c);

/* Writes the IoV map section of c: every payload name of its database over the run axis, gaps marked. */
void report_iov_map(report_page *p, const report_cal *c);

/* Writes the constants section of c: one plot per numeric field of its JSON payloads, against the
 * reference database when there is one, and the runs that changed by more than their uncertainty. */
void report_constants(report_page *p, const report_cal *c);

#endif
