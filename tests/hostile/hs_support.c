/* Hostile-client test helpers: see hostile.h. */
#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void log_line(void *user, const char *line)
{
  hs_log *l = user;
  pthread_mutex_lock(&l->mu);
  size_t n = strlen(line);
  if (l->len + n + 2 < sizeof l->text) {
    memcpy(l->text + l->len, line, n);
    l->len += n;
    l->text[l->len++] = '\n';
    l->text[l->len] = '\0';
  }
  pthread_mutex_unlock(&l->mu);
}

int hs_log_has(hs_server *s, const char *needle)
{
  pthread_mutex_lock(&s->log.mu);
  int found = strstr(s->log.text, needle) != NULL;
  pthread_mutex_unlock(&s->log.mu);
  return found;
}

void hs_start(hs_server *s)
{
  it_server *it = &s->it;
  if (it->parent[0] == '\0') {
    snprintf(it->parent, sizeof it->parent, "/tmp/rs-hostile-XXXXXX");
    assert_non_null(mkdtemp(it->parent));
    snprintf(it->root, sizeof it->root, "%s/root", it->parent);
    assert_int_equal(mkdir(it->root, 0700), 0);
  }
  if (kit_active()) { /* the conformance kit's host, with its own defaults (s->cfg unused) */
    kit_opts o = {.token = it->token, .max_size = it->max_size};
    assert_int_equal(kit_host_start(&it->kit, it->root, &o), 0);
    it->port = it->kit.port;
    return;
  }
  assert_int_equal(resumable_server_new(&it->srv, it->root), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_max_size(it->srv, it->max_size), RESUMABLE_OK);
  mhd_host_config cfg = s->cfg;
  cfg.listen_addr = "127.0.0.1";
  cfg.server = it->srv;
  cfg.log = log_line;
  cfg.log_user = &s->log;
  cfg.verbose = getenv("RS_IT_VERBOSE") != NULL;
  char err[256];
  if (mhd_host_start(&cfg, &it->host, err, sizeof err) != 0)
    fail_msg("mhd_host_start: %s", err);
  it->port = mhd_host_port(it->host);
}

void hs_stop(hs_server *s)
{
  kit_host_stop(&s->it.kit);
  mhd_host_stop(s->it.host);
  s->it.host = NULL;
  resumable_server_free(s->it.srv);
  s->it.srv = NULL;
}

hs_server *hs_new(const mhd_host_config *cfg)
{
  hs_server *s = calloc(1, sizeof *s);
  assert_non_null(s);
  assert_int_equal(pthread_mutex_init(&s->log.mu, NULL), 0);
  if (cfg != NULL)
    s->cfg = *cfg;
  hs_start(s);
  return s;
}

void hs_free(hs_server *s)
{
  if (s == NULL)
    return;
  hs_stop(s);
  it_rm_rf(s->it.parent);
  pthread_mutex_destroy(&s->log.mu);
  free(s);
}

long long hs_now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int hs_connect(uint16_t port, const char *src)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  if (src != NULL) {
    assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  }
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Length of the whole first final response in buf, or 0 if incomplete. Interim 1xx responses
 * are skipped; a HEAD response or a 204/304 has no body. */
