/* The journal of a job's saved state (WORKING_DIR/caf-job.journal). Saving the whole state
 * (caf-job.json, caf_job_save) costs the size of the job: a collector job of caf run lists every input
 * file of the campaign, and rewriting it at every change of a subjob made the collection phase grow with
 * the square of the campaign. Between two saves, each change of a subjob is instead appended to the
 * journal as one JSON line holding that subjob's progress ({"index", "status", "attempt", "batch_id",
 * "exit_code", "memory_mb", "time_s", "lost_since", "reason"}), synced, so that recording a change costs
 * the size of the change. The journal's first line, {"journal_id": ID}, names the saved state it extends
 * (caf-job.json's "journal_id"): a journal of another state (left when caf was killed between a save and
 * the removal of the journal before it) is ignored, and so is a torn last line (caf killed inside a write:
 * that change was never recorded, as when caf is killed before a save). */
#ifndef CAF_JOB_JOURNAL_H
#define CAF_JOB_JOURNAL_H

#include <jansson.h>

#include "caf/error.h"
#include "caf/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns WORKING_DIR/caf-job.journal (malloc'd, caller frees) or NULL when out of memory. */
char *caf_job_journal_path(const caf_job *job);

/* The progress of one subjob, as saved and journaled (a new reference, caller json_decref's it). */
json_t *caf_subjob_progress_json(const caf_subjob *sub);

/* Appends a record of every subjob marked unsaved to the journal of the state this caf last saved
 * (starting the journal after a save), with one write and an fdatasync, clears their marks and adds the
 * bytes to job->journal_bytes. CAF_ERR_STATE when this caf saved no state yet or an append failed before
 * (a torn record must be followed by a save, never by another record). */
caf_status caf_job_journal_append(caf_job *job, caf_error *err);

/* Reads the saved state at state_path (a caf-job.json) with the records of the journal beside it applied;
 * *state is a new reference the caller json_decref's. A record that is not the last line and cannot be
 * read is CAF_ERR_FORMAT naming the journal and the line. */
caf_status caf_job_state_read(const char *state_path, json_t **state, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
