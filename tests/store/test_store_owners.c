/* POSIX store: a key's owner across processes (key_lock / key_unlock / key_release). Two stores
 * opened on one root in one process hold separate open file descriptions, so their OFD locks
 * exclude each other exactly as two processes' do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "store_fixture.h"
#include "store_internal.h"

/* A second store on the fixture's root: "the other process". */
typedef struct other {
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
} other;

static void other_open(fixture *f, other *o)
{
  assert_int_equal(resumable_store_fs_new(&o->store, f->root), RESUMABLE_OK);
  o->ops = resumable_store_ops_of(o->store);
  o->self = resumable_store_self(o->store);
}

typedef struct taker {
  const resumable_store_ops *ops;
  void *self;
  const char *key;
  void *owner;
  int rc;
} taker;

static void *take_main(void *arg)
{
  taker *t = arg;
  t->rc = t->ops->key_lock(t->self, t->key, RESUMABLE_KEY_TAKE, &t->owner);
  t->ops->key_unlock(t->self, t->owner);
  return NULL;
}

/* S1 owns the key and is idle (between two pieces of a stalled request); S2 takes it over,
 * without S1 doing anything: S1's own thread lets go. S1's next KEEP is then superseded, and
 * its next TAKE says the key was taken meanwhile. */
static void take_supersedes_an_idle_owner_elsewhere(void **state)
{
  fixture *f = *state;
  other s2;
  other_open(f, &s2);
  void *o1 = NULL;
  assert_int_equal(f->ops->key_lock(f->self, "k", RESUMABLE_KEY_TAKE, &o1), RESUMABLE_OK);
  f->ops->key_unlock(f->self, o1);
  assert_int_equal(f->ops->key_lock(f->self, "k", RESUMABLE_KEY_KEEP, &o1), RESUMABLE_OK);
  f->ops->key_unlock(f->self, o1);

  taker t = {s2.ops, s2.self, "k", NULL, -99};
  pthread_t tid;
  assert_int_equal(pthread_create(&tid, NULL, take_main, &t), 0);
  pthread_join(tid, NULL); /* returns only once S1 let go */
  assert_int_equal(t.rc, RESUMABLE_OK);

  assert_int_equal(f->ops->key_lock(f->self, "k", RESUMABLE_KEY_KEEP, &o1), RESUMABLE_E_SUPERSEDED);
  f->ops->key_unlock(f->self, o1);
  /* TRY while S2 owns it: busy. */
  void *probe = NULL;
  assert_int_equal(f->ops->key_lock(f->self, "k", RESUMABLE_KEY_TRY, &probe), RESUMABLE_E_STATE);
  f->ops->key_unlock(f->self, probe);
  f->ops->key_release(f->self, probe);

  taker back = {f->ops, f->self, "k", o1, -99};
  assert_int_equal(pthread_create(&tid, NULL, take_main, &back), 0);
  pthread_join(tid, NULL);
  assert_int_equal(back.rc, RESUMABLE_E_SUPERSEDED); /* taken, after a break */
  assert_int_equal(f->ops->key_lock(f->self, "k", RESUMABLE_KEY_KEEP, &o1), RESUMABLE_OK);
  f->ops->key_unlock(f->self, o1);
  s2.ops->key_release(s2.self, t.owner);
  f->ops->key_release(f->self, o1);
  resumable_store_free(s2.store);
}

/* The lock file lives while the key has an owner; TRY gets a key nobody holds. */
static void released_key_leaves_no_lock_file(void **state)
{
  fixture *f = *state;
  void *o = NULL;
  assert_int_equal(f->ops->key_lock(f->self, "a/b", RESUMABLE_KEY_TRY, &o), RESUMABLE_OK);
  f->ops->key_unlock(f->self, o);
  assert_int_equal(fx_count_rel(f, ".resumable/locks"), 1);
  f->ops->key_release(f->self, o);
  assert_int_equal(fx_count_rel(f, ".resumable/locks"), 0);
}

/* A lock file left by a dead process (no lock on it) is removed when a store opens. */
static void stale_lock_file_is_removed_at_open(void **state)
{
  fixture *f = *state;
  char name[65], rel[128];
  fx_key_name("gone", name);
  snprintf(rel, sizeof(rel), ".resumable/locks/%s", name);
  fx_write(f, rel, "", 0);
  fx_restart(f);
  assert_false(fx_exists(f, rel));
}

/* S1 synced 10 bytes, wrote 5 more, and went idle; S2 takes the key. S1 lets go of its partial
 * cut back to the 10 synced bytes and tied to the file as it is then, so S2 finds the saved
 * hash state valid (no hashing of the prefix again). */
