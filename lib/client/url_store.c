/* The tus URL store (url_store.h). */
#include "url_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "sha256.h"

#define HEADER "libresumable-tus-urls 1\n"
#define FILE_MAX ((size_t)4 << 20) /* far above 256 entries of sane URLs: more is corruption */

void rs_us_key(const char *endpoint, uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_sec,
               uint32_t mtime_nsec, int64_t ctime_sec, uint32_t ctime_nsec, const uint8_t sha[32],
               uint8_t key[32])
{
  char id[256], hex[65];
  rs_sha256_hex_format(sha, hex);
  int n = snprintf(id, sizeof(id), "\n%llu %llu %llu %lld.%09u %lld.%09u\n%s",
                   (unsigned long long)dev, (unsigned long long)ino, (unsigned long long)size,
                   (long long)mtime_sec, mtime_nsec, (long long)ctime_sec, ctime_nsec, hex);
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, endpoint, strlen(endpoint));
  rs_sha256_update(&h, id, n > 0 ? (size_t)n : 0);
  rs_sha256_finish(&h, key);
  rs_sha256_free(&h);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The whole file if it checks out (NUL-terminated, *len without the checksum line), or NULL. */
static char *read_store(const char *dir, size_t *len)
{
  char path[4096];
  if (join(path, sizeof(path), dir, RS_US_FILE) != 0)
    return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *buf = malloc(FILE_MAX + 1);
  size_t n = 0;
  ssize_t r = 1;
  while (buf && n < FILE_MAX && (r = read(fd, buf + n, FILE_MAX - n)) > 0)
    n += (size_t)r;
  close(fd);
  const size_t tail = 9 + 64 + 1; /* "checksum " hex "\n" */
  if (!buf || r < 0 || n >= FILE_MAX || n < sizeof(HEADER) - 1 + tail ||
      memcmp(buf, HEADER, sizeof(HEADER) - 1) != 0 || memcmp(buf + n - tail, "checksum ", 9) != 0 ||
      buf[n - 1] != '\n') {
    free(buf);
    return NULL;
  }
  uint8_t want[32], got[32];
  rs_sha256_digest(buf, n - tail, got);
  if (rs_sha256_hex_parse(buf + n - tail + 9, 64, want) != 0 || memcmp(want, got, 32) != 0) {
    free(buf);
    return NULL;
  }
  *len = n - tail;
  buf[*len] = '\0';
  return buf;
}

static int url_ok(const char *u, size_t len)
{
  if (len == 0 || len > RS_TUS_URL_MAX ||
      (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0))
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
      return 0;
  return 1;
}

