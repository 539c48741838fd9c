/* HTCondor without a shared file system (backend_settings transfer_files: true). A subjob then runs in
 * the scratch folder HTCondor makes on the execute machine, with its script and input files copied in
 * (inputs by base name: HTCondor puts every transferred file in one flat folder). Its wrapper script is
 * the usual one with every path relative to that folder: stdout and stderr beside the inputs, the exit
 * code and the copied outputs under caf-return/. HTCondor brings caf-return (and the two logs, remapped
 * to caf-return.stdout/.stderr) back into the subjob folder; once the job has left the queue caf moves
 * the outputs to the output folder and, last, the exit-code file into place, so that the scheduler sees
 * the same files as with a shared file system. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/log.h"
#include "caf/wrapper_script.h"
#include "jobs/batch.h"

/* The base name of path (after the last '/'). */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

caf_status htcondor_transfer_script(const caf_job *job, const caf_subjob *sub, char **out, caf_error *err)
{
    *out = NULL;
    char dot[] = ".", exit_file[] = HTCONDOR_RETURN_DIR "/exit_code", outputs[] = HTCONDOR_RETURN_DIR "/outputs";
    caf_subjob view = *sub;
    view.dir = dot;
    view.exit_code_file = exit_file;
    view.output_dir = outputs;
    view.input_files = (caf_strings){0};
    caf_status rc = CAF_OK;
    for (size_t i = 0; rc == CAF_OK && i < sub->input_files.count; i++)
        rc = caf_strings_push(&view.input_files, base_name(sub->input_files.items[i]), err);
    char *wrapper = NULL;
    if (rc == CAF_OK)
        rc = caf_wrapper_script_render(job, &view, &wrapper, err);
    caf_strings_free(&view.input_files);
    if (rc != CAF_OK)
        return rc;
    /* transfer_output_files names these: a missing one would put the job on hold */
    if (asprintf(out,
                 "#!/bin/bash\n"
                 "# Written by caf: subjob %zu of job %s in HTCondor's scratch folder (file-transfer mode).\n"
                 "mkdir -p " HTCONDOR_RETURN_DIR " && : >>stdout && : >>stderr || exit 1\n"
                 "%s",
                 sub->index, job->name, wrapper) < 0) {
        *out = NULL;
        rc = caf_error_set(err, CAF_ERR_NOMEM, "job %s: out of memory", job->name);
    }
    free(wrapper);
    return rc;
}

/* Runs argv (rm, cp) and reports a failure as an error naming what it was doing. */
static caf_status run_tool(char *const argv[], const char *what, caf_error *err)
{
    caf_process_options opts = {0};
    opts.timeout_s = 600;
    caf_process_result res = {0};
    caf_status rc = caf_process_run(argv, &opts, &res, err);
    if (rc == CAF_OK && res.exit_code != 0) {
        char line[200];
        rc = caf_error_set(err, CAF_ERR_IO, "%s: %s exited with %d: %s", what, argv[0], res.exit_code,
                           caf_process_first_line(res.err_text ? res.err_text : "", line, sizeof line));
    }
    caf_process_result_free(&res);
    return rc;
}

static void remove_tree(const char *path)
{
    if (!caf_path_exists(path))
        return;
    char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};
    caf_error err = {0};
    if (run_tool(argv, path, &err) != CAF_OK)
        caf_warning("could not remove %s: %s", path, err.message);
}

/* dir/name, or NULL when out of memory (then err is set). */
static char *joined(const char *dir, const char *name, caf_error *err)
{
    char *path = caf_path_join(dir, name);
    if (!path)
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return path;
}

void htcondor_transfer_clear(const caf_subjob *sub)
{
    static const char *const names[] = {HTCONDOR_RETURN_DIR, HTCONDOR_RETURN_STDOUT, HTCONDOR_RETURN_STDERR};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *path = caf_path_join(sub->dir, names[i]);
        if (path)
            remove_tree(path);
        free(path);
    }
}

/* Appends the file from (if it exists) to the file to and removes it. */
static caf_status append_log(const char *from, const char *to, caf_error *err)
{
    char *data = NULL;
    size_t size = 0;
    if (!caf_path_exists(from))
        return CAF_OK;
    caf_status rc = caf_file_read(from, &data, &size, err);
    int fd = rc == CAF_OK ? open(to, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    if (rc == CAF_OK && fd < 0)
        rc = caf_error_errno(err, errno, "%s", to);
    for (size_t done = 0; rc == CAF_OK && done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = caf_error_errno(err, errno ? errno : EIO, "%s", to);
        else
            done += (size_t)w;
    }
    if (fd >= 0)
        close(fd);
    free(data);
    if (rc == CAF_OK && unlink(from) != 0)
        rc = caf_error_errno(err, errno, "%s", from);
    return rc;
}

/* Moves every entry of folder from into folder to (rename, or cp -R + rm across file systems). */
static caf_status move_entries(const char *from, const char *to, caf_error *err)
{
    DIR *d = opendir(from);
    if (!d)
        return errno == ENOENT ? CAF_OK : caf_error_errno(err, errno, "%s", from);
    caf_status rc = caf_mkdir_p(to, err);
    struct dirent *e;
    while (rc == CAF_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *src = joined(from, e->d_name, err), *dst = src ? joined(to, e->d_name, err) : NULL;
        if (!dst)
            rc = CAF_ERR_NOMEM;
        else if (rename(src, dst) != 0) {
            if (errno == EXDEV || errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
                char *cp[] = {"cp", "-R", "--", src, (char *)to, NULL};
                rc = run_tool(cp, dst, err);
                if (rc == CAF_OK)
                    remove_tree(src);
            } else {
                rc = caf_error_errno(err, errno, "moving %s to %s", src, dst);
            }
        }
        free(src);
        free(dst);
    }
    closedir(d);
    return rc;
}

caf_status htcondor_transfer_collect(const caf_subjob *sub, caf_error *err)
{
    char *ret = joined(sub->dir, HTCONDOR_RETURN_DIR, err);
    char *out_from = ret ? joined(sub->dir, HTCONDOR_RETURN_STDOUT, err) : NULL;
    char *err_from = out_from ? joined(sub->dir, HTCONDOR_RETURN_STDERR, err) : NULL;
    char *out_to = err_from ? joined(sub->dir, "stdout", err) : NULL;
    char *err_to = out_to ? joined(sub->dir, "stderr", err) : NULL;
    char *outputs = err_to ? joined(ret, "outputs", err) : NULL;
    char *exit_file = outputs ? joined(ret, "exit_code", err) : NULL;
    caf_status rc = exit_file ? CAF_OK : CAF_ERR_NOMEM;
    if (rc == CAF_OK)
        rc = append_log(out_from, out_to, err);
    if (rc == CAF_OK)
        rc = append_log(err_from, err_to, err);
    if (rc == CAF_OK)
        rc = move_entries(outputs, sub->output_dir, err);
    /* last: the exit-code file tells the scheduler that everything else is in place */
    if (rc == CAF_OK && caf_path_exists(exit_file) && rename(exit_file, sub->exit_code_file) != 0)
        rc = caf_error_errno(err, errno, "moving %s to %s", exit_file, sub->exit_code_file);
    if (rc == CAF_OK && ret)
        remove_tree(ret);
    if (rc != CAF_OK)
        caf_error_prefix(err, "subjob %zu: bringing back what HTCondor transferred: ", sub->index);
    free(ret);
    free(out_from);
    free(err_from);
    free(out_to);
    free(err_to);
    free(outputs);
    free(exit_file);
    return rc;
}
