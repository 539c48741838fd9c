/* caf report: the IoV map and the constants plots of a calibration, as inline SVG.
 *
 * The run axis is the runs the calibration's algorithms executed on (every iteration), one slot each in
 * order. At each run the payload that applies is the database's (the last matching line wins). A
 * constants plot is one numeric field of the JSON payloads of one name: a number is one series, an array
 * of numbers one series per index (the selector picks which is shown; without JavaScript index 0 is).
 * A field NAME_error (or _err, _uncertainty, _unc, _sigma) beside NAME is its uncertainty, drawn as error
 * bars. Each series has one point per run that a payload holding the field applies to. With a reference
 * database, its values at the same runs are drawn as squares and the runs whose values differ by more
 * than the combined uncertainty (any difference when neither has one) are listed. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/json.h"
#include "orchestration/report_internal.h"

#define SEP '\x1f' /* between the keys of a field's path */

static const char *const error_suffixes[] = {"_error", "_err", "_uncertainty", "_unc", "_sigma"};

/* A numeric field of a payload name. */
typedef struct field {
    char *path;       /* keys joined by SEP */
    bool array;
    size_t length;    /* series: 1, or the longest array */
    int error;        /* index of the field holding its uncertainty, or -1 */
    bool is_error;    /* it is another field's uncertainty: not plotted alone */
} field;

typedef struct field_list {
    field *items;
    size_t count;
} field_list;

static field *field_find(field_list *l, const char *path)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].path, path))
            return &l->items[i];
    return NULL;
}

static bool is_number(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

static bool all_numbers(const json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (!is_number(v)) return false;
    return json_array_size(a) > 0;
}

static void collect_fields(field_list *l, const json_t *obj, const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *path = NULL;
        if ((prefix ? asprintf(&path, "%s%c%s", prefix, SEP, key) : asprintf(&path, "%s", key)) < 0)
            return;
        if (json_is_object(v)) {
            collect_fields(l, v, path);
        } else if (is_number(v) || (json_is_array(v) && all_numbers(v))) {
            field *f = field_find(l, path);
            if (!f) {
                field *grown = realloc(l->items, (l->count + 1) * sizeof *grown);
                if (!grown) {
                    free(path);
                    return;
                }
                l->items = grown;
                f = &l->items[l->count++];
                *f = (field){.path = path, .array = json_is_array(v), .error = -1};
                path = NULL;
            }
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            f->length = n > f->length ? n : f->length;
        }
        free(path);
    }
}

static void pair_errors(field_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        size_t n = strlen(l->items[i].path);
        for (size_t s = 0; s < sizeof error_suffixes / sizeof *error_suffixes; s++) {
            size_t m = strlen(error_suffixes[s]);
            if (n <= m || strcmp(l->items[i].path + n - m, error_suffixes[s]))
                continue;
            char *base = strndup(l->items[i].path, n - m);
            field *f = base ? field_find(l, base) : NULL;
            if (f && f->error < 0 && f->array == l->items[i].array) {
                f->error = (int)i;
                l->items[i].is_error = true;
            }
            free(base);
        }
    }
}

static void free_fields(field_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].path);
    free(l->items);
}

