/* What the nginx module must do because nginx is the host: every case runs Debian's nginx with
 * the module (nginx-host), as the user running the tests, driven over loopback by libcurl and
 * raw sockets. Arguments: nginx-host, nginx, the module, the sync-gate shim. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "nx_host.h"
#include "test_fs.h"

static nx_paths paths;
static const char *gate_shim;

typedef struct fixture {
  nx_host host;
  it_server srv; /* only its port is used: the it_* request helpers */
} fixture;

static fixture *start(const char *const *extra)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  if (nx_start(&paths, &f->host, extra) != 0)
    fail_msg("nginx-host did not start: %s", f->host.err);
  f->srv.port = f->host.port;
  snprintf(f->srv.root, sizeof f->srv.root, "%s", f->host.root);
  return f;
}

static void stop(fixture *f)
{
  int rc = nx_stop(&f->host);
  free(f);
  assert_int_equal(rc, 0); /* no sanitizer report */
}

static int setup(void **state)
{
  *state = start(NULL);
  return 0;
}

static int teardown(void **state)
{
  stop(*state);
  return 0;
}

/* nginx answers 413 to bodies over client_max_body_size (1m by default) before any module
 * runs: the module lifts it in its locations. Then the file comes back whole through the
 * reply-body tasks. */
static void large_upload_passes_client_max_body_size(void **state)
{
  fixture *f = *state;
  size_t len = 3 * 1024 * 1024 + 17;
  char *data = malloc(len);
  assert_non_null(data);
  it_fill(data, len, 7);
  char sha[65];
  it_sha256_hex(data, len, sha);
  assert_int_equal(it_put(&f->srv, "big.bin", NULL, sha, data, len, NULL), 200);
  it_resp r;
  it_request(&f->srv, &(it_req){.method = "GET", .key = "big.bin"}, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, len);
  assert_memory_equal(r.body, data, len);
  it_resp_free(&r);
  free(data);
}

/* nginx decodes the target and collapses "//", "." and ".." before matching a location: the
 * key must come from the raw target, where the protocol refuses them. */
static void raw_target_keys_are_judged_as_sent(void **state)
{
  fixture *f = *state;
  static const char *const targets[] = {"/v1/files/a//b", "/v1/files/a/./b", "/v1/files/a/../b",
                                        "/v1/files/a/%2e%2e/b"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    char req[512];
    int n = snprintf(req, sizeof req, "PUT %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
                     targets[i]);
    assert_int_equal(it_raw_request(f->srv.port, req, (size_t)n), 400);
  }
  char *tree = it_tree(f->host.root);
  assert_null(strstr(tree, "/b"));
  free(tree);
}

/* A header section of `count` fields of 50 bytes each to GET an absent key. */
static int head_with_headers(const fixture *f, int count)
{
  size_t cap = 64 + (size_t)count * 64;
  char *req = malloc(cap);
  assert_non_null(req);
  size_t n = (size_t)snprintf(req, cap, "GET /v1/files/absent HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < count; i++)
    n += (size_t)snprintf(req + n, cap - n, "X-Pad-%04d: %036d\r\n", i, i);
  n += (size_t)snprintf(req + n, cap - n, "\r\n");
  int status = it_raw_request(f->srv.port, req, n);
  free(req);
  return status;
}

/* nginx's buffers take hundreds of small headers; the protocol's 16 KiB limit is the module's. */
static void header_section_over_16k_is_431(void **state)
{
  fixture *f = *state;
  assert_int_equal(head_with_headers(f, 200), 404); /* about 10 KiB */
  assert_int_equal(head_with_headers(f, 400), 431); /* about 20 KiB */
}

/* A refusal decided from the headers reaches an Expect: 100-continue client as the first and
 * only response: no "100 Continue" that would make it send the body. */
static void early_refusal_sends_no_100_continue(void **state)
{
  fixture *f = *state;
  int fd = it_raw_connect(f->srv.port);
  static const char req[] = "PUT /v1/files/k HTTP/1.1\r\nHost: t\r\n"
                            "Content-Range: bytes 5-9/10\r\nContent-Length: 5\r\n"
                            "Expect: 100-continue\r\n\r\n";
  it_raw_send(fd, req, sizeof req - 1);
  char buf[4096];
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 30000), 416);
  assert_null(strstr(buf, "100 Continue"));
  close(fd);
}

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Probe (for at most 30 s) until HEAD of `key` reports at least `held` bytes. */
static void wait_held(const fixture *f, const char *key, long long held)
{
  long long deadline = now_ms() + 30000;
  while (now_ms() < deadline) {
    it_resp r;
    it_head(&f->srv, key, &r);
    long long got = it_header_num(&r, "X-File-Size");
    it_resp_free(&r);
    if (got >= held)
      return;
  }
  fail_msg("%s never held %lld bytes", key, held);
}

