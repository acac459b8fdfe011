/* The handler with hashing off the receive path (hash threads on; argv[1] sets how many): every
 * decision that reads the running hash sees exactly the bytes written, whatever is still queued
 * when it is taken. Multi-MiB bodies so that buffers really queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_store.h"
#include "hex.h"
#include "resumable/error.h"
#include "resumable/server.h"
#include "server_internal.h"
#include "sha256.h"

#define MIB ((size_t)1 << 20)
#define PATH "/v1/files/big/file.bin"
#define KEY "big/file.bin"

static unsigned g_threads = 2;

typedef struct fixture {
  fake_store f;
  resumable_server *srv;
  uint8_t *data; /* the upload's bytes */
  size_t len;
  char hash[65];
} fixture;

static void fill_bytes(uint8_t *d, size_t n, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    d[i] = (uint8_t)(x >> 7);
  }
}

static int setup(void **state)
{
  fixture *fx = calloc(1, sizeof(*fx));
  resumable_store *st = fake_store_new(&fx->f);
  assert_non_null(st);
  assert_int_equal(resumable_server_new_with_store(&fx->srv, st), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_hash_threads(fx->srv, g_threads), RESUMABLE_OK);
  /* Checkpoints by size alone, so that when they happen does not depend on the clock. */
  assert_int_equal(resumable_server_set_checkpoint(fx->srv, (uint64_t)64 << 20, 0), RESUMABLE_OK);
  fx->len = 6 * MIB + 12345; /* more than one pipe's buffers */
  fx->data = malloc(fx->len);
  fill_bytes(fx->data, fx->len, 42);
  uint8_t d[32];
  rs_sha256_digest(fx->data, fx->len, d);
  rs_sha256_hex_format(d, fx->hash);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fixture *fx = *state;
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(fx->srv->hash_pool, &st);
  assert_int_equal(st.in_use, 0); /* every exchange ended: no buffer held */
  assert_true(st.peak <= RS_HASH_PER_THREAD * g_threads);
  resumable_server_free(fx->srv);
  assert_int_equal(fx->f.open_handles, 0);
  fake_store_clear(&fx->f);
  free(fx->data);
  free(fx);
  return 0;
}

/* A chunk PUT of data[start..end] (of fx->len) with headers in; returns the exchange after
 * headers_done (asserting it wants the body). */
static resumable_exchange *begin_chunk(fixture *fx, size_t start, size_t end, const char *hash)
{
  char range[96], cl[32];
  snprintf(range, sizeof(range), "bytes %zu-%zu/%zu", start, end, fx->len);
  snprintf(cl, sizeof(cl), "%zu", end - start + 1);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Range", range);
  resumable_exchange_add_header(ex, "Content-Length", cl);
  if (hash)
    resumable_exchange_add_header(ex, "X-Content-SHA256", hash);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  return ex;
}

/* Feed data[from..to) in uneven pieces (odd sizes, tiny ones, pieces larger than a buffer). */
static int feed(resumable_exchange *ex, const uint8_t *data, size_t from, size_t to)
{
  static const size_t sizes[] = {100000, 1, 7, 3 * MIB + 5, 4096, 65536, MIB};
  size_t i = 0;
  while (from < to) {
    size_t n = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];
    n = n < to - from ? n : to - from;
    int rc = resumable_exchange_feed(ex, data + from, n);
    if (rc != 0)
      return rc;
    from += n;
  }
  return 0;
}

static int finish(resumable_exchange *ex, resumable_body_end how)
{
  assert_int_equal(resumable_exchange_end(ex, how), RESUMABLE_OK);
  int st = resumable_exchange_status(ex);
  resumable_exchange_free(ex);
  return st;
}

/* The stored partial holds data[0..held) and a hash state of exactly those bytes. */
static void assert_partial_consistent(fixture *fx, size_t held)
{
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_non_null(s);
  assert_true(s->has_partial);
  assert_int_equal(s->pi.held, held);
  assert_memory_equal(s->pdata, fx->data, held);
  rs_sha256 h;
  assert_int_equal(rs_sha256_import(&h, s->pi.hash_state, s->pi.hash_state_len), 0);
  assert_int_equal(rs_sha256_length(&h), held);
  uint8_t got[32], want[32];
  rs_sha256_finish(&h, got);
  rs_sha256_digest(fx->data, held, want);
  assert_memory_equal(got, want, 32);
}

static void pipe_final_check_sees_every_queued_byte(void **state)
{
  fixture *fx = *state;
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, fx->len), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 200);
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(fx->srv->hash_pool, &st);
  if (g_threads > 0) { /* the bytes went through the pool's buffers, within a pipe's bound */
    assert_true(st.peak >= 1);
    assert_true(st.peak <= RS_HASH_PER_PIPE);
  }
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_true(s->has_complete);
  assert_int_equal(s->clen, fx->len);
  uint8_t want[32];
  rs_sha256_digest(fx->data, fx->len, want);
  assert_memory_equal(s->ci.sha256, want, 32);
}

