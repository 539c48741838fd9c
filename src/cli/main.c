/* caf: the command. Global options, then one subcommand (git-style), found in the generated table. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/log.h"
#include "caf/version.h"
#include "cli/cli.h"

/* Appends dir to $CAF_PLUGIN_PATH when it exists. The environment, not a global, carries the path so
 * that collector jobs and algorithm runners started by this process search the same folders. */
static void append_plugin_dir(const char *dir)
{
    if (access(dir, R_OK | X_OK) != 0)
        return;
    const char *old = getenv("CAF_PLUGIN_PATH");
    size_t n = (old ? strlen(old) : 0) + strlen(dir) + 2;
    char *joined = malloc(n);
    if (!joined)
        return;
    snprintf(joined, n, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "", dir);
    setenv("CAF_PLUGIN_PATH", joined, 1);
    free(joined);
}

/* Lets caf find its own plugins wherever it is: in its build tree (build/bin/caf next to build/plugins)
 * and in a relocated installation (PREFIX/bin/caf next to PREFIX/lib.../caf/plugins). */
static void add_own_plugin_dirs(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/../CMakeCache.txt", exe);
    if (access(path, F_OK) == 0) {
        snprintf(path, sizeof path, "%s/../plugins", exe);
        append_plugin_dir(path);
    }
    snprintf(path, sizeof path, "%s/%s", exe, CAF_PLUGIN_DIR_FROM_BINDIR);
    append_plugin_dir(path);
}

int main(int argc, char **argv)
{
    add_own_plugin_dirs();
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_overview(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            printf("caf %s\n", CAF_VERSION_STRING);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            caf_log_set_level(CAF_LOG_DEBUG);
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            caf_log_set_level(CAF_LOG_WARNING);
        } else if (!strcmp(a, "--log-level")) {
            caf_log_level level;
            if (i + 1 >= argc || caf_log_level_parse(argv[i + 1], &level) != 0) {
                fprintf(stderr, "caf: --log-level needs one of debug, info, warning, error, quiet\n");
                return CLI_EXIT_USAGE;
            }
            caf_log_set_level(level);
            i++;
        } else {
            fprintf(stderr, "caf: unknown option '%s' (see 'caf --help')\n", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        cli_print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const struct cli_command *command = cli_find_command(argv[i]);
    if (!command) {
        fprintf(stderr, "caf: '%s' is not a caf command (see 'caf --help')\n", argv[i]);
        return CLI_EXIT_USAGE;
    }
    return command->run(argc - i, argv + i);
}
