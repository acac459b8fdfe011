/* Storage faults through the real handler on the real POSIX store (exchange API, no wire):
 * disk full, quota and I/O errors on writes, syncs and renames at chosen points. After every
 * fault: the status is 507 (ENOSPC, EDQUOT) or 500 (EIO, with a log line), HEAD reports only
 * bytes that were durable, the data file's prefix is right, the final path holds an older
 * complete file or the new verified one (never a short one), and once the fault is lifted the
 * upload resumes and completes with the right hash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_fixture.h"
#include "test_fs.h"
#include "resumable/error.h"

#define SIZE (256u * 1024u)
#define HALF (SIZE / 2)
#define PIECE (16u * 1024u)

typedef struct hfix {
  char root[64];
  resumable_server *srv;
  uint8_t v1[SIZE], v2[SIZE];
  char h1[65], h2[65];
} hfix;

static int setup(void **state)
{
  hfix *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  ff_mkroot(f->root, sizeof(f->root));
  assert_int_equal(resumable_server_new(&f->srv, f->root), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_log(f->srv, ff_log_fn, NULL), RESUMABLE_OK);
  ff_fill(f->v1, SIZE, 1);
  ff_fill(f->v2, SIZE, 2);
  ff_sha_hex(f->v1, SIZE, f->h1);
  ff_sha_hex(f->v2, SIZE, f->h2);
  rs_fault_lift();
  ff_log_reset();
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  hfix *f = *state;
  rs_fault_lift();
  resumable_server_free(f->srv);
  (void)test_remove_tree(f->root);
  free(f);
  return 0;
}

static int status_for(int err)
{
  return err == EIO ? 500 : 507;
}

/* PUT data[start..end] of a SIZE-byte upload bound to hash. */
static ff_result put_range(hfix *f, const char *key, const uint8_t *data, const char *hash,
                           uint64_t start, uint64_t end)
{
  char range[96];
  snprintf(range, sizeof(range), "bytes %llu-%llu/%u", (unsigned long long)start,
           (unsigned long long)end, SIZE);
  return ff_run(f->srv, "PUT", key, range, hash, data + start, (size_t)(end - start + 1), PIECE);
}

static ff_result head(hfix *f, const char *key)
{
  return ff_run(f->srv, "HEAD", key, NULL, NULL, NULL, 0, 1);
}

/* What the partial holds per HEAD (the complete file's hash is absent while partial). */
static long long held_of(hfix *f, const char *key)
{
  ff_result h = head(f, key);
  assert_int_equal(h.status, 200);
  assert_string_equal(h.sha, "");
  return h.file_size;
}

/* The partial's data file starts with the held bytes of `data`. */
static void assert_partial_prefix(hfix *f, const char *key, const uint8_t *data, size_t held)
{
  char rel[128];
  size_t len = 0;
  ff_partial_data(key, rel, sizeof(rel));
  uint8_t *got = ff_read(f->root, rel, &len);
  assert_non_null(got);
  assert_true(len >= held);
  assert_memory_equal(got, data, held);
  free(got);
}

/* The file at the final path, if any, is exactly `a` or exactly `b` (b may be NULL). Returns
 * 0 if absent, 1 for a, 2 for b. */
static int final_is(hfix *f, const char *key, const uint8_t *a, const uint8_t *b)
{
  size_t len = 0;
  uint8_t *got = ff_read(f->root, key, &len);
  if (!got)
    return 0;
  int which = a && len == SIZE && memcmp(got, a, SIZE) == 0   ? 1
              : b && len == SIZE && memcmp(got, b, SIZE) == 0 ? 2
                                                              : -1;
  free(got);
  assert_int_not_equal(which, -1); /* never a short or foreign file */
  return which;
}

/* Resume as a client would (probe, continue from what is held) until the upload is complete;
 * then the final file is exactly `data` and HEAD reports its hash. */
