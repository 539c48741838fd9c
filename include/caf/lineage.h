/* Payload lineage: why a run gets a constant. caf run writes, for every committed execution, one JSON
 * record into the lineage folder of the database its payloads go to (DB/lineage/CAL.iteration_N.
 * algorithm_A.execution_E.json); the final database of a run and caf db merge copy the records of the
 * databases they take payloads from, so a merged database explains every payload. A record names its
 * payloads by name, IoV and content MD5 (a database revision is a prefix of it). Format: docs/lineage.md. */
#ifndef CAF_LINEAGE_H
#define CAF_LINEAGE_H

#include <jansson.h>
#include <stdio.h>

#include "caf/error.h"
#include "caf/file.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_LINEAGE_DIR "lineage"           /* beside database.txt */
#define CAF_LINEAGE_FORMAT "caf-lineage-1" /* the "format" of every record */

/* Copies every lineage record of the database folder src into dst's lineage folder (created when needed,
 * a record of the same name replaced, each copy atomic). A database without records copies nothing. */
caf_status caf_lineage_copy(const char *src_db, const char *dst_db, caf_error *err);

/* caf_lineage_copy with the fsyncs sync names for each record (CAF_ATOMIC_SYNC_NONE: for a folder the caller
 * makes durable whole, e.g. with syncfs before renaming it into place). */
caf_status caf_lineage_copy_with(const char *src_db, const char *dst_db, enum caf_atomic_sync sync, caf_error *err);

/* Why run gets payload name from the database at path (a database folder, or a caf output folder whose
 * database/ is taken): *answer is a new object {"database", "run", "payload": {name, revision, iov, file},
 * "record", "lineage": the record, input files changed since marked "changed": true} (caller decrefs).
 * Fails with one line when path is neither, no payload covers the run (CAF_ERR_NOT_FOUND), or no lineage
 * record explains the payload (a database written before lineage existed, or by caf db add). */
caf_status caf_lineage_why(const char *path, const char *name, caf_exprun run, json_t **answer, caf_error *err);

/* Prints an answer of caf_lineage_why as indented text. */
void caf_lineage_print(FILE *out, const json_t *answer);

#ifdef __cplusplus
}
#endif
#endif
