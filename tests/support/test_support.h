/* Helpers shared by the unit tests: temporary folders that clean themselves up, and file shortcuts. */
#ifndef CAF_TEST_SUPPORT_H
#define CAF_TEST_SUPPORT_H

#include <stddef.h>

/* Creates a fresh folder under $TMPDIR (or /tmp) and returns its path (malloc'd, caller frees). */
char *test_make_temp_dir(const char *tag);

/* Removes path and everything below it. */
void test_remove_tree(const char *path);

/* Writes text to dir/name (creating or truncating it); aborts the test program on failure. */
void test_write_file(const char *dir, const char *name, const char *text);

/* Returns the content of dir/name (malloc'd, NUL-terminated, caller frees), or NULL if unreadable. */
char *test_read_file(const char *dir, const char *name);

#endif