/* The value of field f at index k of payload, if it has one. */
static bool value_at(const json_t *payload, const char *path, bool array, size_t k, double *out)
{
    const json_t *v = payload;
    const char *p = path;
    while (v && p) {
        const char *sep = strchr(p, SEP);
        char *key = sep ? strndup(p, (size_t)(sep - p)) : strdup(p);
        v = key ? json_object_get(v, key) : NULL;
        free(key);
        p = sep ? sep + 1 : NULL;
    }
    if (array)
        v = json_is_array(v) ? json_array_get(v, k) : NULL;
    if (!is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

static void field_label(FILE *out, const char *path)
{
    for (const char *c = path; *c; c++) {
        char one[2] = {*c == SEP ? '.' : *c, '\0'};
        report_html(out, one);
    }
}

/* ---- the payloads of one name over the axis ---- */

typedef struct payload_axis {
    const char *name;
    const caf_db_entry **at;  /* per axis run: the entry that applies, or NULL */
    json_t **json;            /* per axis run: its content when it is a JSON file (borrowed from cache) */
    json_t **reference;       /* per axis run: the reference database's content, or NULL */
    const caf_db_entry **reference_at;
} payload_axis;

/* Loads a payload file as JSON once per entry (cache keyed by entry pointer). */
typedef struct payload_cache {
    const caf_db_entry **entries;
    json_t **values; /* NULL: not JSON or unreadable */
    size_t count;
} payload_cache;

static json_t *load_payload(report_page *p, payload_cache *cache, caf_localdb *db, const caf_db_entry *e,
                            bool note_not_json)
{
    for (size_t i = 0; i < cache->count; i++)
        if (cache->entries[i] == e)
            return cache->values[i];
    const caf_db_entry **entries = realloc(cache->entries, (cache->count + 1) * sizeof *entries);
    if (!entries)
        return NULL;
    cache->entries = entries;
    json_t **values = realloc(cache->values, (cache->count + 1) * sizeof *values);
    if (!values)
        return NULL;
    cache->values = values;
    json_t *v = NULL;
    char *file = caf_localdb_payload_path(db, e, NULL);
    size_t n = file ? strlen(file) : 0;
    if (file && n > 5 && !strcmp(file + n - 5, ".json")) {
        if (caf_json_load_file(file, &v, NULL) != CAF_OK || !json_is_object(v)) {
            json_decref(v);
            v = NULL;
        }
    }
    if (!v && note_not_json)
        report_lines_add(&p->not_plotted, "%s revision %s (%s)", e->name, e->revision, file ? file : "file missing");
    free(file);
    cache->entries[cache->count] = e;
    cache->values[cache->count++] = v;
    return v;
}

static void free_cache(payload_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        json_decref(cache->values[i]);
    free(cache->entries);
    free(cache->values);
}

/* The distinct payload names of a database, in the order of their first line. */
static void payload_names(const caf_localdb *db, report_lines *names)
{
    for (size_t i = 0; db && i < caf_localdb_entry_count(db); i++) {
        const char *name = caf_localdb_entry(db, i)->name;
        bool seen = false;
        for (size_t k = 0; k < names->count && !seen; k++)
            seen = !strcmp(names->items[k], name);
        if (!seen)
            report_lines_add(names, "%s", name);
    }
}

/* ---- SVG geometry ---- */

typedef struct frame {
    double x0, y0, width, height; /* the plot area */
    double slot;                  /* width of one run */
    double lo, hi;                /* the value range */
} frame;

static double slot_x(const frame *fr, size_t i)
{
    return fr->x0 + fr->slot * ((double)i + 0.5);
}

static double value_y(const frame *fr, double v)
{
    return fr->y0 + fr->height * (1.0 - (v - fr->lo) / (fr->hi - fr->lo));
}

/* Run labels under the plot area, thinned to fit. */
static void run_labels(FILE *out, const frame *fr, const caf_exprun *axis, size_t n, double y)
{
    size_t every = (size_t)ceil(28.0 / fr->slot);
    if (every < 1)
        every = 1;
    for (size_t i = 0; i < n; i += every) {
        char run[32];
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", slot_x(fr, i), y,
                report_run_text(axis[i], run, sizeof run));
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">run (exp.run)</text>",
            fr->x0 + fr->width / 2, y + 14);
}

static double slot_width(size_t n)
{
    double w = 900.0 / (double)(n ? n : 1);
    return w > 40 ? 40 : w < 4 ? 4 : w;
}

/* ---- IoV map ---- */

void report_iov_map(report_page *p, const report_cal *c)
{
    FILE *f = p->out;
    fputs("<section class=\"iov-map\"><h3>Payload IoVs over the runs</h3>\n", f);
    report_lines names = {0};
    payload_names(c->db, &names);
    if (!names.count || !c->axis_count) {
        fprintf(f, "<p class=\"note\">%s</p></section>\n",
                !names.count ? "No payload yet." : "No run was executed on yet.");
        report_lines_free(&names);
        return;
    }
    double row = 22, label = 170;
    frame fr = {.x0 = label, .y0 = 5, .slot = slot_width(c->axis_count)};
    fr.width = fr.slot * (double)c->axis_count;
    fr.height = row * (double)names.count;
    fprintf(f, "<svg class=\"iov-map-svg\" width=\"%.0f\" height=\"%.0f\" role=\"img\">", fr.x0 + fr.width + 10,
            fr.y0 + fr.height + 40);
    for (size_t k = 0; k < names.count; k++) {
        double y = fr.y0 + row * (double)k;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", label - 6, y + row / 2 + 4);
        report_html(f, names.items[k]);
        fputs("</text>", f);
        const caf_db_entry *prev = NULL;
        size_t start = 0, stretches = 0;
        for (size_t i = 0; i <= c->axis_count; i++) {
            const caf_db_entry *e = i < c->axis_count ? caf_localdb_find(c->db, names.items[k], c->axis[i]) : NULL;
            bool same = i > 0 && i < c->axis_count && e == prev;
            if (i > 0 && !same) { /* a stretch of one entry (or of none: a gap) ends before i */
                char a[32], b[32], iov[CAF_IOV_TEXT_MAX];
                report_run_text(c->axis[start], a, sizeof a);
                report_run_text(c->axis[i - 1], b, sizeof b);
                fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                           "stroke=\"#fff\"><title>",
                        prev ? "payload" : "gap", fr.x0 + fr.slot * (double)start, y + 2,
                        fr.slot * (double)(i - start), row - 4,
                        prev ? (stretches % 2 ? "#4a7fb5" : "#7fa8d4") : "#d9534f");
                report_html(f, names.items[k]);
                if (prev)
                    fprintf(f, " revision %s, IoV %s: runs %s to %s", prev->revision,
                            caf_iov_format(prev->iov, iov, sizeof iov), a, b);
                else
                    fprintf(f, ": no payload for runs %s to %s", a, b);
                fputs("</title></rect>", f);
                stretches++;
                start = i;
            }
            prev = e;
        }
    }
    run_labels(f, &fr, c->axis, c->axis_count, fr.y0 + fr.height + 14);
    fputs("</svg>\n<p class=\"note\">Blue: the payload that applies (alternating shades at each new payload); "
          "red: runs no payload covers.</p>\n",
          f);
    /* every line, with the IoV the strategy gave it */
    fputs("<table class=\"payload-lines\"><tr><th>payload</th><th>revision</th><th>IoV</th></tr>", f);
    for (size_t i = 0; i < caf_localdb_entry_count(c->db); i++) {
        const caf_db_entry *e = caf_localdb_entry(c->db, i);
        char iov[CAF_IOV_TEXT_MAX];
        fputs("<tr><td>", f);
        report_html(f, e->name);
        fputs("</td><td>", f);
        report_html(f, e->revision);
        fprintf(f, "</td><td>%s</td></tr>", caf_iov_format(e->iov, iov, sizeof iov));
    }
    fputs("</table>\n", f);
    report_lines_free(&names);
    /* the IoV gaps each strategy recorded (A_PLUGIN_iov_gaps.json in the last iteration's folder) */
    char *it_dir = NULL;
    DIR *d = asprintf(&it_dir, "%s/iteration_%d", c->dir, c->iteration) >= 0 ? opendir(it_dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name), m = strlen("_iov_gaps.json");
        if (n <= m || strcmp(de->d_name + n - m, "_iov_gaps.json"))
            continue;
        char *path = caf_path_join(it_dir, de->d_name);
        json_t *gaps = NULL;
        if (path && caf_json_load_file(path, &gaps, NULL) == CAF_OK) {
            fputs("<p class=\"iov-gaps\">", f);
            report_html(f, de->d_name);
            fprintf(f, ": %s", json_array_size(gaps) ? "left uncovered: " : "no gap in the IoVs it was responsible for");
            size_t i;
            json_t *g;
            json_array_foreach(gaps, i, g)
                fprintf(f, "%s%lld,%lld,%lld,%lld", i ? "; " : "", (long long)json_integer_value(json_array_get(g, 0)),
                        (long long)json_integer_value(json_array_get(g, 1)),
                        (long long)json_integer_value(json_array_get(g, 2)),
                        (long long)json_integer_value(json_array_get(g, 3)));
            fputs("</p>\n", f);
        }
        json_decref(gaps);
        free(path);
    }
    if (d)
        closedir(d);
    free(it_dir);
    fputs("</section>\n", f);
}