static void finish_upload(hfix *f, const char *key, const uint8_t *data, const char *hash)
{
  for (int round = 0; round < 4; round++) {
    ff_result h = head(f, key);
    if (h.status == 200 && strcmp(h.sha, hash) == 0)
      break;
    uint64_t from = h.status == 200 && h.sha[0] == '\0' ? (uint64_t)h.file_size : 0;
    if (from == SIZE) /* every byte held, commit pending: finish without a body (step 5) */
      from = 0;
    ff_result p = put_range(f, key, data, hash, from, SIZE - 1);
    assert_true(p.status == 200 || p.status == 308);
  }
  ff_result h = head(f, key);
  assert_int_equal(h.status, 200);
  assert_string_equal(h.sha, hash);
  assert_int_equal(h.file_size, SIZE);
  assert_int_equal(final_is(f, key, data, NULL), 1);
}

/* A disk that fills mid-chunk: the partial's meta cannot be rewritten either, so the last 308
 * is what stands. */
static void fill_mid_chunk(hfix *f, int err)
{
  assert_int_equal(put_range(f, "k", f->v1, f->h1, 0, HALF - 1).status, 308);
  rs_fault_fail_after_bytes(40000, err);
  ff_result r = put_range(f, "k", f->v1, f->h1, HALF, SIZE - 1);
  assert_int_equal(r.status, status_for(err));
  assert_true(rs_fault_fired(RS_FAULT_WRITE) > 0);
  assert_true(r.received < SIZE - HALF); /* stopped reading at the fault */
  assert_int_equal(held_of(f, "k"), HALF);
  assert_partial_prefix(f, "k", f->v1, HALF);
  assert_false(ff_exists(f->root, "k"));
  rs_fault_lift();
  finish_upload(f, "k", f->v1, f->h1);
}

static void chunk_write_enospc_is_507_and_keeps_the_synced_prefix(void **state)
{
  fill_mid_chunk(*state, ENOSPC);
}

static void chunk_write_edquot_is_507_like_enospc(void **state)
{
  fill_mid_chunk(*state, EDQUOT);
}

static void chunk_write_eio_is_500_with_a_log_line(void **state)
{
  hfix *f = *state;
  fill_mid_chunk(f, EIO);
  assert_true(ff_log_has_error("PUT /k: store write failed"));
}

/* One failed write, then the disk recovers: the bytes written before it are made durable and
 * reported, no more and no less. */
static void chunk_write_fault_keeps_exactly_the_bytes_before_it(void **state)
{
  hfix *f = *state;
  assert_int_equal(put_range(f, "k", f->v1, f->h1, 0, HALF - 1).status, 308);
  rs_fault_fail_call(RS_FAULT_WRITE, 3, 1, ENOSPC); /* pieces 1 and 2 land, 3 fails */
  assert_int_equal(put_range(f, "k", f->v1, f->h1, HALF, SIZE - 1).status, 507);
  assert_int_equal(held_of(f, "k"), HALF + 2 * PIECE);
  assert_partial_prefix(f, "k", f->v1, HALF + 2 * PIECE);
  rs_fault_lift();
  finish_upload(f, "k", f->v1, f->h1);
}

/* partial_sync before a 308 makes three syncs: the data, the new meta, the directory. A fault
 * at any of them fails the request; HEAD then reports a held count whose bytes were synced. */
static void sync_fault_before_308_never_reports_undurable_bytes(void **state)
{
  hfix *f = *state;
  static const int errs[] = {ENOSPC, EIO, EDQUOT};
  for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
    for (unsigned nth = 1; nth <= 3; nth++) {
      char key[32];
      snprintf(key, sizeof(key), "s%zu-%u", e, nth);
      assert_int_equal(put_range(f, key, f->v1, f->h1, 0, 0).status, 308);
      ff_log_reset();
      rs_fault_fail_call(RS_FAULT_SYNC, nth, 0, errs[e]);
      ff_result r = put_range(f, key, f->v1, f->h1, 1, HALF - 1);
      assert_int_equal(r.status, status_for(errs[e]));
      assert_int_equal(rs_fault_fired(RS_FAULT_SYNC), 1);
      assert_true(ff_log_has_error("store sync failed"));
      long long held = held_of(f, key);
      /* the data sync failed: only the old byte; the meta not in place: still the old byte;
       * the meta renamed but its directory not synced: the new count, whose data was synced */
      assert_int_equal(held, nth < 3 ? 1 : HALF);
      assert_partial_prefix(f, key, f->v1, (size_t)held);
      rs_fault_lift();
      finish_upload(f, key, f->v1, f->h1);
    }
  }
}

