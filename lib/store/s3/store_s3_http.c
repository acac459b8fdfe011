/* One S3 request through libcurl, signed by curl's CURLOPT_AWS_SIGV4.
 *
 * curl 7.88 signs every header we set but leaves two things to us (measured against Ceph 16.2):
 * it sends no x-amz-content-sha256 (S3 then rejects the signature), and it signs the URL's path
 * and query exactly as given, so both must already be in SigV4's canonical form: every byte
 * except A-Z a-z 0-9 - . _ ~ percent-encoded in upper-case hex ('/' kept in the path), and the
 * query parameters sorted, each written "name=value" (also "uploads="). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_cloexec.h"
#include "curl_setopt.h"
#include "hex.h"
#include "resumable/error.h"
#include "sha256.h"
#include "store_s3.h"

static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static int unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

size_t s3_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap)
{
  static const char digits[] = "0123456789ABCDEF";
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      if (n + 1 >= cap)
        return 0;
      out[n++] = (char)c;
    } else {
      if (n + 3 >= cap)
        return 0;
      out[n++] = '%';
      out[n++] = digits[c >> 4];
      out[n++] = digits[c & 15];
    }
  }
  if (n >= cap)
    return 0;
  out[n] = '\0';
  return n;
}

int s3_object(const s3_store *s, const char *rest, char *out, size_t cap)
{
  size_t n = strlen(rest);
  if (s->prefix_len + n > S3_KEY_MAX || s->prefix_len + n + 1 > cap)
    return -1;
  memcpy(out, s->prefix, s->prefix_len);
  memcpy(out + s->prefix_len, rest, n + 1);
  return 0;
}

/* ---- answer headers ---- */

static void copy_value(const char *v, size_t n, char *out, size_t cap)
{
  while (n > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    n--;
  }
  while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
    v++;
    n -= 2;
  }
  if (n >= cap)
    n = 0; /* too long to be ours: treat as absent */
  memcpy(out, v, n);
  out[n] = '\0';
}

static int header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
  size_t k = strlen(name);
  if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
    return 0;
  *value = line + k + 1;
  *vlen = n - k - 1;
  return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
  s3_response *rs = arg;
  size_t n = size * nitems;
  const char *v;
  size_t vn;
  char num[32];
  if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    /* a new status line (after a 100 Continue, too): forget the previous answer's headers */
    const char *sp = memchr(line, ' ', n);
    rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    rs->etag[0] = rs->token[0] = '\0';
    rs->has_length = 0;
  } else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
    if (rs->status >= 200)
      rs->headers_done = 1;
  } else if (header_is(line, n, "ETag", &v, &vn)) {
    copy_value(v, vn, rs->etag, sizeof(rs->etag));
  } else if (header_is(line, n, "x-amz-meta-rs-token", &v, &vn)) {
    copy_value(v, vn, rs->token, sizeof(rs->token));
  } else if (header_is(line, n, "Content-Length", &v, &vn)) {
    copy_value(v, vn, num, sizeof(num));
    char *end = NULL;
    unsigned long long len = strtoull(num, &end, 10);
    if (num[0] >= '0' && num[0] <= '9' && end && *end == '\0') {
      rs->length = len;
      rs->has_length = 1;
    }
  }
  return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
  s3_xfer *x = arg;
  s3_response *rs = x->rs;
  const s3_request *rq = x->rq;
  size_t n = size * nmemb;
  if (rs->status < 200 || rs->status >= 300) {
    size_t room = sizeof(rs->err) - 1 - rs->err_len;
    size_t k = n < room ? n : room;
    memcpy(rs->err + rs->err_len, data, k);
    rs->err_len += k;
    rs->err[rs->err_len] = '\0';
    return n;
  }
  if (rq->sink_fn)
    return rq->sink_fn(data, size, nmemb, rq->sink_arg);
  if (rq->out && rq->out_cap > 0) {
    size_t room = rq->out_cap - 1 - rs->out_len;
    size_t k = n < room ? n : room;
    memcpy(rq->out + rs->out_len, data, k);
    rs->out_len += k;
    rq->out[rs->out_len] = '\0';
    if (k < n)
      rs->out_truncated = 1;
  }
  return n;
}

/* ---- memory bodies ---- */

static size_t read_mem(char *dst, size_t size, size_t nitems, void *arg)
{
  s3_xfer *x = arg;
  size_t n = size * nitems, left = x->rq->body_len - x->mem_off;
  if (n > left)
    n = left;
  memcpy(dst, (const uint8_t *)x->rq->body + x->mem_off, n);
  x->mem_off += n;
  return n;
}

static int seek_mem(void *arg, curl_off_t offset, int origin)
{
  s3_xfer *x = arg;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->rq->body_len)
    return CURL_SEEKFUNC_FAIL;
  x->mem_off = (size_t)offset;
  return CURL_SEEKFUNC_OK;
}

