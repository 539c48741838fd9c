/* The corpus runner: runs a fuzzing harness once over every input of its corpus, without libFuzzer, so
 * the normal and the sanitizer builds (gcc) replay every corpus as a CTest test (fuzz.<format>).
 *
 * Usage: fuzz_<format> PATH...   (a folder: each regular file in it, in name order; a file: that file)
 * Exit 0 when every input ran; 2 on a usage error, an unreadable input or an empty corpus. A fault
 * inside the harness ends the process (crash or sanitizer report), naming nothing: the runner prints
 * each input's path before running it, so the last line printed names the input at fault. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, size = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
        size += n;
        if (size == cap) {
            uint8_t *g = realloc(data, cap *= 2);
            if (!g)
                free(data);
            data = g;
        }
    }
    int failed = !data || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        return -1;
    }
    printf("%s\n", path);
    fflush(stdout);
    /* A private copy of exactly size bytes, so ASan sees a read past the end of the input. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        free(data);
        return -1;
    }
    memcpy(copy, data, size);
    free(data);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every regular file in dir; returns the number run, or -1 on an error. */
static long run_folder(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        perror(dir);
        return -1;
    }
    long ran = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (ran >= 0 && names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            ran = run_file(path) == 0 ? ran + 1 : -1;
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_FOLDER_OR_FILE...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        long ran = S_ISDIR(st.st_mode) ? run_folder(argv[i]) : (run_file(argv[i]) == 0 ? 1 : -1);
        if (ran < 0)
            return 2;
        total += ran;
    }
    if (total == 0) {
        fprintf(stderr, "%s: the corpus is empty\n", argv[0]);
        return 2;
    }
    printf("%ld inputs ran\n", total);
    return 0;
}
