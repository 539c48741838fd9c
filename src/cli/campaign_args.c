/* The command-line side of campaign commands shared by `caf run` and `caf plan`. */
#include "cli/campaign_args.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Parses the value of --iov for command where into *iov; false after printing a usage error. */
static bool parse_iov_option(const char *where, const char *text, caf_iov *iov)
{
    caf_error err = {0};
    if (caf_iov_parse(text, iov, &err) != CAF_OK) {
        cli_usage_error(where, "--iov: %s", err.message);
        return false;
    }
    if (caf_iov_is_empty(*iov)) {
        cli_usage_error(where, "--iov: '%s' is the empty IoV; use 0,0,-1,-1 for every run", text);
        return false;
    }
    return true;
}

int cli_campaign_take_option(const char *where, int c, const char *arg, cli_campaign_args *args)
{
    if (c == CLI_OPT_PLUGIN_PATH) {
        args->plugin_path = arg;
        return 1;
    }
    if (c != CLI_OPT_IOV)
        return 0;
    if (!parse_iov_option(where, arg, &args->iov))
        return -1;
    args->have_iov = true;
    return 1;
}

bool cli_campaign_load(const char *path, const cli_campaign_args *args, cli_campaign *out)
{
    memset(out, 0, sizeof *out);
    caf_config_problems problems = {0};
    caf_error err = {0};
    caf_status rc = caf_campaign_load_yaml(path, &out->campaign, &problems, &err);
    if (!(out->path_copy = strdup(path))) {
        caf_config_problems_clear(&problems);
        caf_campaign_close(&out->campaign);
        cli_failf("%s: out of memory", path);
        return false;
    }
    out->options = (caf_run_options){.caf_command = getenv("CAF_COMMAND"), .base_dir = dirname(out->path_copy),
                                     .plugin_path = args->plugin_path,
                                     .iov = args->have_iov ? &args->iov : NULL};
    if (rc == CAF_ERR_INVALID) /* list what the files, plugins and backend add, too: every problem at once */
        caf_run_check(&out->campaign, &out->options, &problems);
    if (rc != CAF_OK) {
        caf_config_problems_sort(&problems);
        for (size_t i = 0; i < problems.count; i++) {
            char text[1200];
            fprintf(stderr, "%s\n", caf_config_problem_format(&problems, i, path, text, sizeof text));
        }
        if (problems.count)
            cli_failf("%s: %zu problem%s found; nothing was submitted", path, problems.count,
                      problems.count == 1 ? "" : "s");
        else
            cli_fail(&err);
        cli_campaign_close(out);
    }
    caf_config_problems_clear(&problems);
    return rc == CAF_OK;
}

void cli_campaign_close(cli_campaign *c)
{
    caf_campaign_close(&c->campaign);
    free(c->path_copy);
    c->path_copy = NULL;
}