/* The commit: fsync of the data, rename of the data, sidecar (fsync, rename, fsync dir), fsync
 * of the directory, then the meta's removal. A fault at any call leaves at the final path the
 * older complete file, or (only after the rename itself) the new verified one. */
static void commit_fault_keeps_the_old_file_or_places_the_verified_new_one(hfix *f,
                                                                           rs_fault_kind kind,
                                                                           int err, unsigned times)
{
  int failed = 0, kept_old = 0;
  for (unsigned nth = 1; nth <= 8; nth++) {
    char key[48];
    snprintf(key, sizeof(key), "c%d-%d-%u-%u", (int)kind, err, times, nth);
    assert_int_equal(ff_run(f->srv, "PUT", key, NULL, f->h1, f->v1, SIZE, PIECE).status, 200);
    assert_int_equal(put_range(f, key, f->v2, f->h2, 0, HALF - 1).status, 308);
    rs_fault_fail_call(kind, nth, times, err);
    ff_result r = put_range(f, key, f->v2, f->h2, HALF, SIZE - 1);
    int fired = rs_fault_fired(kind) > 0;
    if (r.status == 200) {
      /* the fault point lies past the commit's checked calls: done with this kind */
      assert_string_equal(r.sha, f->h2);
      assert_int_equal(final_is(f, key, f->v2, NULL), 1);
      rs_fault_lift();
      break;
    }
    assert_true(fired);
    assert_int_equal(r.status, status_for(err));
    failed++;
    int which = final_is(f, key, f->v1, f->v2);
    assert_int_not_equal(which, 0);
    kept_old += which == 1;
    ff_result h = head(f, key);
    assert_int_equal(h.status, 200);
    if (which == 1) { /* still faulty: v1 is served with its own hash, whatever the sidecar */
      ff_result g = ff_run(f->srv, "GET", key, NULL, NULL, NULL, 0, 1);
      assert_int_equal(g.status, 200);
      assert_string_equal(g.sha, f->h1);
    }
    if (which == 2) { /* renamed: the new file is complete and its hash recorded */
      assert_string_equal(h.sha, f->h2);
    } else if (times == 0) { /* v1 still served; the disk stays bad: the last 308 stands */
      assert_string_equal(h.sha, "");
      assert_int_equal(h.file_size, HALF);
    } else if (kind == RS_FAULT_SYNC && nth == 1) { /* the data's fsync failed: its bytes */
      assert_string_equal(h.sha, "");               /* since the last 308 are not trusted */
      assert_int_equal(h.file_size, HALF);
    } else { /* a passing fault elsewhere: the handler kept every byte, commit pending */
      assert_string_equal(h.sha, "");
      assert_int_equal(h.file_size, SIZE);
    }
    rs_fault_lift();
    finish_upload(f, key, f->v2, f->h2);
  }
  assert_true(failed >= 2);
  assert_true(kept_old >= 1); /* the data's fsync or rename: before the file is placed */
}

/* Each errno, with a fault that stays (a full disk) and one that passes (a single bad call). */
static void commit_faults(hfix *f, rs_fault_kind kind)
{
  static const int errs[] = {ENOSPC, EIO, EDQUOT};
  for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++)
    for (unsigned times = 0; times <= 1; times++)
      commit_fault_keeps_the_old_file_or_places_the_verified_new_one(f, kind, errs[e], times);
}

static void commit_sync_fault_never_leaves_a_short_file(void **state)
{
  commit_faults(*state, RS_FAULT_SYNC);
}

static void commit_rename_fault_keeps_the_old_complete_file(void **state)
{
  commit_faults(*state, RS_FAULT_RENAME);
}

/* Whole-file PUT: the disk fills while staging. No staging file stays, nothing appears at the
 * final path, an older complete file is kept. */
