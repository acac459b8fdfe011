/* The tus dialect through the exchange API on the real POSIX store, without a host: the
 * metadata the host can read on each exchange, a checksummed body that is cut or superseded
 * (its bytes never count), and the LocalAI dialect untouched by tus headers it does not send. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/server.h"
#include "test_fs.h"

typedef struct fix {
  char root[64];
  resumable_server *srv;
} fix;

static int setup(void **state)
{
  fix *f = calloc(1, sizeof(*f));
  snprintf(f->root, sizeof(f->root), "/tmp/rs-tus-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  assert_int_equal(resumable_server_new(&f->srv, f->root), RESUMABLE_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fix *f = *state;
  resumable_server_free(f->srv);
  assert_int_equal(test_remove_tree(f->root), 0);
  free(f);
  return 0;
}

/* Begin an exchange with NULL-terminated "Name", "value" pairs; returns it after
 * headers_done (its return in *done). */
static resumable_exchange *start(fix *f, const char *method, const char *path, const char *const *h,
                                 int *done)
{
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(f->srv, method, path, &ex), RESUMABLE_OK);
  for (size_t i = 0; h && h[i]; i += 2)
    assert_int_equal(resumable_exchange_add_header(ex, h[i], h[i + 1]), RESUMABLE_OK);
  *done = resumable_exchange_headers_done(ex);
  assert_true(*done == 0 || *done == 1);
  return ex;
}

static const char *header(resumable_exchange *ex, const char *name)
{
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    resumable_exchange_header_at(ex, i, &n, &v);
    if (strcmp(n, name) == 0)
      return v;
  }
  return NULL;
}

/* A whole request: headers, the body in one piece, end. Returns the status; ex kept in *out. */
static int run(fix *f, const char *method, const char *path, const char *const *h, const char *body,
               size_t len, resumable_exchange **out)
{
  int done;
  resumable_exchange *ex = start(f, method, path, h, &done);
  if (!done) {
    if (len > 0)
      assert_int_equal(resumable_exchange_feed(ex, body, len), 0);
    resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE);
  }
  int st = resumable_exchange_status(ex);
  if (out)
    *out = ex;
  else
    resumable_exchange_free(ex);
  return st;
}

#define MD "filename YS50eHQ=,note aGk="

static void metadata_is_readable_on_every_exchange_of_the_upload(void **state)
{
  fix *f = *state;
  resumable_exchange *ex;
  const char *const create[] = {
      "Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", MD, NULL};
  assert_int_equal(run(f, "POST", "/v1/files/", create, NULL, 0, &ex), 201);
  assert_string_equal(resumable_exchange_upload_metadata(ex), MD);
  assert_string_equal(resumable_exchange_key(ex), "a.txt"); /* from "filename" */
  resumable_exchange_free(ex);
  const char *const head[] = {"Tus-Resumable", "1.0.0", NULL};
  assert_int_equal(run(f, "HEAD", "/v1/files/a.txt", head, NULL, 0, &ex), 200);
  assert_string_equal(resumable_exchange_upload_metadata(ex), MD);
  assert_string_equal(header(ex, "Upload-Metadata"), MD);
  resumable_exchange_free(ex);
  const char *const patch[] = {"Tus-Resumable",
                               "1.0.0",
                               "Upload-Offset",
                               "0",
                               "Content-Type",
                               "application/offset+octet-stream",
                               "Content-Length",
                               "10",
                               NULL};
  assert_int_equal(run(f, "PATCH", "/v1/files/a.txt", patch, "0123456789", 10, &ex), 204);
  /* the completing exchange still has it, after the commit dropped the partial */
  assert_string_equal(resumable_exchange_upload_metadata(ex), MD);
  resumable_exchange_free(ex);
  /* LocalAI exchanges have none */
  assert_int_equal(run(f, "HEAD", "/v1/files/a.txt", NULL, NULL, 0, &ex), 200);
  assert_string_equal(resumable_exchange_upload_metadata(ex), "");
  resumable_exchange_free(ex);
  assert_string_equal(resumable_exchange_upload_metadata(NULL), "");
}

static long long head_offset(fix *f, const char *path)
{
  resumable_exchange *ex;
  const char *const head[] = {"Tus-Resumable", "1.0.0", NULL};
  assert_int_equal(run(f, "HEAD", path, head, NULL, 0, &ex), 200);
  const char *v = header(ex, "Upload-Offset");
  long long off = v ? atoll(v) : -1;
  resumable_exchange_free(ex);
  return off;
}

