/* A calibration's input files: glob patterns and file lists expanded into one sorted list, checks of what
 * the campaign names on disk, and the random but reproducible choice of at most N files per run. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caf/campaign.h"
#include "caf/dbchain.h"
#include "caf/payload_cache.h"
#include "caf/file.h"
#include "caf/input_sandbox.h"
#include "caf/log.h"
#include "caf/stat_cache.h"

typedef struct file_set {
    char **items;
    size_t count, capacity;
} file_set;

static bool add_file(file_set *set, const char *path)
{
    if (set->count == set->capacity) {
        size_t cap = set->capacity ? 2 * set->capacity : 16;
        char **grown = realloc(set->items, cap * sizeof *grown);
        if (!grown)
            return false;
        set->items = grown;
        set->capacity = cap;
    }
    return (set->items[set->count] = strdup(path)) && ++set->count;
}

/* path itself when absolute or without base, else "base/path" (malloc'd). */
static char *resolve(const char *base, const char *path)
{
    return base && path[0] != '/' && strcmp(base, ".") != 0 ? caf_path_join(base, path) : strdup(path);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef enum { KIND_MISSING, KIND_FILE, KIND_FOLDER, KIND_OTHER } path_kind;

/* What path is, following symbolic links: an input must be a regular file (a named pipe would block
 * every reader, a folder is no event file). */
static path_kind kind_of(const char *path, caf_stat_cache *cache)
{
    struct stat st;
    if (caf_stat_cached(cache, path, &st, true) != 0)
        return KIND_MISSING;
    return S_ISREG(st.st_mode) ? KIND_FILE : S_ISDIR(st.st_mode) ? KIND_FOLDER : KIND_OTHER;
}

/* What a pattern matched: paths (sorted) and what each is. */
typedef struct match_list {
    char **paths;
    path_kind *kinds;
    size_t count, capacity;
} match_list;

static bool add_match(match_list *m, const char *path, path_kind kind)
{
    if (m->count == m->capacity) {
        size_t cap = m->capacity ? 2 * m->capacity : 64;
        char **paths = realloc(m->paths, cap * sizeof *paths);
        if (paths)
            m->paths = paths;
        path_kind *kinds = paths ? realloc(m->kinds, cap * sizeof *kinds) : NULL;
        if (!kinds)
            return false;
        m->kinds = kinds;
        m->capacity = cap;
    }
    if (!(m->paths[m->count] = strdup(path)))
        return false;
    m->kinds[m->count++] = kind;
    return true;
}

static void free_matches(match_list *m)
{
    for (size_t i = 0; i < m->count; i++)
        free(m->paths[i]);
    free(m->paths);
    free(m->kinds);
}

typedef struct match {
    char *path;
    path_kind kind;
} match;

static int compare_matches(const void *a, const void *b)
{
    return strcmp(((const match *)a)->path, ((const match *)b)->path);
}

/* Sorts the matches by path as glob(3) sorts them; kinds move with their paths. */
static void sort_matches(match_list *m, bool *no_memory)
{
    match *items = malloc((m->count ? m->count : 1) * sizeof *items);
    if (!items) {
        *no_memory = true;
        return;
    }
    for (size_t i = 0; i < m->count; i++)
        items[i] = (match){m->paths[i], m->kinds[i]};
    qsort(items, m->count, sizeof *items, compare_matches);
    for (size_t i = 0; i < m->count; i++)
        m->paths[i] = items[i].path, m->kinds[i] = items[i].kind;
    free(items);
}

/* The common pattern "FOLDER/NAME-PATTERN" (wildcards only in the last component) read with one readdir:
 * the entries' types come with their names, so a production's 100,000 files need no stat each (only
 * links and entries of unknown type are looked at). Matches as glob(3) does (fnmatch, a leading dot only
 * matched explicitly), sorted. Returns false when the pattern is of another kind or the folder cannot be
 * read: glob(3) then does it (and reports). */
static bool match_in_folder(const char *path, match_list *out, bool *no_memory, caf_stat_cache *cache)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !slash[1] || !strpbrk(slash + 1, "*?[") || strpbrk(slash + 1, "\\"))
        return false;
    size_t len = (size_t)(slash - path);
    char *dir = strndup(path, len);
    if (!dir || strpbrk(dir, "*?[\\")) {
        free(dir);
        return false;
    }
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return false;
    }
    struct dirent *e;
    char *full = NULL;
    while (!*no_memory && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || fnmatch(slash + 1, e->d_name, FNM_PERIOD) != 0)
            continue;
        free(full);
        if (asprintf(&full, "%s/%s", dir, e->d_name) < 0) {
            full = NULL;
            *no_memory = true;
            break;
        }
        path_kind kind = e->d_type == DT_REG ? KIND_FILE : e->d_type == DT_DIR ? KIND_FOLDER : kind_of(full, cache);
        *no_memory = !add_match(out, full, kind);
    }
    free(full);
    closedir(d);
    free(dir);
    sort_matches(out, no_memory);
    return true;
}

