/* Run-by-run flushing keeps a collector's memory flat: `caf process` with TestCollector (an 8000-bin
 * histogram per run, 128 kB of bins) over 100 and over 1,000 runs, each in its own child process whose
 * peak RSS is read with wait4. Kept in memory, 900 more runs would add about 115 MB; flushed, the
 * difference must stay below 15 % of that. Under ASan the quarantine is switched off for the children
 * so that freed memory is reused as it is in a normal build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/collector_output.h"
#include "module_fixture.h"
#include "test_support.h"

#define BINS 8000
#define EVENTS_PER_RUN 3

/* Writes an event file of runs 1.1 .. 1.runs with EVENTS_PER_RUN events each. */
static char *write_runs(const char *dir, int runs)
{
    size_t n = (size_t)runs * EVENTS_PER_RUN;
    fx_event *ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++)
        ev[i] = (fx_event){.exp = 1, .run = 1 + (int)(i / EVENTS_PER_RUN), .event = (uint32_t)i + 1,
                           .energy = (float)(i % 97) * 0.1f};
    char name[64];
    snprintf(name, sizeof name, "runs%d.h5", runs);
    char *path = fx_write(dir, name, ev, n, NULL, 0, false);
    free(ev);
    return path;
}

/* Runs `caf process` over input in a child; returns its peak RSS in kB (0 on failure). */
static long process_peak_kb(const char *dir, const char *input, const char *out)
{
    char *yaml = caf_path_join(dir, "collect.yaml");
    char text[1024];
    snprintf(text, sizeof text,
             "- module: TestCollector\n  params: {outputFileName: \"%s\", energyBins: %d}\n", out, BINS);
    test_write_file(dir, "collect.yaml", text);
    const char *caf = getenv("CAF");
    assert_non_null(caf);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *asan = getenv("ASAN_OPTIONS");
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
        execl(caf, caf, "-q", "process", yaml, "-i", input, "--seed", "1", (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    free(yaml);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 0;
    return ru.ru_maxrss;
}

static void test_memory_flat(void **state)
{
    (void)state;
    fx_plugin_path();
    char *dir = test_make_temp_dir("collector-memory");
    char *small = write_runs(dir, 100), *large = write_runs(dir, 1000);
    char *out_small = caf_path_join(dir, "small.sqlite"), *out_large = caf_path_join(dir, "large.sqlite");
    long rss_small = process_peak_kb(dir, small, out_small);
    long rss_large = process_peak_kb(dir, large, out_large);
    assert_true(rss_small > 0);
    assert_true(rss_large > 0);
    /* the outputs really hold every run, each with its full histogram */
    caf_collector_output *f;
    caf_error err = {0};
    assert_int_equal(caf_collector_output_open(out_large, &f, &err), CAF_OK);
    assert_int_equal(caf_collector_output_run_range(f)->count, 1000);
    assert_int_equal(caf_collector_output_find_object(f, "energy")->key_count, 1000);
    caf_object *h;
    assert_int_equal(caf_collector_output_read(f, "energy", (caf_exprun){1, 777}, &h, &err), CAF_OK);
    assert_int_equal(caf_hist1d_nbins(h), BINS);
    assert_int_equal(caf_hist1d_entries(h), EVENTS_PER_RUN);
    caf_object_free(h);
    caf_collector_output_close(f);
    long kept_kb = 900L * BINS * 2 * 8 / 1024; /* what 900 more runs would hold if never freed */
    print_message("peak RSS: %ld kB at 100 runs, %ld kB at 1000 runs (%ld kB more; unflushed would add ~%ld kB)\n",
                  rss_small, rss_large, rss_large - rss_small, kept_kb);
    assert_true(rss_large - rss_small < kept_kb * 15 / 100);
    test_remove_tree(dir);
    free(dir), free(small), free(large), free(out_small), free(out_large);
}

int main(void)
{
    (void)fx_logged_events;
    (void)fx_run;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_memory_flat)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
