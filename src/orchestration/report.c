/* caf report: the page (caf/report.h). Everything comes from what a run leaves in its output folder: the
 * state database (calibrations, transitions, executions, outcomes), each iteration's collector jobs and
 * database, and summary.json. A half-finished run is reported as far as it got and what is missing is
 * listed at the top of the page. The page is built in memory and written atomically. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caf/caf_run.h"
#include "caf/file.h"
#include "caf/json.h"
#include "caf/version.h"
#include "orchestration/report_internal.h"
#include "orchestration/run_internal.h"

bool report_lines_add(report_lines *l, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    char **grown = n < 0 ? NULL : realloc(l->items, (l->count + 1) * sizeof *grown);
    if (!grown) {
        free(n < 0 ? NULL : line);
        return false;
    }
    l->items = grown;
    l->items[l->count++] = line;
    return true;
}

void report_lines_free(report_lines *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    *l = (report_lines){0};
}

static const char page_style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}"
    "h1{font-size:1.5em}h2{border-bottom:2px solid #888;margin-top:2em}h3{margin-bottom:.3em}"
    "table{border-collapse:collapse;font-size:.85em;margin:.3em 0}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee}.num{text-align:right}"
    ".completed,.ok{color:#176217}.failed,.failure{color:#b00}.iterate{color:#a60}"
    ".missing{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em}"
    "pre{background:#f6f6f6;padding:.4em;font-size:.8em;overflow-x:auto;max-height:20em}"
    "figure{margin:.5em 0 1.5em 0}figcaption{font-size:.9em;margin-bottom:.2em}"
    "svg text{font-family:sans-serif;font-size:10px}"
    ".note{color:#666;font-size:.85em}nav a{margin-right:1em}";

/* The series selector, the only thing that needs JavaScript. A link ending in #series=plot-N:K opens the
 * page with index K of plot N shown. */
static const char page_script[] =
    "function cafShow(id,v){var f=document.getElementById(id);if(!f)return;"
    "f.querySelectorAll('g.series').forEach(function(g){g.style.display=g.dataset.index===v?'':'none';});}"
    "document.querySelectorAll('select.series-select').forEach(function(s){"
    "s.addEventListener('change',function(){cafShow(s.dataset.figure,s.value);});});"
    "var cafHash=/^#series=(plot-[0-9]+):([0-9]+)$/.exec(location.hash);"
    "if(cafHash){var cafSel=document.querySelector('select[data-figure=\"'+cafHash[1]+'\"]');"
    "if(cafSel){cafSel.value=cafHash[2];cafShow(cafHash[1],cafHash[2]);}}";

char *report_run_text(caf_exprun r, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%d", r.exp, r.run);
    return buf;
}

static void when_text(double at, char *buf, size_t size)
{
    time_t t = (time_t)at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void duration_text(double seconds, char *buf, size_t size)
{
    if (seconds < 0)
        snprintf(buf, size, "-");
    else if (seconds < 120)
        snprintf(buf, size, "%.1f s", seconds);
    else if (seconds < 7200)
        snprintf(buf, size, "%.1f min", seconds / 60);
    else
        snprintf(buf, size, "%.1f h", seconds / 3600);
}

static const char *column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

/* Outcome, iterations and per-iteration timings from the transitions. */
static void write_outcome(report_page *p, const report_cal *c)
{
    FILE *f = p->out;
    fprintf(f, "<section class=\"outcome\"><h3>Outcome</h3><table><tr><th>state</th><td class=\"%s\">",
            c->state);
    report_html(f, c->state);
    fprintf(f, "</td></tr><tr><th>iterations</th><td>%d</td></tr>", c->iteration + 1);
    if (*c->reason) {
        fputs("<tr><th>reason</th><td>", f);
        report_html(f, c->reason);
        fputs("</td></tr>", f);
    }
    double first = -1, last = -1;
    sqlite3_stmt *st = run_db_prepare(p->state, NULL, "SELECT MIN(at), MAX(at) FROM transitions WHERE calibration = ?",
                                      "t", c->name);
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        first = sqlite3_column_double(st, 0);
        last = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    char a[64], b[64], d[32];
    if (first >= 0) {
        when_text(first, a, sizeof a);
        when_text(last, b, sizeof b);
        duration_text(last - first, d, sizeof d);
        fprintf(f, "<tr><th>started</th><td>%s</td></tr><tr><th>last change</th><td>%s</td></tr>"
                   "<tr><th>duration</th><td>%s</td></tr>",
                a, b, d);
    }
    fputs("</table>\n<table class=\"timings\"><tr><th>iteration</th><th>collector phase</th>"
          "<th>algorithm phase</th><th>ended with</th></tr>",
          f);
    for (int it = 0; it <= c->iteration; it++) {
        double col_start = -1, col_end = -1, alg_start = -1, alg_end = -1;
        const char *end = "";
        char ended[64] = "";
        st = run_db_prepare(p->state, NULL,
                            "SELECT from_state, to_state, at FROM transitions WHERE calibration = ? AND iteration = ? "
                            "ORDER BY id",
                            "ti", c->name, it);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            const char *to = column_text(st, 1);
            double at = sqlite3_column_double(st, 2);
            if (!strcmp(to, "running_collector") && col_start < 0)
                col_start = at;
            else if (!strcmp(to, "collector_completed") || !strcmp(to, "collector_failed"))
                col_end = at;
            else if (!strcmp(to, "running_algorithms") && alg_start < 0)
                alg_start = at;
            else if (!strcmp(to, "algorithms_completed") || !strcmp(to, "algorithms_failed"))
                alg_end = at;
            snprintf(ended, sizeof ended, "%s", to);
        }
        sqlite3_finalize(st);
        end = ended;
        duration_text(col_start >= 0 && col_end >= col_start ? col_end - col_start : -1, a, sizeof a);
        duration_text(alg_start >= 0 && alg_end >= alg_start ? alg_end - alg_start : -1, b, sizeof b);
        fprintf(f, "<tr><td class=\"num\">%d</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>", it, a, b);
        report_html(f, end);
        fputs("</td></tr>", f);
    }
    fputs("</table></section>\n", f);
}

