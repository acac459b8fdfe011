/* The server object: configuration, the store, the per-key table, the hash threads, logging. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "server_internal.h"
#include "store_internal.h"

static char *dup_str(const char *s)
{
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d)
    memcpy(d, s, n + 1);
  return d;
}

/* Hash threads a new server starts (resumable_server_set_hash_threads documents the choice). */
#define RS_HASH_THREADS_DEFAULT 2u
#define RS_HASH_THREADS_MAX 64u

static int hash_pool_new(rs_hash_pool **out, unsigned threads)
{
  *out = NULL;
  if (threads == 0)
    return RESUMABLE_OK;
  return rs_hash_pool_new(out, threads, RS_HASH_BUF_SIZE, RS_HASH_PER_PIPE,
                          RS_HASH_PER_THREAD * threads);
}

static void close_handle(void *ctx, void *handle)
{
  resumable_server *srv = ctx;
  srv->ops->partial_close(srv->self, handle);
}

static void release_owner(void *ctx, void *owner)
{
  resumable_server *srv = ctx;
  if (srv->ops->key_release)
    srv->ops->key_release(srv->self, owner);
}

int resumable_server_new_with_store(resumable_server **out, resumable_store *store)
{
  if (!out)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (!store)
    return RESUMABLE_E_INVALID_ARG;
  resumable_server *srv = calloc(1, sizeof(*srv));
  if (!srv)
    return RESUMABLE_E_NOMEM;
  srv->ops = resumable_store_ops_of(store);
  srv->self = resumable_store_self(store);
  srv->prefix = dup_str("/v1/files/");
  int rc = !srv->ops ? RESUMABLE_E_INVALID_ARG : !srv->prefix ? RESUMABLE_E_NOMEM : RESUMABLE_OK;
  if (rc == RESUMABLE_OK)
    rc = rs_keylock_table_new(&srv->locks, close_handle, release_owner, srv);
  if (rc == RESUMABLE_OK)
    rc = hash_pool_new(&srv->hash_pool, RS_HASH_THREADS_DEFAULT);
  if (rc != RESUMABLE_OK) {
    rs_keylock_table_free(srv->locks);
    free(srv->prefix);
    free(srv);
    return rc;
  }
  srv->prefix_len = strlen(srv->prefix);
  srv->store = store;
  srv->checkpoint_bytes = (uint64_t)64 << 20; /* resumable_server_set_checkpoint */
  srv->checkpoint_ms = 1000;
  *out = srv;
  return RESUMABLE_OK;
}

int resumable_server_new(resumable_server **out, const char *root)
{
  if (!out)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (!root)
    return RESUMABLE_E_INVALID_ARG;
  resumable_store *store = NULL;
  int rc = resumable_store_fs_new(&store, root);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = resumable_server_new_with_store(out, store);
  if (rc != RESUMABLE_OK)
    resumable_store_free(store);
  return rc;
}

int rs_server_idle(const resumable_server *srv)
{
  return atomic_load(&srv->live) == 0 ? RESUMABLE_OK : RESUMABLE_E_STATE;
}

int resumable_server_free(resumable_server *srv)
{
  if (!srv)
    return RESUMABLE_OK;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;        /* frees nothing: the exchanges still use the pool and store */
  rs_keylock_table_free(srv->locks); /* finishes the entries' pipes: before the pool */
  rs_hash_pool_free(srv->hash_pool);
  resumable_store_free(srv->store);
  free(srv->prefix);
  free(srv->token);
  free(srv);
  return RESUMABLE_OK;
}

int resumable_server_set_prefix(resumable_server *srv, const char *prefix)
{
  if (!srv || !prefix)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  size_t n = strlen(prefix);
  if (n == 0 || prefix[0] != '/' || prefix[n - 1] != '/')
    return RESUMABLE_E_INVALID_ARG;
  char *p = dup_str(prefix);
  if (!p)
    return RESUMABLE_E_NOMEM;
  free(srv->prefix);
  srv->prefix = p;
  srv->prefix_len = n;
  return RESUMABLE_OK;
}

int resumable_server_set_max_size(resumable_server *srv, uint64_t max_size)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  srv->max_size = max_size;
  return RESUMABLE_OK;
}

int resumable_server_set_token(resumable_server *srv, const char *token)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  char *t = NULL;
  if (token && *token) {
    t = dup_str(token);
    if (!t)
      return RESUMABLE_E_NOMEM;
  }
  free(srv->token);
  srv->token = t;
  srv->token_len = t ? strlen(t) : 0;
  return RESUMABLE_OK;
}

int resumable_server_set_checkpoint(resumable_server *srv, uint64_t bytes, uint32_t interval_ms)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  srv->checkpoint_bytes = bytes;
  srv->checkpoint_ms = interval_ms;
  return RESUMABLE_OK;
}

int resumable_server_set_hash_threads(resumable_server *srv, unsigned n)
{
  if (!srv || n > RS_HASH_THREADS_MAX)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  rs_hash_pool *pool = NULL;
  int rc = hash_pool_new(&pool, n);
  if (rc != RESUMABLE_OK)
    return rc; /* the old pool stays */
  /* Pipes are bound to the pool they started on; no exchange is alive (checked above), and an
   * entry lives only as long as its exchanges, so nothing is bound to the old pool now. */
  rs_hash_pool_free(srv->hash_pool);
  srv->hash_pool = pool;
  return RESUMABLE_OK;
}

int resumable_server_set_partial_ttl(resumable_server *srv, uint64_t seconds)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  srv->partial_ttl = seconds;
  return RESUMABLE_OK;
}

int resumable_server_set_log(resumable_server *srv, resumable_log_fn fn, void *user_data)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  srv->log_fn = fn;
  srv->log_data = user_data;
  return RESUMABLE_OK;
}

int resumable_server_set_expose_paths(resumable_server *srv, int on)
{
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (rs_server_idle(srv) != RESUMABLE_OK)
    return RESUMABLE_E_STATE;
  srv->expose_paths = on != 0;
  return RESUMABLE_OK;
}

void rs_server_log(const resumable_server *srv, resumable_log_level level, const char *fmt, ...)
{
  if (!srv->log_fn)
    return;
  char line[1536]; /* a whole key fits; longer lines are cut */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  srv->log_fn(srv->log_data, level, line);
}
