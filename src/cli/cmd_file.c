/* caf file info FILE... | caf file index DIR|FILE...: event-file metadata and the file -> run index,
 * both without reading events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/event_file.h"
#include "caf/file_index.h"
#include "caf/json.h"
#include "cli/cli.h"
#include "cli/operands.h"

static const char help_text[] =
    "usage: caf file info FILE... [--json]\n"
    "       caf file index DIR|FILE... [--cache PATH] [--filter REGEX] [--json]\n"
    "       caf file dump FILE [-n MAX]\n\n"
    "info   prints the metadata of event files (experiments, runs with their event counts, lowest and\n"
    "       highest run, creator, version, random seed, parents) without reading events.\n"
    "index  maps event files (*.h5, *.hdf5 below each DIR, or the FILEs) to the runs they hold. With\n"
    "       --cache PATH the metadata is kept in an SQLite database keyed by path, size and mtime, so\n"
    "       unchanged files are not opened again. With --filter REGEX, files whose absolute path matches\n"
    "       the POSIX extended regular expression anywhere are left out (as basf2's b2caf-filemap\n"
    "       --filter-regex): never opened, and counted as excluded.\n"
    "dump   prints the events of FILE, one JSON object per line: exp, run, event, columns, arrays\n"
    "       (per array its fields, per field the event's entries) and trigger (per line [result after\n"
    "       prescale, result without prescale], or null when the event has no trigger result).\n\n"
    "Options:\n"
    "  --json         print JSON instead of text\n"
    "  --cache PATH   (index) the cache database\n"
    "  --filter REGEX (index) leave out files whose absolute path matches REGEX\n"
    "  -n, --max N    (dump) print at most N events\n"
    "\n"
    "Each file is first read in a child process, so a file that crashes or hangs the HDF5 library is\n"
    "reported like any bad file (see docs/running.md); a named pipe or folder is refused at once.\n\n"
    "Exit codes: 0 success, 1 a file is missing or not a valid event file (each named on its own line),\n"
    "2 usage error.\n";

static void print_runs_text(const caf_run_count *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("    exp %d run %d: %lld events\n", runs[i].exp, runs[i].run, (long long)runs[i].events);
}

static int print_json(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(value);
    if (!text)
        return cli_failf("out of memory");
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

/* Untrusted files are read in child processes (see caf_event_files_check): a file that crashes or hangs
 * HDF5 is reported on its own line like any bad file, and the other files are still shown. */
static int run_info(int argc, char **argv, bool json)
{
    size_t n = (size_t)argc;
    caf_event_file_meta *metas = calloc(n, sizeof *metas);
    caf_error *errs = calloc(n, sizeof *errs);
    if (!metas || !errs) {
        free(metas);
        free(errs);
        return cli_failf("out of memory");
    }
    size_t bad = caf_event_files_check((const char *const *)argv, n, NULL, metas, errs);
    json_t *all = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        const caf_event_file_meta *m = &metas[i];
        if (errs[i].code) {
            cli_fail(&errs[i]);
        } else if (json) {
            json_t *j = caf_event_file_meta_to_json(m);
            json_object_set_new(j, "path", json_string(argv[i]));
            json_array_append_new(all, j);
        } else {
            printf("%s\n  creator: %s %s (random seed %llu)\n  events: %lld in %zu run%s of experiment%s", argv[i],
                   m->creator, m->creator_version, (unsigned long long)m->random_seed, (long long)m->n_events,
                   m->n_runs, m->n_runs == 1 ? "" : "s", m->n_experiments == 1 ? "" : "s");
            for (size_t e = 0; e < m->n_experiments; e++)
                printf(" %d", m->experiments[e]);
            printf("\n  lowest run: %d.%d, highest run: %d.%d\n", m->low.exp, m->low.run, m->high.exp, m->high.run);
            print_runs_text(m->runs, m->n_runs);
            printf("  parents: %zu\n", m->n_parents);
            for (size_t p = 0; p < m->n_parents; p++)
                printf("    %s\n", m->parents[p]);
        }
        caf_event_file_meta_free(&metas[i]);
    }
    free(metas);
    free(errs);
    int rc = json ? print_json(all) : CLI_EXIT_OK;
    return bad ? CLI_EXIT_FAILURE : rc;
}

