/* The hash pool and its pipes on their own: exact digests for any split, drain and discard,
 * both memory bounds, the inline fallback, several pipes on several threads; and tees (a
 * second hash fed in the same pass): exactly the bytes between tee and untee, detached by a
 * discard or fini. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hash_pipe.h"
#include "resumable/error.h"
#include "sha256.h"

static void fill_bytes(uint8_t *d, size_t n, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    d[i] = (uint8_t)x;
  }
}

/* Feed `d` in pieces whose sizes follow a small PRNG (1..max). */
static void feed_split(rs_hash_pipe *p, const uint8_t *d, size_t n, size_t max, uint32_t seed)
{
  uint32_t x = seed | 1;
  for (size_t off = 0; off < n;) {
    x = x * 1103515245u + 12345u;
    size_t k = 1 + (x >> 8) % max;
    k = k < n - off ? k : n - off;
    rs_hash_pipe_update(p, d + off, k);
    off += k;
  }
}

static void digest_of(rs_sha256 *h, uint8_t out[32])
{
  rs_sha256_finish(h, out);
  rs_sha256_init(h);
}

static void pipe_digest_matches_one_shot_for_any_split(void **state)
{
  (void)state;
  const size_t n = 200000;
  uint8_t *d = malloc(n), want[32], got[32];
  fill_bytes(d, n, 1);
  rs_sha256_digest(d, n, want);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 64, 3, 6), RESUMABLE_OK);
  size_t maxes[] = {1, 63, 64, 65, 1000, 70000};
  for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
    rs_sha256 h;
    rs_hash_pipe p;
    rs_sha256_init(&h);
    assert_int_equal(rs_hash_pipe_bind(&p, pool, &h), RESUMABLE_OK);
    feed_split(&p, d, n, maxes[i], (uint32_t)i + 7);
    rs_hash_pipe_drain(&p);
    assert_int_equal(rs_sha256_length(&h), n);
    digest_of(&h, got);
    assert_memory_equal(got, want, 32);
    assert_true(p.peak <= 3);
    rs_hash_pipe_fini(&p);
    rs_sha256_free(&h);
  }
  rs_hash_pool_free(pool);
  free(d);
}

static void pipe_drain_covers_exactly_the_bytes_given(void **state)
{
  (void)state;
  uint8_t d[1000];
  fill_bytes(d, sizeof(d), 2);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 2, 16, 4, 8), RESUMABLE_OK);
  rs_sha256 h, ref;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  rs_sha256_init(&ref);
  rs_hash_pipe_bind(&p, pool, &h);
  for (size_t off = 0, k = 1; off < sizeof(d); off += k, k = k * 3 % 97 + 1) {
    size_t n = k < sizeof(d) - off ? k : sizeof(d) - off;
    rs_hash_pipe_update(&p, d + off, n);
    rs_sha256_update(&ref, d + off, n);
    rs_hash_pipe_drain(&p); /* every prefix: the state is exactly the bytes given */
    uint8_t a[RS_SHA256_STATE_MAX], b[RS_SHA256_STATE_MAX];
    size_t la = rs_sha256_export(&h, a, sizeof(a)), lb = rs_sha256_export(&ref, b, sizeof(b));
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(p.nbufs, 0); /* a drained pipe holds no buffer */
  }
  rs_hash_pipe_fini(&p);
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(pool, &st);
  assert_int_equal(st.in_use, 0);
  assert_int_equal(st.threads, 2);
  rs_hash_pool_free(pool);
}

static void pipe_discard_drops_queued_bytes_and_buffers(void **state)
{
  (void)state;
  uint8_t d[4096];
  fill_bytes(d, sizeof(d), 3);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 100, 4, 4), RESUMABLE_OK);
  rs_sha256 h;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  rs_hash_pipe_bind(&p, pool, &h);
  rs_hash_pipe_update(&p, d, sizeof(d));
  rs_hash_pipe_discard(&p);
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(pool, &st);
  assert_int_equal(st.in_use, 0);
  assert_true(st.allocated <= 4);
  assert_true(rs_sha256_length(&h) <= sizeof(d)); /* whatever was hashed before the discard */
  /* the pipe goes on after a reset */
  rs_sha256_init(&h);
  rs_hash_pipe_update(&p, "abc", 3);
  rs_hash_pipe_drain(&p);
  uint8_t got[32], want[32];
  digest_of(&h, got);
  rs_sha256_digest("abc", 3, want);
  assert_memory_equal(got, want, 32);
  rs_hash_pipe_fini(&p);
  rs_hash_pool_free(pool);
}

