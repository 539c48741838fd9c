/* The conditions service client (caf/gt_client.h) over libcurl: one easy handle per client, reused so
 * the connection stays open across requests.
 *
 * libcurl is loaded with dlopen when the first client opens, not linked: with its TLS and protocol stack
 * it is about 27 shared libraries, which every caf process would otherwise map, and every fork (an
 * algorithm execution, a collector job) would copy and run fork handlers for, although only global-tag
 * lookups and `caf db pull/push/tag` ever make a request. */
#include "caf/gt_client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caf/file.h"
#include "caf/gt_store.h"
#include "caf/hash.h"
#include "caf/localdb.h"

#define REPLY_MAX ((size_t)1 << 30) /* a reply larger than this is refused, not buffered */

struct caf_gt_client {
    CURL *curl;
    char *base;  /* ends with '/' */
    char *token; /* NULL: none */
};

struct buffer {
    char *data;
    size_t size, capacity;
    bool too_large;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *b = userdata;
    size_t n = size * nmemb;
    if (b->too_large || n > REPLY_MAX - b->size) {
        b->too_large = true;
        return 0;
    }
    if (b->size + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 8192;
        while (capacity < b->size + n + 1)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) {
            b->too_large = true;
            return 0;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, ptr, n);
    b->size += n;
    b->data[b->size] = '\0';
    return n;
}