/* pattern is as written (for messages), path the same below the base folder. Folders a pattern matches
 * are skipped (data/ * may hold subfolders), but a pattern must match at least one regular file. */
static void expand_pattern(const char *pattern, const char *path, caf_mark mark, const char *cal, file_set *set,
                           caf_config_problems *p)
{
    caf_stat_cache folder = {0};
    match_list m = {0};
    bool no_memory = false;
    int rc = 0;
    if (!match_in_folder(path, &m, &no_memory, &folder)) {
        glob_t g;
        rc = glob(path, 0, NULL, &g);
        for (size_t i = 0; rc == 0 && !no_memory && i < g.gl_pathc; i++)
            no_memory = !add_match(&m, g.gl_pathv[i], kind_of(g.gl_pathv[i], &folder));
        if (rc == 0 || rc == GLOB_NOMATCH)
            globfree(&g);
    }
    if (rc == 0 && !no_memory && m.count == 0)
        rc = GLOB_NOMATCH;
    if (no_memory)
        rc = GLOB_NOSPACE;
    size_t files = 0;
    if (rc == GLOB_NOMATCH)
        caf_config_problems_add(p, mark, "calibration '%s': input_files: '%s' matches no file", cal, pattern);
    else if (rc == GLOB_NOSPACE)
        caf_config_problems_add(p, mark, "calibration '%s': input_files: out of memory expanding '%s'", cal, pattern);
    else if (rc != 0)
        caf_config_problems_add(p, mark, "calibration '%s': input_files: cannot expand '%s'", cal, pattern);
    for (size_t i = 0; rc == 0 && i < m.count; i++) {
        if (m.kinds[i] == KIND_OTHER)
            caf_config_problems_add(p, mark, "calibration '%s': input_files: '%s' is not a regular file", cal,
                                    m.paths[i]);
        else if (m.kinds[i] == KIND_FILE && !add_file(set, m.paths[i]))
            caf_config_problems_add(p, mark, "calibration '%s': input_files: out of memory", cal);
        files += m.kinds[i] == KIND_FILE;
    }
    caf_stat_cache_close(&folder);
    if (rc == 0 && files == 0)
        caf_config_problems_add(p, mark, "calibration '%s': input_files: '%s' matches no regular file (only "
                                "folders or special files)", cal, pattern);
    free_matches(&m);
}

/* Each non-blank line not starting with '#' names a file, relative to the list's folder. */
static void read_list(const char *path, caf_mark mark, const char *cal, file_set *set, caf_config_problems *p)
{
    char *text;
    size_t size;
    caf_error err = {0};
    caf_stat_cache folder = {0};
    path_kind kind = kind_of(path, &folder);
    if (kind == KIND_FOLDER || kind == KIND_OTHER) {
        caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: %s is not a regular file", cal, path);
        return;
    }
    if (caf_file_read(path, &text, &size, &err) != CAF_OK) {
        caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: %s", cal, err.message);
        return;
    }
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (!dir) {
        caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: out of memory", cal);
        free(text);
        return;
    }
    if (slash)
        *slash = '\0';
    int line = 0;
    size_t named = 0;
    for (char *l = text, *next; l && l < text + size; l = next) {
        if ((next = memchr(l, '\n', (size_t)(text + size - l))))
            *next++ = '\0';
        line++;
        while (*l == ' ' || *l == '\t')
            l++;
        size_t n = strlen(l);
        while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
            l[--n] = '\0';
        if (!n || *l == '#')
            continue;
        char *file = resolve(slash ? dir : NULL, l);
        kind = file ? kind_of(file, &folder) : KIND_MISSING;
        named++;
        if (!file || (kind == KIND_FILE && !add_file(set, file)))
            caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: out of memory", cal);
        else if (kind == KIND_MISSING)
            caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: %s:%d names '%s', which does not "
                                    "exist", cal, path, line, l);
        else if (kind != KIND_FILE)
            caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: %s:%d names '%s', which is not a "
                                    "regular file", cal, path, line, l);
        free(file);
    }
    caf_stat_cache_close(&folder);
    if (named == 0)
        caf_config_problems_add(p, mark, "calibration '%s': input_file_lists: %s names no file", cal, path);
    free(dir);
    free(text);
}