static void whole_file_put_enospc_leaves_no_staging_and_no_final_file(void **state)
{
  hfix *f = *state;
  rs_fault_fail_after_bytes(SIZE / 3, ENOSPC);
  ff_result r = ff_run(f->srv, "PUT", "w", NULL, f->h1, f->v1, SIZE, PIECE);
  assert_int_equal(r.status, 507);
  assert_int_equal(ff_tmp_count(f->root), 0);
  assert_false(ff_exists(f->root, "w"));
  assert_int_equal(head(f, "w").status, 404);
  rs_fault_lift();
  assert_int_equal(ff_run(f->srv, "PUT", "w", NULL, f->h1, f->v1, SIZE, PIECE).status, 200);
  rs_fault_fail_after_bytes(SIZE / 3, EDQUOT);
  assert_int_equal(ff_run(f->srv, "PUT", "w", NULL, f->h2, f->v2, SIZE, PIECE).status, 507);
  assert_int_equal(ff_tmp_count(f->root), 0);
  assert_int_equal(final_is(f, "w", f->v1, NULL), 1);
  ff_result h = head(f, "w");
  assert_int_equal(h.status, 200);
  assert_string_equal(h.sha, f->h1);
}

/* Whole-file PUT failing in its commit: same promises, for every sync and rename point. */
static void whole_file_put_commit_fault_leaves_no_staging(void **state)
{
  hfix *f = *state;
  for (int kind = RS_FAULT_SYNC; kind <= RS_FAULT_RENAME; kind++) {
    for (unsigned nth = 1; nth <= 8; nth++) {
      char key[32];
      snprintf(key, sizeof(key), "w%d-%u", kind, nth);
      assert_int_equal(ff_run(f->srv, "PUT", key, NULL, f->h1, f->v1, SIZE, PIECE).status, 200);
      rs_fault_fail_call((rs_fault_kind)kind, nth, 0, EIO);
      ff_result r = ff_run(f->srv, "PUT", key, NULL, f->h2, f->v2, SIZE, PIECE);
      rs_fault_lift();
      assert_int_equal(ff_tmp_count(f->root), 0);
      if (r.status == 200) {
        assert_int_equal(final_is(f, key, f->v2, NULL), 1);
        break;
      }
      assert_int_equal(r.status, 500);
      assert_int_not_equal(final_is(f, key, f->v1, f->v2), 0);
      ff_result again = ff_run(f->srv, "PUT", key, NULL, f->h2, f->v2, SIZE, PIECE);
      assert_int_equal(again.status, 200);
      assert_int_equal(final_is(f, key, f->v2, NULL), 1);
    }
  }
}

/* The commit's fsync of the data fails once, and a second fsync would pass (Linux reports a
 * writeback error once, then marks the pages clean). The bytes since the last 308 may be gone:
 * they must not be kept as held, or a later commit would place a file whose content does not
 * match the hash recorded for it. */
static void commit_data_fsync_failure_is_never_trusted_later(void **state)
{
  hfix *f = *state;
  assert_int_equal(ff_run(f->srv, "PUT", "t", NULL, f->h1, f->v1, SIZE, PIECE).status, 200);
  assert_int_equal(put_range(f, "t", f->v2, f->h2, 0, HALF - 1).status, 308);
  rs_fault_fail_call(RS_FAULT_SYNC, 1, 1, EIO);
  assert_int_equal(put_range(f, "t", f->v2, f->h2, HALF, SIZE - 1).status, 500);
  assert_int_equal(rs_fault_fired(RS_FAULT_SYNC), 1);
  assert_int_equal(held_of(f, "t"), HALF);
  assert_int_equal(final_is(f, "t", f->v1, NULL), 1);
  rs_fault_lift();
  finish_upload(f, "t", f->v2, f->h2);
}

/* The disk is full before the first byte: creating the partial (its meta) fails, and nothing
 * is left behind for the key. */
static void create_on_a_full_disk_is_507_and_leaves_nothing(void **state)
{
  hfix *f = *state;
  rs_fault_fail_after_bytes(0, ENOSPC);
  assert_int_equal(put_range(f, "n", f->v1, f->h1, 0, HALF - 1).status, 507);
  assert_int_equal(head(f, "n").status, 404);
  char rel[128];
  ff_partial_data("n", rel, sizeof(rel));
  assert_false(ff_exists(f->root, rel));
  assert_int_equal(ff_tmp_count(f->root), 0);
  rs_fault_lift();
  finish_upload(f, "n", f->v1, f->h1);
}

/* A newer request supersedes one still sending: the older one's bytes are synced first. When
 * that sync fails, the newer request is 507, the older one 423, and the partial keeps what was
 * durable before either. */
