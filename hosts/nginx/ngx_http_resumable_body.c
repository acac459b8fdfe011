/* The request body, streamed from nginx into the exchange as it arrives.
 *
 * nginx reads the body unbuffered (request_body_no_buffering): never into a temporary file,
 * and into its own small buffer (client_body_buffer_size) only. The event loop copies what
 * arrived into one of two buffers of ours while a pool thread feeds the other to the exchange,
 * so receiving overlaps the disk and the hash. When both are taken the loop stops reading:
 * nginx's buffer fills, TCP pushes back on the client, and memory stays bounded at two buffers
 * per upload. Whenever the thread is idle it gets what has arrived, however little, so a slow
 * client's bytes (and a superseding request's 423) do not wait for a buffer to fill.
 *
 * The body ends (nginx read all of it, or the client went away, timed out or sent a bad chunk)
 * with one last task that feeds the rest and ends the exchange. A feed that decides the reply
 * (423 superseded, 413, a storage error) stops the body at once: the reply goes out, and nginx
 * discards the rest of the body with its lingering close (it is still reading a body). */
#include "ngx_http_resumable.h"

static void ngx_http_resumable_body_pump(ngx_http_resumable_ctx_t *ctx);

/* nginx calls this once reading has started (or the body is already complete). */
static void ngx_http_resumable_body_started(ngx_http_request_t *r)
{
  ngx_http_resumable_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_resumable_module);
  ctx->nginx_done = !r->reading_body;
}

static void ngx_http_resumable_body_read(ngx_http_request_t *r)
{
  ngx_http_resumable_body_pump(ngx_http_get_module_ctx(r, ngx_http_resumable_module));
}

void ngx_http_resumable_body_start(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  ctx->buf[0] = ngx_palloc(r->pool, NGX_HTTP_RESUMABLE_BODY_BUF);
  ctx->buf[1] = ngx_palloc(r->pool, NGX_HTTP_RESUMABLE_BODY_BUF);
  if (ctx->buf[0] == NULL || ctx->buf[1] == NULL) {
    ctx->dropped = 1; /* ends the exchange as dropped, keeping nothing new */
    ctx->drop_rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_http_resumable_body_pump(ctx);
    return;
  }
  r->request_body_no_buffering = 1;
  ctx->reading = 1;
  /* Sends "100 Continue" to a client that waits for it: the body is wanted. */
  ngx_int_t rc = ngx_http_read_client_request_body(r, ngx_http_resumable_body_started);
  if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
    ctx->dropped = 1;
    ctx->drop_rc = rc;
  } else {
    ngx_http_finalize_request(r, NGX_DONE); /* the reference reading the body took */
  }
  r->read_event_handler = ngx_http_resumable_body_read;
  r->write_event_handler = ngx_http_request_empty_handler;
  ngx_http_resumable_body_pump(ctx);
}

/* Copy what nginx has read into buf[fill], as far as it fits. */
static void ngx_http_resumable_body_take(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_body_t *rb = ctx->r->request_body;
  if (rb == NULL)
    return;
  while (rb->bufs != NULL) {
    ngx_chain_t *cl = rb->bufs;
    ngx_buf_t *b = cl->buf;
    size_t size = (size_t)(b->last - b->pos);
    size_t space = NGX_HTTP_RESUMABLE_BODY_BUF - ctx->fill_len;
    size_t n = size < space ? size : space;
    ngx_memcpy(ctx->buf[ctx->fill] + ctx->fill_len, b->pos, n);
    b->pos += n;
    ctx->fill_len += n;
    if (n < size)
      return; /* buffer full; the rest stays with nginx */
    rb->bufs = cl->next;
    ngx_free_chain(ctx->r->pool, cl);
  }
}

/* Give buf[fill] to a feed task; `last` makes it end the exchange after feeding. */
static void ngx_http_resumable_body_hand_over(ngx_http_resumable_ctx_t *ctx, int last)
{
  ctx->feed_data = ctx->buf[ctx->fill];
  ctx->feed_len = ctx->fill_len;
  ctx->task_end = !last ? 0 : ctx->dropped ? 2 : 1;
  if (last)
    ctx->end_posted = 1;
  ctx->fill ^= 1;
  ctx->fill_len = 0;
  ngx_http_resumable_post(ctx, NGX_HTTP_RESUMABLE_OP_FEED);
}

