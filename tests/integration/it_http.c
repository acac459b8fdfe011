/* Integration helpers: requests through libcurl and through raw sockets. */
#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct upload_src {
  const char *data;
  size_t len, pos;
  size_t pause_at; /* it_put_stalled: pause once when pos reaches it (0: never) */
  int paused;      /* paused now */
  int pause_done;  /* the one pause happened */
} upload_src;

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *user)
{
  upload_src *u = user;
  size_t n = size * nmemb;
  if (u->pause_at > 0 && !u->pause_done && u->pos >= u->pause_at) {
    u->paused = u->pause_done = 1;
    return CURL_READFUNC_PAUSE;
  }
  size_t end = u->pause_at > 0 && !u->pause_done ? u->pause_at : u->len;
  if (n > end - u->pos)
    n = end - u->pos;
  if (n > 0)
    memcpy(buf, u->data + u->pos, n);
  u->pos += n;
  return n;
}

static size_t header_cb(char *buf, size_t size, size_t nmemb, void *user)
{
  it_resp *r = user;
  size_t n = size * nmemb;
  if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0)
    r->headers_len = 0; /* a new response (after "100 Continue"): keep only the last */
  if (r->headers_len + n < sizeof r->headers) {
    memcpy(r->headers + r->headers_len, buf, n);
    r->headers_len += n;
    r->headers[r->headers_len] = '\0';
  }
  return n;
}

static size_t body_cb(char *buf, size_t size, size_t nmemb, void *user)
{
  it_resp *r = user;
  size_t n = size * nmemb;
  char *bigger = realloc(r->body, r->body_len + n + 1);
  if (bigger == NULL)
    return 0;
  r->body = bigger;
  memcpy(r->body + r->body_len, buf, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return n;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
  char line[512];
  snprintf(line, sizeof line, "%s: %s", name, value);
  struct curl_slist *n = curl_slist_append(l, line);
  assert_non_null(n);
  return n;
}

static struct curl_slist *request_headers(const it_req *rq)
{
  struct curl_slist *h = NULL;
  char auth[300];
  if (rq->content_range != NULL)
    h = add_header(h, "Content-Range", rq->content_range);
  if (rq->sha256 != NULL)
    h = add_header(h, "X-Content-SHA256", rq->sha256);
  if (rq->range != NULL)
    h = add_header(h, "Range", rq->range);
  if (rq->token != NULL) {
    snprintf(auth, sizeof auth, "Bearer %s", rq->token);
    h = add_header(h, "Authorization", auth);
  }
  for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++) {
    h = curl_slist_append(h, rq->headers[i]);
    assert_non_null(h);
  }
  h = curl_slist_append(h, rq->expect_100 ? "Expect: 100-continue" : "Expect:");
  assert_non_null(h);
  return h;
}