static void pipe_final_check_catches_a_changed_last_byte(void **state)
{
  fixture *fx = *state;
  fake_put_complete(&fx->f, KEY, "old", 3);
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, fx->len - 1), 0);
  uint8_t last = (uint8_t)(fx->data[fx->len - 1] ^ 1);
  assert_int_equal(resumable_exchange_feed(ex, &last, 1), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 400);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_false(s->has_partial);
  assert_int_equal(s->clen, 3); /* the old complete file stays */
}

static void pipe_308_saves_state_of_exactly_the_synced_bytes(void **state)
{
  fixture *fx = *state;
  size_t cut = 3 * MIB + 777;
  resumable_exchange *ex = begin_chunk(fx, 0, cut - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, cut), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 308);
  assert_partial_consistent(fx, cut);
  ex = begin_chunk(fx, cut, fx->len - 1, fx->hash); /* resumes on the saved state */
  assert_int_equal(feed(ex, fx->data, cut, fx->len), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 200);
  assert_int_equal(fx->f.reads, 0); /* no rebuild: the state was right */
}

static void pipe_64_mib_sync_saves_state_of_exactly_the_synced_bytes(void **state)
{
  fixture *fx = *state;
  free(fx->data);
  fx->len = 66 * MIB;
  fx->data = malloc(fx->len);
  fill_bytes(fx->data, fx->len, 7);
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, NULL);
  assert_int_equal(feed(ex, fx->data, 0, 64 * MIB + 3), 0);
  assert_int_equal(fx->f.syncs, 1); /* taken mid-body, with bytes queued for the hash */
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_true(s->pi.held >= 64 * MIB);
  assert_partial_consistent(fx, (size_t)s->pi.held);
  assert_int_equal(finish(ex, RESUMABLE_BODY_DROPPED), 400); /* short body */
  assert_partial_consistent(fx, 64 * MIB + 3);
}

static void pipe_superseding_request_continues_after_older_bytes_hashed(void **state)
{
  fixture *fx = *state;
  size_t cut = 2 * MIB + 99;
  resumable_exchange *old = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(old, fx->data, 0, cut), 0);
  /* the newer request is judged against held == cut; the older bytes are synced first */
  resumable_exchange *newer = begin_chunk(fx, cut, fx->len - 1, fx->hash);
  assert_partial_consistent(fx, cut);
  assert_int_equal(resumable_exchange_feed(old, fx->data + cut, 10), 1);
  assert_int_equal(resumable_exchange_status(old), 423);
  assert_int_equal(feed(newer, fx->data, cut, fx->len), 0);
  assert_int_equal(finish(old, RESUMABLE_BODY_COMPLETE), 423);
  assert_int_equal(finish(newer, RESUMABLE_BODY_COMPLETE), 200);
  assert_memory_equal(fake_slot_of(&fx->f, KEY)->cdata, fx->data, fx->len);
}

static void pipe_restart_at_zero_discards_older_queued_bytes(void **state)
{
  fixture *fx = *state;
  resumable_exchange *old = begin_chunk(fx, 0, fx->len - 1, NULL);
  assert_int_equal(feed(old, fx->data + 5, 0, 3 * MIB), 0);              /* other bytes, no hash */
  resumable_exchange *newer = begin_chunk(fx, 0, fx->len - 1, fx->hash); /* drops them */
  assert_int_equal(feed(newer, fx->data, 0, fx->len), 0);
  assert_int_equal(finish(newer, RESUMABLE_BODY_COMPLETE), 200);
  assert_int_equal(finish(old, RESUMABLE_BODY_COMPLETE), 423);
}

static void pipe_dropped_connection_keeps_bytes_and_matching_state(void **state)
{
  fixture *fx = *state;
  size_t cut = MIB + MIB / 2 + 7;
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, cut), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_DROPPED), 400); /* short body */
  assert_partial_consistent(fx, cut);
}

static void pipe_freed_without_end_keeps_bytes_and_matching_state(void **state)
{
  fixture *fx = *state;
  size_t cut = 4 * MIB + 1;
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, cut), 0);
  resumable_exchange_free(ex); /* host gave up on the connection */
  assert_partial_consistent(fx, cut);
}

static void pipe_write_error_with_bytes_queued_keeps_the_good_prefix(void **state)
{
  fixture *fx = *state;
  size_t cut = 3 * MIB + 5;
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, cut), 0);
  fx->f.fail_write = RESUMABLE_E_NOSPACE;
  assert_int_equal(resumable_exchange_feed(ex, fx->data + cut, 1000), 1);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 507);
  assert_partial_consistent(fx, cut);
  fx->f.fail_write = 0;
  ex = begin_chunk(fx, cut, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, cut, fx->len), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 200);
}