/* Iterate the entry lines of a checked buffer: *line, its length; 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
{
  if (*pos >= len)
    return 0;
  const char *p = buf + *pos, *nl = memchr(p, '\n', len - *pos);
  if (!nl)
    return 0;
  *line = p;
  *llen = (size_t)(nl - p);
  *pos += *llen + 1;
  return 1;
}

size_t rs_us_lookup(const char *dir, const uint8_t key[32], char (*urls)[RS_TUS_URL_MAX + 1],
                    size_t max)
{
  size_t len = 0, pos = sizeof(HEADER) - 1, llen;
  char *buf = read_store(dir, &len);
  const char *line;
  char hex[65];
  size_t found = 0;
  rs_sha256_hex_format(key, hex);
  while (buf && !found && next_line(buf, len, &pos, &line, &llen)) {
    if (llen < 67 || memcmp(line, hex, 64) != 0 || line[64] != ' ')
      continue;
    char *end = NULL;
    unsigned long n = strtoul(line + 65, &end, 10);
    if (n == 0 || n > RS_US_MAX_URLS || n > max || end == line + 65)
      break;
    const char *p = end, *stop = line + llen;
    for (size_t i = 0; i < n; i++) {
      if (p >= stop || *p != ' ')
        return free(buf), 0;
      p++;
      size_t ul = strcspn(p, " \n");
      if (p + ul > stop || !url_ok(p, ul))
        return free(buf), 0;
      memcpy(urls[i], p, ul);
      urls[i][ul] = '\0';
      p += ul;
    }
    if (p == stop)
      found = n;
  }
  free(buf);
  return found;
}

static int make_dirs(const char *dir)
{
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(path))
    return EINVAL;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char c = path[i];
    path[i] = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
      return errno;
    path[i] = c;
  }
  return 0;
}

/* Write buf as the store, atomically. */
static int replace(const char *dir, const char *buf, size_t len)
{
  char path[4096], tmp[4096];
  int err = make_dirs(dir);
  if (err)
    return err;
  if (join(path, sizeof(path), dir, RS_US_FILE) != 0)
    return ENAMETOOLONG;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%ld", path, (long)getpid(), (long)ts.tv_nsec);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return ENAMETOOLONG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  for (size_t done = 0; done < len;) {
    ssize_t w = write(fd, buf + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    done += (size_t)w;
  }
  if (!err && fsync(fd) != 0)
    err = errno;
  close(fd);
  if (!err && rename(tmp, path) != 0)
    err = errno;
  if (err) {
    unlink(tmp);
    return err;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

/* The new file: HEADER, `first` (may be ""), the old entries but `key`'s (at most `keep`), the
 * checksum. */
static int rewrite(const char *dir, const uint8_t key[32], const char *first, size_t keep)
{
  size_t old_len = 0, pos = sizeof(HEADER) - 1, llen, kept = 0;
  char *old = read_store(dir, &old_len);
  size_t cap = sizeof(HEADER) + strlen(first) + old_len + 128;
  char *buf = malloc(cap);
  if (!buf) {
    free(old);
    return ENOMEM;
  }
  char hex[65];
  rs_sha256_hex_format(key, hex);
  size_t n = (size_t)snprintf(buf, cap, "%s%s", HEADER, first);
  const char *line;
  while (old && kept < keep && next_line(old, old_len, &pos, &line, &llen)) {
    if (llen >= 64 && memcmp(line, hex, 64) == 0)
      continue;
    memcpy(buf + n, line, llen);
    n += llen;
    buf[n++] = '\n';
    kept++;
  }
  free(old);
  uint8_t d[32];
  rs_sha256_digest(buf, n, d);
  rs_sha256_hex_format(d, hex);
  n += (size_t)snprintf(buf + n, cap - n, "checksum %s\n", hex);
  int err = replace(dir, buf, n);
  free(buf);
  return err;
}

int rs_us_store(const char *dir, const uint8_t key[32], const char *const *urls, size_t n)
{
  if (n == 0 || n > RS_US_MAX_URLS)
    return EINVAL;
  char *line = malloc(80 + n * (RS_TUS_URL_MAX + 1));
  if (!line)
    return ENOMEM;
  char hex[65];
  rs_sha256_hex_format(key, hex);
  size_t len = (size_t)sprintf(line, "%s %zu", hex, n);
  for (size_t i = 0; i < n; i++) {
    size_t ul = strlen(urls[i]);
    if (!url_ok(urls[i], ul)) {
      free(line);
      return EINVAL;
    }
    line[len++] = ' ';
    memcpy(line + len, urls[i], ul);
    len += ul;
  }
  line[len++] = '\n';
  line[len] = '\0';
  int err = rewrite(dir, key, line, RS_US_MAX_ENTRIES - 1);
  free(line);
  return err;
}

int rs_us_remove(const char *dir, const uint8_t key[32])
{
  size_t len = 0;
  char *old = read_store(dir, &len);
  if (!old)
    return 0;
  char hex[65];
  rs_sha256_hex_format(key, hex);
  int present = strstr(old, hex) != NULL;
  free(old);
  return present ? rewrite(dir, key, "", RS_US_MAX_ENTRIES) : 0;
}
