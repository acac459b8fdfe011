/* ngx_http_resumable_module: directives, configuration checks and the per-worker servers.
 *
 *   location /v1/files/ {
 *     resumable on;
 *     resumable_root /srv/uploads;
 *   }
 *
 * serves the same URLs as `resumable-serve --root /srv/uploads`. Configuration errors are found
 * by `nginx -t` (a missing root, a root shared by two locations, a regex location); init_module
 * does nothing, since it runs on every `nginx -t`. The servers (with
 * their hash threads) are opened per worker, in init_process. */
#include "ngx_http_resumable.h"

#include <sys/stat.h>

static void *ngx_http_resumable_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_resumable_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_resumable_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_resumable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_resumable_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_resumable_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_resumable_init_process(ngx_cycle_t *cycle);
static void ngx_http_resumable_exit_process(ngx_cycle_t *cycle);

/* resumable_hash_threads: the library's own bound. */
static ngx_conf_num_bounds_t ngx_http_resumable_hash_threads_bounds = {ngx_conf_check_num_bounds, 0,
                                                                       64};

static ngx_command_t ngx_http_resumable_commands[] = {
    {ngx_string("resumable"), NGX_HTTP_LOC_CONF | NGX_CONF_FLAG, ngx_http_resumable,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_resumable_loc_conf_t, enable), NULL},
    {ngx_string("resumable_root"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_resumable_loc_conf_t, root),
     NULL},
    {ngx_string("resumable_max_size"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_off_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, max_size), NULL},
    {ngx_string("resumable_token"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, token), NULL},
    {ngx_string("resumable_expose_paths"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, expose_paths), NULL},
    {ngx_string("resumable_partial_ttl"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_sec_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, partial_ttl), NULL},
    {ngx_string("resumable_hash_threads"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_num_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, hash_threads),
     &ngx_http_resumable_hash_threads_bounds},
    {ngx_string("resumable_max_header_size"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_size_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, max_header_size), NULL},
    {ngx_string("resumable_thread_pool"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_resumable_loc_conf_t, pool_name), NULL},
    ngx_null_command};

static ngx_http_module_t ngx_http_resumable_module_ctx = {
    NULL,                                 /* preconfiguration */
    ngx_http_resumable_postconfiguration, /* postconfiguration */
    ngx_http_resumable_create_main_conf,  /* create main configuration */
    NULL,                                 /* init main configuration */
    NULL,                                 /* create server configuration */
    NULL,                                 /* merge server configuration */
    ngx_http_resumable_create_loc_conf,   /* create location configuration */
    ngx_http_resumable_merge_loc_conf     /* merge location configuration */
};

ngx_module_t ngx_http_resumable_module = {NGX_MODULE_V1,
                                          &ngx_http_resumable_module_ctx,  /* module context */
                                          ngx_http_resumable_commands,     /* module directives */
                                          NGX_HTTP_MODULE,                 /* module type */
                                          NULL,                            /* init master */
                                          ngx_http_resumable_init_module,  /* init module */
                                          ngx_http_resumable_init_process, /* init process */
                                          NULL,                            /* init thread */
                                          NULL,                            /* exit thread */
                                          ngx_http_resumable_exit_process, /* exit process */
                                          NULL,                            /* exit master */
                                          NGX_MODULE_V1_PADDING};

/* Where a root lives, to refuse two locations on one root (two servers on one root in one
 * process would not see each other's uploads in progress). */
typedef struct {
  dev_t dev;
  ino_t ino;
} ngx_http_resumable_root_id_t;

static void *ngx_http_resumable_create_main_conf(ngx_conf_t *cf)
{
  ngx_http_resumable_main_conf_t *mcf = ngx_pcalloc(cf->pool, sizeof(*mcf));
  if (mcf == NULL || ngx_array_init(&mcf->locations, cf->pool, 4,
                                    sizeof(ngx_http_resumable_loc_conf_t *)) != NGX_OK)
    return NULL;
  return mcf;
}

static void *ngx_http_resumable_create_loc_conf(ngx_conf_t *cf)
{
  ngx_http_resumable_loc_conf_t *conf = ngx_pcalloc(cf->pool, sizeof(*conf));
  if (conf == NULL)
    return NULL;
  conf->enable = NGX_CONF_UNSET;
  conf->max_size = NGX_CONF_UNSET;
  conf->expose_paths = NGX_CONF_UNSET;
  conf->partial_ttl = NGX_CONF_UNSET;
  conf->hash_threads = NGX_CONF_UNSET_UINT;
  conf->max_header_size = NGX_CONF_UNSET_SIZE;
  return conf;
}