static void pipe_hashes_inline_when_others_hold_every_buffer(void **state)
{
  (void)state;
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 16, 2, 2), RESUMABLE_OK);
  rs_sha256 ha, hb, hc;
  rs_hash_pipe a, b, c;
  rs_sha256_init(&ha);
  rs_sha256_init(&hb);
  rs_sha256_init(&hc);
  rs_hash_pipe_bind(&a, pool, &ha);
  rs_hash_pipe_bind(&b, pool, &hb);
  rs_hash_pipe_bind(&c, pool, &hc);
  rs_hash_pipe_update(&a, "0123456789", 10); /* a and b each keep a half-filled buffer, as */
  rs_hash_pipe_update(&b, "0123456789", 10); /* stalled connections would */
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(pool, &st);
  assert_int_equal(st.in_use, 2);
  uint8_t d[100];
  fill_bytes(d, sizeof(d), 4);
  rs_hash_pipe_update(&c, d, sizeof(d));              /* must not wait for a or b */
  assert_int_equal(rs_sha256_length(&hc), sizeof(d)); /* hashed on this thread already */
  assert_int_equal(c.nbufs, 0);
  rs_hash_pipe_drain(&a);
  rs_hash_pipe_drain(&b);
  assert_int_equal(rs_sha256_length(&ha), 10);
  rs_hash_pipe_fini(&a);
  rs_hash_pipe_fini(&b);
  rs_hash_pipe_fini(&c);
  rs_hash_pool_free(pool);
}

static void pipe_of_no_pool_hashes_inline(void **state)
{
  (void)state;
  rs_sha256 h;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  assert_int_equal(rs_hash_pipe_bind(&p, NULL, &h), RESUMABLE_OK);
  rs_hash_pipe_update(&p, "hello", 5);
  assert_int_equal(rs_sha256_length(&h), 5);
  rs_hash_pipe_drain(&p);
  rs_hash_pipe_fini(&p);
  rs_hash_pipe_fini(&p); /* finished twice: no-op */
}

/* A tee at another fill than the pipe's hash (a chunk digest from 0 while the file hash is at
 * some odd length) gets exactly the bytes given while attached; the pipe's hash gets them all. */
static void tee_gets_exactly_the_bytes_between_tee_and_untee(void **state)
{
  (void)state;
  const size_t n = 100000, cut1 = 777, cut2 = 90001;
  uint8_t *d = malloc(n), want_all[32], want_tee[32], got[32];
  fill_bytes(d, n, 6);
  rs_sha256_digest(d, n, want_all);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 100, 3, 6), RESUMABLE_OK);
  size_t maxes[] = {1, 64, 333, 5000};
  for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
    for (size_t head = 0; head < 70; head += 69) { /* the tee's own earlier bytes: 0, or 69 */
      rs_sha256 ref;
      rs_sha256_init(&ref);
      rs_sha256_update(&ref, d, head);
      rs_sha256_update(&ref, d + cut1, cut2 - cut1);
      rs_sha256_finish(&ref, want_tee);
      rs_sha256 h, t;
      rs_hash_pipe p;
      rs_sha256_init(&h);
      rs_sha256_init(&t);
      rs_sha256_update(&t, d, head);
      assert_int_equal(rs_hash_pipe_bind(&p, pool, &h), RESUMABLE_OK);
      feed_split(&p, d, cut1, maxes[i], 11);
      assert_int_equal(rs_hash_pipe_tee(&p, &t), 0);
      feed_split(&p, d + cut1, cut2 - cut1, maxes[i], 12);
      assert_int_equal(rs_hash_pipe_untee(&p, &t), 1);
      assert_null(p.tee);
      feed_split(&p, d + cut2, n - cut2, maxes[i], 13);
      rs_hash_pipe_drain(&p);
      digest_of(&h, got);
      assert_memory_equal(got, want_all, 32);
      assert_int_equal(rs_sha256_length(&t), head + cut2 - cut1);
      digest_of(&t, got);
      assert_memory_equal(got, want_tee, 32);
      rs_hash_pipe_fini(&p);
    }
  }
  rs_hash_pool_free(pool);
  free(d);
}

