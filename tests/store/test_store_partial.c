/* POSIX store: partial uploads and staging files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/wait.h>

#include "store_fixture.h"

/* A partial of `total` bytes bound to a target, holding `held` bytes of msg, synced, with the
 * real running hash state. The handle is returned open. */
static void *make_synced(fixture *f, const char *key, const uint8_t *msg, uint64_t held,
                         uint64_t total, resumable_partial_info *out)
{
  resumable_partial_info info = fx_info(total);
  void *h = NULL;
  info.has_target = 1;
  memset(info.target_sha256, 0x5a, 32);
  assert_int_equal(f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, msg, (size_t)held), RESUMABLE_OK);
  rs_sha256 s;
  rs_sha256_init(&s);
  rs_sha256_update(&s, msg, (size_t)held);
  info.held = held;
  info.hash_state_len = rs_sha256_export(&s, info.hash_state, sizeof(info.hash_state));
  assert_int_not_equal(info.hash_state_len, 0);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
  *out = info;
  return h;
}

static void assert_same_info(const resumable_partial_info *a, const resumable_partial_info *b)
{
  assert_int_equal(a->total, b->total);
  assert_int_equal(a->held, b->held);
  assert_int_equal(a->has_target, b->has_target);
  assert_memory_equal(a->target_sha256, b->target_sha256, 32);
  assert_int_equal(a->hash_state_len, b->hash_state_len);
  assert_memory_equal(a->hash_state, b->hash_state, a->hash_state_len);
}