/* The libcurl functions used here, found in the library loaded at the first client. */
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *h);
    void (*easy_reset)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
    void (*slist_free_all)(struct curl_slist *list);
} curl;
static char curl_missing[512]; /* why libcurl could not be used; empty once it is loaded */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* The sonames libcurl 7 and 8 have on Debian (OpenSSL, GnuTLS and NSS builds) and on EL9. */
static const char *const curl_sonames[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl-nss.so.4"};

static void curl_load(void)
{
    void *lib = NULL;
    for (size_t i = 0; !lib && i < sizeof curl_sonames / sizeof *curl_sonames; i++)
        lib = dlopen(curl_sonames[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(curl_missing, sizeof curl_missing, "libcurl cannot be loaded (%s): install libcurl4", dlerror());
        return;
    }
    struct { void **slot; const char *name; } symbols[] = {
        {(void **)&curl.global_init, "curl_global_init"},     {(void **)&curl.easy_init, "curl_easy_init"},
        {(void **)&curl.easy_cleanup, "curl_easy_cleanup"},   {(void **)&curl.easy_reset, "curl_easy_reset"},
        {(void **)&curl.easy_setopt, "curl_easy_setopt"},     {(void **)&curl.easy_perform, "curl_easy_perform"},
        {(void **)&curl.easy_getinfo, "curl_easy_getinfo"},   {(void **)&curl.easy_strerror, "curl_easy_strerror"},
        {(void **)&curl.slist_append, "curl_slist_append"},   {(void **)&curl.slist_free_all, "curl_slist_free_all"},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++)
        if (!(*symbols[i].slot = dlsym(lib, symbols[i].name))) {
            snprintf(curl_missing, sizeof curl_missing, "libcurl has no %s", symbols[i].name);
            return;
        }
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        snprintf(curl_missing, sizeof curl_missing, "libcurl could not be initialised");
}

caf_status caf_gt_client_open(const char *url, const char *token, caf_gt_client **out, caf_error *err)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.200s' is not an http:// or https:// URL", url ? url : "");
    pthread_once(&curl_once, curl_load);
    if (curl_missing[0])
        return caf_error_set(err, CAF_ERR_IO, "%s: %s", url, curl_missing);
    caf_gt_client *c = calloc(1, sizeof *c);
    size_t len = strlen(url);
    if (c)
        c->base = malloc(len + 2);
    if (!c || !c->base || !(c->curl = curl.easy_init()) || (token && token[0] && !(c->token = strdup(token)))) {
        caf_gt_client_close(c);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    snprintf(c->base, len + 2, "%s%s", url, url[len - 1] == '/' ? "" : "/");
    *out = c;
    return CAF_OK;
}

void caf_gt_client_close(caf_gt_client *client)
{
    if (!client)
        return;
    if (client->curl)
        curl.easy_cleanup(client->curl);
    free(client->base);
    free(client->token);
    free(client);
}

/* One request to url (absolute) or base + path; the reply body in *reply (caller frees). A status of 300
 * or more fails with the server's JSON message when it sent one. */
static caf_status request(caf_gt_client *c, const char *method, const char *path, bool absolute, const void *body,
                          size_t size, const char *content_type, struct buffer *reply, caf_error *err)
{
    memset(reply, 0, sizeof *reply);
    size_t n = strlen(c->base) + strlen(path) + 1;
    char *url = malloc(n);
    if (!url)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    snprintf(url, n, "%s%s", absolute ? "" : c->base, path);
    CURL *h = c->curl;
    curl.easy_reset(h);
    curl.easy_setopt(h, CURLOPT_URL, url);
    curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl.easy_setopt(h, CURLOPT_WRITEDATA, reply);
    curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    struct curl_slist *headers = curl.slist_append(NULL, "Accept: application/json");
    char line[512];
    if (strcmp(method, "GET") != 0) {
        curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
        snprintf(line, sizeof line, "Content-Type: %s", content_type ? content_type : "application/json");
        headers = curl.slist_append(headers, line);
        if (c->token) {
            snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
            headers = curl.slist_append(headers, line);
        }
    }
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl.easy_perform(h);
    long code = 0;
    curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl.slist_free_all(headers);
    caf_status st = CAF_OK;
    if (rc != CURLE_OK) {
        st = caf_error_set(err, reply->too_large ? CAF_ERR_FORMAT : CAF_ERR_IO, "%s %s: %s", method, url,
                           reply->too_large ? "the reply is too large" : curl.easy_strerror(rc));
    } else if (code >= 300) {
        json_t *j = reply->data ? json_loads(reply->data, 0, NULL) : NULL;
        const char *message = json_string_value(json_object_get(j, "message"));
        caf_status kind = code == 404 ? CAF_ERR_NOT_FOUND : code == 409 || code == 410 ? CAF_ERR_STATE : CAF_ERR_EXTERNAL;
        st = caf_error_set(err, kind, "%s %s: HTTP %ld%s%s", method, url, code, message ? ": " : "",
                           message ? message : "");
        json_decref(j);
    }
    free(url);
    if (st != CAF_OK) {
        free(reply->data);
        memset(reply, 0, sizeof *reply);
    }
    return st;
}

static caf_status request_json(caf_gt_client *c, const char *method, const char *path, json_t *body,
                               json_t **reply, caf_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    struct buffer b;
    caf_status st = request(c, method, path, false, text, text ? strlen(text) : 0, NULL, &b, err);
    free(text);
    if (st != CAF_OK)
        return st;
    json_error_t jerr;
    json_t *value = json_loadb(b.data ? b.data : "", b.size, 0, &jerr);
    free(b.data);
    if (!value)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s %s%s: the reply is not JSON: %s", method, c->base, path, jerr.text);
    if (reply)
        *reply = value;
    else
        json_decref(value);
    return CAF_OK;
}

static caf_status check_name(const char *name, const char *what, caf_error *err)
{
    if (!caf_gt_name_is_valid(name))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.140s' is not a valid %s name ([A-Za-z0-9_.+-], at most %d)",
                             name ? name : "", what, CAF_GT_NAME_MAX);
    return CAF_OK;
}

caf_status caf_gt_client_tags(caf_gt_client *client, json_t **tags, caf_error *err)
{
    return request_json(client, "GET", "v2/globalTags", NULL, tags, err);
}

caf_status caf_gt_client_tag(caf_gt_client *client, const char *name, json_t **tag, caf_error *err)
{
    if (check_name(name, "global tag", err) != CAF_OK)
        return err ? err->code : CAF_ERR_INVALID;
    char path[256];
    snprintf(path, sizeof path, "v2/globalTag/%s", name);
    return request_json(client, "GET", path, NULL, tag, err);
}

caf_status caf_gt_client_tag_create(caf_gt_client *client, const char *name, const char *type,
                                    const char *description, caf_error *err)
{
    if (check_name(name, "global tag", err) != CAF_OK)
        return err ? err->code : CAF_ERR_INVALID;
    if (!caf_gt_type_is_valid(type))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not a global tag type (DEV, RELEASE, RUNNING)", type);
    char path[64];
    snprintf(path, sizeof path, "v2/globalTag/%s", type);
    json_t *body = json_pack("{s:s, s:s}", "name", name, "description", description ? description : "");
    caf_status st = request_json(client, "POST", path, body, NULL, err);
    json_decref(body);
    return st;
}

caf_status caf_gt_client_tag_set_state(caf_gt_client *client, const char *name, const char *state, caf_error *err)
{
    if (check_name(name, "global tag", err) != CAF_OK)
        return err ? err->code : CAF_ERR_INVALID;
    if (!caf_gt_state_is_valid(state))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not a global tag state", state);
    char path[256];
    snprintf(path, sizeof path, "v2/globalTag/%s/updateGlobalTagStatus/%s", name, state);
    return request_json(client, "PUT", path, NULL, NULL, err);
}

caf_status caf_gt_client_payload_data(caf_gt_client *client, const json_t *payload, char **data, size_t *size,
                                      caf_error *err)
{
    *data = NULL;
    *size = 0;
    const char *checksum = json_string_value(json_object_get(payload, "checksum"));
    const char *url = json_string_value(json_object_get(payload, "payloadUrl"));
    const char *base = json_string_value(json_object_get(payload, "baseUrl"));
    if (!caf_gt_checksum_is_valid(checksum) || !url)
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: the server listed a payload without a valid checksum or payloadUrl",
                             client->base);
    bool absolute = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    char *full = NULL;
    if (!absolute && base) {
        size_t n = strlen(base) + strlen(url) + 2;
        if ((full = malloc(n)))
            snprintf(full, n, "%s%s%s", base, base[0] && base[strlen(base) - 1] == '/' ? "" : "/",
                     url[0] == '/' ? url + 1 : url);
    }
    struct buffer b;
    caf_status st = request(client, "GET", full ? full : url, absolute || full, NULL, 0, NULL, &b, err);
    free(full);
    if (st != CAF_OK)
        return st;
    char actual[CAF_MD5_HEX_SIZE];
    if ((st = caf_md5_hex(b.data ? b.data : "", b.size, actual, err)) == CAF_OK && strcmp(actual, checksum) != 0)
        st = caf_error_set(err, CAF_ERR_FORMAT, "%s: payload %s: the downloaded file's MD5 is %s, not its checksum",
                           client->base, checksum, actual);
    if (st != CAF_OK) {
        free(b.data);
        return st;
    }
    *data = b.data ? b.data : calloc(1, 1);
    *size = b.size;
    return *data ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
}

