/* caf db serve under load: a global tag of 1,000 runs x 5 payload names (run-by-run IoVs over a default
 * IoV per name) pushed from a local database, then CLIENTS concurrent clients (default 200), each with
 * its own keep-alive connection, resolving REQUESTS random runs each through v2/iovPayloads and
 * downloading one of the listed payload files. Every answer is compared with the local database's
 * lookup for that run (name, IoV, MD5 of the file) and every file's bytes with its checksum; any
 * difference fails the benchmark. Reported: requests/s with CLIENTS clients against one client in the
 * same run (the baseline), and the push time.
 *
 * Then the client side: CLIENTS concurrent jobs (threads, each with its own database chain naming the tag,
 * all sharing one payload cache folder) look up every name at REQUESTS random runs each through
 * caf_dbchain_lookup, three times: with a cold cache, with the warm cache (OPEN tag: run answers asked
 * again, payload files from the cache), and after the tag is PUBLISHED (run answers from the cache too).
 * Every match (IoV, MD5 of the cached file) is compared with the local database's lookup. Reported per
 * pass: lookups/s, requests sent to the server, and the payload and metadata cache hit rates.
 *
 * usage: bench_gt_serve [CLIENTS [REQUESTS_PER_CLIENT]] */
#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caf/dbchain.h"
#include "caf/file.h"
#include "caf/gt_client.h"
#include "caf/gt_server.h"
#include "caf/hash.h"
#include "caf/localdb.h"
#include "caf/payload_cache.h"

#define RUNS 1000
#define NAMES 5

/* Seconds on the monotonic clock. */
static double now(void)
{
    struct timespec ts;
    return clock_gettime(CLOCK_MONOTONIC, &ts) == 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 : 0.0;
}

