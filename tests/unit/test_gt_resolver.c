/* A global tag resolver (caf/gt_resolver.h) against a hostile server: a loopback HTTP server in the test
 * (the real `caf db serve` never sends such answers, so it cannot play this part) answers with payload
 * bytes that do not match their checksum, names and checksums that try to reach the file system, IoVs
 * without the run, and text that is not JSON. Each is refused with one error naming the tag and the
 * server, nothing reaches the payload cache, and a well-formed answer is then served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caf/file.h"
#include "caf/gt_resolver.h"
#include "caf/hash.h"
#include "caf/payload_cache.h"
#include "test_support.h"

/* What the server answers: the run query's body and the payload file's bytes. */
static const char *run_body;
static const char *payload_body;
static int listener;
static int port;

static void reply(int fd, int code, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, strlen(body));
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
        return;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            return NULL;
        char request[4096] = "";
        size_t got = 0;
        while (got < sizeof request - 1 && !strstr(request, "\r\n\r\n")) {
            ssize_t n = read(fd, request + got, sizeof request - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            request[got] = '\0';
        }
        if (strstr(request, "GET /v2/globalTag/hostile "))
            reply(fd, 200, "{\"name\": \"hostile\", \"globalTagStatus\": {\"name\": \"OPEN\"}}");
        else if (strstr(request, "GET /v2/iovPayloads/"))
            reply(fd, 200, run_body);
        else if (strstr(request, "GET /payloads/"))
            reply(fd, 200, payload_body);
        else
            reply(fd, 404, "{\"code\": 404, \"message\": \"no such resource\"}");
        close(fd);
    }
}

static int setup(void **state)
{
    (void)state;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&a, &len) != 0)
        return -1;
    port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, NULL) != 0)
        return -1;
    pthread_detach(t);
    setenv("CAF_GT_RETRIES", "0", 1);
    return 0;
}

/* An answer of one payload named name with checksum sum and IoV exp 1, runs lo..hi. */
static char *answer(const char *name, const char *sum, int lo, int hi)
{
    char *text = NULL;
    if (asprintf(&text,
                 "[{\"payload\": {\"name\": \"%s\", \"checksum\": \"%s\", \"payloadUrl\": \"payloads/%s\", "
                 "\"baseUrl\": \"http://127.0.0.1:%d/\", \"fileExtension\": \"json\", \"revision\": 1}, "
                 "\"payloadIov\": {\"expStart\": 1, \"runStart\": %d, \"expEnd\": 1, \"runEnd\": %d}}]",
                 name, sum, sum, port, lo, hi) < 0)
        return NULL;
    return text;
}

/* Resolves Gain at run 1,5 in a fresh resolver; the status, and the error in err. */
static caf_status resolve(caf_payload_cache *cache, caf_error *err, char **path)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    const char *urls[] = {url};
    caf_gt_resolver *r;
    assert_int_equal(caf_gt_resolver_open("hostile", urls, 1, cache, &r, err), CAF_OK);
    const caf_db_entry *e;
    *path = NULL;
    caf_status st = caf_gt_resolver_find(r, "Gain", (caf_exprun){1, 5}, &e, path, err);
    caf_gt_resolver_close(r);
    return st;
}

static void test_hostile_answers_refused(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("gt_resolver");
    caf_payload_cache *cache;
    caf_error err = {0};
    assert_int_equal(caf_payload_cache_open(dir, 0, &cache, &err), CAF_OK);
    const char *good = "{\"gain\": 1.5}";
    char sum[CAF_MD5_HEX_SIZE];
    assert_int_equal(caf_md5_hex(good, strlen(good), sum, &err), CAF_OK);
    char *path;

    /* the payload file's bytes are not those of its checksum */
    char *body = answer("Gain", sum, 0, 10);
    run_body = body;
    payload_body = "{\"gain\": 666}";
    assert_int_equal(resolve(cache, &err, &path), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, sum));
    assert_non_null(strstr(err.message, "global tag hostile on http://127.0.0.1:"));
    assert_null(path);
    assert_int_equal(caf_payload_cache_size(cache), 0);
    free(body);

    /* names, checksums and IoVs that are not what they must be */
    const char *bad[][2] = {{"../../etc/passwd", NULL}, {"Gain", "../../../../tmp/x"}, {"Gain", "ABCDEF"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        body = answer(bad[i][0], bad[i][1] ? bad[i][1] : sum, 0, 10);
        run_body = body;
        payload_body = good;
        assert_int_equal(resolve(cache, &err, &path), CAF_ERR_FORMAT);
        assert_non_null(strstr(err.message, "malformed"));
        assert_null(path);
        free(body);
    }
    body = answer("Gain", sum, 7, 10); /* an IoV without run 5 */
    run_body = body;
    assert_int_equal(resolve(cache, &err, &path), CAF_ERR_FORMAT);
    assert_non_null(strstr(err.message, "without the run"));
    free(body);
    const char *garbage[] = {"not json", "{\"a\": 1}", "[1, 2]", "[{\"payload\": null}]"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        run_body = garbage[i];
        assert_int_not_equal(resolve(cache, &err, &path), CAF_OK);
        assert_non_null(strstr(err.message, "127.0.0.1"));
    }
    assert_int_equal(caf_payload_cache_size(cache), 0);

    /* a well-formed answer is served, and its file is the payload */
    body = answer("Gain", sum, 0, 10);
    run_body = body;
    payload_body = good;
    assert_int_equal(resolve(cache, &err, &path), CAF_OK);
    char *data;
    size_t size;
    assert_int_equal(caf_file_read(path, &data, &size, &err), CAF_OK);
    assert_string_equal(data, good);
    free(data);
    free(path);
    free(body);
    caf_payload_cache_close(cache);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_answers_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
