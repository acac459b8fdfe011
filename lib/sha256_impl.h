/* Inside rs_sha256: the running state every implementation shares, and the one function each
 * implementation supplies (compress whole 64-byte blocks). Because the state is ours, not a
 * library's, a state saved by one path resumes on any other, and switching paths mid-stream is
 * harmless. Nothing outside lib/sha256*.c and its tests includes this header. */
#ifndef RESUMABLE_SHA256_IMPL_H
#define RESUMABLE_SHA256_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* The x86 SHA extensions path is compiled on x86_64 with a GCC-compatible compiler only. */
#if defined(__x86_64__) && defined(__GNUC__)
#define RS_SHA256_HAVE_X86 1
#else
#define RS_SHA256_HAVE_X86 0
#endif

typedef struct rs_sha256_state {
  uint32_t h[8];   /* chaining words a..h */
  uint64_t count;  /* bytes hashed so far */
  uint8_t buf[64]; /* the count % 64 bytes not yet compressed */
} rs_sha256_state;

/* Compress nblocks consecutive 64-byte blocks (any alignment) into h. */
typedef void rs_sha256_compress_fn(uint32_t h[8], const uint8_t *blocks, size_t nblocks);

/* Compress n blocks at `pa` into ha and n blocks at `pb` into hb (the same bytes or not, any
 * alignment): two independent streams, so a path can run their rounds interleaved. */
typedef void rs_sha256_compress2_fn(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8],
                                    const uint8_t *pb, size_t nblocks);

typedef struct rs_sha256_impl {
  const char *name; /* "portable", "sha-ni" */
  rs_sha256_compress_fn *compress;
  rs_sha256_compress2_fn *compress2;
  int (*supported)(void); /* 1 if this CPU can run it */
} rs_sha256_impl;

/* Plain C (FIPS 180-4): runs everywhere, and is the reference the other paths are tested
 * against. */
void rs_sha256_compress_portable(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
/* Block by block, one stream then the other: no gain in C, but each block is read while hot. */
void rs_sha256_compress2_portable(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8],
                                  const uint8_t *pb, size_t nblocks);

#if RS_SHA256_HAVE_X86
/* SHA-NI + SSSE3/SSE4.1; call only when rs_sha256_x86_supported() says 1. */
void rs_sha256_compress_x86(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
/* The two streams' rounds interleaved: two dependency chains keep the SHA unit busy where one
 * leaves it waiting on each sha256rnds2's latency. */
void rs_sha256_compress2_x86(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb,
                             size_t nblocks);
int rs_sha256_x86_supported(void);
#endif

/* The compress function in use. Chosen once, on first use (thread-safe): the fastest path this
 * CPU supports, unless RESUMABLE_SHA256=portable is set in the environment. */
rs_sha256_compress_fn *rs_sha256_compress_active(void);
/* The path in use, whole (its compress and compress2 together). */
const rs_sha256_impl *rs_sha256_impl_active(void);

/* All paths compiled into this build, fastest last; *count receives their number. Entries whose
 * supported() says 0 cannot run on this CPU. */
const rs_sha256_impl *rs_sha256_impls(size_t *count);

/* Name of the path in use: "sha-ni" or "portable". */
const char *rs_sha256_impl_name(void);

/* For tests and diagnosis: use the named path from now on, process-wide (contexts in flight
 * carry on correctly, the state being shared). Returns 0, or -1 if the name is unknown or the
 * CPU cannot run that path (the current choice is then kept). Safe while other threads hash:
 * their contexts simply continue on the new path. */
int rs_sha256_force_impl(const char *name);

#endif