/* A payload already downloaded in this pull, by checksum. */
struct fetched {
    char checksum[CAF_MD5_HEX_SIZE];
    char *data;
    size_t size;
};

/* The payload file of one iovPayloads entry, downloaded once per checksum and checked against it. */
static caf_status fetch_payload(caf_gt_client *c, json_t *payload, struct fetched **cache, size_t *cached,
                                struct fetched **out, caf_error *err)
{
    const char *checksum = json_string_value(json_object_get(payload, "checksum"));
    for (size_t i = 0; checksum && i < *cached; i++)
        if (strcmp((*cache)[i].checksum, checksum) == 0) {
            *out = &(*cache)[i];
            return CAF_OK;
        }
    char *data;
    size_t size;
    caf_status st = caf_gt_client_payload_data(c, payload, &data, &size, err);
    if (st != CAF_OK)
        return st;
    struct fetched *grown = realloc(*cache, (*cached + 1) * sizeof **cache);
    if (!grown) {
        free(data);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *cache = grown;
    struct fetched *f = &grown[(*cached)++];
    memcpy(f->checksum, checksum, CAF_MD5_HEX_SIZE);
    f->data = data;
    f->size = size;
    *out = f;
    return CAF_OK;
}

caf_status caf_gt_client_run_payloads(caf_gt_client *client, const char *tag, caf_exprun run, json_t **list,
                                      caf_error *err)
{
    *list = NULL;
    if (check_name(tag, "global tag", err) != CAF_OK)
        return err ? err->code : CAF_ERR_INVALID;
    char path[256];
    snprintf(path, sizeof path, "v2/iovPayloads/?gtName=%s&expNumber=%d&runNumber=%d", tag, run.exp, run.run);
    json_t *value;
    caf_status st = request_json(client, "GET", path, NULL, &value, err);
    if (st == CAF_OK && !json_is_array(value)) {
        json_decref(value);
        return caf_error_set(err, CAF_ERR_FORMAT, "%s%s: the reply is not a list", client->base, path);
    }
    if (st == CAF_OK)
        *list = value;
    return st;
}

const char *caf_gt_client_url(const caf_gt_client *client)
{
    return client->base;
}

/* The file extension of a listed payload: caf's fileExtension, else the payloadUrl's, else "root". */
static const char *payload_extension(json_t *payload)
{
    const char *ext = json_string_value(json_object_get(payload, "fileExtension"));
    if (caf_gt_extension_is_valid(ext))
        return ext;
    const char *url = json_string_value(json_object_get(payload, "payloadUrl"));
    const char *dot = url ? strrchr(url, '.') : NULL;
    if (dot && !strchr(dot, '/') && caf_gt_extension_is_valid(dot + 1))
        return dot + 1;
    return "root";
}

caf_status caf_gt_client_pull(caf_gt_client *client, const char *tag, const char *dir, const caf_iov *limit,
                              size_t *count, caf_error *err)
{
    if (count)
        *count = 0;
    if (check_name(tag, "global tag", err) != CAF_OK)
        return err ? err->code : CAF_ERR_INVALID;
    char path[256];
    snprintf(path, sizeof path, "v2/iovPayloads/?gtName=%s", tag);
    json_t *list;
    caf_status st = request_json(client, "GET", path, NULL, &list, err);
    if (st != CAF_OK)
        return st;
    if (!json_is_array(list)) {
        json_decref(list);
        return caf_error_set(err, CAF_ERR_FORMAT, "%s%s: the reply is not a list", client->base, path);
    }
    caf_localdb *db = NULL;
    caf_db_commit *commit = NULL;
    struct fetched *cache = NULL;
    size_t cached = 0, added = 0;
    st = caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, err);
    if (st == CAF_OK)
        st = caf_db_commit_begin(db, &commit, err);
    for (size_t i = 0; st == CAF_OK && i < json_array_size(list); i++) {
        json_t *entry = json_array_get(list, i);
        json_t *payload = json_object_get(entry, "payload"), *iov_json = json_object_get(entry, "payloadIov");
        json_t *module = json_object_get(json_object_get(payload, "basf2Module"), "name");
        const char *name = json_string_value(module ? module : json_object_get(payload, "name"));
        caf_iov iov = {
            (int)json_integer_value(json_object_get(iov_json, "expStart")),
            (int)json_integer_value(json_object_get(iov_json, "runStart")),
            (int)json_integer_value(json_object_get(iov_json, "expEnd")),
            (int)json_integer_value(json_object_get(iov_json, "runEnd")),
        };
        if (!name || caf_iov_validate(iov, err) != CAF_OK) {
            st = caf_error_set(err, CAF_ERR_FORMAT, "global tag %s: entry %zu has no payload name or no valid IoV", tag,
                               i + 1);
            break;
        }
        if (limit) {
            if (!caf_iov_overlaps(iov, *limit))
                continue;
            iov = caf_iov_intersection(iov, *limit);
        }
        struct fetched *f = NULL;
        if ((st = fetch_payload(client, payload, &cache, &cached, &f, err)) == CAF_OK &&
            (st = caf_db_commit_add_bytes(commit, name, payload_extension(payload), f->data, f->size, iov, err)) == CAF_OK)
            added++;
    }
    if (commit) {
        if (st == CAF_OK)
            st = caf_db_commit_finish(commit, err);
        else
            caf_db_commit_abort(commit);
    }
    for (size_t i = 0; i < cached; i++)
        free(cache[i].data);
    free(cache);
    caf_localdb_close(db);
    json_decref(list);
    if (st == CAF_OK && count)
        *count = added;
    return st;
}

