/* Database chains: first entry with a matching payload wins; entries are local databases or global tags
 * on servers (caf/dbchain.h). */
#include "caf/dbchain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/gt_store.h"
#include "caf/log.h"
#include "caf/payload_cache.h"

struct caf_dbchain {
    caf_localdb **databases;    /* NULL where the entry is a server */
    caf_gt_resolver **resolvers; /* NULL where the entry is a local database */
    size_t count;
    caf_payload_cache *cache; /* opened with the first server entry */
    bool find_warned;         /* caf_dbchain_find met a server entry and said so */
};

bool caf_dbchain_entry_is_server(const char *entry)
{
    return entry && strncmp(entry, CAF_DBCHAIN_SERVER_PREFIX, strlen(CAF_DBCHAIN_SERVER_PREFIX)) == 0;
}

static bool must_encode(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '%' || c == ':' || c == ',' || c == '@';
}

char *caf_dbchain_server_entry(const char *tag, const char *const *urls, size_t count)
{
    size_t size = strlen(CAF_DBCHAIN_SERVER_PREFIX) + strlen(tag) + 2;
    for (size_t i = 0; i < count; i++)
        size += 3 * strlen(urls[i]) + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    size_t n = (size_t)sprintf(text, "%s%s@", CAF_DBCHAIN_SERVER_PREFIX, tag);
    for (size_t i = 0; i < count; i++) {
        if (i)
            text[n++] = ',';
        for (const unsigned char *p = (const unsigned char *)urls[i]; *p; p++)
            n += must_encode(*p) ? (size_t)sprintf(text + n, "%%%02X", *p) : (text[n] = (char)*p, 1);
    }
    text[n] = '\0';
    return text;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes n bytes of percent-encoded text; NULL when malformed or out of memory. */
static char *decode(const char *text, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; out && i < n; i++) {
        if (text[i] != '%') {
            out[k++] = text[i];
            continue;
        }
        int hi = i + 2 < n ? hex_value(text[i + 1]) : -1, lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[k++] = (char)(hi * 16 + lo);
        i += 2;
    }
    if (out)
        out[k] = '\0';
    return out;
}

void caf_dbchain_server_free(char *tag, char **urls, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(urls[i]);
    free(urls);
    free(tag);
}

caf_status caf_dbchain_server_parse(const char *entry, char **tag, char ***urls, size_t *count, caf_error *err)
{
    *tag = NULL;
    *urls = NULL;
    *count = 0;
    if (!caf_dbchain_entry_is_server(entry))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.200s' is not a server entry", entry ? entry : "");
    const char *name = entry + strlen(CAF_DBCHAIN_SERVER_PREFIX), *at = strchr(name, '@');
    if (!at || at == name || (size_t)(at - name) > CAF_GT_NAME_MAX || !at[1] || entry[strlen(entry) - 1] == ',')
        return caf_error_set(err, CAF_ERR_INVALID, "'%.200s' is not globaltag=NAME@URL[,URL...]", entry);
    char *t = strndup(name, (size_t)(at - name));
    char **list = calloc(strlen(at) + 1, sizeof *list);
    size_t n = 0;
    caf_status st = t && list ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (st == CAF_OK && !caf_gt_name_is_valid(t))
        st = caf_error_set(err, CAF_ERR_INVALID, "'%.200s': '%s' is not a valid global tag name", entry, t);
    for (const char *p = at + 1; st == CAF_OK && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *url = decode(p, len);
        if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
            st = caf_error_set(err, CAF_ERR_INVALID, "'%.200s': '%.*s' is not an http:// or https:// URL", entry,
                               (int)(len > 200 ? 200 : len), p);
            free(url);
            break;
        }
        list[n++] = url;
        p = end ? end + 1 : p + len;
    }
    if (st != CAF_OK) {
        caf_dbchain_server_free(t, list, n);
        return st;
    }
    *tag = t;
    *urls = list;
    *count = n;
    return CAF_OK;
}

static caf_status open_server(caf_dbchain *chain, const char *entry, caf_gt_resolver **out, caf_error *err)
{
    char *tag, **urls;
    size_t count;
    caf_status st = caf_dbchain_server_parse(entry, &tag, &urls, &count, err);
    if (st == CAF_OK && !chain->cache)
        st = caf_payload_cache_open_default(&chain->cache, err);
    if (st == CAF_OK)
        st = caf_gt_resolver_open(tag, (const char *const *)urls, count, chain->cache, out, err);
    if (tag)
        caf_dbchain_server_free(tag, urls, count);
    return st;
}

char *caf_dbchain_entry_describe(const char *entry)
{
    char *tag, **urls, *text = NULL;
    size_t count, size = 0;
    caf_error ignored = {0};
    if (caf_dbchain_server_parse(entry, &tag, &urls, &count, &ignored) != CAF_OK)
        return strdup(entry ? entry : "");
    FILE *f = open_memstream(&text, &size);
    if (f) {
        fprintf(f, "global tag %s on ", tag);
        for (size_t i = 0; i < count; i++)
            fprintf(f, "%s%s", i ? ", " : "", urls[i]);
        if (fclose(f) != 0) {
            free(text);
            text = NULL;
        }
    }
    caf_dbchain_server_free(tag, urls, count);
    return text;
}

