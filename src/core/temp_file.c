/* Temporary-file names that identify their writer, and the sweep that removes dead writers' leftovers.
 * Why not just "older than N minutes": a collector may write its temporary output for hours, and a clock
 * proves nothing; a process id plus its start time on the same boot proves whether the writer still runs. */
#include "caf/temp_file.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/file.h"

/* The first 8 hex digits of this boot's id ("00000000" when the kernel does not tell). */
static void boot_tag(char out[9])
{
    strcpy(out, "00000000");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    char line[64] = "";
    if (fgets(line, sizeof line, f)) {
        size_t k = 0;
        for (const char *p = line; *p && k < 8; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
                out[k++] = *p;
    }
    fclose(f);
}

/* The start time (clock ticks after boot, field 22 of /proc/PID/stat) of pid; 0 when it does not run. */
static unsigned long long start_time_of(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && *p; field++) { /* skip fields 3..21 */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    return strtoull(p, NULL, 10);
}

/* Both are read once per process (a forked child reads its own start time again): a commit names two or three
 * temporary files, and each read is an open of /proc. */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static char writer_boot[9];
static long writer_pid;
static unsigned long long writer_start;

char *caf_temp_template(const char *final_path)
{
    char boot[9];
    long pid = (long)getpid();
    pthread_mutex_lock(&writer_lock);
    if (!writer_boot[0])
        boot_tag(writer_boot);
    if (writer_pid != pid) {
        writer_start = start_time_of(pid);
        writer_pid = pid;
    }
    memcpy(boot, writer_boot, sizeof boot);
    unsigned long long start = writer_start;
    pthread_mutex_unlock(&writer_lock);
    const char *slash = strrchr(final_path, '/');
    int dir_len = slash ? (int)(slash - final_path + 1) : 0;
    const char *base = slash ? slash + 1 : final_path;
    char *out = NULL;
    if (asprintf(&out, "%.*s.%s" CAF_TEMP_MARK "%s-%ld-%llu-XXXXXX", dir_len, final_path, base, boot, pid, start) < 0)
        return NULL;
    return out;
}

caf_temp_writer caf_temp_writer_of(const char *name)
{
    if (name[0] != '.')
        return CAF_TEMP_NOT_TEMPORARY;
    const char *mark = strstr(name + 1, CAF_TEMP_MARK);
    if (!mark)
        return CAF_TEMP_NOT_TEMPORARY;
    const char *p = mark + strlen(CAF_TEMP_MARK);
    char boot[9];
    size_t k = 0;
    while (k < 8 && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
        k++;
    if (k != 8 || p[8] != '-')
        return CAF_TEMP_WRITER_UNKNOWN;
    memcpy(boot, p, 8);
    boot[8] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(p + 9, &end, 10);
    if (errno || end == p + 9 || *end != '-' || pid <= 0)
        return CAF_TEMP_WRITER_UNKNOWN;
    const char *s = end + 1;
    unsigned long long start = strtoull(s, &end, 10);
    if (end == s || *end != '-')
        return CAF_TEMP_WRITER_UNKNOWN;
    char mine[9];
    boot_tag(mine);
    if (strcmp(boot, mine) != 0 || !strcmp(mine, "00000000"))
        return CAF_TEMP_WRITER_UNKNOWN;
    unsigned long long now = start_time_of(pid);
    return now != 0 && now == start ? CAF_TEMP_WRITER_ALIVE : CAF_TEMP_WRITER_GONE;
}

static caf_status sweep(const char *dir, int flags, caf_temp_found_fn found, void *userdata, size_t *removed,
                        int depth, caf_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (depth > 0)
            return CAF_OK; /* a subfolder that vanished or cannot be read holds nothing we may remove */
        return caf_error_errno(err, errno, "%s: cannot list the folder", dir);
    }
    caf_status rc = CAF_OK;
    struct dirent *e;
    while (rc == CAF_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *path = caf_path_join(dir, e->d_name);
        if (!path) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        bool is_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        caf_temp_writer w = is_dir ? CAF_TEMP_NOT_TEMPORARY : caf_temp_writer_of(e->d_name);
        if (w != CAF_TEMP_NOT_TEMPORARY) {
            bool remove = w == CAF_TEMP_WRITER_GONE || (w == CAF_TEMP_WRITER_UNKNOWN && (flags & CAF_TEMP_SWEEP_EXCLUSIVE));
            bool done = false;
            if (remove && !(flags & CAF_TEMP_SWEEP_DRY_RUN))
                done = unlink(path) == 0 || errno == ENOENT;
            if (done && removed)
                (*removed)++;
            if (found)
                found(path, w, done, userdata);
        } else if (is_dir && (flags & CAF_TEMP_SWEEP_RECURSIVE)) {
            rc = sweep(path, flags, found, userdata, removed, depth + 1, err);
        }
        free(path);
    }
    closedir(d);
    return rc;
}

caf_status caf_temp_sweep(const char *dir, int flags, caf_temp_found_fn found, void *userdata, size_t *removed,
                          caf_error *err)
{
    if (removed)
        *removed = 0;
    return sweep(dir, flags, found, userdata, removed, 0, err);
}
