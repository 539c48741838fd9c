/* Collector outputs opened ahead of an algorithm execution, in the process that will run it (a zygote's child
 * forked before its request comes), so that the execution finds its inputs open and their schema read. Only
 * caf_collector_output_open_lazy takes them (collector_output.c), and only while the file at the path is still
 * the one opened. Never open them in a process that forks afterwards: an SQLite connection must not cross a
 * fork. */
#ifndef CAF_COLLECTOR_OUTPUT_WARM_H
#define CAF_COLLECTOR_OUTPUT_WARM_H

#include <stddef.h>

/* Opens each of paths (made canonical, as an algorithm's inputs are) lazily and keeps it for the execution to
 * come; a file that cannot be opened is skipped without a word (the execution that names it opens it again
 * and reports the error). The handles hold no lock on their files while they wait. */
void caf_collector_output_warm_up(const char *const *paths, size_t count);

/* Closes what was opened ahead and not taken. */
void caf_collector_output_warm_discard(void);

#endif
