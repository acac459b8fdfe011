/* Request digests that ride on the key's hash pipe as a tee (hash_pipe.h): Content-Digest on a
 * chunk PUT and on a whole-file PUT, tus Upload-Checksum sha256 on a PATCH. Each chunk starts
 * at an odd offset, so the whole-file hash and the request digest sit at different fills. A
 * match keeps the bytes, a mismatch drops exactly that request's bytes (the saved state is
 * exact), and a request superseded mid-body leaves the newer request's tee alone. Hash threads
 * on (argv[1] sets how many; 0: inline). */
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
#include "tus_header.h"

#define MIB ((size_t)1 << 20)
#define PATH "/v1/files/tee.bin"
#define KEY "tee.bin"
#define CUT (MIB + 7) /* the first chunk's length: odd */

static unsigned g_threads = 2;

typedef struct fixture {
  fake_store f;
  resumable_server *srv;
  uint8_t *data;
  size_t len;
  char hash[65];
} fixture;

static int setup(void **state)
{
  fixture *fx = calloc(1, sizeof(*fx));
  resumable_store *st = fake_store_new(&fx->f);
  assert_non_null(st);
  assert_int_equal(resumable_server_new_with_store(&fx->srv, st), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_hash_threads(fx->srv, g_threads), RESUMABLE_OK);
  fx->len = 5 * MIB + 333;
  fx->data = malloc(fx->len);
  uint32_t x = 99;
  for (size_t i = 0; i < fx->len; i++) {
    x = x * 1103515245u + 12345u;
    fx->data[i] = (uint8_t)(x >> 16);
  }
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
  assert_int_equal(st.in_use, 0);
  resumable_server_free(fx->srv);
  assert_int_equal(fx->f.open_handles, 0);
  fake_store_clear(&fx->f);
  free(fx->data);
  free(fx);
  return 0;
}

/* "sha-256=:<b64>:" of data[from..to), with its first byte changed when `wrong`; or the bare
 * base64 for Upload-Checksum (`field` 0). */
static void digest_value(const uint8_t *data, size_t from, size_t to, int wrong, int field,
                         char *out, size_t cap)
{
  uint8_t d[32];
  char b64[64];
  rs_sha256_digest(data + from, to - from, d);
  d[0] ^= (uint8_t)(wrong ? 1 : 0);
  assert_true(rs_base64_encode(d, 32, b64, sizeof(b64)) > 0);
  snprintf(out, cap, field ? "sha-256=:%s:" : "sha256 %s", b64);
}

/* A chunk PUT of data[from..to) with the file's hash, and a Content-Digest unless cd is NULL. */
static resumable_exchange *put_chunk(fixture *fx, size_t from, size_t to, const char *cd)
{
  char range[96], cl[32];
  snprintf(range, sizeof(range), "bytes %zu-%zu/%zu", from, to - 1, fx->len);
  snprintf(cl, sizeof(cl), "%zu", to - from);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Range", range);
  resumable_exchange_add_header(ex, "Content-Length", cl);
  resumable_exchange_add_header(ex, "X-Content-SHA256", fx->hash);
  if (cd)
    resumable_exchange_add_header(ex, "Content-Digest", cd);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  return ex;
}

/* data[from..to) in uneven pieces, some larger than a pool buffer. */
static int feed(resumable_exchange *ex, const uint8_t *data, size_t from, size_t to)
{
  static const size_t sizes[] = {100000, 3, 2 * MIB + 5, 4096, MIB};
  for (size_t i = 0; from < to; i++) {
    size_t n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
    n = n < to - from ? n : to - from;
    int rc = resumable_exchange_feed(ex, data + from, n);
    if (rc != 0)
      return rc;
    from += n;
  }
  return 0;
}

static int finish(resumable_exchange *ex)
{
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  int st = resumable_exchange_status(ex);
  resumable_exchange_free(ex);
  return st;
}

static int send_chunk(fixture *fx, size_t from, size_t to, const char *cd)
{
  resumable_exchange *ex = put_chunk(fx, from, to, cd);
  assert_int_equal(feed(ex, fx->data, from, to), 0);
  return finish(ex);
}

/* The stored partial holds data[0..held) and a hash state of exactly those bytes. */
static void assert_partial_exact(fixture *fx, size_t held)
{
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_non_null(s);
  assert_true(s->has_partial);
  assert_int_equal(s->pi.held, held);
  assert_memory_equal(s->pdata, fx->data, held);
  rs_sha256 h;
  assert_int_equal(rs_sha256_import(&h, s->pi.hash_state, s->pi.hash_state_len), 0);
  uint8_t got[32], want[32];
  rs_sha256_finish(&h, got);
  rs_sha256_digest(fx->data, held, want);
  assert_memory_equal(got, want, 32);
}

static void assert_committed(fixture *fx)
{
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_non_null(s);
  assert_true(s->has_complete);
  assert_int_equal(s->clen, fx->len);
  assert_memory_equal(s->cdata, fx->data, fx->len);
}

static void content_digest_at_odd_offset_verifies_and_commits(void **state)
{
  fixture *fx = *state;
  char cd[128];
  assert_int_equal(send_chunk(fx, 0, CUT, NULL), 308);
  digest_value(fx->data, CUT, fx->len, 0, 1, cd, sizeof(cd));
  assert_int_equal(send_chunk(fx, CUT, fx->len, cd), 200);
  assert_committed(fx);
}