static int run_index(int argc, char **argv, bool json, const char *cache, const char *filter)
{
    caf_file_index *ix;
    caf_error err = {0};
    if (caf_file_index_open(&ix, cache, &err))
        return cli_fail(&err);
    if (filter && caf_file_index_set_exclude(ix, filter, &err)) {
        caf_file_index_close(ix);
        return cli_usage_error("file index", "--filter: %s", err.message);
    }
    for (int i = 0; i < argc; i++) {
        size_t bad_before = caf_file_index_bad_count(ix);
        /* a bad file is noted by the index and reported below; anything else (the cache) is fatal */
        if (caf_file_index_add_path(ix, argv[i], &err) && caf_file_index_bad_count(ix) == bad_before) {
            caf_file_index_close(ix);
            return cli_fail(&err);
        }
    }
    int rc;
    if (json) {
        rc = print_json(caf_file_index_to_json(ix));
    } else {
        const caf_run_files *runs;
        size_t n;
        if (caf_file_index_runs(ix, &runs, &n, &err)) {
            caf_file_index_close(ix);
            return cli_fail(&err);
        }
        for (size_t r = 0; r < n; r++) {
            printf("exp %d run %d: %lld events in %zu file%s\n", runs[r].run.exp, runs[r].run.run,
                   (long long)runs[r].events, runs[r].n_files, runs[r].n_files == 1 ? "" : "s");
            for (size_t f = 0; f < runs[r].n_files; f++)
                printf("    %s\n", runs[r].files[f]->path);
        }
        caf_file_index_stats st = caf_file_index_get_stats(ix);
        printf("%zu files, %zu runs (%zu from the cache, %zu opened)", st.files, n, st.cache_hits, st.files_opened);
        if (filter)
            printf(", %zu excluded by --filter", st.excluded);
        putchar('\n');
        rc = CLI_EXIT_OK;
    }
    for (size_t i = 0; i < caf_file_index_bad_count(ix); i++)
        rc = cli_failf("%s", caf_file_index_bad_message(ix, i));
    caf_file_index_close(ix);
    return rc;
}

static json_t *value_json(caf_column_type type, const void *data, size_t i)
{
    switch (type) {
    case CAF_COLUMN_INT8: return json_integer(((const int8_t *)data)[i]);
    case CAF_COLUMN_UINT8: return json_integer(((const uint8_t *)data)[i]);
    case CAF_COLUMN_INT16: return json_integer(((const int16_t *)data)[i]);
    case CAF_COLUMN_UINT16: return json_integer(((const uint16_t *)data)[i]);
    case CAF_COLUMN_INT32: return json_integer(((const int32_t *)data)[i]);
    case CAF_COLUMN_UINT32: return json_integer(((const uint32_t *)data)[i]);
    case CAF_COLUMN_INT64: return json_integer(((const int64_t *)data)[i]);
    case CAF_COLUMN_UINT64: return json_integer((json_int_t)((const uint64_t *)data)[i]);
    case CAF_COLUMN_FLOAT32: return json_real(((const float *)data)[i]);
    case CAF_COLUMN_FLOAT64: return json_real(((const double *)data)[i]);
    }
    return json_null();
}

static json_t *event_json(const caf_event_schema *s, const caf_event_batch *b, size_t i)
{
    json_t *cols = json_object(), *arrays = json_object(), *trig = json_null();
    for (size_t c = 0; c < s->n_columns; c++)
        json_object_set_new(cols, s->columns[c].name, value_json(s->columns[c].type, b->columns[c], i));
    for (size_t a = 0; a < s->n_arrays; a++) {
        json_t *fields = json_object();
        for (size_t f = 0; f < s->arrays[a].n_fields; f++) {
            json_t *values = json_array();
            for (int64_t k = b->array_offsets[a][i]; k < b->array_offsets[a][i + 1]; k++)
                json_array_append_new(values, value_json(s->arrays[a].fields[f].type, b->array_fields[a][f], (size_t)k));
            json_object_set_new(fields, s->arrays[a].fields[f].name, values);
        }
        json_object_set_new(arrays, s->arrays[a].name, fields);
    }
    if (s->has_trigger && (!b->trigger_present || b->trigger_present[i])) {
        json_decref(trig);
        trig = json_object();
        for (size_t l = 0; l < s->n_trigger_lines; l++)
            json_object_set_new(trig, s->trigger_lines[l],
                                json_pack("[i, i]", b->trigger_result[i * s->n_trigger_lines + l],
                                          b->trigger_result_nonprescaled[i * s->n_trigger_lines + l]));
    }
    return json_pack("{s:i, s:i, s:I, s:o, s:o, s:o}", "exp", b->exp[i], "run", b->run[i], "event",
                     (json_int_t)b->event[i], "columns", cols, "arrays", arrays, "trigger", trig);
}

