/* sha256_file: SHA-256 of a file by one named path, timed, for bench/run.sh.
 * Usage: sha256_file PATH_NAME FILE, PATH_NAME one of
 *   mbedtls   mbedTLS's own SHA-256 API (mbedtls_sha256_*), nothing of ours;
 *   portable  our rs_sha256 on our portable C block function;
 *   sha-ni    our rs_sha256 on the x86 SHA extensions;
 *   active    our rs_sha256 on whatever the dispatcher picks.
 * Reads the file with read() in 1 MiB pieces (as `openssl dgst` does) and prints
 * "<hex digest> <seconds> <bytes>" on stdout. Exit 3 if this CPU cannot run the path. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "../tests/common/mbedtls_compat.h"

#include "hex.h"
#include "sha256_impl.h"

enum { PIECE = 1 << 20 };

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feeds every piece of fd to update(ctx, piece, n). Returns the bytes read, or -1. */
static long long feed(int fd, unsigned char *buf,
                      void (*update)(void *, const unsigned char *, size_t), void *ctx)
{
  long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, PIECE);
    if (n < 0)
      return -1;
    if (n == 0)
      return total;
    update(ctx, buf, (size_t)n);
    total += n;
  }
}

static void update_mbedtls(void *ctx, const unsigned char *p, size_t n)
{
  (void)mbedtls_sha256_update_ret(ctx, p, n);
}

static void update_ours(void *ctx, const unsigned char *p, size_t n)
{
  rs_sha256_update(ctx, p, n);
}

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: sha256_file mbedtls|portable|sha-ni|active FILE\n");
    return 2;
  }
  const char *which = argv[1];
  int mbed = strcmp(which, "mbedtls") == 0;
  if (!mbed && strcmp(which, "active") != 0 && rs_sha256_force_impl(which) != 0) {
    fprintf(stderr, "sha256_file: path '%s' unknown or not supported by this CPU\n", which);
    return 3;
  }
  int fd = open(argv[2], O_RDONLY);
  unsigned char *buf = malloc(PIECE);
  if (fd < 0 || buf == NULL) {
    perror(argv[2]);
    return 1;
  }
  uint8_t digest[32];
  long long total;
  double t0 = now();
  if (mbed) {
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    (void)mbedtls_sha256_starts_ret(&c, 0);
    total = feed(fd, buf, update_mbedtls, &c);
    (void)mbedtls_sha256_finish_ret(&c, digest);
    mbedtls_sha256_free(&c);
  } else {
    rs_sha256 h;
    rs_sha256_init(&h);
    total = feed(fd, buf, update_ours, &h);
    rs_sha256_finish(&h, digest);
  }
  double t = now() - t0;
  close(fd);
  free(buf);
  if (total < 0) {
    perror("read");
    return 1;
  }
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_sha256_hex_format(digest, hex);
  printf("%s %.6f %lld\n", hex, t, total);
  return 0;
}
