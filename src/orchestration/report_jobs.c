/* caf report: the collector jobs of every iteration of a calibration. Each collection's job is read from
 * its caf-job.json with its journal applied (docs/jobs.md); a subjob's events, wall time and peak memory from the summary line
 * `caf process` prints last in its stdout; a failed subjob's (or a retried one's) last log lines from its
 * stderr. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/job_journal.h"
#include "caf/json.h"
#include "orchestration/report_internal.h"

#define TAIL_LINES 15
#define TAIL_BYTES 16384

/* The last lines of a file (at most TAIL_LINES, from its last TAIL_BYTES); malloc'd, NULL when unreadable. */
static char *tail_of(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(TAIL_BYTES + 1);
    size_t n = 0;
    if (buf && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > TAIL_BYTES)
            fseek(f, size - TAIL_BYTES, SEEK_SET);
        else
            fseek(f, 0, SEEK_SET);
        n = fread(buf, 1, TAIL_BYTES, f);
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    size_t lines = 0;
    char *start = buf;
    for (char *q = buf + n; q > buf; q--)
        if (q[-1] == '\n' && ++lines == TAIL_LINES) {
            start = q;
            break;
        }
    memmove(buf, start, strlen(start) + 1);
    return buf;
}

/* What caf process said last: "processed N events from F files (R runs), seed S, in T s, peak memory M MiB". */
typedef struct process_summary {
    bool found;
    long long events;
    double seconds, peak_mb;
} process_summary;

static process_summary read_summary(const char *stdout_path)
{
    process_summary s = {0};
    char *text = NULL;
    size_t size = 0;
    if (caf_file_read(stdout_path, &text, &size, NULL) != CAF_OK)
        return s;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        long long events;
        size_t files, runs;
        unsigned long long seed;
        double seconds, peak;
        if (sscanf(line, "processed %lld events from %zu files (%zu runs), seed %llu, in %lf s, peak memory %lf MiB",
                   &events, &files, &runs, &seed, &seconds, &peak) == 6)
            s = (process_summary){true, events, seconds, peak};
        line = next;
    }
    free(text);
    return s;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The job files of an iteration: collector/caf-job.json, or collections/NAME/caf-job.json by name. */
static void job_files(const char *it_dir, report_lines *files, report_lines *names)
{
    char *path = NULL;
    if (asprintf(&path, "%s/collector/caf-job.json", it_dir) >= 0) {
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            report_lines_add(files, "%s", path);
            report_lines_add(names, "default");
        }
    }
    free(path);
    char *dir = caf_path_join(it_dir, "collections");
    DIR *d = dir ? opendir(dir) : NULL;
    report_lines found = {0};
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            report_lines_add(&found, "%s", e->d_name);
    if (d)
        closedir(d);
    if (found.count)
        qsort(found.items, found.count, sizeof *found.items, compare_names);
    for (size_t i = 0; i < found.count; i++) {
        if (asprintf(&path, "%s/%s/caf-job.json", dir, found.items[i]) < 0)
            continue;
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            report_lines_add(files, "%s", path);
            report_lines_add(names, "%s", found.items[i]);
        }
        free(path);
    }
    report_lines_free(&found);
    free(dir);
}

