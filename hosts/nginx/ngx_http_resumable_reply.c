/* The reply, and what happens to a body the reply does not need.
 *
 * nginx can answer while a body is still arriving, which libmicrohttpd cannot: every decided
 * reply goes out at once. The unread body is then settled the nginx way (docs/protocol.md,
 * "Early answers"):
 *  - `Expect: 100-continue`: the expectation is marked handled first, so nginx never sends
 *    "100 Continue"; the client sends no body, and the connection closes after the reply (the
 *    client may or may not send the body later: the connection cannot be reused safely).
 *  - a 401, or a chunked body (no declared end): no drain; the connection closes after the
 *    reply through nginx's lingering close (at most lingering_time), so an unauthenticated or
 *    endless client cannot make the server read unbounded data.
 *  - otherwise: ngx_http_discard_request_body reads the rest and drops it, and the connection
 *    stays usable (nginx bounds the drain after the reply by lingering_time).
 *  - a reply decided mid-body (423, 413, a storage error): nginx is still reading the body, so
 *    finalizing closes the connection with a lingering close.
 * A 400 closes the connection: whoever framed the request differently must not see what
 * follows it as another request (RFC 9112, 6.1). */
#include "ngx_http_resumable.h"

/* Reason phrases nginx's own table lacks. */
static ngx_str_t *ngx_http_resumable_status_line(ngx_uint_t status)
{
  static ngx_str_t locked = ngx_string("423 Locked");
  static ngx_str_t too_large = ngx_string("431 Request Header Fields Too Large");
  static ngx_str_t checksum = ngx_string("460 Checksum Mismatch");
  switch (status) {
  case 423:
    return &locked;
  case 431:
    return &too_large;
  case 460:
    return &checksum;
  default:
    return NULL;
  }
}

static void ngx_http_resumable_set_status(ngx_http_request_t *r, ngx_uint_t status)
{
  ngx_str_t *line = ngx_http_resumable_status_line(status);
  r->headers_out.status = status;
  if (line != NULL)
    r->headers_out.status_line = *line;
}

static int ngx_http_resumable_expects_100(ngx_http_request_t *r)
{
  ngx_table_elt_t *h = r->headers_in.expect;
  return h != NULL && r->http_version >= NGX_HTTP_VERSION_11 &&
         h->value.len == sizeof("100-continue") - 1 &&
         ngx_strncasecmp(h->value.data, (u_char *)"100-continue", h->value.len) == 0;
}

/* Settle a body the reply does not need (see the top of this file). */
static void ngx_http_resumable_settle_body(ngx_http_request_t *r, ngx_uint_t status)
{
  if (ngx_http_resumable_expects_100(r)) {
    r->expect_tested = 1;
    r->keepalive = 0;
  } else if (status == NGX_HTTP_UNAUTHORIZED || r->headers_in.chunked) {
    r->keepalive = 0;
    r->lingering_close = 1;
  } else if (ngx_http_discard_request_body(r) != NGX_OK) {
    r->keepalive = 0;
  }
}

void ngx_http_resumable_reply_early(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_resumable_settle_body(ctx->r, (ngx_uint_t)resumable_exchange_status(ctx->ex));
  ngx_http_resumable_reply_send(ctx);
}

/* The exchange's headers into nginx's: Content-Type where nginx's filters look for it, the
 * others as they are. Their strings live as long as the exchange, which outlives the reply. */
static ngx_int_t ngx_http_resumable_set_headers(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  size_t n = resumable_exchange_header_count(ctx->ex);
  for (size_t i = 0; i < n; i++) {
    const char *name = NULL;
    const char *value = NULL;
    if (resumable_exchange_header_at(ctx->ex, i, &name, &value) != RESUMABLE_OK)
      return NGX_ERROR;
    size_t vlen = ngx_strlen(value);
    if (ngx_strcasecmp((u_char *)name, (u_char *)"Content-Type") == 0) {
      r->headers_out.content_type.data = (u_char *)value;
      r->headers_out.content_type.len = vlen;
      r->headers_out.content_type_len = vlen;
      continue;
    }
    ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL)
      return NGX_ERROR;
    h->hash = 1;
    h->lowcase_key = NULL;
    h->key.data = (u_char *)name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *)value;
    h->value.len = vlen;
  }
  return NGX_OK;
}

static void ngx_http_resumable_send_piece(ngx_http_resumable_ctx_t *ctx);

