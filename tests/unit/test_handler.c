/* The handler's lifecycle over an in-memory store: supersede, sync before 308, digest checks,
 * hash-state rebuild, store error mapping, header rules, auth. (Wire tests live elsewhere.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "fake_store.h"
#include "reply.h"
#include "hex.h"
#include "resumable/error.h"
#include "resumable/server.h"
#include "sha256.h"

/* Hash threads of the server under test (argv[1]); -1 keeps the default. */
static int g_hash_threads = -1;

typedef struct fixture {
  fake_store f;
  resumable_server *srv;
  char log[4096];
  int log_lines;
} fixture;

static void on_log(void *ud, resumable_log_level level, const char *msg)
{
  fixture *fx = ud;
  (void)level;
  fx->log_lines++;
  size_t n = strlen(fx->log);
  snprintf(fx->log + n, sizeof(fx->log) - n, "%s\n", msg);
}

static int setup(void **state)
{
  fixture *fx = calloc(1, sizeof(*fx));
  resumable_store *st = fake_store_new(&fx->f);
  assert_non_null(st);
  assert_int_equal(resumable_server_new_with_store(&fx->srv, st), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_log(fx->srv, on_log, fx), RESUMABLE_OK);
  /* Checkpoints by size alone, so that when they happen does not depend on the clock. */
  assert_int_equal(resumable_server_set_checkpoint(fx->srv, (uint64_t)64 << 20, 0), RESUMABLE_OK);
  if (g_hash_threads >= 0)
    assert_int_equal(resumable_server_set_hash_threads(fx->srv, (unsigned)g_hash_threads),
                     RESUMABLE_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fixture *fx = *state;
  resumable_server_free(fx->srv);
  assert_int_equal(fx->f.open_handles, 0);
  fake_store_clear(&fx->f);
  free(fx);
  return 0;
}

static void hex_of(const char *data, size_t len, char out[65])
{
  uint8_t d[32];
  rs_sha256_digest(data, len, d);
  rs_sha256_hex_format(d, out);
}

/* Begin an exchange with headers (name, value pairs, NULL-terminated). */
static resumable_exchange *start(fixture *fx, const char *method, const char *path,
                                 const char *const *hdrs)
{
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, method, path, &ex), RESUMABLE_OK);
  for (size_t i = 0; hdrs && hdrs[i]; i += 2)
    assert_int_equal(resumable_exchange_add_header(ex, hdrs[i], hdrs[i + 1]), RESUMABLE_OK);
  return ex;
}

/* A whole request: headers, body (unless refused at once), end. Returns the exchange. */
static resumable_exchange *request(fixture *fx, const char *method, const char *path,
                                   const char *const *hdrs, const char *body)
{
  resumable_exchange *ex = start(fx, method, path, hdrs);
  if (resumable_exchange_headers_done(ex) == 0) {
    if (body && *body)
      assert_true(resumable_exchange_feed(ex, body, strlen(body)) >= 0);
    assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  }
  return ex;
}

static const char *header(const resumable_exchange *ex, const char *name)
{
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    assert_int_equal(resumable_exchange_header_at(ex, i, &n, &v), RESUMABLE_OK);
    if (strcmp(n, name) == 0)
      return v;
  }
  return NULL;
}

static const char *body_of(resumable_exchange *ex, char *buf, size_t cap)
{
  size_t n = 0, got = 0;
  do {
    assert_int_equal(resumable_exchange_read_body(ex, buf + n, cap - 1 - n, &got), RESUMABLE_OK);
    n += got;
  } while (got > 0 && n < cap - 1);
  buf[n] = '\0';
  return buf;
}

static int status_of(resumable_exchange *ex)
{
  int st = resumable_exchange_status(ex);
  resumable_exchange_free(ex);
  return st;
}

#define PATH "/v1/files/models/a.bin"
#define KEY "models/a.bin"

static void chunk_hdrs(const char **h, const char *range, const char *len, const char *hash)
{
  h[0] = "Content-Range";
  h[1] = range;
  h[2] = "Content-Length";
  h[3] = len;
  h[4] = hash ? "X-Content-SHA256" : NULL;
  h[5] = hash;
  h[6] = NULL;
}

/* ---- the append lifecycle ---- */

