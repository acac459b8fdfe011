/* One request through the exchange: the content handler, the thread-pool tasks, logging.
 *
 * The handler hands the method, the raw request target (r->unparsed_uri: nginx's r->uri is
 * decoded and has `.`, `..` and `//` collapsed, which would let keys through that the protocol
 * refuses) and every header to a new exchange, then judges it on the thread pool. What follows
 * depends on the judgement: the body (body.c) or the reply at once (reply.c).
 *
 * Lifetime: the handler takes one reference on the request (r->main->count) that the final
 * ngx_http_finalize_request drops; a task in flight also holds r->main->blocked, so nothing
 * frees the request under it. The exchange is freed by a pool cleanup, after its end ran. */
#include "ngx_http_resumable.h"

#include <stdlib.h>
#include <string.h>

/* Exchanges alive in this process, in a list for ngx_http_resumable_end_all. */
static ngx_queue_t ngx_http_resumable_live;
static ngx_uint_t ngx_http_resumable_live_init;

/* The request whose task runs on this thread: its log lines are kept for the event loop. */
static _Thread_local ngx_http_resumable_ctx_t *ngx_http_resumable_current;

ngx_uint_t ngx_http_resumable_log_level(resumable_log_level level)
{
  switch (level) {
  case RESUMABLE_LOG_ERROR:
    return NGX_LOG_ERR;
  case RESUMABLE_LOG_WARN:
    return NGX_LOG_WARN;
  case RESUMABLE_LOG_INFO:
    return NGX_LOG_INFO;
  case RESUMABLE_LOG_DEBUG:
    return NGX_LOG_DEBUG;
  }
  return NGX_LOG_ERR;
}

/* A task's lines are written later by the event loop, into the request's log (which adds the
 * client and the request line); a pool thread must not touch the request's log or pool. */
void ngx_http_resumable_log(void *user_data, resumable_log_level level, const char *msg)
{
  ngx_uint_t lvl = ngx_http_resumable_log_level(level);
  ngx_http_resumable_ctx_t *ctx = ngx_http_resumable_current;
  (void)user_data;
  if (ngx_cycle->log->log_level < lvl && (ctx == NULL || ctx->r->connection->log->log_level < lvl))
    return;
  if (ctx == NULL) {
    ngx_log_error(lvl, ngx_cycle->log, 0, "resumable: %s", msg);
    return;
  }
  if (ctx->nlogs == NGX_HTTP_RESUMABLE_LOG_LINES) {
    ctx->logs_lost++;
    return;
  }
  size_t n = strlen(msg);
  char *line = malloc(n + 1);
  if (line == NULL) {
    ctx->logs_lost++;
    return;
  }
  memcpy(line, msg, n + 1);
  ctx->log_levels[ctx->nlogs] = lvl;
  ctx->logs[ctx->nlogs++] = line;
}

void ngx_http_resumable_end_all(void)
{
  if (!ngx_http_resumable_live_init)
    return;
  while (!ngx_queue_empty(&ngx_http_resumable_live)) {
    ngx_queue_t *q = ngx_queue_head(&ngx_http_resumable_live);
    ngx_http_resumable_ctx_t *ctx = ngx_queue_data(q, ngx_http_resumable_ctx_t, live);
    ngx_queue_remove(q);
    /* A task that was in flight ran to its end before the pool stopped; what the event loop
     * had copied since is the next part of the body. Calls on a decided or ended exchange
     * do nothing. */
    if (ctx->reading && !ctx->end_posted && !ctx->decided)
      ngx_http_resumable_body_salvage(ctx);
    (void)resumable_exchange_end(ctx->ex, RESUMABLE_BODY_DROPPED);
    resumable_exchange_free(ctx->ex);
    ctx->ex = NULL;
  }
}

static void ngx_http_resumable_flush_logs(ngx_http_resumable_ctx_t *ctx)
{
  ngx_log_t *log = ctx->r->connection->log;
  for (ngx_uint_t i = 0; i < ctx->nlogs; i++) {
    ngx_log_error(ctx->log_levels[i], log, 0, "resumable: %s", ctx->logs[i]);
    free(ctx->logs[i]);
    ctx->logs[i] = NULL;
  }
  if (ctx->logs_lost > 0)
    ngx_log_error(NGX_LOG_WARN, log, 0, "resumable: %ui more log lines dropped", ctx->logs_lost);
  ctx->nlogs = 0;
  ctx->logs_lost = 0;
}

