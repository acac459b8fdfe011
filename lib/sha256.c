/* Running SHA-256: our own state (chaining words, byte count, partial block) around a block
 * function chosen at run time (sha256_dispatch.c), with a portable export format.
 *
 * Export format (version 1), independent of any implementation:
 *   8 bytes  magic "RS256v1\0"
 *   8 bytes  number of bytes hashed so far, unsigned big-endian
 *  32 bytes  the eight 32-bit chaining words, big-endian
 *   n bytes  the buffered tail: the last (count % 64) bytes not yet compressed
 * so its length is exactly 48 + count % 64 (at most 111). */
#include "sha256_impl.h"

#include <assert.h>
#include <stdalign.h>
#include <string.h>

#include <mbedtls/platform_util.h>

static_assert(sizeof(rs_sha256_state) <= sizeof(((rs_sha256 *)0)->opaque),
              "rs_sha256_state must fit in rs_sha256");
static_assert(alignof(rs_sha256_state) <= 16, "rs_sha256 is 16-byte aligned");

#define EXPORT_MAGIC "RS256v1"
#define EXPORT_MAGIC_LEN 8 /* includes the NUL */
#define EXPORT_HEAD_LEN (EXPORT_MAGIC_LEN + 8 + 32)
/* SHA-256 counts bits in 64 bits: at most 2^61 - 1 bytes can be hashed. */
#define MAX_COUNT ((UINT64_C(1) << 61) - 1)

static_assert(EXPORT_HEAD_LEN + 63 <= RS_SHA256_STATE_MAX, "export fits RS_SHA256_STATE_MAX");

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static rs_sha256_state *st_of(rs_sha256 *h)
{
  return (rs_sha256_state *)(void *)h->opaque;
}

static const rs_sha256_state *cst_of(const rs_sha256 *h)
{
  return (const rs_sha256_state *)(const void *)h->opaque;
}

void rs_sha256_init(rs_sha256 *h)
{
  memset(h->opaque, 0, sizeof(h->opaque));
  memcpy(st_of(h)->h, H0, sizeof(H0));
}

/* Top s's partial block up from p (at most len bytes), compressing it once full. Returns the
 * bytes taken: after it, s is block-aligned unless all len bytes were taken. */
static size_t top_up(rs_sha256_state *s, rs_sha256_compress_fn *compress, const uint8_t *p,
                     size_t len)
{
  size_t fill = (size_t)(s->count % 64);
  if (fill == 0)
    return 0;
  size_t take = 64 - fill < len ? 64 - fill : len;
  memcpy(s->buf + fill, p, take);
  s->count += take;
  if (fill + take == 64)
    compress(s->h, s->buf, 1);
  return take;
}

/* Keep the last len % 64 bytes (s block-aligned, the whole blocks before them compressed). */
static void keep_tail(rs_sha256_state *s, const uint8_t *p, size_t len)
{
  memcpy(s->buf, p + len / 64 * 64, len % 64);
  s->count += len;
}

void rs_sha256_update(rs_sha256 *h, const void *data, size_t len)
{
  if (len == 0)
    return;
  rs_sha256_state *s = st_of(h);
  rs_sha256_compress_fn *compress = rs_sha256_compress_active();
  const uint8_t *p = data;
  size_t took = top_up(s, compress, p, len);
  if (s->count % 64 != 0)
    return; /* all taken into the partial block */
  p += took;
  len -= took;
  if (len >= 64)
    compress(s->h, p, len / 64);
  keep_tail(s, p, len);
}

/* Both states block-aligned after their top-ups: their whole blocks run side by side (from
 * different offsets of data when their fills differed), then at most one block more for the
 * one whose top-up took fewer bytes. */
void rs_sha256_update2(rs_sha256 *a, rs_sha256 *b, const void *data, size_t len)
{
  if (len == 0)
    return;
  rs_sha256_state *sa = st_of(a), *sb = st_of(b);
  const rs_sha256_impl *impl = rs_sha256_impl_active();
  const uint8_t *p = data;
  size_t ta = top_up(sa, impl->compress, p, len), tb = top_up(sb, impl->compress, p, len);
  int a_open = sa->count % 64 != 0, b_open = sb->count % 64 != 0;
  if (a_open || b_open) { /* one state's partial block took everything */
    if (!a_open)
      rs_sha256_update(a, p + ta, len - ta);
    if (!b_open)
      rs_sha256_update(b, p + tb, len - tb);
    return;
  }
  const uint8_t *pa = p + ta, *pb = p + tb;
  size_t la = len - ta, lb = len - tb;
  size_t na = la / 64, nb = lb / 64, n = na < nb ? na : nb;
  impl->compress2(sa->h, pa, sb->h, pb, n);
  if (na > n)
    impl->compress(sa->h, pa + 64 * n, na - n);
  if (nb > n)
    impl->compress(sb->h, pb + 64 * n, nb - n);
  keep_tail(sa, pa, la);
  keep_tail(sb, pb, lb);
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

void rs_sha256_finish(rs_sha256 *h, uint8_t digest[32])
{
  rs_sha256_state *s = st_of(h);
  rs_sha256_compress_fn *compress = rs_sha256_compress_active();
  size_t fill = (size_t)(s->count % 64);
  s->buf[fill++] = 0x80;
  if (fill > 56) {
    memset(s->buf + fill, 0, 64 - fill);
    compress(s->h, s->buf, 1);
    fill = 0;
  }
  memset(s->buf + fill, 0, 56 - fill);
  put_be(s->buf + 56, s->count << 3, 8);
  compress(s->h, s->buf, 1);
  for (int i = 0; i < 8; i++)
    put_be(digest + 4 * i, s->h[i], 4);
}

void rs_sha256_free(rs_sha256 *h)
{
  if (h == NULL)
    return;
  mbedtls_platform_zeroize(h->opaque, sizeof(h->opaque));
}

uint64_t rs_sha256_length(const rs_sha256 *h)
{
  return cst_of(h)->count;
}

size_t rs_sha256_export(const rs_sha256 *h, uint8_t *buf, size_t cap)
{
  const rs_sha256_state *s = cst_of(h);
  size_t tail = (size_t)(s->count % 64);
  size_t len = EXPORT_HEAD_LEN + tail;
  if (buf == NULL || cap < len)
    return 0;
  memcpy(buf, EXPORT_MAGIC, EXPORT_MAGIC_LEN);
  put_be(buf + EXPORT_MAGIC_LEN, s->count, 8);
  for (int i = 0; i < 8; i++)
    put_be(buf + EXPORT_MAGIC_LEN + 8 + 4 * i, s->h[i], 4);
  memcpy(buf + EXPORT_HEAD_LEN, s->buf, tail);
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
  rs_sha256_state *s = st_of(h);
  s->count = count;
  for (int i = 0; i < 8; i++)
    s->h[i] = (uint32_t)get_be(buf + EXPORT_MAGIC_LEN + 8 + 4 * i, 4);
  memcpy(s->buf, buf + EXPORT_HEAD_LEN, (size_t)(count % 64));
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