/* who: "gain" for the short form, "gain': collection 'mumu" for a collection (messages quote it). */
static size_t expand_inputs(const char *who, const caf_string_list *input_files,
                            const caf_string_list *input_file_lists, const char *base_dir, char ***files,
                            size_t *count, caf_config_problems *problems)
{
    size_t before = problems->count;
    file_set set = {0};
    for (size_t i = 0; i < input_files->count; i++) {
        char *pattern = resolve(base_dir, input_files->items[i]);
        if (pattern)
            expand_pattern(input_files->items[i], pattern, input_files->marks[i], who, &set, problems);
        else
            caf_config_problems_add(problems, input_files->marks[i], "calibration '%s': input_files: out of "
                                    "memory", who);
        free(pattern);
    }
    for (size_t i = 0; i < input_file_lists->count; i++) {
        char *path = resolve(base_dir, input_file_lists->items[i]);
        if (path)
            read_list(path, input_file_lists->marks[i], who, &set, problems);
        else
            caf_config_problems_add(problems, input_file_lists->marks[i], "calibration '%s': input_file_lists: "
                                    "out of memory", who);
        free(path);
    }
    if (set.count > 1)
        qsort(set.items, set.count, sizeof *set.items, compare_strings);
    size_t kept = 0;
    for (size_t i = 0; i < set.count; i++) {
        if (kept && strcmp(set.items[kept - 1], set.items[i]) == 0)
            free(set.items[i]);
        else
            set.items[kept++] = set.items[i];
    }
    *files = set.items;
    *count = kept;
    return problems->count - before;
}

size_t caf_calibration_expand_inputs(const caf_calibration_config *cal, const char *base_dir, char ***files,
                                     size_t *count, caf_config_problems *problems)
{
    return expand_inputs(cal->name, &cal->input_files, &cal->input_file_lists, base_dir, files, count, problems);
}

size_t caf_collection_expand_inputs(const caf_calibration_config *cal, size_t index, const char *base_dir,
                                    char ***files, size_t *count, caf_config_problems *problems)
{
    if (cal->collection_count == 0)
        return caf_calibration_expand_inputs(cal, base_dir, files, count, problems);
    const caf_collection_config *col = cal->collections[index];
    char who[512];
    snprintf(who, sizeof who, "%s': collection '%s", cal->name, col->name);
    return expand_inputs(who, &col->input_files, &col->input_file_lists, base_dir, files, count, problems);
}

/* A server entry's global tag exists and is not INVALID, asking its servers (caf/gt_resolver.h). */
static void check_server_entry(const char *cal, const char *entry, caf_mark mark, bool unreachable_is_problem,
                               caf_config_problems *problems)
{
    char *tag, **urls;
    size_t count;
    caf_error err = {0};
    caf_payload_cache *cache = NULL;
    caf_gt_resolver *resolver = NULL;
    caf_status st = caf_dbchain_server_parse(entry, &tag, &urls, &count, &err);
    if (st == CAF_OK) {
        if ((st = caf_payload_cache_open_default(&cache, &err)) == CAF_OK &&
            (st = caf_gt_resolver_open(tag, (const char *const *)urls, count, cache, &resolver, &err)) == CAF_OK)
            st = caf_gt_resolver_check_tag(resolver, NULL, &err);
        caf_dbchain_server_free(tag, urls, count);
    }
    if (st == CAF_ERR_IO && !unreachable_is_problem)
        caf_log(CAF_LOG_WARNING, "calibration '%s': database_chain: %s: jobs will use what the payload cache holds",
                cal, err.message);
    else if (st != CAF_OK)
        caf_config_problems_add(problems, mark, "calibration '%s': database_chain: %s%s", cal, err.message,
                                st == CAF_ERR_IO ? " (is the server running and reachable?)" : "");
    caf_gt_resolver_close(resolver);
    caf_payload_cache_close(cache);
}

