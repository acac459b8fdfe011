/* See e2e_fixture.h. */
#include "e2e_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "test_fs.h"

int e2e_fx_setup(void **state)
{
  e2e_fx *f = calloc(1, sizeof *f);
  if (f == NULL || (f->dir = e2e_tmpdir()) == NULL)
    return -1;
  snprintf(f->root, sizeof f->root, "%s/root", f->dir);
  snprintf(f->store, sizeof f->store, "%s/state", f->dir);
  if (mkdir(f->root, 0700) != 0)
    return -1;
  if (e2e_server_start(&f->srv, f->root, 0, NULL) != 0)
    return -1;
  if (fp_start(&f->proxy, "127.0.0.1", f->srv.port) != 0)
    return -1;
  snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%u/v1/files/",
           (unsigned)fp_port(f->proxy));
  *state = f;
  return 0;
}

int e2e_fx_teardown(void **state)
{
  e2e_fx *f = *state;
  fp_stop(f->proxy);
  e2e_server_stop(&f->srv);
  (void)test_remove_tree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

char *e2e_fx_file(e2e_fx *f, const char *name, uint64_t size, uint32_t seed, char sha[65])
{
  char *p = e2e_make_file(f->dir, name, size, seed);
  assert_non_null(p);
  assert_int_equal(e2e_sha256_file(p, sha), 0);
  return p;
}
