/* A server's configuration is fixed while exchanges are alive: every setter and
 * resumable_server_free refuse with RESUMABLE_E_STATE from resumable_exchange_begin to
 * resumable_exchange_free, change nothing, and work again once the last exchange is freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/server.h"
#include "resumable/store.h"

static void no_log(void *ud, resumable_log_level level, const char *msg)
{
  (void)ud;
  (void)level;
  (void)msg;
}

static int setup(void **state)
{
  resumable_store *st = NULL;
  assert_int_equal(resumable_store_mem_new(&st, 0), RESUMABLE_OK);
  resumable_server *srv = NULL;
  assert_int_equal(resumable_server_new_with_store(&srv, st), RESUMABLE_OK);
  *state = srv;
  return 0;
}

static int teardown(void **state)
{
  assert_int_equal(resumable_server_free(*state), RESUMABLE_OK);
  return 0;
}

/* Every setter, each with a valid value: the expected code is the only difference. */
static void assert_setters(resumable_server *srv, int want)
{
  assert_int_equal(resumable_server_set_prefix(srv, "/other/"), want);
  assert_int_equal(resumable_server_set_max_size(srv, 10), want);
  assert_int_equal(resumable_server_set_token(srv, "t"), want);
  assert_int_equal(resumable_server_set_token(srv, NULL), want);
  assert_int_equal(resumable_server_set_hash_threads(srv, 1), want);
  assert_int_equal(resumable_server_set_hash_threads(srv, 0), want);
  assert_int_equal(resumable_server_set_checkpoint(srv, 1, 1), want);
  assert_int_equal(resumable_server_set_partial_ttl(srv, 5), want);
  assert_int_equal(resumable_server_set_log(srv, no_log, NULL), want);
  assert_int_equal(resumable_server_set_expose_paths(srv, 1), want);
}

static resumable_exchange *begin_put(resumable_server *srv, const char *path, const char *len)
{
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(srv, "PUT", path, &ex), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(ex, "Content-Length", len), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_headers_done(ex), 0); /* body wanted */
  return ex;
}

static void setters_refuse_while_an_exchange_is_alive(void **state)
{
  resumable_server *srv = *state;
  assert_int_equal(resumable_server_set_prefix(srv, "/v1/files/"), RESUMABLE_OK);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(srv, "HEAD", "/v1/files/a", &ex), RESUMABLE_OK);
  assert_setters(srv, RESUMABLE_E_STATE);
  /* Ended but not freed: still alive (its reply is still read). */
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_setters(srv, RESUMABLE_E_STATE);
  resumable_exchange_free(ex);
  /* The refused prefix changed nothing: keys still live under /v1/files/. */
  assert_int_equal(resumable_exchange_begin(srv, "HEAD", "/v1/files/a", &ex), RESUMABLE_OK);
  assert_string_equal(resumable_exchange_key(ex), "a");
  resumable_exchange_free(ex);
  assert_setters(srv, RESUMABLE_OK);
}

/* The hash pool is in use by a body in progress: replacing it is refused, and the upload
 * completes on the pool it started with. */
static void hash_threads_refused_during_a_body(void **state)
{
  resumable_server *srv = *state;
  assert_int_equal(resumable_server_set_hash_threads(srv, 2), RESUMABLE_OK);
  resumable_exchange *ex = begin_put(srv, "/v1/files/body", "8");
  assert_int_equal(resumable_exchange_feed(ex, "abcd", 4), 0);
  assert_int_equal(resumable_server_set_hash_threads(srv, 0), RESUMABLE_E_STATE);
  assert_int_equal(resumable_server_set_hash_threads(srv, 3), RESUMABLE_E_STATE);
  assert_int_equal(resumable_exchange_feed(ex, "efgh", 4), 0);
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(ex), 200);
  resumable_exchange_free(ex);
  assert_int_equal(resumable_server_set_hash_threads(srv, 3), RESUMABLE_OK);
}

/* free with a live exchange frees nothing: the exchange finishes on the same server, which is
 * then freed (ASan and the teardown's OK check that nothing was freed twice or leaked). */
static void free_refuses_while_exchanges_are_alive(void **state)
{
  resumable_server *srv = *state;
  resumable_exchange *a = begin_put(srv, "/v1/files/x", "3");
  resumable_exchange *b = NULL;
  assert_int_equal(resumable_exchange_begin(srv, "HEAD", "/v1/files/y", &b), RESUMABLE_OK);
  assert_int_equal(resumable_server_free(srv), RESUMABLE_E_STATE);
  assert_int_equal(resumable_exchange_feed(a, "xyz", 3), 0);
  assert_int_equal(resumable_exchange_end(a, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_status(a), 200);
  resumable_exchange_free(a);
  assert_int_equal(resumable_server_free(srv), RESUMABLE_E_STATE); /* b still alive */
  resumable_exchange_free(b);
  /* teardown frees it now, expecting RESUMABLE_OK */
}

/* A refused begin (bad arguments) does not count as alive. */
static void failed_begin_is_not_alive(void **state)
{
  resumable_server *srv = *state;
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(srv, NULL, "/v1/files/a", &ex),
                   RESUMABLE_E_INVALID_ARG);
  assert_null(ex);
  assert_setters(srv, RESUMABLE_OK);
}

static void free_null_is_ok(void **state)
{
  (void)state;
  assert_int_equal(resumable_server_free(NULL), RESUMABLE_OK);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(setters_refuse_while_an_exchange_is_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(hash_threads_refused_during_a_body, setup, teardown),
      cmocka_unit_test_setup_teardown(free_refuses_while_exchanges_are_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_begin_is_not_alive, setup, teardown),
      cmocka_unit_test(free_null_is_ok),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
