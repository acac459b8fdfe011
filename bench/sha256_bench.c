/* SHA-256 throughput of each path this CPU runs over one buffer in memory (default 256 MiB;
 * argv[1] = MiB), alone and as two states fed in one pass (rs_sha256_update2): best of five
 * runs, taken in turns so every path meets the same machine load.
 * Then `openssl dgst -sha256` on the same bytes in a temp file (page cache), if openssl is on
 * PATH, its digest checked against ours. MB = 10^6 bytes.
 * Run: meson test -C build --benchmark -v, or ./build/bench/sha256_bench [MiB]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "sha256_impl.h"

enum { RUNS = 5, MAX_IMPLS = 8 };

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hash in 1 MiB updates, as a receive loop would. Returns seconds. */
static double time_hash(const uint8_t *buf, size_t len, uint8_t digest[32])
{
  double t0 = now();
  rs_sha256 h;
  rs_sha256_init(&h);
  for (size_t off = 0; off < len; off += 1 << 20)
    rs_sha256_update(&h, buf + off, len - off < (1 << 20) ? len - off : (1 << 20));
  rs_sha256_finish(&h, digest);
  return now() - t0;
}

/* Two states over the same bytes in one pass (rs_sha256_update2: a request digest beside the
 * whole-file hash), in the same 1 MiB updates. Both digests land in digest[0..1]. */
static double time_hash2(const uint8_t *buf, size_t len, uint8_t digest[2][32])
{
  double t0 = now();
  rs_sha256 a, b;
  rs_sha256_init(&a);
  rs_sha256_init(&b);
  for (size_t off = 0; off < len; off += 1 << 20)
    rs_sha256_update2(&a, &b, buf + off, len - off < (1 << 20) ? len - off : (1 << 20));
  rs_sha256_finish(&a, digest[0]);
  rs_sha256_finish(&b, digest[1]);
  return now() - t0;
}

/* Best-of-RUNS seconds for openssl on the file, or -1; fails if its digest differs. */
static double time_openssl(const char *path, const char *want_hex)
{
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s' 2>/dev/null", path);
  double best = -1;
  for (int r = 0; r < RUNS; r++) {
    double t0 = now();
    FILE *p = popen(cmd, "r");
    if (p == NULL)
      return -1;
    char out[256] = "";
    char *got = fgets(out, sizeof(out), p);
    int rc = pclose(p);
    double t = now() - t0;
    if (got == NULL || rc != 0)
      return -1;
    if (strncmp(out, want_hex, 64) != 0) {
      fprintf(stderr, "openssl digest differs: %.64s vs %s\n", out, want_hex);
      exit(1);
    }
    best = best < 0 || t < best ? t : best;
  }
  return best;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void bench_openssl(const uint8_t *buf, size_t len, const char *want_hex, double fastest)
{
  char path[] = "/tmp/rs_sha256_bench.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write_all(fd, buf, len) != 0) {
    perror("temp file");
    if (fd >= 0)
      close(fd), unlink(path);
    return;
  }
  close(fd);
  double t = time_openssl(path, want_hex);
  unlink(path);
  if (t < 0) {
    printf("%-10s not available (openssl not on PATH?)\n", "openssl");
    return;
  }
  double mbs = (double)len / 1e6 / t;
  printf("%-10s %8.0f MB/s  (file in page cache, process start included)\n", "openssl", mbs);
  printf("fastest path / openssl = %.2f\n", fastest / mbs);
}

int main(int argc, char **argv)
{
  size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
  size_t len = (mib ? mib : 1) << 20;
  uint8_t *buf = malloc(len);
  if (buf == NULL) {
    perror("malloc");
    return 1;
  }
  uint32_t x = 0x2545f491u;
  for (size_t i = 0; i < len; i++) /* touch every page; bytes need not be random */
    buf[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);

  size_t n;
  const rs_sha256_impl *impls = rs_sha256_impls(&n);
  double best[MAX_IMPLS] = {0};
  char hex[MAX_IMPLS][RS_SHA256_HEX_LEN + 1] = {{0}};
  if (n > MAX_IMPLS)
    n = MAX_IMPLS;
  double best2[MAX_IMPLS] = {0};
  int two_ok[MAX_IMPLS] = {0};
  printf("SHA-256 over %zu MiB in memory, best of %d\n", len >> 20, RUNS);
  for (int r = 0; r < RUNS; r++)
    for (size_t i = 0; i < n; i++) {
      if (!impls[i].supported() || rs_sha256_force_impl(impls[i].name) != 0)
        continue;
      uint8_t d[32], d2[2][32];
      double t = time_hash(buf, len, d);
      best[i] = r == 0 || t < best[i] ? t : best[i];
      rs_sha256_hex_format(d, hex[i]);
      t = time_hash2(buf, len, d2);
      best2[i] = r == 0 || t < best2[i] ? t : best2[i];
      two_ok[i] = memcmp(d2[0], d, 32) == 0 && memcmp(d2[1], d, 32) == 0;
    }
  double fastest = 0;
  const char *digest = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!impls[i].supported()) {
      printf("%-10s not supported by this CPU\n", impls[i].name);
      continue;
    }
    if (digest != NULL && strcmp(digest, hex[i]) != 0) {
      fprintf(stderr, "%s digest differs from the other paths\n", impls[i].name);
      return 1;
    }
    digest = hex[i];
    double mbs = (double)len / 1e6 / best[i];
    fastest = mbs > fastest ? mbs : fastest;
    printf("%-10s %8.0f MB/s; two states in one pass (update2): %.0f MB/s of input%s\n",
           impls[i].name, mbs, (double)len / 1e6 / best2[i], two_ok[i] ? "" : ", WRONG DIGEST");
    if (!two_ok[i])
      return 1;
  }
  if (digest != NULL)
    bench_openssl(buf, len, digest, fastest);
  free(buf);
  return 0;
}
