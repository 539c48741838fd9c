/* A global tag on servers as a database chain entry (caf/gt_resolver.h): failover with back-off, run
 * answers and payload files through the payload cache, offline from the cache when no server answers. */
#include "caf/gt_resolver.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/gt_client.h"
#include "caf/gt_store.h"
#include "caf/log.h"

#define RETRIES_ENV "CAF_GT_RETRIES"
#define BACKOFF_ENV "CAF_GT_BACKOFF"

struct caf_gt_resolver {
    char *tag;
    char **urls;
    caf_gt_client **clients; /* opened on first use */
    size_t url_count;
    caf_payload_cache *cache; /* borrowed */
    char *name;               /* "TAG on URL, URL" */
    char *key;                /* "TAG\nURL\nURL": the cache keys' common part */
    int retries;
    double backoff;
    unsigned seed;
    bool offline, warned_offline;
    char *offline_reason;
    const char *state; /* NULL until known: from a server, or PUBLISHED from the cache */
    json_t *runs;      /* "E.R" -> the run's checked answer */
    json_t *entries;   /* "name/checksum/iov" -> index in entry_list */
    json_t *files;     /* checksum -> its cached file, MD5-checked once by this process */
    caf_db_entry *entry_list;
    size_t entry_count, entry_capacity;
    caf_gt_resolver_stats stats;
};

static int env_int(const char *name, int fallback, int max)
{
    const char *text = getenv(name);
    char *end;
    long v = text && *text ? strtol(text, &end, 10) : -1;
    return text && *text && !*end && v >= 0 && v <= max ? (int)v : fallback;
}

static double env_seconds(const char *name, double fallback)
{
    const char *text = getenv(name);
    char *end;
    double v = text && *text ? strtod(text, &end) : -1;
    return text && *text && !*end && v >= 0 && v <= 600 ? v : fallback;
}

caf_status caf_gt_resolver_open(const char *tag, const char *const *urls, size_t count, caf_payload_cache *cache,
                                caf_gt_resolver **out, caf_error *err)
{
    *out = NULL;
    if (!caf_gt_name_is_valid(tag))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.140s' is not a valid global tag name", tag ? tag : "");
    if (count == 0)
        return caf_error_set(err, CAF_ERR_INVALID, "global tag %s: no server URL", tag);
    for (size_t i = 0; i < count; i++)
        if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0)
            return caf_error_set(err, CAF_ERR_INVALID, "global tag %s: '%.200s' is not an http:// or https:// URL", tag,
                                 urls[i]);
    caf_gt_resolver *r = calloc(1, sizeof *r);
    size_t names = strlen(tag) + 8;
    for (size_t i = 0; i < count; i++)
        names += strlen(urls[i]) + 2;
    bool ok = r && (r->tag = strdup(tag)) && (r->urls = calloc(count, sizeof *r->urls)) &&
              (r->clients = calloc(count, sizeof *r->clients)) && (r->name = malloc(names)) &&
              (r->key = malloc(names)) && (r->runs = json_object()) && (r->entries = json_object()) &&
              (r->files = json_object());
    for (size_t i = 0; ok && i < count; i++)
        ok = (r->urls[r->url_count++] = strdup(urls[i])) != NULL;
    if (!ok) {
        caf_gt_resolver_close(r);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    int n = sprintf(r->name, "%s on ", tag), k = sprintf(r->key, "%s", tag);
    for (size_t i = 0; i < count; i++) {
        n += sprintf(r->name + n, "%s%s", i ? ", " : "", urls[i]);
        k += sprintf(r->key + k, "\n%s", urls[i]);
    }
    r->cache = cache;
    r->retries = env_int(RETRIES_ENV, 3, 20);
    r->backoff = env_seconds(BACKOFF_ENV, 1.0);
    r->seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    *out = r;
    return CAF_OK;
}