/* Every execution of every algorithm and iteration. */
static void write_executions(report_page *p, const report_cal *c)
{
    FILE *f = p->out;
    fputs("<section class=\"executions\"><h3>Algorithm executions</h3>", f);
    sqlite3_stmt *st = run_db_prepare(p->state, NULL,
                                      "SELECT iteration, algorithm, plugin, outcome, reason FROM algorithms WHERE "
                                      "calibration = ? ORDER BY iteration, algorithm",
                                      "t", c->name);
    bool any = false;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (!any)
            fputs("<table class=\"outcomes\"><tr><th>iteration</th><th>algorithm</th><th>outcome</th>"
                  "<th>reason</th></tr>",
                  f);
        any = true;
        fprintf(f, "<tr><td class=\"num\">%d</td><td>%d ", sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
        report_html(f, column_text(st, 2));
        fprintf(f, "</td><td class=\"%s\">", column_text(st, 3));
        report_html(f, column_text(st, 3));
        fputs("</td><td>", f);
        report_html(f, column_text(st, 4));
        fputs("</td></tr>", f);
    }
    sqlite3_finalize(st);
    if (any)
        fputs("</table>", f);
    st = run_db_prepare(p->state, NULL,
                        "SELECT iteration, algorithm, idx, runs, iov, result, committed, message FROM executions "
                        "WHERE calibration = ? ORDER BY iteration, algorithm, idx",
                        "t", c->name);
    size_t rows = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (!rows++)
            fputs("<table class=\"execution-table\"><tr><th>iteration</th><th>algorithm</th><th>execution</th>"
                  "<th>runs</th><th>IoV</th><th>result</th><th>committed</th><th>message</th></tr>",
                  f);
        fprintf(f, "<tr><td class=\"num\">%d</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td>",
                sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2));
        json_t *runs = json_loads(column_text(st, 3), 0, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r)
            fprintf(f, "%s%lld.%lld", i ? ", " : "", (long long)json_integer_value(json_array_get(r, 0)),
                    (long long)json_integer_value(json_array_get(r, 1)));
        json_decref(runs);
        fputs("</td><td>", f);
        report_html(f, column_text(st, 4));
        fprintf(f, "</td><td class=\"%s\">", column_text(st, 5));
        report_html(f, column_text(st, 5));
        fprintf(f, "</td><td>%s</td><td>", sqlite3_column_int(st, 6) ? "yes" : "no");
        report_html(f, column_text(st, 7));
        fputs("</td></tr>\n", f);
    }
    sqlite3_finalize(st);
    if (rows)
        fputs("</table>", f);
    else
        fputs("<p class=\"note\">No algorithm execution yet.</p>", f);
    fputs("</section>\n", f);
}

