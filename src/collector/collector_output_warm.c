/* Collector outputs opened ahead (collector/output_warm.h). A handle opened ahead is used only when the path
 * still names the file it opened: a descriptor of that file (the witness, opened before SQLite opened the
 * path and checked against the path after) is compared with the path when the execution asks for it. While
 * waiting, a handle holds no lock on its file: a writer working on the file in place is not kept out by an
 * execution that may never come. */
#include "collector/output_warm.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/output_internal.h"

typedef struct warm_output {
    char *path; /* canonical */
    caf_collector_output *file;
    int witness;
} warm_output;

static warm_output *warm;
static size_t warm_count;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Whether descriptor fd is still the file at path, unchanged. */
static bool still_the_file(int fd, const char *path)
{
    struct stat opened, now;
    return fstat(fd, &opened) == 0 && stat(path, &now) == 0 && same_file(&opened, &now);
}

static void close_warm(warm_output *w)
{
    caf_collector_output_close(w->file); /* before the witness: closing it would drop the connection's locks */
    if (w->witness >= 0)
        close(w->witness);
    free(w->path);
}

/* Opens path ahead into w; false (nothing kept) when it cannot. */
static bool open_ahead(const char *path, warm_output *w)
{
    *w = (warm_output){.witness = -1};
    if (!(w->path = realpath(path, NULL)))
        return false;
    w->witness = open(w->path, O_RDONLY | O_CLOEXEC);
    caf_error quiet = {0};
    if (w->witness < 0 || output_open_cold(w->path, &w->file, &quiet) != CAF_OK) {
        close_warm(w);
        return false;
    }
    /* the shared lock taken by the first read is kept in the reader's EXCLUSIVE locking mode: drop it until
     * the handle is used (one read in NORMAL mode releases it) */
    sqlite3 *db = output_db(w->file);
    if (sqlite3_exec(db, "PRAGMA locking_mode=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT 1 FROM meta LIMIT 1", NULL, NULL, NULL) != SQLITE_OK ||
        !still_the_file(w->witness, w->path)) { /* replaced while SQLite opened it: which one did it open? */
        close_warm(w);
        return false;
    }
    return true;
}

void caf_collector_output_warm_up(const char *const *paths, size_t count)
{
    caf_collector_output_warm_discard();
    warm = count ? calloc(count, sizeof *warm) : NULL;
    for (size_t i = 0; warm && i < count; i++) {
        bool twice = false;
        warm_output w;
        if (!paths[i] || !open_ahead(paths[i], &w))
            continue;
        for (size_t k = 0; k < warm_count && !twice; k++)
            twice = strcmp(warm[k].path, w.path) == 0;
        if (twice)
            close_warm(&w);
        else
            warm[warm_count++] = w;
    }
}

void caf_collector_output_warm_discard(void)
{
    for (size_t i = 0; i < warm_count; i++)
        close_warm(&warm[i]);
    free(warm);
    warm = NULL;
    warm_count = 0;
}

bool output_warm_take(const char *path, caf_collector_output **out)
{
    for (size_t i = 0; i < warm_count; i++) {
        if (strcmp(warm[i].path, path) != 0)
            continue;
        warm_output w = warm[i];
        warm[i] = warm[--warm_count];
        if (!still_the_file(w.witness, path) ||
            sqlite3_exec(output_db(w.file), "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
            close_warm(&w);
            return false;
        }
        output_set_witness(w.file, w.witness);
        free(w.path);
        *out = w.file;
        return true;
    }
    return false;
}