caf_status caf_dbchain_open(const char *const *paths, size_t count, caf_dbchain **out, caf_error *err)
{
    *out = NULL;
    caf_dbchain *chain = calloc(1, sizeof *chain);
    if (!chain || !(chain->databases = calloc(count ? count : 1, sizeof *chain->databases)) ||
        !(chain->resolvers = calloc(count ? count : 1, sizeof *chain->resolvers))) {
        caf_dbchain_close(chain);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        caf_status rc = caf_dbchain_entry_is_server(paths[i])
                            ? open_server(chain, paths[i], &chain->resolvers[i], err)
                            : caf_localdb_open(paths[i], 0, &chain->databases[i], err);
        if (rc != CAF_OK) {
            caf_dbchain_close(chain);
            return rc;
        }
        chain->count++;
    }
    *out = chain;
    return CAF_OK;
}

caf_status caf_dbchain_open_text(const char *text, caf_dbchain **out, caf_error *err)
{
    char *copy = strdup(text ? text : "");
    const char **paths = copy ? calloc(strlen(copy) / 2 + 2, sizeof *paths) : NULL;
    size_t n = 0;
    if (!paths) {
        free(copy);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    for (char *save = NULL, *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save))
        paths[n++] = p;
    caf_status st = caf_dbchain_open(paths, n, out, err);
    free(paths);
    free(copy);
    return st;
}

void caf_dbchain_close(caf_dbchain *chain)
{
    if (!chain)
        return;
    for (size_t i = 0; i < chain->count; i++) {
        caf_localdb_close(chain->databases[i]);
        caf_gt_resolver_close(chain->resolvers[i]);
    }
    free(chain->databases);
    free(chain->resolvers);
    caf_payload_cache_close(chain->cache);
    free(chain);
}

size_t caf_dbchain_size(const caf_dbchain *chain)
{
    return chain->count;
}

caf_localdb *caf_dbchain_database(const caf_dbchain *chain, size_t i)
{
    return i < chain->count ? chain->databases[i] : NULL;
}

caf_gt_resolver *caf_dbchain_resolver(const caf_dbchain *chain, size_t i)
{
    return i < chain->count ? chain->resolvers[i] : NULL;
}

const caf_db_entry *caf_dbchain_find(const caf_dbchain *chain, const char *name, caf_exprun r,
                                     caf_localdb **where)
{
    for (size_t i = 0; i < chain->count; i++) {
        /* A server entry may hold the payload that applies: answering from a later local database would
         * hand out a constant of lower priority without a word, so the search ends here. */
        if (!chain->databases[i]) {
            if (!chain->find_warned)
                caf_log(CAF_LOG_WARNING, "database chain entry %zu is the global tag %s, which caf_dbchain_find "
                        "cannot read: payloads after it are not looked up (the module must use "
                        "caf_dbchain_lookup)", i + 1, caf_gt_resolver_name(chain->resolvers[i]));
            /* said once per chain; every chain is caf_dbchain_open's malloc'd object, so the flag may
             * change behind the const that the lookup-only API promises */
            ((caf_dbchain *)chain)->find_warned = true;
            break;
        }
        const caf_db_entry *e = caf_localdb_find(chain->databases[i], name, r);
        if (e) {
            if (where)
                *where = chain->databases[i];
            return e;
        }
    }
    if (where)
        *where = NULL;
    return NULL;
}

caf_status caf_dbchain_lookup(caf_dbchain *chain, const char *name, caf_exprun r, caf_dbchain_match *match,
                              caf_error *err)
{
    memset(match, 0, sizeof *match);
    for (size_t i = 0; i < chain->count; i++) {
        if (chain->databases[i]) {
            const caf_db_entry *e = caf_localdb_find(chain->databases[i], name, r);
            if (!e)
                continue;
            char *path = caf_localdb_payload_path(chain->databases[i], e, err);
            if (!path)
                return err ? err->code : CAF_ERR_NOT_FOUND;
            *match = (caf_dbchain_match){e, chain->databases[i], i, path};
            return CAF_OK;
        }
        const caf_db_entry *e;
        char *path;
        caf_error miss = {0};
        caf_status st = caf_gt_resolver_find(chain->resolvers[i], name, r, &e, &path, &miss);
        if (st == CAF_ERR_NOT_FOUND)
            continue;
        if (st != CAF_OK) {
            if (err)
                *err = miss;
            return st;
        }
        *match = (caf_dbchain_match){e, NULL, i, path};
        return CAF_OK;
    }
    return caf_error_set(err, CAF_ERR_NOT_FOUND, "no payload '%s' for run %d,%d in the database chain", name, r.exp,
                         r.run);
}

void caf_dbchain_match_clear(caf_dbchain_match *match)
{
    free(match->path);
    memset(match, 0, sizeof *match);
}