static void set_method(CURL *c, const it_req *rq, upload_src *src)
{
  if (strcmp(rq->method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(rq->method, "PUT") == 0 ||
             ((strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PATCH") == 0) &&
              (rq->body_len > 0 || rq->chunked))) {
    if (strcmp(rq->method, "PUT") != 0)
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, src);
    if (!rq->chunked) /* else HTTP/1.1 curl sends Transfer-Encoding: chunked */
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
  } else if (strcmp(rq->method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
  }
}

/* One libcurl transfer being set up or run. */
typedef struct it_call {
  CURL *c;
  struct curl_slist *h;
  upload_src src;
  char url[2048];
} it_call;

static void call_prepare(const it_server *s, const it_req *rq, it_resp *out, it_call *k)
{
  memset(out, 0, sizeof *out);
  memset(k, 0, sizeof *k);
  k->c = curl_easy_init();
  assert_non_null(k->c);
  CURL *c = k->c;
  snprintf(k->url, sizeof k->url, "http://127.0.0.1:%u%s%s", (unsigned)s->port, IT_PREFIX, rq->key);
  k->src.data = rq->body;
  k->src.len = rq->body_len;
  k->h = request_headers(rq);
  curl_easy_setopt(c, CURLOPT_URL, k->url);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, k->h);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  set_method(c, rq, &k->src);
}

static void call_finish(it_call *k, it_resp *out)
{
  curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_off_t up = 0;
  curl_easy_getinfo(k->c, CURLINFO_SIZE_UPLOAD_T, &up);
  out->uploaded = (long long)up;
  curl_slist_free_all(k->h);
  curl_easy_cleanup(k->c);
}

void it_request(const it_server *s, const it_req *rq, it_resp *out)
{
  it_call k;
  call_prepare(s, rq, out, &k);
  CURLcode rc = curl_easy_perform(k.c);
  if (rc != CURLE_OK)
    fail_msg("curl %s %s: %s", rq->method, k.url, curl_easy_strerror(rc));
  call_finish(&k, out);
}

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Drive the paused-once transfer until it ends: CURLE_OK or curl's error. */
static CURLcode run_stalled(CURLM *m, it_call *k, int pause_ms, int *ended_in_pause)
{
  long long resume_at = -1;
  int running = 1;
  while (running) {
    assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
    if (!running)
      break;
    if (k->src.paused && resume_at < 0)
      resume_at = now_ms() + pause_ms;
    if (k->src.paused && now_ms() >= resume_at) {
      k->src.paused = 0;
      assert_int_equal(curl_easy_pause(k->c, CURLPAUSE_CONT), CURLE_OK);
      continue;
    }
    /* Waits on the transfer's socket: during the pause only a reply or a close wakes it. */
    int wait = k->src.paused ? (int)(resume_at - now_ms()) : 1000;
    assert_int_equal(curl_multi_poll(m, NULL, 0, wait > 0 ? wait : 0, NULL), CURLM_OK);
  }
  *ended_in_pause = k->src.paused;
  int left = 0;
  CURLMsg *msg = curl_multi_info_read(m, &left);
  assert_non_null(msg);
  return msg->data.result;
}

CURLcode it_put_stalled(const it_server *s, const it_req *rq, size_t pause_at, int pause_ms,
                        it_resp *out, int *ended_in_pause)
{
  assert_true(pause_at > 0 && pause_at < rq->body_len);
  it_call k;
  call_prepare(s, rq, out, &k);
  k.src.pause_at = pause_at;
  CURLM *m = curl_multi_init();
  assert_non_null(m);
  assert_int_equal(curl_multi_add_handle(m, k.c), CURLM_OK);
  CURLcode rc = run_stalled(m, &k, pause_ms, ended_in_pause);
  curl_multi_remove_handle(m, k.c);
  curl_multi_cleanup(m);
  call_finish(&k, out);
  return rc;
}

void it_resp_free(it_resp *r)
{
  free(r->body);
  r->body = NULL;
}

const char *it_header(const it_resp *r, const char *name, char *buf, size_t cap)
{
  size_t n = strlen(name);
  const char *p = r->headers;
  while (*p != '\0') {
    const char *eol = strchr(p, '\n');
    size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
    if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ')
        v++;
      size_t vlen = (size_t)(p + len - v);
      while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
        vlen--;
      if (vlen >= cap)
        vlen = cap - 1;
      memcpy(buf, v, vlen);
      buf[vlen] = '\0';
      return buf;
    }
    if (eol == NULL)
      break;
    p = eol + 1;
  }
  return NULL;
}

long long it_header_num(const it_resp *r, const char *name)
{
  char buf[64];
  if (it_header(r, name, buf, sizeof buf) == NULL || buf[0] < '0' || buf[0] > '9')
    return -1;
  return strtoll(buf, NULL, 10);
}

static long finish(it_resp *r, it_resp *out)
{
  long status = r->status;
  if (out != NULL)
    *out = *r;
  else
    it_resp_free(r);
  return status;
}

long it_put(const it_server *s, const char *key, const char *content_range, const char *sha256,
            const void *data, size_t len, it_resp *out)
{
  it_req rq = {.method = "PUT",
               .key = key,
               .body = data,
               .body_len = len,
               .content_range = content_range,
               .sha256 = sha256};
  it_resp r;
  it_request(s, &rq, &r);
  return finish(&r, out);
}

long it_head(const it_server *s, const char *key, it_resp *out)
{
  it_req rq = {.method = "HEAD", .key = key};
  it_resp r;
  it_request(s, &rq, &r);
  return finish(&r, out);
}

int it_raw_connect(uint16_t port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

void it_raw_send(int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    assert_true(n > 0);
    p += n;
    len -= (size_t)n;
  }
}

/* Whether buf holds a whole response: headers, then Content-Length bytes of body. */
static int response_complete(const char *buf, size_t len)
{
  const char *end = strstr(buf, "\r\n\r\n");
  if (end == NULL)
    return 0;
  size_t head = (size_t)(end - buf) + 4;
  const char *cl = NULL;
  for (const char *p = buf; p < end; p++)
    if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0)
      cl = p + 15;
  if (cl == NULL || strncmp(buf + 9, "204", 3) == 0 || strncmp(buf + 9, "100", 3) == 0)
    return 1;
  return len >= head + strtoull(cl, NULL, 10);
}

int it_raw_read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
  size_t len = 0;
  long long deadline = now_ms() + timeout_ms;
  buf[0] = '\0';
  while (len + 1 < cap && !response_complete(buf, len)) {
    long long left = deadline - now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      break;
    ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
  }
  if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
    return -1;
  return atoi(buf + 9);
}

int it_raw_request(uint16_t port, const char *req, size_t len)
{
  int fd = it_raw_connect(port);
  it_raw_send(fd, req, len);
  static _Thread_local char buf[16384];
  int status = it_raw_read_response(fd, buf, sizeof buf, 10000);
  close(fd);
  return status;
}
