/* SHA-256 block function on the x86 SHA extensions (SHA-NI), for x86_64.
 *
 * Only these functions carry target("sha,sse4.1,ssse3"), so the rest of the build keeps its
 * flags and this code runs only after rs_sha256_x86_supported() has checked the CPU.
 *
 * The instructions work on the state split in two registers, dwords listed high to low:
 * ABEF = {a, b, e, f} and CDGH = {c, d, g, h}. sha256rnds2 takes CDGH, ABEF and two W+K
 * words (in its low 64 bits), and returns ABEF two rounds later; the old ABEF is then the new
 * CDGH. sha256msg1/msg2 compute the message schedule four words at a time:
 *   W[i..i+3] = msg2(msg1(W[i-16..i-13], W[i-12..i-9]) + W[i-7..i-4], W[i-4..i-1]). */
#include "sha256_impl.h"

#if RS_SHA256_HAVE_X86

#include <cpuid.h>
#include <immintrin.h>

#define RS_X86_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

int rs_sha256_x86_supported(void)
{
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return 0;
  if (!(c & (1u << 19)) || !(c & (1u << 9))) /* SSE4.1, SSSE3 */
    return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return 0;
  return (b & (1u << 29)) != 0; /* SHA */
}

/* Four rounds with message words m (W[i..i+3]) starting at round i. */
static inline RS_X86_TARGET void rounds4(__m128i *abef, __m128i *cdgh, __m128i m, int i)
{
  __m128i wk = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)(const void *)&K[i]));
  __m128i mid = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
  /* Rounds i+2, i+3 take the high two W+K words; the pre-round ABEF is now CDGH. */
  *cdgh = mid;
  *abef = _mm_sha256rnds2_epu32(*abef, mid, _mm_shuffle_epi32(wk, 0x0E));
}

/* W[i..i+3] from w16 = W[i-16..], w12 = W[i-12..], w8 = W[i-8..], w4 = W[i-4..]. */
static inline RS_X86_TARGET __m128i schedule(__m128i w16, __m128i w12, __m128i w8, __m128i w4)
{
  __m128i t = _mm_sha256msg1_epu32(w16, w12);
  t = _mm_add_epi32(t, _mm_alignr_epi8(w4, w8, 4)); /* W[i-7..i-4] */
  return _mm_sha256msg2_epu32(t, w4);
}

/* 16 big-endian message bytes as four 32-bit words. */
static inline RS_X86_TARGET __m128i load_be(const uint8_t *p)
{
  const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), bswap);
}

static RS_X86_TARGET void block(__m128i *abef, __m128i *cdgh, const uint8_t *p)
{
  __m128i m0 = load_be(p), m1 = load_be(p + 16), m2 = load_be(p + 32), m3 = load_be(p + 48);
  rounds4(abef, cdgh, m0, 0);
  rounds4(abef, cdgh, m1, 4);
  rounds4(abef, cdgh, m2, 8);
  rounds4(abef, cdgh, m3, 12);
  for (int i = 16; i < 64; i += 16) {
    m0 = schedule(m0, m1, m2, m3);
    rounds4(abef, cdgh, m0, i);
    m1 = schedule(m1, m2, m3, m0);
    rounds4(abef, cdgh, m1, i + 4);
    m2 = schedule(m2, m3, m0, m1);
    rounds4(abef, cdgh, m2, i + 8);
    m3 = schedule(m3, m0, m1, m2);
    rounds4(abef, cdgh, m3, i + 12);
  }
}

RS_X86_TARGET void rs_sha256_compress_x86(uint32_t h[8], const uint8_t *blocks, size_t nblocks)
{
  /* Loaded and reversed, h[0..3] and h[4..7] read {a b c d} and {e f g h} high to low: their
   * high halves make ABEF, their low halves CDGH. The end undoes this. */
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(void *)h), 0x1B);
  __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(void *)(h + 4)), 0x1B);
  __m128i abef = _mm_unpackhi_epi64(efgh, abcd);
  __m128i cdgh = _mm_unpacklo_epi64(efgh, abcd);
  for (size_t n = 0; n < nblocks; n++) {
    __m128i abef0 = abef, cdgh0 = cdgh;
    block(&abef, &cdgh, blocks + 64 * n);
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
  }
  abcd = _mm_shuffle_epi32(_mm_unpackhi_epi64(cdgh, abef), 0x1B);
  efgh = _mm_shuffle_epi32(_mm_unpacklo_epi64(cdgh, abef), 0x1B);
  _mm_storeu_si128((__m128i *)(void *)h, abcd);
  _mm_storeu_si128((__m128i *)(void *)(h + 4), efgh);
}