/* A request for a target whose previous upload is ending on the pool (its client went away,
 * or its body ended) is judged after that end: a client that probes right after a cut then
 * sees every byte the server received, as with a host that feeds the body synchronously. */
static ngx_http_resumable_ctx_t *ngx_http_resumable_ending(ngx_http_resumable_ctx_t *ctx)
{
  for (ngx_queue_t *q = ngx_queue_head(&ngx_http_resumable_live);
       q != ngx_queue_sentinel(&ngx_http_resumable_live); q = ngx_queue_next(q)) {
    ngx_http_resumable_ctx_t *other = ngx_queue_data(q, ngx_http_resumable_ctx_t, live);
    int ending = other->reading && !other->decided &&
                 (other->end_posted ? other->busy : other->dropped || other->nginx_done);
    if (other != ctx && ending && ngx_strcmp(other->target, ctx->target) == 0)
      return other;
  }
  return NULL;
}

/* The requests that waited for `ctx` to end are judged now. */
static void ngx_http_resumable_release(ngx_http_resumable_ctx_t *ctx)
{
  while (!ngx_queue_empty(&ctx->waiting)) {
    ngx_queue_t *q = ngx_queue_head(&ctx->waiting);
    ngx_http_resumable_ctx_t *next = ngx_queue_data(q, ngx_http_resumable_ctx_t, wait_link);
    ngx_queue_remove(q);
    next->is_waiting = 0;
    ngx_http_resumable_post(next, NGX_HTTP_RESUMABLE_OP_JUDGE);
  }
}

static void ngx_http_resumable_cleanup(void *data)
{
  ngx_http_resumable_ctx_t *ctx = data;
  if (ctx->is_waiting) {
    ngx_queue_remove(&ctx->wait_link);
    ctx->is_waiting = 0;
  }
  if (ctx->waiting.next != NULL)
    ngx_http_resumable_release(ctx);
  if (ctx->guard.timer_set)
    ngx_del_timer(&ctx->guard);
  if (ctx->ex != NULL) {
    /* Normally ended on the pool already; an exchange cut by a shutdown ends here (its log
     * lines, if any, go to nginx's log directly). */
    resumable_exchange_free(ctx->ex);
    ctx->ex = NULL;
    ngx_queue_remove(&ctx->live);
  }
  for (ngx_uint_t i = 0; i < ctx->nlogs; i++)
    free(ctx->logs[i]);
  ctx->nlogs = 0;
}

/* (pool thread) */
static void ngx_http_resumable_task_run(void *data, ngx_log_t *log)
{
  ngx_http_resumable_ctx_t *ctx = data;
  (void)log;
  ngx_http_resumable_current = ctx;
  switch (ctx->op) {
  case NGX_HTTP_RESUMABLE_OP_JUDGE:
    ctx->op_rc = resumable_exchange_headers_done(ctx->ex);
    if (ctx->op_rc == 1)
      ngx_http_resumable_reply_read_task(ctx);
    break;
  case NGX_HTTP_RESUMABLE_OP_FEED:
    ctx->op_rc = ngx_http_resumable_body_feed_task(ctx);
    break;
  case NGX_HTTP_RESUMABLE_OP_READ:
    ngx_http_resumable_reply_read_task(ctx);
    break;
  }
  ngx_http_resumable_current = NULL;
}

