/* Verified ingest: one Content-Range PUT of a whole file with its SHA-256 bound
 * (`X-Content-SHA256`), answered 200, through the in-process libmicrohttpd host
 * (examples/serve/mhd_host.h) and libcurl over loopback, for each hash-thread setting in turn
 * (0 = hash inline on the connection thread, 1, 2). The reference is `openssl dgst -sha256`
 * and `sha256sum` over the same file (page cache). MB = 10^6 bytes; best of RUNS.
 *
 * Usage: ingest_bench [MiB (default 1024)] [dir (default $TMPDIR or /tmp)]. The source file
 * and the store live under dir; a store on tmpfs (/dev/shm) leaves out the disk's fsync time.
 * Run: meson test -C build --benchmark -v ingest, or ./build/bench/ingest_bench 1024 /dev/shm */
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mhd_host.h"

enum { RUNS = 3 };

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A file of `size` pseudo-random bytes (written in 1 MiB blocks). */
static int make_file(const char *path, size_t size)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t block = (size_t)1 << 20;
  unsigned char *buf = malloc(block);
  uint32_t x = 2463534242u;
  int rc = buf ? 0 : -1;
  for (size_t off = 0; rc == 0 && off < size; off += block) {
    for (size_t i = 0; i < block; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf[i] = (unsigned char)x;
    }
    size_t n = size - off < block ? size - off : block;
    if (fwrite(buf, 1, n, f) != n)
      rc = -1;
  }
  free(buf);
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

/* Best-of-RUNS seconds for `tool path`, its hex digest into hex (65 bytes), or -1. */
static double time_tool(const char *tool, const char *path, char *hex)
{
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s '%s' 2>/dev/null", tool, path);
  double best = -1;
  for (int r = 0; r < RUNS; r++) {
    double t0 = now();
    FILE *p = popen(cmd, "r");
    if (!p)
      return -1;
    char out[256] = "";
    if (!fgets(out, sizeof(out), p))
      out[0] = '\0';
    int st = pclose(p);
    double t = now() - t0;
    if (st != 0 || strlen(out) < 64)
      return -1;
    memcpy(hex, out, 64);
    hex[64] = '\0';
    if (best < 0 || t < best)
      best = t;
  }
  return best;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
  (void)p;
  (void)u;
  return s * n;
}

/* One verified PUT of the file; returns seconds, or -1 unless answered 200. */
static double put_once(const char *url, const char *path, size_t size, const char *hex)
{
  FILE *f = fopen(path, "rb");
  CURL *c = curl_easy_init();
  if (!f || !c) {
    if (f)
      fclose(f);
    curl_easy_cleanup(c);
    return -1;
  }
  char range[128], hash[128];
  snprintf(range, sizeof(range), "Content-Range: bytes 0-%zu/%zu", size - 1, size);
  snprintf(hash, sizeof(hash), "X-Content-SHA256: %s", hex);
  struct curl_slist *h = curl_slist_append(NULL, range);
  h = curl_slist_append(h, hash);
  h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READDATA, f);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  double t0 = now();
  CURLcode rc = curl_easy_perform(c);
  double t = now() - t0;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  fclose(f);
  if (rc != CURLE_OK || status != 200) {
    fprintf(stderr, "PUT: %s, status %ld\n", curl_easy_strerror(rc), status);
    return -1;
  }
  return t;
}

/* Best-of-RUNS seconds of verified ingest with `threads` hash threads, or -1. */
static double ingest(const char *dir, const char *src, size_t size, const char *hex,
                     unsigned threads)
{
  char root[1024];
  if (snprintf(root, sizeof(root), "%s/store-%u", dir, threads) >= (int)sizeof(root))
    return -1;
  resumable_server *srv = NULL;
  mhd_host *host = NULL;
  char err[256];
  if (resumable_server_new(&srv, root) != RESUMABLE_OK ||
      resumable_server_set_hash_threads(srv, threads) != RESUMABLE_OK) {
    resumable_server_free(srv);
    return -1;
  }
  mhd_host_config cfg = {0};
  cfg.server = srv;
  if (mhd_host_start(&cfg, &host, err, sizeof(err)) != 0) {
    fprintf(stderr, "host: %s\n", err);
    resumable_server_free(srv);
    return -1;
  }
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/files/bench-%u.bin",
           (unsigned)mhd_host_port(host), threads);
  double best = -1;
  for (int r = 0; r < RUNS; r++) {
    char done[1100];
    snprintf(done, sizeof(done), "%s/bench-%u.bin", root, threads);
    unlink(done); /* otherwise the second run is "already there" */
    double t = put_once(url, src, size, hex);
    if (t < 0) {
      best = -1;
      break;
    }
    if (best < 0 || t < best)
      best = t;
  }
  mhd_host_stop(host);
  resumable_server_free(srv);
  char cmd[1100];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", root);
  return best;
}

static double cpu_seconds(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void row(const char *what, size_t size, double secs, double cpu)
{
  if (secs < 0)
    printf("%-44s   failed\n", what);
  else if (cpu > 0) /* this process: client and server together */
    printf("%-44s %8.0f MB/s  (%.2f s, %.2f s CPU per run)\n", what, (double)size / 1e6 / secs,
           secs, cpu);
  else
    printf("%-44s %8.0f MB/s  (%.2f s)\n", what, (double)size / 1e6 / secs, secs);
}

int main(int argc, char **argv)
{
  size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1024;
  const char *tmp = getenv("TMPDIR");
  const char *base = argc > 2 ? argv[2] : tmp && *tmp ? tmp : "/tmp";
  size_t size = (mib ? mib : 1) << 20;
  char dir[512], src[600];
  snprintf(dir, sizeof(dir), "%s/rs-ingest-XXXXXX", base);
  if (!mkdtemp(dir) || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return 1;
  snprintf(src, sizeof(src), "%s/source.bin", dir);
  if (make_file(src, size) != 0) {
    fprintf(stderr, "cannot write %s\n", src);
    return 1;
  }
  printf("verified ingest of %zu MiB under %s (best of %d)\n", mib, base, RUNS);
  char hex[65] = "", hex2[65] = "";
  row("openssl dgst -sha256", size, time_tool("openssl dgst -sha256 -r", src, hex), 0);
  row("sha256sum", size, time_tool("sha256sum", src, hex2), 0);
  int status = 0;
  if (strlen(hex) != 64 || (hex2[0] && strcmp(hex, hex2) != 0)) {
    fprintf(stderr, "no reference digest (openssl missing?)\n");
    status = 1;
  }
  for (unsigned t = 0; status == 0 && t <= 2; t++) {
    char what[96];
    snprintf(what, sizeof(what), "PUT Content-Range + hash, %u hash thread%s", t,
             t == 1 ? "" : "s");
    double c0 = cpu_seconds();
    double s = ingest(dir, src, size, hex, t);
    row(what, size, s, (cpu_seconds() - c0) / RUNS);
    if (s < 0)
      status = 1;
  }
  unlink(src);
  rmdir(dir);
  curl_global_cleanup();
  return status;
}