/* nginx can answer while a body still arrives (libmicrohttpd cannot): a superseded upload
 * gets its 423 at its next body bytes, not after its whole body. */
static void superseded_upload_gets_423_mid_body(void **state)
{
  fixture *f = *state;
  size_t len = 2000000;
  char *data = malloc(len);
  assert_non_null(data);
  it_fill(data, len, 3);
  char sha[65];
  it_sha256_hex(data, len, sha);
  int a = it_raw_connect(f->srv.port);
  char head[512];
  int n = snprintf(head, sizeof head,
                   "PUT /v1/files/s HTTP/1.1\r\nHost: t\r\nContent-Range: bytes 0-%zu/%zu\r\n"
                   "Content-Length: %zu\r\nX-Content-SHA256: %s\r\n\r\n",
                   len - 1, len, len, sha);
  it_raw_send(a, head, (size_t)n);
  it_raw_send(a, data, 500000);
  wait_held(f, "s", 1); /* A owns the key and has fed bytes */
  char small[100];
  it_fill(small, sizeof small, 4);
  assert_int_equal(it_put(&f->srv, "s", "bytes 0-99/100", NULL, small, sizeof small, NULL), 200);
  it_raw_send(a, data + 500000, 65536); /* A's next bytes meet the newer owner */
  char buf[4096];
  assert_int_equal(it_raw_read_response(a, buf, sizeof buf, 30000), 423);
  close(a);
  char path[256];
  size_t got = 0;
  char *kept = it_read_file(it_key_path(&f->srv, "s", path, sizeof path), &got);
  assert_non_null(kept);
  assert_int_equal(got, sizeof small);
  assert_memory_equal(kept, small, sizeof small);
  free(kept);
  free(data);
}

/* While a commit waits for the disk (fsync held by the sync gate), the worker answers others:
 * the commit runs on nginx's thread pool, not on the event loop. */
static void worker_serves_others_during_a_commit(void **state)
{
  (void)state;
  char dir[] = "/tmp/rs-gate-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char gate[64], notify[64], preload[1024];
  snprintf(gate, sizeof gate, "%s/gate", dir);
  snprintf(notify, sizeof notify, "%s/notify", dir);
  int gfd = open(gate, O_RDWR | O_CREAT, 0600);
  assert_true(gfd >= 0);
  assert_int_equal(mkfifo(notify, 0600), 0);
  const char *base = getenv("RS_NGINX_PRELOAD");
  snprintf(preload, sizeof preload, "%s%s%s", base != NULL ? base : "",
           base != NULL && base[0] ? " " : "", gate_shim);
  setenv("RS_NGINX_PRELOAD", preload, 1);
  setenv("RS_SYNC_GATE", gate, 1);
  setenv("RS_SYNC_NOTIFY", notify, 1);
  /* nginx's workers keep only the environment that `env` names */
  static const char *const extra[] = {"--main-directive", "env RS_SYNC_GATE;", "--main-directive",
                                      "env RS_SYNC_NOTIFY;", NULL};
  fixture *f = start(extra);
  if (base != NULL)
    setenv("RS_NGINX_PRELOAD", base, 1);
  else
    unsetenv("RS_NGINX_PRELOAD");
  unsetenv("RS_SYNC_GATE");
  unsetenv("RS_SYNC_NOTIFY");
  assert_int_equal(it_head(&f->srv, "warm", NULL), 404); /* the worker is up */
  int nfd = open(notify, O_RDONLY | O_NONBLOCK);
  assert_true(nfd >= 0);
  assert_int_equal(flock(gfd, LOCK_EX), 0);
  int put = it_raw_connect(f->srv.port);
  static const char req[] = "PUT /v1/files/c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
  it_raw_send(put, req, sizeof req - 1);
  struct pollfd p = {.fd = nfd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 30000), 1); /* a sync of that upload waits at the gate */
  char buf[4096];
  int other = it_raw_connect(f->srv.port);
  static const char head[] = "GET /v1/files/other HTTP/1.1\r\nHost: t\r\n\r\n";
  it_raw_send(other, head, sizeof head - 1);
  assert_int_equal(it_raw_read_response(other, buf, sizeof buf, 30000), 404);
  struct pollfd q = {.fd = put, .events = POLLIN};
  assert_int_equal(poll(&q, 1, 0), 0); /* the upload is still committing */
  assert_int_equal(flock(gfd, LOCK_UN), 0);
  assert_int_equal(it_raw_read_response(put, buf, sizeof buf, 30000), 200);
  close(other);
  close(put);
  close(nfd);
  close(gfd);
  stop(f);
  test_remove_tree(dir);
}