static void ngx_http_resumable_body_pump(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  for (;;) {
    if (ctx->decided || ctx->end_posted)
      return;
    ngx_http_resumable_body_take(ctx);
    ngx_http_request_body_t *rb = r->request_body;
    int ended = ctx->dropped || (ctx->nginx_done && (rb == NULL || rb->bufs == NULL));
    if (ended || ctx->fill_len == NGX_HTTP_RESUMABLE_BODY_BUF) {
      if (!ctx->busy) {
        ngx_http_resumable_body_hand_over(ctx, ended);
        continue;
      }
      if (!ended && r->connection->read->timer_set)
        ngx_del_timer(r->connection->read); /* we are the slow one, not the client */
      return;                               /* the running task's end comes back here */
    }
    if (ctx->nginx_done)
      return; /* not reached: take() empties nginx's chain unless our buffer is full */
    ngx_int_t rc = ngx_http_read_unbuffered_request_body(r);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
      ctx->dropped = 1;
      ctx->drop_rc = rc;
      continue;
    }
    if (rc == NGX_OK)
      ctx->nginx_done = 1;
    else if (rb->bufs == NULL) { /* NGX_AGAIN and nothing new: wait for the client */
      if (!ctx->busy && ctx->fill_len > 0)
        ngx_http_resumable_body_hand_over(ctx, 0);
      return;
    }
  }
}

/* (pool thread) */
int ngx_http_resumable_body_feed_task(ngx_http_resumable_ctx_t *ctx)
{
  int rc = 0;
  if (ctx->feed_len > 0)
    rc = resumable_exchange_feed(ctx->ex, ctx->feed_data, ctx->feed_len);
  if (rc == 0 && ctx->task_end != 0) {
    resumable_exchange_end(ctx->ex,
                           ctx->task_end == 2 ? RESUMABLE_BODY_DROPPED : RESUMABLE_BODY_COMPLETE);
    rc = 1;
  }
  if (rc == 1)
    ngx_http_resumable_reply_read_task(ctx);
  return rc;
}

/* Feed buf[fill] now, on this thread; 0 to go on. */
static int ngx_http_resumable_body_feed_now(ngx_http_resumable_ctx_t *ctx)
{
  int rc =
      ctx->fill_len > 0 ? resumable_exchange_feed(ctx->ex, ctx->buf[ctx->fill], ctx->fill_len) : 0;
  ctx->fill_len = 0;
  return rc;
}

/* A stop must not cost the client more than it has to resend: what reached this host is kept,
 * including what waits in the kernel (a Content-Length body's next bytes; a chunked one is left
 * to its framing). Closing then stops the client from sending into a dying process. */
void ngx_http_resumable_body_salvage(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  ngx_connection_t *c = r->connection;
  ngx_http_request_body_t *rb = r->request_body;
  for (;;) {
    ngx_http_resumable_body_take(ctx);
    if (ctx->fill_len < NGX_HTTP_RESUMABLE_BODY_BUF)
      break;
    if (ngx_http_resumable_body_feed_now(ctx) != 0)
      return;
  }
  /* recv() itself: nginx's c->recv trusts its event state, which stopped with the loop. Not
   * through TLS (the bytes would need the TLS layer). */
  while (!r->headers_in.chunked && rb != NULL && rb->rest > 0 && !c->error && c->fd != -1 &&
#if (NGX_SSL)
         c->ssl == NULL &&
#endif
         1) {
    size_t space = NGX_HTTP_RESUMABLE_BODY_BUF - ctx->fill_len;
    size_t size = (off_t)space < rb->rest ? space : (size_t)rb->rest;
    ssize_t n = recv(c->fd, ctx->buf[ctx->fill] + ctx->fill_len, size, MSG_DONTWAIT);
    if (n <= 0)
      break; /* nothing more has arrived, or the client is gone */
    ctx->fill_len += (size_t)n;
    rb->rest -= n;
    if (ctx->fill_len == NGX_HTTP_RESUMABLE_BODY_BUF && ngx_http_resumable_body_feed_now(ctx) != 0)
      return;
  }
  if (c->fd != -1) {
    ngx_close_socket(c->fd);
    c->fd = (ngx_socket_t)-1;
  }
  (void)ngx_http_resumable_body_feed_now(ctx);
}

/* A feed task ended: a reply, or more body. */
void ngx_http_resumable_body_fed(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  ngx_connection_t *c = r->connection;
  if (ctx->op_rc < 0) {
    ngx_log_error(NGX_LOG_ALERT, c->log, 0, "resumable: feeding the body failed: %s",
                  resumable_strerror(ctx->op_rc));
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  if (ctx->op_rc == 0) {
    ngx_http_resumable_body_pump(ctx);
    return;
  }
  ctx->decided = 1;
  if (ctx->task_end == 2 && (c->error || c->timedout)) {
    /* The client is gone or silent: no reply, nginx closes (the access log says 499/408);
     * the bytes that arrived are kept. */
    ngx_http_finalize_request(r, c->error ? NGX_HTTP_CLIENT_CLOSED_REQUEST : ctx->drop_rc);
    return;
  }
  ngx_http_resumable_reply_send(ctx);
}
