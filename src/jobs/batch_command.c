/* Commands of the batch backends as argv arrays: built piece by piece, run with a time-out through
 * caf_process_run, never through a shell. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/batch.h"

caf_status batch_command_add(batch_command *cmd, const char *arg, caf_error *err)
{
    if (cmd->argc + 2 > cmd->cap) {
        size_t cap = cmd->cap ? cmd->cap * 2 : 16;
        char **grown = realloc(cmd->argv, cap * sizeof *grown);
        if (!grown)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory building a command line");
        cmd->argv = grown;
        cmd->cap = cap;
    }
    char *copy = strdup(arg);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory building a command line");
    cmd->argv[cmd->argc++] = copy;
    cmd->argv[cmd->argc] = NULL;
    return CAF_OK;
}

caf_status batch_command_addf(batch_command *cmd, caf_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int len = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (len < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory building a command line");
    caf_status rc = batch_command_add(cmd, text, err);
    free(text);
    return rc;
}

void batch_command_free(batch_command *cmd)
{
    for (size_t i = 0; i < cmd->argc; i++)
        free(cmd->argv[i]);
    free(cmd->argv);
    free(cmd->stdin_text);
    memset(cmd, 0, sizeof *cmd);
}

caf_status batch_command_run(const batch_command *cmd, const char *cwd, double timeout_s,
                             caf_process_result *res, caf_error *err)
{
    caf_process_options opts = {.cwd = cwd, .stdin_text = cmd->stdin_text, .timeout_s = timeout_s};
    caf_status rc = caf_process_run(cmd->argv, &opts, res, err);
    if (rc == CAF_ERR_TIMEOUT) {
        caf_process_result_free(res);
        return caf_error_set(err, CAF_ERR_TIMEOUT, "%s did not answer within %.0f s (killed)", cmd->argv[0],
                             timeout_s);
    }
    return rc;
}

caf_status batch_command_failed(const batch_command *cmd, const caf_process_result *res, caf_error *err)
{
    char line[400];
    const char *text = res->err_text && res->err_text[0] ? res->err_text : res->out_text;
    caf_process_first_line(text ? text : "", line, sizeof line);
    return caf_error_set(err, CAF_ERR_EXTERNAL, "%s exited with %d: %s", cmd->argv[0], res->exit_code,
                         line[0] ? line : "(no message)");
}

caf_status batch_cancel_ids(const char *program, caf_subjob **subs, size_t n, const bool *select, size_t chunk,
                            double timeout_s, batch_unknown_ids_fn only_unknown, caf_error *err)
{
    caf_status rc = CAF_OK;
    if (chunk == 0)
        chunk = n ? n : 1;
    for (size_t from = 0; rc == CAF_OK && from < n; from += chunk) {
        batch_command cmd = {0};
        caf_process_result res = {0};
        rc = batch_command_add(&cmd, program, err);
        for (size_t i = from; rc == CAF_OK && i < n && i < from + chunk; i++)
            if (subs[i]->batch_id && (!select || select[i]))
                rc = batch_command_add(&cmd, subs[i]->batch_id, err);
        if (rc == CAF_OK && cmd.argc > 1)
            rc = batch_command_run(&cmd, NULL, timeout_s, &res, err);
        if (rc == CAF_OK && res.exit_code != 0 && !only_unknown(&res))
            rc = batch_command_failed(&cmd, &res, err);
        caf_process_result_free(&res);
        batch_command_free(&cmd);
    }
    return rc;
}
