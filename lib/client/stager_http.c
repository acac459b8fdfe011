/* One HTTP request of the stager on its reused libcurl easy handle: options, the read callback
 * that serves file bytes with pread, header and body capture, progress and cancel. */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/sockios.h> /* SIOCOUTQ */
#include <sys/ioctl.h>
#endif

#include "curl_cloexec.h"
#include "curl_setopt.h"
#include "range.h"
#include "stager_impl.h"

#define UPLOAD_BUFFER (1L << 20) /* ~20% faster than curl's 64 KiB on loopback */
#define EXPECT_TIMEOUT_MS 1000L  /* how long to wait for 100 Continue before sending anyway */
#define FINISH_EXPECT_TIMEOUT_MS 30000L /* a held upload: the server commits without our body */

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
  rs_run *run = ud;
  uint64_t left = run->body_end - run->body_pos;
  size_t want = size * nitems;
  if (left < want)
    want = (size_t)left;
  if (want == 0)
    return 0;
  if (run->mem) { /* a digested chunk: read (and hashed) once, sent from memory */
    memcpy(buf, run->mem + (run->body_pos - run->body_start), want);
    run->body_pos += want;
    return want;
  }
  ssize_t n;
  do
    n = pread(run->s->fd, buf, want, (off_t)run->body_pos);
  while (n < 0 && errno == EINTR);
  if (n <= 0) { /* an error, or the file shrank: never send a torn body */
    run->file_error = 1;
    return CURL_READFUNC_ABORT;
  }
  run->body_pos += (uint64_t)n;
  return (size_t)n;
}

/* curl rewinds when it must resend the body (e.g. after a 100-continue timeout race). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
  rs_run *run = ud;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > run->body_end - run->body_start)
    return CURL_SEEKFUNC_FAIL;
  run->body_pos = run->body_start + (uint64_t)offset;
  return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
  rs_run *run = ud;
  size_t n = size * nitems;
  if (n > RS_REPLY_HEADER_MAX - run->header_bytes) {
    run->header_too_large = 1; /* not worth parsing, let alone retrying */
    return 0;
  }
  run->header_bytes += n;
  if (buf[0] == 'H' && n >= 5 && memcmp(buf, "HTTP/", 5) == 0)
    run->body_len = 0; /* a new response (after 100 Continue): its body starts afresh */
  rs_resp_feed(&run->resp, buf, n, time(NULL));
  rs_tus_resp_feed(&run->tresp, buf, n);
  return n;
}

/* Keep the start of the body (the server's explanation); discard the rest. */
static size_t on_write(char *buf, size_t size, size_t nitems, void *ud)
{
  rs_run *run = ud;
  size_t n = size * nitems, room = RS_STAGER_BODY_MAX - run->body_len;
  size_t take = n < room ? n : room;
  memcpy(run->s->r.body + run->body_len, buf, take);
  run->body_len += take;
  run->s->r.body[run->body_len] = '\0';
  return n;
}

/* Bytes written to the connection's socket that the peer has not acknowledged yet; 0 when that
 * cannot be known. */
static int unacked(const rs_run *run)
{
#if defined(__linux__) && defined(SIOCOUTQ)
  int queued = 0;
  if (run->s->sock >= 0 && ioctl(run->s->sock, SIOCOUTQ, &queued) == 0)
    return queued > 0;
#else
  (void)run;
#endif
  return 0;
}

/* A new connection's socket (CURLINFO_ACTIVESOCKET only knows it once the transfer is over). */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
  resumable_stager *s = ud;
  if (purpose == CURLSOCKTYPE_IPCXN)
    s->sock = (int)fd;
  return CURL_SOCKOPT_OK;
}

/* Is the request body still on its way (not all handed to the connection, waiting for 100
 * Continue, or not yet acknowledged by the peer's TCP), with no answer begun? Kernel buffers on
 * both sides can hold megabytes: a body that sits there because the path stalled must still
 * count as being sent. */
static int body_pending(const rs_run *run)
{
  if (!run->req_put || run->resp.status >= 200)
    return 0;
  /* The finish PUT asks the server to commit what it holds; the server may hash the whole file
   * before it answers (LocalAI does) and need not read the body meanwhile, so its body may sit
   * unread for minutes. Only the budget bounds that wait (the stall check would abandon the
   * answer and start the server hashing again on the retry). */
  if (run->req_finish)
    return 0;
  return run->req_sent < run->body_end - run->body_start || unacked(run);
}

/* Stall detection, instead of CURLOPT_LOW_SPEED_*: those also count the wait for the answer,
 * and a server may rightly take minutes to answer once it has every byte (LocalAI hashes the
 * whole file before it answers the final chunk). So the check covers the request while its body
 * is going out (including a wait for 100 Continue); after that only the time budget bounds the
 * wait. It fails when fewer than stall_bytes * stall_secs bytes moved in a window of stall_secs
 * seconds; a window in which enough moved starts a new one. */
