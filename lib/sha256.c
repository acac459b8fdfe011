/* Running SHA-256 on mbedTLS 2.28, with a portable export format.
 *
 * Export format (version 1), independent of any implementation's struct layout:
 *   8 bytes  magic "RS256v1\0"
 *   8 bytes  number of bytes hashed so far, unsigned big-endian
 *  32 bytes  the eight 32-bit chaining words, big-endian
 *   n bytes  the buffered tail: the last (count % 64) bytes not yet compressed
 * so its length is exactly 48 + count % 64 (at most 111). */
#include "sha256.h"

#include <assert.h>
#include <stdalign.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((rs_sha256 *)0)->opaque),
              "mbedtls_sha256_context must fit in rs_sha256");
static_assert(alignof(mbedtls_sha256_context) <= 16, "rs_sha256 is 16-byte aligned");

#define EXPORT_MAGIC "RS256v1"
#define EXPORT_MAGIC_LEN 8 /* includes the NUL */
#define EXPORT_HEAD_LEN (EXPORT_MAGIC_LEN + 8 + 32)
/* SHA-256 counts bits in 64 bits: at most 2^61 - 1 bytes can be hashed. */
#define MAX_COUNT ((UINT64_C(1) << 61) - 1)

static_assert(EXPORT_HEAD_LEN + 63 <= RS_SHA256_STATE_MAX, "export fits RS_SHA256_STATE_MAX");

static mbedtls_sha256_context *ctx_of(rs_sha256 *h)
{
  return (mbedtls_sha256_context *)(void *)h->opaque;
}

static const mbedtls_sha256_context *cctx_of(const rs_sha256 *h)
{
  return (const mbedtls_sha256_context *)(const void *)h->opaque;
}

void rs_sha256_init(rs_sha256 *h)
{
  mbedtls_sha256_init(ctx_of(h));
  /* Cannot fail for SHA-256 without an alternative implementation. */
  (void)mbedtls_sha256_starts_ret(ctx_of(h), 0);
}

void rs_sha256_update(rs_sha256 *h, const void *data, size_t len)
{
  if (len == 0)
    return;
  (void)mbedtls_sha256_update_ret(ctx_of(h), data, len);
}

void rs_sha256_finish(rs_sha256 *h, uint8_t digest[32])
{
  (void)mbedtls_sha256_finish_ret(ctx_of(h), digest);
}

void rs_sha256_free(rs_sha256 *h)
{
  if (h == NULL)
    return;
  mbedtls_platform_zeroize(h->opaque, sizeof(h->opaque));
}

uint64_t rs_sha256_length(const rs_sha256 *h)
{
  const mbedtls_sha256_context *c = cctx_of(h);
  return ((uint64_t)c->total[1] << 32) | c->total[0];
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

size_t rs_sha256_export(const rs_sha256 *h, uint8_t *buf, size_t cap)
{
  const mbedtls_sha256_context *c = cctx_of(h);
  uint64_t count = rs_sha256_length(h);
  size_t tail = (size_t)(count % 64);
  size_t len = EXPORT_HEAD_LEN + tail;
  if (buf == NULL || cap < len)
    return 0;
  memcpy(buf, EXPORT_MAGIC, EXPORT_MAGIC_LEN);
  put_be(buf + EXPORT_MAGIC_LEN, count, 8);
  for (int i = 0; i < 8; i++)
    put_be(buf + EXPORT_MAGIC_LEN + 8 + 4 * i, c->state[i], 4);
  memcpy(buf + EXPORT_HEAD_LEN, c->buffer, tail);
  return len;
}

int rs_sha256_import(rs_sha256 *h, const uint8_t *buf, size_t len)
{
  rs_sha256_init(h);
  if (buf == NULL || len < EXPORT_HEAD_LEN || memcmp(buf, EXPORT_MAGIC, EXPORT_MAGIC_LEN) != 0)
    return -1;
  uint64_t count = get_be(buf + EXPORT_MAGIC_LEN, 8);
  if (count > MAX_COUNT || len != EXPORT_HEAD_LEN + (size_t)(count % 64))
    return -1;
  mbedtls_sha256_context *c = ctx_of(h);
  c->total[0] = (uint32_t)(count & 0xffffffffu);
  c->total[1] = (uint32_t)(count >> 32);
  for (int i = 0; i < 8; i++)
    c->state[i] = (uint32_t)get_be(buf + EXPORT_MAGIC_LEN + 8 + 4 * i, 4);
  memcpy(c->buffer, buf + EXPORT_HEAD_LEN, (size_t)(count % 64));
  c->is224 = 0;
  return 0;
}

void rs_sha256_digest(const void *data, size_t len, uint8_t digest[32])
{
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, data, len);
  rs_sha256_finish(&h, digest);
  rs_sha256_free(&h);
}
