/* Filesystem helpers shared by the test programs. */
#ifndef RESUMABLE_TEST_FS_H
#define RESUMABLE_TEST_FS_H

/* Remove `path` and, if it is a directory, everything below it, without following symbolic
 * links. A missing path is not an error. Returns 0, or -1 if something could not be removed. */
int test_remove_tree(const char *path);

#endif