/* A discard (a rollback) or fini drops bytes the tee should have had: untee says 0, and the
 * tee is never touched again, whatever the pipe is given after. */
static void discard_or_fini_detaches_the_tee(void **state)
{
  (void)state;
  uint8_t d[5000];
  fill_bytes(d, sizeof(d), 7);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 64, 4, 4), RESUMABLE_OK);
  for (int fini = 0; fini < 2; fini++) {
    rs_sha256 h, t;
    rs_hash_pipe p;
    rs_sha256_init(&h);
    rs_sha256_init(&t);
    rs_hash_pipe_bind(&p, pool, &h);
    assert_int_equal(rs_hash_pipe_tee(&p, &t), 0);
    rs_hash_pipe_update(&p, d, sizeof(d));
    if (fini)
      rs_hash_pipe_fini(&p);
    else
      rs_hash_pipe_discard(&p);
    uint64_t had = rs_sha256_length(&t);
    assert_true(had <= sizeof(d));
    assert_int_equal(rs_hash_pipe_untee(&p, &t), 0);
    if (!fini) { /* the pipe goes on without it */
      rs_sha256_init(&h);
      rs_hash_pipe_update(&p, d, sizeof(d));
      rs_hash_pipe_drain(&p);
      assert_int_equal(rs_sha256_length(&h), sizeof(d));
      assert_int_equal(rs_sha256_length(&t), had);
      rs_hash_pipe_fini(&p);
    }
  }
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(pool, &st);
  assert_int_equal(st.in_use, 0);
  rs_hash_pool_free(pool);
}

/* One tee per pipe: a second is refused (its owner hashes itself), and untee of a tee that is
 * not the attached one leaves the attached one alone. */
static void second_tee_is_refused_and_untee_checks_whose(void **state)
{
  (void)state;
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 16, 2, 2), RESUMABLE_OK);
  rs_sha256 h, t1, t2;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  rs_sha256_init(&t1);
  rs_sha256_init(&t2);
  rs_hash_pipe_bind(&p, pool, &h);
  assert_int_equal(rs_hash_pipe_tee(&p, &h), -1); /* its own hash twice: never */
  assert_int_equal(rs_hash_pipe_tee(&p, &t1), 0);
  assert_int_equal(rs_hash_pipe_tee(&p, &t2), -1);
  rs_hash_pipe_update(&p, "0123456789abcdefXYZ", 19);
  assert_int_equal(rs_hash_pipe_untee(&p, &t2), 0);
  assert_ptr_equal(p.tee, &t1);
  assert_int_equal(rs_hash_pipe_untee(&p, &t1), 1);
  assert_int_equal(rs_sha256_length(&t1), 19);
  assert_int_equal(rs_sha256_length(&t2), 0);
  assert_int_equal(rs_hash_pipe_untee(&p, &t1), 0); /* once */
  rs_hash_pipe_fini(&p);
  rs_hash_pipe zeroed;
  memset(&zeroed, 0, sizeof(zeroed));
  assert_int_equal(rs_hash_pipe_untee(&zeroed, &t1), 0);
  rs_hash_pool_free(pool);
}

static void tee_on_pipe_of_no_pool_hashes_inline(void **state)
{
  (void)state;
  rs_sha256 h, t;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  rs_sha256_init(&t);
  rs_hash_pipe_bind(&p, NULL, &h);
  rs_hash_pipe_update(&p, "abc", 3);
  assert_int_equal(rs_hash_pipe_tee(&p, &t), 0);
  rs_hash_pipe_update(&p, "hello", 5);
  assert_int_equal(rs_sha256_length(&t), 5); /* at once */
  assert_int_equal(rs_hash_pipe_untee(&p, &t), 1);
  rs_hash_pipe_update(&p, "!", 1);
  assert_int_equal(rs_sha256_length(&h), 9);
  uint8_t got[32], want[32];
  digest_of(&t, got);
  rs_sha256_digest("hello", 5, want);
  assert_memory_equal(got, want, 32);
  assert_int_equal(rs_hash_pipe_tee(&p, &t), 0);
  rs_hash_pipe_discard(&p);
  assert_int_equal(rs_hash_pipe_untee(&p, &t), 0); /* detached by the discard, inline too */
  rs_hash_pipe_fini(&p);
}

