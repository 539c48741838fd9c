/* Input sandboxes: the job's snapshot of its sandbox files and their copies in each subjob's folder. */
#include "caf/input_sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/wrapper_script.h"

/* Files caf itself keeps in a subjob's folder (the wrapper script, its output, the exit-code file, the
 * lock, the PBS log, HTCondor's transfer script and returns). */
static const char *const reserved[] = {
    "run.sh", "stdout", "stderr", "exit_code", CAF_SUBJOB_LOCK_FILE, "pbs.log", "caf-transfer-run.sh",
    "caf-return", "caf-return.stdout", "caf-return.stderr", NULL,
};

const char *caf_input_sandbox_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

const char *caf_input_sandbox_name_problem(const char *path)
{
    const char *name = caf_input_sandbox_name(path);
    if (!*name)
        return "names no file (empty, or a folder)";
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return "would leave the subjob's folder ('.' or '..')";
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return "holds a control character";
    if (strstr(name, ".caf-tmp-"))
        return "is a name caf uses for its temporary files";
    for (size_t i = 0; reserved[i]; i++)
        if (!strcmp(name, reserved[i]))
            return "is the name of a file caf keeps in the subjob's folder";
    return NULL;
}

/* Copies src to dir/NAME unless that exists. */
static caf_status copy_into(const char *src, const char *dir, caf_error *err)
{
    char *dst = NULL;
    if (asprintf(&dst, "%s/%s", dir, caf_input_sandbox_name(src)) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = CAF_OK;
    struct stat st;
    if (lstat(dst, &st) != 0) {
        if (stat(src, &st) != 0)
            rc = caf_error_errno(err, errno, "input_sandbox file %s", src);
        else if (!S_ISREG(st.st_mode))
            rc = caf_error_set(err, CAF_ERR_INVALID, "input_sandbox file %s is no regular file", src);
        else
            rc = caf_file_copy_atomic(src, dst, err);
    }
    free(dst);
    return rc;
}

caf_status caf_input_sandbox_copy(const caf_strings *paths, const char *dir, caf_error *err)
{
    caf_status rc = paths->count ? caf_mkdir_p(dir, err) : CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < paths->count; i++)
        rc = copy_into(paths->items[i], dir, err);
    return rc;
}

caf_status caf_input_sandbox_snapshot(const caf_job *job, caf_error *err)
{
    if (job->input_sandbox.count == 0)
        return CAF_OK;
    char *dir = NULL;
    if (asprintf(&dir, "%s/%s", job->working_dir, CAF_SANDBOX_DIR) < 0)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_input_sandbox_copy(&job->input_sandbox, dir, err);
    free(dir);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", job->name);
    return rc;
}

caf_status caf_input_sandbox_install(const caf_job *job, const caf_subjob *sub, caf_error *err)
{
    caf_status rc = job->input_sandbox.count ? caf_mkdir_p(sub->dir, err) : CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < job->input_sandbox.count; i++) {
        char *snap = NULL;
        if (asprintf(&snap, "%s/%s/%s", job->working_dir, CAF_SANDBOX_DIR,
                     caf_input_sandbox_name(job->input_sandbox.items[i])) < 0)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        rc = copy_into(snap, sub->dir, err);
        free(snap);
    }
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s, subjob %zu: ", job->name, sub->index);
    return rc;
}
