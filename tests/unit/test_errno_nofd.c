/* A process out of file descriptors gets RESUMABLE_E_NOFD (a condition to wait out), not
 * RESUMABLE_E_FILE or RESUMABLE_E_IO, from the calls that open files: the stager's constructors
 * and the POSIX store's. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/features.h"
#if RESUMABLE_HAS_CLIENT
#include "resumable/stager.h"
#endif
#include "resumable/store.h"
#include "test_fs.h"

#define FILL_MAX 256

typedef struct fill {
  struct rlimit saved;
  int fds[FILL_MAX];
  int n;
} fill;

/* Lower the soft limit and take every descriptor left under it. */
static void exhaust(fill *f)
{
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->saved), 0);
  struct rlimit low = f->saved;
  low.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  f->n = 0;
  int fd;
  while (f->n < FILL_MAX && (fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0)
    f->fds[f->n++] = fd;
  assert_true(f->n < FILL_MAX); /* ended by the limit */
}

static void restore(fill *f)
{
  for (int i = 0; i < f->n; i++)
    close(f->fds[i]);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
}

/* The stager exists only in a build with the client half (not with -Dclient=disabled). */
#if RESUMABLE_HAS_CLIENT
static void stager_new_out_of_fds_is_nofd(void **state)
{
  (void)state;
  char path[] = "/tmp/rs-nofd-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fill f;
  exhaust(&f);
  resumable_stager *s = NULL;
  int by_path = resumable_stager_new(&s, "http://127.0.0.1:1/v1/files/k", path);
  int by_fd = resumable_stager_new_fd(&s, "http://127.0.0.1:1/v1/files/k", fd);
  restore(&f);
  unlink(path);
  close(fd);
  assert_int_equal(by_path, RESUMABLE_E_NOFD);
  assert_int_equal(by_fd, RESUMABLE_E_NOFD);
  assert_null(s);
}
#endif

static void store_fs_new_out_of_fds_is_nofd(void **state)
{
  (void)state;
  char root[] = "/tmp/rs-nofd-root-XXXXXX";
  assert_non_null(mkdtemp(root));
  fill f;
  exhaust(&f);
  resumable_store *st = NULL;
  int rc = resumable_store_fs_new(&st, root);
  restore(&f);
  resumable_store_free(st);
  assert_int_equal(test_remove_tree(root), 0);
  assert_int_equal(rc, RESUMABLE_E_NOFD);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
#if RESUMABLE_HAS_CLIENT
    cmocka_unit_test(stager_new_out_of_fds_is_nofd),
#endif
    cmocka_unit_test(store_fs_new_out_of_fds_is_nofd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