static void handler_chunks_commit_with_json_and_headers(void **state)
{
  fixture *fx = *state;
  char hash[65], buf[512];
  hex_of("helloworld", 10, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/10", "5", hash);
  resumable_exchange *ex = request(fx, "PUT", PATH, h, "hello");
  assert_int_equal(resumable_exchange_status(ex), 308);
  assert_string_equal(header(ex, "X-File-Size"), "5");
  assert_string_equal(header(ex, "Range"), "bytes=0-4");
  resumable_exchange_free(ex);

  chunk_hdrs(h, "bytes 5-9/10", "5", hash);
  ex = request(fx, "PUT", PATH, h, "world");
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(header(ex, "X-Content-SHA256"), hash);
  assert_string_equal(header(ex, "X-File-Size"), "10");
  assert_string_equal(header(ex, "Content-Type"), "application/json");
  char want[256];
  snprintf(want, sizeof(want), "{\"key\": \"%s\", \"size\": 10, \"sha256\": \"%s\"}\n", KEY, hash);
  assert_string_equal(body_of(ex, buf, sizeof(buf)), want);
  assert_int_equal(resumable_exchange_body_length(ex), strlen(want));
  resumable_exchange_free(ex);

  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_true(s->has_complete);
  assert_false(s->has_partial);
  assert_memory_equal(s->cdata, "helloworld", 10);
}

static void handler_308_only_after_bytes_are_synced(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-5/20", "6", NULL);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abc", 3), 0);
  assert_int_equal(resumable_exchange_feed(ex, "def", 3), 0);
  assert_int_equal(resumable_exchange_status(ex), 0);
  int before = fx->f.syncs;
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(ex), 308);
  assert_int_equal(fx->f.syncs, before + 1);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_int_equal(s->pi.held, 6);
  assert_memory_equal(s->pdata, "abcdef", 6);
  assert_true(s->pi.hash_state_len > 0);
  resumable_exchange_free(ex);
}

static void handler_sync_failure_is_not_308(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/20", "3", NULL);
  fx->f.fail_sync = RESUMABLE_E_IO;
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 500);
}

/* The time floor: with a long interval no checkpoint is taken mid-body, only at its end. */
static void handler_checkpoint_waits_for_its_interval(void **state)
{
  fixture *fx = *state;
  const size_t mib = (size_t)1 << 20;
  assert_int_equal(resumable_server_set_checkpoint(fx->srv, mib, UINT32_MAX), RESUMABLE_OK);
  char range[64], len[32];
  snprintf(range, sizeof(range), "bytes 0-%zu/%zu", 8 * mib - 1, 100 * mib);
  snprintf(len, sizeof(len), "%zu", 8 * mib);
  const char *h[7];
  chunk_hdrs(h, range, len, NULL);
  char *piece = calloc(1, mib);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  for (int i = 0; i < 8; i++)
    assert_int_equal(resumable_exchange_feed(ex, piece, mib), 0);
  assert_int_equal(fx->f.syncs, 0);
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(status_of(ex), 308);
  assert_int_equal(fx->f.syncs, 1); /* the 308 is readable only once its bytes are durable */
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 8 * mib);
  free(piece);
}

/* bytes 0 and no interval: every piece is checkpointed as it lands. */
static void handler_checkpoint_every_feed(void **state)
{
  fixture *fx = *state;
  assert_int_equal(resumable_server_set_checkpoint(NULL, 0, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_server_set_checkpoint(fx->srv, 0, 0), RESUMABLE_OK);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-5/20", "6", NULL);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "ab", 2), 0);
  assert_int_equal(fx->f.syncs, 1);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 2);
  assert_int_equal(resumable_exchange_feed(ex, "cdef", 4), 0);
  assert_int_equal(fx->f.syncs, 2);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 6);
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(status_of(ex), 308);
  assert_int_equal(fx->f.syncs, 2); /* nothing new to sync for the 308 */
}

