/* caf db serve in process (caf/gt_server.h) with its client (caf/gt_client.h) and store
 * (caf/gt_store.h): a random local database pushed to a tag answers every run as the local database
 * does, and pulls back line for line; tag states move one way; and a few thousand mutated raw HTTP
 * requests never crash the server, never get a 500, and leave it serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/gt_client.h"
#include "caf/gt_server.h"
#include "caf/gt_store.h"
#include "caf/hash.h"
#include "caf/localdb.h"
#include "test_support.h"

#define TOKEN "unit-token-42"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned next_random(unsigned bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % bound);
}

struct fixture {
    char *dir;
    caf_gt_server *server;
    caf_gt_client *client;
    char url[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir("gt_server");
    char *store = caf_path_join(f->dir, "store");
    caf_gt_server_options o = {.store_dir = store, .port = 0, .token = TOKEN, .threads = 2, .max_body = 1 << 20,
                            .idle_timeout = 1};
    caf_error err = {0};
    assert_int_equal(caf_gt_server_start(&o, &f->server, &err), CAF_OK);
    free(store);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/", caf_gt_server_port(f->server));
    assert_int_equal(caf_gt_client_open(f->url, TOKEN, &f->client, &err), CAF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    caf_gt_client_close(f->client);
    caf_gt_server_stop(f->server);
    test_remove_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static const char *const names[] = {"Gains", "T0", "BeamSpot"};

/* A random database: overlapping IoVs, open ends, payload contents reused across lines. */
static char *random_database(const char *dir)
{
    char *path = caf_path_join(dir, "local");
    caf_localdb *db;
    caf_error err = {0};
    assert_int_equal(caf_localdb_open(path, CAF_LOCALDB_CREATE, &db, &err), CAF_OK);
    caf_db_commit *commit;
    assert_int_equal(caf_db_commit_begin(db, &commit, &err), CAF_OK);
    for (int i = 0; i < 60; i++) {
        int e1 = (int)next_random(3), e2 = e1 + (int)next_random(2);
        int r1 = (int)next_random(20), r2 = next_random(5) == 0 ? -1 : r1 + (int)next_random(10);
        if (e2 > e1 && r2 >= 0)
            r2 = (int)next_random(20);
        char content[32];
        snprintf(content, sizeof content, "{\"v\": %u}\n", next_random(12));
        caf_iov iov = {e1, r1, e2, r2};
        assert_int_equal(caf_db_commit_add_bytes(commit, names[next_random(3)], "json", content, strlen(content), iov,
                                                 &err),
                         CAF_OK);
    }
    assert_int_equal(caf_db_commit_finish(commit, &err), CAF_OK);
    caf_localdb_close(db);
    return path;
}

static void test_push_answers_as_local_database(void **state)
{
    struct fixture *f = *state;
    caf_error err = {0};
    char *local = random_database(f->dir);
    assert_int_equal(caf_gt_client_tag_create(f->client, "rand", "DEV", "random", &err), CAF_OK);
    size_t count;
    assert_int_equal(caf_gt_client_push(f->client, local, "rand", &count, &err), CAF_OK);
    assert_int_equal(count, 60);

    /* every run's answer through the store equals the local lookup */
    caf_gt_store *store;
    char *store_dir = caf_path_join(f->dir, "store");
    assert_int_equal(caf_gt_store_open(store_dir, &store, &err), CAF_OK);
    caf_localdb *db;
    assert_int_equal(caf_localdb_open(local, 0, &db, &err), CAF_OK);
    for (int e = 0; e <= 4; e++) {
        for (int r = 0; r <= 32; r++) {
            caf_exprun run = {e, r};
            json_t *list;
            assert_int_equal(caf_gt_store_iov_payloads(store, "rand", &run, "http://x/", &list, &err), CAF_OK);
            for (int n = 0; n < 3; n++) {
                const caf_db_entry *entry = caf_localdb_find(db, names[n], run);
                json_t *found = NULL, *item;
                size_t i;
                json_array_foreach(list, i, item) {
                    if (strcmp(json_string_value(json_object_get(json_object_get(item, "payload"), "name")), names[n]) == 0)
                        found = item;
                }
                assert_int_equal(entry != NULL, found != NULL);
                if (!entry)
                    continue;
                char *file = caf_localdb_payload_path(db, entry, &err);
                char md5[CAF_MD5_HEX_SIZE];
                assert_int_equal(caf_md5_file_hex(file, md5, &err), CAF_OK);
                free(file);
                assert_string_equal(json_string_value(json_object_get(json_object_get(found, "payload"), "checksum")), md5);
                json_t *iov = json_object_get(found, "payloadIov");
                assert_int_equal(json_integer_value(json_object_get(iov, "expStart")), entry->iov.exp_low);
                assert_int_equal(json_integer_value(json_object_get(iov, "runStart")), entry->iov.run_low);
                assert_int_equal(json_integer_value(json_object_get(iov, "expEnd")), entry->iov.exp_high);
                assert_int_equal(json_integer_value(json_object_get(iov, "runEnd")), entry->iov.run_high);
            }
            json_decref(list);
        }
    }
    caf_localdb_close(db);
    caf_gt_store_close(store);
    free(store_dir);

    /* a pull writes the same database.txt */
    char *pulled = caf_path_join(f->dir, "pulled");
    assert_int_equal(caf_gt_client_pull(f->client, "rand", pulled, NULL, &count, &err), CAF_OK);
    assert_int_equal(count, 60);
    char *a = test_read_file(local, "database.txt"), *b = test_read_file(pulled, "database.txt");
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(pulled);
    free(local);
}

