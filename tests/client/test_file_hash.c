/* rs_file_hash: the whole file's SHA-256 and, in the same pass, the per-chunk digests that the
 * stager's digested requests carry (rs_hash_grid), each checked against a SHA-256 of its slice
 * taken directly. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_hash.h"
#include "resumable/error.h"
#include "sha256.h"
#include "test_fs.h"

#define MIB ((uint64_t)1 << 20)

typedef struct fx {
  char dir[512], path[600];
  uint8_t *data;
  uint64_t size;
  int fd;
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  if (!f || test_temp_dir(f->dir, sizeof f->dir, "file-hash") != 0)
    return -1;
  snprintf(f->path, sizeof f->path, "%s/f.bin", f->dir);
  f->fd = -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  if (f->fd >= 0)
    close(f->fd);
  test_remove_tree(f->dir);
  free(f->data);
  free(f);
  return 0;
}

/* A file of `size` pseudo-random bytes, opened for reading. */
static void make(fx *f, uint64_t size)
{
  f->size = size;
  f->data = malloc(size ? size : 1);
  assert_non_null(f->data);
  uint32_t x = 2463534242u;
  for (uint64_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->data[i] = (uint8_t)x;
  }
  FILE *w = fopen(f->path, "wb");
  assert_non_null(w);
  assert_int_equal(fwrite(f->data, 1, size, w), size);
  assert_int_equal(fclose(w), 0);
  f->fd = open(f->path, O_RDONLY);
  assert_true(f->fd >= 0);
}

static void sha_of(const uint8_t *p, uint64_t len, uint8_t out[32])
{
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, p, (size_t)len);
  rs_sha256_finish(&h, out);
  rs_sha256_free(&h);
}

/* Hash with a grid of `chunk` and check the file's digest and every chunk's. */
static void check_grid(fx *f, uint64_t chunk)
{
  size_t n = (size_t)((f->size + chunk - 1) / chunk);
  uint8_t(*d)[32] = calloc(n + 1, 32);
  assert_non_null(d);
  rs_hash_grid g = {.chunk = chunk, .count = n, .digest = d};
  uint8_t whole[32], plain[32], want[32];
  assert_int_equal(rs_file_hash(f->fd, f->size, whole, &g, NULL, NULL), RESUMABLE_OK);
  assert_int_equal(rs_file_hash(f->fd, f->size, plain, NULL, NULL, NULL), RESUMABLE_OK);
  sha_of(f->data, f->size, want);
  assert_memory_equal(whole, want, 32);
  assert_memory_equal(plain, want, 32);
  for (size_t i = 0; i < n; i++) {
    uint64_t start = i * chunk, len = f->size - start < chunk ? f->size - start : chunk;
    sha_of(f->data + start, len, want);
    assert_memory_equal(d[i], want, 32);
  }
  free(d);
}

/* A chunk that is no multiple of the 1 MiB read: reads stop at every chunk boundary. */
static void odd_chunk_with_a_short_last_one(void **state)
{
  fx *f = *state;
  make(f, 3 * (MIB + MIB / 2 + 7) + 12345);
  check_grid(f, MIB + MIB / 2 + 7);
}

static void chunks_that_divide_the_file(void **state)
{
  fx *f = *state;
  make(f, 4 * MIB);
  check_grid(f, 2 * MIB);
  check_grid(f, 64 * 1024);
}

static void one_chunk_larger_than_the_file(void **state)
{
  fx *f = *state;
  make(f, 300000);
  check_grid(f, 16 * MIB);
}

static void empty_file(void **state)
{
  fx *f = *state;
  make(f, 0);
  uint8_t d[1][32], whole[32], want[32];
  rs_hash_grid g = {.chunk = MIB, .count = 0, .digest = d};
  assert_int_equal(rs_file_hash(f->fd, 0, whole, &g, NULL, NULL), RESUMABLE_OK);
  sha_of(f->data, 0, want);
  assert_memory_equal(whole, want, 32);
}

static void a_grid_too_small_or_of_chunk_zero_is_refused(void **state)
{
  fx *f = *state;
  make(f, 2 * MIB + 1);
  uint8_t d[3][32], whole[32];
  rs_hash_grid g = {.chunk = MIB, .count = 2, .digest = d};
  assert_int_equal(rs_file_hash(f->fd, f->size, whole, &g, NULL, NULL), RESUMABLE_E_INVALID_ARG);
  g = (rs_hash_grid){.chunk = 0, .count = 3, .digest = d};
  assert_int_equal(rs_file_hash(f->fd, f->size, whole, &g, NULL, NULL), RESUMABLE_E_INVALID_ARG);
  g = (rs_hash_grid){.chunk = MIB, .count = 3, .digest = d};
  assert_int_equal(rs_file_hash(f->fd, f->size, whole, &g, NULL, NULL), RESUMABLE_OK);
}

static void a_file_shorter_than_its_size_fails(void **state)
{
  fx *f = *state;
  make(f, MIB);
  uint8_t d[2][32], whole[32];
  rs_hash_grid g = {.chunk = MIB, .count = 2, .digest = d};
  assert_int_equal(rs_file_hash(f->fd, 2 * MIB, whole, &g, NULL, NULL), RESUMABLE_E_FILE);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(odd_chunk_with_a_short_last_one),
      T(chunks_that_divide_the_file),
      T(one_chunk_larger_than_the_file),
      T(empty_file),
      T(a_grid_too_small_or_of_chunk_zero_is_refused),
      T(a_file_shorter_than_its_size_fails),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
