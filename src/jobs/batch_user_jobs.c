/* Counting the user's jobs in a batch system: the account caf runs as, the count command run as an argv
 * array with the backend's query time-out, its output handed to the backend's parser. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/batch.h"

const char BATCH_USER[] = "<user>";

/* The name of the account caf runs as: the password database's, else $USER or $LOGNAME. */
static const char *user_name(char *buf, size_t size)
{
    struct passwd pw, *found = NULL;
    char scratch[4096];
    if (getpwuid_r(geteuid(), &pw, scratch, sizeof scratch, &found) == 0 && found && found->pw_name[0]) {
        snprintf(buf, size, "%s", found->pw_name);
        return buf;
    }
    const char *env = getenv("USER");
    if (!env || !*env)
        env = getenv("LOGNAME");
    if (!env || !*env)
        return NULL;
    snprintf(buf, size, "%s", env);
    return buf;
}

caf_status batch_count_user_jobs(caf_backend *backend, const char *const *argv_template, batch_user_jobs_parse parse,
                                 long *count, caf_error *err)
{
    const batch_settings *settings = backend->state;
    char user[256];
    if (!user_name(user, sizeof user))
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: cannot tell the user's name to count their jobs",
                             backend->ops->name);
    batch_command cmd = {0};
    caf_process_result res = {0};
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && argv_template[i]; i++)
        rc = batch_command_add(&cmd, argv_template[i] == BATCH_USER ? user : argv_template[i], err);
    if (rc == CAF_OK)
        rc = batch_command_run(&cmd, NULL, settings->query_timeout_s, &res, err);
    if (rc == CAF_OK) {
        caf_error parse_err = {0};
        rc = parse(res.out_text ? res.out_text : "", res.err_text ? res.err_text : "", res.exit_code, count,
                   &parse_err);
        if (rc != CAF_OK && res.exit_code != 0)
            rc = batch_command_failed(&cmd, &res, err);
        else if (rc != CAF_OK)
            rc = caf_error_set(err, rc, "%s: %s", cmd.argv[0], parse_err.message);
    }
    caf_process_result_free(&res);
    batch_command_free(&cmd);
    return rc;
}