static void handler_long_body_syncs_every_64_mib(void **state)
{
  fixture *fx = *state;
  const size_t mib = (size_t)1 << 20;
  char range[64], len[32];
  snprintf(range, sizeof(range), "bytes 0-%zu/%zu", 65 * mib - 1, 100 * mib);
  snprintf(len, sizeof(len), "%zu", 65 * mib);
  const char *h[7];
  chunk_hdrs(h, range, len, NULL);
  char *piece = calloc(1, mib);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  for (int i = 0; i < 63; i++)
    assert_int_equal(resumable_exchange_feed(ex, piece, mib), 0);
  assert_int_equal(fx->f.syncs, 0);
  assert_int_equal(resumable_exchange_feed(ex, piece, mib), 0);
  assert_int_equal(fx->f.syncs, 1);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 64 * mib);
  assert_int_equal(resumable_exchange_feed(ex, piece, mib), 0);
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(status_of(ex), 308);
  assert_int_equal(fx->f.syncs, 2);
  free(piece);
}

static void handler_newer_put_supersedes_older_writer(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-9/10", "10", NULL);
  resumable_exchange *old = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(old), 0);
  assert_int_equal(resumable_exchange_feed(old, "xxx", 3), 0);

  resumable_exchange *newer = start(fx, "PUT", PATH, h); /* restart at 0 without hash */
  assert_int_equal(resumable_exchange_headers_done(newer), 0);
  assert_int_equal(resumable_exchange_feed(newer, "01234", 5), 0);

  assert_int_equal(resumable_exchange_feed(old, "yyyyyyy", 7), 1);
  assert_int_equal(resumable_exchange_status(old), 423);
  char buf[128];
  assert_string_equal(body_of(old, buf, sizeof(buf)),
                      "superseded by a newer request for this key\n");
  assert_int_equal(resumable_exchange_end(old, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(old), 423);

  assert_int_equal(resumable_exchange_feed(newer, "56789", 5), 0);
  assert_int_equal(resumable_exchange_end(newer, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(newer), 200);
  resumable_exchange_free(old);
  resumable_exchange_free(newer);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_int_equal(s->clen, 10);
  assert_memory_equal(s->cdata, "0123456789", 10);
}

static void handler_superseded_bytes_are_kept_and_continued(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("abcdefghij", 10, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-9/10", "10", hash);
  resumable_exchange *old = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(old), 0);
  assert_int_equal(resumable_exchange_feed(old, "abcd", 4), 0);

  chunk_hdrs(h, "bytes 4-9/10", "6", hash); /* judged against the new held (4) */
  resumable_exchange *newer = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(newer), 0);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 4); /* older bytes made durable */
  assert_int_equal(resumable_exchange_feed(old, "e", 1), 1);
  assert_int_equal(resumable_exchange_feed(newer, "efghij", 6), 0);
  assert_int_equal(resumable_exchange_end(newer, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(newer), 200);
  assert_int_equal(status_of(old), 423);
  resumable_exchange_free(newer);
  assert_memory_equal(fake_slot_of(&fx->f, KEY)->cdata, "abcdefghij", 10);
}

static void handler_digest_mismatch_drops_partial_keeps_complete(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("something else", 14, hash);
  fake_put_complete(&fx->f, KEY, "old", 3);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/5", "5", hash);
  resumable_exchange *ex = request(fx, "PUT", PATH, h, "hello");
  assert_int_equal(resumable_exchange_status(ex), 400);
  assert_string_equal(header(ex, "Content-Type"), "text/plain");
  resumable_exchange_free(ex);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_false(s->has_partial);
  assert_true(s->has_complete);
  assert_memory_equal(s->cdata, "old", 3);
}

static void handler_rebuilds_lost_hash_state(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("helloworld", 10, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/10", "5", hash);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "hello")), 308);
  fx->f.forget_hash_state = 1;
  chunk_hdrs(h, "bytes 5-9/10", "5", hash);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "world")), 200);
  assert_true(fx->f.reads > 0);
  assert_non_null(strstr(fx->log, "rebuilding the SHA-256 of 5 held bytes"));
}

static void handler_uses_saved_hash_state_without_reading(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("helloworld", 10, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/10", "5", hash);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "hello")), 308);
  chunk_hdrs(h, "bytes 5-9/10", "5", hash);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "world")), 200);
  assert_int_equal(fx->f.reads, 0);
}

static void handler_416_carries_held_and_total(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 3-4/10", "2", NULL);
  resumable_exchange *ex = request(fx, "PUT", PATH, h, "xx");
  assert_int_equal(resumable_exchange_status(ex), 416);
  assert_string_equal(header(ex, "Content-Range"), "bytes */10");
  assert_string_equal(header(ex, "X-File-Size"), "0");
  resumable_exchange_free(ex);
  assert_null(fake_slot_of(&fx->f, KEY));
}