static void check_chain(const char *cal, const caf_string_list *chain, const char *base_dir,
                        caf_config_problems *problems)
{
    caf_stat_cache folder = {0};
    for (size_t d = 0; d < chain->count; d++) {
        if (caf_dbchain_entry_is_server(chain->items[d]))
            continue; /* caf_campaign_check_servers */
        char *db = resolve(base_dir, chain->items[d]);
        char *txt = db ? caf_path_join(db, "database.txt") : NULL;
        if (!txt)
            caf_config_problems_add(problems, chain->marks[d], "calibration '%s': database_chain: out of memory", cal);
        else if (kind_of(txt, &folder) != KIND_FILE)
            caf_config_problems_add(problems, chain->marks[d],
                                    "calibration '%s': database_chain: '%s' is not a local database (no "
                                    "database.txt)", cal, chain->items[d]);
        free(txt);
        free(db);
    }
    caf_stat_cache_close(&folder);
}

/* Every input_sandbox file of a list (the calibration's, or collection's own) is a regular file. */
static void check_sandbox(const char *cal, const char *collection, const caf_string_list *list, caf_mark fallback,
                          const char *base_dir, caf_config_problems *problems)
{
    caf_stat_cache folder = {0};
    for (size_t i = 0; i < list->count; i++) {
        if (caf_input_sandbox_name_problem(list->items[i]))
            continue; /* a bad name is the validation's problem already */
        char *path = resolve(base_dir, list->items[i]);
        path_kind kind = path ? kind_of(path, &folder) : KIND_MISSING;
        free(path);
        if (kind != KIND_FILE)
            caf_config_problems_add(problems, list->marks && list->marks[i].line ? list->marks[i] : fallback,
                                    "calibration '%s'%s%s%s: input_sandbox: '%s' %s", cal,
                                    collection ? ": collection '" : "", collection ? collection : "",
                                    collection ? "'" : "", list->items[i],
                                    kind == KIND_MISSING ? "does not exist"
                                    : kind == KIND_FOLDER ? "is a folder (list its files)"
                                                          : "is no regular file");
    }
    caf_stat_cache_close(&folder);
}

size_t caf_campaign_check_files(const caf_campaign *c, const char *base_dir, caf_config_problems *problems)
{
    size_t before = problems->count;
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        for (size_t k = 0; k < caf_calibration_collection_count(cal); k++) {
            caf_collection_config col;
            caf_calibration_collection(cal, k, &col);
            char **files;
            size_t n;
            size_t found = caf_collection_expand_inputs(cal, k, base_dir, &files, &n, problems);
            if (found == 0 && n == 0 && (col.input_files.count || col.input_file_lists.count)) {
                if (cal->collection_count)
                    caf_config_problems_add(problems, col.mark, "calibration '%s': collection '%s': no input files",
                                            cal->name, col.name);
                else
                    caf_config_problems_add(problems, cal->mark, "calibration '%s': no input files", cal->name);
            }
            for (size_t f = 0; f < n; f++)
                free(files[f]);
            free(files);
            check_chain(cal->name, &col.database_chain, base_dir, problems);
        }
        check_chain(cal->name, &cal->database_chain, base_dir, problems);
        check_sandbox(cal->name, NULL, &cal->input_sandbox, cal->marks[CAF_CAL_INPUT_SANDBOX].line
                      ? cal->marks[CAF_CAL_INPUT_SANDBOX] : cal->mark, base_dir, problems);
        for (size_t k = 0; k < cal->collection_count; k++) {
            const caf_collection_config *col = cal->collections[k];
            check_sandbox(cal->name, col->name ? col->name : "", &col->input_sandbox,
                          col->marks[CAF_COL_INPUT_SANDBOX].line ? col->marks[CAF_COL_INPUT_SANDBOX] : col->mark,
                          base_dir, problems);
        }
    }
    return problems->count - before;
}

