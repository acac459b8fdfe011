/* The portable SHA-256 block function: mbedTLS 2.28's, driven on our own chaining words. */
#include "sha256_impl.h"

#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

void rs_sha256_compress_portable(uint32_t h[8], const uint8_t *blocks, size_t nblocks)
{
  mbedtls_sha256_context c;
  mbedtls_sha256_init(&c);
  memcpy(c.state, h, sizeof(c.state));
  for (size_t i = 0; i < nblocks; i++)
    /* Cannot fail without MBEDTLS_SHA256_ALT, which Debian's build does not set. */
    (void)mbedtls_internal_sha256_process(&c, blocks + 64 * i);
  memcpy(h, c.state, sizeof(c.state));
  mbedtls_platform_zeroize(&c, sizeof(c));
}