/* The runs the calibration's algorithms executed on, all iterations together, sorted. */
static void load_axis(report_page *p, report_cal *c)
{
    sqlite3_stmt *st = run_db_prepare(p->state, NULL, "SELECT runs FROM executions WHERE calibration = ?", "t", c->name);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *runs = json_loads(column_text(st, 0), 0, NULL);
        size_t n = json_array_size(runs);
        caf_exprun *grown = n ? realloc(c->axis, (c->axis_count + n) * sizeof *grown) : c->axis;
        if (grown) {
            c->axis = grown;
            size_t i;
            json_t *r;
            json_array_foreach(runs, i, r)
                c->axis[c->axis_count++] = (caf_exprun){(int)json_integer_value(json_array_get(r, 0)),
                                                        (int)json_integer_value(json_array_get(r, 1))};
        }
        json_decref(runs);
    }
    sqlite3_finalize(st);
    c->axis_count = caf_exprun_sort_unique(c->axis, c->axis_count);
}

static void open_cal_database(report_page *p, report_cal *c)
{
    char *db = NULL, *text = NULL;
    if (asprintf(&db, "%s/iteration_%d/database", c->dir, c->iteration) >= 0 &&
        asprintf(&text, "%s/%s", db, CAF_LOCALDB_TEXT_FILE) >= 0 && access(text, F_OK) == 0) {
        caf_error err = {0};
        if (caf_localdb_open(db, 0, &c->db, &err) != CAF_OK)
            report_lines_add(&p->missing, "%s: its database cannot be read: %s", c->name, err.message);
    } else {
        report_lines_add(&p->missing, "%s: no database in iteration %d yet", c->name, c->iteration);
    }
    free(db);
    free(text);
}

static void write_calibration(report_page *p, report_cal *c)
{
    FILE *f = p->out;
    fprintf(f, "<section class=\"calibration\" id=\"cal-");
    report_html(f, c->name);
    fprintf(f, "\" data-calibration=\"");
    report_html(f, c->name);
    fputs("\"><h2>", f);
    report_html(f, c->name);
    fprintf(f, " <span class=\"%s\">(", c->state);
    report_html(f, c->state);
    fputs(")</span></h2>\n", f);
    if (strcmp(c->state, "completed") && strcmp(c->state, "failed"))
        report_lines_add(&p->missing, "%s: not finished (state %s, iteration %d)", c->name, c->state, c->iteration);
    load_axis(p, c);
    open_cal_database(p, c);
    write_outcome(p, c);
    report_collector_jobs(p, c);
    write_executions(p, c);
    report_iov_map(p, c);
    report_constants(p, c);
    fputs("</section>\n", f);
}

static caf_status open_state(const char *dir, sqlite3 **db, caf_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a caf run output folder (%s)", dir,
                             stat(dir, &st) != 0 ? strerror(errno) : "not a folder");
    char *path = caf_path_join(dir, CAF_RUN_STATE_FILE);
    bool found = path && access(path, F_OK) == 0;
    free(path);
    if (!found)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a caf run output folder (no %s)", dir,
                             CAF_RUN_STATE_FILE);
    return run_db_open(dir, RUN_DB_READ, db, err);
}

static void write_header(report_page *p, size_t count)
{
    FILE *f = p->out;
    char now[64];
    when_text((double)time(NULL), now, sizeof now);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\"><link rel=\"icon\" href=\"data:,\"><title>caf report: ",
          f);
    report_html(f, p->output_dir);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>caf report: ", page_style);
    report_html(f, p->output_dir);
    fprintf(f, "</h1><p class=\"note\">Written by caf %s on %s.", CAF_VERSION_STRING, now);
    char *source = run_db_meta(p->state, "source");
    if (source) {
        fputs(" Campaign: ", f);
        report_html(f, source);
        fputc('.', f);
    }
    free(source);
    if (p->reference) {
        fputs(" Compared with the reference database ", f);
        report_html(f, p->reference_path);
        fputc('.', f);
    }
    fprintf(f, "</p>\n<nav>%zu calibration%s:", count, count == 1 ? "" : "s");
}