static void content_digest_mismatch_drops_exactly_that_chunk(void **state)
{
  fixture *fx = *state;
  char cd[128];
  digest_value(fx->data, 0, CUT, 0, 1, cd, sizeof(cd));
  assert_int_equal(send_chunk(fx, 0, CUT, cd), 308);
  assert_partial_exact(fx, CUT);
  digest_value(fx->data, CUT, fx->len, 1, 1, cd, sizeof(cd));
  assert_int_equal(send_chunk(fx, CUT, fx->len, cd), RS_CONTENT_DIGEST_MISMATCH);
  assert_partial_exact(fx, CUT); /* back to before the chunk, hash state included */
  digest_value(fx->data, CUT, fx->len, 0, 1, cd, sizeof(cd));
  assert_int_equal(send_chunk(fx, CUT, fx->len, cd), 200);
  assert_committed(fx);
}

/* The older request's tee is detached by the rollback the newer one causes; ending the older
 * one afterwards (its digest still names the key's pipe) must leave the newer one's tee on. */
static void superseded_request_leaves_newer_tee_alone(void **state)
{
  fixture *fx = *state;
  char cd[128];
  assert_int_equal(send_chunk(fx, 0, CUT, NULL), 308);
  digest_value(fx->data, CUT, fx->len, 0, 1, cd, sizeof(cd));
  resumable_exchange *old = put_chunk(fx, CUT, fx->len, cd);
  assert_int_equal(feed(old, fx->data, CUT, CUT + 2 * MIB), 0);
  resumable_exchange *newer = put_chunk(fx, CUT, fx->len, cd); /* the older bytes are dropped */
  assert_partial_exact(fx, CUT);
  assert_int_equal(feed(newer, fx->data, CUT, CUT + MIB), 0);
  assert_int_equal(finish(old), 423); /* while the newer request's tee is on the pipe */
  assert_int_equal(feed(newer, fx->data, CUT + MIB, fx->len), 0);
  assert_int_equal(finish(newer), 200);
  assert_committed(fx);
}

/* Freed mid-body by its host: the unverified bytes go, the state saved stays exact, and the
 * next request (its own tee) verifies. */
static void request_freed_mid_body_drops_its_bytes(void **state)
{
  fixture *fx = *state;
  char cd[128];
  assert_int_equal(send_chunk(fx, 0, CUT, NULL), 308);
  digest_value(fx->data, CUT, fx->len, 0, 1, cd, sizeof(cd));
  resumable_exchange *ex = put_chunk(fx, CUT, fx->len, cd);
  assert_int_equal(feed(ex, fx->data, CUT, CUT + 3 * MIB + 1), 0);
  resumable_exchange_free(ex);
  assert_partial_exact(fx, CUT);
  assert_int_equal(send_chunk(fx, CUT, fx->len, cd), 200);
  assert_committed(fx);
}

/* A whole-file PUT (staging): the digest rides on the staging pipe. */
static int whole_put(fixture *fx, int wrong)
{
  char cl[32], cd[128];
  snprintf(cl, sizeof(cl), "%zu", fx->len);
  digest_value(fx->data, 0, fx->len, wrong, 1, cd, sizeof(cd));
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Length", cl);
  resumable_exchange_add_header(ex, "Content-Digest", cd);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(feed(ex, fx->data, 0, fx->len), 0);
  return finish(ex);
}

static void whole_put_content_digest_verifies_on_staging_pipe(void **state)
{
  fixture *fx = *state;
  assert_int_equal(whole_put(fx, 1), RS_CONTENT_DIGEST_MISMATCH);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_true(s == NULL || !s->has_complete); /* a corrupted body is never committed */
  assert_int_equal(whole_put(fx, 0), 200);
  assert_committed(fx);
}

/* tus: a PATCH at an odd offset with Upload-Checksum sha256. */
static int tus_patch(fixture *fx, size_t from, size_t to, int wrong)
{
  char off[32], cl[32], ck[128];
  snprintf(off, sizeof(off), "%zu", from);
  snprintf(cl, sizeof(cl), "%zu", to - from);
  digest_value(fx->data, from, to, wrong, 0, ck, sizeof(ck));
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PATCH", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Tus-Resumable", "1.0.0");
  resumable_exchange_add_header(ex, "Upload-Offset", off);
  resumable_exchange_add_header(ex, "Content-Type", "application/offset+octet-stream");
  resumable_exchange_add_header(ex, "Content-Length", cl);
  resumable_exchange_add_header(ex, "Upload-Checksum", ck);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(feed(ex, fx->data, from, to), 0);
  return finish(ex);
}

static void upload_checksum_at_odd_offset_drops_mismatch_keeps_match(void **state)
{
  fixture *fx = *state;
  char len[32];
  snprintf(len, sizeof(len), "%zu", fx->len);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "POST", PATH, &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Tus-Resumable", "1.0.0");
  resumable_exchange_add_header(ex, "Upload-Length", len);
  assert_int_equal(resumable_exchange_headers_done(ex), 1);
  assert_int_equal(finish(ex), 201);
  assert_int_equal(tus_patch(fx, 0, CUT, 0), 204);
  assert_partial_exact(fx, CUT);
  assert_int_equal(tus_patch(fx, CUT, fx->len, 1), 460);
  assert_partial_exact(fx, CUT);
  assert_int_equal(tus_patch(fx, CUT, fx->len, 0), 204);
  assert_committed(fx);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
  if (argc > 1)
    g_threads = (unsigned)strtoul(argv[1], NULL, 10);
  const struct CMUnitTest tests[] = {
      T(content_digest_at_odd_offset_verifies_and_commits),
      T(content_digest_mismatch_drops_exactly_that_chunk),
      T(superseded_request_leaves_newer_tee_alone),
      T(request_freed_mid_body_drops_its_bytes),
      T(whole_put_content_digest_verifies_on_staging_pipe),
      T(upload_checksum_at_odd_offset_drops_mismatch_keeps_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