static void partial_synced_state_survives_restart(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789abcdef";
  resumable_partial_info want, got;
  void *h = make_synced(f, "dir/up.bin", msg, 6, 16, &want);
  f->ops->partial_close(f->self, h);
  fx_restart(f);

  assert_int_equal(f->ops->partial_stat(f->self, "dir/up.bin", &got), RESUMABLE_OK);
  assert_same_info(&got, &want);
  memset(&got, 0, sizeof(got));
  assert_int_equal(
      f->ops->partial_open(f->self, "dir/up.bin", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
      RESUMABLE_OK);
  assert_same_info(&got, &want);
  uint8_t buf[16];
  size_t n = 0;
  assert_int_equal(f->ops->partial_read(f->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(buf, msg, 6);
  /* The restored state continues the hash. */
  rs_sha256 s;
  uint8_t d1[32], d2[32];
  assert_int_equal(rs_sha256_import(&s, got.hash_state, got.hash_state_len), 0);
  rs_sha256_update(&s, msg + 6, 10);
  rs_sha256_finish(&s, d1);
  rs_sha256_digest(msg, 16, d2);
  assert_memory_equal(d1, d2, 32);
  f->ops->partial_close(f->self, h);
}

static void partial_absent_is_not_found(void **state)
{
  fixture *f = *state;
  resumable_partial_info got;
  void *h = (void *)&got;
  assert_int_equal(f->ops->partial_stat(f->self, "nothing", &got), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(
      f->ops->partial_open(f->self, "nothing", RESUMABLE_PARTIAL_EXISTING, NULL, &h, NULL),
      RESUMABLE_E_NOT_FOUND);
  assert_null(h);
  assert_int_equal(f->ops->partial_remove(f->self, "nothing"), RESUMABLE_E_NOT_FOUND);
}

static void partial_meta_ahead_of_data_shrinks_held_and_drops_hash(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char data[256];
  void *h = make_synced(f, "k", msg, 8, 10, &want);
  f->ops->partial_close(f->self, h);
  fx_partial_file("k", "data", data, sizeof(data));
  char p[512];
  fx_path(f, data, p, sizeof(p));
  assert_int_equal(truncate(p, 5), 0); /* lost tail, e.g. a disk that lied about fsync */
  fx_restart(f);

  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 5);
  assert_int_equal(got.hash_state_len, 0);
  assert_int_equal(got.total, 10);
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 5);
  assert_int_equal(got.hash_state_len, 0);
  f->ops->partial_close(f->self, h);
}

/* Bytes written after the last sync (by a process that then died) are cut off. They changed the
 * file since the meta was written, which the store cannot tell from damage to the held prefix,
 * so the hash state is dropped too (the handler hashes the prefix again). */
static void partial_unsynced_tail_is_cut_on_open(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char data[256];
  void *h = make_synced(f, "k", msg, 4, 10, &want);
  assert_int_equal(f->ops->partial_write(f->self, h, 4, msg + 4, 5), RESUMABLE_OK);
  f->ops->partial_close(f->self, h); /* no sync: bytes 4..8 are not promised */
  fx_partial_file("k", "data", data, sizeof(data));
  assert_int_equal(fx_size(f, data), 9);
  fx_restart(f);

  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  want.hash_state_len = 0;
  assert_same_info(&got, &want);
  assert_int_equal(fx_size(f, data), 4);
  f->ops->partial_close(f->self, h);
}

/* Overwrite byte `at` of a file under the root in place (same length) and set its mtime back,
 * as a careless tool or a bad disk would leave it. */
static void damage_in_place(fixture *f, const char *rel, long at)
{
  char p[512];
  struct stat before;
  fx_path(f, rel, p, sizeof(p));
  assert_int_equal(stat(p, &before), 0);
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "\xff", 1, at), 1);
  close(fd);
  struct timespec t[2] = {before.st_atim, before.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
  struct stat after;
  assert_int_equal(stat(p, &after), 0);
  assert_int_equal(after.st_size, before.st_size);
  assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

/* A held byte flipped behind the store's back (same length, mtime restored): the saved hash
 * state is not the hash of these bytes any more, so it is not handed out. */
static void partial_data_changed_in_place_drops_hash_state(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char data[256];
  void *h = make_synced(f, "k", msg, 8, 10, &want);
  f->ops->partial_close(f->self, h);
  fx_partial_file("k", "data", data, sizeof(data));
  damage_in_place(f, data, 3);

  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 8);
  assert_int_equal(got.hash_state_len, 0);
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 8);
  assert_int_equal(got.hash_state_len, 0);
  /* Once the handler synced a state rebuilt from these bytes, it is trusted again. */
  want.held = 8;
  rs_sha256 s;
  uint8_t now[8];
  size_t n = 0;
  assert_int_equal(f->ops->partial_read(f->self, h, 0, now, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 8);
  rs_sha256_init(&s);
  rs_sha256_update(&s, now, 8);
  want.hash_state_len = rs_sha256_export(&s, want.hash_state, sizeof(want.hash_state));
  rs_sha256_free(&s);
  assert_int_equal(f->ops->partial_sync(f->self, h, &want), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_same_info(&got, &want);
}

/* The same bytes in another file (a copy moved over the data): another inode, not trusted. */
static void partial_data_replaced_by_a_copy_drops_hash_state(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char data[256], p[512], copy[512];
  void *h = make_synced(f, "k", msg, 8, 10, &want);
  f->ops->partial_close(f->self, h);
  fx_partial_file("k", "data", data, sizeof(data));
  fx_path(f, data, p, sizeof(p));
  fx_write(f, "copy", msg, 8);
  fx_path(f, "copy", copy, sizeof(copy));
  assert_int_equal(rename(copy, p), 0);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 8);
  assert_int_equal(got.hash_state_len, 0);
}

/* A meta written before identities were recorded ("RSPART1") still loads: its partial is kept,
 * its hash state is rebuilt from the bytes. */
static void partial_meta_without_identity_keeps_bytes_not_hash_state(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char meta[256];
  void *h = make_synced(f, "old", msg, 6, 10, &want);
  f->ops->partial_close(f->self, h);
  uint8_t rec[512];
  size_t n = 0;
  memcpy(rec, "RSPART1", 8);
  n = 8;
  for (int i = 7; i >= 0; i--)
    rec[n++] = (uint8_t)(want.total >> (8 * i));
  for (int i = 7; i >= 0; i--)
    rec[n++] = (uint8_t)(want.held >> (8 * i));
  rec[n++] = 1;
  memcpy(rec + n, want.target_sha256, 32);
  n += 32;
  rec[n++] = (uint8_t)(want.hash_state_len >> 8);
  rec[n++] = (uint8_t)want.hash_state_len;
  memcpy(rec + n, want.hash_state, want.hash_state_len);
  n += want.hash_state_len;
  rec[n++] = 0;
  rec[n++] = 3;
  memcpy(rec + n, "old", 3);
  n += 3;
  rs_sha256_digest(rec, n, rec + n);
  n += 32;
  fx_partial_file("old", "meta", meta, sizeof(meta));
  fx_write(f, meta, rec, n);
  fx_restart(f);
  assert_int_equal(f->ops->partial_stat(f->self, "old", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 6);
  assert_int_equal(got.total, 10);
  assert_int_equal(got.has_target, 1);
  assert_int_equal(got.hash_state_len, 0);
}

/* The tus dialect's fields: the client's metadata and a total not known yet survive a restart
 * (the meta is "RSPART3"), and a concatenation part's reserved key is a partial that makes no
 * claim in the key space. */
static void partial_metadata_unknown_total_and_part_keys(void **state)
{
  fixture *f = *state;
  static const char meta[] = "filename YS5iaW4=,note";
  resumable_partial_info info = fx_info(RESUMABLE_LENGTH_UNKNOWN), got;
  memcpy(info.metadata, meta, sizeof(meta) - 1);
  info.metadata_len = sizeof(meta) - 1;
  void *h = NULL;
  const char *part = RESUMABLE_PART_PREFIX "0123456789abcdef0123456789abcdef";
  const char *keys[] = {"d/meta.bin", part};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(
        f->ops->partial_open(f->self, keys[i], RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
        RESUMABLE_OK);
    assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
    info.held = 3;
    assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
    info.held = 0;
    f->ops->partial_close(f->self, h);
  }
  assert_int_equal(fx_count_rel(f, ".resumable/claims"), 1); /* d/meta.bin's claim of "d" */
  fx_restart(f);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(f->ops->partial_stat(f->self, keys[i], &got), RESUMABLE_OK);
    assert_int_equal(got.total, RESUMABLE_LENGTH_UNKNOWN);
    assert_int_equal(got.held, 3);
    assert_int_equal(got.metadata_len, sizeof(meta) - 1);
    assert_memory_equal(got.metadata, meta, sizeof(meta) - 1);
  }
  assert_int_equal(fx_count_rel(f, ".resumable/claims"), 1); /* the rebuild skips the part */
  assert_int_equal(f->ops->partial_remove(f->self, part), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_stat(f->self, part, &got), RESUMABLE_E_NOT_FOUND);
}

static void put_be_bytes(uint8_t *rec, size_t *n, uint64_t v, int len)
{
  for (int i = len - 1; i >= 0; i--)
    rec[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* A meta of the identity's version without metadata ("RSPART2", as written before the tus
 * dialect) still loads, its hash state kept when the identity matches. */
static void partial_meta_of_version_2_keeps_its_hash_state(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  char meta[256], data[256], p[512];
  void *h = make_synced(f, "v2", msg, 6, 10, &want);
  f->ops->partial_close(f->self, h);
  fx_partial_file("v2", "data", data, sizeof(data));
  fx_path(f, data, p, sizeof(p));
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  uint8_t rec[1024];
  size_t n = 0;
  memcpy(rec, "RSPART2", 8);
  n = 8;
  put_be_bytes(rec, &n, want.total, 8);
  put_be_bytes(rec, &n, want.held, 8);
  rec[n++] = 1;
  memcpy(rec + n, want.target_sha256, 32);
  n += 32;
  put_be_bytes(rec, &n, (uint64_t)st.st_dev, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_ino, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_size, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_mtim.tv_sec, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_mtim.tv_nsec, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_ctim.tv_sec, 8);
  put_be_bytes(rec, &n, (uint64_t)st.st_ctim.tv_nsec, 8);
  put_be_bytes(rec, &n, want.hash_state_len, 2);
  memcpy(rec + n, want.hash_state, want.hash_state_len);
  n += want.hash_state_len;
  put_be_bytes(rec, &n, 2, 2);
  memcpy(rec + n, "v2", 2);
  n += 2;
  rs_sha256_digest(rec, n, rec + n);
  n += 32;
  fx_partial_file("v2", "meta", meta, sizeof(meta));
  fx_write(f, meta, rec, n);
  fx_restart(f);
  assert_int_equal(f->ops->partial_stat(f->self, "v2", &got), RESUMABLE_OK);
  assert_same_info(&got, &want);
  assert_int_equal(got.metadata_len, 0);
}

static void partial_sync_discards_bytes_past_held(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(10);
  char data[256];
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abcdefghij", 10), RESUMABLE_OK);
  info.held = 7;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
  fx_partial_file("k", "data", data, sizeof(data));
  assert_int_equal(fx_size(f, data), 7);
  f->ops->partial_close(f->self, h);
}

static void corrupt_meta(fixture *f, const char *key, long at, long truncate_to)
{
  char meta[256], p[512];
  fx_partial_file(key, "meta", meta, sizeof(meta));
  fx_path(f, meta, p, sizeof(p));
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  if (at >= 0) {
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
  }
  if (truncate_to >= 0)
    assert_int_equal(ftruncate(fd, truncate_to), 0);
  close(fd);
}

static void partial_corrupt_meta_is_absent_and_cleaned(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  char meta[256], data[256];
  fx_partial_file("k", "meta", meta, sizeof(meta));
  fx_partial_file("k", "data", data, sizeof(data));
  /* A flipped bit anywhere (here: inside `held`), then a torn (short) write. */
  for (int round = 0; round < 2; round++) {
    void *h = make_synced(f, "k", msg, 6, 10, &info);
    f->ops->partial_close(f->self, h);
    corrupt_meta(f, "k", round == 0 ? 23 : -1, round == 0 ? -1 : 40);
    assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_E_NOT_FOUND);
    assert_false(fx_exists(f, meta));
    assert_false(fx_exists(f, data));
  }
}

static void partial_meta_without_data_is_absent(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  char data[256], p[512];
  void *h = make_synced(f, "k", msg, 6, 10, &info);
  f->ops->partial_close(f->self, h);
  fx_partial_file("k", "data", data, sizeof(data));
  fx_path(f, data, p, sizeof(p));
  assert_int_equal(unlink(p), 0);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_E_NOT_FOUND);
}

