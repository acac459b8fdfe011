/* splitmix64: tiny, fast, and every stream is fixed by its seed. */
#include "tt.h"

uint64_t tt_next(tt_rng *r)
{
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t tt_range(tt_rng *r, uint64_t lo, uint64_t hi)
{
  uint64_t span = hi - lo + 1;
  if (span == 0) /* the whole 64-bit range */
    return tt_next(r);
  return lo + tt_next(r) % span;
}

tt_rng tt_derive(uint64_t seed, uint64_t a, uint64_t b)
{
  tt_rng r = {seed ^ 0x5bd1e9955bd1e995ULL};
  r.s = tt_next(&r) ^ (a * 0xff51afd7ed558ccdULL);
  r.s = tt_next(&r) ^ (b * 0xc4ceb9fe1a85ec53ULL);
  (void)tt_next(&r);
  return r;
}