static void handler_short_body_keeps_bytes_and_is_400(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-9/20", "10", NULL);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abcd", 4), 0);
  resumable_exchange_end(ex, RESUMABLE_BODY_DROPPED);
  assert_int_equal(status_of(ex), 400);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 4);
}

static void handler_chunked_body_longer_than_range_is_400(void **state)
{
  fixture *fx = *state;
  const char *h[] = {"Content-Range", "bytes 0-3/20", "Transfer-Encoding", "chunked", NULL};
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abcdef", 6), 1);
  assert_int_equal(status_of(ex), 400);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 4);
}

static void handler_already_there_reads_no_body(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("hello", 5, hash);
  fake_put_complete(&fx->f, KEY, "hello", 5);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/5", "5", hash);
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 1);
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(header(ex, "X-Content-SHA256"), hash);
  resumable_exchange_free(ex);
  assert_int_equal(fx->f.commits, 0);
}

static void handler_status_query_finishes_interrupted_commit(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("hello", 5, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-4/5", "5", hash);
  fx->f.fail_commit = RESUMABLE_E_IO;
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "hello")), 500);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->pi.held, 5);
  chunk_hdrs(h, "bytes */5", "0", hash);
  resumable_exchange *ex = request(fx, "PUT", PATH, h, NULL);
  assert_int_equal(resumable_exchange_status(ex), 200);
  resumable_exchange_free(ex);
  assert_memory_equal(fake_slot_of(&fx->f, KEY)->cdata, "hello", 5);
}

static void handler_status_query_reports_held(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/9", "3", NULL);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 308);
  chunk_hdrs(h, "bytes */9", "0", NULL);
  resumable_exchange *ex = request(fx, "PUT", PATH, h, NULL);
  assert_int_equal(resumable_exchange_status(ex), 308);
  assert_string_equal(header(ex, "X-File-Size"), "3");
  resumable_exchange_free(ex);
}

/* ---- store errors ---- */

static void handler_nospace_is_507_with_text_body(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/10", "3", NULL);
  fx->f.fail_write = RESUMABLE_E_NOSPACE;
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abc", 3), 1);
  assert_int_equal(resumable_exchange_status(ex), 507);
  assert_string_equal(header(ex, "Content-Type"), "text/plain");
  char buf[256];
  const char *b = body_of(ex, buf, sizeof(buf));
  assert_true(strlen(b) > 1 && b[strlen(b) - 1] == '\n');
  resumable_exchange_free(ex);
  assert_true(fx->log_lines >= 1);
  assert_non_null(strstr(fx->log, "507"));
}

static void handler_io_error_is_500(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/10", "3", NULL);
  fx->f.fail_write = RESUMABLE_E_IO;
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 500);
  assert_non_null(strstr(fx->log, "storage I/O error"));
}

/* A store shared by several servers says another server took the upload over: that is the
 * supersede rule across processes, so the older request gets 423, not a 500 to retry. */
static void handler_store_superseded_is_423(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/10", "3", NULL);
  fx->f.fail_write = RESUMABLE_E_SUPERSEDED;
  fx->f.fail_sync = RESUMABLE_E_SUPERSEDED;
  resumable_exchange *ex = request(fx, "PUT", PATH, h, "abc");
  assert_int_equal(resumable_exchange_status(ex), 423);
  char buf[128];
  assert_string_equal(body_of(ex, buf, sizeof(buf)),
                      "superseded by a newer request for this key\n");
  resumable_exchange_free(ex);
}

/* Out of descriptors is a passing shortage, said as such: 503 with Retry-After, not a 500. */
static void handler_out_of_descriptors_is_503_with_retry_after(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/10", "3", NULL);
  fx->f.fail_write = RESUMABLE_E_NOFD;
  resumable_exchange *ex = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abc", 3), 1);
  assert_int_equal(resumable_exchange_status(ex), 503);
  assert_non_null(header(ex, "Retry-After"));
  assert_true(atoi(header(ex, "Retry-After")) > 0);
  char buf[256];
  assert_non_null(strstr(body_of(ex, buf, sizeof(buf)), "file descriptors"));
  resumable_exchange_free(ex);
  assert_non_null(strstr(fx->log, "out of file descriptors"));
  assert_null(strstr(fx->log, "storage I/O error"));
}