/* Two streams, x and y, their rounds interleaved: 4 rounds of x, 4 of y, each chain waiting on
 * its own sha256rnds2 while the other's runs. `same`: one message for both (q == p), so its
 * schedule is computed once. */
typedef struct lane {
  __m128i abef, cdgh;
} lane;

static inline RS_X86_TARGET void rounds4x2(lane *x, lane *y, __m128i mx, __m128i my, int i)
{
  rounds4(&x->abef, &x->cdgh, mx, i);
  rounds4(&y->abef, &y->cdgh, my, i);
}

static RS_X86_TARGET void block2_same(lane *x, lane *y, const uint8_t *p)
{
  __m128i m0 = load_be(p), m1 = load_be(p + 16), m2 = load_be(p + 32), m3 = load_be(p + 48);
  rounds4x2(x, y, m0, m0, 0);
  rounds4x2(x, y, m1, m1, 4);
  rounds4x2(x, y, m2, m2, 8);
  rounds4x2(x, y, m3, m3, 12);
  for (int i = 16; i < 64; i += 16) {
    m0 = schedule(m0, m1, m2, m3);
    rounds4x2(x, y, m0, m0, i);
    m1 = schedule(m1, m2, m3, m0);
    rounds4x2(x, y, m1, m1, i + 4);
    m2 = schedule(m2, m3, m0, m1);
    rounds4x2(x, y, m2, m2, i + 8);
    m3 = schedule(m3, m0, m1, m2);
    rounds4x2(x, y, m3, m3, i + 12);
  }
}

static RS_X86_TARGET void block2(lane *x, const uint8_t *p, lane *y, const uint8_t *q)
{
  __m128i m0 = load_be(p), m1 = load_be(p + 16), m2 = load_be(p + 32), m3 = load_be(p + 48);
  __m128i n0 = load_be(q), n1 = load_be(q + 16), n2 = load_be(q + 32), n3 = load_be(q + 48);
  rounds4x2(x, y, m0, n0, 0);
  rounds4x2(x, y, m1, n1, 4);
  rounds4x2(x, y, m2, n2, 8);
  rounds4x2(x, y, m3, n3, 12);
  for (int i = 16; i < 64; i += 16) {
    m0 = schedule(m0, m1, m2, m3);
    n0 = schedule(n0, n1, n2, n3);
    rounds4x2(x, y, m0, n0, i);
    m1 = schedule(m1, m2, m3, m0);
    n1 = schedule(n1, n2, n3, n0);
    rounds4x2(x, y, m1, n1, i + 4);
    m2 = schedule(m2, m3, m0, m1);
    n2 = schedule(n2, n3, n0, n1);
    rounds4x2(x, y, m2, n2, i + 8);
    m3 = schedule(m3, m0, m1, m2);
    n3 = schedule(n3, n0, n1, n2);
    rounds4x2(x, y, m3, n3, i + 12);
  }
}

/* h[0..7] to the ABEF/CDGH register pair (see rs_sha256_compress_x86), and back. */
static inline RS_X86_TARGET lane lane_load(const uint32_t h[8])
{
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1B);
  __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(h + 4)), 0x1B);
  return (lane){_mm_unpackhi_epi64(efgh, abcd), _mm_unpacklo_epi64(efgh, abcd)};
}

static inline RS_X86_TARGET void lane_store(const lane *l, uint32_t h[8])
{
  __m128i abcd = _mm_shuffle_epi32(_mm_unpackhi_epi64(l->cdgh, l->abef), 0x1B);
  __m128i efgh = _mm_shuffle_epi32(_mm_unpacklo_epi64(l->cdgh, l->abef), 0x1B);
  _mm_storeu_si128((__m128i *)(void *)h, abcd);
  _mm_storeu_si128((__m128i *)(void *)(h + 4), efgh);
}

static inline RS_X86_TARGET void lane_add(lane *l, const lane *before)
{
  l->abef = _mm_add_epi32(l->abef, before->abef);
  l->cdgh = _mm_add_epi32(l->cdgh, before->cdgh);
}

RS_X86_TARGET void rs_sha256_compress2_x86(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8],
                                           const uint8_t *pb, size_t nblocks)
{
  lane x = lane_load(ha), y = lane_load(hb);
  for (size_t n = 0; n < nblocks; n++) {
    lane x0 = x, y0 = y;
    if (pa == pb)
      block2_same(&x, &y, pa + 64 * n);
    else
      block2(&x, pa + 64 * n, &y, pb + 64 * n);
    lane_add(&x, &x0);
    lane_add(&y, &y0);
  }
  lane_store(&x, ha);
  lane_store(&y, hb);
}

#else
typedef int rs_sha256_x86_not_built; /* ISO C forbids an empty translation unit */
#endif
