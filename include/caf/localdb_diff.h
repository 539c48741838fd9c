/* The differences between two local conditions databases (`caf db diff`): per payload name, the runs
 * where the two give different payloads (or only one gives one), and for JSON payloads the values that
 * differ with their relative change. "Gives" is the lookup rule of caf_localdb_find (the last matching
 * line wins), so two databases written differently but answering every run alike do not differ. */
#ifndef CAF_LOCALDB_DIFF_H
#define CAF_LOCALDB_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compares the databases at a and b (folders, or their database.txt) for the names given (count 0:
 * every name either holds) into *out (new reference, caller decrefs):
 *   {"a": A, "b": B, "differ": bool, "names": [{"name": N, "differ": bool, "differences": [
 *     {"iov": [e1,r1,e2,r2], "a": {"revision": R, "iov": [...]} or null, "b": ... or null,
 *      "values": [{"key": "gains[3]", "a": 1.0, "b": 1.1, "relative": 0.1}, ...]}]}]}
 * "iov" is a stretch of runs over which both answers stay the same; "values" is there when both
 * payloads are JSON ("relative" is (b - a) / |a|, null when a is 0 or a value is no number; a key only
 * one side has shows null on the other). Payloads are compared by their bytes. A name neither database
 * holds, an unreadable database or a missing payload file is an error. */
caf_status caf_localdb_diff(const char *a, const char *b, const char *const *names, size_t count, json_t **out,
                            caf_error *err);

/* Prints a diff made by caf_localdb_diff as text: one line per stretch of runs, then its values (at most
 * max_values per stretch; 0: all). */
void caf_localdb_diff_print(FILE *out, const json_t *diff, size_t max_values);

#ifdef __cplusplus
}
#endif
#endif