static int stall_check(rs_run *run, uint64_t moved)
{
  const rs_stager_opts *o = &run->s->o;
  uint64_t now = rs_now_ms();
  if (!o->stall_bytes || !body_pending(run) || moved < run->stall_b0 ||
      moved - run->stall_b0 >= o->stall_bytes * o->stall_secs) {
    run->stall_t0 = now;
    run->stall_b0 = moved;
    return 0;
  }
  return now - run->stall_t0 >= o->stall_secs * 1000;
}

static int on_xfer(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
  (void)dlt, (void)ult;
  rs_run *run = ud;
  if (uln > 0)
    run->req_sent = (uint64_t)uln; /* what curl has written to the connection */
  if (run->quiet)
    return 0;
  uint64_t moved = (uint64_t)(uln > 0 ? uln : 0) + (uint64_t)(dln > 0 ? dln : 0);
  if (stall_check(run, moved)) {
    run->stalled = 1;
    return 1;
  }
  return rs_run_progress(run) ? 1 : 0;
}

/* Append "fmt..." to *list; returns 0 or -1 (out of memory; *list stays valid). */
static int add_header(struct curl_slist **list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_header(struct curl_slist **list, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (len < 0 || (size_t)len >= sizeof line)
    return -1;
  struct curl_slist *n = curl_slist_append(*list, line);
  if (!n)
    return -1;
  *list = n;
  return 0;
}

/* Returns 0 and sets *out (NULL when there is no header at all), or -1 (out of memory). */
static int build_headers(rs_run *run, const rs_http_req *req, struct curl_slist **out)
{
  const rs_stager_opts *o = &run->s->o;
  struct curl_slist *list = NULL;
  int bad = 0;
  for (const struct curl_slist *h = o->headers; h && !bad; h = h->next)
    bad = add_header(&list, "%s", h->data);
  if (!bad && o->token)
    bad = add_header(&list, "Authorization: Bearer %s", o->token);
  for (const struct curl_slist *h = req->extra; h && !bad; h = h->next)
    bad = add_header(&list, "%s", h->data);
  if (!bad && !req->head && !req->method) {
    bad = add_header(&list, "X-Content-SHA256: %s", run->sha_hex);
    if (!bad && !req->whole) {
      char cr[80];
      rs_content_range r = {0, req->start, req->end - 1, run->size};
      bad = rs_content_range_format(&r, cr, sizeof cr) < 0 ||
            add_header(&list, "Content-Range: %s", cr);
    }
    if (!bad && req->force_expect)
      bad = add_header(&list, "Expect: 100-continue");
  }
  if (bad) {
    curl_slist_free_all(list);
    return -1;
  }
  *out = list;
  return 0;
}

static long clamp_ms(uint64_t ms)
{
  return ms < 1 ? 1 : ms > INT32_MAX ? INT32_MAX : (long)ms;
}

int rs_http_options(void *c, const rs_stager_opts *o, uint64_t left_ms)
{
  CURLcode cc = CURLE_OK;
  RS_SETOPT(&cc, c, CURLOPT_NOSIGNAL, 1L);
  /* The key is what the caller named: no dot-segment folding. */
  RS_SETOPT(&cc, c, CURLOPT_PATH_AS_IS, 1L);
  RS_SETOPT(&cc, c, CURLOPT_TCP_KEEPALIVE, 1L);
  RS_SETOPT(&cc, c, CURLOPT_TIMEOUT_MS, clamp_ms(left_ms));
  RS_SETOPT(&cc, c, CURLOPT_CONNECTTIMEOUT_MS,
            clamp_ms(o->connect_ms < left_ms ? o->connect_ms : left_ms));
  if (o->ca_file)
    RS_SETOPT(&cc, c, CURLOPT_CAINFO, o->ca_file);
  if (o->ca_path)
    RS_SETOPT(&cc, c, CURLOPT_CAPATH, o->ca_path);
  if (o->cert)
    RS_SETOPT(&cc, c, CURLOPT_SSLCERT, o->cert);
  if (o->key)
    RS_SETOPT(&cc, c, CURLOPT_SSLKEY, o->key);
  if (o->insecure) {
    RS_SETOPT(&cc, c, CURLOPT_SSL_VERIFYPEER, 0L);
    RS_SETOPT(&cc, c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  RS_SETOPT(&cc, c, CURLOPT_VERBOSE, o->verbose ? 1L : 0L);
  return rs_setopt_error(cc);
}

static int set_common(CURL *c, rs_run *run, const rs_http_req *req, uint64_t left_ms)
{
  CURLcode cc = CURLE_OK;
  const rs_stager_opts *o = &run->s->o;
  RS_SETOPT(&cc, c, CURLOPT_URL, req->url ? req->url : run->s->url);
  int rc = rs_http_options(c, o, left_ms);
  if (o->max_speed)
    RS_SETOPT(&cc, c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)o->max_speed);
  RS_SETOPT(&cc, c, CURLOPT_HEADERFUNCTION, on_header);
  RS_SETOPT(&cc, c, CURLOPT_HEADERDATA, run);
  RS_SETOPT(&cc, c, CURLOPT_WRITEFUNCTION, on_write);
  RS_SETOPT(&cc, c, CURLOPT_WRITEDATA, run);
  RS_SETOPT(&cc, c, CURLOPT_NOPROGRESS, 0L);
  RS_SETOPT(&cc, c, CURLOPT_XFERINFOFUNCTION, on_xfer);
  RS_SETOPT(&cc, c, CURLOPT_XFERINFODATA, run);
  RS_SETOPT(&cc, c, CURLOPT_ERRORBUFFER, run->s->errbuf);
  RS_SETOPT(&cc, c, CURLOPT_OPENSOCKETFUNCTION, rs_curl_open_cloexec);
  RS_SETOPT(&cc, c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
  RS_SETOPT(&cc, c, CURLOPT_SOCKOPTDATA, run->s);
  return rc != RESUMABLE_OK ? rc : rs_setopt_error(cc);
}

static int set_put(CURL *c, rs_run *run, const rs_http_req *req, uint64_t left_ms)
{
  CURLcode cc = CURLE_OK;
  RS_SETOPT(&cc, c, CURLOPT_UPLOAD, 1L);
  RS_SETOPT(&cc, c, CURLOPT_READFUNCTION, on_read);
  RS_SETOPT(&cc, c, CURLOPT_READDATA, run);
  RS_SETOPT(&cc, c, CURLOPT_SEEKFUNCTION, on_seek);
  RS_SETOPT(&cc, c, CURLOPT_SEEKDATA, run);
  RS_SETOPT(&cc, c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(req->end - req->start));
  RS_SETOPT(&cc, c, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
  if (req->fresh) {
    RS_SETOPT(&cc, c, CURLOPT_FRESH_CONNECT, 1L);
    RS_SETOPT(&cc, c, CURLOPT_FORBID_REUSE, 1L);
  }
  long expect = req->force_expect ? FINISH_EXPECT_TIMEOUT_MS : EXPECT_TIMEOUT_MS;
  RS_SETOPT(&cc, c, CURLOPT_EXPECT_100_TIMEOUT_MS,
            clamp_ms((uint64_t)expect < left_ms ? (uint64_t)expect : left_ms));
  return rs_setopt_error(cc);
}

/* Errors that another attempt cannot fix. */
static int curl_permanent(CURLcode cc)
{
  switch (cc) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_UNKNOWN_OPTION:
    return 1;
  default:
    return 0;
  }
}

static const char *curl_text(rs_run *run, CURLcode cc)
{
  return run->s->errbuf[0] ? run->s->errbuf : curl_easy_strerror(cc);
}

/* libcurl (7.88) refuses a reply header line over 100 KiB with CURLE_OUT_OF_MEMORY and no
 * message; newer ones say CURLE_TOO_LARGE. Memory did not run out: the request was sent and its
 * answer's header section had begun (a status line) or was awaited, and had not ended. */
static int header_line_too_large(const rs_run *run, CURLcode cc, const rs_http_req *req)
{
#if LIBCURL_VERSION_NUM >= 0x080600
  if (cc == CURLE_TOO_LARGE)
    return 1;
#endif
  if (cc != CURLE_OUT_OF_MEMORY || run->resp.complete)
    return 0;
  return run->resp.status != 0 || req->head || run->req_sent == req->end - req->start;
}

static int header_refused(rs_run *run, const rs_http_req *req)
{
  const char *method = req->head ? "HEAD" : "PUT";
  if (run->header_too_large)
    rs_run_msg(run,
               "the answer to %s has a header section over %u KiB: refused (a broken server or "
               "proxy?)",
               method, RS_REPLY_HEADER_MAX >> 10);
  else
    rs_run_msg(run,
               "the answer to %s has a header line over libcurl's limit of %u KiB: refused "
               "(libcurl reports it as out of memory; a broken server or proxy?)",
               method, RS_CURL_HEADER_LINE_MAX >> 10);
  return RESUMABLE_E_PROTOCOL;
}

static int classify(rs_run *run, CURLcode cc, const rs_http_req *req, uint64_t t0)
{
  if (run->cancelled)
    return RESUMABLE_E_CANCELLED;
  if (run->file_error)
    return RESUMABLE_E_FILE;
  if (run->header_too_large || header_line_too_large(run, cc, req))
    return header_refused(run, req);
  if (run->resp.complete && run->resp.status >= 200)
    return RS_HTTP_RESPONSE; /* the server decided, even if the connection broke afterwards */
  if (run->stalled) {
    snprintf(run->last_problem, sizeof run->last_problem,
             "stalled: fewer than %" PRIu64 " bytes/s for %" PRIu64 " s while sending",
             run->s->o.stall_bytes, run->s->o.stall_secs);
    return RS_HTTP_TRANSIENT;
  }
  if (cc == CURLE_OK) {
    snprintf(run->last_problem, sizeof run->last_problem, "incomplete response");
    return RS_HTTP_TRANSIENT;
  }
  if (cc == CURLE_OUT_OF_MEMORY)
    return RESUMABLE_E_NOMEM;
  if (curl_permanent(cc)) {
    rs_run_msg(run, "network error that retrying cannot fix: %s", curl_text(run, cc));
    return RESUMABLE_E_NETWORK;
  }
  if (cc == CURLE_OPERATION_TIMEDOUT && rs_now_ms() >= run->deadline_ms)
    return RESUMABLE_E_TIMEOUT;
  snprintf(run->last_problem, sizeof run->last_problem, "%.200s (%" PRIu64 " ms)",
           curl_text(run, cc), rs_now_ms() - t0);
  return RS_HTTP_TRANSIENT;
}

int rs_http_perform(rs_run *run, const rs_http_req *req)
{
  resumable_stager *s = run->s;
  uint64_t t0 = rs_now_ms();
  if (t0 >= run->deadline_ms)
    return RESUMABLE_E_TIMEOUT;
  if (!s->curl && !(s->curl = curl_easy_init()))
    return RESUMABLE_E_NOMEM;
  CURL *c = s->curl;
  struct curl_slist *hdrs = NULL;
  if (build_headers(run, req, &hdrs) != 0)
    return RESUMABLE_E_NOMEM;
  curl_easy_reset(c); /* keeps the connection cache: keep-alive across requests */
  rs_resp_reset(&run->resp);
  run->body_len = 0;
  run->header_bytes = 0;
  run->header_too_large = 0;
  s->r.body[0] = '\0';
  s->errbuf[0] = '\0';
  run->body_start = run->body_pos = req->start;
  run->req_sent = 0;
  run->body_end = req->end;
  run->mem = req->mem;
  int body = req->method ? strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0
                         : !req->head;
  run->req_put = body;
  run->req_finish = req->force_expect;
  run->stall_t0 = t0;
  run->stall_b0 = 0;
  run->stalled = 0;
  uint64_t left = run->deadline_ms - t0;
  CURLcode set = CURLE_OK;
  int setrc = set_common(c, run, req, left);
  RS_SETOPT(&set, c, CURLOPT_HTTPHEADER, hdrs);
  rs_tus_resp_reset(&run->tresp);
  if (req->method && strcmp(req->method, "HEAD") != 0)
    RS_SETOPT(&set, c, CURLOPT_CUSTOMREQUEST, req->method);
  if (req->head || (req->method && strcmp(req->method, "HEAD") == 0))
    RS_SETOPT(&set, c, CURLOPT_NOBODY, 1L);
  else if (body && setrc == RESUMABLE_OK)
    setrc = set_put(c, run, req, left);
  if (setrc == RESUMABLE_OK)
    setrc = rs_setopt_error(set);
  if (setrc != RESUMABLE_OK) { /* this libcurl cannot make the request as asked */
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return setrc;
  }
  s->r.requests++;
  CURLcode cc = curl_easy_perform(c);
  curl_socket_t kept = CURL_SOCKET_BAD; /* the connection the next request may reuse */
  s->sock = curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &kept) == CURLE_OK ? (int)kept : -1;
  curl_off_t up = 0;
  if (body && curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
    s->r.wire_bytes += (uint64_t)up;
  (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL); /* unsetting copies nothing */
  curl_slist_free_all(hdrs);
  int rc = classify(run, cc, req, t0);
  /* A cut: the connection broke under a body that had begun to go out, and no answer came (not
   * the stall check, not the budget). What got through is for the next probe to say. */
  run->cut = rc == RS_HTTP_TRANSIENT && !req->head && !run->stalled && up > 0 &&
             cc != CURLE_OPERATION_TIMEDOUT;
  run->cut_sent = run->cut ? (uint64_t)up : 0;
  long conns = 0;
  run->new_conn = curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns) != CURLE_OK || conns > 0;
  run->req_sent = 0;
  if (rc == RS_HTTP_RESPONSE)
    s->r.http_status = run->resp.status;
  return rc;
}