static void test_tag_states_move_one_way(void **state)
{
    struct fixture *f = *state;
    caf_error err = {0};
    assert_int_equal(caf_gt_client_tag_create(f->client, "t", "RELEASE", NULL, &err), CAF_OK);
    assert_int_equal(caf_gt_client_tag_create(f->client, "t", "DEV", NULL, &err), CAF_ERR_STATE);
    assert_int_equal(caf_gt_client_tag_create(f->client, "u", "NOTATYPE", NULL, &err), CAF_ERR_INVALID);
    assert_int_equal(caf_gt_client_tag_set_state(f->client, "t", "PUBLISHED", &err), CAF_OK);
    assert_int_equal(caf_gt_client_tag_set_state(f->client, "t", "OPEN", &err), CAF_ERR_STATE);
    assert_int_equal(caf_gt_client_tag_set_state(f->client, "t", "INVALID", &err), CAF_OK);
    assert_int_equal(caf_gt_client_tag_set_state(f->client, "t", "PUBLISHED", &err), CAF_ERR_STATE);
    json_t *tag;
    assert_int_equal(caf_gt_client_tag(f->client, "t", &tag, &err), CAF_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(tag, "globalTagStatus"), "name")), "INVALID");
    json_decref(tag);
    char *pulled = caf_path_join(f->dir, "nothing");
    assert_int_equal(caf_gt_client_pull(f->client, "t", pulled, NULL, NULL, &err), CAF_ERR_STATE);
    free(pulled);
    /* the client without the token */
    caf_gt_client *anonymous;
    assert_int_equal(caf_gt_client_open(f->url, NULL, &anonymous, &err), CAF_OK);
    assert_int_equal(caf_gt_client_tag_create(anonymous, "v", "DEV", NULL, &err), CAF_ERR_EXTERNAL);
    assert_non_null(strstr(err.message, "HTTP 401"));
    caf_gt_client_close(anonymous);
}

