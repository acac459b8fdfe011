/* Conformance: complete files, staging uploads and commits. */
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "sha256.h"

static void absent_key_is_not_found_everywhere(cf *c)
{
  resumable_complete_info ci;
  resumable_partial_info pi;
  void *r = &ci, *h = &pi;
  assert_int_equal(c->ops->complete_stat(c->self, "none", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_open(c->self, "none", &r, &ci), RESUMABLE_E_NOT_FOUND);
  assert_null(r);
  assert_int_equal(c->ops->partial_stat(c->self, "none", &pi), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->partial_open(c->self, "none", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &pi),
                   RESUMABLE_E_NOT_FOUND);
  assert_null(h);
  assert_int_equal(c->ops->partial_remove(c->self, "none"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_remove(c->self, "d/none"), RESUMABLE_E_NOT_FOUND);
}

static void staging_commit_publishes_bytes_and_info(cf *c)
{
  static const char data[] = "the complete file";
  assert_int_equal(cf_put(c, "dir/sub/file.bin", data, sizeof(data) - 1), RESUMABLE_OK);
  cf_assert_complete(c, "dir/sub/file.bin", data, sizeof(data) - 1, 5);
  cf_assert_complete(c, "dir/sub/file.bin", data, sizeof(data) - 1, 64);
}

static void staging_is_invisible_and_gone_without_commit(cf *c)
{
  resumable_partial_info info = cf_info(8), pi;
  resumable_complete_info ci;
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "s", RESUMABLE_PARTIAL_STAGING, &info, &h, &pi),
                   RESUMABLE_OK);
  assert_int_equal(pi.held, 0);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abcdefgh", 8), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_stat(c->self, "s", &pi), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_stat(c->self, "s", &ci), RESUMABLE_E_NOT_FOUND);
  if (c->ops->partial_scan != NULL)
    assert_int_equal(cf_scan_count(c, NULL, NULL, 0), 0);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_stat(c->self, "s", &pi), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_stat(c->self, "s", &ci), RESUMABLE_E_NOT_FOUND);
}

static void staging_upload_of_unknown_length_commits(cf *c)
{
  resumable_partial_info info = cf_info(UINT64_MAX);
  resumable_complete_info ci = {.size = 6};
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "u", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abc", 3), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 3, "def", 3), RESUMABLE_OK);
  rs_sha256_digest("abcdef", 6, ci.sha256);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  cf_assert_complete(c, "u", "abcdef", 6, 4);
}

/* A reader keeps the version it opened to its end, whatever lands meanwhile. */
static void commit_replaces_file_reader_keeps_old_version(cf *c)
{
  uint8_t v1[3000], v2[1000], got[3000];
  size_t n = 0;
  void *r = NULL;
  resumable_complete_info ci;
  cf_fill(v1, sizeof(v1), 1, 0);
  cf_fill(v2, sizeof(v2), 2, 0);
  assert_int_equal(cf_put(c, "v", v1, sizeof(v1)), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_open(c->self, "v", &r, &ci), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_read(c->self, r, 0, got, 100, &n), RESUMABLE_OK);
  assert_int_equal(n, 100);
  assert_int_equal(cf_put(c, "v", v2, sizeof(v2)), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_read(c->self, r, 100, got + 100, sizeof(got), &n),
                   RESUMABLE_OK);
  assert_int_equal(n, sizeof(v1) - 100);
  assert_memory_equal(got, v1, sizeof(v1));
  c->ops->complete_close(c->self, r);
  cf_assert_complete(c, "v", v2, sizeof(v2), 333);
}

