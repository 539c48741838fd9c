/* The HTTP side of `caf db serve` (caf/gt_server.h): routes basf2's REST paths to the global tag store.
 * Every request is checked before it touches the store: method, path length, strict patterns for every
 * name and checksum (only a checksum becomes part of a file path, in gt_store.c), the token for writes
 * before any body is read, and a body size limit. Malformed requests get a 4xx with a JSON error
 * {code, reason, message}, the shape basf2's client decodes. */
#include "caf/gt_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/gt_store.h"
#include "caf/log.h"

#define URL_MAX 1024
#define SEGMENTS_MAX 8
#define HEADER_MEMORY (64 * 1024) /* per connection: request line and headers must fit (else 431) */

struct caf_gt_server {
    caf_gt_store *store;
    struct MHD_Daemon *daemon;
    char *token;
    char *public_url;
    size_t max_body;
    int port;
};

/* One request in flight: its body so far. */
struct request {
    char *body;
    size_t size, capacity;
    bool too_large;
};

static const char *reason_of(unsigned code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 500: return "Internal Server Error";
    default: return "Error";
    }
}

/* Copies text (a URL, a name from a request) as printable ASCII: '?' for anything else, so it can go
 * into a log line or a JSON string whatever bytes the request held. */
static void printable(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (; text && *text && n + 1 < size; text++)
        out[n++] = (*text >= 0x20 && *text < 0x7f) ? *text : '?';
    out[n] = '\0';
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (!text) {
        code = 500;
        text = strdup("{\"code\":500,\"reason\":\"Internal Server Error\",\"message\":\"out of memory\"}");
        if (!text)
            return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
    char raw[512], message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    printable(raw, message, sizeof message);
    return reply_json(c, code, json_pack("{s:i, s:s, s:s}", "code", (int)code, "reason", reason_of(code), "message",
                                         message));
}

/* A failed store call as its HTTP status; reading an INVALID tag is 410 Gone, writing to a closed one
 * 409 Conflict. */
static enum MHD_Result reply_failure(struct MHD_Connection *c, const caf_error *err, bool reading)
{
    unsigned code = 500;
    switch (err->code) {
    case CAF_ERR_INVALID: code = 400; break;
    case CAF_ERR_NOT_FOUND: code = 404; break;
    case CAF_ERR_EXISTS: code = 409; break;
    case CAF_ERR_STATE: code = reading ? 410 : 409; break;
    default: break;
    }
    if (code == 500)
        caf_log(CAF_LOG_ERROR, "caf db serve: %s", err->message);
    return reply_error(c, code, "%s", err->message);
}

static void client_address(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, size, "?");
    if (info && info->client_addr && info->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)info->client_addr)->sin_addr, out, (socklen_t)size);
}

/* Compares in time independent of where the strings differ. */
static bool token_matches(const char *expected, const char *given)
{
    size_t n = strlen(expected), m = strlen(given);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)expected[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

static bool authorized(const struct caf_gt_server *server, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!server->token || !server->token[0] || !auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    return token_matches(server->token, auth + 7);
}

/* Splits the path after "/" into at most SEGMENTS_MAX segments (in buf); returns the count, -1 when
 * there are too many or one is empty (except a trailing one, as in "v2/iovPayloads/"). */
static int split_path(const char *url, char *buf, size_t size, char **seg)
{
    snprintf(buf, size, "%s", url[0] == '/' ? url + 1 : url);
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '/')
        buf[len - 1] = '\0';
    int n = 0;
    for (char *p = buf; n <= SEGMENTS_MAX;) {
        if (n == SEGMENTS_MAX)
            return -1;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    for (int i = 0; i < n; i++)
        if (!seg[i][0] && !(n == 1))
            return -1;
    return n;
}

/* Parses a decimal int in [-1, INT32_MAX] (a run or experiment number; -1 only where allowed). */
static bool parse_number(const char *text, bool allow_minus_one, int *out)
{
    if (!text || !*text || strlen(text) > 11)
        return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno || v > INT32_MAX || v < (allow_minus_one ? -1 : 0) || (text[0] == '+' || text[0] == ' '))
        return false;
    *out = (int)v;
    return true;
}