void caf_gt_resolver_close(caf_gt_resolver *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->url_count; i++) {
        free(r->urls[i]);
        caf_gt_client_close(r->clients[i]);
    }
    for (size_t i = 0; i < r->entry_count; i++)
        caf_db_entry_clear(&r->entry_list[i]);
    free(r->entry_list);
    free(r->urls);
    free(r->clients);
    free(r->tag);
    free(r->name);
    free(r->key);
    free(r->offline_reason);
    json_decref(r->runs);
    json_decref(r->entries);
    json_decref(r->files);
    free(r);
}

const char *caf_gt_resolver_name(const caf_gt_resolver *r)
{
    return r->name;
}

caf_gt_resolver_stats caf_gt_resolver_get_stats(const caf_gt_resolver *r)
{
    return r->stats;
}

/* One call to one server; CAF_ERR_IO and CAF_ERR_EXTERNAL (no connection, 5xx) let the next server try. */
typedef caf_status (*server_call)(caf_gt_client *client, void *arg, caf_error *err);

static bool try_next(caf_status st)
{
    return st == CAF_ERR_IO || st == CAF_ERR_EXTERNAL;
}

/* call on each server in order, in rounds separated by a random back-off, until one answers. */
static caf_status with_servers(caf_gt_resolver *r, server_call call, void *arg, caf_error *err)
{
    if (r->offline)
        return caf_error_set(err, CAF_ERR_IO, "global tag %s: server unreachable: %s", r->name, r->offline_reason);
    caf_error last = {0};
    for (int round = 0; round <= r->retries; round++) {
        if (round > 0 && r->backoff > 0) {
            /* basf2's Downloader waits a random 1 to 2^try times its back-off factor */
            double factor = 1 + (double)rand_r(&r->seed) / RAND_MAX * ((double)(1u << (round < 10 ? round : 10)) - 1);
            double wait = factor * r->backoff;
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        for (size_t i = 0; i < r->url_count; i++) {
            caf_status st = CAF_OK;
            if (!r->clients[i])
                st = caf_gt_client_open(r->urls[i], NULL, &r->clients[i], &last);
            if (st == CAF_OK)
                st = call(r->clients[i], arg, &last);
            if (st == CAF_OK)
                return CAF_OK;
            if (!try_next(st)) {
                if (err)
                    *err = last;
                return st;
            }
        }
    }
    r->offline = true;
    free(r->offline_reason);
    r->offline_reason = strdup(last.message);
    return caf_error_set(err, CAF_ERR_IO, "global tag %s: server unreachable (%d round%s of tries): %s", r->name,
                         r->retries + 1, r->retries ? "s" : "", last.message);
}

struct tag_call {
    const char *tag;
    json_t *answer;
};

static caf_status call_tag(caf_gt_client *client, void *arg, caf_error *err)
{
    struct tag_call *c = arg;
    return caf_gt_client_tag(client, c->tag, &c->answer, err);
}

/* The cache key of the tag object, or of one run's answer. */
static char *cache_key(const caf_gt_resolver *r, const caf_exprun *run)
{
    char *key = NULL;
    int n = run ? asprintf(&key, "gt-run\n%s\n%d\n%d", r->key, run->exp, run->run)
                : asprintf(&key, "gt-tag\n%s", r->key);
    if (n < 0)
        return NULL;
    return key;
}

static const char *known_state(const char *state)
{
    static const char *const states[] = {"OPEN", "PUBLISHED", "INVALID"};
    for (size_t i = 0; state && i < 3; i++)
        if (strcmp(state, states[i]) == 0)
            return states[i];
    return NULL;
}

caf_status caf_gt_resolver_check_tag(caf_gt_resolver *r, const char **state, caf_error *err)
{
    struct tag_call call = {r->tag, NULL};
    caf_status st = with_servers(r, call_tag, &call, err);
    if (st == CAF_ERR_NOT_FOUND)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "global tag %s does not exist", r->name);
    if (st != CAF_OK)
        return st;
    const char *found = known_state(json_string_value(json_object_get(json_object_get(call.answer, "globalTagStatus"), "name")));
    if (!found)
        st = caf_error_set(err, CAF_ERR_FORMAT, "global tag %s: the server's answer has no known state", r->name);
    else if (strcmp(found, "INVALID") == 0)
        st = caf_error_set(err, CAF_ERR_STATE, "global tag %s is INVALID", r->name);
    char *key = cache_key(r, NULL);
    if (st == CAF_OK && key) {
        json_t *keep = json_pack("{s:s}", "state", found);
        caf_error ignored = {0};
        if (keep)
            caf_payload_cache_put_meta(r->cache, key, keep, &ignored);
        json_decref(keep);
    }
    free(key);
    json_decref(call.answer);
    if (st == CAF_OK) {
        r->state = found;
        if (state)
            *state = found;
    }
    return st;
}

