/* The portable SHA-256 block function (FIPS 180-4, section 6.2.2), in plain C on our own chaining
 * words: no library's internals, so it builds the same against any mbedTLS (2.28 or 3.x). */
#include "sha256_impl.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, unsigned n)
{
  return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#define BSIG0(x) (rotr((x), 2) ^ rotr((x), 13) ^ rotr((x), 22))
#define BSIG1(x) (rotr((x), 6) ^ rotr((x), 11) ^ rotr((x), 25))
#define SSIG0(x) (rotr((x), 7) ^ rotr((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr((x), 17) ^ rotr((x), 19) ^ ((x) >> 10))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))

/* One round with the working variables renamed instead of shifted: eight rounds in a row, each
 * with the names rotated by one, leave them in place (no moves between rounds). */
#define ROUND(a, b, c, d, e, f, g, h, t)                                \
  do {                                                                  \
    uint32_t t1 = (h) + BSIG1(e) + CH((e), (f), (g)) + K[(t)] + w[(t)]; \
    (d) += t1;                                                          \
    (h) = t1 + BSIG0(a) + MAJ((a), (b), (c));                           \
  } while (0)

void rs_sha256_compress_portable(uint32_t h[8], const uint8_t *blocks, size_t nblocks)
{
  for (size_t blk = 0; blk < nblocks; blk++) {
    const uint8_t *m = blocks + 64 * blk;
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
      w[t] = load_be32(m + 4 * t);
    for (int t = 16; t < 64; t++)
      w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t += 8) {
      ROUND(a, b, c, d, e, f, g, hh, t);
      ROUND(hh, a, b, c, d, e, f, g, t + 1);
      ROUND(g, hh, a, b, c, d, e, f, t + 2);
      ROUND(f, g, hh, a, b, c, d, e, t + 3);
      ROUND(e, f, g, hh, a, b, c, d, t + 4);
      ROUND(d, e, f, g, hh, a, b, c, t + 5);
      ROUND(c, d, e, f, g, hh, a, b, t + 6);
      ROUND(b, c, d, e, f, g, hh, a, t + 7);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
}

void rs_sha256_compress2_portable(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8],
                                  const uint8_t *pb, size_t nblocks)
{
  for (size_t i = 0; i < nblocks; i++) {
    rs_sha256_compress_portable(ha, pa + 64 * i, 1);
    rs_sha256_compress_portable(hb, pb + 64 * i, 1);
  }
}
