/* `caf db serve`: the HTTP conditions service over a global tag store (caf/gt_store.h), speaking the
 * subset of basf2's conditions database REST API listed in docs/conditions-service.md. Built on
 * libmicrohttpd with a thread pool; TLS is left to a reverse proxy. */
#ifndef CAF_GT_SERVER_H
#define CAF_GT_SERVER_H

#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_gt_server_options {
    const char *store_dir;  /* the store's folder (created when missing) */
    const char *address;    /* IPv4 address to listen on; NULL: 127.0.0.1 */
    int port;               /* 0: any free port (read it with caf_gt_server_port) */
    const char *token;      /* writes need "Authorization: Bearer TOKEN"; NULL or "": all writes refused */
    const char *public_url; /* baseUrl given to clients for payload files; NULL: http://ADDRESS:PORT/ */
    unsigned threads;       /* worker threads; 0: 4 */
    size_t max_body;        /* largest request body in bytes; 0: 64 MiB */
    unsigned idle_timeout;  /* seconds a connection may stay idle (or a request incomplete); 0: 60 */
} caf_gt_server_options;

typedef struct caf_gt_server caf_gt_server;

/* Opens the store and starts serving in background threads; *out is owned by the caller
 * (caf_gt_server_stop). */
caf_status caf_gt_server_start(const caf_gt_server_options *options, caf_gt_server **out, caf_error *err);

/* The port the server listens on. */
int caf_gt_server_port(const caf_gt_server *server);

/* The baseUrl the server gives clients (owned by the server). */
const char *caf_gt_server_url(const caf_gt_server *server);

/* Stops serving, waits for the worker threads and frees the server (NULL is fine). */
void caf_gt_server_stop(caf_gt_server *server);

#ifdef __cplusplus
}
#endif
#endif