static void partial_create_replaces_existing_partial(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  char data[256];
  void *h = make_synced(f, "k", msg, 6, 10, &info);
  f->ops->partial_close(f->self, h);
  resumable_partial_info fresh = fx_info(99);
  fresh.held = 42; /* ignored: a new partial holds nothing */
  assert_int_equal(f->ops->partial_open(f->self, "k", RESUMABLE_PARTIAL_CREATE, &fresh, &h, &got),
                   RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  assert_int_equal(got.held, 0);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.total, 99);
  assert_int_equal(got.held, 0);
  assert_int_equal(got.has_target, 0);
  fx_partial_file("k", "data", data, sizeof(data));
  assert_int_equal(fx_size(f, data), 0);
}

static void partial_commit_publishes_bytes_and_ends_partial(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  resumable_complete_info ci = {.size = 10}, cs;
  char meta[256], data[256], buf[32];
  void *h = make_synced(f, "out/file.bin", msg, 6, 10, &info);
  assert_int_equal(f->ops->partial_write(f->self, h, 6, msg + 6, 4), RESUMABLE_OK);
  rs_sha256_digest(msg, 10, ci.sha256);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);

  assert_int_equal(fx_read(f, "out/file.bin", buf, sizeof(buf)), 10);
  assert_memory_equal(buf, msg, 10);
  assert_int_equal(f->ops->partial_stat(f->self, "out/file.bin", &got), RESUMABLE_E_NOT_FOUND);
  fx_partial_file("out/file.bin", "meta", meta, sizeof(meta));
  fx_partial_file("out/file.bin", "data", data, sizeof(data));
  assert_false(fx_exists(f, meta));
  assert_false(fx_exists(f, data));
  assert_int_equal(f->ops->complete_stat(f->self, "out/file.bin", &cs), RESUMABLE_OK);
  assert_int_equal(cs.size, 10);
  assert_memory_equal(cs.sha256, ci.sha256, 32);
}