static int run_dump(const char *path, long long max)
{
    caf_event_reader *r;
    caf_error err = {0};
    /* events are read here only after a child process read the file's metadata and run columns */
    const caf_file_check_options check = {.events = true};
    if (caf_event_files_check(&path, 1, &check, NULL, &err) || caf_event_reader_open(&r, path, NULL, &err))
        return cli_fail(&err);
    const caf_event_schema *s = caf_event_reader_schema(r);
    const caf_event_batch *b;
    long long printed = 0;
    caf_status rc;
    while ((rc = caf_event_reader_next(r, &b, &err)) == CAF_OK && b && (max < 0 || printed < max))
        for (size_t i = 0; i < b->count && (max < 0 || printed < max); i++, printed++) {
            json_t *j = event_json(s, b, i);
            char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            json_decref(j);
            if (!text) {
                caf_event_reader_close(r);
                return cli_failf("out of memory");
            }
            puts(text);
            free(text);
        }
    caf_event_reader_close(r);
    return rc ? cli_fail(&err) : CLI_EXIT_OK;
}

static int run_file(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"cache", required_argument, NULL, 'c'},
        {"filter", required_argument, NULL, 'f'},
        {"max", required_argument, NULL, 'n'},
        {0},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(help_text, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("file", "expects 'info' or 'index'");
    const char *sub = argv[1];
    bool is_info = strcmp(sub, "info") == 0, is_index = strcmp(sub, "index") == 0;
    bool is_dump = strcmp(sub, "dump") == 0;
    if (!is_info && !is_index && !is_dump)
        return cli_usage_error("file", "unknown subcommand '%s' (known: info, index, dump)", sub);
    const struct cli_options opts = {.where = is_info ? "file info" : is_index ? "file index" : "file dump",
                                     .help = help_text, .shortopts = "n:", .longopts = longopts};
    long long max = -1;
    argc--, argv++;
    bool json = false;
    const char *cache = NULL, *filter = NULL;
    int c;
    cli_options_begin();
    int n_operands = 0;
    while ((c = cli_next_option_anywhere(&opts, argc, argv, &n_operands)) != CLI_OPT_END) {
        if (c == CLI_OPT_HELP)
            return CLI_EXIT_OK;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (c == 'j')
            json = true;
        else if (c == 'c') {
            if (!is_index)
                return cli_usage_error(opts.where, "--cache applies to 'file index' only");
            cache = optarg;
        } else if (c == 'f') {
            if (!is_index)
                return cli_usage_error(opts.where, "--filter applies to 'file index' only");
            filter = optarg;
        } else if (c == 'n') {
            int v;
            if (!is_dump)
                return cli_usage_error(opts.where, "--max applies to 'file dump' only");
            if (!cli_parse_int(opts.where, "--max", optarg, &v) || v < 0)
                return v < 0 ? cli_usage_error(opts.where, "--max must not be negative") : CLI_EXIT_USAGE;
            max = v;
        }
    }
    if (is_dump) {
        if (n_operands != 1)
            return cli_usage_error(opts.where, "expects one FILE");
        if (json)
            return cli_usage_error(opts.where, "prints JSON lines already; --json does not apply");
        return run_dump(argv[0], max);
    }
    if (n_operands == 0)
        return cli_usage_error(opts.where, "expects at least one %s", is_info ? "FILE" : "DIR or FILE");
    return is_info ? run_info(n_operands, argv, json) : run_index(n_operands, argv, json, cache, filter);
}

const struct cli_command cli_command_file = {
    .name = "file",
    .summary = "show event-file metadata and the file -> run index",
    .help = help_text,
    .run = run_file,
};