static void complete_remove_keeps_open_reader(cf *c)
{
  char got[16];
  size_t n = 0;
  void *r = NULL;
  resumable_complete_info ci;
  assert_int_equal(cf_put(c, "gone", "still here", 10), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_open(c->self, "gone", &r, NULL), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_remove(c->self, "gone"), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_stat(c->self, "gone", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_remove(c->self, "gone"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_read(c->self, r, 0, got, sizeof(got), &n), RESUMABLE_OK);
  assert_int_equal(n, 10);
  assert_memory_equal(got, "still here", 10);
  c->ops->complete_close(c->self, r);
}

static void complete_read_is_short_only_at_end(cf *c)
{
  char buf[8];
  size_t n = 99;
  void *r = NULL;
  assert_int_equal(cf_put(c, "r", "0123456789", 10), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_open(c->self, "r", &r, NULL), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_read(c->self, r, 2, buf, 4, &n), RESUMABLE_OK);
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "2345", 4);
  assert_int_equal(c->ops->complete_read(c->self, r, 7, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "789", 3);
  assert_int_equal(c->ops->complete_read(c->self, r, 10, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 0);
  assert_int_equal(c->ops->complete_read(c->self, r, UINT64_MAX, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 0);
  c->ops->complete_close(c->self, r);
}

static void empty_file_commits(cf *c)
{
  assert_int_equal(cf_put(c, "empty", "", 0), RESUMABLE_OK);
  cf_assert_complete(c, "empty", "", 0, 8);
}

/* Written and read back in pieces that straddle every internal boundary a store may have. */
static void large_file_round_trips(cf *c)
{
  enum { SIZE = (3 << 20) + 12345 };
  uint8_t *data = malloc(SIZE);
  resumable_partial_info info = cf_info(SIZE);
  resumable_complete_info ci = {.size = SIZE};
  void *h = NULL;
  assert_non_null(data);
  cf_fill(data, SIZE, 7, 0);
  assert_int_equal(c->ops->partial_open(c->self, "big", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  for (size_t at = 0, piece = 1; at < SIZE; piece = piece * 3 + 1) {
    size_t n = SIZE - at < piece % 300007 + 1 ? SIZE - at : piece % 300007 + 1;
    assert_int_equal(c->ops->partial_write(c->self, h, at, data + at, n), RESUMABLE_OK);
    at += n;
  }
  rs_sha256_digest(data, SIZE, ci.sha256);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  cf_assert_complete(c, "big", data, SIZE, 65537);
  cf_assert_complete(c, "big", data, SIZE, 1 << 20);
  free(data);
}

/* A commit publishes exactly info->size bytes and never more than were written. */
static void commit_takes_exactly_the_recorded_size(cf *c)
{
  resumable_partial_info info = cf_info(10);
  resumable_complete_info ci = {.size = 7};
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "cut", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abcdefghij", 10), RESUMABLE_OK);
  rs_sha256_digest("abcdefg", 7, ci.sha256);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  cf_assert_complete(c, "cut", "abcdefg", 7, 16);

  ci.size = 11;
  assert_int_equal(
      c->ops->partial_open(c->self, "short", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abcdefghij", 10), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_E_IO);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->complete_stat(c->self, "short", &ci), RESUMABLE_E_NOT_FOUND);
}

static void committed_handle_refuses_more(cf *c)
{
  resumable_partial_info info = cf_info(1);
  resumable_complete_info ci = {.size = 1};
  void *h = NULL;
  assert_int_equal(
      c->ops->partial_open(c->self, "once", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "x", 1), RESUMABLE_OK);
  rs_sha256_digest("x", 1, ci.sha256);
  assert_int_equal(c->ops->partial_sync(c->self, h, &info), RESUMABLE_E_STATE);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 1, "y", 1), RESUMABLE_E_STATE);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_E_STATE);
  c->ops->partial_close(c->self, h); /* a committed staging upload stays */
  cf_assert_complete(c, "once", "x", 1, 4);
}

static void complete_survives_reopen(cf *c)
{
  resumable_partial_info info = cf_info(3), pi;
  void *h = NULL;
  assert_int_equal(cf_put(c, "keep/me", "kept", 4), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_open(c->self, "tmp", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abc", 3), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  cf_reopen(c);
  cf_assert_complete(c, "keep/me", "kept", 4, 2);
  assert_int_equal(c->ops->partial_stat(c->self, "tmp", &pi), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_stat(c->self, "tmp", &(resumable_complete_info){0}),
                   RESUMABLE_E_NOT_FOUND);
}

#define CASE(name, needs) \
  {                       \
#name, name, needs    \
  }
const cf_case cf_complete_cases[] = {
    CASE(absent_key_is_not_found_everywhere, 0),
    CASE(staging_commit_publishes_bytes_and_info, 0),
    CASE(staging_is_invisible_and_gone_without_commit, 0),
    CASE(staging_upload_of_unknown_length_commits, 0),
    CASE(commit_replaces_file_reader_keeps_old_version, 0),
    CASE(complete_remove_keeps_open_reader, 0),
    CASE(complete_read_is_short_only_at_end, 0),
    CASE(empty_file_commits, 0),
    CASE(large_file_round_trips, 0),
    CASE(commit_takes_exactly_the_recorded_size, 0),
    CASE(committed_handle_refuses_more, 0),
    CASE(complete_survives_reopen, CF_REOPEN),
};
const size_t cf_complete_count = sizeof(cf_complete_cases) / sizeof(cf_complete_cases[0]);