static void partial_remove_keeps_complete_file(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  resumable_complete_info cs;
  assert_int_equal(fx_put(f, "k", "old", 3, NULL), RESUMABLE_OK);
  void *h = make_synced(f, "k", msg, 6, 10, &info);
  f->ops->partial_close(f->self, h);
  assert_int_equal(f->ops->partial_remove(f->self, "k"), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_remove(f->self, "k"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_stat(f->self, "k", &cs), RESUMABLE_OK);
  assert_int_equal(cs.size, 3);
  assert_int_equal(fx_count_rel(f, ".resumable/partial"), 0);
}

static void staging_close_without_commit_leaves_nothing(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(UINT64_MAX), got;
  void *h = NULL;
  assert_int_equal(
      f->ops->partial_open(f->self, "st/k", RESUMABLE_PARTIAL_STAGING, &info, &h, &got),
      RESUMABLE_OK);
  assert_int_equal(got.held, 0);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "bytes", 5), RESUMABLE_OK);
  assert_int_equal(fx_count_rel(f, ".resumable/tmp"), 1);
  assert_int_equal(f->ops->partial_stat(f->self, "st/k", &got), RESUMABLE_E_NOT_FOUND);
  f->ops->partial_close(f->self, h);
  assert_int_equal(fx_count_rel(f, ".resumable/tmp"), 0);
  assert_int_equal(fx_count_rel(f, ".resumable/partial"), 0);
  assert_false(fx_exists(f, "st"));
}