/* The extension of a local payload file (after the last '.'; "bin" when there is none). */
static const char *file_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "bin";
}

/* Uploads one payload file (the server keeps one copy per name and content); its id in *id. */
static caf_status upload_payload(caf_gt_client *c, const char *name, const char *file, int64_t *id, caf_error *err)
{
    const char *ext = file_extension(file);
    if (!caf_gt_extension_is_valid(ext))
        return caf_error_set(err, CAF_ERR_INVALID, "%s: the extension '%s' is not [a-z0-9]{1,16}", file, ext);
    char *data;
    size_t size;
    caf_status st = caf_file_read(file, &data, &size, err);
    if (st != CAF_OK)
        return st;
    char checksum[CAF_MD5_HEX_SIZE];
    if ((st = caf_md5_hex(data, size, checksum, err)) == CAF_OK) {
        char path[400];
        snprintf(path, sizeof path, "v2/package/dbstore/module/%s/payload?checksum=%s&ext=%s", name, checksum, ext);
        struct buffer b;
        st = request(c, "POST", path, false, data, size, "application/octet-stream", &b, err);
        json_t *reply = st == CAF_OK ? json_loadb(b.data ? b.data : "", b.size, 0, NULL) : NULL;
        json_t *pid = json_object_get(reply, "payloadId");
        if (st == CAF_OK && !json_is_integer(pid))
            st = caf_error_set(err, CAF_ERR_FORMAT, "uploading %s: the reply names no payloadId", file);
        else if (st == CAF_OK)
            *id = json_integer_value(pid);
        json_decref(reply);
        if (st == CAF_OK)
            free(b.data);
    }
    free(data);
    return st;
}

