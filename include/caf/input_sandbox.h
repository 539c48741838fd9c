/* Input sandboxes (basf2 Job.input_sandbox_files): files every subjob finds in its own folder when it
 * starts, so that a job does not depend on the submitting folder staying unchanged while it runs. The
 * job's files are copied once, at its first submission, into WORKING_DIR/caf-sandbox/ (the snapshot), and
 * from there into each subjob's folder before its first attempt; a file keeps its base name. A file
 * already in place is kept, so a retry or a resumed caf sees what the first attempt saw. */
#ifndef CAF_INPUT_SANDBOX_H
#define CAF_INPUT_SANDBOX_H

#include "caf/error.h"
#include "caf/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The folder of a job's snapshot, below its working folder. */
#define CAF_SANDBOX_DIR "caf-sandbox"

/* Why path cannot be a sandbox file (static text), or NULL: its base name must be a file name that stays
 * in the subjob's folder ("", "." and ".." would not, a trailing '/' names a folder) without control
 * characters, and none of the files caf keeps there (run.sh, stdout, stderr, exit_code, the subjob lock,
 * the PBS log, HTCondor's transfer files). Says nothing about whether the file exists. */
const char *caf_input_sandbox_name_problem(const char *path);

/* The base name path has in a subjob's folder (borrowed from path). */
const char *caf_input_sandbox_name(const char *path);

/* Copies every file of paths into dir (made if needed) under its base name, atomically; a file already in
 * dir is kept. A file that is missing, unreadable or no regular file is an error naming it. */
caf_status caf_input_sandbox_copy(const caf_strings *paths, const char *dir, caf_error *err);

/* Copies every file of the job's input_sandbox into WORKING_DIR/caf-sandbox/ under its base name
 * (atomically; a file already there is kept). A file that is missing, unreadable or no regular file is
 * an error naming it. */
caf_status caf_input_sandbox_snapshot(const caf_job *job, caf_error *err);

/* Copies the snapshot into the folder of sub (made if needed; files already there are kept). */
caf_status caf_input_sandbox_install(const caf_job *job, const caf_subjob *sub, caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