static void ngx_http_resumable_judged(ngx_http_resumable_ctx_t *ctx)
{
  if (ctx->op_rc < 0) {
    ngx_log_error(NGX_LOG_ALERT, ctx->r->connection->log, 0,
                  "resumable: judging the request failed: %s", resumable_strerror(ctx->op_rc));
    ngx_http_finalize_request(ctx->r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  if (ctx->op_rc == 1) {
    ctx->decided = 1;
    ngx_http_resumable_reply_early(ctx);
    return;
  }
  ngx_http_resumable_body_start(ctx);
}

/* (event loop) a task ended. */
static void ngx_http_resumable_task_done(ngx_event_t *ev)
{
  ngx_http_resumable_ctx_t *ctx = ev->data;
  ngx_http_request_t *r = ctx->r;
  ngx_connection_t *c = r->connection;
  r->main->blocked--;
  ctx->busy = 0;
  if (ctx->guard.timer_set)
    ngx_del_timer(&ctx->guard);
  if (ctx->op == NGX_HTTP_RESUMABLE_OP_FEED && ctx->task_end != 0)
    ngx_http_resumable_release(ctx);
  ngx_http_set_log_request(c->log, r);
  ngx_http_resumable_flush_logs(ctx);
  switch (ctx->op) {
  case NGX_HTTP_RESUMABLE_OP_JUDGE:
    ngx_http_resumable_judged(ctx);
    break;
  case NGX_HTTP_RESUMABLE_OP_FEED:
    ngx_http_resumable_body_fed(ctx);
    break;
  case NGX_HTTP_RESUMABLE_OP_READ:
    ngx_http_resumable_reply_read_done(ctx);
    break;
  }
  ngx_http_run_posted_requests(c);
}

/* A graceful exit waits for timers: this one stands for the task (nginx's own read timer may
 * be off while the body waits for the disk). It never fires in practice; if it does, it waits
 * again. */
static void ngx_http_resumable_guard(ngx_event_t *ev)
{
  ngx_add_timer(ev, 3600 * 1000);
}

void ngx_http_resumable_post(ngx_http_resumable_ctx_t *ctx, ngx_http_resumable_op_e op)
{
  ngx_http_request_t *r = ctx->r;
  ngx_thread_task_t *task = ctx->task;
  ctx->op = op;
  ctx->busy = 1;
  r->main->blocked++;
  task->ctx = ctx;
  task->handler = ngx_http_resumable_task_run;
  task->event.data = ctx;
  task->event.handler = ngx_http_resumable_task_done;
  if (ngx_thread_task_post(ctx->conf->pool, task) == NGX_OK) {
    ngx_add_timer(&ctx->guard, 3600 * 1000);
    return;
  }
  /* The pool's queue is full (nginx logged it): do the work here rather than lose the upload. */
  ngx_http_resumable_task_run(ctx, r->connection->log);
  ngx_http_resumable_task_done(&task->event);
}

/* The request line and the header section, as the client sent them (about): over the limit is
 * 431, whatever nginx's own buffers would accept. */
static size_t ngx_http_resumable_header_size(ngx_http_request_t *r)
{
  size_t n = r->request_line.len + 2 + 2;
  ngx_list_part_t *part = &r->headers_in.headers.part;
  ngx_table_elt_t *h = part->elts;
  for (ngx_uint_t i = 0;; i++) {
    if (i >= part->nelts) {
      if (part->next == NULL)
        break;
      part = part->next;
      h = part->elts;
      i = 0;
      if (part->nelts == 0)
        continue;
    }
    n += h[i].key.len + 2 + h[i].value.len + 2;
  }
  return n;
}

/* A NUL-terminated copy; NULL if `s` holds a NUL (a request to refuse). */
static char *ngx_http_resumable_cstr_of(ngx_pool_t *pool, ngx_str_t *s)
{
  if (ngx_strlchr(s->data, s->data + s->len, '\0') != NULL)
    return NULL;
  char *p = ngx_pnalloc(pool, s->len + 1);
  if (p != NULL) {
    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';
  }
  return p;
}

/* Hand every request header to the exchange, in order (copied: HTTP/2 headers are not
 * NUL-terminated). */
static ngx_int_t ngx_http_resumable_add_headers(ngx_http_resumable_ctx_t *ctx)
{
  ngx_list_part_t *part = &ctx->r->headers_in.headers.part;
  ngx_table_elt_t *h = part->elts;
  for (ngx_uint_t i = 0;; i++) {
    if (i >= part->nelts) {
      if (part->next == NULL)
        break;
      part = part->next;
      h = part->elts;
      i = 0;
      if (part->nelts == 0)
        continue;
    }
    char *name = ngx_http_resumable_cstr_of(ctx->r->pool, &h[i].key);
    char *value = ngx_http_resumable_cstr_of(ctx->r->pool, &h[i].value);
    if (name == NULL || value == NULL)
      return NGX_HTTP_BAD_REQUEST;
    if (resumable_exchange_add_header(ctx->ex, name, value) != RESUMABLE_OK)
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  return NGX_OK;
}

static ngx_http_resumable_ctx_t *ngx_http_resumable_ctx_new(ngx_http_request_t *r)
{
  ngx_http_resumable_ctx_t *ctx = ngx_pcalloc(r->pool, sizeof(*ctx));
  if (ctx != NULL)
    ngx_queue_init(&ctx->waiting);
  ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, 0);
  if (ctx == NULL || cln == NULL)
    return NULL;
  ctx->task = ngx_thread_task_alloc(r->pool, 0);
  ctx->out = ngx_palloc(r->pool, NGX_HTTP_RESUMABLE_OUT_FIRST);
  if (ctx->task == NULL || ctx->out == NULL)
    return NULL;
  ctx->out_cap = NGX_HTTP_RESUMABLE_OUT_FIRST;
  ctx->no_body = r->method == NGX_HTTP_HEAD;
  ctx->r = r;
  ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_resumable_module);
  ctx->guard.handler = ngx_http_resumable_guard;
  ctx->guard.data = ctx;
  ctx->guard.log = r->connection->log;
  cln->handler = ngx_http_resumable_cleanup;
  cln->data = ctx;
  ngx_http_set_ctx(r, ctx, ngx_http_resumable_module);
  return ctx;
}

static ngx_int_t ngx_http_resumable_begin(ngx_http_resumable_ctx_t *ctx)
{
  ngx_http_request_t *r = ctx->r;
  char *method = ngx_http_resumable_cstr_of(r->pool, &r->method_name);
  char *target = ngx_http_resumable_cstr_of(r->pool, &r->unparsed_uri);
  if (method == NULL || target == NULL)
    return NGX_HTTP_BAD_REQUEST;
  if (resumable_exchange_begin(ctx->conf->srv, method, target, &ctx->ex) != RESUMABLE_OK)
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ctx->target = target;
  if (!ngx_http_resumable_live_init) {
    ngx_queue_init(&ngx_http_resumable_live);
    ngx_http_resumable_live_init = 1;
  }
  ngx_queue_insert_tail(&ngx_http_resumable_live, &ctx->live);
  return ngx_http_resumable_add_headers(ctx);
}

ngx_int_t ngx_http_resumable_handler(ngx_http_request_t *r)
{
  ngx_http_resumable_loc_conf_t *conf = ngx_http_get_module_loc_conf(r, ngx_http_resumable_module);
  if (r != r->main)
    return NGX_HTTP_NOT_ALLOWED; /* a subrequest has no body of its own to upload */
  if (conf->srv == NULL)
    return ngx_http_resumable_reply_text(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "upload storage is not available");
  if (ngx_http_resumable_header_size(r) > conf->max_header_size) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "resumable: request header section over %uz bytes", conf->max_header_size);
    return ngx_http_resumable_reply_text(r, 431, "request header fields too large");
  }
  ngx_http_resumable_ctx_t *ctx = ngx_http_resumable_ctx_new(r);
  if (ctx == NULL)
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_int_t rc = ngx_http_resumable_begin(ctx);
  if (rc == NGX_HTTP_BAD_REQUEST)
    return ngx_http_resumable_reply_text(r, NGX_HTTP_BAD_REQUEST, "NUL byte in the request");
  if (rc != NGX_OK)
    return rc;
  r->main->count++; /* dropped by the final ngx_http_finalize_request */
  ngx_http_resumable_ctx_t *ending = ngx_http_resumable_ending(ctx);
  if (ending != NULL) {
    ngx_queue_insert_tail(&ending->waiting, &ctx->wait_link);
    ctx->is_waiting = 1;
    return NGX_DONE;
  }
  ngx_http_resumable_post(ctx, NGX_HTTP_RESUMABLE_OP_JUDGE);
  return NGX_DONE;
}