caf_status caf_report_write(const caf_report_options *options, caf_report_result *result, caf_error *err)
{
    memset(result, 0, sizeof *result);
    report_page p = {.output_dir = options->output_dir, .reference_path = options->compare_db};
    caf_status rc = open_state(options->output_dir, &p.state, err);
    if (rc == CAF_OK && options->compare_db) {
        caf_error ref_err = {0};
        if (caf_localdb_open(options->compare_db, 0, &p.reference, &ref_err) != CAF_OK)
            rc = caf_error_set(err, CAF_ERR_INVALID, "--compare: %s", ref_err.message);
    }
    if (rc == CAF_OK && !(result->path = options->html_path ? strdup(options->html_path)
                                                            : caf_path_join(options->output_dir, "report.html")))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    report_cal *cals = NULL;
    size_t count = 0;
    sqlite3_stmt *st = rc == CAF_OK ? run_db_prepare(p.state, err, "SELECT name, state, iteration, reason FROM "
                                                                   "calibrations ORDER BY position", "")
                                    : NULL;
    if (rc == CAF_OK && !st)
        rc = err ? err->code : CAF_ERR_IO;
    while (rc == CAF_OK && sqlite3_step(st) == SQLITE_ROW) {
        report_cal *grown = realloc(cals, (count + 1) * sizeof *grown);
        if (!grown) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        cals = grown;
        report_cal *c = &cals[count++];
        memset(c, 0, sizeof *c);
        c->name = strdup(column_text(st, 0));
        c->state = strdup(column_text(st, 1));
        c->iteration = sqlite3_column_int(st, 2);
        c->reason = strdup(column_text(st, 3));
        c->dir = caf_path_join(options->output_dir, c->name);
        if (!c->name || !c->state || !c->reason || !c->dir)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    char *text = NULL;
    size_t size = 0;
    if (rc == CAF_OK && !(p.out = open_memstream(&text, &size)))
        rc = caf_error_errno(err, errno, "report: cannot allocate the page");
    if (rc == CAF_OK) {
        if (count == 0)
            report_lines_add(&p.missing, "no calibration is recorded yet");
        char *path = caf_path_join(options->output_dir, "summary.json");
        if (path && access(path, F_OK) != 0)
            report_lines_add(&p.missing, "no summary.json: the run has not finished (or is still running)");
        free(path);
        write_header(&p, count);
        for (size_t i = 0; i < count; i++) {
            fputs(" <a href=\"#cal-", p.out);
            report_html(p.out, cals[i].name);
            fputs("\">", p.out);
            report_html(p.out, cals[i].name);
            fputs("</a>", p.out);
        }
        fputs("</nav>\n", p.out);
        /* The calibrations are written to a second buffer first: what is missing is known only after. */
        char *body = NULL;
        size_t body_size = 0;
        FILE *page = p.out;
        p.out = open_memstream(&body, &body_size);
        for (size_t i = 0; p.out && i < count; i++)
            write_calibration(&p, &cals[i]);
        if (p.out)
            fclose(p.out);
        p.out = page;
        if (p.missing.count) {
            fputs("<section class=\"missing\" id=\"missing\"><strong>This run is not complete; missing:</strong><ul>",
                  p.out);
            for (size_t i = 0; i < p.missing.count; i++) {
                fputs("<li>", p.out);
                report_html(p.out, p.missing.items[i]);
                fputs("</li>", p.out);
            }
            fputs("</ul></section>\n", p.out);
        }
        if (p.reference) {
            fprintf(p.out, "<section class=\"changed-runs\" id=\"changed-runs\"><h2>Changed against the "
                           "reference</h2><p>%zu run%s whose constants changed by more than their uncertainty%s",
                    p.changed.count, p.changed.count == 1 ? "" : "s", p.changed.count ? ":" : ".");
            if (p.changed.count) {
                fputs("</p><ul>", p.out);
                for (size_t i = 0; i < p.changed.count; i++) {
                    fputs("<li>", p.out);
                    report_html(p.out, p.changed.items[i]);
                    fputs("</li>", p.out);
                }
                fputs("</ul>", p.out);
            } else {
                fputs("</p>", p.out);
            }
            fputs("</section>\n", p.out);
        }
        if (body)
            fwrite(body, 1, body_size, p.out);
        free(body);
        fprintf(p.out, "<script>%s</script>\n</body></html>\n", page_script);
        if (fclose(p.out) != 0)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "report: out of memory while writing the page");
        p.out = NULL;
    }
    if (rc == CAF_OK)
        rc = caf_file_write_atomic(result->path, text, size, err);
    free(text);
    for (size_t i = 0; i < count; i++) {
        free((char *)cals[i].name);
        free((char *)cals[i].state);
        free((char *)cals[i].reason);
        free(cals[i].dir);
        free(cals[i].axis);
        caf_localdb_close(cals[i].db);
    }
    free(cals);
    result->calibrations = count;
    result->plots = p.plots;
    result->changed_runs = p.changed.count;
    result->missing = p.missing.items;
    result->missing_count = p.missing.count;
    result->not_plotted = p.not_plotted.items;
    result->not_plotted_count = p.not_plotted.count;
    report_lines_free(&p.changed);
    caf_localdb_close(p.reference);
    run_db_close(p.state);
    return rc;
}

void caf_report_result_clear(caf_report_result *result)
{
    free(result->path);
    report_lines l = {result->missing, result->missing_count};
    report_lines_free(&l);
    l = (report_lines){result->not_plotted, result->not_plotted_count};
    report_lines_free(&l);
    memset(result, 0, sizeof *result);
}