static enum MHD_Result serve_iov_payloads(struct caf_gt_server *s, struct MHD_Connection *c)
{
    const char *tag = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "gtName");
    const char *exp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "expNumber");
    const char *run = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "runNumber");
    if (!tag || !caf_gt_name_is_valid(tag))
        return reply_error(c, 400, "gtName is missing or not a valid global tag name");
    caf_exprun r;
    if ((exp == NULL) != (run == NULL))
        return reply_error(c, 400, "expNumber and runNumber go together");
    if (exp && (!parse_number(exp, false, &r.exp) || !parse_number(run, false, &r.run)))
        return reply_error(c, 400, "expNumber and runNumber must be non-negative integers");
    json_t *list;
    caf_error err = {0};
    if (caf_gt_store_iov_payloads(s->store, tag, exp ? &r : NULL, s->public_url, &list, &err) != CAF_OK)
        return reply_failure(c, &err, true);
    return reply_json(c, 200, list);
}

static enum MHD_Result serve_payload_file(struct caf_gt_server *s, struct MHD_Connection *c, const char *checksum)
{
    caf_error err = {0};
    char *path = caf_gt_store_payload_path(s->store, checksum, &err);
    if (!path)
        return reply_failure(c, &err, true);
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", checksum);
    const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *r;
    unsigned code = 200;
    if (match && strstr(match, checksum)) {
        code = 304;
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            if (fd >= 0)
                close(fd);
            free(path);
            return reply_error(c, 500, "payload %s cannot be read", checksum);
        }
        r = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd); /* MHD closes fd */
        if (!r)
            close(fd);
    }
    free(path);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "public, max-age=31536000, immutable");
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result serve_read(struct caf_gt_server *s, struct MHD_Connection *c, char **seg, int n)
{
    caf_error err = {0};
    json_t *value;
    if (n == 2 && strcmp(seg[0], "payloads") == 0)
        return serve_payload_file(s, c, seg[1]);
    if (n < 2 || strcmp(seg[0], "v2") != 0)
        return reply_error(c, 404, "no such resource");
    if (n == 2 && strcmp(seg[1], "globalTags") == 0) {
        if (caf_gt_store_tags(s->store, &value, &err) != CAF_OK)
            return reply_failure(c, &err, true);
        return reply_json(c, 200, value);
    }
    if (n == 2 && strcmp(seg[1], "globalTagStatus") == 0)
        return reply_json(c, 200, json_pack("[{s:s},{s:s},{s:s}]", "name", "OPEN", "name", "PUBLISHED", "name", "INVALID"));
    if (n == 2 && strcmp(seg[1], "globalTagType") == 0)
        return reply_json(c, 200, json_pack("[{s:s},{s:s},{s:s}]", "name", "DEV", "name", "RELEASE", "name", "RUNNING"));
    if (n == 2 && strcmp(seg[1], "iovPayloads") == 0)
        return serve_iov_payloads(s, c);
    if (n == 3 && strcmp(seg[1], "globalTag") == 0) {
        if (caf_gt_store_tag(s->store, seg[2], &value, &err) != CAF_OK)
            return reply_failure(c, &err, true);
        return reply_json(c, 200, value);
    }
    return reply_error(c, 404, "no such resource");
}

/* POST v2/globalTag/TYPE {name, description}: a new OPEN tag. */
static enum MHD_Result create_tag(struct caf_gt_server *s, struct MHD_Connection *c, const char *type, json_t *body)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *description = json_string_value(json_object_get(body, "description"));
    if (!name)
        return reply_error(c, 400, "the body must be a JSON object with a string 'name'");
    json_t *tag;
    caf_error err = {0};
    if (caf_gt_store_tag_create(s->store, name, type, description, &tag, &err) != CAF_OK)
        return reply_failure(c, &err, false);
    return reply_json(c, 201, tag);
}

static bool parse_iov_text(const char *text, caf_iov *iov)
{
    char buf[64], *parts[4];
    if (strlen(text) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", text);
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        char *comma = strchr(p, ',');
        if ((i < 3) != (comma != NULL))
            return false;
        if (comma) {
            *comma = '\0';
            p = comma + 1;
        }
    }
    return parse_number(parts[0], false, &iov->exp_low) && parse_number(parts[1], false, &iov->run_low) &&
           parse_number(parts[2], true, &iov->exp_high) && parse_number(parts[3], true, &iov->run_high);
}

static bool json_number(json_t *object, const char *key, bool allow_minus_one, int *out)
{
    json_t *v = json_object_get(object, key);
    if (!json_is_integer(v))
        return false;
    json_int_t i = json_integer_value(v);
    if (i < (allow_minus_one ? -1 : 0) || i > INT32_MAX)
        return false;
    *out = (int)i;
    return true;
}

/* POST v2/globalTag/NAME/payloadIovs [{payloadId, expStart, runStart, expEnd, runEnd}...]: caf's
 * all-or-nothing IoV creation (caf db push). */