static void a_cut_checksummed_body_counts_for_nothing(void **state)
{
  fix *f = *state;
  const char *const create[] = {"Tus-Resumable", "1.0.0", "Upload-Length", "100", NULL};
  assert_int_equal(run(f, "POST", "/v1/files/c", create, NULL, 0, NULL), 201);
  /* sha1 of 50 bytes "x" would be needed; the body is cut after 20 anyway */
  const char *const patch[] = {"Tus-Resumable",
                               "1.0.0",
                               "Upload-Offset",
                               "0",
                               "Content-Type",
                               "application/offset+octet-stream",
                               "Content-Length",
                               "50",
                               "Upload-Checksum",
                               "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
                               NULL};
  int done;
  resumable_exchange *ex = start(f, "PATCH", "/v1/files/c", patch, &done);
  assert_int_equal(done, 0);
  char buf[20];
  memset(buf, 'x', sizeof(buf));
  assert_int_equal(resumable_exchange_feed(ex, buf, sizeof(buf)), 0);
  resumable_exchange_end(ex, RESUMABLE_BODY_DROPPED);
  resumable_exchange_free(ex);
  assert_int_equal(head_offset(f, "/v1/files/c"), 0);
  /* the same through free() without end (a host that just lets go) */
  ex = start(f, "PATCH", "/v1/files/c", patch, &done);
  assert_int_equal(resumable_exchange_feed(ex, buf, sizeof(buf)), 0);
  resumable_exchange_free(ex);
  assert_int_equal(head_offset(f, "/v1/files/c"), 0);
  /* and a plain PATCH cut the same way keeps its bytes */
  const char *const plain[] = {"Tus-Resumable",
                               "1.0.0",
                               "Upload-Offset",
                               "0",
                               "Content-Type",
                               "application/offset+octet-stream",
                               "Content-Length",
                               "50",
                               NULL};
  ex = start(f, "PATCH", "/v1/files/c", plain, &done);
  assert_int_equal(resumable_exchange_feed(ex, buf, sizeof(buf)), 0);
  resumable_exchange_end(ex, RESUMABLE_BODY_DROPPED);
  resumable_exchange_free(ex);
  assert_int_equal(head_offset(f, "/v1/files/c"), 20);
}

static void a_superseded_checksummed_body_is_dropped(void **state)
{
  fix *f = *state;
  const char *const create[] = {"Tus-Resumable", "1.0.0", "Upload-Length", "10", NULL};
  assert_int_equal(run(f, "POST", "/v1/files/s", create, NULL, 0, NULL), 201);
  const char *const patch[] = {"Tus-Resumable",
                               "1.0.0",
                               "Upload-Offset",
                               "0",
                               "Content-Type",
                               "application/offset+octet-stream",
                               "Content-Length",
                               "10",
                               "Upload-Checksum",
                               "md5 XrY7u+Ae7tCTyyK7j1rNww==",
                               NULL};
  int done;
  resumable_exchange *old = start(f, "PATCH", "/v1/files/s", patch, &done);
  assert_int_equal(resumable_exchange_feed(old, "junk!", 5), 0);
  /* a LocalAI PUT at 0 takes over: the 5 unverified bytes are not a prefix to keep */
  const char *const put[] = {"Content-Range", "bytes 0-9/10", "Content-Length", "10", NULL};
  resumable_exchange *ex;
  assert_int_equal(run(f, "PUT", "/v1/files/s", put, "0123456789", 10, &ex), 200);
  resumable_exchange_free(ex);
  assert_int_equal(resumable_exchange_feed(old, "abcde", 5), 1);
  assert_int_equal(resumable_exchange_status(old), 423);
  resumable_exchange_free(old);
  char path[128], got[16];
  snprintf(path, sizeof(path), "%s/s", f->root);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(got, 1, sizeof(got), fp), 10);
  fclose(fp);
  assert_memory_equal(got, "0123456789", 10);
}

static void localai_requests_ignore_tus_headers(void **state)
{
  fix *f = *state;
  /* without Tus-Resumable, PATCH stays a LocalAI 405 whatever else it carries */
  const char *const h[] = {"Upload-Offset", "0", "Content-Type", "application/offset+octet-stream",
                           NULL};
  resumable_exchange *ex;
  assert_int_equal(run(f, "PATCH", "/v1/files/l", h, NULL, 0, &ex), 405);
  assert_string_equal(header(ex, "Allow"), "HEAD, GET, PUT, DELETE");
  assert_null(header(ex, "Tus-Resumable"));
  resumable_exchange_free(ex);
  /* and a LocalAI PUT with an Upload-Metadata header is a plain PUT */
  const char *const put[] = {"Content-Length", "3", "Upload-Metadata", "bad!!", NULL};
  assert_int_equal(run(f, "PUT", "/v1/files/l", put, "abc", 3, &ex), 200);
  assert_null(header(ex, "Tus-Resumable"));
  assert_string_equal(resumable_exchange_upload_metadata(ex), "");
  resumable_exchange_free(ex);
  /* nor do repeats of headers only tus reads make a LocalAI request a conflict (400) */
  const char *const twice[] = {"Content-Length",
                               "3",
                               "Content-Type",
                               "text/plain",
                               "Content-Type",
                               "application/json",
                               "Upload-Offset",
                               "1",
                               "Upload-Offset",
                               "2",
                               NULL};
  assert_int_equal(run(f, "PUT", "/v1/files/l2", twice, "abc", 3, NULL), 200);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(metadata_is_readable_on_every_exchange_of_the_upload, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_cut_checksummed_body_counts_for_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(a_superseded_checksummed_body_is_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(localai_requests_ignore_tus_headers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
