/* libmicrohttpd (0.9.75) host: one resumable_exchange per request.
 *
 * How a reply decided before the body ends is delivered (PROTOCOL.md, "Answering before the
 * body ends"), given what libmicrohttpd allows:
 *  - With `Expect: 100-continue` the reply is queued from the first access-handler call, so MHD
 *    never sends "100 Continue" and the client sends no body byte. MHD then closes the
 *    connection after the reply (it refuses to read the body of an early-queued PUT).
 *  - Otherwise MHD only lets a reply be queued once the whole body was read (it refuses
 *    MHD_queue_response while the body is being received, and an early-queued reply makes MHD
 *    close the socket with unread data, which the client sees as a reset). The client is
 *    sending the body anyway, so the host reads and discards it (nothing reaches the handler
 *    or the store) and queues the reply when the body ends. Closing instead would turn a final
 *    answer (200 "already there", 409, 413, 400) into a reset, which clients such as Go's
 *    net/http treat as transient: they would re-send the whole body again and again.
 *    This drain is bounded only by the slow-client checks below (idle timeout, minimum body
 *    rate), like any body; the client declared the length, and (auth being checked first) it
 *    is an authenticated one.
 *  - Two exceptions keep a short lingering read instead: after `linger_ms` from the decision the
 *    connection is closed without a reply at the next body piece. A 401: an unauthenticated
 *    client must not make us read unbounded data, and it learns nothing from the answer. And a
 *    body of unknown length (chunked): it has no declared end to wait for (it may be a stream
 *    that never stops), so it is treated like one that is too long.
 *  A client that stalls without sending is cut by the idle timeout in every case (MHD calls the
 *  handler only when bytes arrive).
 * A connection that drops mid-body is seen in the completion callback (termination code other
 * than COMPLETED_OK): the exchange ends as DROPPED, which keeps the bytes that arrived.
 *
 * Hostile and slow clients, within what MHD 0.9.75 offers:
 *  - MHD's connection timeout is an idle timeout: it restarts with every byte received or sent.
 *  - A slow body (a byte now and then, each resetting that timeout) is cut by our own rate check:
 *    MHD calls the handler for every piece it reads (drained pieces included), and a piece that
 *    ends a window in which the body averaged less than body_min_rate bytes/s closes the
 *    connection (the piece itself is still kept). So a body trickle ends within window + idle
 *    timeout.
 *  - MHD never calls the handler before the headers are complete, and its timeout restarts with
 *    every byte: the header phase's deadline is kept by the host's front thread (conn_guard.h),
 *    which shuts the connection down when it passes. The header section's size is checked
 *    when it is complete (431 over max_header_size; MHD answers 431 itself past the memory
 *    limit).
 *  - The host accepts connections itself (conn_guard.h), closes at once those over the
 *    connection cap, and hands the others to MHD, which closes at once those over the
 *    per-address cap.
 *  - A 423 decided mid-body (a newer request took the key over, and the older one's client,
 *    perhaps stalled until then, sent again) lingers only briefly: the 423 goes out if the
 *    body ends within SUPERSEDED_LINGER_MS, otherwise the connection is closed at the next
 *    piece, or after a second without one. Draining to the end, as for other early replies,
 *    would hold the connection for as long as the old client keeps sending a body that no
 *    longer goes anywhere.
 *  - MHD's epoll mode misses a FIN that arrives with the last bytes (see conn_guard.h): the
 *    front thread watches for FINs and wakes MHD, so a dropped upload frees its slot at once.
 *  - MHD_OPTION_STRICT_FOR_CLIENT 1: HTTP/1.1 without Host is 400, a space in the path closes.
 *    Header lines MHD still lets through against RFC 9112 are closed by request_ok(). */
#include "mhd_host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "conn_guard.h"

struct mhd_host {
  struct MHD_Daemon *daemon;
  conn_guard *guard;
  resumable_server *server;
  mhd_host_log_fn log;
  void *log_user;
  unsigned linger_ms;
  uint64_t body_min_rate;
  unsigned body_window_s;
  size_t max_header_size;
  uint16_t port;
  char address[INET6_ADDRSTRLEN];
};

/* What happens to the body after the reply is decided (see the top of this file). */
typedef enum drain_mode {
  DRAIN_NONE,   /* undecided: the body goes to the handler */
  DRAIN_TO_END, /* discard to the end, then reply */
  DRAIN_LINGER  /* discard until linger_ms passed, then close without a reply */
} drain_mode;