static void test_name_patterns(void **state)
{
    (void)state;
    assert_true(caf_gt_name_is_valid("Gain_v1.2+x-y"));
    assert_false(caf_gt_name_is_valid(""));
    assert_false(caf_gt_name_is_valid(".hidden"));
    assert_false(caf_gt_name_is_valid("a/b"));
    assert_false(caf_gt_name_is_valid("a b"));
    assert_false(caf_gt_name_is_valid("caf\xc3\xa9"));
    char long_name[CAF_GT_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(caf_gt_name_is_valid(long_name));
    long_name[CAF_GT_NAME_MAX] = '\0';
    assert_true(caf_gt_name_is_valid(long_name));
    assert_true(caf_gt_checksum_is_valid("0123456789abcdef0123456789abcdef"));
    assert_false(caf_gt_checksum_is_valid("0123456789ABCDEF0123456789abcdef"));
    assert_false(caf_gt_checksum_is_valid("0123456789abcdef0123456789abcde"));
    assert_false(caf_gt_checksum_is_valid("0123456789abcdef0123456789abcdef0"));
    assert_false(caf_gt_extension_is_valid("../x"));
    assert_true(caf_gt_extension_is_valid("root"));
}

/* True once reply holds one whole response (headers and Content-Length bytes of body; no body for
 * HEAD and 304), so that requests the server waits to see the end of do not cost a timeout each. */
static bool reply_complete(const char *reply, size_t got, bool head)
{
    const char *end = strstr(reply, "\r\n\r\n");
    if (!end)
        return false;
    if (head || strncmp(reply + 9, "304", 3) == 0)
        return true;
    const char *length = strcasestr(reply, "\r\nContent-Length:");
    if (!length || length > end)
        return false;
    size_t body = strtoul(length + 17, NULL, 10);
    return got >= (size_t)(end + 4 - reply) + body;
}

/* Sends raw bytes on a new connection, closes the sending side, reads the reply (up to size - 1). */
static size_t raw_request(int port, const char *data, size_t n, char *reply, size_t size)
{
    bool head = strncmp(data, "HEAD", 4) == 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t sent = 0;
    while (sent < n) {
        ssize_t w = send(fd, data + sent, n - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early, e.g. after refusing the headers */
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, reply + got, size - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        reply[got] = '\0';
        if (got == size - 1 || reply_complete(reply, got, head))
            break;
    }
    reply[got] = '\0';
    close(fd);
    return got;
}

static const char *const seeds[] = {
    "GET /v2/iovPayloads/?gtName=fuzz&expNumber=1&runNumber=5 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v2/globalTag/fuzz HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"abc\"\r\n\r\n",
    "GET /v2/globalTags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "HEAD /v2/globalTagStatus HTTP/1.0\r\n\r\n",
    "GET /payloads/9b7029e81ffcb23d0e1060c8080e9455 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v2/iovPayloads/?gtName=fuzz HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /v2/globalTag/DEV HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\nContent-Type: "
    "application/json\r\nContent-Length: 33\r\n\r\n{\"name\":\"f1\",\"description\":\"d\"}",
    "POST /v2/globalTag/fuzz/payloadIovs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\nContent-Length: "
    "70\r\n\r\n[{\"payloadId\":1,\"expStart\":0,\"runStart\":0,\"expEnd\":-1,\"runEnd\":-1}]",
    "POST /v2/package/dbstore/module/Fz/payload?checksum=9b7029e81ffcb23d0e1060c8080e9455&ext=json HTTP/1.1\r\n"
    "Host: x\r\nAuthorization: Bearer " TOKEN "\r\nContent-Length: 14\r\n\r\n{\"gain\": 1.5}\n",
    "POST /v2/globalTagPayload/fuzz,1/payloadIov/1,0,1,-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
    "\r\nContent-Length: 0\r\n\r\n",
    "PUT /v2/globalTag/f1/updateGlobalTagStatus/PUBLISHED HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
    "\r\nContent-Length: 0\r\n\r\n",
    "POST /v2/globalTag/DEV HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer " TOKEN
    "\r\n\r\n5\r\n{\"nam\r\n0\r\n\r\n",
};

static const char *const splices[] = {"%00", "%2F..%2F", "/../", "\r\n", "\0", "?", "&", "=", ",", "-1", "99999999999",
                                      "\xff\xfe", "%", "[", "{", "\"", "Content-Length: 99999999999\r\n", " ", "\r\n\r\n"};

struct fuzzer;
static unsigned next_random_in(struct fuzzer *z, unsigned bound);

/* One mutation of a seed: byte flips, splices of tokens that parsers trip on, cuts and repeats. */
static size_t mutate(struct fuzzer *z, const char *seed, char *out, size_t size)
{
    size_t n = strlen(seed);
    memcpy(out, seed, n);
    unsigned rounds = 1 + next_random_in(z, 4);
    for (unsigned k = 0; k < rounds && n > 0; k++) {
        size_t at = next_random_in(z, (unsigned)n);
        switch (next_random_in(z, 5)) {
        case 0: out[at] = (char)next_random_in(z, 256); break;
        case 1: { /* splice a token */
            const char *s = splices[next_random_in(z, sizeof splices / sizeof *splices)];
            size_t len = s[0] ? strlen(s) : 1;
            if (n + len < size) {
                memmove(out + at + len, out + at, n - at);
                memcpy(out + at, s, len);
                n += len;
            }
            break;
        }
        case 2: { /* delete a stretch */
            size_t len = 1 + next_random_in(z, 8);
            if (at + len > n)
                len = n - at;
            memmove(out + at, out + at + len, n - at - len);
            n -= len;
            break;
        }
        case 3: n = at; break; /* cut */
        case 4: {              /* repeat a stretch many times */
            size_t len = 1 + next_random_in(z, 16), times = 1 + next_random_in(z, 200);
            if (at + len > n)
                len = n - at;
            for (size_t t = 0; t < times && n + len < size; t++) {
                memmove(out + at + len, out + at, n - at);
                n += len;
            }
            break;
        }
        }
    }
    return n;
}

struct fuzzer {
    int port;
    uint64_t seed;
    unsigned answered, closed, bad;
};

static unsigned next_random_in(struct fuzzer *z, unsigned bound)
{
    z->seed ^= z->seed << 13;
    z->seed ^= z->seed >> 7;
    z->seed ^= z->seed << 17;
    return (unsigned)(z->seed % bound);
}

static int status_of(const char *reply)
{
    int code = 0;
    if (sscanf(reply, "HTTP/1.%*d %d", &code) != 1)
        return 0;
    return code;
}

#define FUZZ_THREADS 8
#define FUZZ_REQUESTS 3000

/* One thread's share of the mutated requests; cmocka's asserts are not thread-safe, so failures are
 * counted and printed here and asserted on in the test. */
static void *fuzz_thread(void *arg)
{
    struct fuzzer *z = arg;
    char *request = malloc(1 << 16), *reply = malloc(1 << 16);
    for (int i = 0; i < FUZZ_REQUESTS / FUZZ_THREADS; i++) {
        size_t n = mutate(z, seeds[next_random_in(z, sizeof seeds / sizeof *seeds)], request, (1 << 16) - 256);
        /* end the headers and pad a cut body, so most requests are complete and get an answer */
        memcpy(request + n, "\r\n\r\n", 4);
        n += 4;
        memset(request + n, '\n', 96);
        n += 96;
        raw_request(z->port, request, n, reply, 1 << 16);
        int code = status_of(reply);
        if (code == 0) {
            z->closed++; /* the server may close a connection whose request line it cannot parse */
            continue;
        }
        z->answered++;
        bool bad = code == 500 || code < 200 || code >= 600;
        /* a 4xx from caf carries a JSON error with the same code */
        const char *body = strstr(reply, "\r\n\r\n");
        if (code >= 400 && code < 500 && body && body[4] == '{') {
            json_t *j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL); /* pipelined replies may follow */
            bad |= json_integer_value(json_object_get(j, "code")) != code;
            json_decref(j);
        }
        if (bad) {
            z->bad++;
            fprintf(stderr, "bad answer to:\n%.*s\n---\n%.2000s\n", (int)n, request, reply);
        }
    }
    free(request);
    free(reply);
    return NULL;
}

static void test_fuzzed_requests(void **state)
{
    struct fixture *f = *state;
    caf_error err = {0};
    assert_int_equal(caf_gt_client_tag_create(f->client, "fuzz", "DEV", NULL, &err), CAF_OK);
    struct fuzzer z[FUZZ_THREADS];
    pthread_t threads[FUZZ_THREADS];
    for (int t = 0; t < FUZZ_THREADS; t++) {
        z[t] = (struct fuzzer){.port = caf_gt_server_port(f->server), .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1)};
        assert_int_equal(pthread_create(&threads[t], NULL, fuzz_thread, &z[t]), 0);
    }
    unsigned answered = 0, closed = 0, bad = 0;
    for (int t = 0; t < FUZZ_THREADS; t++) {
        pthread_join(threads[t], NULL);
        answered += z[t].answered, closed += z[t].closed, bad += z[t].bad;
    }
    fprintf(stderr, "fuzz: %u answered, %u closed without an answer\n", answered, closed);
    assert_int_equal(bad, 0);
    assert_true(answered > FUZZ_REQUESTS / 2);
    /* still serving */
    json_t *tag;
    assert_int_equal(caf_gt_client_tag(f->client, "fuzz", &tag, &err), CAF_OK);
    json_decref(tag);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_patterns),
        cmocka_unit_test_setup_teardown(test_push_answers_as_local_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_states_move_one_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzzed_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
