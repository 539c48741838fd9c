/* Fuzzing harness: the side-file manifest (OUTPUT.side_files.json, caf/side_files.h) that algorithms
 * read to find the files collector jobs kept.
 *
 * The input becomes the manifest of a collector output in a scratch folder that holds two side files.
 * Reading must fail with a one-line message, or give only absolute paths of regular files inside the
 * folder (nothing a name or a link could lead out to); what was read, written back with names relative
 * to the folder, must read again to the same jobs. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "caf/side_files.h"
#include "fuzz_support.h"

static void check_inside(const caf_side_files_job *jobs, size_t count, const char *root)
{
    size_t n = strlen(root);
    for (size_t i = 0; i < count; i++)
        for (size_t f = 0; f < jobs[i].file_count; f++) {
            struct stat st;
            const char *p = jobs[i].files[f];
            if (strncmp(p, root, n) != 0 || p[n] != '/' || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "job %zu: side file %s is not a regular file inside %s\n", jobs[i].job, p, root);
                abort();
            }
        }
}

/* Writes jobs back with names relative to the folder (whose real path is dir), reads them again and
 * compares. */
static void round_trip(const caf_side_files_job *jobs, size_t count, const char *dir, const char *manifest)
{
    size_t n = strlen(dir);
    caf_side_files_job *copy = calloc(count + 1, sizeof *copy);
    for (size_t i = 0; copy && i < count; i++) {
        copy[i] = jobs[i];
        copy[i].files = calloc(jobs[i].file_count + 1, sizeof *copy[i].files);
        for (size_t f = 0; copy[i].files && f < jobs[i].file_count; f++)
            copy[i].files[f] = jobs[i].files[f] + n + 1;
    }
    caf_error err = {0};
    caf_side_files_job *again = NULL;
    size_t again_count = 0;
    caf_status st = copy ? caf_side_files_write(manifest, copy, count, &err) : CAF_ERR_NOMEM;
    if (st == CAF_OK)
        st = caf_side_files_read(manifest, &again, &again_count, &err);
    if (st != CAF_OK || again_count != count) {
        fprintf(stderr, "a manifest read back failed or changed: %s\n", err.message);
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        bool same = again[i].job == jobs[i].job && again[i].run_count == jobs[i].run_count &&
                    again[i].file_count == jobs[i].file_count &&
                    !memcmp(again[i].runs, jobs[i].runs, jobs[i].run_count * sizeof *jobs[i].runs);
        for (size_t f = 0; same && f < jobs[i].file_count; f++)
            same = !strcmp(again[i].files[f], jobs[i].files[f]);
        if (!same) {
            fprintf(stderr, "job %zu changed when written and read again\n", jobs[i].job);
            abort();
        }
    }
    for (size_t i = 0; copy && i < count; i++)
        free(copy[i].files);
    free(copy);
    caf_side_files_jobs_free(again, again_count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *root;
    if (!root) {
        fuzz_write_file("a.bin", (const uint8_t *)"a", 1);
        fuzz_write_file("seen.txt", (const uint8_t *)"1 2 3\n", 6);
        root = realpath(fuzz_scratch(), NULL);
        if (!root)
            abort();
    }
    char manifest[600];
    snprintf(manifest, sizeof manifest, "%s", fuzz_write_file("out.sqlite" CAF_SIDE_FILES_SUFFIX, data, size));
    caf_error err = {0};
    caf_side_files_job *jobs = NULL;
    size_t count = 0;
    caf_status st = caf_side_files_read(manifest, &jobs, &count, &err);
    fuzz_check_error(st, &err, "caf_side_files_read");
    if (st == CAF_OK) {
        check_inside(jobs, count, root);
        round_trip(jobs, count, root, manifest);
    }
    caf_side_files_jobs_free(jobs, count);
    return 0;
}