/* Per-request state, kept in MHD's con_cls. */
typedef struct mhd_request {
  mhd_host *host;
  resumable_exchange *ex;
  char method[16];
  drain_mode drain;             /* once the reply is decided: how the rest of the body is read */
  int ended;                    /* resumable_exchange_end was called */
  int failed;                   /* a header could not be handed over */
  int host_status;              /* a reply of the host's own (431), for the log */
  int close_after;              /* the reply closes the connection (Connection: close) */
  struct timespec drain_until;  /* DRAIN_LINGER: close at the first piece after this */
  struct timespec window_start; /* the body-rate window */
  uint64_t window_bytes;
} mhd_request;

enum { MHD_HOST_REPLY_BLOCK = 64 * 1024, SUPERSEDED_LINGER_MS = 1000 };

/* The handler wants the path still percent-encoded: leave MHD's copy as it came. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
  (void)cls;
  (void)c;
  return strlen(s);
}

static int time_passed(const struct timespec *t)
{
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
    return 1;
  return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static uint64_t ms_between(const struct timespec *a, const struct timespec *b)
{
  if (b->tv_sec < a->tv_sec || (b->tv_sec == a->tv_sec && b->tv_nsec < a->tv_nsec))
    return 0;
  uint64_t ms = (uint64_t)(b->tv_sec - a->tv_sec) * 1000u;
  return ms + (uint64_t)(b->tv_nsec / 1000000L) - (uint64_t)(a->tv_nsec / 1000000L);
}

/* Count a body piece of n bytes; true when a window just ended in which the body averaged
 * less than the minimum rate. */
static int too_slow(mhd_request *r, size_t n)
{
  const mhd_host *h = r->host;
  struct timespec now;
  if (h->body_min_rate == 0 || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
    return 0;
  r->window_bytes += n;
  uint64_t ms = ms_between(&r->window_start, &now);
  if (ms < (uint64_t)h->body_window_s * 1000u)
    return 0;
  if (ms > (uint64_t)1 << 32)
    ms = (uint64_t)1 << 32; /* keeps the product below in range */
  uint64_t need = h->body_min_rate / 1000u * ms + h->body_min_rate % 1000u * ms / 1000u;
  if (r->window_bytes < need)
    return 1;
  r->window_start = now;
  r->window_bytes = 0;
  return 0;
}

static int has_chunked_body(struct MHD_Connection *c)
{
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
         NULL; /* request_ok() let through only a single "chunked" */
}

static void linger_for(mhd_request *r, unsigned ms)
{
  r->drain = DRAIN_LINGER;
  if (clock_gettime(CLOCK_MONOTONIC, &r->drain_until) != 0)
    return; /* zeroed deadline: already passed, the connection just closes */
  r->drain_until.tv_sec += (time_t)(ms / 1000);
  r->drain_until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (r->drain_until.tv_nsec >= 1000000000L) {
    r->drain_until.tv_sec += 1;
    r->drain_until.tv_nsec -= 1000000000L;
  }
}

/* The reply is decided; the rest of the body is discarded, to its end or for a linger. */
static void mark_decided(struct MHD_Connection *c, mhd_request *r)
{
  int status = resumable_exchange_status(r->ex);
  if (status == 423) {
    linger_for(r, SUPERSEDED_LINGER_MS);
    /* a client that stalls again is cut after a second, not after the idle timeout */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
    r->close_after = 1;
  } else if (status != 401 && !has_chunked_body(c)) {
    r->drain = DRAIN_TO_END;
  } else {
    linger_for(r, r->host->linger_ms);
  }
}

static enum MHD_Result add_one_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                      const char *value)
{
  mhd_request *r = cls;
  (void)kind;
  if (resumable_exchange_add_header(r->ex, name, value != NULL ? value : "") != RESUMABLE_OK) {
    r->failed = 1;
    return MHD_NO;
  }
  return MHD_YES;
}