/* ---- constants ---- */

static void axis_payloads(report_page *p, const report_cal *c, const char *name, payload_cache *cache,
                          payload_cache *ref_cache, payload_axis *pa)
{
    pa->name = name;
    pa->at = calloc(c->axis_count, sizeof *pa->at);
    pa->json = calloc(c->axis_count, sizeof *pa->json);
    pa->reference = calloc(c->axis_count, sizeof *pa->reference);
    pa->reference_at = calloc(c->axis_count, sizeof *pa->reference_at);
    if (!pa->at || !pa->json || !pa->reference || !pa->reference_at)
        return;
    for (size_t i = 0; i < c->axis_count; i++) {
        pa->at[i] = caf_localdb_find(c->db, name, c->axis[i]);
        if (pa->at[i])
            pa->json[i] = load_payload(p, cache, c->db, pa->at[i], true);
        if (p->reference && (pa->reference_at[i] = caf_localdb_find(p->reference, name, c->axis[i])))
            pa->reference[i] = load_payload(p, ref_cache, p->reference, pa->reference_at[i], false);
    }
}

static void free_axis_payloads(payload_axis *pa)
{
    free(pa->at);
    free(pa->json);
    free(pa->reference);
    free(pa->reference_at);
}

static void error_bar(FILE *f, const frame *fr, double x, double v, double e, const char *cls)
{
    if (!(e > 0))
        return;
    fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", cls, x,
            value_y(fr, v - e), x, value_y(fr, v + e), !strcmp(cls, "err") ? "#1f4e79" : "#c66");
}