/* Several workers serve one root (the store excludes processes per key): uploads through
 * them land whole, whichever worker takes each connection. */
static void two_workers_serve_one_root(void **state)
{
  (void)state;
  static const char *const extra[] = {"--workers", "2", NULL};
  fixture *f = start(extra);
  char data[8][20000], sha[65], key[16];
  for (int i = 0; i < 8; i++) {
    it_fill(data[i], sizeof data[i], (unsigned)i + 100);
    it_sha256_hex(data[i], sizeof data[i], sha);
    snprintf(key, sizeof key, "w%d.bin", i);
    assert_int_equal(it_put(&f->srv, key, "bytes 0-9999/20000", sha, data[i], 10000, NULL), 308);
    assert_int_equal(
        it_put(&f->srv, key, "bytes 10000-19999/20000", sha, data[i] + 10000, 10000, NULL), 200);
  }
  for (int i = 0; i < 8; i++) {
    char path[256];
    size_t len = 0;
    snprintf(key, sizeof key, "w%d.bin", i);
    char *got = it_read_file(it_key_path(&f->srv, key, path, sizeof path), &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof data[i]);
    assert_memory_equal(got, data[i], len);
    free(got);
  }
  stop(f);
}

static void missing_root_is_a_configuration_error(void **state)
{
  (void)state;
  nx_host h;
  static const char *const extra[] = {"--root", "/nonexistent/rs-root", NULL};
  assert_int_equal(nx_start(&paths, &h, extra), -1);
  assert_non_null(strstr(h.err, "resumable_root \"/nonexistent/rs-root\""));
  nx_stop(&h);
}

/* Refusals in nginx's error log (with the request), status and body bytes in its access log. */
static void logs_go_to_nginx_logs(void **state)
{
  (void)state;
  static const char *const extra[] = {"--http-directive",
                                      "log_format rs '$request_method $status $request_length';",
                                      "--directive", "access_log rs.log rs;", NULL};
  fixture *f = start(extra);
  static const char bad[] = "PUT /v1/files/a//b HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx";
  assert_int_equal(it_raw_request(f->srv.port, bad, sizeof bad - 1), 400);
  char *err = nx_read(&f->host, "error.log");
  assert_non_null(strstr(err, "resumable: PUT /: 400 invalid key"));
  assert_non_null(strstr(err, "request: \"PUT /v1/files/a//b HTTP/1.1\""));
  free(err);
  /* Two requests on one connection: the first is logged before the second is read. */
  int fd = it_raw_connect(f->srv.port);
  static const char put[] = "PUT /v1/files/ok HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n";
  char body[1000], buf[4096];
  memset(body, 'z', sizeof body);
  it_raw_send(fd, put, sizeof put - 1);
  it_raw_send(fd, body, sizeof body);
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 30000), 200);
  static const char head[] = "GET /v1/files/ok HTTP/1.1\r\nHost: t\r\n\r\n";
  it_raw_send(fd, head, sizeof head - 1);
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 30000), 200);
  close(fd);
  char *acc = nx_read(&f->host, "rs.log");
  char want[64];
  snprintf(want, sizeof want, "PUT 200 %zu\n", sizeof put - 1 + sizeof body);
  assert_non_null(strstr(acc, want));
  free(acc);
  stop(f);
}

int main(int argc, char **argv)
{
  nx_paths_from_args(&paths, argc, argv);
  gate_shim = argc > 4 ? argv[4] : "";
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(large_upload_passes_client_max_body_size, setup, teardown),
      cmocka_unit_test_setup_teardown(raw_target_keys_are_judged_as_sent, setup, teardown),
      cmocka_unit_test_setup_teardown(header_section_over_16k_is_431, setup, teardown),
      cmocka_unit_test_setup_teardown(early_refusal_sends_no_100_continue, setup, teardown),
      cmocka_unit_test_setup_teardown(superseded_upload_gets_423_mid_body, setup, teardown),
      cmocka_unit_test(worker_serves_others_during_a_commit),
      cmocka_unit_test(two_workers_serve_one_root),
      cmocka_unit_test(missing_root_is_a_configuration_error),
      cmocka_unit_test(logs_go_to_nginx_logs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
