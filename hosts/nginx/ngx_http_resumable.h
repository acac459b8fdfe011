/* The nginx host of libresumable: what the module's files share.
 *
 *  - ngx_http_resumable_module.c: directives, configuration checks, per-worker servers.
 *  - ngx_http_resumable_handler.c: one request: the exchange, its thread-pool tasks, logging.
 *  - ngx_http_resumable_body.c: the request body, streamed from nginx into the exchange.
 *  - ngx_http_resumable_reply.c: the reply, and how the rest of a refused body is discarded.
 *
 * Every exchange call that can touch the disk (judging the headers, feeding body bytes, ending,
 * reading a GET's file) runs as a task on an nginx thread pool, so the worker's event loop keeps
 * serving other connections during a long commit. A request has at most one task in flight; the
 * exchange is touched by one thread at a time, as the library requires. */
#ifndef NGX_HTTP_RESUMABLE_H
#define NGX_HTTP_RESUMABLE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <resumable.h>

/* Body bytes copied out of nginx's buffer per task: two such buffers per upload (one fed on a
 * pool thread while nginx fills the other), so the receive and the disk overlap. */
#define NGX_HTTP_RESUMABLE_BODY_BUF (256 * 1024)
/* Reply body bytes read per task: the deciding task reads the first piece (a text or JSON
 * reply fits), later tasks the rest of a GET's file in larger pieces. */
#define NGX_HTTP_RESUMABLE_OUT_FIRST (8 * 1024)
#define NGX_HTTP_RESUMABLE_OUT_BUF (64 * 1024)
/* Log lines one task may hand back to the event loop (more are counted, not kept). */
#define NGX_HTTP_RESUMABLE_LOG_LINES 8

typedef struct {
  ngx_flag_t enable;       /* `resumable on|off`: not inherited, like proxy_pass */
  ngx_str_t root;          /* resumable_root (absolute, NUL-terminated) */
  off_t max_size;          /* resumable_max_size; 0: no limit */
  ngx_str_t token;         /* resumable_token; empty: none */
  ngx_flag_t expose_paths; /* resumable_expose_paths */
  time_t partial_ttl;      /* resumable_partial_ttl in seconds; 0: never swept */
  ngx_uint_t hash_threads; /* resumable_hash_threads */
  size_t max_header_size;  /* resumable_max_header_size: request line + headers, else 431 */
  ngx_str_t pool_name;     /* resumable_thread_pool */
  ngx_thread_pool_t *pool;
  ngx_str_t prefix; /* the location's name, ending in '/' (NUL-terminated) */
  u_char *where;    /* "file:line" of `resumable on`, for configuration errors */
  /* per worker (init_process): */
  resumable_server *srv; /* NULL if it could not be opened (requests get 500) */
  ngx_event_t sweep_timer;
  ngx_thread_task_t *sweep_task;
  size_t sweep_removed;
  int sweep_rc;
} ngx_http_resumable_loc_conf_t;

typedef struct {
  ngx_array_t locations; /* ngx_http_resumable_loc_conf_t * of every `resumable on` */
} ngx_http_resumable_main_conf_t;

typedef enum {
  NGX_HTTP_RESUMABLE_OP_JUDGE = 0, /* resumable_exchange_headers_done */
  NGX_HTTP_RESUMABLE_OP_FEED,      /* feed one buffer, and end the exchange after the last */
  NGX_HTTP_RESUMABLE_OP_READ       /* the next piece of the reply body */
} ngx_http_resumable_op_e;