/* One plot: field fi of the payloads in pa. Adds the runs whose values changed to changes. */
static void write_plot(report_page *p, const report_cal *c, const payload_axis *pa, const field_list *fields,
                       size_t fi, report_lines *changes)
{
    FILE *f = p->out;
    const field *fd = &fields->items[fi];
    const field *ef = fd->error >= 0 ? &fields->items[fd->error] : NULL;
    frame fr = {.x0 = 70, .y0 = 10, .slot = slot_width(c->axis_count), .height = 200};
    fr.width = fr.slot * (double)c->axis_count;
    double lo = INFINITY, hi = -INFINITY;
    size_t points = 0;
    for (size_t k = 0; k < fd->length; k++)
        for (size_t i = 0; i < c->axis_count; i++) {
            double v, e = 0;
            for (int which = 0; which < 2; which++) {
                const json_t *payload = which ? pa->reference[i] : pa->json[i];
                if (!payload || !value_at(payload, fd->path, fd->array, k, &v))
                    continue;
                if (!ef || !value_at(payload, ef->path, ef->array, k, &e))
                    e = 0;
                lo = fmin(lo, v - fabs(e));
                hi = fmax(hi, v + fabs(e));
                points += !which && k == 0;
            }
        }
    if (!isfinite(lo))
        return;
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) {
        double pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    double pad = (hi - lo) * 0.05;
    fr.lo = lo - pad;
    fr.hi = hi + pad;
    int id = ++p->next_id;
    p->plots++;
    fprintf(f, "<figure class=\"constants-plot\" id=\"plot-%d\" data-payload=\"", id);
    report_html(f, pa->name);
    fputs("\" data-field=\"", f);
    field_label(f, fd->path);
    fprintf(f, "\" data-series=\"%zu\" data-points=\"%zu\"><figcaption><strong>", fd->length, points);
    report_html(f, pa->name);
    fputs("</strong> ", f);
    field_label(f, fd->path);
    if (ef) {
        fputs(" (error bars: ", f);
        field_label(f, ef->path);
        fputs(")", f);
    }
    if (fd->array) {
        fprintf(f, " &mdash; <label>index <select class=\"series-select\" data-figure=\"plot-%d\">", id);
        for (size_t k = 0; k < fd->length; k++)
            fprintf(f, "<option value=\"%zu\"%s>%zu</option>", k, k ? "" : " selected", k);
        fputs("</select></label><noscript> (index 0 shown: choosing another needs JavaScript)</noscript>", f);
    }
    fprintf(f, "</figcaption><svg width=\"%.0f\" height=\"%.0f\" role=\"img\">", fr.x0 + fr.width + 10,
            fr.y0 + fr.height + 40);
    /* frame, y ticks */
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>", fr.x0,
            fr.y0, fr.width, fr.height);
    for (int t = 0; t <= 4; t++) {
        double v = fr.lo + (fr.hi - fr.lo) * t / 4.0, y = value_y(&fr, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>",
                fr.x0, y, fr.x0 + fr.width, y, fr.x0 - 4, y + 3, v);
    }
    /* payload boundaries: where the applying payload changes */
    for (size_t i = 1; i < c->axis_count; i++)
        if (pa->at[i] != pa->at[i - 1])
            fprintf(f, "<line class=\"boundary\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\" "
                       "stroke-dasharray=\"3,3\"/>",
                    fr.x0 + fr.slot * (double)i, fr.y0, fr.x0 + fr.slot * (double)i, fr.y0 + fr.height);
    run_labels(f, &fr, c->axis, c->axis_count, fr.y0 + fr.height + 14);
    for (size_t k = 0; k < fd->length; k++) {
        fprintf(f, "<g class=\"series\" data-index=\"%zu\"%s>", k, k ? " style=\"display:none\"" : "");
        for (size_t i = 0; i < c->axis_count; i++) {
            double x = slot_x(&fr, i), v, e = 0, r, re = 0;
            char run[32], label[16] = "";
            report_run_text(c->axis[i], run, sizeof run);
            if (fd->array)
                snprintf(label, sizeof label, "[%zu]", k);
            bool has = pa->json[i] && value_at(pa->json[i], fd->path, fd->array, k, &v);
            bool has_ref = pa->reference[i] && value_at(pa->reference[i], fd->path, fd->array, k, &r);
            if (has && ef && !value_at(pa->json[i], ef->path, ef->array, k, &e))
                e = 0;
            if (has_ref && ef && !value_at(pa->reference[i], ef->path, ef->array, k, &re))
                re = 0;
            if (has_ref) {
                error_bar(f, &fr, x + 2, r, re, "ref-err");
                fprintf(f, "<rect class=\"ref-point\" x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\" fill=\"none\" "
                           "stroke=\"#c33\"><title>reference, run %s: %.6g",
                        x + 2 - 3, value_y(&fr, r) - 3, run, r);
                if (re > 0)
                    fprintf(f, " &#177; %.3g", re);
                fputs("</title></rect>", f);
            }
            if (has) {
                error_bar(f, &fr, x, v, e, "err");
                fprintf(f, "<circle class=\"point\" data-run=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f4e79\">"
                           "<title>run %s: %.6g",
                        run, x, value_y(&fr, v), run, v);
                if (e > 0)
                    fprintf(f, " &#177; %.3g", e);
                fprintf(f, " (revision %s)</title></circle>", pa->at[i]->revision);
            }
            if (has && has_ref) {
                double sigma = sqrt(e * e + re * re), d = fabs(v - r);
                bool changed = sigma > 0 ? d > sigma : d > 1e-12 * fmax(fabs(v), fabs(r));
                if (changed) {
                    char *path = strdup(fd->path);
                    for (char *q = path; q && *q; q++)
                        if (*q == SEP)
                            *q = '.';
                    if (sigma > 0)
                        report_lines_add(changes, "%s\x1e%s%s %.6g &#177; %.3g, reference %.6g &#177; %.3g (%.1f&#963;)",
                                         run, path ? path : "?", label, v, e, r, re, d / sigma);
                    else
                        report_lines_add(changes, "%s\x1e%s%s %.6g, reference %.6g", run, path ? path : "?", label, v,
                                         r);
                    free(path);
                }
            }
        }
        fputs("</g>", f);
    }
    fputs("</svg></figure>\n", f);
}

