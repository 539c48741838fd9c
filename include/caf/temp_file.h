/* Temporary files that say who wrote them. Every temporary file caf writes beside its final name is called
 * ".FINAL.caf-tmp-BOOT-PID-START-XXXXXX" (BOOT: 8 hex digits of the machine's boot id, PID and START: the
 * writer's process id and start time in clock ticks since boot), so that a later caf can tell a dead
 * writer's leftover (same boot, and that pid no longer runs or runs another program started at another
 * time) from a live writer's file, and a file written on another machine (or before a reboot), about which
 * it can prove nothing. Anything SQLite puts beside such a file (its "-journal") carries the same name. */
#ifndef CAF_TEMP_FILE_H
#define CAF_TEMP_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fixed part of every caf temporary file's name. */
#define CAF_TEMP_MARK ".caf-tmp-"

/* Returns the mkstemp template "DIR/.BASE.caf-tmp-BOOT-PID-START-XXXXXX" for final_path (malloc'd, caller
 * frees), or NULL when out of memory. */
char *caf_temp_template(const char *final_path);

/* What a file name says about its writer. */
typedef enum caf_temp_writer {
    CAF_TEMP_NOT_TEMPORARY, /* not a caf temporary file's name */
    CAF_TEMP_WRITER_ALIVE,  /* written on this machine since its boot by a process that still runs */
    CAF_TEMP_WRITER_GONE,   /* written on this machine since its boot by a process that has ended */
    CAF_TEMP_WRITER_UNKNOWN /* another machine, an earlier boot, or no writer in the name */
} caf_temp_writer;

/* Classifies a file's base name (not a path). */
caf_temp_writer caf_temp_writer_of(const char *name);

/* Called for every temporary file a sweep finds: its path, its writer and whether it was removed. */
typedef void (*caf_temp_found_fn)(const char *path, caf_temp_writer writer, bool removed, void *userdata);

enum {
    CAF_TEMP_SWEEP_RECURSIVE = 1, /* into subfolders (symbolic links are not followed) */
    CAF_TEMP_SWEEP_EXCLUSIVE = 2, /* the caller's lock proves that no writer can be active in dir: remove
                                     unknown writers' files too (live ones are always kept) */
    CAF_TEMP_SWEEP_DRY_RUN = 4,   /* report, remove nothing */
};

/* Removes the temporary files in dir whose writer is gone (flags above), calling found (may be NULL) for
 * every temporary file; *removed (may be NULL) counts removals. Unreadable subfolders are skipped. */
caf_status caf_temp_sweep(const char *dir, int flags, caf_temp_found_fn found, void *userdata, size_t *removed,
                          caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
