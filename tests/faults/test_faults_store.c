/* The fault hook itself, on the POSIX store alone: each kind fails with the chosen errno at the
 * chosen call, a byte mark cuts a write short like a filling disk, and lifting restores I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_fixture.h"
#include "test_fs.h"
#include "resumable/error.h"
#include "resumable/store.h"
#include "store_internal.h"

typedef struct sfix {
  char root[64];
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
} sfix;

static int setup(void **state)
{
  sfix *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  ff_mkroot(f->root, sizeof(f->root));
  assert_int_equal(resumable_store_fs_new(&f->store, f->root), RESUMABLE_OK);
  f->ops = resumable_store_ops_of(f->store);
  f->self = resumable_store_self(f->store);
  rs_fault_lift();
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  sfix *f = *state;
  rs_fault_lift();
  resumable_store_free(f->store);
  (void)test_remove_tree(f->root);
  free(f);
  return 0;
}

static void *create(sfix *f, const char *key, uint64_t total)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  return h;
}

static void hook_write_fault_maps_errno_to_store_error(void **state)
{
  sfix *f = *state;
  static const struct {
    int err;
    int want;
  } cases[] = {{ENOSPC, RESUMABLE_E_NOSPACE}, {EDQUOT, RESUMABLE_E_NOSPACE}, {EIO, RESUMABLE_E_IO}};
  void *h = create(f, "k", 10);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rs_fault_fail_call(RS_FAULT_WRITE, 1, 1, cases[i].err);
    assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), cases[i].want);
    assert_int_equal(rs_fault_fired(RS_FAULT_WRITE), 1);
    /* times == 1: the next call passes */
    assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
  }
  f->ops->partial_close(f->self, h);
}

static void hook_nth_call_fails_and_stays_failed_until_lifted(void **state)
{
  sfix *f = *state;
  void *h = create(f, "k", 10);
  rs_fault_fail_call(RS_FAULT_WRITE, 3, 0, ENOSPC);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "a", 1), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 1, "b", 1), RESUMABLE_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(f->ops->partial_write(f->self, h, 2, "c", 1), RESUMABLE_E_NOSPACE);
  assert_int_equal(rs_fault_fired(RS_FAULT_WRITE), 3);
  rs_fault_lift();
  assert_int_equal(f->ops->partial_write(f->self, h, 2, "c", 1), RESUMABLE_OK);
  assert_int_equal(rs_fault_fired(RS_FAULT_WRITE), 0);
  f->ops->partial_close(f->self, h);
}

static void hook_byte_mark_cuts_the_write_short_like_a_full_disk(void **state)
{
  sfix *f = *state;
  uint8_t buf[300];
  char rel[128];
  size_t len = 0;
  ff_fill(buf, sizeof(buf), 1);
  void *h = create(f, "k", sizeof(buf));
  rs_fault_fail_after_bytes(100, ENOSPC);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, buf, sizeof(buf)), RESUMABLE_E_NOSPACE);
  ff_partial_data("k", rel, sizeof(rel));
  uint8_t *got = ff_read(f->root, rel, &len);
  assert_int_equal(len, 100); /* the first 100 bytes landed, as on a filling disk */
  assert_memory_equal(got, buf, 100);
  free(got);
  rs_fault_lift();
  assert_int_equal(f->ops->partial_write(f->self, h, 100, buf + 100, 200), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
}

static void hook_sync_fault_fails_partial_sync_and_keeps_the_old_held(void **state)
{
  sfix *f = *state;
  resumable_partial_info info, got;
  void *h = create(f, "k", 10);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abcde", 5), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &info), RESUMABLE_OK);
  info.held = 5;
  rs_fault_fail_call(RS_FAULT_SYNC, 1, 1, EIO);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_IO);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 0);
  f->ops->partial_close(f->self, h);
  /* a fresh handle starts from the durable state and syncs again */
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 0);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abcde", 5), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 5);
  f->ops->partial_close(f->self, h);
}

/* Linux reports a writeback error to one fsync and then marks the pages clean: a later fsync
 * on the same file succeeds although the bytes may be gone. The fault hook fails one call and
 * lets the next pass, which is exactly that. After a failed fsync the handle must never promise
 * the bytes written since its last good sync. */
static void store_never_trusts_a_handle_after_a_failed_fsync(void **state)
{
  sfix *f = *state;
  resumable_partial_info info, got;
  resumable_complete_info ci = {.size = 5};
  void *h = create(f, "k", 5);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &info), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abcde", 5), RESUMABLE_OK);
  rs_fault_fail_call(RS_FAULT_SYNC, 1, 1, EIO); /* the commit's fsync of the data */
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_IO);
  info.held = 5;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_IO);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_IO);
  assert_false(ff_exists(f->root, "k"));
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 0);
  f->ops->partial_close(f->self, h);
}

static void hook_rename_fault_on_commit_leaves_the_final_path_absent(void **state)
{
  sfix *f = *state;
  resumable_complete_info ci = {.size = 3};
  void *h = create(f, "k", 3);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
  /* rename 1 places the file itself, rename 2 its sidecar */
  rs_fault_fail_call(RS_FAULT_RENAME, 1, 1, ENOSPC);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_NOSPACE);
  assert_int_equal(rs_fault_fired(RS_FAULT_RENAME), 1);
  assert_false(ff_exists(f->root, "k"));
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  assert_true(ff_exists(f->root, "k"));
  f->ops->partial_close(f->self, h);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(hook_write_fault_maps_errno_to_store_error, setup, teardown),
      cmocka_unit_test_setup_teardown(hook_nth_call_fails_and_stays_failed_until_lifted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(hook_byte_mark_cuts_the_write_short_like_a_full_disk, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(hook_sync_fault_fails_partial_sync_and_keeps_the_old_held,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(hook_rename_fault_on_commit_leaves_the_final_path_absent,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(store_never_trusts_a_handle_after_a_failed_fsync, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