/* The changed values of one payload name grouped by run, in a table; each run noted once on the page. */
static void write_changes(report_page *p, const report_cal *c, const char *name, report_lines *changes)
{
    FILE *f = p->out;
    if (!changes->count)
        return;
    fputs("<table class=\"changes\"><tr><th>payload</th><th>run</th><th>values changed by more than their "
          "uncertainty</th></tr>",
          f);
    for (size_t i = 0; i < c->axis_count; i++) {
        char run[32];
        report_run_text(c->axis[i], run, sizeof run);
        size_t n = 0, run_len = strlen(run);
        for (size_t k = 0; k < changes->count; k++) {
            const char *item = changes->items[k];
            if (strncmp(item, run, run_len) || item[run_len] != '\x1e')
                continue;
            if (!n) {
                fputs("<tr><td>", f);
                report_html(f, name);
                fprintf(f, "</td><td class=\"changed-run\">%s</td><td>", run);
                report_lines_add(&p->changed, "run %s: %s %s", run, c->name, name);
            }
            if (n < 8) /* the text is ours: numbers, the field path escaped below, and entities */
                fprintf(f, "%s", n ? "; " : "");
            if (n < 8) {
                const char *text = item + run_len + 1, *amp = strchr(text, ' ');
                size_t head = amp ? (size_t)(amp - text) : strlen(text);
                char *path = strndup(text, head);
                report_html(f, path);
                free(path);
                fputs(text + head, f);
            }
            n++;
        }
        if (n > 8)
            fprintf(f, "; and %zu more", n - 8);
        if (n)
            fputs("</td></tr>", f);
    }
    fputs("</table>\n", f);
}