/* One request. Fields marked (task) belong to the pool thread while a task is in flight. */
typedef struct {
  ngx_queue_t live;      /* in the worker's list of exchanges not yet freed */
  ngx_queue_t waiting;   /* requests for the same target judged after this one ends */
  ngx_queue_t wait_link; /* in another request's `waiting` */
  const char *target;    /* the raw request target, NUL-terminated */
  ngx_http_request_t *r;
  ngx_http_resumable_loc_conf_t *conf;
  resumable_exchange *ex; /* (task) */
  ngx_thread_task_t *task;
  ngx_event_t guard; /* armed while a task runs: keeps a graceful exit waiting */
  ngx_http_resumable_op_e op;
  int op_rc;               /* (task) what the exchange call returned */
  unsigned busy : 1;       /* a task is in flight */
  unsigned decided : 1;    /* the reply is known: stop feeding, send it */
  unsigned reading : 1;    /* nginx is reading the body for us (unbuffered) */
  unsigned nginx_done : 1; /* nginx has read the whole body (maybe not all consumed) */
  unsigned dropped : 1;    /* the body ended early: client gone, timeout, bad framing */
  unsigned end_posted : 1; /* the task that ends the exchange is posted */
  unsigned is_waiting : 1; /* in another request's `waiting` */
  ngx_int_t drop_rc;       /* nginx's status for the early end (400, 408, ...) */
  /* What a task reads or writes is never a bitfield: the event loop writes the bitfields
   * above while a task runs. */
  int task_end; /* (task) after this feed: 0 go on, 1 end, 2 end as dropped */
  int no_body;  /* HEAD: the reply has no body to read */
  /* body: the event loop copies into buf[fill]; a task feeds feed_data */
  u_char *buf[2];
  size_t fill_len;
  ngx_uint_t fill;
  u_char *feed_data; /* (task) */
  size_t feed_len;   /* (task) */
  /* reply body */
  u_char *out; /* (task) */
  size_t out_cap;
  size_t out_len;     /* (task) */
  uint64_t out_total; /* (task) bytes of the reply body read so far */
  int out_error;      /* (task) reading the reply body failed */
  ngx_buf_t out_buf;
  ngx_chain_t out_chain;
  /* log lines of the running task, written to the request's error log by the event loop */
  char *logs[NGX_HTTP_RESUMABLE_LOG_LINES];
  ngx_uint_t log_levels[NGX_HTTP_RESUMABLE_LOG_LINES];
  ngx_uint_t nlogs;
  ngx_uint_t logs_lost;
} ngx_http_resumable_ctx_t;

extern ngx_module_t ngx_http_resumable_module;

/* handler.c */
ngx_int_t ngx_http_resumable_handler(ngx_http_request_t *r);
/* The library's log callback: a line of a task goes to its request's log, others to nginx's. */
void ngx_http_resumable_log(void *user_data, resumable_log_level level, const char *msg);
ngx_uint_t ngx_http_resumable_log_level(resumable_log_level level);
/* A fast shutdown (SIGTERM) exits without finalizing requests: keep the bytes of every upload
 * still open (fed, ended as dropped: synced) and free the exchanges. For exit_process, after
 * the thread pools have stopped (no task runs). */
void ngx_http_resumable_end_all(void);
/* Run `op` on the thread pool (inline if the pool refuses it); its end calls ..._task_done. */
void ngx_http_resumable_post(ngx_http_resumable_ctx_t *ctx, ngx_http_resumable_op_e op);

/* body.c: start reading the body into the exchange (after a judge that wants it). */
void ngx_http_resumable_body_start(ngx_http_resumable_ctx_t *ctx);
/* A feed task ended. */
void ngx_http_resumable_body_fed(ngx_http_resumable_ctx_t *ctx);
/* (task) feed the buffer handed over, and end the exchange after the last one. */
int ngx_http_resumable_body_feed_task(ngx_http_resumable_ctx_t *ctx);
/* At a fast shutdown (no task runs): feed what nginx and the kernel already hold of the body,
 * close the connection, end the exchange as dropped. Blocks on the disk. */
void ngx_http_resumable_body_salvage(ngx_http_resumable_ctx_t *ctx);

/* reply.c */
/* The reply was decided from the headers alone: settle the unread body, send the reply. */
void ngx_http_resumable_reply_early(ngx_http_resumable_ctx_t *ctx);
/* Send the decided reply (its first body piece was read by the deciding task). */
void ngx_http_resumable_reply_send(ngx_http_resumable_ctx_t *ctx);
/* A reply-body read task ended. */
void ngx_http_resumable_reply_read_done(ngx_http_resumable_ctx_t *ctx);
/* (task) read the next piece of the reply body into ctx->out. */
void ngx_http_resumable_reply_read_task(ngx_http_resumable_ctx_t *ctx);
/* A short text/plain reply from the module itself (431, 500) for a request with no exchange
 * reply; returns what the content handler returns. */
ngx_int_t ngx_http_resumable_reply_text(ngx_http_request_t *r, ngx_uint_t status, const char *text);

#endif