/* The payload name, checksum and extension of one answer item, checked; false when anything is wrong. */
static bool item_fields(json_t *item, const char **name, const char **checksum, const char **ext, caf_iov *iov)
{
    json_t *payload = json_object_get(item, "payload"), *i = json_object_get(item, "payloadIov");
    json_t *module = json_object_get(json_object_get(payload, "basf2Module"), "name");
    *name = json_string_value(module ? module : json_object_get(payload, "name"));
    *checksum = json_string_value(json_object_get(payload, "checksum"));
    *ext = json_string_value(json_object_get(payload, "fileExtension"));
    if (!*ext) {
        /* basf2's servers name no extension: their payload files are ROOT files */
        const char *url = json_string_value(json_object_get(payload, "payloadUrl"));
        const char *dot = url ? strrchr(url, '.') : NULL;
        *ext = dot && !strchr(dot, '/') && caf_gt_extension_is_valid(dot + 1) ? dot + 1 : "root";
    }
    const char *keys[] = {"expStart", "runStart", "expEnd", "runEnd"};
    int v[4];
    for (int k = 0; k < 4; k++) {
        json_t *x = json_object_get(i, keys[k]);
        if (!json_is_integer(x) || json_integer_value(x) < -1 || json_integer_value(x) > 2147483647)
            return false;
        v[k] = (int)json_integer_value(x);
    }
    *iov = (caf_iov){v[0], v[1], v[2], v[3]};
    caf_error ignored = {0};
    return caf_gt_name_is_valid(*name) && caf_gt_checksum_is_valid(*checksum) && caf_gt_extension_is_valid(*ext) &&
           caf_iov_validate(*iov, &ignored) == CAF_OK && json_is_string(json_object_get(payload, "payloadUrl"));
}

/* A run's answer is a list of well-formed items whose IoVs contain the run. */
static caf_status check_answer(const caf_gt_resolver *r, json_t *list, caf_exprun run, caf_error *err)
{
    if (!json_is_array(list))
        return caf_error_set(err, CAF_ERR_FORMAT, "global tag %s: the answer for run %d,%d is not a list", r->name,
                             run.exp, run.run);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *name, *checksum, *ext;
        caf_iov iov;
        if (!item_fields(item, &name, &checksum, &ext, &iov))
            return caf_error_set(err, CAF_ERR_FORMAT,
                                 "global tag %s: run %d,%d: answer item %zu is malformed (payload name, checksum, "
                                 "extension, payloadUrl or IoV)", r->name, run.exp, run.run, i + 1);
        if (!caf_iov_contains_exprun(iov, run))
            return caf_error_set(err, CAF_ERR_FORMAT, "global tag %s: run %d,%d: payload '%s' has an IoV without the run",
                                 r->name, run.exp, run.run, name);
    }
    return CAF_OK;
}

struct run_call {
    const char *tag;
    caf_exprun run;
    json_t *answer;
};