void report_constants(report_page *p, const report_cal *c)
{
    FILE *f = p->out;
    fputs("<section class=\"constants\"><h3>Constants against run number</h3>\n", f);
    report_lines names = {0};
    payload_names(c->db, &names);
    if (!names.count || !c->axis_count)
        fputs("<p class=\"note\">Nothing to plot yet.</p>", f);
    payload_cache cache = {0}, ref_cache = {0};
    size_t not_json_before = p->not_plotted.count;
    for (size_t k = 0; c->axis_count && k < names.count; k++) {
        payload_axis pa = {0};
        axis_payloads(p, c, names.items[k], &cache, &ref_cache, &pa);
        field_list fields = {0};
        for (size_t i = 0; pa.json && i < c->axis_count; i++)
            if (pa.json[i])
                collect_fields(&fields, pa.json[i], NULL);
        pair_errors(&fields);
        report_lines changes = {0};
        for (size_t i = 0; pa.at && i < fields.count; i++)
            if (!fields.items[i].is_error)
                write_plot(p, c, &pa, &fields, i, &changes);
        if (p->reference)
            write_changes(p, c, names.items[k], &changes);
        report_lines_free(&changes);
        free_fields(&fields);
        free_axis_payloads(&pa);
    }
    if (p->not_plotted.count > not_json_before) {
        fputs("<div class=\"not-plotted\"><p>Not plotted (not JSON, or unreadable):</p><ul>", f);
        for (size_t i = not_json_before; i < p->not_plotted.count; i++) {
            fputs("<li>", f);
            report_html(f, p->not_plotted.items[i]);
            fputs("</li>", f);
        }
        fputs("</ul></div>\n", f);
    }
    free_cache(&cache);
    free_cache(&ref_cache);
    report_lines_free(&names);
    fputs("</section>\n", f);
}
