/* Side files kept by collector jobs, and the manifest that hands them to the algorithms. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caf/file.h"
#include "caf/json.h"
#include "caf/side_files.h"

char *caf_side_files_manifest_path(const char *collector_output)
{
    size_t n = strlen(collector_output), s = strlen(CAF_SIDE_FILES_SUFFIX);
    char *p = malloc(n + s + 1);
    if (p) {
        memcpy(p, collector_output, n);
        memcpy(p + n, CAF_SIDE_FILES_SUFFIX, s + 1);
    }
    return p;
}

void caf_side_files_strings_free(char **strings, size_t count)
{
    for (size_t i = 0; strings && i < count; i++)
        free(strings[i]);
    free(strings);
}

void caf_side_files_jobs_free(caf_side_files_job *jobs, size_t count)
{
    for (size_t i = 0; jobs && i < count; i++) {
        free(jobs[i].runs);
        caf_side_files_strings_free(jobs[i].files, jobs[i].file_count);
    }
    free(jobs);
}

/* A relative name without ".." components (nor an empty one): it names something inside its folder,
 * unless a link on the way leads out (resolves_inside checks that). */
static bool name_stays_inside(const char *name)
{
    if (!*name || name[0] == '/')
        return false;
    for (const char *p = name; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += len;
        if (*p == '/')
            p++;
    }
    return true;
}

/* True when path, all links followed, is a regular file inside the folder whose real path is root. */
static bool resolves_inside(const char *root, const char *path, bool *regular)
{
    char *real = realpath(path, NULL);
    size_t n = strlen(root);
    bool inside = real && strncmp(real, root, n) == 0 && real[n] == '/';
    struct stat st;
    *regular = inside && stat(real, &st) == 0 && S_ISREG(st.st_mode);
    free(real);
    return inside;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool name_matches(const char *name, const char *const *patterns, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *slash = strrchr(patterns[i], '/'); /* the job copies a match under its last component */
        if (fnmatch(slash ? slash + 1 : patterns[i], name, FNM_PERIOD) == 0)
            return true;
    }
    return false;
}

caf_status caf_side_files_scan(const char *dir, const char *const *patterns, size_t count, const char *skip,
                               char ***files, size_t *file_count, caf_error *err)
{
    *files = NULL;
    *file_count = 0;
    if (count == 0)
        return CAF_OK;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? CAF_OK : caf_error_errno(err, errno, "%s", dir);
    char *root = realpath(dir, NULL);
    caf_status rc = root ? CAF_OK : caf_error_errno(err, errno, "%s", dir);
    size_t capacity = 0;
    struct dirent *e;
    while (rc == CAF_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (skip && !strcmp(e->d_name, skip)) ||
            !name_matches(e->d_name, patterns, count))
            continue;
        char *path = caf_path_join(dir, e->d_name);
        struct stat st;
        bool regular = false;
        if (!path) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else if (lstat(path, &st) != 0) {
            rc = caf_error_errno(err, errno, "%s", path);
        } else if (S_ISLNK(st.st_mode) && !resolves_inside(root, path, &regular)) {
            rc = caf_error_set(err, CAF_ERR_INVALID, "side file %s is a link that leads outside %s; refused", path,
                               dir);
        } else if (S_ISREG(st.st_mode) || regular) {
            if (*file_count == capacity) {
                capacity = capacity ? 2 * capacity : 8;
                char **grown = realloc(*files, capacity * sizeof *grown);
                if (!grown)
                    rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
                else
                    *files = grown;
            }
            if (rc == CAF_OK && !((*files)[*file_count] = strdup(e->d_name)))
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            if (rc == CAF_OK)
                (*file_count)++;
        }
        free(path);
    }
    closedir(d);
    free(root);
    if (rc != CAF_OK) {
        caf_side_files_strings_free(*files, *file_count);
        *files = NULL;
        *file_count = 0;
        return rc;
    }
    if (*file_count > 1)
        qsort(*files, *file_count, sizeof **files, compare_strings);
    return CAF_OK;
}

caf_status caf_side_files_write(const char *manifest_path, const caf_side_files_job *jobs, size_t count,
                                caf_error *err)
{
    json_t *list = json_array();
    json_t *top = json_pack("{s:i, s:o}", "version", 1, "jobs", list);
    caf_status rc = top ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < count; i++) {
        json_t *runs = json_array(), *files = json_array();
        for (size_t r = 0; runs && r < jobs[i].run_count; r++)
            json_array_append_new(runs, json_pack("[i, i]", jobs[i].runs[r].exp, jobs[i].runs[r].run));
        for (size_t f = 0; rc == CAF_OK && files && f < jobs[i].file_count; f++) {
            if (!name_stays_inside(jobs[i].files[f]))
                rc = caf_error_set(err, CAF_ERR_INVALID, "%s: job %zu: side file '%s' is not inside the folder",
                                   manifest_path, jobs[i].job, jobs[i].files[f]);
            else
                json_array_append_new(files, json_string(jobs[i].files[f]));
        }
        json_t *job = runs && files ? json_pack("{s:I, s:O, s:O}", "job", (json_int_t)jobs[i].job, "runs", runs,
                                                "files", files)
                                    : NULL;
        json_decref(runs);
        json_decref(files);
        if (rc == CAF_OK && (!job || json_array_append_new(list, job) != 0))
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else if (rc != CAF_OK)
            json_decref(job);
    }
    if (rc == CAF_OK)
        rc = caf_json_save_file(manifest_path, top, err);
    json_decref(top);
    return rc;
}

