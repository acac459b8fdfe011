/* The local files: each version of a key is a seeded byte stream, written once and hashed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "tt.h"

#define BUF (1024 * 1024) /* a multiple of 8: words never straddle two buffers */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* Sizes from empty through a few KiB and up to 1 MiB, to the largest allowed. */
static uint64_t pick_size(tt_rng *r, uint64_t max)
{
  unsigned c = (unsigned)tt_range(r, 0, 99);
  if (c < 4 || max == 0)
    return 0;
  if (c < 16)
    return tt_range(r, 1, min_u64(4096, max));
  if (c < 50)
    return tt_range(r, min_u64(4097, max), min_u64(1024 * 1024, max));
  uint64_t lo = max / 16 > 0 ? max / 16 : 1;
  return tt_range(r, lo, max);
}

static uint64_t pick_chunk(tt_rng *r, uint64_t size)
{
  if (tt_range(r, 0, 1) == 0)
    return 0;
  uint64_t lo = 16 * 1024, hi = size / 2 > lo ? size / 2 : lo;
  return tt_range(r, lo, hi);
}

/* Bytes [off, off+len) of the version's stream into buf (off a multiple of BUF). */
static void fill(const tt_version *v, tt_rng *stream, unsigned char *buf, uint64_t off, size_t len)
{
  for (size_t i = 0; i < len; i += 8) {
    uint64_t w = tt_next(stream);
    for (size_t j = 0; j < 8 && i + j < len; j++)
      buf[i + j] = (unsigned char)(w >> (8 * j));
  }
  if (v->flip > 0 && v->flip - 1 >= off && v->flip - 1 < off + len)
    buf[v->flip - 1 - off] ^= 0x5a;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int write_version(tt_version *v)
{
  unsigned char *buf = malloc(BUF);
  if (buf == NULL)
    return -1;
  int fd = open(v->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    free(buf);
    return -1;
  }
  tt_rng stream = {v->content_seed};
  rs_sha256 h;
  rs_sha256_init(&h);
  int rc = 0;
  for (uint64_t off = 0; off < v->size && rc == 0; off += BUF) {
    size_t len = (size_t)min_u64(BUF, v->size - off);
    fill(v, &stream, buf, off, len);
    rs_sha256_update(&h, buf, len);
    rc = write_all(fd, buf, len);
  }
  rs_sha256_finish(&h, v->sha);
  rs_sha256_free(&h);
  if (close(fd) != 0)
    rc = -1;
  free(buf);
  return rc;
}

int tt_version_make(uint64_t seed, unsigned key_index, const tt_version *prev, uint64_t max_size,
                    const char *dir, tt_version *out)
{
  memset(out, 0, sizeof *out);
  out->number = prev != NULL ? prev->number + 1 : 0;
  tt_rng r = tt_derive(seed, key_index + 1, out->number + 1);
  if (prev != NULL && prev->size > 0 && tt_range(&r, 0, 9) < 3) {
    /* The previous bytes with one byte changed (or a change undone). */
    out->size = prev->size;
    out->content_seed = prev->content_seed;
    do
      out->flip = tt_range(&r, 0, prev->size);
    while (out->flip == prev->flip);
  } else {
    out->size = pick_size(&r, max_size);
    out->content_seed = tt_next(&r);
  }
  out->chunk = pick_chunk(&r, out->size);
  out->legacy = out->size > 0 && tt_range(&r, 0, 99) < 15;
  int n = snprintf(out->path, sizeof out->path, "%s/k%u-v%u.bin", dir, key_index, out->number);
  if (n < 0 || (size_t)n >= sizeof out->path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return write_version(out);
}

void tt_hex(const uint8_t sha[32], char out[65])
{
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[sha[i] >> 4];
    out[2 * i + 1] = digits[sha[i] & 15];
  }
  out[64] = '\0';
}

int tt_hash_file(int dirfd, const char *path, uint8_t sha[32], uint64_t *size)
{
  int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  unsigned char *buf = malloc(BUF);
  if (buf == NULL) {
    close(fd);
    return -1;
  }
  rs_sha256 h;
  rs_sha256_init(&h);
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, buf, BUF);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      rc = -1;
    if (n <= 0)
      break;
    rs_sha256_update(&h, buf, (size_t)n);
    total += (uint64_t)n;
  }
  rs_sha256_finish(&h, sha);
  rs_sha256_free(&h);
  free(buf);
  close(fd);
  if (size != NULL)
    *size = total;
  return rc;
}