/* Wait until the piece in flight has left, then read the next one. */
static void ngx_http_resumable_reply_writer(ngx_http_request_t *r)
{
  ngx_http_resumable_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_resumable_module);
  ngx_connection_t *c = r->connection;
  ngx_http_core_loc_conf_t *clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
  if (c->write->timedout) {
    c->timedout = 1;
    ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
    return;
  }
  if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
    ngx_http_finalize_request(r, NGX_ERROR);
    return;
  }
  if (r->buffered || c->buffered) {
    if (!c->write->delayed)
      ngx_add_timer(c->write, clcf->send_timeout);
    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK)
      ngx_http_finalize_request(r, NGX_ERROR);
    return;
  }
  if (c->write->timer_set)
    ngx_del_timer(c->write);
  r->write_event_handler = ngx_http_request_empty_handler;
  if (ctx->out_cap < NGX_HTTP_RESUMABLE_OUT_BUF) {
    u_char *big = ngx_palloc(r->pool, NGX_HTTP_RESUMABLE_OUT_BUF);
    if (big != NULL) {
      ctx->out = big;
      ctx->out_cap = NGX_HTTP_RESUMABLE_OUT_BUF;
    }
  }
  ngx_http_resumable_post(ctx, NGX_HTTP_RESUMABLE_OP_READ);
}

/* Pass the piece in ctx->out on; the last one finalizes the request. */
static void ngx_http_resumable_send_piece(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  uint64_t total = resumable_exchange_body_length(ctx->ex);
  int more = !ctx->out_error && ctx->out_len > 0 && ctx->out_total < total;
  ngx_buf_t *b = &ctx->out_buf;
  ngx_memzero(b, sizeof(*b));
  if (ctx->out_len > 0) {
    b->start = b->pos = ctx->out;
    b->end = b->last = ctx->out + ctx->out_len;
    b->temporary = 1;
  }
  b->last_buf = !more;
  b->last_in_chain = 1;
  ctx->out_chain.buf = b;
  ctx->out_chain.next = NULL;
  ngx_int_t rc = ngx_http_output_filter(r, &ctx->out_chain);
  if (ctx->out_error || (!more && ctx->out_total < total)) {
    /* The file could not be read to its end: the reply is cut, the connection closed. */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "resumable: reading the reply body failed after %uL of %uL bytes", ctx->out_total,
                  total);
    r->connection->error = 1;
    ngx_http_finalize_request(r, NGX_ERROR);
    return;
  }
  if (!more || rc == NGX_ERROR) {
    ngx_http_finalize_request(r, rc);
    return;
  }
  r->write_event_handler = ngx_http_resumable_reply_writer;
  ngx_http_resumable_reply_writer(r);
}

void ngx_http_resumable_reply_send(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  int status = resumable_exchange_status(ctx->ex);
  if (status < 100) {
    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "resumable: no reply decided");
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  ngx_http_resumable_set_status(r, (ngx_uint_t)status);
  r->headers_out.content_length_n = (off_t)resumable_exchange_body_length(ctx->ex);
  if (ngx_http_resumable_set_headers(ctx) != NGX_OK) {
    ngx_http_finalize_request(r, NGX_ERROR);
    return;
  }
  if (status == NGX_HTTP_BAD_REQUEST)
    r->keepalive = 0;
  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
    ngx_http_finalize_request(r, rc);
    return;
  }
  ngx_http_resumable_send_piece(ctx);
}

void ngx_http_resumable_reply_read_done(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_resumable_send_piece(ctx);
}

/* (pool thread) */
void ngx_http_resumable_reply_read_task(ngx_http_resumable_ctx_t *ctx)
{
  ctx->out_len = 0;
  if (ctx->no_body)
    return;
  while (ctx->out_len < ctx->out_cap) {
    size_t got = 0;
    if (resumable_exchange_read_body(ctx->ex, ctx->out + ctx->out_len, ctx->out_cap - ctx->out_len,
                                     &got) != RESUMABLE_OK) {
      ctx->out_error = 1;
      break;
    }
    if (got == 0)
      break;
    ctx->out_len += got;
  }
  ctx->out_total += ctx->out_len;
}

ngx_int_t ngx_http_resumable_reply_text(ngx_http_request_t *r, ngx_uint_t status, const char *text)
{
  size_t len = ngx_strlen(text);
  ngx_http_resumable_settle_body(r, status);
  ngx_http_resumable_set_status(r, status);
  ngx_str_set(&r->headers_out.content_type, "text/plain");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  r->headers_out.content_length_n = (off_t)len + 1;
  if (status == NGX_HTTP_BAD_REQUEST)
    r->keepalive = 0;
  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only)
    return rc;
  ngx_buf_t *b = ngx_create_temp_buf(r->pool, len + 1);
  if (b == NULL)
    return NGX_ERROR;
  b->last = ngx_cpymem(b->last, text, len);
  *b->last++ = '\n';
  b->last_buf = 1;
  b->last_in_chain = 1;
  ngx_chain_t out = {b, NULL};
  return ngx_http_output_filter(r, &out);
}
