/* Filesystem helpers shared by the test programs. */
#ifndef RESUMABLE_TEST_FS_H
#define RESUMABLE_TEST_FS_H

#include <stddef.h>

/* Remove `path` and, if it is a directory, everything below it, without following symbolic
 * links. A missing path is not an error. Returns 0, or -1 if something could not be removed. */
int test_remove_tree(const char *path);

/* Create a fresh private directory "$TMPDIR/rs-<tag>-XXXXXX" (TMPDIR unset or empty: /tmp) and
 * write its path into buf. Returns 0, or -1 (buf too small, or mkdtemp failed). */
int test_temp_dir(char *buf, size_t cap, const char *tag);

#endif