/* ---- setting up ---- */

static int add_header(s3_xfer *x, const char *line)
{
  struct curl_slist *l = curl_slist_append(x->headers, line);
  if (!l)
    return RESUMABLE_E_NOMEM;
  x->headers = l;
  return RESUMABLE_OK;
}

static int build_url(s3_store *s, const s3_request *rq, s3_xfer *x)
{
  char enc[S3_NAME_MAX * 3 + 1];
  enc[0] = '\0';
  if (rq->object && s3_encode(rq->object, strlen(rq->object), 1, enc, sizeof(enc)) == 0)
    return RESUMABLE_E_INVALID_ARG;
  int n;
  if (s->path_style)
    n = snprintf(x->url, sizeof(x->url), "%s/%s%s%s%s%s", s->base, s->bucket, rq->object ? "/" : "",
                 enc, rq->query ? "?" : "", rq->query ? rq->query : "");
  else
    n = snprintf(x->url, sizeof(x->url), "%s/%s%s%s", s->base, enc, rq->query ? "?" : "",
                 rq->query ? rq->query : "");
  return n < 0 || (size_t)n >= sizeof(x->url) ? RESUMABLE_E_INVALID_ARG : RESUMABLE_OK;
}

/* x-amz-content-sha256: the body's hash when it is in memory, UNSIGNED-PAYLOAD when streamed. */
static int payload_header(const s3_request *rq, s3_xfer *x)
{
  char line[128];
  if (rq->read_fn) {
    snprintf(line, sizeof(line), "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  } else if (rq->body_len > 0) {
    uint8_t d[32];
    char hex[RS_SHA256_HEX_LEN + 1];
    rs_sha256_digest(rq->body, rq->body_len, d);
    rs_sha256_hex_format(d, hex);
    snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
  } else {
    snprintf(line, sizeof(line), "x-amz-content-sha256: %s", empty_sha256);
  }
  return add_header(x, line);
}

static int set_headers(s3_store *s, const s3_request *rq, s3_xfer *x)
{
  /* (No "Expect:" to suppress 100-continue: curl 7.88 would sign that empty header without
   * sending it, and S3 would then refuse the signature.) */
  int rc = payload_header(rq, x);
  if (rc == RESUMABLE_OK && strcmp(rq->method, "POST") == 0)
    rc = add_header(x, "Content-Type: application/xml");
  if (rc == RESUMABLE_OK && s->token) {
    char *line = malloc(strlen(s->token) + 32);
    if (!line)
      return RESUMABLE_E_NOMEM;
    sprintf(line, "x-amz-security-token: %s", s->token);
    rc = add_header(x, line);
    free(line);
  }
  for (size_t i = 0;
       rc == RESUMABLE_OK && i < sizeof(rq->headers) / sizeof(rq->headers[0]) && rq->headers[i];
       i++)
    rc = add_header(x, rq->headers[i]);
  return rc;
}

/* Returns the first failure of its options (CURLE_OK if none). */
static CURLcode set_method(CURL *e, const s3_request *rq, s3_xfer *x)
{
  CURLcode cc = CURLE_OK;
  const char *m = rq->method;
  if (strcmp(m, "HEAD") == 0) {
    RS_SETOPT(&cc, e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(m, "PUT") == 0 || (strcmp(m, "POST") == 0 && rq->read_fn)) {
    RS_SETOPT(&cc, e, CURLOPT_UPLOAD, 1L);
    if (rq->read_fn) {
      RS_SETOPT(&cc, e, CURLOPT_READFUNCTION, rq->read_fn);
      RS_SETOPT(&cc, e, CURLOPT_READDATA, rq->read_arg);
      if (rq->seek_fn) {
        RS_SETOPT(&cc, e, CURLOPT_SEEKFUNCTION, rq->seek_fn);
        RS_SETOPT(&cc, e, CURLOPT_SEEKDATA, rq->read_arg);
      }
      RS_SETOPT(&cc, e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->read_len);
      RS_SETOPT(&cc, e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024); /* fewer, larger sends */
    } else {
      RS_SETOPT(&cc, e, CURLOPT_READFUNCTION, read_mem);
      RS_SETOPT(&cc, e, CURLOPT_READDATA, x);
      RS_SETOPT(&cc, e, CURLOPT_SEEKFUNCTION, seek_mem);
      RS_SETOPT(&cc, e, CURLOPT_SEEKDATA, x);
      RS_SETOPT(&cc, e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (strcmp(m, "POST") == 0)
      RS_SETOPT(&cc, e, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (strcmp(m, "POST") == 0) {
    RS_SETOPT(&cc, e, CURLOPT_POST, 1L);
    RS_SETOPT(&cc, e, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
    RS_SETOPT(&cc, e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
  } else if (strcmp(m, "DELETE") == 0) {
    RS_SETOPT(&cc, e, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    RS_SETOPT(&cc, e, CURLOPT_HTTPGET, 1L);
  }
  return cc;
}

int s3_xfer_setup(s3_store *s, CURL *e, const s3_request *rq, s3_response *rs, s3_xfer *x)
{
  memset(rs, 0, sizeof(*rs));
  x->headers = NULL;
  x->rq = rq;
  x->rs = rs;
  x->mem_off = 0;
  int rc = build_url(s, rq, x);
  if (rc == RESUMABLE_OK)
    rc = set_headers(s, rq, x);
  if (rc != RESUMABLE_OK) {
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    return rc;
  }
  curl_easy_reset(e);
  CURLcode cc = CURLE_OK;
  RS_SETOPT(&cc, e, CURLOPT_URL, x->url);
  RS_SETOPT(&cc, e, CURLOPT_HTTPHEADER, x->headers);
  RS_SETOPT(&cc, e, CURLOPT_AWS_SIGV4, s->sigv4);
  RS_SETOPT(&cc, e, CURLOPT_USERNAME, s->access);
  RS_SETOPT(&cc, e, CURLOPT_PASSWORD, s->secret);
  RS_SETOPT(&cc, e, CURLOPT_HEADERFUNCTION, on_header);
  RS_SETOPT(&cc, e, CURLOPT_HEADERDATA, rs);
  RS_SETOPT(&cc, e, CURLOPT_WRITEFUNCTION, on_body);
  RS_SETOPT(&cc, e, CURLOPT_WRITEDATA, x);
  RS_SETOPT(&cc, e, CURLOPT_NOSIGNAL, 1L);
  RS_SETOPT(&cc, e, CURLOPT_OPENSOCKETFUNCTION, rs_curl_open_cloexec);
  RS_SETOPT(&cc, e, CURLOPT_CONNECTTIMEOUT, 10L);
  RS_SETOPT(&cc, e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!rq->quiet_timeouts) {
    /* a control request that moves nothing for 60 s is dead */
    RS_SETOPT(&cc, e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    RS_SETOPT(&cc, e, CURLOPT_LOW_SPEED_TIME, 60L);
  }
  CURLcode mc = set_method(e, rq, x);
  rc = rs_setopt_error(cc != CURLE_OK ? cc : mc);
  if (rc != RESUMABLE_OK) { /* this libcurl cannot make the request (SigV4 needs 7.75) */
    (void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
  }
  return rc;
}

void s3_xfer_done(s3_xfer *x)
{
  s3_response *rs = x->rs;
  if (rs->status >= 300 && rs->err_len > 0) {
    size_t pos = 0;
    if (s3_xml_text(rs->err, rs->err_len, &pos, "Code", rs->code, sizeof(rs->code)) < 0)
      rs->code[0] = '\0';
  }
  curl_slist_free_all(x->headers);
  x->headers = NULL;
}

int s3_perform(s3_store *s, CURL *easy, const s3_request *rq, s3_response *rs)
{
  s3_xfer x;
  int rc = s3_xfer_setup(s, easy, rq, rs, &x);
  if (rc != RESUMABLE_OK)
    return rc;
  CURLcode cc = curl_easy_perform(easy);
  s3_xfer_done(&x);
  if (cc != CURLE_OK || rs->status < 100)
    return RESUMABLE_E_IO;
  return RESUMABLE_OK;
}

static void pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) /* a signal: sleep the rest */
    ;
}

int s3_call(s3_store *s, const s3_request *rq, s3_response *rs)
{
  int rc = RESUMABLE_E_IO;
  for (int attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0)
      pause_ms(50L << (2 * attempt)); /* 200 ms, then 800 ms: S3's advice for 500/503 */
    CURL *e = s3_easy_get(s);
    if (!e)
      return RESUMABLE_E_NOMEM;
    rc = s3_perform(s, e, rq, rs);
    s3_easy_put(s, e);
    if (rc == RESUMABLE_OK && rs->status != 500 && rs->status != 503)
      return RESUMABLE_OK;
    if (rc != RESUMABLE_OK && rc != RESUMABLE_E_IO)
      return rc;
  }
  return rc;
}

int s3_status_code(const s3_response *rs)
{
  if (rs->status >= 200 && rs->status < 300)
    return RESUMABLE_OK;
  if (rs->status == 404)
    return RESUMABLE_E_NOT_FOUND;
  if (strcmp(rs->code, "QuotaExceeded") == 0 || strcmp(rs->code, "EntityTooLarge") == 0)
    return RESUMABLE_E_NOSPACE;
  return RESUMABLE_E_IO;
}
