/* Shared helpers of the fault tests (see fault_fixture.h). */
#include "fault_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hex.h"
#include "resumable/error.h"
#include "sha256.h"
#include "test_fs.h"

void ff_mkroot(char *buf, size_t cap)
{
  assert_int_equal(test_temp_dir(buf, cap, "faults"), 0);
}

uint8_t *ff_read(const char *root, const char *rel, size_t *len)
{
  char path[1024];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  assert_int_equal(fstat(fileno(f), &st), 0);
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  assert_non_null(buf);
  *len = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  assert_int_equal(*len, (size_t)st.st_size);
  return buf;
}

int ff_exists(const char *root, const char *rel)
{
  char path[1024];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  return lstat(path, &st) == 0;
}

int ff_tmp_count(const char *root)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/.resumable/tmp", root);
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

void ff_partial_data(const char *key, char *buf, size_t cap)
{
  char hex[65];
  ff_sha_hex((const uint8_t *)key, strlen(key), hex);
  snprintf(buf, cap, ".resumable/partial/%s.data", hex);
}

void ff_fill(uint8_t *buf, size_t len, unsigned seed)
{
  uint32_t x = seed * 2654435761u + 1u;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
}

void ff_sha_hex(const uint8_t *data, size_t len, char out[65])
{
  uint8_t d[32];
  rs_sha256_digest(data, len, d);
  rs_sha256_hex_format(d, out);
}

static void header_of(resumable_exchange *ex, const char *name, char *out, size_t cap)
{
  out[0] = '\0';
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    if (resumable_exchange_header_at(ex, i, &n, &v) == RESUMABLE_OK && strcmp(n, name) == 0)
      snprintf(out, cap, "%s", v);
  }
}

ff_result ff_run(resumable_server *srv, const char *method, const char *key, const char *range,
                 const char *hash, const uint8_t *body, size_t len, size_t piece)
{
  resumable_exchange *ex = NULL;
  char path[1100], cl[32], size[32];
  ff_result r;
  snprintf(path, sizeof(path), "/v1/files/%s", key);
  assert_int_equal(resumable_exchange_begin(srv, method, path, &ex), RESUMABLE_OK);
  if (range)
    assert_int_equal(resumable_exchange_add_header(ex, "Content-Range", range), RESUMABLE_OK);
  if (hash)
    assert_int_equal(resumable_exchange_add_header(ex, "X-Content-SHA256", hash), RESUMABLE_OK);
  if (strcmp(method, "PUT") == 0) {
    snprintf(cl, sizeof(cl), "%zu", len);
    assert_int_equal(resumable_exchange_add_header(ex, "Content-Length", cl), RESUMABLE_OK);
  }
  if (resumable_exchange_headers_done(ex) == 0) {
    for (size_t off = 0; off < len;) {
      size_t n = len - off < piece ? len - off : piece;
      if (resumable_exchange_feed(ex, body + off, n) != 0)
        break;
      off += n;
    }
    resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE);
  }
  r.status = resumable_exchange_status(ex);
  header_of(ex, "X-File-Size", size, sizeof(size));
  r.file_size = size[0] ? strtoll(size, NULL, 10) : -1;
  header_of(ex, "X-Content-SHA256", r.sha, sizeof(r.sha));
  r.received = resumable_exchange_bytes_received(ex);
  resumable_exchange_free(ex);
  return r;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[16384];
static size_t log_len;

void ff_log_fn(void *user_data, resumable_log_level level, const char *msg)
{
  (void)user_data;
  if (level != RESUMABLE_LOG_ERROR)
    return;
  pthread_mutex_lock(&log_mu);
  int n = snprintf(log_buf + log_len, sizeof(log_buf) - log_len, "%s\n", msg);
  if (n > 0 && (size_t)n < sizeof(log_buf) - log_len)
    log_len += (size_t)n;
  pthread_mutex_unlock(&log_mu);
  if (getenv("RS_FAULTS_VERBOSE"))
    fprintf(stderr, "# log: %s\n", msg);
}

void ff_log_reset(void)
{
  pthread_mutex_lock(&log_mu);
  log_len = 0;
  log_buf[0] = '\0';
  pthread_mutex_unlock(&log_mu);
}

int ff_log_has_error(const char *needle)
{
  pthread_mutex_lock(&log_mu);
  int found = strstr(log_buf, needle) != NULL;
  pthread_mutex_unlock(&log_mu);
  return found;
}