/* `s` copied with a terminating NUL (the library takes C strings). */
static ngx_int_t ngx_http_resumable_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
  u_char *p = ngx_pnalloc(pool, s->len + 1);
  if (p == NULL)
    return NGX_ERROR;
  ngx_memcpy(p, s->data, s->len);
  p[s->len] = '\0';
  s->data = p;
  return NGX_OK;
}

/* An enabled location's root: absolute (relative to nginx's prefix, like `root`), an existing
 * directory. */
static char *ngx_http_resumable_check_root(ngx_conf_t *cf, ngx_http_resumable_loc_conf_t *conf)
{
  if (conf->root.len == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"resumable on\" at %s needs \"resumable_root\"",
                       conf->where);
    return NGX_CONF_ERROR;
  }
  if (ngx_conf_full_name(cf->cycle, &conf->root, 0) != NGX_OK ||
      ngx_http_resumable_cstr(cf->pool, &conf->root) != NGX_OK)
    return NGX_CONF_ERROR;
  struct stat st;
  if (stat((const char *)conf->root.data, &st) != 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno, "resumable_root \"%V\" of %s", &conf->root,
                       conf->where);
    return NGX_CONF_ERROR;
  }
  if (!S_ISDIR(st.st_mode)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "resumable_root \"%V\" of %s is not a directory",
                       &conf->root, conf->where);
    return NGX_CONF_ERROR;
  }
  return NGX_CONF_OK;
}

static char *ngx_http_resumable_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
  ngx_http_resumable_loc_conf_t *prev = parent;
  ngx_http_resumable_loc_conf_t *conf = child;
  /* `enable` is not merged: a nested location does not become a second upload endpoint. */
  ngx_conf_merge_str_value(conf->root, prev->root, "");
  ngx_conf_merge_off_value(conf->max_size, prev->max_size, 0);
  ngx_conf_merge_str_value(conf->token, prev->token, "");
  ngx_conf_merge_value(conf->expose_paths, prev->expose_paths, 0);
  ngx_conf_merge_sec_value(conf->partial_ttl, prev->partial_ttl, 86400);
  ngx_conf_merge_uint_value(conf->hash_threads, prev->hash_threads, 2);
  ngx_conf_merge_size_value(conf->max_header_size, prev->max_header_size, 16 * 1024);
  ngx_conf_merge_str_value(conf->pool_name, prev->pool_name, "default");
  if (conf->enable != 1)
    return NGX_CONF_OK;
  if (conf->max_size < 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "resumable_max_size of %s is negative", conf->where);
    return NGX_CONF_ERROR;
  }
  if (ngx_http_resumable_check_root(cf, conf) != NGX_CONF_OK ||
      ngx_http_resumable_cstr(cf->pool, &conf->token) != NGX_OK)
    return NGX_CONF_ERROR;
  /* Like `aio threads`: the pool "default" exists by itself, others need `thread_pool`. */
  conf->pool = ngx_thread_pool_add(cf, &conf->pool_name);
  if (conf->pool == NULL)
    return NGX_CONF_ERROR;
  /* nginx refuses bodies over client_max_body_size (1m by default) before any handler runs:
   * here the handler's own limit (resumable_max_size, 413 with the protocol's semantics)
   * applies instead. core merged its configuration before ours (module order). */
  ngx_http_core_loc_conf_t *clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
  clcf->client_max_body_size = 0;
  return NGX_CONF_OK;
}

/* `resumable on|off;` in a prefix location: becomes the location's content handler. */
static char *ngx_http_resumable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
  ngx_http_resumable_loc_conf_t *lcf = conf;
  char *rv = ngx_conf_set_flag_slot(cf, cmd, conf);
  if (rv != NGX_CONF_OK || !lcf->enable)
    return rv;
  ngx_http_core_loc_conf_t *clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
  int prefix_location = !clcf->named && !clcf->noname && !clcf->exact_match;
#if (NGX_PCRE)
  prefix_location = prefix_location && clcf->regex == NULL;