static size_t response_end(const char *buf, size_t len, int is_head, int *status)
{
  size_t off = 0;
  for (;;) {
    const char *start = buf + off;
    if (len - off < 12 || strncmp(start, "HTTP/1.", 7) != 0)
      return 0;
    const char *end = strstr(start, "\r\n\r\n");
    if (end == NULL)
      return 0;
    int st = atoi(start + 9);
    size_t head = (size_t)(end - buf) + 4;
    if (st >= 100 && st < 200) {
      off = head;
      continue;
    }
    *status = st;
    unsigned long long cl = 0;
    for (const char *p = start; p < end; p++)
      if ((p == start || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0)
        cl = strtoull(p + 15, NULL, 10);
    if (is_head || st == 204 || st == 304)
      cl = 0;
    return len >= head + cl ? head + cl : 0;
  }
}

static int has_connection_close(const char *buf, size_t len)
{
  for (const char *p = buf; p + 17 <= buf + len; p++)
    if (p[-1] == '\n' && strncasecmp(p, "Connection: close", 17) == 0)
      return 1;
  return 0;
}

static int first_status(const char *buf, size_t len)
{
  size_t off = 0;
  while (len - off >= 12 && strncmp(buf + off, "HTTP/1.", 7) == 0) {
    int st = atoi(buf + off + 9);
    const char *end = strstr(buf + off, "\r\n\r\n");
    if (st >= 200 || end == NULL)
      return st;
    off = (size_t)(end - buf) + 4;
  }
  return 0;
}

static void roundtrip(int fd, const void *req, size_t len, int until_close, int is_head,
                      int timeout_ms, hs_result *out)
{
  static _Thread_local char buf[65536];
  const char *p = req;
  size_t sent = 0, got = 0;
  int sending = 1, done = 0;
  long long deadline = hs_now_ms() + timeout_ms;
  memset(out, 0, sizeof *out);
  buf[0] = '\0';
  while (!done) {
    long long left = deadline - hs_now_ms();
    if (left <= 0) {
      out->timed_out = 1;
      break;
    }
    struct pollfd pf = {.fd = fd, .events = POLLIN | (sending && sent < len ? POLLOUT : 0)};
    if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
      fail_msg("poll: %s", strerror(errno));
    if ((pf.revents & POLLOUT) && sending && sent < len) {
      ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        sent += (size_t)n;
      else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        sending = 0; /* the server stopped reading: keep reading its answer */
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
      char *dst = got + 1 < sizeof buf ? buf + got : buf + sizeof buf - 1;
      size_t room = got + 1 < sizeof buf ? sizeof buf - 1 - got : 0;
      char sink[4096];
      ssize_t n = recv(fd, room ? dst : sink, room ? room : sizeof sink, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        out->closed = 1;
        break;
      }
      if (n > 0 && room) {
        got += (size_t)n;
        buf[got] = '\0';
      }
      int st = 0;
      size_t end = until_close ? 0 : response_end(buf, got, is_head, &st);
      if (end > 0 && has_connection_close(buf, end))
        until_close = 1; /* the server's bookkeeping ends before it closes: wait for that */
      else if (end > 0)
        done = 1;
    }
  }
  out->status = first_status(buf, got);
  snprintf(out->head, sizeof out->head, "%s", buf);
}

int hs_send(int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void hs_roundtrip(int fd, const void *req, size_t len, int until_close, int timeout_ms,
                  hs_result *out)
{
  int is_head = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
  roundtrip(fd, req, len, until_close, is_head, timeout_ms, out);
}

void hs_read_head_reply(int fd, int timeout_ms, hs_result *out)
{
  roundtrip(fd, "", 0, 0, 1, timeout_ms, out);
}

void hs_raw(uint16_t port, const void *req, size_t len, int timeout_ms, hs_result *out)
{
  int fd = hs_connect(port, NULL);
  assert_true(fd >= 0);
  hs_roundtrip(fd, req, len, 0, timeout_ms, out);
  close(fd);
}

int hs_wait_closed(int fd, int timeout_ms)
{
  hs_result r;
  hs_roundtrip(fd, "", 0, 1, timeout_ms, &r);
  return r.closed;
}

int hs_head(uint16_t port, const char *key)
{
  char req[1200];
  int n = snprintf(req, sizeof req, "HEAD " IT_PREFIX "%s HTTP/1.1\r\nHost: t\r\n\r\n", key);
  assert_true(n > 0 && (size_t)n < sizeof req);
  hs_result r;
  hs_raw(port, req, (size_t)n, 10000, &r);
  return r.status;
}

char *hs_snapshot(const char *dir)
{
  char *tree = it_tree(dir);
  size_t cap = strlen(tree) * 2 + 4096, len = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = '\0';
  for (char *line = strtok(tree, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char path[4096], hex[65] = "-";
    struct stat st;
    long long mtime_ns = 0;
    snprintf(path, sizeof path, "%s/%s", dir, line + 2);
    char *sp = strrchr(path, ' ');
    if (sp != NULL)
      *sp = '\0'; /* drop the size: "<type> <path> <size>" */
    if (line[0] == 'f' &&
        lstat(path, &st) == 0) /* a directory's changes when a temp file comes and goes */
      mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (line[0] == 'f') {
      size_t n = 0;
      char *data = it_read_file(path, &n);
      assert_non_null(data);
      it_sha256_hex(data, n, hex);
      free(data);
    }
    size_t need = strlen(line) + 100;
    if (len + need >= cap) {
      cap = (len + need) * 2;
      out = realloc(out, cap);
      assert_non_null(out);
    }
    len += (size_t)snprintf(out + len, cap - len, "%s %lld %s\n", line, mtime_ns, hex);
  }
  free(tree);
  return out;
}

static void partial_file(const hs_server *s, const char *key, const char *ext, char *buf,
                         size_t cap)
{
  char hex[65];
  it_sha256_hex(key, strlen(key), hex);
  snprintf(buf, cap, "%s/.resumable/partial/%s.%s", s->it.root, hex, ext);
}

void hs_age_partial(const hs_server *s, const char *key, long age_s)
{
  static const char *const ext[] = {"meta", "data"};
  for (int i = 0; i < 2; i++) {
    char path[512];
    partial_file(s, key, ext[i], path, sizeof path);
    struct timespec t[2];
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &t[0]), 0);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
  }
}

int hs_partial_files_exist(const hs_server *s, const char *key)
{
  char path[512];
  struct stat st;
  partial_file(s, key, "meta", path, sizeof path);
  int meta = lstat(path, &st) == 0;
  partial_file(s, key, "data", path, sizeof path);
  return meta || lstat(path, &st) == 0;
}

static long status_field(const char *name)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(name);
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, name, n) == 0 && line[n] == ':')
      v = strtol(line + n + 1, NULL, 10);
  if (f != NULL)
    fclose(f);
  return v;
}

long hs_threads(void)
{
  return status_field("Threads");
}
long hs_rss_kib(void)
{
  return status_field("VmRSS");
}