static void write_job(report_page *p, const char *collection, const json_t *job, int iteration)
{
    FILE *f = p->out;
    json_t *subjobs = json_object_get(job, "subjobs");
    long long events = 0;
    double seconds = 0, peak = 0;
    size_t failed = 0, measured = 0;
    fprintf(f, "<table class=\"jobs\" data-iteration=\"%d\" data-collection=\"", iteration);
    report_html(f, collection);
    fprintf(f, "\"><caption>iteration %d, collection ", iteration);
    report_html(f, collection);
    fputs(" (job ", f);
    report_html(f, json_string_value(json_object_get(job, "name")));
    fprintf(f, ", backend ");
    report_html(f, json_string_value(json_object_get(job, "backend")));
    fputs(")</caption><tr><th>subjob</th><th>status</th><th>attempts</th><th>files</th><th>events</th>"
          "<th>wall time</th><th>peak memory</th><th>batch id</th></tr>\n",
          f);
    report_lines logs = {0};
    size_t i;
    json_t *s;
    json_array_foreach(subjobs, i, s) {
        const char *dir = json_string_value(json_object_get(s, "dir"));
        const char *status = json_string_value(json_object_get(s, "status"));
        char *out = dir ? caf_path_join(dir, "stdout") : NULL;
        process_summary sum = out ? read_summary(out) : (process_summary){0};
        free(out);
        fprintf(f, "<tr class=\"subjob\"><td class=\"num\">%lld</td><td class=\"%s\">",
                (long long)json_integer_value(json_object_get(s, "index")), status ? status : "");
        report_html(f, status ? status : "?");
        fprintf(f, "</td><td class=\"num\">%lld</td><td class=\"num\">%zu</td>",
                (long long)json_integer_value(json_object_get(s, "attempt")),
                json_array_size(json_object_get(s, "input_files")));
        if (sum.found) {
            fprintf(f, "<td class=\"num\">%lld</td><td class=\"num\">%.2f s</td><td class=\"num\">%.1f MiB</td>",
                    sum.events, sum.seconds, sum.peak_mb);
            events += sum.events;
            seconds += sum.seconds;
            peak = sum.peak_mb > peak ? sum.peak_mb : peak;
            measured++;
        } else {
            fputs("<td>-</td><td>-</td><td>-</td>", f);
        }
        fputs("<td>", f);
        report_html(f, json_string_value(json_object_get(s, "batch_id")));
        fputs("</td></tr>\n", f);
        const char *reason = json_string_value(json_object_get(s, "reason"));
        bool is_failed = status && !strcmp(status, "failed");
        failed += is_failed;
        if ((is_failed || reason) && dir) {
            char *err_path = caf_path_join(dir, "stderr");
            char *tail = err_path ? tail_of(err_path) : NULL;
            report_lines_add(&logs, "%lld\n%s\n%s\n%s", (long long)json_integer_value(json_object_get(s, "index")),
                             reason ? reason : "failed", err_path ? err_path : "", tail ? tail : "(no stderr)");
            free(tail);
            free(err_path);
        }
    }
    fprintf(f, "<tr><th>total</th><td>%zu failed</td><td></td><td></td><td class=\"num\">%lld</td>"
               "<td class=\"num\">%.2f s</td><td class=\"num\">max %.1f MiB</td><td>%zu of %zu measured</td></tr>"
               "</table>\n",
            failed, events, seconds, peak, measured, json_array_size(subjobs));
    for (size_t k = 0; k < logs.count; k++) {
        char *index = logs.items[k], *reason = strchr(index, '\n');
        *reason++ = '\0';
        char *path = strchr(reason, '\n');
        *path++ = '\0';
        char *tail = strchr(path, '\n');
        *tail++ = '\0';
        fprintf(f, "<div class=\"failure\"><p>subjob %s: ", index);
        report_html(f, reason);
        fputs("; the end of ", f);
        report_html(f, path);
        fputs(":</p><pre>", f);
        report_html(f, tail);
        fputs("</pre></div>\n", f);
    }
    report_lines_free(&logs);
}

void report_collector_jobs(report_page *p, const report_cal *c)
{
    FILE *f = p->out;
    fputs("<section class=\"collector-jobs\"><h3>Collector jobs</h3>\n", f);
    bool any = false;
    for (int it = 0; it <= c->iteration; it++) {
        char *it_dir = NULL;
        if (asprintf(&it_dir, "%s/iteration_%d", c->dir, it) < 0)
            continue;
        report_lines files = {0}, names = {0};
        job_files(it_dir, &files, &names);
        for (size_t k = 0; k < files.count; k++) {
            json_t *job = NULL;
            caf_error err = {0};
            if (caf_job_state_read(files.items[k], &job, &err) != CAF_OK) {
                report_lines_add(&p->missing, "%s: %s", c->name, err.message);
                continue;
            }
            write_job(p, names.items[k], job, it);
            json_decref(job);
            any = true;
        }
        if (!files.count)
            report_lines_add(&p->missing, "%s: no collector job in iteration %d yet", c->name, it);
        report_lines_free(&files);
        report_lines_free(&names);
        free(it_dir);
    }
    if (!any)
        fputs("<p class=\"note\">No collector job yet.</p>", f);
    fputs("</section>\n", f);
}
