/* caf process PATH.yaml -i FILES... : runs a path of modules over event files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "caf/engine.h"
#include "caf/event_file.h"
#include "caf/log.h"
#include "caf/path.h"
#include "cli/cli.h"

static const char help_text[] =
    "usage: caf process PATH.yaml -i FILE... [-o OUT] [-n MAX] [--seed S] [--json]\n"
    "\n"
    "Runs the modules of the path file PATH.yaml over the events of the input files, in order.\n"
    "The path file and its conditions are described in docs/modules.md; `caf modules` lists the\n"
    "modules and their parameters. Modules are plugins found on $CAF_PLUGIN_PATH, then caf's own.\n"
    "\n"
    "Options:\n"
    "  -i, --input FILE  an event file to read (repeatable; more files may follow it)\n"
    "  -o, --output OUT  sets outputFileName of the path's Output module\n"
    "  -n, --max-events MAX  stops after MAX events (default: all)\n"
    "  --seed S          the random seed (an unsigned integer) modules draw from; the same seed gives\n"
    "                    the same result. Default: chosen at random and printed\n"
    "  --json            prints the summary as JSON\n"
    "\n"
    "The summary (a line, or JSON) gives the events, files and runs processed, the seed, the wall time\n"
    "and the peak resident memory; collector jobs keep it in their stdout, where caf report reads it.\n"
    "\n"
    "Every input file is first checked in a child process (metadata, run and trigger columns), so a file\n"
    "that crashes or hangs the HDF5 library is named and nothing is processed.\n"
    "\n"
    "Exit codes: 0 every event processed, 1 a bad path file, input file or module failure, 2 usage error.\n";

/* "text" as a YAML double-quoted scalar (malloc'd), so any file name is one string value. */
static char *yaml_quote(const char *text)
{
    size_t n = strlen(text);
    char *q = malloc(2 * n + 3);
    if (!q)
        return NULL;
    char *o = q;
    *o++ = '"';
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

/* Points every Output module's outputFileName at out; fails when the path has no Output module. */
static int set_output(caf_path_set *set, const char *out)
{
    char *quoted = yaml_quote(out);
    if (!quoted)
        return cli_failf("out of memory");
    size_t found = 0;
    caf_error err = {0};
    for (size_t p = 0; p < caf_path_set_path_count(set); p++) {
        const char *path = caf_path_set_path_name(set, p);
        for (size_t i = 0; i < caf_path_set_module_count(set, path); i++) {
            if (strcmp(caf_path_set_module_name(set, path, i), "Output"))
                continue;
            found++;
            if (caf_path_set_set_param(set, path, i, "outputFileName", quoted, &err) != CAF_OK) {
                free(quoted);
                return cli_fail(&err);
            }
        }
    }
    free(quoted);
    if (found != 1)
        return cli_usage_error("process", "-o needs exactly one Output module in the path, it has %zu", found);
    return CLI_EXIT_OK;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*text || *text == '-')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Reads every input's metadata and run and trigger columns in child processes first: HDF5 crashes or
 * hangs on some malformed files, and then only that file is named; events are read here afterwards. */
static int check_inputs(const char **inputs, size_t n)
{
    caf_error *errs = calloc(n, sizeof *errs);
    if (!errs)
        return cli_failf("out of memory");
    const caf_file_check_options check = {.events = true};
    size_t bad = caf_event_files_check(inputs, n, &check, NULL, errs);
    for (size_t i = 0; bad && i < n; i++)
        if (errs[i].code)
            cli_fail(&errs[i]);
    free(errs);
    return bad ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int run_process(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},   {"output", required_argument, 0, 'o'},
        {"max-events", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'J'},          {0, 0, 0, 0},
    };
    const struct cli_options opts = {"process", help_text, "i:o:n:", longopts};
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs)
        return cli_failf("out of memory");
    size_t n_inputs = 0;
    const char *output = NULL;
    int max_events = 0;
    uint64_t seed = 0;
    bool have_seed = false, json = false;
    const char *path_file = NULL;
    int c, rc = CLI_EXIT_OK;
    cli_options_begin();
    while (rc == CLI_EXIT_OK) {
        c = cli_next_option(&opts, argc, argv);
        if (c == CLI_OPT_END) {
            /* option parsing stops at each operand; the first is the path file, the others inputs
             * (the files after "-i FILE"), in command-line order */
            if (optind >= argc)
                break;
            bool dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
            do {
                if (!path_file)
                    path_file = argv[optind];
                else
                    inputs[n_inputs++] = argv[optind];
                optind++;
            } while (dashdash && optind < argc);
            continue;
        }
        switch (c) {
        case 'i': inputs[n_inputs++] = optarg; break;
        case 'o': output = optarg; break;
        case 'n':
            if (!cli_parse_int("process", "-n", optarg, &max_events))
                rc = CLI_EXIT_USAGE;
            else if (max_events < 0)
                rc = cli_usage_error("process", "-n must not be negative");
            break;
        case 'S':
            if (!(have_seed = parse_u64(optarg, &seed)))
                rc = cli_usage_error("process", "--seed must be an unsigned integer, not '%s'", optarg);
            break;
        case 'J': json = true; break;
        case CLI_OPT_HELP: free(inputs); return CLI_EXIT_OK;
        default: rc = CLI_EXIT_USAGE; break;
        }
    }
    if (rc != CLI_EXIT_OK) {
        free(inputs);
        return rc;
    }
    if (!path_file) {
        free(inputs);
        return cli_usage_error("process", "expects a path file (PATH.yaml)");
    }
    if (!n_inputs) {
        free(inputs);
        return cli_usage_error("process", "expects input files (-i FILE...)");
    }
    caf_error err = {0};
    caf_path_set *set = NULL;
    caf_engine *engine = NULL;
    if (caf_path_set_load(path_file, &set, &err) != CAF_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    if (output && (rc = set_output(set, output)) != CLI_EXIT_OK)
        goto done;
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
        caf_info("random seed %" PRIu64 " (pass --seed %" PRIu64 " to repeat this process)", seed, seed);
    }
    if ((rc = check_inputs(inputs, n_inputs)) != CLI_EXIT_OK)
        goto done;
    caf_engine_options eo = {.inputs = inputs, .n_inputs = n_inputs, .max_events = max_events, .seed = seed};
    if (caf_engine_open(&engine, set, &eo, &err) != CAF_OK || caf_engine_run(engine, &err) != CAF_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    caf_engine_stats stats = caf_engine_get_stats(engine);
    struct timespec ended;
    clock_gettime(CLOCK_MONOTONIC, &ended);
    double seconds = (double)(ended.tv_sec - started.tv_sec) + 1e-9 * (double)(ended.tv_nsec - started.tv_nsec);
    struct rusage usage;
    double peak_mb = getrusage(RUSAGE_SELF, &usage) == 0 ? (double)usage.ru_maxrss / 1024.0 : 0.0;
    if (json) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:f, s:f}", "events", (json_int_t)stats.events, "files",
                              (json_int_t)stats.files, "runs", (json_int_t)stats.runs, "path", path_file, "seconds",
                              seconds, "peak_memory_mb", peak_mb);
        char seed_text[32];
        snprintf(seed_text, sizeof seed_text, "%" PRIu64, seed);
        if (o)
            json_object_set_new(o, "seed", json_string(seed_text)); /* as text: JSON numbers lose 64-bit seeds */
        char *text = o ? json_dumps(o, JSON_SORT_KEYS) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(o);
    } else {
        printf("processed %" PRId64 " events from %zu files (%zu runs), seed %" PRIu64 ", in %.3f s, peak memory "
               "%.1f MiB\n",
               stats.events, stats.files, stats.runs, seed, seconds, peak_mb);
    }
done:
    caf_engine_close(engine);
    caf_path_set_free(set);
    free(inputs);
    return rc;
}

const struct cli_command cli_command_process = {
    .name = "process",
    .summary = "run a path of modules over event files",
    .help = help_text,
    .run = run_process,
};