static caf_status call_run(caf_gt_client *client, void *arg, caf_error *err)
{
    struct run_call *c = arg;
    return caf_gt_client_run_payloads(client, c->tag, c->run, &c->answer, err);
}

/* A cached answer that passes the same checks as a server's; NULL when there is none. */
static json_t *cached_answer(caf_gt_resolver *r, const char *key, caf_exprun run)
{
    json_t *v = NULL;
    caf_error ignored = {0};
    if (caf_payload_cache_get_meta(r->cache, key, &v, &ignored) != CAF_OK)
        return NULL;
    if (check_answer(r, v, run, &ignored) != CAF_OK) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The run's answer (borrowed from r->runs): memory, then the cache for a PUBLISHED tag, then the servers,
 * then the cache when no server answers. */
static caf_status run_answer(caf_gt_resolver *r, caf_exprun run, json_t **out, caf_error *err)
{
    char memo[32];
    snprintf(memo, sizeof memo, "%d.%d", run.exp, run.run);
    if ((*out = json_object_get(r->runs, memo)))
        return CAF_OK;
    char *key = cache_key(r, &run), *tag_key = cache_key(r, NULL);
    if (!key || !tag_key) {
        free(key);
        free(tag_key);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    json_t *answer = NULL;
    caf_status st = CAF_OK;
    if (!r->state) {
        /* a PUBLISHED tag cannot change: what the cache says about it is trusted without asking */
        json_t *tag = NULL;
        caf_error ignored = {0};
        if (caf_payload_cache_get_meta(r->cache, tag_key, &tag, &ignored) == CAF_OK &&
            known_state(json_string_value(json_object_get(tag, "state"))) &&
            strcmp(json_string_value(json_object_get(tag, "state")), "PUBLISHED") == 0)
            r->state = known_state("PUBLISHED");
        json_decref(tag);
    }
    if (!r->state && !r->offline)
        st = caf_gt_resolver_check_tag(r, NULL, err);
    if (st == CAF_OK && r->state && strcmp(r->state, "PUBLISHED") == 0 && (answer = cached_answer(r, key, run)))
        r->stats.runs_from_cache++;
    if (!answer && st == CAF_OK && !r->offline) {
        struct run_call call = {r->tag, run, NULL};
        st = with_servers(r, call_run, &call, err);
        if (st == CAF_OK && (st = check_answer(r, call.answer, run, err)) == CAF_OK) {
            caf_error ignored = {0};
            caf_payload_cache_put_meta(r->cache, key, call.answer, &ignored);
            answer = call.answer;
            r->stats.runs_from_server++;
        } else {
            json_decref(call.answer);
        }
    }
    if (!answer && r->offline) {
        /* no server answers: an OPEN tag's cached answer is the best there is */
        if ((answer = cached_answer(r, key, run))) {
            st = CAF_OK;
            r->stats.runs_from_cache++;
            if (!r->warned_offline)
                caf_log(CAF_LOG_WARNING, "global tag %s: no server answers (%s): using the payload cache %s", r->name,
                        r->offline_reason ? r->offline_reason : "offline", caf_payload_cache_dir(r->cache));
            r->warned_offline = true;
        } else {
            st = caf_error_set(err, CAF_ERR_IO, "global tag %s: no server answers (%s) and run %d,%d is not in the "
                               "payload cache %s", r->name, r->offline_reason ? r->offline_reason : "offline",
                               run.exp, run.run, caf_payload_cache_dir(r->cache));
        }
    }
    free(key);
    free(tag_key);
    if (st != CAF_OK || !answer) {
        json_decref(answer);
        return st != CAF_OK ? st : caf_error_set(err, CAF_ERR_IO, "global tag %s: no answer", r->name);
    }
    json_object_set_new(r->runs, memo, answer);
    *out = answer;
    return CAF_OK;
}

/* The entry for an answer item, made once per (name, checksum, IoV). */
static const caf_db_entry *entry_for(caf_gt_resolver *r, const char *name, const char *checksum, caf_iov iov,
                                     caf_error *err)
{
    char memo[CAF_GT_NAME_MAX + 128];
    snprintf(memo, sizeof memo, "%s/%s/%d,%d,%d,%d", name, checksum, iov.exp_low, iov.run_low, iov.exp_high,
             iov.run_high);
    json_t *known = json_object_get(r->entries, memo);
    if (known)
        return &r->entry_list[json_integer_value(known)];
    if (r->entry_count == r->entry_capacity) {
        size_t capacity = r->entry_capacity ? r->entry_capacity * 2 : 16;
        caf_db_entry *grown = realloc(r->entry_list, capacity * sizeof *grown);
        if (!grown) {
            caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            return NULL;
        }
        r->entry_list = grown;
        r->entry_capacity = capacity;
    }
    caf_db_entry *e = &r->entry_list[r->entry_count];
    *e = (caf_db_entry){strdup(name), strdup(checksum), iov, 0};
    if (!e->name || !e->revision || json_object_set_new(r->entries, memo, json_integer((json_int_t)r->entry_count))) {
        caf_db_entry_clear(e);
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->entry_count++;
    return e;
}

struct payload_call {
    json_t *payload;
    char *data;
    size_t size;
};

static caf_status call_payload(caf_gt_client *client, void *arg, caf_error *err)
{
    struct payload_call *c = arg;
    return caf_gt_client_payload_data(client, c->payload, &c->data, &c->size, err);
}

caf_status caf_gt_resolver_find(caf_gt_resolver *r, const char *name, caf_exprun run, const caf_db_entry **entry,
                                char **path, caf_error *err)
{
    *entry = NULL;
    *path = NULL;
    json_t *answer;
    caf_status st = run_answer(r, run, &answer, err);
    if (st == CAF_ERR_NOT_FOUND)
        return err ? (err->code = CAF_ERR_INVALID) : CAF_ERR_INVALID; /* the tag, not the payload, is missing */
    if (st != CAF_OK)
        return st;
    json_t *found = NULL;
    const char *checksum = NULL, *ext = NULL;
    caf_iov iov = {0};
    size_t i;
    json_t *item;
    json_array_foreach(answer, i, item) {
        const char *n, *c, *x;
        caf_iov v;
        if (item_fields(item, &n, &c, &x, &v) && strcmp(n, name) == 0) {
            found = item; /* the server lists one per name; should it list more, the last wins */
            checksum = c, ext = x, iov = v;
        }
    }
    if (!found)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "global tag %s has no payload '%s' for run %d,%d", r->name, name,
                             run.exp, run.run);
    const caf_db_entry *e = entry_for(r, name, checksum, iov, err);
    if (!e)
        return CAF_ERR_NOMEM;
    /* A job asks for the same payload at run after run: the cache checks the file's MD5 on a hit, so the
     * file is taken from the cache (and checked) once per process, then reused. */
    const char *known = json_string_value(json_object_get(r->files, checksum));
    caf_error miss = {0};
    char *file = known ? strdup(known) : caf_payload_cache_get(r->cache, checksum, ext, &miss);
    if (known && !file)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (file) {
        r->stats.payload_hits++;
    } else {
        struct payload_call call = {json_object_get(found, "payload"), NULL, 0};
        st = with_servers(r, call_payload, &call, err);
        if (st == CAF_OK && !(file = caf_payload_cache_put(r->cache, checksum, ext, call.data, call.size, err)))
            st = err ? err->code : CAF_ERR_IO;
        free(call.data);
        if (st != CAF_OK)
            return caf_error_prefix(err, "payload '%s' (%s) of global tag %s: ", name, checksum, r->name);
        r->stats.payload_downloads++;
    }
    if (!known && json_object_set_new(r->files, checksum, json_string(file)) != 0) {
        free(file);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *entry = e;
    *path = file;
    return CAF_OK;
}