static void staging_commit_leaves_no_temp_file(void **state)
{
  fixture *f = *state;
  char buf[16];
  assert_int_equal(fx_put(f, "whole", "payload", 7, NULL), RESUMABLE_OK);
  assert_int_equal(fx_read(f, "whole", buf, sizeof(buf)), 7);
  assert_memory_equal(buf, "payload", 7);
  assert_int_equal(fx_count_rel(f, ".resumable/tmp"), 0);
}

/* A pid that certainly belonged to a process that has exited. */
static pid_t dead_pid(void)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  return pid;
}

/* A temp file is live while some process holds its lock, whatever its name says: one named for
 * this very process but unlocked is a dead process's leftover too (pids mean nothing across
 * hosts, and get reused). */
static void startup_clears_unlocked_temp_files(void **state)
{
  fixture *f = *state;
  char a[128], b[128], mine[128];
  pid_t gone = dead_pid();
  snprintf(a, sizeof(a), ".resumable/tmp/stage-%lx-1-2", (unsigned long)gone);
  snprintf(b, sizeof(b), ".resumable/tmp/meta-%lx-3-4", (unsigned long)gone);
  snprintf(mine, sizeof(mine), ".resumable/tmp/stage-%lx-5-6", (unsigned long)getpid());
  fx_write(f, a, "x", 1);
  fx_write(f, b, "", 0);
  fx_write(f, ".resumable/tmp/unparsable", "y", 1);
  fx_write(f, mine, "z", 1);
  fx_write(f, ".resumable/partial/orphan.data", "junk", 4);
  fx_restart(f);
  assert_false(fx_exists(f, a));
  assert_false(fx_exists(f, b));
  assert_false(fx_exists(f, ".resumable/tmp/unparsable"));
  assert_false(fx_exists(f, mine));
  assert_int_equal(fx_count_rel(f, ".resumable/partial"), 0);
}

/* A temp file whose name carries a dead pid, locked by a live process (as another host's
 * server would hold it): kept. Once that process is gone, removed. */
static void startup_keeps_temp_files_locked_by_a_live_process(void **state)
{
  fixture *f = *state;
  char rel[128], path[512];
  int ready[2], stop[2];
  snprintf(rel, sizeof(rel), ".resumable/tmp/stage-%lx-7-8", (unsigned long)dead_pid());
  fx_write(f, rel, "z", 1);
  fx_path(f, rel, path, sizeof(path));
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(stop), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    /* Holds no pipe of the test runner's open, and ends when the parent's end of `stop` does
     * (the parent exits, or writes): a failed assertion in the parent never leaves it behind. */
    close(1);
    close(2);
    close(ready[0]);
    close(stop[1]);
    int fd = open(path, O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    char c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1 || read(stop[0], &c, 1) < 0)
      _exit(1);
    _exit(0);
  }
  char c = 0;
  assert_int_equal(read(ready[0], &c, 1), 1);
  assert_int_equal(c, 'y');
  fx_restart(f);
  assert_true(fx_exists(f, rel));
  assert_int_equal(write(stop[1], "x", 1), 1);
  assert_int_equal(waitpid(child, NULL, 0), child);
  fx_restart(f);
  assert_false(fx_exists(f, rel));
  close(ready[0]);
  close(ready[1]);
  close(stop[0]);
  close(stop[1]);
}

