/* Filling the gaps of a local database. The work is done on positions on the line of runs
 * (caf_iov_key_range), per payload name: walking the IoVs by their first run while remembering how far
 * the lines seen so far reach, a payload that starts beyond that reach leaves a gap, and the line that
 * reaches furthest is extended over it. Runs inside the gap had no payload at all, so extending one line
 * there changes no answer that last-line-wins gave before; among lines reaching equally far, the later
 * one is extended, as it is the one that wins at the gap's edge. */
#include "caf/localdb_fill_gaps.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "conditions/localdb_internal.h"

typedef struct line_span {
    size_t entry; /* index into the entry array */
    int64_t lo, hi;
} line_span;

static int compare_spans(const void *pa, const void *pb)
{
    const line_span *a = pa, *b = pb;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->entry < b->entry ? -1 : a->entry > b->entry;
}

void caf_db_iov_changes_free(caf_db_iov_change *changes, size_t n_changes)
{
    for (size_t i = 0; changes && i < n_changes; i++) {
        free(changes[i].name);
        free(changes[i].revision);
    }
    free(changes);
}

/* The IoV of e with its upper end moved to position hi (its lower end kept as written). */
static caf_iov extended(caf_iov iov, int64_t hi)
{
    caf_iov end = caf_iov_of_key_range(hi, hi);
    iov.exp_high = end.exp_high;
    iov.run_high = end.run_high;
    return iov;
}

static int compare_changes(const void *pa, const void *pb)
{
    const caf_db_iov_change *a = pa, *b = pb;
    return (a->line > b->line) - (a->line < b->line);
}

/* Appends the change of entry e to the list. */
static caf_status add_change(caf_db_iov_change **changes, size_t *n, const caf_db_entry *e, int64_t new_hi,
                             caf_db_iov_change_reason reason, caf_error *err)
{
    caf_db_iov_change *grown = realloc(*changes, (*n + 1) * sizeof *grown);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *changes = grown;
    caf_db_iov_change *c = &grown[*n];
    *c = (caf_db_iov_change){.name = strdup(e->name), .revision = strdup(e->revision), .line = e->line,
                             .before = e->iov, .after = extended(e->iov, new_hi), .reason = reason};
    (*n)++;
    if (!c->name || !c->revision)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return CAF_OK;
}

/* The changes for the lines of one name (spans sorted by first run). */
static caf_status plan_name(const caf_db_entry *entries, line_span *spans, size_t n, bool open_last,
                            caf_db_iov_change **changes, size_t *n_changes, caf_error *err)
{
    int64_t always_lo, end_of_line;
    caf_iov_key_range(CAF_IOV_ALWAYS, &always_lo, &end_of_line);
    size_t owner = 0;
    int64_t reach = spans[0].hi;
    for (size_t i = 1; i < n; i++) {
        if (spans[i].lo > reach + 1) {
            caf_status rc = add_change(changes, n_changes, &entries[spans[owner].entry], spans[i].lo - 1,
                                       CAF_DB_FILL_GAP, err);
            if (rc != CAF_OK)
                return rc;
            reach = spans[i].lo - 1;
        }
        if (spans[i].hi > reach || (spans[i].hi == reach && spans[i].entry > spans[owner].entry)) {
            owner = i;
            reach = spans[i].hi;
        }
    }
    if (open_last && reach != end_of_line)
        return add_change(changes, n_changes, &entries[spans[owner].entry], end_of_line, CAF_DB_OPEN_LAST, err);
    return CAF_OK;
}

static caf_status plan_changes(const caf_db_entry *entries, size_t count, bool open_last,
                               caf_db_iov_change **changes, size_t *n_changes, caf_error *err)
{
    line_span *spans = malloc((count ? count : 1) * sizeof *spans);
    bool *done = calloc(count ? count : 1, sizeof *done);
    caf_status rc = spans && done ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    /* one name at a time; quadratic in the number of names only, which stays small (tens) */
    for (size_t first = 0; rc == CAF_OK && first < count; first++) {
        if (done[first] || caf_iov_is_empty(entries[first].iov))
            continue;
        size_t n = 0;
        for (size_t i = first; i < count; i++)
            if (!done[i] && strcmp(entries[i].name, entries[first].name) == 0) {
                done[i] = true;
                if (caf_iov_is_empty(entries[i].iov))
                    continue;
                spans[n].entry = i;
                caf_iov_key_range(entries[i].iov, &spans[n].lo, &spans[n].hi);
                n++;
            }
        qsort(spans, n, sizeof *spans, compare_spans);
        rc = plan_name(entries, spans, n, open_last, changes, n_changes, err);
    }
    free(spans);
    free(done);
    if (rc == CAF_OK && *n_changes > 1)
        qsort(*changes, *n_changes, sizeof **changes, compare_changes);
    return rc;
}

/* text with the IoV of each changed line replaced (a comment after it kept); malloc'd. */
static char *rewrite_text(const char *text, size_t len, const caf_db_iov_change *changes, size_t n_changes,
                          size_t *out_len)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        return NULL;
    size_t next = 0;
    int line = 1;
    for (const char *p = text, *end = text + len; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (next < n_changes && changes[next].line == line) {
            char iov[CAF_IOV_TEXT_MAX];
            fprintf(f, "dbstore/%s %s %s", changes[next].name, changes[next].revision,
                    caf_iov_format(changes[next].after, iov, sizeof iov));
            const char *comment = memchr(p, '#', n);
            if (comment)
                fprintf(f, " %.*s", (int)(n - (size_t)(comment - p)), comment);
            next++;
        } else {
            fwrite(p, 1, n, f);
        }
        if (nl)
            fputc('\n', f);
        p += n + (nl ? 1 : 0);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    *out_len = size;
    return out;
}

caf_status caf_localdb_fill_gaps(const char *path, const caf_db_fill_gaps_options *options,
                                 caf_db_iov_change **changes, size_t *n_changes, caf_error *err)
{
    *changes = NULL;
    *n_changes = 0;
    caf_localdb *db;
    caf_status rc = localdb_new_handle(path, &db, err);
    if (rc != CAF_OK)
        return rc;
    if (!caf_path_exists(db->text_path)) {
        rc = caf_error_set(err, CAF_ERR_NOT_FOUND, "%s: not a database (no %s)", db->dir, CAF_LOCALDB_TEXT_FILE);
        caf_localdb_close(db);
        return rc;
    }
    /* read, plan and rewrite under the lock, so a commit cannot slip lines in between */
    caf_file_lock lock;
    rc = caf_file_lock_acquire(&lock, db->lock_path, err);
    if (rc != CAF_OK) {
        caf_localdb_close(db);
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    caf_db_entry *entries = NULL;
    size_t count = 0;
    rc = caf_file_read(db->text_path, &text, &len, err);
    if (rc == CAF_OK)
        rc = localdb_parse_text(db->text_path, text, &entries, &count, err);
    if (rc == CAF_OK)
        rc = plan_changes(entries, count, options && options->open_last, changes, n_changes, err);
    if (rc == CAF_OK && *n_changes > 0 && !(options && options->dry_run)) {
        size_t new_len = 0;
        char *new_text = rewrite_text(text, len, *changes, *n_changes, &new_len);
        rc = new_text ? caf_file_write_atomic(db->text_path, new_text, new_len, err)
                      : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        free(new_text);
    }
    if (rc != CAF_OK) {
        caf_db_iov_changes_free(*changes, *n_changes);
        *changes = NULL;
        *n_changes = 0;
    }
    localdb_free_entries(entries, count);
    free(text);
    caf_file_lock_release(&lock);
    caf_localdb_close(db);
    return rc;
}
