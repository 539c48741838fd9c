/* The global tag store behind `caf db serve`: global tags, payloads and IoVs in SQLite
 * (STORE/metadata.sqlite) and payload files in a content-addressed folder (STORE/payloads/XX/MD5),
 * written atomically and never changed once written, so their URLs can be cached forever.
 *
 * A global tag has a type (DEV, RELEASE, RUNNING) and a state: OPEN takes new IoVs; PUBLISHED is
 * immutable; INVALID is kept but refused to clients. States only move OPEN -> PUBLISHED -> INVALID
 * (or OPEN -> INVALID). Payloads belong to no tag (as in basf2): a payload is (name, MD5) with a
 * revision counted per name from 1; an IoV ties a payload to a tag. For one name and run the IoV
 * created last wins, as the last line of a local database.txt does.
 *
 * Names of tags and payloads, types, extensions and checksums are checked against strict patterns
 * before anything else; only checksums (32 lowercase hex digits) ever become part of a file path.
 * All functions are safe to call from several threads at once (one lock around the database). */
#ifndef CAF_GT_STORE_H
#define CAF_GT_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_GT_NAME_MAX 128 /* longest tag or payload name */

typedef struct caf_gt_store caf_gt_store;

/* True if name may name a global tag or a payload: 1-128 of [A-Za-z0-9_.+-], not starting with '.'. */
bool caf_gt_name_is_valid(const char *name);

/* True if text is a payload checksum: exactly 32 lowercase hex digits (an MD5). */
bool caf_gt_checksum_is_valid(const char *text);

/* True if text is a payload file extension: 1-16 of [a-z0-9]. */
bool caf_gt_extension_is_valid(const char *text);

/* True if text is a global tag state (OPEN, PUBLISHED, INVALID). */
bool caf_gt_state_is_valid(const char *text);

/* True if text is a global tag type (DEV, RELEASE, RUNNING). */
bool caf_gt_type_is_valid(const char *text);

/* Opens (creating when missing) the store in folder dir; *out is owned by the caller
 * (caf_gt_store_close). */
caf_status caf_gt_store_open(const char *dir, caf_gt_store **out, caf_error *err);

/* Closes the store (NULL is fine). */
void caf_gt_store_close(caf_gt_store *store);

/* Every global tag as a JSON list of tag objects (basf2's fields: globalTagId, name, description,
 * globalTagType.name, globalTagStatus.name); *tags is owned by the caller. */
caf_status caf_gt_store_tags(caf_gt_store *store, json_t **tags, caf_error *err);

/* One global tag by name, or by id when name is all digits; CAF_ERR_NOT_FOUND when there is none.
 * *tag is owned by the caller. */
caf_status caf_gt_store_tag(caf_gt_store *store, const char *name, json_t **tag, caf_error *err);

/* Creates an OPEN global tag; CAF_ERR_EXISTS when the name is taken, CAF_ERR_INVALID for a bad name or
 * type. *tag (may be NULL) is owned by the caller. */
caf_status caf_gt_store_tag_create(caf_gt_store *store, const char *name, const char *type,
                                   const char *description, json_t **tag, caf_error *err);

/* Moves a tag to state (OPEN -> PUBLISHED -> INVALID, OPEN -> INVALID; the current state again is
 * fine); CAF_ERR_STATE for any other move. */
caf_status caf_gt_store_tag_set_state(caf_gt_store *store, const char *name, const char *state, caf_error *err);

/* Stores a payload file: its MD5 must equal checksum (CAF_ERR_INVALID otherwise, nothing stored). The
 * same (name, checksum) again returns the existing payload. *payload (may be NULL) is the payload
 * object {payloadId, name, revision, checksum, fileExtension, size}, owned by the caller. */
caf_status caf_gt_store_payload_add(caf_gt_store *store, const char *name, const char *ext, const char *checksum,
                                    const void *data, size_t size, json_t **payload, caf_error *err);

/* One IoV to create: the payload's id and its interval. */
typedef struct caf_gt_new_iov {
    int64_t payload_id;
    caf_iov iov;
} caf_gt_new_iov;

/* Adds count IoVs to the OPEN tag, in order, all in one transaction: all are added or none
 * (CAF_ERR_STATE when the tag is not OPEN, CAF_ERR_NOT_FOUND for an unknown payload). *ids (may be NULL)
 * is a JSON list of the new payloadIovIds, owned by the caller. */
caf_status caf_gt_store_iovs_add(caf_gt_store *store, const char *tag, const caf_gt_new_iov *iovs, size_t count,
                                 json_t **ids, caf_error *err);

/* The tag's IoVs as basf2's iovPayloads list ({payload: {...}, payloadIov: {...}} objects; payloadUrl
 * is "payloads/MD5", baseUrl is base_url). With run, only the payload that applies to it per name (the
 * IoV created last); without (NULL), every IoV in creation order. CAF_ERR_NOT_FOUND for an unknown tag,
 * CAF_ERR_STATE for an INVALID one. *list is owned by the caller. */
caf_status caf_gt_store_iov_payloads(caf_gt_store *store, const char *tag, const caf_exprun *run,
                                     const char *base_url, json_t **list, caf_error *err);

/* The path of the payload file with this checksum (malloc'd, caller frees); NULL with
 * CAF_ERR_NOT_FOUND when the store has no such payload or the checksum is malformed. */
char *caf_gt_store_payload_path(caf_gt_store *store, const char *checksum, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