static ssize_t read_reply(void *cls, uint64_t pos, char *buf, size_t max)
{
  mhd_request *r = cls;
  size_t got = 0;
  (void)pos;
  if (resumable_exchange_read_body(r->ex, buf, max, &got) != RESUMABLE_OK)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if (got == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  return (ssize_t)got;
}

static enum MHD_Result queue_reply(struct MHD_Connection *c, mhd_request *r)
{
  int status = resumable_exchange_status(r->ex);
  struct MHD_Response *resp = MHD_create_response_from_callback(
      resumable_exchange_body_length(r->ex), MHD_HOST_REPLY_BLOCK, read_reply, r, NULL);
  if (resp == NULL || status < 100)
    goto fail;
  for (size_t i = 0; i < resumable_exchange_header_count(r->ex); i++) {
    const char *name = NULL;
    const char *value = NULL;
    if (resumable_exchange_header_at(r->ex, i, &name, &value) != RESUMABLE_OK ||
        MHD_add_response_header(resp, name, value) != MHD_YES)
      goto fail;
  }
  /* A malformed request may be framed differently by someone else on the path (both
   * Content-Length and Transfer-Encoding, two lengths): what follows it on the connection is
   * never parsed as another request (RFC 9112, 6.1). */
  if ((status == 400 || r->close_after) &&
      MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
    goto fail;
  enum MHD_Result ok = MHD_queue_response(c, (unsigned int)status, resp);
  MHD_destroy_response(resp); /* MHD keeps its own reference */
  return ok;
fail:
  if (resp != NULL)
    MHD_destroy_response(resp);
  return MHD_NO;
}

static int wants_100_continue(struct MHD_Connection *c)
{
  const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
  return expect != NULL && strcasecmp(expect, "100-continue") == 0;
}

/* RFC 9110 token characters: what a field name is made of. */
static int is_token(const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          strchr("!#$%&'*+-.^_`|~", ch) != NULL))
      return 0;
  }
  return 1;
}

/* No control byte but HTAB in a field value (a bare CR, say). */
static int is_field_value(const char *s)
{
  for (; *s != '\0'; s++)
    if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
      return 0;
  return 1;
}