#endif
  if (!prefix_location || clcf->name.len == 0 || clcf->name.data[0] != '/') {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"resumable\" needs a prefix location, such as \"location /v1/files/\": "
                       "the key is the request path after that prefix");
    return NGX_CONF_ERROR;
  }
  /* The library's prefix ends with '/': "location /up" serves /up/<key>. */
  size_t n = clcf->name.len;
  int slash = clcf->name.data[n - 1] == '/';
  lcf->prefix.data = ngx_pnalloc(cf->pool, n + 2);
  lcf->where = ngx_pnalloc(cf->pool, cf->conf_file->file.name.len + NGX_INT_T_LEN + 2);
  if (lcf->prefix.data == NULL || lcf->where == NULL)
    return NGX_CONF_ERROR;
  u_char *p = ngx_cpymem(lcf->prefix.data, clcf->name.data, n);
  if (!slash)
    *p++ = '/';
  *p = '\0';
  lcf->prefix.len = (size_t)(p - lcf->prefix.data);
  p = ngx_sprintf(lcf->where, "%V:%ui", &cf->conf_file->file.name, cf->conf_file->line);
  *p = '\0';
  clcf->handler = ngx_http_resumable_handler;
  ngx_http_resumable_main_conf_t *mcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_resumable_module);
  ngx_http_resumable_loc_conf_t **slot = ngx_array_push(&mcf->locations);
  if (slot == NULL)
    return NGX_CONF_ERROR;
  *slot = lcf;
  return NGX_CONF_OK;
}

/* One root, one location: refuse the configuration otherwise. Locations are merged by now. */
static ngx_int_t ngx_http_resumable_postconfiguration(ngx_conf_t *cf)
{
  ngx_http_resumable_main_conf_t *mcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_resumable_module);
  ngx_http_resumable_loc_conf_t **loc = mcf->locations.elts;
  for (ngx_uint_t i = 0; i < mcf->locations.nelts; i++) {
    struct stat a;
    if (stat((const char *)loc[i]->root.data, &a) != 0)
      continue; /* checked at merge */
    for (ngx_uint_t j = 0; j < i; j++) {
      struct stat b;
      if (stat((const char *)loc[j]->root.data, &b) == 0 && a.st_dev == b.st_dev &&
          a.st_ino == b.st_ino) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "resumable_root \"%V\" of %s is already the root of %s: give each "
                      "\"resumable\" location its own root",
                      &loc[i]->root, loc[i]->where, loc[j]->where);
        return NGX_ERROR;
      }
    }
  }
  return NGX_OK;
}

static ngx_http_resumable_main_conf_t *ngx_http_resumable_main(ngx_cycle_t *cycle)
{
  if (cycle->conf_ctx[ngx_http_module.index] == NULL)
    return NULL; /* no http block */
  return ngx_http_cycle_get_module_main_conf(cycle, ngx_http_resumable_module);
}

/* Runs on every `nginx -t`: nothing to do that the configuration checks did not (the servers,
 * with their threads, are opened per worker in init_process). Several workers share a root
 * safely: the POSIX store excludes processes per key (docs/storage.md, "One root, many
 * processes"). */
static ngx_int_t ngx_http_resumable_init_module(ngx_cycle_t *cycle)
{
  (void)cycle;
  return NGX_OK;
}

static void ngx_http_resumable_sweep_run(void *data, ngx_log_t *log)
{
  ngx_http_resumable_loc_conf_t *conf = data;
  (void)log;
  conf->sweep_removed = 0;
  conf->sweep_rc =
      resumable_server_sweep(conf->srv, (uint64_t)conf->partial_ttl, &conf->sweep_removed);
}

/* The next sweep in a quarter of the TTL (1 s to 1 h), like resumable-serve's. */
static void ngx_http_resumable_sweep_arm(ngx_http_resumable_loc_conf_t *conf)
{
  if (ngx_exiting || ngx_terminate)
    return;
  time_t every = conf->partial_ttl / 4;
  every = every < 1 ? 1 : every > 3600 ? 3600 : every;
  ngx_add_timer(&conf->sweep_timer, (ngx_msec_t)every * 1000);
}

