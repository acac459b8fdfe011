#include "test_fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int test_remove_tree(const char *path)
{
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode))
    return unlink(path);
  int rc = 0;
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    /* Sized to the names at hand, so a deep tree is never cut short by a fixed buffer. */
    size_t n = strlen(path) + strlen(e->d_name) + 2;
    char *sub = malloc(n);
    if (!sub) {
      rc = -1;
      continue;
    }
    snprintf(sub, n, "%s/%s", path, e->d_name);
    if (test_remove_tree(sub) != 0)
      rc = -1;
    free(sub);
  }
  if (d)
    closedir(d);
  else
    rc = -1;
  return rmdir(path) == 0 ? rc : -1;
}

int test_temp_dir(char *buf, size_t cap, const char *tag)
{
  const char *base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  int n = snprintf(buf, cap, "%s/rs-%s-XXXXXX", base, tag);
  if (n < 0 || (size_t)n >= cap)
    return -1;
  return mkdtemp(buf) != NULL ? 0 : -1;
}