typedef struct header_check {
  int te;  /* Transfer-Encoding fields seen, 2+ when unusable */
  int bad; /* a field name or value MHD let through that RFC 9112 says to reject */
} header_check;

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                    const char *value)
{
  header_check *hc = cls;
  (void)kind;
  if (name == NULL || !is_token(name) || (value != NULL && !is_field_value(value)))
    hc->bad = 1;
  else if (strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
    hc->te += (hc->te > 0 || value == NULL || strcasecmp(value, "chunked") != 0) ? 2 : 1;
  return MHD_YES;
}

/* MHD 0.9.75 is lenient where a proxy in front may read the request differently (a request
 * smuggling risk): it keeps "Name : value" and ": value" as fields, bare CRs in values, and
 * reads a body of any Transfer-Encoding but plain "chunked" up to the connection's end. Such a
 * request is closed at once, without a reply, before anything else on the connection is
 * parsed. Transfer-Encoding is fine absent, or as exactly one "chunked". */
static int request_ok(struct MHD_Connection *c)
{
  header_check hc = {0, 0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, check_header, &hc);
  return !hc.bad && hc.te <= 1;
}

static conn_watch *watch_of(struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i != NULL ? i->socket_context : NULL;
}

/* A reply of the host's own (no exchange), and the connection closed after it. */
static enum MHD_Result queue_own_reply(struct MHD_Connection *c, mhd_request *r, int status,
                                       const char *text)
{
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  r->host_status = status;
  enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  if (ok == MHD_YES)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  if (ok == MHD_YES)
    ok = MHD_queue_response(c, (unsigned int)status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static int header_too_large(const mhd_host *h, struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  return i != NULL && i->header_size > h->max_header_size;
}

/* First call: the request line and headers are in. */
static enum MHD_Result begin_request(mhd_host *h, struct MHD_Connection *c, const char *url,
                                     const char *method, void **con_cls)
{
  conn_guard_headers_done(h->guard, watch_of(c)); /* the header deadline is met */
  mhd_request *r = calloc(1, sizeof *r);
  if (r == NULL)
    return MHD_NO;
  r->host = h;
  snprintf(r->method, sizeof r->method, "%s", method);
  *con_cls = r; /* freed by on_completed, whatever happens next */
  if (header_too_large(h, c))
    return queue_own_reply(c, r, 431, "request header section too large\n");
  if (clock_gettime(CLOCK_MONOTONIC, &r->window_start) != 0 || !request_ok(c))
    return MHD_NO; /* closed without a reply; logged as dropped */
  if (resumable_exchange_begin(h->server, method, url, &r->ex) != RESUMABLE_OK)
    return MHD_NO;
  MHD_get_connection_values(c, MHD_HEADER_KIND, add_one_header, r);
  if (r->failed)
    return MHD_NO;
  int rc = resumable_exchange_headers_done(r->ex);
  if (rc < 0)
    return MHD_NO;
  if (rc == 1) {
    r->ended = 1; /* end() would do nothing after a decided reply */
    if (wants_100_continue(c))
      return queue_reply(c, r); /* no 100 Continue: the client sends no body */
    mark_decided(c, r);         /* drain whatever body comes, reply at its end */
  }
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  mhd_request *r = *con_cls;
  (void)version;
  if (r == NULL)
    return begin_request(cls, c, url, method, con_cls);
  if (r->ex == NULL)
    return r->host_status != 0 && *upload_data_size == 0 ? MHD_YES : MHD_NO;
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->drain == DRAIN_LINGER)
      return time_passed(&r->drain_until) ? MHD_NO : MHD_YES;
    if (r->drain == DRAIN_TO_END)
      return too_slow(r, n) ? MHD_NO : MHD_YES; /* discarded: the handler already decided */
    int rc = resumable_exchange_feed(r->ex, upload_data, n);
    if (rc != 0)
      r->ended = 1; /* decided (or refused): end() has nothing left to do */
    if (rc < 0)
      return MHD_NO;
    if (rc > 0)
      mark_decided(c, r);
    if (too_slow(r, n))
      return MHD_NO; /* on_completed ends the exchange as dropped: the bytes stay */
    return MHD_YES;
  }
  if (!r->ended) {
    resumable_exchange_end(r->ex, RESUMABLE_BODY_COMPLETE);
    r->ended = 1;
  }
  return queue_reply(c, r);
}

static void log_request(const mhd_request *r, int dropped)
{
  if (r->host->log == NULL)
    return;
  char line[1400];
  const char *key = r->ex != NULL ? resumable_exchange_key(r->ex) : "";
  int status = r->ex != NULL ? resumable_exchange_status(r->ex) : r->host_status;
  unsigned long long got = r->ex != NULL ? resumable_exchange_bytes_received(r->ex) : 0;
  snprintf(line, sizeof line, "%s \"%s\" %d %llu%s", r->method, key, status, got,
           dropped ? " dropped" : "");
  r->host->log(r->host->log_user, line);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  mhd_host *h = cls;
  mhd_request *r = *con_cls;
  if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    conn_guard_reply_done(h->guard, watch_of(c)); /* the next request's clock: its first byte */
  if (r == NULL)
    return;
  int dropped = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
  if (r->ex != NULL && !r->ended)
    resumable_exchange_end(r->ex, RESUMABLE_BODY_DROPPED); /* keeps what arrived */
  log_request(r, dropped);
  resumable_exchange_free(r->ex);
  free(r);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  mhd_host *h = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = i != NULL ? conn_guard_open(h->guard, i->connect_fd) : NULL;
  } else {
    conn_guard_close(h->guard, *socket_context); /* before MHD closes the socket */
    *socket_context = NULL;
  }
}

static void front_log(void *user, const char *line)
{
  mhd_host *h = user;
  if (h->log != NULL)
    h->log(h->log_user, line);
}

/* The front thread accepted a connection: MHD takes it (and closes it over a cap). */
static int admit(void *user, int fd, const struct sockaddr *addr, socklen_t len)
{
  mhd_host *h = user;
  return MHD_add_connection(h->daemon, fd, addr, len) == MHD_YES;
}

/* Fill `ss` from a numeric address; returns its length, or 0 if not an address. */
static socklen_t parse_address(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return (socklen_t)sizeof *v4;
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return (socklen_t)sizeof *v6;
  }
  return 0;
}

/* A listening socket on `ss` (non-blocking, close-on-exec); -1 with errno on failure. Like
 * MHD's own: SO_REUSEADDR, IPv6 only on an IPv6 address, the system's largest backlog. */
