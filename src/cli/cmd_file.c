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
    "       caf file index DIR|FILE... [--cache PATH] [--json]\n\n"
    "info   prints the metadata of event files (experiments, runs with their event counts, lowest and\n"
    "       highest run, creator, version, random seed, parents) without reading events.\n"
    "index  maps event files (*.h5, *.hdf5 below each DIR, or the FILEs) to the runs they hold. With\n"
    "       --cache PATH the metadata is kept in an SQLite database keyed by path, size and mtime, so\n"
    "       unchanged files are not opened again.\n\n"
    "options:\n"
    "  --json         print JSON instead of text\n"
    "  --cache PATH   (index) the cache database\n";

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

static int run_info(int argc, char **argv, bool json)
{
    json_t *all = json ? json_array() : NULL;
    for (int i = 0; i < argc; i++) {
        caf_event_file_meta m;
        caf_error err = {0};
        if (caf_event_file_meta_read(argv[i], &m, &err)) {
            json_decref(all);
            return cli_fail(&err);
        }
        if (json) {
            json_t *j = caf_event_file_meta_to_json(&m);
            json_object_set_new(j, "path", json_string(argv[i]));
            json_array_append_new(all, j);
        } else {
            printf("%s\n  creator: %s %s (random seed %llu)\n  events: %lld in %zu run%s of experiment%s", argv[i],
                   m.creator, m.creator_version, (unsigned long long)m.random_seed, (long long)m.n_events, m.n_runs,
                   m.n_runs == 1 ? "" : "s", m.n_experiments == 1 ? "" : "s");
            for (size_t e = 0; e < m.n_experiments; e++)
                printf(" %d", m.experiments[e]);
            printf("\n  lowest run: %d.%d, highest run: %d.%d\n", m.low.exp, m.low.run, m.high.exp, m.high.run);
            print_runs_text(m.runs, m.n_runs);
            printf("  parents: %zu\n", m.n_parents);
            for (size_t p = 0; p < m.n_parents; p++)
                printf("    %s\n", m.parents[p]);
        }
        caf_event_file_meta_free(&m);
    }
    return json ? print_json(all) : CLI_EXIT_OK;
}

static int run_index(int argc, char **argv, bool json, const char *cache)
{
    caf_file_index *ix;
    caf_error err = {0};
    if (caf_file_index_open(&ix, cache, &err))
        return cli_fail(&err);
    for (int i = 0; i < argc; i++)
        if (caf_file_index_add_path(ix, argv[i], &err)) {
            caf_file_index_close(ix);
            return cli_fail(&err);
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
        printf("%zu files, %zu runs (%zu from the cache, %zu opened)\n", st.files, n, st.cache_hits, st.files_opened);
        rc = CLI_EXIT_OK;
    }
    caf_file_index_close(ix);
    return rc;
}

static int run_file(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"cache", required_argument, NULL, 'c'},
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
    if (!is_info && !is_index)
        return cli_usage_error("file", "unknown subcommand '%s' (known: info, index)", sub);
    const struct cli_options opts = {.where = is_info ? "file info" : "file index", .help = help_text,
                                     .longopts = longopts};
    argc--, argv++;
    bool json = false;
    const char *cache = NULL;
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
            if (is_info)
                return cli_usage_error(opts.where, "--cache applies to 'file index' only");
            cache = optarg;
        }
    }
    if (n_operands == 0)
        return cli_usage_error(opts.where, "expects at least one %s", is_info ? "FILE" : "DIR or FILE");
    return is_info ? run_info(n_operands, argv, json) : run_index(n_operands, argv, json, cache);
}

const struct cli_command cli_command_file = {
    .name = "file",
    .summary = "show event-file metadata and the file -> run index",
    .help = help_text,
    .run = run_file,
};