static void pipe_sync_error_with_bytes_queued_falls_back_to_last_durable_state(void **state)
{
  fixture *fx = *state;
  size_t first = 2 * MIB + 3, cut = 5 * MIB + 11;
  resumable_exchange *ex = begin_chunk(fx, 0, first - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, first), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 308);
  ex = begin_chunk(fx, first, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, first, cut), 0);
  fx->f.fail_sync = RESUMABLE_E_IO;
  assert_int_equal(finish(ex, RESUMABLE_BODY_DROPPED), 500);
  fx->f.fail_sync = 0;
  assert_partial_consistent(fx, first); /* the last sync is the truth */
  ex = begin_chunk(fx, first, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, first, fx->len), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 200);
}

static void pipe_commit_error_keeps_bytes_as_partial(void **state)
{
  fixture *fx = *state;
  fx->f.fail_commit = RESUMABLE_E_IO;
  resumable_exchange *ex = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(ex, fx->data, 0, fx->len), 0);
  assert_int_equal(finish(ex, RESUMABLE_BODY_COMPLETE), 500);
  assert_partial_consistent(fx, fx->len);
}

static void pipe_delete_with_bytes_queued_stops_the_writer(void **state)
{
  fixture *fx = *state;
  resumable_exchange *w = begin_chunk(fx, 0, fx->len - 1, fx->hash);
  assert_int_equal(feed(w, fx->data, 0, 3 * MIB + 3), 0);
  resumable_exchange *del = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "DELETE", PATH, &del), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_headers_done(del), 1);
  assert_int_equal(finish(del, RESUMABLE_BODY_COMPLETE), 204);
  assert_int_equal(resumable_exchange_feed(w, fx->data, 10), 1);
  assert_int_equal(finish(w, RESUMABLE_BODY_COMPLETE), 423);
  assert_false(fake_slot_of(&fx->f, KEY)->has_partial);
}

static int whole_put(fixture *fx, const char *hash, size_t len)
{
  char cl[32];
  snprintf(cl, sizeof(cl), "%zu", len);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Length", cl);
  if (hash)
    resumable_exchange_add_header(ex, "X-Content-SHA256", hash);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(feed(ex, fx->data, 0, len), 0);
  return finish(ex, RESUMABLE_BODY_COMPLETE);
}

static void pipe_whole_put_checks_hash_after_every_byte(void **state)
{
  fixture *fx = *state;
  assert_int_equal(whole_put(fx, fx->hash, fx->len), 200);
  assert_int_equal(whole_put(fx, fx->hash, fx->len - 1), 400); /* hash of a prefix differs */
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_int_equal(s->clen, fx->len);
  uint8_t want[32];
  rs_sha256_digest(fx->data, fx->len, want);
  assert_memory_equal(s->ci.sha256, want, 32);
}

static void pipe_whole_put_dropped_with_bytes_queued_commits_nothing(void **state)
{
  fixture *fx = *state;
  char cl[32];
  snprintf(cl, sizeof(cl), "%zu", fx->len);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Length", cl);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(feed(ex, fx->data, 0, 5 * MIB), 0);
  resumable_exchange_free(ex);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_true(!s || !s->has_complete);
}

static void pipe_set_hash_threads_checks_its_arguments(void **state)
{
  fixture *fx = *state;
  assert_int_equal(resumable_server_set_hash_threads(NULL, 1), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_server_set_hash_threads(fx->srv, 65), RESUMABLE_E_INVALID_ARG);
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(fx->srv->hash_pool, &st);
  assert_int_equal(st.threads, g_threads); /* unchanged by a refused call */
  assert_int_equal(resumable_server_set_hash_threads(fx->srv, 0), RESUMABLE_OK);
  assert_null(fx->srv->hash_pool);
  assert_int_equal(whole_put(fx, fx->hash, fx->len), 200); /* inline hashing still exact */
  assert_int_equal(resumable_server_set_hash_threads(fx->srv, g_threads), RESUMABLE_OK);
  assert_int_equal(whole_put(fx, fx->hash, fx->len), 200);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
  if (argc > 1)
    g_threads = (unsigned)strtoul(argv[1], NULL, 10);
  const struct CMUnitTest tests[] = {
      T(pipe_final_check_sees_every_queued_byte),
      T(pipe_final_check_catches_a_changed_last_byte),
      T(pipe_308_saves_state_of_exactly_the_synced_bytes),
      T(pipe_64_mib_sync_saves_state_of_exactly_the_synced_bytes),
      T(pipe_superseding_request_continues_after_older_bytes_hashed),
      T(pipe_restart_at_zero_discards_older_queued_bytes),
      T(pipe_dropped_connection_keeps_bytes_and_matching_state),
      T(pipe_freed_without_end_keeps_bytes_and_matching_state),
      T(pipe_write_error_with_bytes_queued_keeps_the_good_prefix),
      T(pipe_sync_error_with_bytes_queued_falls_back_to_last_durable_state),
      T(pipe_commit_error_keeps_bytes_as_partial),
      T(pipe_delete_with_bytes_queued_stops_the_writer),
      T(pipe_whole_put_checks_hash_after_every_byte),
      T(pipe_whole_put_dropped_with_bytes_queued_commits_nothing),
      T(pipe_set_hash_threads_checks_its_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
