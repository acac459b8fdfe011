/* End to end: the real stager against the real server (libmicrohttpd host in-process) on
 * loopback, through the fault proxy where the network has to misbehave. Wire bytes are counted
 * by the proxy (everything the server received: request headers and body bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"
#include "test_fs.h"
#include "faultproxy.h"
#include "sink.h"

#define MIB (1024ULL * 1024ULL)
#define WAIT_MS 30000
/* Room for the request headers of a few HEADs and PUTs in proxy counts. */
#define HDR_SLACK 8192

struct fx {
  char *dir, root[512];
  e2e_server srv;
  fp_proxy *proxy;
};

static int setup(void **state)
{
  struct fx *f = calloc(1, sizeof *f);
  if (f == NULL || (f->dir = e2e_tmpdir()) == NULL)
    return -1;
  snprintf(f->root, sizeof f->root, "%s/root", f->dir);
  if (mkdir(f->root, 0700) != 0)
    return -1;
  if (e2e_server_start(&f->srv, f->root, 0, NULL) != 0)
    return -1;
  if (fp_start(&f->proxy, "127.0.0.1", f->srv.port) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fx *f = *state;
  fp_stop(f->proxy);
  e2e_server_stop(&f->srv);
  (void)test_remove_tree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* A test file of `size` bytes in the fixture's dir; its hash into sha. */
static char *make_file(struct fx *f, const char *name, uint64_t size, uint32_t seed, char sha[65])
{
  char *p = e2e_make_file(f->dir, name, size, seed);
  assert_non_null(p);
  assert_int_equal(e2e_sha256_file(p, sha), 0);
  return p;
}

static void url_via_proxy(struct fx *f, char *buf, size_t cap, const char *key)
{
  e2e_url(buf, cap, fp_port(f->proxy), key);
}

/* The server holds the complete file under `key` with this hash. */
static void assert_stored(struct fx *f, const char *key, const char *sha)
{
  char path[1024], got[65];
  snprintf(path, sizeof path, "%s/%s", f->root, key);
  assert_int_equal(e2e_sha256_file(path, got), 0);
  assert_string_equal(got, sha);
}

static void upload_again_sends_nothing(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "a.bin", 2 * MIB, 1, sha);
  url_via_proxy(f, url, sizeof url, "a.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_string_equal(resumable_stager_sha256(st), sha);
  resumable_stager_free(st);
  assert_stored(f, "a.bin", sha);
  uint64_t before = fp_upstream_bytes(f->proxy);
  assert_true(before >= 2 * MIB);

  st = e2e_stager(url, path);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_already_there(st), 1);
  assert_int_equal(resumable_stager_wire_bytes(st), 0);
  assert_int_equal(resumable_stager_resumed_from(st), 2 * MIB);
  /* Only a HEAD went over the wire: no body byte. */
  assert_true(fp_upstream_bytes(f->proxy) - before < 1024);
  resumable_stager_free(st);
  free(path);
}

/* A raw PUT of the first `held` bytes, straight to the server, leaves a bound partial. */
static void put_prefix(struct fx *f, const char *path, const char *key, uint64_t held,
                       uint64_t size, const char *sha)
{
  char hdr[1024];
  int n = snprintf(hdr, sizeof hdr,
                   "PUT /v1/files/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   "Content-Range: bytes 0-%llu/%llu\r\nContent-Length: %llu\r\n"
                   "X-Content-SHA256: %s\r\n\r\n",
                   key, (unsigned long long)held - 1, (unsigned long long)size,
                   (unsigned long long)held, sha);
  FILE *in = fopen(path, "rb");
  char *body = malloc(held);
  assert_non_null(in);
  assert_non_null(body);
  assert_int_equal(fread(body, 1, held, in), held);
  fclose(in);
  int fd = tcp_connect_local(f->srv.port);
  assert_true(fd >= 0);
  assert_int_equal(tcp_send_all(fd, hdr, (size_t)n), (size_t)n);
  assert_int_equal(tcp_send_all(fd, body, held), held);
  char resp[13] = {0};
  assert_int_equal(tcp_recv_all(fd, resp, 12, WAIT_MS), 12);
  assert_string_equal(resp, "HTTP/1.1 308");
  close(fd);
  free(body);
}

static void resume_after_partial_sends_only_the_remainder(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 4 * MIB, held = 3 * MIB;
  char *path = make_file(f, "r.bin", size, 2, sha);
  put_prefix(f, path, "r.bin", held, size, sha);
  url_via_proxy(f, url, sizeof url, "r.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_resumed_from(st), held);
  uint64_t rest = size - held;
  assert_true(fp_upstream_bytes(f->proxy) <= rest + rest / 100);
  assert_stored(f, "r.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void cut_mid_body_is_recovered_by_attempt_two_with_the_remainder(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 4 * MIB;
  char *path = make_file(f, "c.bin", size, 3, sha);
  fp_set_cut(f->proxy, 1 * MIB + 12345, 1);
  url_via_proxy(f, url, sizeof url, "c.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 1);
  assert_int_equal(resumable_stager_attempts(st), 2);
  assert_int_equal(resumable_stager_restarts(st), 0);
  /* The server got the prefix once and the remainder once: each byte about once. */
  assert_true(fp_upstream_bytes(f->proxy) <= size + HDR_SLACK);
  assert_stored(f, "c.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void ten_cuts_during_a_64mib_upload_cost_under_5_percent(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 64 * MIB;
  char *path = make_file(f, "big.bin", size, 4, sha);
  fp_set_cut(f->proxy, 5 * MIB + 4321, 10);
  url_via_proxy(f, url, sizeof url, "big.bin");
  resumable_stager *st = e2e_stager(url, path);
  /* After a cut the server may still be draining the old connection's socket buffer (MiBs on
   * loopback); a newer PUT supersedes that connection and its unread bytes are sent again. The
   * default backoff (1 s) leaves time for the drain; 10 ms does not on a busy machine, so this
   * test uses a realistic, still quick, wait. */
  assert_int_equal(resumable_stager_set_backoff_ms(st, 250, 500), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 10);
  assert_true(resumable_stager_attempts(st) >= 11);
  assert_string_equal(resumable_stager_sha256(st), sha);
  assert_true(fp_upstream_bytes(f->proxy) <= size + size / 20);
  assert_stored(f, "big.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void stall_is_detected_and_upload_completes_after_forwarding_resumes(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  /* The stall check covers a body until the peer's TCP has acknowledged it; the rest of the
   * body after the stall point must not fit in the kernel buffers on both sides of the proxy
   * (several MiB on loopback), or it would count as delivered and only the budget would end
   * the wait for an answer. */
  const uint64_t size = 32 * MIB;
  char *path = make_file(f, "s.bin", size, 5, sha);
  fp_set_stall_after(f->proxy, 1 * MIB);
  url_via_proxy(f, url, sizeof url, "s.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(resumable_stager_set_stall(st, 1, 1), RESUMABLE_OK);
  e2e_job job;
  e2e_job_start(&job, st);
  assert_int_equal(fp_wait_stalled(f->proxy, WAIT_MS), 0);
  /* Stall detection abandons the stuck PUT: the stager comes back on a new connection. */
  assert_int_equal(fp_wait_accepted(f->proxy, 2, WAIT_MS), 0);
  fp_set_stall(f->proxy, 0);
  assert_int_equal(e2e_job_join(&job), RESUMABLE_OK);
  assert_true(resumable_stager_attempts(st) >= 2);
  assert_stored(f, "s.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* The first count of held bytes a run learnt (from its first probe that found a partial). */
static int first_held(void *ud, const resumable_progress *p)
{
  uint64_t *kept = ud;
  if (*kept == 0 && p->held > 0)
    *kept = p->held;
  return 0;
}

static void server_restart_mid_upload_then_upload_finishes(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 8 * MIB;
  char *path = make_file(f, "restart.bin", size, 6, sha);
  fp_set_rate(f->proxy, 8 * MIB); /* about a second: time to pull the plug part-way */
  url_via_proxy(f, url, sizeof url, "restart.bin");
  resumable_stager *st = e2e_stager(url, path);
  uint64_t kept = 0;
  assert_int_equal(resumable_stager_set_progress(st, first_held, &kept), RESUMABLE_OK);
  e2e_job job;
  e2e_job_start(&job, st);
  assert_int_equal(fp_wait_upstream_bytes(f->proxy, 2 * MIB, WAIT_MS), 0);
  uint16_t old_port = f->srv.port;
  e2e_server_stop(&f->srv);
  uint64_t before = fp_upstream_bytes(f->proxy); /* what reached the old server's socket */
  /* Same root; the same port when the kernel lets us have it back, else a new one. */
  if (e2e_server_start(&f->srv, f->root, old_port, NULL) != 0) {
    assert_int_equal(e2e_server_start(&f->srv, f->root, 0, NULL), 0);
  }
  fp_set_upstream(f->proxy, "127.0.0.1", f->srv.port);
  fp_set_rate(f->proxy, 0);
  assert_int_equal(e2e_job_join(&job), RESUMABLE_OK);
  assert_true(resumable_stager_attempts(st) >= 2);
  /* The stager resumed where the restarted server stood, and sent it about what it lacked.
   * (Not "each byte about once": what the old server had not yet read from its socket when it
   * stopped is lost there, hundreds of KiB when the machine is loaded.) */
  assert_true(kept > 0 && kept <= before);
  assert_true(fp_upstream_bytes(f->proxy) - before <= size - kept + size / 20);
  assert_stored(f, "restart.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* Counts the waits (entries into RESUMABLE_PHASE_WAITING) of a run. */
static int count_waits(void *ud, const resumable_progress *p)
{
  unsigned *st = ud; /* [0] waits, [1] last phase + 1 */
  if (p->phase == RESUMABLE_PHASE_WAITING && st[1] != RESUMABLE_PHASE_WAITING + 1)
    st[0]++;
  st[1] = (unsigned)p->phase + 1;
  return 0;
}

/* Issue 10 item 11: a relay that cuts every connection once it has carried 1 MiB (headers
 * included). Each cut used to cost a backoff wait and megabytes sent again. The stager must see
 * the pattern after two cuts and fit every PUT under the cap on a new connection, so that
 * nothing is cut any more, and never wait: after the first cut, which left megabytes in flight,
 * it probes until the server's count stands still instead of backing off. The relay forwards
 * 16 MB/s, as relays do; the backoff is a realistic 100-200 ms. */
static void relay_capping_each_connection_is_fitted_under_without_waits(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 8 * MIB;
  char *path = make_file(f, "capped.bin", size, 12, sha);
  fp_set_conn_cap(f->proxy, 1 * MIB);
  fp_set_rate(f->proxy, 16 * 1000 * 1000);
  url_via_proxy(f, url, sizeof url, "capped.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(resumable_stager_set_backoff_ms(st, 100, 200), RESUMABLE_OK);
  unsigned waits[2] = {0, 0};
  assert_int_equal(resumable_stager_set_progress(st, count_waits, waits), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_stored(f, "capped.bin", sha);
  assert_true(fp_cuts(f->proxy) >= 2); /* the relay did cut */
  assert_true(fp_cuts(f->proxy) <= 4); /* 8 or more without the adaptation */
  assert_int_equal(waits[0], 0);       /* one without settling: the first cut left MiBs in flight */
  assert_true(resumable_stager_attempts(st) <= 5);
  /* Each cut loses what was in flight. The first PUT carries the rest of the file, and what
   * sat in the kernels' and the relay's buffers when it was cut (megabytes on loopback) is lost;
   * later cuts lose at most a test PUT's overshoot. Without the adaptation every cut costs a
   * buffer's worth, several times the file in all. */
  assert_true(resumable_stager_wire_bytes(st) <= 2 * size);
  assert_true(fp_upstream_bytes(f->proxy) <= size + size / 20);
  resumable_stager_free(st);
  free(path);
}

/* Chunked mode: one HEAD, then ceil(size / chunk) PUTs. */
static void chunked_upload(struct fx *f, uint64_t size, uint64_t chunk, unsigned puts)
{
  char sha[65], url[256];
  char *path = make_file(f, "chunked.bin", size, 7, sha);
  e2e_url(url, sizeof url, f->srv.port, "chunked.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(resumable_stager_set_chunk_size(st, chunk), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_requests(st), 1 + puts);
  assert_int_equal(resumable_stager_wire_bytes(st), size);
  assert_stored(f, "chunked.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void chunked_mode_sends_one_put_per_chunk(void **state)
{
  chunked_upload(*state, 1 * MIB, 256 * 1024, 4);
}

static void chunked_mode_size_not_a_multiple_sends_a_short_last_chunk(void **state)
{
  chunked_upload(*state, 1 * MIB + 1000, 256 * 1024, 5);
}

static void zero_length_file_is_uploaded(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "empty.bin", 0, 8, sha);
  e2e_url(url, sizeof url, f->srv.port, "empty.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_string_equal(resumable_stager_sha256(st),
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  char stored[1024];
  snprintf(stored, sizeof stored, "%s/empty.bin", f->root);
  assert_int_equal(e2e_file_size(stored), 0);
  resumable_stager_free(st);
  free(path);
}

static void cancel_from_progress_callback_stops_promptly(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  const uint64_t size = 8 * MIB;
  char *path = make_file(f, "cancel.bin", size, 9, sha);
  e2e_url(url, sizeof url, f->srv.port, "cancel.bin");
  resumable_stager *st = e2e_stager(url, path);
  e2e_progress pr;
  e2e_progress_init(&pr);
  pr.cancel_at = 1 * MIB;
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &pr), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_max_send_speed(st, 2 * MIB), RESUMABLE_OK);
  double secs;
  assert_int_equal(e2e_run(st, &secs), RESUMABLE_E_CANCELLED);
  assert_true(pr.cancelled);
  assert_true(secs < 2.5); /* the whole file would take 4 s at this rate */
  /* A second run resumes and finishes. */
  assert_int_equal(resumable_stager_set_progress(st, NULL, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_max_send_speed(st, 0), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_stored(f, "cancel.bin", sha);
  e2e_progress_destroy(&pr);
  resumable_stager_free(st);
  free(path);
}

static void known_sha256_skips_the_hashing_phase(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "known.bin", 1 * MIB, 10, sha);
  e2e_url(url, sizeof url, f->srv.port, "known.bin");
  resumable_stager *st = e2e_stager(url, path);
  e2e_progress pr;
  e2e_progress_init(&pr);
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &pr), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_sha256(st, sha), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(pr.phases_seen & (1u << RESUMABLE_PHASE_HASHING), 0);
  assert_true(pr.phases_seen & (1u << RESUMABLE_PHASE_SENDING));
  assert_stored(f, "known.bin", sha);
  e2e_progress_destroy(&pr);
  resumable_stager_free(st);
  free(path);
}

static void eight_concurrent_uploads_of_different_keys_each_land_intact(void **state)
{
  struct fx *f = *state;
  enum { N = 8 };
  char sha[N][65], url[N][256], name[N][32];
  char *path[N];
  resumable_stager *st[N];
  e2e_job job[N];
  for (int i = 0; i < N; i++) {
    snprintf(name[i], sizeof name[i], "many/k%d.bin", i);
    char local[32];
    snprintf(local, sizeof local, "m%d.bin", i);
    path[i] = make_file(f, local, 1 * MIB + (uint64_t)i * 4099, 20 + (uint32_t)i, sha[i]);
    e2e_url(url[i], sizeof url[i], f->srv.port, name[i]);
    st[i] = e2e_stager(url[i], path[i]);
    assert_non_null(st[i]);
  }
  for (int i = 0; i < N; i++)
    e2e_job_start(&job[i], st[i]);
  for (int i = 0; i < N; i++)
    assert_int_equal(e2e_job_join(&job[i]), RESUMABLE_OK);
  for (int i = 0; i < N; i++) {
    assert_stored(f, name[i], sha[i]);
    resumable_stager_free(st[i]);
    free(path[i]);
  }
}

static void budget_ends_upload_against_closed_port_within_one_backoff_step(void **state)
{
  struct fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "closed.bin", 64 * 1024, 11, sha);
  int fd;
  e2e_url(url, sizeof url, e2e_refusing_port(&fd), "closed.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_int_equal(resumable_stager_set_time_budget_ms(st, 1000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(st, 100, 200), RESUMABLE_OK);
  double secs;
  assert_int_equal(e2e_run(st, &secs), RESUMABLE_E_TIMEOUT);
  assert_true(secs >= 0.7);             /* it may stop early when the next wait cannot fit */
  assert_true(secs <= 1.0 + 0.2 + 0.3); /* budget + one backoff step + scheduling slack */
  assert_true(resumable_stager_attempts(st) >= 2);
  assert_int_equal(resumable_stager_held(st), 0);
  assert_true(strlen(resumable_stager_message(st)) > 0);
  resumable_stager_free(st);
  close(fd);
  free(path);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(upload_again_sends_nothing),
      T(resume_after_partial_sends_only_the_remainder),
      T(cut_mid_body_is_recovered_by_attempt_two_with_the_remainder),
      T(ten_cuts_during_a_64mib_upload_cost_under_5_percent),
      T(stall_is_detected_and_upload_completes_after_forwarding_resumes),
      T(server_restart_mid_upload_then_upload_finishes),
      T(relay_capping_each_connection_is_fitted_under_without_waits),
      T(chunked_mode_sends_one_put_per_chunk),
      T(chunked_mode_size_not_a_multiple_sends_a_short_last_chunk),
      T(zero_length_file_is_uploaded),
      T(cancel_from_progress_callback_stops_promptly),
      T(known_sha256_skips_the_hashing_phase),
      T(eight_concurrent_uploads_of_different_keys_each_land_intact),
      T(budget_ends_upload_against_closed_port_within_one_backoff_step),
  };
  resumable_global_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  resumable_global_cleanup();
  return rc;
}