/* Fills job from its manifest entry; folder and root are the manifest's folder and its real path. */
static caf_status read_job(const char *manifest, const char *folder, const char *root, size_t index,
                           const json_t *entry, caf_side_files_job *job, caf_error *err)
{
    const json_t *number = json_object_get(entry, "job"), *runs = json_object_get(entry, "runs"),
                 *files = json_object_get(entry, "files");
    if (!json_is_integer(number) || json_integer_value(number) < 0 || !json_is_array(runs) || !json_is_array(files))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: entry %zu of 'jobs' needs 'job' (a number from 0), 'runs' "
                             "and 'files' (lists)", manifest, index + 1);
    job->job = (size_t)json_integer_value(number);
    job->runs = calloc(json_array_size(runs) + 1, sizeof *job->runs);
    job->files = calloc(json_array_size(files) + 1, sizeof *job->files);
    if (!job->runs || !job->files)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    size_t i;
    const json_t *v;
    json_array_foreach(runs, i, v) {
        const json_t *e = json_array_get(v, 0), *r = json_array_get(v, 1);
        if (json_array_size(v) != 2 || !json_is_integer(e) || !json_is_integer(r) || json_integer_value(e) < 0 ||
            json_integer_value(e) > INT_MAX || json_integer_value(r) < 0 || json_integer_value(r) > INT_MAX)
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: job %zu: run %zu is not an [exp, run] pair", manifest,
                                 job->job, i + 1);
        job->runs[job->run_count++] = (caf_exprun){(int)json_integer_value(e), (int)json_integer_value(r)};
    }
    qsort(job->runs, job->run_count, sizeof *job->runs, caf_exprun_qsort_compare);
    json_array_foreach(files, i, v) {
        const char *name = json_string_value(v);
        bool regular = false;
        if (!name || !name_stays_inside(name))
            return caf_error_set(err, CAF_ERR_FORMAT, "%s: job %zu: side file %zu ('%s') is not a name inside %s; "
                                 "refused", manifest, job->job, i + 1, name ? name : "not a string", folder);
        char *path = caf_path_join(root, name); /* absolute even when the manifest's path is not */
        if (!path)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        if (!resolves_inside(root, path, &regular) || !regular) {
            caf_status st = caf_error_set(err, CAF_ERR_FORMAT, "%s: job %zu: side file '%s' %s; refused", manifest,
                                          job->job, name, caf_path_exists(path) ? "is not a regular file inside "
                                          "the folder" : "does not exist");
            free(path);
            return st;
        }
        job->files[job->file_count++] = path;
    }
    return CAF_OK;
}

caf_status caf_side_files_read(const char *manifest_path, caf_side_files_job **jobs, size_t *count, caf_error *err)
{
    *jobs = NULL;
    *count = 0;
    struct stat st;
    if (stat(manifest_path, &st) != 0 && errno == ENOENT)
        return CAF_OK; /* a collector output nobody listed side files for */
    json_t *top = NULL;
    caf_status rc = caf_json_load_file(manifest_path, &top, err);
    if (rc != CAF_OK)
        return rc;
    const json_t *list = json_object_get(top, "jobs");
    if (json_integer_value(json_object_get(top, "version")) != 1 || !json_is_array(list))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: not a side-file manifest (version 1 with a 'jobs' list)",
                           manifest_path);
    char *folder = rc == CAF_OK ? strdup(manifest_path) : NULL;
    char *slash = folder ? strrchr(folder, '/') : NULL;
    if (folder) {
        if (slash)
            *slash = '\0';
        else
            strcpy(folder, ".");
    }
    char *root = folder ? realpath(folder, NULL) : NULL;
    if (rc == CAF_OK && !root)
        rc = caf_error_errno(err, errno, "%s", manifest_path);
    if (rc == CAF_OK && !(*jobs = calloc(json_array_size(list) + 1, sizeof **jobs)))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < json_array_size(list); i++) {
        rc = read_job(manifest_path, folder, root, i, json_array_get(list, i), &(*jobs)[i], err);
        (*count)++;
    }
    free(folder);
    free(root);
    json_decref(top);
    if (rc != CAF_OK) {
        caf_side_files_jobs_free(*jobs, *count);
        *jobs = NULL;
        *count = 0;
    }
    return rc;
}