static int open_listener(const struct sockaddr_storage *ss)
{
  int v6 = ss->ss_family == AF_INET6;
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int on = 1;
  socklen_t len =
      v6 ? (socklen_t)sizeof(struct sockaddr_in6) : (socklen_t)sizeof(struct sockaddr_in);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
      bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static uint16_t bound_port(int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
}

static unsigned conn_cap(const mhd_host_config *cfg)
{
  return cfg->max_connections != 0 ? cfg->max_connections : 256;
}

static struct MHD_Daemon *start_daemon(mhd_host *h, const mhd_host_config *cfg)
{
  /* Thread per connection polls its one socket with poll(), not select(): no FD_SETSIZE cap.
   * A pool shares epoll worker threads among all connections. MHD does not listen: the front
   * thread accepts (conn_guard.h) and hands connections over through the ITC. */
  unsigned int flags = cfg->threads == 0
                           ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD
                           : MHD_USE_EPOLL_INTERNAL_THREAD;
  flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
  if (cfg->verbose)
    flags |= MHD_USE_ERROR_LOG;
  size_t mem = cfg->memory_limit != 0 ? cfg->memory_limit : (size_t)256 * 1024;
  unsigned int timeout = cfg->timeout_s != 0 ? cfg->timeout_s : 60;
  unsigned int pool = cfg->threads > 1 ? cfg->threads : 0; /* 1 is MHD's single thread */
  /* The cap is the front thread's (conn_guard.h: MHD 0.9.75 deadlocks when a handed-over
   * connection meets its limit). MHD divides its limit among the pool's threads: each gets the
   * whole cap and a margin, so none ever reaches it. */
  unsigned int limit = (conn_cap(cfg) + 64) * (pool > 0 ? pool : 1);
  return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                          mem, MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT,
                          limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip,
                          MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_STRICT_FOR_CLIENT, 1,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                          MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, h, MHD_OPTION_END);
}

int mhd_host_start(const mhd_host_config *cfg, mhd_host **out, char *err, size_t err_cap)
{
  *out = NULL;
  const char *addr = cfg->listen_addr != NULL ? cfg->listen_addr : "127.0.0.1";
  struct sockaddr_storage ss;
  if (cfg->server == NULL || parse_address(addr, cfg->port, &ss) == 0) {
    snprintf(err, err_cap, "not a numeric IPv4 or IPv6 address: %s", addr);
    return -1;
  }
  mhd_host *h = calloc(1, sizeof *h);
  if (h == NULL) {
    snprintf(err, err_cap, "out of memory");
    return -1;
  }
  h->server = cfg->server;
  h->log = cfg->log;
  h->log_user = cfg->log_user;
  h->linger_ms = cfg->linger_ms != 0 ? cfg->linger_ms : 5000;
  h->body_min_rate = cfg->body_min_rate;
  h->body_window_s = cfg->body_window_s != 0 ? cfg->body_window_s : 60;
  h->max_header_size = cfg->max_header_size != 0 ? cfg->max_header_size : 16 * 1024;
  snprintf(h->address, sizeof h->address, "%s", addr);
  int fd = open_listener(&ss);
  h->port = fd >= 0 ? bound_port(fd) : 0;
  if (fd < 0 || h->port == 0) {
    snprintf(err, err_cap, "cannot listen on %s port %u: %s", addr, (unsigned)cfg->port,
             strerror(errno));
    if (fd >= 0)
      close(fd);
    mhd_host_stop(h);
    return -1;
  }
  h->daemon = start_daemon(h, cfg);
  unsigned header_s = cfg->header_timeout_s != 0 ? cfg->header_timeout_s : 20;
  conn_guard_config gc = {.listen_fd = fd,
                          .header_timeout_ms = header_s * 1000u,
                          .retry_after_s = MHD_HOST_RETRY_AFTER_S,
                          .max_connections = conn_cap(cfg),
                          .admit = admit,
                          .log = front_log,
                          .user = h};
  if (h->daemon == NULL) {
    close(fd);
    snprintf(err, err_cap, "cannot start libmicrohttpd");
    mhd_host_stop(h);
    return -1;
  }
  if (conn_guard_start(&gc, &h->guard) != 0) { /* closes fd on failure */
    snprintf(err, err_cap, "cannot start the accepting thread: %s", strerror(errno));
    mhd_host_stop(h);
    return -1;
  }
  *out = h;
  return 0;
}

uint16_t mhd_host_port(const mhd_host *h)
{
  return h->port;
}

const char *mhd_host_address(const mhd_host *h)
{
  return h->address;
}

void mhd_host_stop(mhd_host *h)
{
  if (h == NULL)
    return;
  conn_guard_stop(h->guard); /* no new connection from here on */
  if (h->daemon != NULL)
    MHD_stop_daemon(h->daemon); /* closes every connection (conn_guard_close for each) */
  conn_guard_free(h->guard);
  free(h);
}