/* ---- headers and paths ---- */

static void handler_repeated_content_range_is_400(void **state)
{
  fixture *fx = *state;
  const char *h[] = {"Content-Range",
                     "bytes 0-2/10",
                     "content-range",
                     "bytes 0-2/10",
                     "Content-Length",
                     "3",
                     NULL};
  resumable_exchange *ex = request(fx, "PUT", PATH, h, "abc");
  assert_int_equal(resumable_exchange_status(ex), 400);
  char buf[128];
  assert_string_equal(body_of(ex, buf, sizeof(buf)), "repeated Content-Range\n");
  resumable_exchange_free(ex);
}

static void handler_conflicting_content_length_is_400(void **state)
{
  fixture *fx = *state;
  const char *h[] = {"Content-Length", "3", "Content-Length", "4", NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 400);
}

static void handler_conflicting_hash_is_400_but_same_hash_repeated_is_fine(void **state)
{
  fixture *fx = *state;
  char a[65], b[65];
  hex_of("abc", 3, a);
  hex_of("abd", 3, b);
  const char *h1[] = {"Content-Length", "3", "X-Content-SHA256", a, "X-Content-SHA256", b, NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, h1, "abc")), 400);
  const char *h2[] = {"Content-Length", "3", "X-Content-SHA256", a, "X-Content-SHA256", a, NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, h2, "abc")), 200);
}

static void handler_length_and_chunked_together_is_400(void **state)
{
  fixture *fx = *state;
  const char *h[] = {"Content-Length", "3", "Transfer-Encoding", "chunked", NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 400);
}

static void handler_path_outside_prefix_is_404(void **state)
{
  fixture *fx = *state;
  assert_int_equal(status_of(request(fx, "HEAD", "/v2/files/a", NULL, NULL)), 404);
  assert_int_equal(status_of(request(fx, "HEAD", "/v1/file", NULL, NULL)), 404);
}

static void handler_bad_key_is_400_naming_the_rule(void **state)
{
  fixture *fx = *state;
  resumable_exchange *ex = request(fx, "PUT", "/v1/files/a/../b", NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 400);
  char buf[128];
  assert_non_null(strstr(body_of(ex, buf, sizeof(buf)), "invalid key"));
  assert_string_equal(resumable_exchange_key(ex), "");
  resumable_exchange_free(ex);
}