static void owner_letting_go_leaves_a_trusted_hash_state(void **state)
{
  fixture *f = *state;
  other s2;
  other_open(f, &s2);
  const uint8_t msg[] = "0123456789abcdefghij";
  resumable_partial_info info = fx_info(20), got;
  void *o1 = NULL, *h = NULL;
  assert_int_equal(f->ops->key_lock(f->self, "up", RESUMABLE_KEY_TAKE, &o1), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->self, "up", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, msg, 10), RESUMABLE_OK);
  rs_sha256 s;
  rs_sha256_init(&s);
  rs_sha256_update(&s, msg, 10);
  info.held = 10;
  info.hash_state_len = rs_sha256_export(&s, info.hash_state, sizeof(info.hash_state));
  rs_sha256_free(&s);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 10, msg + 10, 5), RESUMABLE_OK);
  f->ops->key_unlock(f->self, o1);

  taker t = {s2.ops, s2.self, "up", NULL, -99};
  pthread_t tid;
  assert_int_equal(pthread_create(&tid, NULL, take_main, &t), 0);
  pthread_join(tid, NULL);
  assert_int_equal(t.rc, RESUMABLE_OK);
  assert_int_equal(s2.ops->key_lock(s2.self, "up", RESUMABLE_KEY_KEEP, &t.owner), RESUMABLE_OK);
  void *h2 = NULL;
  assert_int_equal(s2.ops->partial_open(s2.self, "up", RESUMABLE_PARTIAL_EXISTING, NULL, &h2, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 10);
  assert_int_equal(got.hash_state_len, info.hash_state_len);
  assert_memory_equal(got.hash_state, info.hash_state, info.hash_state_len);
  s2.ops->partial_close(s2.self, h2);
  s2.ops->key_unlock(s2.self, t.owner);

  assert_int_equal(f->ops->key_lock(f->self, "up", RESUMABLE_KEY_KEEP, &o1),
                   RESUMABLE_E_SUPERSEDED);
  f->ops->key_unlock(f->self, o1);
  f->ops->partial_close(f->self, h);
  f->ops->key_release(f->self, o1);
  s2.ops->key_release(s2.self, t.owner);
  resumable_store_free(s2.store);
}

/* S1 keeps writing while S2 waits for the key: S1's KEEP says SUPERSEDED while S1 still holds
 * the key, so S1 syncs what it wrote (its bytes stay, as within one process), and lets go at
 * key_unlock. S2 then finds every byte S1 synced. Once S1 let go, its syncs are refused. */
static void busy_owner_keeps_its_bytes_when_superseded(void **state)
{
  fixture *f = *state;
  other s2;
  other_open(f, &s2);
  resumable_partial_info info = fx_info(1 << 30), got;
  void *o1 = NULL, *h = NULL;
  assert_int_equal(f->ops->key_lock(f->self, "busy", RESUMABLE_KEY_TAKE, &o1), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->self, "busy", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  f->ops->key_unlock(f->self, o1);

  taker t = {s2.ops, s2.self, "busy", NULL, -99};
  pthread_t tid;
  assert_int_equal(pthread_create(&tid, NULL, take_main, &t), 0);
  uint64_t held = 0;
  int rc;
  while ((rc = f->ops->key_lock(f->self, "busy", RESUMABLE_KEY_KEEP, &o1)) == RESUMABLE_OK) {
    assert_int_equal(f->ops->partial_write(f->self, h, held, "x", 1), RESUMABLE_OK);
    held++;
    f->ops->key_unlock(f->self, o1);
    assert_true(held < (1u << 30));
  }
  assert_int_equal(rc, RESUMABLE_E_SUPERSEDED);
  info.held = held;
  info.hash_state_len = 0;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK); /* still ours */
  f->ops->key_unlock(f->self, o1);                                         /* now S2 gets it */
  pthread_join(tid, NULL);
  assert_int_equal(t.rc, RESUMABLE_OK);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_SUPERSEDED);
  assert_int_equal(s2.ops->partial_stat(s2.self, "busy", &got), RESUMABLE_OK);
  assert_int_equal(got.held, held);
  f->ops->partial_close(f->self, h);
  f->ops->key_release(f->self, o1);
  s2.ops->key_release(s2.self, t.owner);
  resumable_store_free(s2.store);
}

/* A commit renames only the file its handle has open: one put in its place behind its back is
 * not published. */
static void commit_refuses_a_data_file_that_is_not_its_own(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(3);
  resumable_complete_info ci = {.size = 3};
  char data[256], p[512], from[512];
  void *h = NULL;
  rs_sha256_digest("abc", 3, ci.sha256);
  assert_int_equal(f->ops->partial_open(f->self, "own", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
  fx_partial_file("own", "data", data, sizeof(data));
  fx_path(f, data, p, sizeof(p));
  fx_write(f, "impostor", "xyz", 3);
  fx_path(f, "impostor", from, sizeof(from));
  assert_int_equal(rename(from, p), 0);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_SUPERSEDED);
  info.held = 3;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_SUPERSEDED);
  f->ops->partial_close(f->self, h);
  assert_false(fx_exists(f, "own"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(take_supersedes_an_idle_owner_elsewhere),
      T(released_key_leaves_no_lock_file),
      T(stale_lock_file_is_removed_at_open),
      T(owner_letting_go_leaves_a_trusted_hash_state),
      T(busy_owner_keeps_its_bytes_when_superseded),
      T(commit_refuses_a_data_file_that_is_not_its_own),
  };
  return cmocka_run_group_tests_name("store_owners", tests, NULL, NULL);
}
