/* Fuzzing harness: event-file metadata through the child reader.
 *
 * The input becomes an event file in a scratch folder and goes through what caf does with a file it
 * did not write: caf_event_files_check (metadata only, as the file index reads it, then with the
 * events' run and trigger columns, as caf process and caf file dump do first), each in a child process
 * under a short time-out. HDF5 1.10's own crashes stay inside the child; what the harness holds the
 * parent to is that it survives, that every outcome is one line naming the file, and that metadata the
 * child accepted is consistent (run table sorted and summing to n_events, low/high its ends).
 * libFuzzer sees no coverage from inside the children: this harness fuzzes the parent's side (the
 * protocol, the decoding, the reporting), and its corpus keeps the libhdf5 reproducers failing cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/event_file.h"
#include "fuzz_support.h"

static void check_meta(const caf_event_file_meta *m, const char *path)
{
    int64_t total = 0;
    for (size_t i = 0; i < m->n_runs; i++) {
        total += m->runs[i].events;
        if (m->runs[i].events <= 0 ||
            (i > 0 && (m->runs[i - 1].exp > m->runs[i].exp ||
                       (m->runs[i - 1].exp == m->runs[i].exp && m->runs[i - 1].run >= m->runs[i].run)))) {
            fprintf(stderr, "%s: accepted metadata with a bad run table at row %zu\n", path, i);
            abort();
        }
    }
    bool ends = m->n_runs ? m->low.exp == m->runs[0].exp && m->low.run == m->runs[0].run &&
                                m->high.exp == m->runs[m->n_runs - 1].exp && m->high.run == m->runs[m->n_runs - 1].run
                          : m->low.exp == -1 && m->high.exp == -1;
    if (total != m->n_events || !ends || !m->creator || !m->creator_version) {
        fprintf(stderr, "%s: accepted inconsistent metadata\n", path);
        abort();
    }
}

static void check_outcome(const caf_error *err, const char *path, const char *call)
{
    fuzz_check_error(err->code, err, call);
    if (err->code && strncmp(err->message, path, strlen(path)) != 0) {
        fprintf(stderr, "%s: the message does not name the file first: '%s'\n", call, err->message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("input.h5", data, size);
    /* short limits: a hang or a runaway allocation is the library's, and only has to end cleanly */
    caf_file_check_options opts = {.timeout_s = 5, .memory_mib = 512, .jobs = 1};
    caf_event_file_meta meta;
    caf_error err = {0};
    size_t bad = caf_event_files_check(&path, 1, &opts, &meta, &err);
    check_outcome(&err, path, "caf_event_files_check");
    if ((bad != 0) != (err.code != CAF_OK)) {
        fprintf(stderr, "caf_event_files_check: %zu bad files, status %d\n", bad, err.code);
        abort();
    }
    if (!bad) {
        check_meta(&meta, path);
        caf_event_file_meta_free(&meta);
    }
    opts.events = true;
    caf_error err_events = {0};
    caf_event_files_check(&path, 1, &opts, NULL, &err_events);
    check_outcome(&err_events, path, "caf_event_files_check (events)");
    if (err.code && !err_events.code) {
        fprintf(stderr, "%s: refused for its metadata but accepted with its events\n", path);
        abort();
    }
    return 0;
}
