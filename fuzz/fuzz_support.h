/* Shared by the fuzzing harnesses (fuzz/fuzz_<format>.c): a private scratch folder, writing the input
 * to a file in it, and the property every harness checks besides "no crash": a failing call leaves a
 * one-line, non-empty error message. Header-only so each harness stays one file plus this. */
#ifndef CAF_FUZZ_SUPPORT_H
#define CAF_FUZZ_SUPPORT_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/error.h"
#include "caf/log.h"

static char fuzz_dir[256];

static void fuzz_remove_dir(void)
{
    /* The harnesses only write plain files straight inside the folder. */
    if (!fuzz_dir[0])
        return;
    DIR *d = opendir(fuzz_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", fuzz_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fuzz_dir);
}

/* The process's scratch folder (created on first use, removed at exit); logging is silenced then too,
 * because warnings about the input are expected and would only slow the fuzzer down. */
static const char *fuzz_scratch(void)
{
    if (!fuzz_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/caf-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir)) {
            perror(fuzz_dir);
            abort();
        }
        atexit(fuzz_remove_dir);
        caf_log_set_level(CAF_LOG_QUIET);
    }
    return fuzz_dir;
}

/* Writes data to NAME in the scratch folder and returns its path (a static buffer). */
static const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Aborts (a finding) unless a failed call left a non-empty one-line message in err. */
static void fuzz_check_error(caf_status st, const caf_error *err, const char *call)
{
    if (st == CAF_OK)
        return;
    if (!err->message[0] || strchr(err->message, '\n')) {
        fprintf(stderr, "%s failed (%s) with a message that is not one line: '%s'\n", call, caf_status_name(st),
                err->message);
        abort();
    }
}

#endif
