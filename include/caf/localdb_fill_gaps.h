/* Closing the gaps of a local database (basf2's b2cal-fill-gaps-local): after a campaign, runs that no
 * payload covers (runs without data, or dropped by a strategy) would leave a reconstruction without
 * constants; extending the neighbouring payload's IoV over them, and optionally opening the last IoV of
 * every payload to the end of time, gives complete coverage without new payload files. */
#ifndef CAF_LOCALDB_FILL_GAPS_H
#define CAF_LOCALDB_FILL_GAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"
#include "caf/iov.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a line's IoV changes. */
typedef enum caf_db_iov_change_reason {
    CAF_DB_FILL_GAP,  /* extended up to the run before the next payload of the same name */
    CAF_DB_OPEN_LAST, /* the last IoV of its name, opened to -1,-1 */
} caf_db_iov_change_reason;

/* One line of database.txt whose IoV is (or would be) changed. */
typedef struct caf_db_iov_change {
    char *name;
    char *revision;
    int line; /* 1-based line of database.txt */
    caf_iov before, after;
    caf_db_iov_change_reason reason;
} caf_db_iov_change;

typedef struct caf_db_fill_gaps_options {
    bool open_last; /* also open the IoV that reaches furthest, per name, to -1,-1 */
    bool dry_run;   /* compute and return the changes, write nothing */
} caf_db_fill_gaps_options;

/* Extends IoVs of the database at path so that, per payload name, no run lies uncovered between its
 * first and last payload: across each gap, the line reaching furthest before it is extended to the run
 * before the next payload starts (across experiments too, as basf2 does). Only uncovered runs change
 * their answer: no IoV shrinks and no overlap is created where last-line-wins would pick another
 * payload. database.txt is rewritten atomically under the database's lock, other lines and comments
 * kept byte for byte. *changes (caller frees with caf_db_iov_changes_free) lists the changes in line
 * order; with no change the file is left untouched. */
caf_status caf_localdb_fill_gaps(const char *path, const caf_db_fill_gaps_options *options,
                                 caf_db_iov_change **changes, size_t *n_changes, caf_error *err);

/* Frees the array of changes made by caf_localdb_fill_gaps (NULL is fine). */
void caf_db_iov_changes_free(caf_db_iov_change *changes, size_t n_changes);

#ifdef __cplusplus
}
#endif
#endif
