/* The hash cache's file format (see hash_cache.h): explicit little-endian fields, so a cache
 * written by one build reads the same in another, and a checksum, so a torn or foreign file is
 * never trusted. */
#include <string.h>

#include "hash_cache.h"
#include "sha256.h"

static const char magic[8] = {'R', 'S', 'H', 'C', 'A', 'C', 'H', 'E'};

static void put_u32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static uint64_t get_u64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Two's complement both ways, without implementation-defined conversions. */
static uint64_t from_i64(int64_t v)
{
  return v < 0 ? ~(uint64_t)(-(v + 1)) : (uint64_t)v;
}

static int64_t to_i64(uint64_t v)
{
  return v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
}

size_t rs_hc_file_size(size_t n)
{
  return RS_HC_HEADER + n * RS_HC_RECORD + RS_HC_TRAILER;
}

int rs_hc_check(const uint8_t *buf, size_t len, size_t *count)
{
  if (len < rs_hc_file_size(0) || memcmp(buf, magic, sizeof magic) != 0 ||
      get_u32(buf + 8) != RS_HC_VERSION)
    return -1;
  uint32_t n = get_u32(buf + 12);
  if (n > RS_HC_LIMIT || len != rs_hc_file_size(n))
    return -1;
  uint8_t sum[32];
  rs_sha256_digest(buf, len - RS_HC_TRAILER, sum);
  if (memcmp(sum, buf + len - RS_HC_TRAILER, sizeof sum) != 0)
    return -1;
  *count = n;
  return 0;
}

void rs_hc_record_get(const uint8_t *buf, size_t i, rs_hc_key *k, uint8_t sha[32])
{
  const uint8_t *r = buf + RS_HC_HEADER + i * RS_HC_RECORD;
  k->dev = get_u64(r);
  k->ino = get_u64(r + 8);
  k->size = get_u64(r + 16);
  k->mtime_sec = to_i64(get_u64(r + 24));
  k->mtime_nsec = get_u32(r + 32);
  k->ctime_nsec = get_u32(r + 36);
  k->ctime_sec = to_i64(get_u64(r + 40));
  memcpy(sha, r + 56, 32);
}

void rs_hc_record_put(uint8_t *r, const rs_hc_key *k, const uint8_t sha[32], uint64_t stored_at)
{
  put_u64(r, k->dev);
  put_u64(r + 8, k->ino);
  put_u64(r + 16, k->size);
  put_u64(r + 24, from_i64(k->mtime_sec));
  put_u32(r + 32, k->mtime_nsec);
  put_u32(r + 36, k->ctime_nsec);
  put_u64(r + 40, from_i64(k->ctime_sec));
  put_u64(r + 48, stored_at);
  memcpy(r + 56, sha, 32);
}

void rs_hc_seal(uint8_t *buf, size_t count)
{
  memcpy(buf, magic, sizeof magic);
  put_u32(buf + 8, RS_HC_VERSION);
  put_u32(buf + 12, (uint32_t)count);
  size_t body = rs_hc_file_size(count) - RS_HC_TRAILER;
  rs_sha256_digest(buf, body, buf + body);
}