static void second_store_on_same_root_keeps_live_staging_file(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(2);
  resumable_complete_info ci = {.size = 2};
  resumable_store *other = NULL;
  void *h = NULL;
  char buf[4];
  rs_sha256_digest("hi", 2, ci.sha256);
  assert_int_equal(
      f->ops->partial_open(f->self, "live", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "hi", 2), RESUMABLE_OK);
  assert_int_equal(resumable_store_fs_new(&other, f->root), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  resumable_store_free(other);
  assert_int_equal(fx_read(f, "live", buf, sizeof(buf)), 2);
}

static void partial_sync_refused_on_staging(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(5);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, "s", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_STATE);
  f->ops->partial_close(f->self, h);
}

/* A meta file is bound to its key: one copied under another key's name is not used. */
static void partial_meta_of_another_key_is_absent(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  char src[256], dst[256], from[512], to[512];
  void *h = make_synced(f, "a", msg, 6, 10, &info);
  f->ops->partial_close(f->self, h);
  static const char *ext[] = {"meta", "data"};
  for (int i = 0; i < 2; i++) {
    fx_partial_file("a", ext[i], src, sizeof(src));
    fx_partial_file("b", ext[i], dst, sizeof(dst));
    fx_path(f, src, from, sizeof(from));
    fx_path(f, dst, to, sizeof(to));
    assert_int_equal(link(from, to), 0);
  }
  assert_int_equal(f->ops->partial_stat(f->self, "b", &got), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_stat(f->self, "a", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 6);
}

static long slurp(const fixture *f, const char *rel, uint8_t *buf, size_t cap)
{
  long n = fx_read(f, rel, buf, cap);
  assert_true(n > 0 && (size_t)n < cap);
  return n;
}

/* Whatever single byte of the meta is damaged, the partial is treated as absent. */
static void partial_meta_damaged_at_any_byte_is_absent(void **state)
{
  fixture *f = *state;
  const uint8_t msg[] = "0123456789";
  resumable_partial_info info, got;
  char meta[256], data[256];
  uint8_t good[2048], bad[2048];
  void *h = make_synced(f, "any/key", msg, 6, 10, &info);
  f->ops->partial_close(f->self, h);
  fx_partial_file("any/key", "meta", meta, sizeof(meta));
  fx_partial_file("any/key", "data", data, sizeof(data));
  long n = slurp(f, meta, good, sizeof(good));
  for (long i = 0; i < n; i++) {
    memcpy(bad, good, (size_t)n);
    bad[i] ^= (uint8_t)(1u << (i % 8));
    fx_write(f, meta, bad, (size_t)n);
    fx_write(f, data, msg, 6);
    assert_int_equal(f->ops->partial_stat(f->self, "any/key", &got), RESUMABLE_E_NOT_FOUND);
    assert_false(fx_exists(f, data));
  }
  fx_write(f, meta, good, (size_t)n);
  fx_write(f, data, msg, 6);
  assert_int_equal(f->ops->partial_stat(f->self, "any/key", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 6);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(partial_synced_state_survives_restart),
      T(partial_absent_is_not_found),
      T(partial_meta_ahead_of_data_shrinks_held_and_drops_hash),
      T(partial_unsynced_tail_is_cut_on_open),
      T(partial_data_changed_in_place_drops_hash_state),
      T(partial_data_replaced_by_a_copy_drops_hash_state),
      T(partial_meta_without_identity_keeps_bytes_not_hash_state),
      T(partial_sync_discards_bytes_past_held),
      T(partial_corrupt_meta_is_absent_and_cleaned),
      T(partial_meta_damaged_at_any_byte_is_absent),
      T(partial_metadata_unknown_total_and_part_keys),
      T(partial_meta_of_version_2_keeps_its_hash_state),
      T(partial_meta_without_data_is_absent),
      T(partial_meta_of_another_key_is_absent),
      T(partial_create_replaces_existing_partial),
      T(partial_commit_publishes_bytes_and_ends_partial),
      T(partial_remove_keeps_complete_file),
      T(staging_close_without_commit_leaves_nothing),
      T(staging_commit_leaves_no_temp_file),
      T(startup_clears_unlocked_temp_files),
      T(startup_keeps_temp_files_locked_by_a_live_process),
      T(second_store_on_same_root_keeps_live_staging_file),
      T(partial_sync_refused_on_staging),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