/* Ends the benchmark: a failure is never a result. */
static void die(const char *what, const caf_error *err)
{
    fprintf(stderr, "bench_gt_serve: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

/* What the local database answers for one run and name. */
struct expected {
    char checksum[CAF_MD5_HEX_SIZE];
    caf_iov iov;
};

static struct expected expected[RUNS][NAMES];
static char server_url[64];

static void build_database(const char *dir)
{
    caf_localdb *db;
    caf_error err = {0};
    if (caf_localdb_open(dir, CAF_LOCALDB_CREATE, &db, &err) != CAF_OK)
        die("open", &err);
    caf_db_commit *commit;
    if (caf_db_commit_begin(db, &commit, &err) != CAF_OK)
        die("commit", &err);
    char content[96];
    for (int n = 0; n < NAMES; n++) {
        snprintf(content, sizeof content, "{\"name\": %d, \"default\": true}\n", n);
        caf_iov always = {0, 0, -1, -1};
        char name[16];
        snprintf(name, sizeof name, "Payload%d", n);
        if (caf_db_commit_add_bytes(commit, name, "json", content, strlen(content), always, &err) != CAF_OK)
            die("add", &err);
    }
    /* every 7th run keeps the default */
    for (int r = 0; r < RUNS; r++) {
        if (r % 7 == 0)
            continue;
        for (int n = 0; n < NAMES; n++) {
            snprintf(content, sizeof content, "{\"name\": %d, \"run\": %d, \"value\": %.3f}\n", n, r, 1.0 + r * 1e-3);
            caf_iov iov = {1, r, 1, r};
            char name[16];
            snprintf(name, sizeof name, "Payload%d", n);
            if (caf_db_commit_add_bytes(commit, name, "json", content, strlen(content), iov, &err) != CAF_OK)
                die("add", &err);
        }
    }
    if (caf_db_commit_finish(commit, &err) != CAF_OK)
        die("commit", &err);
    for (int r = 0; r < RUNS; r++)
        for (int n = 0; n < NAMES; n++) {
            char name[16];
            snprintf(name, sizeof name, "Payload%d", n);
            const caf_db_entry *e = caf_localdb_find(db, name, (caf_exprun){1, r});
            char *file = e ? caf_localdb_payload_path(db, e, &err) : NULL;
            if (!file || caf_md5_file_hex(file, expected[r][n].checksum, &err) != CAF_OK)
                die("expected answer", &err);
            expected[r][n].iov = e->iov;
            free(file);
        }
    caf_localdb_close(db);
}

struct buffer {
    char *data;
    size_t size;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *b = userdata;
    char *grown = realloc(b->data, b->size + size * nmemb + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->size, ptr, size * nmemb);
    b->size += size * nmemb;
    b->data[b->size] = '\0';
    return size * nmemb;
}

struct client {
    int requests;
    uint64_t rng;
    long done, wrong;
};

static bool get(CURL *h, const char *url, struct buffer *b)
{
    b->size = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    long code = 0;
    return curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
           code == 200;
}

/* Checks one iovPayloads answer against the local database; downloads and checks one payload file. */
static bool check_run(CURL *h, int run, unsigned pick, struct buffer *b)
{
    char url[160];
    snprintf(url, sizeof url, "%sv2/iovPayloads/?gtName=bench&expNumber=1&runNumber=%d", server_url, run);
    if (!get(h, url, b))
        return false;
    json_t *list = json_loadb(b->data, b->size, 0, NULL);
    bool ok = json_array_size(list) == NAMES;
    char file_url[256] = "";
    char file_sum[CAF_MD5_HEX_SIZE] = "";
    for (size_t i = 0; ok && i < NAMES; i++) {
        json_t *p = json_object_get(json_array_get(list, i), "payload");
        json_t *iov = json_object_get(json_array_get(list, i), "payloadIov");
        int n = -1;
        sscanf(json_string_value(json_object_get(p, "name")) ? json_string_value(json_object_get(p, "name")) : "",
               "Payload%d", &n);
        const char *sum = json_string_value(json_object_get(p, "checksum"));
        ok = n >= 0 && n < NAMES && sum && strcmp(sum, expected[run][n].checksum) == 0 &&
             json_integer_value(json_object_get(iov, "expStart")) == expected[run][n].iov.exp_low &&
             json_integer_value(json_object_get(iov, "runStart")) == expected[run][n].iov.run_low &&
             json_integer_value(json_object_get(iov, "expEnd")) == expected[run][n].iov.exp_high &&
             json_integer_value(json_object_get(iov, "runEnd")) == expected[run][n].iov.run_high;
        if (ok && i == pick % NAMES) {
            snprintf(file_url, sizeof file_url, "%s%s", json_string_value(json_object_get(p, "baseUrl")),
                     json_string_value(json_object_get(p, "payloadUrl")));
            snprintf(file_sum, sizeof file_sum, "%s", sum);
        }
    }
    json_decref(list);
    if (!ok || !get(h, file_url, b))
        return false;
    char md5[CAF_MD5_HEX_SIZE];
    return caf_md5_hex(b->data, b->size, md5, NULL) == CAF_OK && strcmp(md5, file_sum) == 0;
}

static void *client_thread(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct buffer b = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    for (int i = 0; i < c->requests; i++) {
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 7;
        c->rng ^= c->rng << 17;
        if (check_run(h, (int)(c->rng % RUNS), (unsigned)(c->rng >> 32), &b))
            c->done += 2;
        else
            c->wrong++;
    }
    free(b.data);
    curl_easy_cleanup(h);
    return NULL;
}

/* requests/s with count clients doing per_client runs each; exits on any wrong answer. */
static double load(int count, int per_client)
{
    struct client *clients = calloc((size_t)count, sizeof *clients);
    pthread_t *threads = calloc((size_t)count, sizeof *threads);
    double t0 = now();
    for (int i = 0; i < count; i++) {
        clients[i] = (struct client){.requests = per_client, .rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        if (pthread_create(&threads[i], NULL, client_thread, &clients[i]) != 0)
            die("pthread_create", NULL);
    }
    long done = 0, wrong = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        done += clients[i].done;
        wrong += clients[i].wrong;
    }
    double seconds = now() - t0;
    free(clients);
    free(threads);
    if (wrong) {
        fprintf(stderr, "bench_gt_serve: %ld answers differ from the local database (or failed)\n", wrong);
        exit(1);
    }
    return (double)done / seconds;
}

/* One job of the client passes: its own chain (the server entry), runs resolved one after another. */
struct job {
    const char *entry;
    int runs;
    uint64_t rng;
    long lookups, wrong;
    caf_gt_resolver_stats stats;
    char error[256];
};

static void *job_thread(void *arg)
{
    struct job *j = arg;
    caf_dbchain *chain;
    caf_error err = {0};
    if (caf_dbchain_open(&j->entry, 1, &chain, &err) != CAF_OK) {
        snprintf(j->error, sizeof j->error, "%s", err.message);
        j->wrong++;
        return NULL;
    }
    for (int i = 0; i < j->runs; i++) {
        j->rng ^= j->rng << 13;
        j->rng ^= j->rng >> 7;
        j->rng ^= j->rng << 17;
        int run = (int)(j->rng % RUNS);
        for (int n = 0; n < NAMES; n++) {
            char name[16], md5[CAF_MD5_HEX_SIZE];
            snprintf(name, sizeof name, "Payload%d", n);
            caf_dbchain_match m;
            bool ok = caf_dbchain_lookup(chain, name, (caf_exprun){1, run}, &m, &err) == CAF_OK &&
                      caf_iov_equal(m.entry->iov, expected[run][n].iov) &&
                      caf_md5_file_hex(m.path, md5, &err) == CAF_OK && strcmp(md5, expected[run][n].checksum) == 0;
            if (!ok && !j->error[0])
                snprintf(j->error, sizeof j->error, "run %d %s: %s", run, name, err.message);
            j->wrong += !ok;
            j->lookups++;
            caf_dbchain_match_clear(&m);
        }
    }
    j->stats = caf_gt_resolver_get_stats(caf_dbchain_resolver(chain, 0));
    caf_dbchain_close(chain);
    return NULL;
}

/* One pass of count jobs over runs runs each; prints its figures; exits on any wrong answer. */
static void client_pass(const char *what, const char *entry, int count, int runs, uint64_t seed)
{
    struct job *jobs = calloc((size_t)count, sizeof *jobs);
    pthread_t *threads = calloc((size_t)count, sizeof *threads);
    double t0 = now();
    for (int i = 0; i < count; i++) {
        jobs[i] = (struct job){.entry = entry, .runs = runs, .rng = seed * (uint64_t)(i + 1)};
        if (pthread_create(&threads[i], NULL, job_thread, &jobs[i]) != 0)
            die("pthread_create", NULL);
    }
    long lookups = 0, wrong = 0;
    caf_gt_resolver_stats total = {0};
    const char *first_error = NULL;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        lookups += jobs[i].lookups;
        wrong += jobs[i].wrong;
        if (jobs[i].error[0] && !first_error)
            first_error = jobs[i].error;
        total.runs_from_server += jobs[i].stats.runs_from_server;
        total.runs_from_cache += jobs[i].stats.runs_from_cache;
        total.payload_hits += jobs[i].stats.payload_hits;
        total.payload_downloads += jobs[i].stats.payload_downloads;
    }
    double seconds = now() - t0;
    if (wrong) {
        fprintf(stderr, "bench_gt_serve: %ld lookups through the client differ from the local database (first: %s)\n",
                wrong, first_error ? first_error : "?");
        exit(1);
    }
    size_t payloads = total.payload_hits + total.payload_downloads, answers = total.runs_from_server + total.runs_from_cache;
    printf("bench_gt_serve: client, %s: %d jobs x %d runs x %d names: %.0f lookups/s, %zu requests to the server "
           "(%.0f requests/s), payload cache hit rate %.1f%%, run-answer cache hit rate %.1f%%, every answer equal "
           "to the local database\n",
           what, count, runs, NAMES, (double)lookups / seconds, total.runs_from_server + total.payload_downloads,
           (double)(total.runs_from_server + total.payload_downloads) / seconds,
           payloads ? 100.0 * (double)total.payload_hits / (double)payloads : 0.0,
           answers ? 100.0 * (double)total.runs_from_cache / (double)answers : 0.0);
    free(jobs);
    free(threads);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    int clients = argc > 1 ? atoi(argv[1]) : 200;
    int per_client = argc > 2 ? atoi(argv[2]) : 50;
    char dir[] = "/tmp/bench_gt_serve.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    char *local = caf_path_join(dir, "local"), *store = caf_path_join(dir, "store");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    build_database(local);
    caf_gt_server_options o = {.store_dir = store, .token = "bench", .threads = 4};
    caf_gt_server *server;
    caf_error err = {0};
    if (caf_gt_server_start(&o, &server, &err) != CAF_OK)
        die("server", &err);
    snprintf(server_url, sizeof server_url, "%s", caf_gt_server_url(server));
    caf_gt_client *client;
    if (caf_gt_client_open(server_url, "bench", &client, &err) != CAF_OK ||
        caf_gt_client_tag_create(client, "bench", "DEV", NULL, &err) != CAF_OK)
        die("tag", &err);
    double t0 = now();
    size_t pushed;
    if (caf_gt_client_push(client, local, "bench", &pushed, &err) != CAF_OK)
        die("push", &err);
    double push_seconds = now() - t0;
    caf_gt_client_close(client);

    double one = load(1, clients * per_client / 10 > 500 ? 500 : clients * per_client / 10 + 1);
    double many = load(clients, per_client);
    printf("bench_gt_serve: push of %zu IoVs (%d runs x %d names): %.2f s\n", pushed, RUNS, NAMES, push_seconds);
    printf("bench_gt_serve: 1 client: %.0f requests/s (baseline)\n", one);
    printf("bench_gt_serve: %d concurrent clients x %d runs (iovPayloads + one payload file each, every answer equal to "
           "the local database): %.0f requests/s, %.2fx the baseline\n",
           clients, per_client, many, many / one);

    /* the client side, through database chains and one shared payload cache */
    char *cache = caf_path_join(dir, "cache");
    setenv(CAF_PAYLOAD_CACHE_ENV, cache, 1);
    const char *urls[] = {server_url};
    char *entry = caf_dbchain_server_entry("bench", urls, 1);
    client_pass("cold cache", entry, clients, per_client, 0x2545f4914f6cdd1dull);
    client_pass("warm cache, OPEN tag", entry, clients, per_client, 0x2545f4914f6cdd1dull);
    if (caf_gt_client_open(server_url, "bench", &client, &err) != CAF_OK ||
        caf_gt_client_tag_set_state(client, "bench", "PUBLISHED", &err) != CAF_OK)
        die("publish", &err);
    caf_gt_client_close(client);
    client_pass("warm cache, PUBLISHED tag (cached tag state)", entry, clients, per_client, 0x2545f4914f6cdd1dull);
    free(entry);
    free(cache);
    caf_gt_server_stop(server);
    free(local);
    free(store);
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) /* no shell: the path never meets one */
        fprintf(stderr, "bench_gt_serve: could not remove %s\n", dir);
    curl_global_cleanup();
    return 0;
}