static void handler_query_string_is_ignored(void **state)
{
  fixture *fx = *state;
  fake_put_complete(&fx->f, "a%b", "x", 1);
  resumable_exchange *ex = request(fx, "HEAD", "/v1/files/a%25b?x=1", NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(resumable_exchange_key(ex), "a%b");
  resumable_exchange_free(ex);
}

static void handler_other_method_is_405_with_allow(void **state)
{
  fixture *fx = *state;
  resumable_exchange *ex = request(fx, "POST", PATH, NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 405);
  assert_string_equal(header(ex, "Allow"), "HEAD, GET, PUT, DELETE");
  resumable_exchange_free(ex);
}

static void handler_set_prefix_moves_the_files(void **state)
{
  fixture *fx = *state;
  assert_int_equal(resumable_server_set_prefix(fx->srv, "files"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_server_set_prefix(fx->srv, "/f/"), RESUMABLE_OK);
  fake_put_complete(&fx->f, "k", "x", 1);
  assert_int_equal(status_of(request(fx, "GET", "/f/k", NULL, NULL)), 200);
  assert_int_equal(status_of(request(fx, "GET", "/v1/files/k", NULL, NULL)), 404);
}

/* ---- auth ---- */

static void auth_ct_equal_compares_exactly(void **state)
{
  (void)state;
  assert_true(rs_ct_equal("secret", 6, "secret", 6));
  assert_false(rs_ct_equal("secreT", 6, "secret", 6));
  assert_false(rs_ct_equal("secre", 5, "secret", 6));
  assert_false(rs_ct_equal("secrets", 7, "secret", 6));
  assert_false(rs_ct_equal("", 0, "secret", 6));
  assert_false(rs_ct_equal("secretsecret", 12, "secret", 6));
}

static void auth_bearer_parsing(void **state)
{
  (void)state;
  assert_true(rs_auth_bearer_ok("Bearer tok", "tok", 3));
  assert_true(rs_auth_bearer_ok("bearer  tok", "tok", 3));
  assert_false(rs_auth_bearer_ok("Basic tok", "tok", 3));
  assert_false(rs_auth_bearer_ok("Bearer", "tok", 3));
  assert_false(rs_auth_bearer_ok("Bearer to", "tok", 3));
  assert_false(rs_auth_bearer_ok(NULL, "tok", 3));
}

static void handler_token_required_before_key(void **state)
{
  fixture *fx = *state;
  assert_int_equal(resumable_server_set_token(fx->srv, "s3cret"), RESUMABLE_OK);
  resumable_exchange *ex = request(fx, "PUT", "/v1/files/../x", NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 401);
  assert_string_equal(header(ex, "WWW-Authenticate"), "Bearer");
  resumable_exchange_free(ex);
  const char *wrong[] = {"Authorization", "Bearer s3cre", NULL};
  assert_int_equal(status_of(request(fx, "HEAD", PATH, wrong, NULL)), 401);
  const char *right[] = {"Authorization", "Bearer s3cret", NULL};
  assert_int_equal(status_of(request(fx, "HEAD", PATH, right, NULL)), 404);
  const char *twice[] = {"Authorization", "Bearer s3cret", "Authorization", "Bearer x", NULL};
  assert_int_equal(status_of(request(fx, "HEAD", PATH, twice, NULL)), 401);
  assert_int_equal(resumable_server_set_token(fx->srv, ""), RESUMABLE_OK);
  assert_int_equal(status_of(request(fx, "HEAD", PATH, NULL, NULL)), 404);
}

/* ---- HEAD, GET, DELETE, whole-file PUT ---- */

static void handler_head_partial_has_no_content_sha(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("abcdef", 6, hash);
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/6", "3", hash);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 308);
  resumable_exchange *ex = request(fx, "HEAD", PATH, NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(header(ex, "X-File-Size"), "3");
  assert_string_equal(header(ex, "X-Upload-Total"), "6");
  assert_string_equal(header(ex, "X-Target-SHA256"), hash);
  assert_string_equal(header(ex, "Accept-Ranges"), "bytes");
  assert_null(header(ex, "X-Content-SHA256"));
  assert_int_equal(resumable_exchange_body_length(ex), 3);
  size_t got = 1;
  char b[4];
  assert_int_equal(resumable_exchange_read_body(ex, b, sizeof(b), &got), RESUMABLE_OK);
  assert_int_equal(got, 0);
  resumable_exchange_free(ex);
}

static void handler_head_complete_exposes_path_only_when_asked(void **state)
{
  fixture *fx = *state;
  char hash[65];
  hex_of("hello", 5, hash);
  fake_put_complete(&fx->f, KEY, "hello", 5);
  resumable_exchange *ex = request(fx, "HEAD", PATH, NULL, NULL);
  assert_string_equal(header(ex, "X-Content-SHA256"), hash);
  assert_string_equal(header(ex, "X-File-Size"), "5");
  assert_null(header(ex, "X-Local-Path"));
  resumable_exchange_free(ex);
  resumable_server_set_expose_paths(fx->srv, 1);
  ex = request(fx, "HEAD", PATH, NULL, NULL);
  assert_string_equal(header(ex, "X-Local-Path"), "/data/" KEY);
  resumable_exchange_free(ex);
}

static void handler_get_serves_ranges(void **state)
{
  fixture *fx = *state;
  char buf[64];
  fake_put_complete(&fx->f, KEY, "0123456789", 10);
  resumable_exchange *ex = request(fx, "GET", PATH, NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(body_of(ex, buf, sizeof(buf)), "0123456789");
  resumable_exchange_free(ex);
  const char *r[] = {"Range", "bytes=2-4", NULL};
  ex = request(fx, "GET", PATH, r, NULL);
  assert_int_equal(resumable_exchange_status(ex), 206);
  assert_string_equal(header(ex, "Content-Range"), "bytes 2-4/10");
  assert_string_equal(body_of(ex, buf, sizeof(buf)), "234");
  resumable_exchange_free(ex);
  const char *bad[] = {"Range", "bytes=20-30", NULL};
  ex = request(fx, "GET", PATH, bad, NULL);
  assert_int_equal(resumable_exchange_status(ex), 416);
  assert_string_equal(header(ex, "Content-Range"), "bytes */10");
  resumable_exchange_free(ex);
}

static void handler_delete_then_404(void **state)
{
  fixture *fx = *state;
  fake_put_complete(&fx->f, KEY, "x", 1);
  resumable_exchange *ex = request(fx, "DELETE", PATH, NULL, NULL);
  assert_int_equal(resumable_exchange_status(ex), 204);
  assert_int_equal(resumable_exchange_body_length(ex), 0);
  resumable_exchange_free(ex);
  assert_int_equal(status_of(request(fx, "DELETE", PATH, NULL, NULL)), 404);
  assert_int_equal(status_of(request(fx, "GET", PATH, NULL, NULL)), 404);
}

static void handler_delete_supersedes_writer(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-5/6", "6", NULL);
  resumable_exchange *w = start(fx, "PUT", PATH, h);
  assert_int_equal(resumable_exchange_headers_done(w), 0);
  assert_int_equal(resumable_exchange_feed(w, "abc", 3), 0);
  assert_int_equal(status_of(request(fx, "DELETE", PATH, NULL, NULL)), 204);
  assert_int_equal(resumable_exchange_feed(w, "def", 3), 1);
  assert_int_equal(status_of(w), 423);
  assert_false(fake_slot_of(&fx->f, KEY)->has_partial);
}

static void handler_whole_put_commits_and_drops_partial(void **state)
{
  fixture *fx = *state;
  const char *h[7];
  chunk_hdrs(h, "bytes 0-2/9", "3", NULL);
  assert_int_equal(status_of(request(fx, "PUT", PATH, h, "abc")), 308);
  char hash[65];
  hex_of("whole", 5, hash);
  const char *w[] = {"Content-Length", "5", "X-Content-SHA256", hash, NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, w, "whole")), 200);
  fake_slot *s = fake_slot_of(&fx->f, KEY);
  assert_false(s->has_partial);
  assert_memory_equal(s->cdata, "whole", 5);
}

static void handler_whole_put_hash_mismatch_keeps_old_file(void **state)
{
  fixture *fx = *state;
  fake_put_complete(&fx->f, KEY, "old", 3);
  char hash[65];
  hex_of("other", 5, hash);
  const char *w[] = {"Content-Length", "5", "X-Content-SHA256", hash, NULL};
  assert_int_equal(status_of(request(fx, "PUT", PATH, w, "whole")), 400);
  assert_memory_equal(fake_slot_of(&fx->f, KEY)->cdata, "old", 3);
}

static void handler_zero_length_whole_put_commits_empty_file(void **state)
{
  fixture *fx = *state;
  const char *w[] = {"Content-Length", "0", NULL};
  resumable_exchange *ex = request(fx, "PUT", PATH, w, NULL);
  assert_int_equal(resumable_exchange_status(ex), 200);
  assert_string_equal(header(ex, "X-Content-SHA256"),
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  resumable_exchange_free(ex);
  assert_int_equal(fake_slot_of(&fx->f, KEY)->clen, 0);
}

static void handler_chunked_whole_put_over_max_is_413(void **state)
{
  fixture *fx = *state;
  resumable_server_set_max_size(fx->srv, 4);
  const char *w[] = {"Transfer-Encoding", "chunked", NULL};
  resumable_exchange *ex = start(fx, "PUT", PATH, w);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "abc", 3), 0);
  assert_int_equal(resumable_exchange_feed(ex, "de", 2), 1);
  assert_int_equal(status_of(ex), 413);
  assert_int_equal(fx->f.commits, 0);
}

static void handler_json_escapes_key(void **state)
{
  fixture *fx = *state;
  const char *w[] = {"Content-Length", "1", NULL};
  resumable_exchange *ex = request(fx, "PUT", "/v1/files/a%22b", w, "x");
  assert_int_equal(resumable_exchange_status(ex), 200);
  char buf[256];
  assert_non_null(strstr(body_of(ex, buf, sizeof(buf)), "{\"key\": \"a\\\"b\", \"size\": 1,"));
  resumable_exchange_free(ex);
}

static void json_escape_keeps_utf8_and_replaces_invalid_bytes(void **state)
{
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"caf\xc3\xa9", "caf\xc3\xa9"}, /* valid 2-byte sequence */
      {"\xe6\x97\xa5/\xf0\x9f\x98\x80", "\xe6\x97\xa5/\xf0\x9f\x98\x80"}, /* 3 and 4 bytes */
      {"\xff\xfe", "\\ufffd\\ufffd"},                                     /* never valid in UTF-8 */
      {"a\xc3", "a\\ufffd"},                                              /* truncated sequence */
      {"\xc0\xaf", "\\ufffd\\ufffd"},                                     /* overlong '/' */
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},                          /* UTF-16 surrogate */
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},               /* above U+10FFFF */
      {"q\"\\\x01", "q\\\"\\\\\\u0001"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[64];
    size_t len = 0;
    assert_int_equal(rs_json_escape(cases[i].in, buf, sizeof(buf), &len), 0);
    assert_string_equal(buf, cases[i].out);
    assert_int_equal(len, strlen(cases[i].out));
  }
}

