/* Shared between the event-file metadata reader, reader and writer. Internal to src/events. */
#ifndef CAF_EVENTS_EVENT_FILE_INTERNAL_H
#define CAF_EVENTS_EVENT_FILE_INTERNAL_H

#include <hdf5.h>

#include "caf/event_file.h"

/* Names in the file; docs/event-format.md is the specification. */
#define CAF_EF_FORMAT_NAME "caf-events"
#define CAF_EF_ATTR_FORMAT "caf_format"
#define CAF_EF_ATTR_VERSION "caf_format_version"
#define CAF_EF_META "meta"
#define CAF_EF_EVENTS "events"
#define CAF_EF_COLUMNS "events/columns"
#define CAF_EF_ARRAYS "events/arrays"
#define CAF_EF_TRIGGER "events/trigger"

/* Orders (exp, run) pairs (local so that the event layer does not wait for src/core/iov.c). */
static inline int caf_ef_exprun_cmp(caf_exprun a, caf_exprun b)
{
    if (a.exp != b.exp)
        return a.exp < b.exp ? -1 : 1;
    return a.run < b.run ? -1 : a.run > b.run;
}

/* Reads and checks the metadata of the open file (path only for messages). */
caf_status caf_event_file_meta_read_h5(hid_t file, const char *path, caf_event_file_meta *meta, caf_error *err);

/* Opens a reader on file, whose metadata meta was read from it already (caf_event_file_meta_read_h5): the
 * reader owns both from now on, also when it fails (path only for messages). One HDF5 open per file for
 * whoever reads the metadata first (caf_event_files_check's children); caf_event_reader_open otherwise. */
caf_status caf_event_reader_open_h5(caf_event_reader **out, hid_t file, const char *path, caf_event_file_meta *meta,
                                    const caf_event_reader_options *options, caf_error *err);

/* True if name may name a column, array or field: non-empty, no '/' or '.', not a reserved name. */
bool caf_event_name_is_valid(const char *name);

#endif
