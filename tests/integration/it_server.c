/* Integration fixture: the real handler behind the real libmicrohttpd host. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void log_to_stderr(void *user_data, const char *line)
{
  (void)user_data;
  fprintf(stderr, "# %s\n", line);
}

static void handler_log(void *user_data, resumable_log_level level, const char *msg)
{
  (void)user_data;
  fprintf(stderr, "# handler[%d]: %s\n", (int)level, msg);
}

/* Logs are silent unless RS_IT_VERBOSE is set (they would clutter the TAP output). */
static int verbose(void)
{
  return getenv("RS_IT_VERBOSE") != NULL;
}

#ifdef IT_S3
/* tests/s3 builds these programs again on the S3 store (in the cluster of with_ceph.sh): one
 * bucket per program, one key prefix per server, kept across restarts (the temp dir's name). */
#include "s3_env.h"

static s3_env env;
static int have_env;

const s3_env *it_s3_env(void)
{
  return have_env ? &env : NULL;
}

static void new_server(it_server *s)
{
  resumable_store *st = NULL;
  if (!have_env) {
    assert_int_equal(s3_env_init(&env, "rs-it"), 0);
    have_env = 1;
  }
  char prefix[80];
  snprintf(prefix, sizeof prefix, "%s/", strrchr(s->parent, '/') + 1);
  assert_int_equal(s3_env_store(&env, prefix, 0, &st), 0);
  assert_int_equal(resumable_server_new_with_store(&s->srv, st), RESUMABLE_OK);
}
#else
static void new_server(it_server *s)
{
  assert_int_equal(resumable_server_new(&s->srv, s->root), RESUMABLE_OK);
}
#endif

void it_server_start(it_server *s)
{
  if (s->parent[0] == '\0') {
    snprintf(s->parent, sizeof s->parent, "/tmp/rs-it-XXXXXX");
    assert_non_null(mkdtemp(s->parent));
    snprintf(s->root, sizeof s->root, "%s/root", s->parent);
    assert_int_equal(mkdir(s->root, 0700), 0);
  }
  if (kit_active()) {
    kit_opts o = {.token = s->token, .max_size = s->max_size};
    assert_int_equal(kit_host_start(&s->kit, s->root, &o), 0);
    s->port = s->kit.port;
    return;
  }
  new_server(s);
  assert_int_equal(resumable_server_set_max_size(s->srv, s->max_size), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_token(s->srv, s->token), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_partial_ttl(s->srv, s->partial_ttl), RESUMABLE_OK);
  if (verbose())
    assert_int_equal(resumable_server_set_log(s->srv, handler_log, NULL), RESUMABLE_OK);
  mhd_host_config cfg = {.listen_addr = "127.0.0.1",
                         .port = 0,
                         .server = s->srv,
                         .linger_ms = s->linger_ms,
                         .verbose = verbose(),
                         .log = verbose() ? log_to_stderr : NULL};
  if (s->log != NULL) {
    cfg.log = s->log;
    cfg.log_user = s->log_user;
  }
  char err[256];
  assert_int_equal(mhd_host_start(&cfg, &s->host, err, sizeof err), 0);
  s->port = mhd_host_port(s->host);
  assert_int_not_equal(s->port, 0);
}

void it_server_stop(it_server *s)
{
  kit_host_stop(&s->kit);
  mhd_host_stop(s->host);
  s->host = NULL;
  resumable_server_free(s->srv);
  s->srv = NULL;
}

void it_server_restart(it_server *s)
{
  it_server_stop(s);
  it_server_start(s);
}

int it_setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  it_server_start(s);
  *state = s;
  return 0;
}

int it_teardown(void **state)
{
  it_server *s = *state;
  it_server_stop(s);
  it_rm_rf(s->parent);
  free(s);
  return 0;
}
