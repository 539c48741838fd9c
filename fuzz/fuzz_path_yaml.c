/* Fuzzing harness: path files (docs/modules.md), as `caf process` and every collector job read them.
 *
 * The input goes through caf_path_set_parse (caf_yaml_load_bounded's limits, the loader, the
 * validation) and, as a file, through caf_path_set_load. Checked besides "no crash, no leak": a failure
 * leaves a one-line message, both entry points agree, and a loaded set can be listed (every path named,
 * the main path among them). No plugin is loaded. */
#include <stdbool.h>
#include <stdint.h>

#include "caf/path.h"
#include "fuzz_support.h"

static void list(const caf_path_set *set)
{
    const char *main = caf_path_set_main(set);
    bool found = false;
    for (size_t i = 0; i < caf_path_set_path_count(set); i++) {
        const char *name = caf_path_set_path_name(set, i);
        if (!name) {
            fprintf(stderr, "path %zu has no name\n", i);
            abort();
        }
        found = found || (main && strcmp(main, name) == 0);
        (void)caf_path_set_module_count(set, name);
    }
    if (!found) {
        fprintf(stderr, "the main path '%s' is not among the paths\n", main ? main : "(none)");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    caf_error err = {0}, file_err = {0};
    caf_path_set *set = NULL, *from_file = NULL;
    caf_status st = caf_path_set_parse((const char *)data, size, "path.yaml", &set, &err);
    fuzz_check_error(st, &err, "caf_path_set_parse");
    const char *path = fuzz_write_file("path.yaml", data, size);
    caf_status file_st = caf_path_set_load(path, &from_file, &file_err);
    fuzz_check_error(file_st, &file_err, "caf_path_set_load");
    if ((st == CAF_OK) != (file_st == CAF_OK)) {
        fprintf(stderr, "caf_path_set_parse (%s) and caf_path_set_load (%s) disagree\n", err.message,
                file_err.message);
        abort();
    }
    if (set)
        list(set);
    caf_path_set_free(set);
    caf_path_set_free(from_file);
    return 0;
}