static enum MHD_Result add_iovs(struct caf_gt_server *s, struct MHD_Connection *c, const char *tag, json_t *body)
{
    if (!json_is_array(body))
        return reply_error(c, 400, "the body must be a JSON list of {payloadId, expStart, runStart, expEnd, runEnd}");
    size_t n = json_array_size(body);
    caf_gt_new_iov *iovs = calloc(n ? n : 1, sizeof *iovs);
    if (!iovs)
        return reply_error(c, 500, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(body, i);
        json_t *id = json_object_get(e, "payloadId");
        if (!json_is_integer(id) || !json_number(e, "expStart", false, &iovs[i].iov.exp_low) ||
            !json_number(e, "runStart", false, &iovs[i].iov.run_low) ||
            !json_number(e, "expEnd", true, &iovs[i].iov.exp_high) ||
            !json_number(e, "runEnd", true, &iovs[i].iov.run_high)) {
            free(iovs);
            return reply_error(c, 400, "IoV %zu: needs integer payloadId, expStart, runStart, expEnd, runEnd", i + 1);
        }
        iovs[i].payload_id = json_integer_value(id);
    }
    json_t *ids;
    caf_error err = {0};
    caf_status st = caf_gt_store_iovs_add(s->store, tag, iovs, n, &ids, &err);
    free(iovs);
    if (st != CAF_OK)
        return reply_failure(c, &err, false);
    return reply_json(c, 201, json_pack("{s:o}", "payloadIovIds", ids));
}

static enum MHD_Result serve_write(struct caf_gt_server *s, struct MHD_Connection *c, const char *method, char **seg,
                                   int n, struct request *req)
{
    caf_error err = {0};
    bool post = strcmp(method, "POST") == 0;
    if (n < 2 || strcmp(seg[0], "v2") != 0)
        return reply_error(c, 404, "no such resource");
    /* PUT v2/globalTag/NAME/updateGlobalTagStatus/STATE */
    if (!post && n == 5 && strcmp(seg[1], "globalTag") == 0 && strcmp(seg[3], "updateGlobalTagStatus") == 0) {
        if (caf_gt_store_tag_set_state(s->store, seg[2], seg[4], &err) != CAF_OK)
            return reply_failure(c, &err, false);
        json_t *tag;
        if (caf_gt_store_tag(s->store, seg[2], &tag, &err) != CAF_OK)
            return reply_failure(c, &err, false);
        return reply_json(c, 200, tag);
    }
    if (!post)
        return reply_error(c, 405, "PUT is only served for v2/globalTag/NAME/updateGlobalTagStatus/STATE");
    /* POST v2/package/dbstore/module/NAME/payload?checksum=MD5&ext=EXT, the body is the file */
    if (n == 6 && strcmp(seg[1], "package") == 0 && strcmp(seg[2], "dbstore") == 0 && strcmp(seg[3], "module") == 0 &&
        strcmp(seg[5], "payload") == 0) {
        const char *checksum = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "checksum");
        const char *ext = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ext");
        json_t *payload;
        if (caf_gt_store_payload_add(s->store, seg[4], ext ? ext : "root", checksum, req->body ? req->body : "",
                                     req->size, &payload, &err) != CAF_OK)
            return reply_failure(c, &err, false);
        return reply_json(c, 201, payload);
    }
    /* POST v2/globalTagPayload/TAG,PAYLOADID/payloadIov/E1,R1,E2,R2 (basf2's create_iov) */
    if (n == 5 && strcmp(seg[1], "globalTagPayload") == 0 && strcmp(seg[3], "payloadIov") == 0) {
        char *comma = strrchr(seg[2], ',');
        int payload_id;
        caf_gt_new_iov iov;
        if (!comma || !parse_number(comma + 1, false, &payload_id) || !parse_iov_text(seg[4], &iov.iov))
            return reply_error(c, 400, "expected globalTagPayload/TAG,PAYLOADID/payloadIov/EXP1,RUN1,EXP2,RUN2");
        *comma = '\0';
        iov.payload_id = payload_id;
        json_t *ids;
        if (caf_gt_store_iovs_add(s->store, seg[2], &iov, 1, &ids, &err) != CAF_OK)
            return reply_failure(c, &err, false);
        json_t *reply = json_pack("{s:O}", "payloadIovId", json_array_get(ids, 0));
        json_decref(ids);
        return reply_json(c, 201, reply);
    }
    bool tag_post = n == 3 && strcmp(seg[1], "globalTag") == 0;
    bool iovs_post = n == 4 && strcmp(seg[1], "globalTag") == 0 && strcmp(seg[3], "payloadIovs") == 0;
    if (!tag_post && !iovs_post)
        return reply_error(c, 404, "no such resource");
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->size, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return reply_error(c, 400, "the body is not JSON: %s at line %d", jerr.text, jerr.line);
    enum MHD_Result ok = tag_post ? create_tag(s, c, seg[2], body) : add_iovs(s, c, seg[2], body);
    json_decref(body);
    return ok;
}