static void handler_header_after_done_is_state_error(void **state)
{
  fixture *fx = *state;
  resumable_exchange *ex = start(fx, "HEAD", PATH, NULL);
  assert_int_equal(resumable_exchange_headers_done(ex), 1);
  assert_int_equal(resumable_exchange_headers_done(ex), RESUMABLE_E_STATE);
  assert_int_equal(resumable_exchange_add_header(ex, "Range", "bytes=0-1"), RESUMABLE_E_STATE);
  resumable_exchange_free(ex);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
  if (argc > 1)
    g_hash_threads = atoi(argv[1]);
  const struct CMUnitTest tests[] = {
      T(handler_chunks_commit_with_json_and_headers),
      T(handler_308_only_after_bytes_are_synced),
      T(handler_sync_failure_is_not_308),
      T(handler_long_body_syncs_every_64_mib),
      T(handler_checkpoint_waits_for_its_interval),
      T(handler_checkpoint_every_feed),
      T(handler_newer_put_supersedes_older_writer),
      T(handler_superseded_bytes_are_kept_and_continued),
      T(handler_digest_mismatch_drops_partial_keeps_complete),
      T(handler_rebuilds_lost_hash_state),
      T(handler_uses_saved_hash_state_without_reading),
      T(handler_416_carries_held_and_total),
      T(handler_short_body_keeps_bytes_and_is_400),
      T(handler_chunked_body_longer_than_range_is_400),
      T(handler_already_there_reads_no_body),
      T(handler_status_query_finishes_interrupted_commit),
      T(handler_status_query_reports_held),
      T(handler_nospace_is_507_with_text_body),
      T(handler_out_of_descriptors_is_503_with_retry_after),
      T(handler_io_error_is_500),
      T(handler_store_superseded_is_423),
      T(handler_repeated_content_range_is_400),
      T(handler_conflicting_content_length_is_400),
      T(handler_conflicting_hash_is_400_but_same_hash_repeated_is_fine),
      T(handler_length_and_chunked_together_is_400),
      T(handler_path_outside_prefix_is_404),
      T(handler_bad_key_is_400_naming_the_rule),
      T(handler_query_string_is_ignored),
      T(handler_other_method_is_405_with_allow),
      T(handler_set_prefix_moves_the_files),
      cmocka_unit_test(auth_ct_equal_compares_exactly),
      cmocka_unit_test(auth_bearer_parsing),
      T(handler_token_required_before_key),
      T(handler_head_partial_has_no_content_sha),
      T(handler_head_complete_exposes_path_only_when_asked),
      T(handler_get_serves_ranges),
      T(handler_delete_then_404),
      T(handler_delete_supersedes_writer),
      T(handler_whole_put_commits_and_drops_partial),
      T(handler_whole_put_hash_mismatch_keeps_old_file),
      T(handler_zero_length_whole_put_commits_empty_file),
      T(handler_chunked_whole_put_over_max_is_413),
      T(handler_json_escapes_key),
      T(json_escape_keeps_utf8_and_replaces_invalid_bytes),
      T(handler_header_after_done_is_state_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