caf_status caf_gt_client_push(caf_gt_client *client, const char *dbdir, const char *tag, size_t *count, caf_error *err)
{
    if (count)
        *count = 0;
    json_t *info;
    caf_status st = caf_gt_client_tag(client, tag, &info, err);
    if (st != CAF_OK)
        return st;
    const char *state = json_string_value(json_object_get(json_object_get(info, "globalTagStatus"), "name"));
    if (!state || strcmp(state, "OPEN") != 0)
        st = caf_error_set(err, CAF_ERR_STATE, "global tag %s is %s: only OPEN tags take new payloads", tag,
                           state ? state : "in an unknown state");
    json_decref(info);
    if (st != CAF_OK)
        return st;
    caf_localdb *db;
    if ((st = caf_localdb_open(dbdir, 0, &db, err)) != CAF_OK)
        return st;
    size_t n = caf_localdb_entry_count(db);
    for (size_t i = 0; st == CAF_OK && i < n; i++)
        st = check_name(caf_localdb_entry(db, i)->name, "payload", err);
    json_t *iovs = json_array();
    /* the same file under the same name is uploaded once */
    char **uploaded_files = calloc(n ? n : 1, sizeof *uploaded_files);
    int64_t *uploaded_ids = calloc(n ? n : 1, sizeof *uploaded_ids);
    size_t uploaded = 0;
    if (!uploaded_files || !uploaded_ids)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == CAF_OK && i < n; i++) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        char *file = caf_localdb_payload_path(db, e, err);
        if (!file) {
            st = err ? err->code : CAF_ERR_NOT_FOUND;
            break;
        }
        int64_t id = -1;
        for (size_t k = 0; k < uploaded && id < 0; k++)
            if (strcmp(uploaded_files[k], file) == 0)
                id = uploaded_ids[k];
        if (id < 0 && (st = upload_payload(client, e->name, file, &id, err)) == CAF_OK) {
            uploaded_files[uploaded] = file;
            uploaded_ids[uploaded++] = id;
            file = NULL;
        }
        free(file);
        if (st == CAF_OK)
            json_array_append_new(iovs, json_pack("{s:I, s:i, s:i, s:i, s:i}", "payloadId", (json_int_t)id, "expStart",
                                                  e->iov.exp_low, "runStart", e->iov.run_low, "expEnd",
                                                  e->iov.exp_high, "runEnd", e->iov.run_high));
    }
    if (st == CAF_OK) {
        char path[256];
        snprintf(path, sizeof path, "v2/globalTag/%s/payloadIovs", tag);
        st = request_json(client, "POST", path, iovs, NULL, err);
    }
    for (size_t k = 0; k < uploaded; k++)
        free(uploaded_files[k]);
    free(uploaded_files);
    free(uploaded_ids);
    json_decref(iovs);
    caf_localdb_close(db);
    if (st == CAF_OK && count)
        *count = n;
    return st;
}