static bool is_write(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct caf_gt_server *s = cls;
    struct request *req = *con_cls;
    if (!req) {
        /* first call: only headers are known; refuse what must be refused before reading a body */
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        *con_cls = req;
        bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (!read && !is_write(method))
            return reply_error(c, 405, "method not served");
        if (strlen(url) >= URL_MAX)
            return reply_error(c, 414, "the path is longer than %d bytes", URL_MAX - 1);
        if (is_write(method) && !authorized(s, c)) {
            char who[64], what[161];
            client_address(c, who, sizeof who);
            printable(url, what, sizeof what);
            caf_log(CAF_LOG_WARNING, "caf db serve: refused %s %s from %s: %s", method, what, who,
                    s->token && s->token[0] ? "no valid token" : "the server takes no writes (no token)");
            return reply_error(c, 401, "writes need the server's token (Authorization: Bearer TOKEN)");
        }
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull(length, NULL, 10) > s->max_body)
            return reply_error(c, 413, "the body is larger than %zu bytes", s->max_body);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || n > s->max_body - req->size) {
            req->too_large = true;
            return MHD_YES;
        }
        if (req->size + n + 1 > req->capacity) {
            size_t capacity = req->capacity ? req->capacity : 4096;
            while (capacity < req->size + n + 1)
                capacity *= 2;
            char *grown = realloc(req->body, capacity);
            if (!grown) {
                req->too_large = true;
                return MHD_YES;
            }
            req->body = grown;
            req->capacity = capacity;
        }
        memcpy(req->body + req->size, upload_data, n);
        req->size += n;
        return MHD_YES;
    }
    if (req->too_large)
        return reply_error(c, 413, "the body is larger than %zu bytes", s->max_body);
    char buf[URL_MAX], *seg[SEGMENTS_MAX];
    int n = split_path(url, buf, sizeof buf, seg);
    if (n < 0)
        return reply_error(c, 404, "no such resource");
    return is_write(method) ? serve_write(s, c, method, seg, n, req) : serve_read(s, c, seg, n);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

caf_status caf_gt_server_start(const caf_gt_server_options *o, caf_gt_server **out, caf_error *err)
{
    *out = NULL;
    const char *address = o->address ? o->address : "127.0.0.1";
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (o->port < 0 || o->port > 65535 || inet_pton(AF_INET, address, &sa.sin_addr) != 1)
        return caf_error_set(err, CAF_ERR_INVALID, "cannot listen on %s:%d (an IPv4 address and a port 0-65535)",
                             address, o->port);
    caf_gt_server *s = calloc(1, sizeof *s);
    if (!s)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    s->max_body = o->max_body ? o->max_body : (size_t)64 << 20;
    s->token = o->token && o->token[0] ? strdup(o->token) : NULL;
    caf_status st = caf_gt_store_open(o->store_dir, &s->store, err);
    if (st != CAF_OK) {
        caf_gt_server_stop(s);
        return st;
    }
    unsigned threads = o->threads ? o->threads : 4;
    s->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
                                 MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT,
                                 o->idle_timeout ? o->idle_timeout : 60u,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        caf_gt_server_stop(s);
        return caf_error_set(err, CAF_ERR_IO, "cannot listen on %s:%d (in use, or not an address of this machine)",
                             address, o->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/", address, s->port);
    const char *base = o->public_url && o->public_url[0] ? o->public_url : url;
    size_t len = strlen(base);
    if ((s->public_url = malloc(len + 2)))
        snprintf(s->public_url, len + 2, "%s%s", base, base[len - 1] == '/' ? "" : "/");
    if (!s->public_url || (s->token == NULL && o->token && o->token[0])) {
        caf_gt_server_stop(s);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return CAF_OK;
}

int caf_gt_server_port(const caf_gt_server *server) { return server->port; }

const char *caf_gt_server_url(const caf_gt_server *server) { return server->public_url; }

void caf_gt_server_stop(caf_gt_server *server)
{
    if (!server)
        return;
    if (server->daemon)
        MHD_stop_daemon(server->daemon);
    caf_gt_store_close(server->store);
    free(server->token);
    free(server->public_url);
    free(server);
}
