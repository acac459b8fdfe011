/* A tus upload whose stored bytes were changed behind the server's back (same length, mtime
 * set back) is never certified with a hash those bytes do not have: the store ties a partial's
 * saved hash state to its data file's identity (ctime included), so the held prefix is hashed
 * again. Through PATCH with and without a bound X-Content-SHA256, and through a concatenation
 * whose first part (whose saved hash state would start the final's hash) was damaged. */
#include "it_tus.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->partial_ttl = 3600;
  it_server_start(s);
  *state = s;
  return 0;
}

/* A response header's value, or "(absent)": compared as a string, an absent header fails. */
static const char *hv(const it_resp *r, const char *name, char *buf, size_t cap)
{
  const char *v = it_header(r, name, buf, cap);
  return v != NULL ? v : "(absent)";
}

/* Flip one byte of the key's partial data in place, then set its mtime back. */
static void damage(const it_server *s, const char *key, long at)
{
  char hex[65], path[512];
  struct stat before;
  it_sha256_hex(key, strlen(key), hex);
  snprintf(path, sizeof path, "%s/.resumable/partial/%s.data", s->root, hex);
  assert_int_equal(stat(path, &before), 0);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  unsigned char c;
  assert_int_equal(pread(fd, &c, 1, at), 1);
  c ^= 0x20;
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);
  struct timespec t[2] = {before.st_atim, before.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* The SHA-256 the server names for the key (LocalAI HEAD) is the one of the file it holds. */
static void assert_hash_is_the_files(const it_server *s, const char *key)
{
  char path[512], disk[65], got[80];
  size_t len = 0;
  char *data = it_read_file(it_key_path(s, key, path, sizeof path), &len);
  assert_non_null(data);
  it_sha256_hex(data, len, disk);
  free(data);
  it_resp r;
  assert_int_equal(it_head(s, key, &r), 200);
  assert_string_equal(hv(&r, "X-Content-SHA256", got, sizeof got), disk);
  it_resp_free(&r);
}

/* Bound to the client's hash: the upload ends in 460 (the bytes do not have it), nothing is
 * committed, and the upload is gone (the client creates it again). */
static void damaged_partial_with_a_bound_hash_is_refused(void **state)
{
  it_server *s = *state;
  char data[6000], hex[65], hdr[128], path[512];
  it_fill(data, sizeof data, 51);
  it_sha256_hex(data, sizeof data, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(it_tus_create(s, "d/bound.bin", sizeof data, (const char *const[]){hdr, NULL},
                                 data, 4000, NULL),
                   201);
  damage(s, "d/bound.bin", 1234);
  assert_int_equal(it_tus_patch(s, "d/bound.bin", 4000, NULL, data + 4000, 2000, NULL), 460);
  assert_int_equal(access(it_key_path(s, "d/bound.bin", path, sizeof path), F_OK), -1);
  assert_int_equal(it_tus_head(s, "d/bound.bin", NULL), 404);
  /* created again, it completes */
  assert_int_equal(it_tus_create(s, "d/bound.bin", sizeof data, (const char *const[]){hdr, NULL},
                                 data, sizeof data, NULL),
                   201);
  assert_hash_is_the_files(s, "d/bound.bin");
}

/* Without a bound hash (and with per-request checksums, which cover only their own bytes) the
 * upload completes, and the hash the server names is the one of the bytes it holds, not the
 * one the saved hash state would have given. */
static void damaged_partial_without_a_bound_hash_gets_its_real_hash(void **state)
{
  it_server *s = *state;
  char data[6000], b64[64], ck[128], want[65], got[80];
  uint8_t d[32];
  size_t dlen = 0;
  it_fill(data, sizeof data, 52);
  it_sha256_hex(data, sizeof data, want);
  assert_int_equal(it_tus_create(s, "d/free.bin", sizeof data, NULL, data, 3000, NULL), 201);
  damage(s, "d/free.bin", 7);
  it_digest("sha256", data + 3000, 3000, d, &dlen);
  it_base64(d, dlen, b64, sizeof b64);
  snprintf(ck, sizeof ck, "Upload-Checksum: sha256 %s", b64);
  assert_int_equal(
      it_tus_patch(s, "d/free.bin", 3000, (const char *const[]){ck, NULL}, data + 3000, 3000, NULL),
      204);
  assert_hash_is_the_files(s, "d/free.bin");
  it_resp r;
  assert_int_equal(it_head(s, "d/free.bin", &r), 200);
  assert_string_not_equal(hv(&r, "X-Content-SHA256", got, sizeof got), want);
  it_resp_free(&r);
}

static void make_part(it_server *s, const char *data, size_t len, char *loc, size_t cap)
{
  it_resp r;
  assert_int_equal(it_tus_create(s, "", (long long)len,
                                 (const char *const[]){"Upload-Concat: partial", NULL}, data, len,
                                 &r),
                   201);
  it_tus_location(&r, loc, cap);
  it_resp_free(&r);
}

static long final(it_server *s, const char *key, const char *p1, const char *p2, const char *extra)
{
  char h[512];
  snprintf(h, sizeof h, "Upload-Concat: final;" IT_PREFIX "%s " IT_PREFIX "%s", p1, p2);
  return it_tus(s, "POST", key, (const char *const[]){h, extra, NULL}, NULL, 0, NULL);
}

/* The first part's saved hash state starts the final's hash; once the part's bytes changed it
 * is not used: a bound hash is refused (460), and without one the final file gets its real
 * hash. */
static void damaged_first_part_of_a_concatenation_is_hashed_again(void **state)
{
  it_server *s = *state;
  char data[8000], p1[64], p2[64], hex[65], hdr[128];
  it_fill(data, sizeof data, 53);
  it_sha256_hex(data, sizeof data, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  make_part(s, data, 5000, p1, sizeof p1);
  make_part(s, data + 5000, 3000, p2, sizeof p2);
  damage(s, p1, 4321);
  assert_int_equal(final(s, "d/cat.bin", p1, p2, hdr), 460);
  assert_int_equal(it_tus_head(s, "d/cat.bin", NULL), 404);
  assert_int_equal(final(s, "d/cat.bin", p1, p2, NULL), 201);
  assert_hash_is_the_files(s, "d/cat.bin");
  char got[80];
  it_resp r;
  assert_int_equal(it_head(s, "d/cat.bin", &r), 200);
  assert_string_not_equal(hv(&r, "X-Content-SHA256", got, sizeof got), hex);
  it_resp_free(&r);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(damaged_partial_with_a_bound_hash_is_refused, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(damaged_partial_without_a_bound_hash_gets_its_real_hash,
                                      setup, it_teardown),
      cmocka_unit_test_setup_teardown(damaged_first_part_of_a_concatenation_is_hashed_again, setup,
                                      it_teardown),
  };
  int rc = cmocka_run_group_tests_name("tus_damaged", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