/* splitmix64: a small, well-mixed generator, so the same seed picks the same files on every platform. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A file of the list: its run and its position. */
typedef struct file_at {
    caf_exprun run;
    size_t index;
} file_at;

static int by_run_then_position(const void *a, const void *b)
{
    const file_at *x = a, *y = b;
    int c = caf_exprun_compare(x->run, y->run);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* One run's files: a slice of the sorted list, and where the run first appears in the input. */
typedef struct run_slice {
    size_t first, count, appears;
} run_slice;

static int by_first_appearance(const void *a, const void *b)
{
    const run_slice *x = a, *y = b;
    return (x->appears > y->appears) - (x->appears < y->appears);
}

caf_status caf_select_files_per_run(const caf_exprun *file_runs, size_t count, int max_per_run, uint64_t seed,
                                    bool *keep, caf_error *err)
{
    if (max_per_run < 0)
        return caf_error_set(err, CAF_ERR_INVALID, "max_files_per_run must not be negative, not %d", max_per_run);
    for (size_t i = 0; i < count; i++)
        keep[i] = max_per_run == 0;
    if (max_per_run == 0 || count == 0)
        return CAF_OK;
    file_at *files = malloc(count * sizeof *files);
    run_slice *slices = malloc(count * sizeof *slices);
    if (!files || !slices) {
        free(files);
        free(slices);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory choosing files per run");
    }
    /* Sorting keeps this O(n log n) at 100,000 files (a pass per run was O(files x runs)); the picks are the
     * same as ever: runs in order of first appearance, each run's files in input order, one partial
     * Fisher-Yates shuffle per run, all drawing from one stream. */
    for (size_t i = 0; i < count; i++)
        files[i] = (file_at){file_runs[i], i};
    qsort(files, count, sizeof *files, by_run_then_position);
    size_t n_slices = 0;
    for (size_t i = 0; i < count; i++)
        if (i == 0 || caf_exprun_compare(files[i].run, files[i - 1].run) != 0)
            slices[n_slices++] = (run_slice){.first = i, .appears = files[i].index};
    for (size_t k = 0; k < n_slices; k++)
        slices[k].count = (k + 1 < n_slices ? slices[k + 1].first : count) - slices[k].first;
    qsort(slices, n_slices, sizeof *slices, by_first_appearance);
    uint64_t state = seed;
    for (size_t k = 0; k < n_slices; k++) {
        file_at *group = files + slices[k].first;
        size_t n = slices[k].count, take = (size_t)max_per_run < n ? (size_t)max_per_run : n;
        for (size_t t = 0; t < take; t++) {
            size_t pick = t + (size_t)(next_random(&state) % (n - t));
            file_at tmp = group[t];
            group[t] = group[pick];
            group[pick] = tmp;
            keep[group[t].index] = true;
        }
    }
    free(files);
    free(slices);
    return CAF_OK;
}

/* Checks the server entries of one chain, each distinct entry once (checked holds those done). */
static void check_servers_of(const char *cal, const caf_string_list *chain, bool unreachable_is_problem,
                             caf_string_list *checked, caf_config_problems *problems)
{
    for (size_t d = 0; d < chain->count; d++) {
        if (!caf_dbchain_entry_is_server(chain->items[d]))
            continue;
        bool seen = false;
        for (size_t k = 0; k < checked->count && !seen; k++)
            seen = strcmp(checked->items[k], chain->items[d]) == 0;
        if (seen)
            continue;
        caf_string_list_add(checked, chain->items[d], chain->marks[d], NULL);
        check_server_entry(cal, chain->items[d], chain->marks[d], unreachable_is_problem, problems);
    }
}

size_t caf_campaign_check_servers(const caf_campaign *c, bool unreachable_is_problem, caf_config_problems *problems)
{
    size_t before = problems->count;
    caf_string_list checked = {0};
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_calibration_config *cal = c->calibrations[i];
        for (size_t k = 0; k < cal->collection_count; k++)
            check_servers_of(cal->name, &cal->collections[k]->database_chain, unreachable_is_problem, &checked,
                             problems);
        check_servers_of(cal->name, &cal->database_chain, unreachable_is_problem, &checked, problems);
    }
    for (size_t k = 0; k < checked.count; k++)
        free(checked.items[k]);
    free(checked.items);
    free(checked.marks);
    return problems->count - before;
}