static void ngx_http_resumable_sweep_done(ngx_event_t *ev)
{
  ngx_http_resumable_loc_conf_t *conf = ev->data;
  if (conf->sweep_rc != RESUMABLE_OK) {
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "resumable: sweep of old partial uploads under \"%V\": %s", &conf->root,
                  resumable_strerror(conf->sweep_rc));
  } else if (conf->sweep_removed > 0) {
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "resumable: removed %uz abandoned partial upload(s) under \"%V\"",
                  conf->sweep_removed, &conf->root);
  }
  ngx_http_resumable_sweep_arm(conf);
}

/* The sweep reads and removes files: on the thread pool, like the exchanges' store work. */
static void ngx_http_resumable_sweep_timer(ngx_event_t *ev)
{
  ngx_http_resumable_loc_conf_t *conf = ev->data;
  ngx_thread_task_t *task = conf->sweep_task;
  task->ctx = conf;
  task->handler = ngx_http_resumable_sweep_run;
  task->event.data = conf;
  task->event.handler = ngx_http_resumable_sweep_done;
  if (ngx_thread_task_post(conf->pool, task) != NGX_OK)
    ngx_http_resumable_sweep_arm(conf); /* the pool is full: try again later */
}

static void ngx_http_resumable_open(ngx_cycle_t *cycle, ngx_http_resumable_loc_conf_t *conf)
{
  resumable_server *srv = NULL;
  int rc = resumable_server_new(&srv, (const char *)conf->root.data);
  if (rc == RESUMABLE_OK)
    rc = resumable_server_set_prefix(srv, (const char *)conf->prefix.data);
  if (rc == RESUMABLE_OK)
    rc = resumable_server_set_max_size(srv, (uint64_t)conf->max_size);
  if (rc == RESUMABLE_OK && conf->token.len > 0)
    rc = resumable_server_set_token(srv, (const char *)conf->token.data);
  if (rc == RESUMABLE_OK)
    rc = resumable_server_set_expose_paths(srv, conf->expose_paths ? 1 : 0);
  if (rc == RESUMABLE_OK)
    rc = resumable_server_set_hash_threads(srv, (unsigned)conf->hash_threads);
  if (rc == RESUMABLE_OK)
    rc = resumable_server_set_log(srv, ngx_http_resumable_log, conf);
  if (rc != RESUMABLE_OK) {
    /* The rest of the site keeps working; this location answers 500 and says why. */
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "resumable: cannot open the upload root \"%V\" of %s: %s (its requests get "
                  "500)",
                  &conf->root, conf->where, resumable_strerror(rc));
    resumable_server_free(srv);
    return;
  }
  conf->srv = srv;
  if (conf->partial_ttl == 0)
    return;
  conf->sweep_task = ngx_thread_task_alloc(cycle->pool, 0);
  if (conf->sweep_task == NULL)
    return;
  conf->sweep_timer.handler = ngx_http_resumable_sweep_timer;
  conf->sweep_timer.data = conf;
  conf->sweep_timer.log = cycle->log;
  conf->sweep_timer.cancelable = 1;     /* never delays a graceful exit */
  ngx_add_timer(&conf->sweep_timer, 1); /* at start, then every quarter TTL */
}

static ngx_int_t ngx_http_resumable_init_process(ngx_cycle_t *cycle)
{
  if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
    return NGX_OK; /* cache manager and loader serve no request */
  ngx_http_resumable_main_conf_t *mcf = ngx_http_resumable_main(cycle);
  if (mcf == NULL)
    return NGX_OK;
  ngx_http_resumable_loc_conf_t **loc = mcf->locations.elts;
  for (ngx_uint_t i = 0; i < mcf->locations.nelts; i++)
    ngx_http_resumable_open(cycle, loc[i]);
  return NGX_OK;
}

/* Thread pools are gone by now (the thread-pool module exits first): no task runs. Requests
 * still open were cut by a fast shutdown: their uploads keep the bytes that arrived, as when a
 * client drops, before the servers close. */
static void ngx_http_resumable_exit_process(ngx_cycle_t *cycle)
{
  ngx_http_resumable_main_conf_t *mcf = ngx_http_resumable_main(cycle);
  if (mcf == NULL)
    return;
  ngx_http_resumable_end_all();
  ngx_http_resumable_loc_conf_t **loc = mcf->locations.elts;
  for (ngx_uint_t i = 0; i < mcf->locations.nelts; i++) {
    resumable_server_free(loc[i]->srv);
    loc[i]->srv = NULL;
  }
}