static void superseding_sync_failure_keeps_the_durable_state(void **state)
{
  hfix *f = *state;
  resumable_exchange *a = NULL;
  char range[64];
  assert_int_equal(put_range(f, "p", f->v1, f->h1, 0, PIECE - 1).status, 308);
  snprintf(range, sizeof(range), "bytes %u-%u/%u", PIECE, SIZE - 1, SIZE);
  assert_int_equal(resumable_exchange_begin(f->srv, "PUT", "/v1/files/p", &a), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(a, "Content-Range", range), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(a, "X-Content-SHA256", f->h1), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_headers_done(a), 0);
  assert_int_equal(resumable_exchange_feed(a, f->v1 + PIECE, 2 * PIECE), 0);
  rs_fault_fail_call(RS_FAULT_SYNC, 1, 0, ENOSPC);
  assert_int_equal(put_range(f, "p", f->v1, f->h1, 3 * PIECE, SIZE - 1).status, 507);
  assert_int_equal(resumable_exchange_feed(a, f->v1 + 3 * PIECE, PIECE), 1);
  assert_int_equal(resumable_exchange_end(a, RESUMABLE_BODY_DROPPED), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(a), 423);
  resumable_exchange_free(a);
  assert_int_equal(held_of(f, "p"), PIECE);
  assert_partial_prefix(f, "p", f->v1, PIECE);
  rs_fault_lift();
  finish_upload(f, "p", f->v1, f->h1);
}

/* A commit makes the key's missing directories and syncs each parent. When that sync fails,
 * the directory must not stay behind: a retry would find it, trust it and never sync its entry,
 * so a crash could lose a file already answered with 200. */
static void commit_dir_sync_fault_leaves_no_unsynced_directory(void **state)
{
  hfix *f = *state;
  /* syncs of the commit: 1 the data, 2 the root after mkdir d1, 3 d1 after mkdir d2 */
  rs_fault_fail_call(RS_FAULT_SYNC, 2, 1, EIO);
  assert_int_equal(ff_run(f->srv, "PUT", "d1/d2/f", NULL, f->h1, f->v1, SIZE, PIECE).status, 500);
  assert_int_equal(rs_fault_fired(RS_FAULT_SYNC), 1);
  assert_false(ff_exists(f->root, "d1"));
  rs_fault_fail_call(RS_FAULT_SYNC, 3, 1, EIO);
  assert_int_equal(ff_run(f->srv, "PUT", "d1/d2/f", NULL, f->h1, f->v1, SIZE, PIECE).status, 500);
  assert_int_equal(rs_fault_fired(RS_FAULT_SYNC), 1);
  assert_true(ff_exists(f->root, "d1"));
  assert_false(ff_exists(f->root, "d1/d2"));
  assert_int_equal(ff_tmp_count(f->root), 0);
  rs_fault_lift();
  assert_int_equal(ff_run(f->srv, "PUT", "d1/d2/f", NULL, f->h1, f->v1, SIZE, PIECE).status, 200);
  size_t len = 0;
  uint8_t *got = ff_read(f->root, "d1/d2/f", &len);
  assert_non_null(got);
  assert_int_equal(len, SIZE);
  assert_memory_equal(got, f->v1, SIZE);
  free(got);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(chunk_write_enospc_is_507_and_keeps_the_synced_prefix),
      T(chunk_write_edquot_is_507_like_enospc),
      T(chunk_write_eio_is_500_with_a_log_line),
      T(chunk_write_fault_keeps_exactly_the_bytes_before_it),
      T(sync_fault_before_308_never_reports_undurable_bytes),
      T(commit_sync_fault_never_leaves_a_short_file),
      T(commit_rename_fault_keeps_the_old_complete_file),
      T(whole_file_put_enospc_leaves_no_staging_and_no_final_file),
      T(whole_file_put_commit_fault_leaves_no_staging),
      T(commit_dir_sync_fault_leaves_no_unsynced_directory),
      T(commit_data_fsync_failure_is_never_trusted_later),
      T(create_on_a_full_disk_is_507_and_leaves_nothing),
      T(superseding_sync_failure_keeps_the_durable_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
