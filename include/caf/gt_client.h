/* The client of a conditions service (`caf db serve`, or any server speaking the same basf2 REST
 * calls): global tag management, and copying a global tag to and from a local database. libcurl. */
#ifndef CAF_GT_CLIENT_H
#define CAF_GT_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct caf_gt_client caf_gt_client;

/* A client of the service at url (http[s]://host:port/...); token (may be NULL) is sent as
 * "Authorization: Bearer TOKEN" on writes. *out is owned by the caller (caf_gt_client_close). */
caf_status caf_gt_client_open(const char *url, const char *token, caf_gt_client **out, caf_error *err);

/* Frees the client (NULL is fine). */
void caf_gt_client_close(caf_gt_client *client);

/* The JSON list of global tags (v2/globalTags); *tags is owned by the caller. */
caf_status caf_gt_client_tags(caf_gt_client *client, json_t **tags, caf_error *err);

/* One global tag's object (v2/globalTag/NAME); *tag is owned by the caller. */
caf_status caf_gt_client_tag(caf_gt_client *client, const char *name, json_t **tag, caf_error *err);

/* Creates an OPEN global tag of type (DEV, RELEASE, RUNNING). */
caf_status caf_gt_client_tag_create(caf_gt_client *client, const char *name, const char *type,
                                    const char *description, caf_error *err);

/* Moves a global tag to state (PUBLISHED, INVALID). */
caf_status caf_gt_client_tag_set_state(caf_gt_client *client, const char *name, const char *state, caf_error *err);

/* Copies global tag tag into the local database in folder dir (created when missing), in one commit:
 * every IoV in the tag's order, or with limit (may be NULL) only the IoVs overlapping it, cut to it.
 * Every payload's MD5 is checked against its checksum. *count (may be NULL) gets the lines added. */
caf_status caf_gt_client_pull(caf_gt_client *client, const char *tag, const char *dir, const caf_iov *limit,
                              size_t *count, caf_error *err);

/* Uploads the local database in folder db to the OPEN global tag tag: every payload first, then all
 * IoVs in the database's line order in one request the server applies all or nothing, so a failure
 * leaves the tag as it was. *count (may be NULL) gets the IoVs added. */
caf_status caf_gt_client_push(caf_gt_client *client, const char *db, const char *tag, size_t *count, caf_error *err);

/* The answer to v2/iovPayloads/?gtName=tag&expNumber=E&runNumber=R: a JSON list (checked to be one) of
 * {payload, payloadIov} objects, the payloads that apply to run per name. *list is owned by the caller. */
caf_status caf_gt_client_run_payloads(caf_gt_client *client, const char *tag, caf_exprun run, json_t **list,
                                      caf_error *err);

/* Downloads the file of payload (an iovPayloads "payload" object: payloadUrl, baseUrl, checksum) into
 * *data (malloc'd, caller frees), refusing data whose MD5 is not its checksum (CAF_ERR_FORMAT). */
caf_status caf_gt_client_payload_data(caf_gt_client *client, const json_t *payload, char **data, size_t *size,
                                      caf_error *err);

/* The service URL the client was opened with, ending with '/' (owned by client). */
const char *caf_gt_client_url(const caf_gt_client *client);

#ifdef __cplusplus
}
#endif
#endif