static void pool_rejects_bad_limits(void **state)
{
  (void)state;
  rs_hash_pool *pool = (rs_hash_pool *)1;
  assert_int_equal(rs_hash_pool_new(&pool, 0, 16, 2, 2), RESUMABLE_E_INVALID_ARG);
  assert_null(pool);
  assert_int_equal(rs_hash_pool_new(&pool, 1, 0, 2, 2), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(rs_hash_pool_new(&pool, 1, 16, 0, 2), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(rs_hash_pool_new(&pool, 1, 16, 4, 3), RESUMABLE_E_INVALID_ARG);
  rs_hash_pool_free(NULL);
}

typedef struct feeder {
  rs_hash_pool *pool;
  const uint8_t *data;
  size_t len;
  uint32_t seed;
  uint8_t digest[32];
  unsigned peak;
  int tee; /* each round's bytes also go to a tee, checked against tee_want */
  const uint8_t *tee_want;
  int tee_ok;
} feeder;

static void *feed_thread(void *arg)
{
  feeder *f = arg;
  rs_sha256 h;
  rs_hash_pipe p;
  rs_sha256_init(&h);
  rs_hash_pipe_bind(&p, f->pool, &h);
  f->tee_ok = 1;
  for (int round = 0; round < 3; round++) { /* drains in between, like syncs */
    rs_sha256 t;
    rs_sha256_init(&t);
    if (f->tee)
      rs_hash_pipe_tee(&p, &t);
    feed_split(&p, f->data, f->len, 5000, f->seed + (uint32_t)round);
    if (f->tee) {
      uint8_t got[32];
      f->tee_ok &= rs_hash_pipe_untee(&p, &t);
      rs_sha256_finish(&t, got);
      f->tee_ok &= memcmp(got, f->tee_want, 32) == 0;
    } else {
      rs_hash_pipe_drain(&p);
    }
  }
  f->peak = p.peak;
  rs_hash_pipe_fini(&p);
  rs_sha256_finish(&h, f->digest);
  return NULL;
}

static void pipes_and_tees_on_many_threads_stay_exact_and_bounded(void **state)
{
  (void)state;
  enum { N = 5 };
  const size_t len = 150000;
  uint8_t *d = malloc(len), *three = malloc(3 * len), want[32];
  fill_bytes(d, len, 5);
  for (int i = 0; i < 3; i++)
    memcpy(three + (size_t)i * len, d, len);
  rs_sha256_digest(three, 3 * len, want);
  uint8_t want_one[32];
  rs_sha256_digest(d, len, want_one);
  rs_hash_pool *pool;
  assert_int_equal(rs_hash_pool_new(&pool, 2, 512, 3, 7), RESUMABLE_OK);
  feeder f[N];
  pthread_t t[N];
  for (int i = 0; i < N; i++) { /* odd ones with a tee each round: a request digest */
    f[i] = (feeder){pool, d, len, (uint32_t)i * 31u, {0}, 0, i % 2, want_one, 0};
    assert_int_equal(pthread_create(&t[i], NULL, feed_thread, &f[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    assert_memory_equal(f[i].digest, want, 32);
    assert_true(f[i].peak <= 3);
    assert_true(f[i].tee_ok);
  }
  rs_hash_pool_stats st;
  rs_hash_pool_stats_get(pool, &st);
  assert_true(st.peak <= 7);
  assert_true(st.allocated <= 7);
  assert_int_equal(st.in_use, 0);
  rs_hash_pool_free(pool);
  free(d);
  free(three);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pipe_digest_matches_one_shot_for_any_split),
      cmocka_unit_test(pipe_drain_covers_exactly_the_bytes_given),
      cmocka_unit_test(pipe_discard_drops_queued_bytes_and_buffers),
      cmocka_unit_test(pipe_hashes_inline_when_others_hold_every_buffer),
      cmocka_unit_test(pipe_of_no_pool_hashes_inline),
      cmocka_unit_test(pool_rejects_bad_limits),
      cmocka_unit_test(tee_gets_exactly_the_bytes_between_tee_and_untee),
      cmocka_unit_test(discard_or_fini_detaches_the_tee),
      cmocka_unit_test(second_tee_is_refused_and_untee_checks_whose),
      cmocka_unit_test(tee_on_pipe_of_no_pool_hashes_inline),
      cmocka_unit_test(pipes_and_tees_on_many_threads_stay_exact_and_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
