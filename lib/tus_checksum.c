/* Per-request checksums (tus "checksum" extension). Debian 12 ships mbedTLS 2.28, whose
 * non-deprecated calls carry a _ret suffix; 3.x dropped the suffix. */
#include "tus_checksum.h"

#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define sha1_starts mbedtls_sha1_starts
#define sha1_update mbedtls_sha1_update
#define sha1_finish mbedtls_sha1_finish
#define md5_starts mbedtls_md5_starts
#define md5_update mbedtls_md5_update
#define md5_finish mbedtls_md5_finish
#else
#define sha1_starts mbedtls_sha1_starts_ret
#define sha1_update mbedtls_sha1_update_ret
#define sha1_finish mbedtls_sha1_finish_ret
#define md5_starts mbedtls_md5_starts_ret
#define md5_update mbedtls_md5_update_ret
#define md5_finish mbedtls_md5_finish_ret
#endif

void rs_tus_checksum_start(rs_tus_checksum *c, rs_tus_algo algo, const uint8_t want[32])
{
  memset(c, 0, sizeof(*c));
  c->algo = algo;
  if (algo == RS_TUS_ALGO_NONE)
    return;
  memcpy(c->want, want, rs_tus_algo_len(algo));
  switch (algo) {
  case RS_TUS_ALGO_SHA1:
    mbedtls_sha1_init(&c->u.sha1);
    (void)sha1_starts(&c->u.sha1);
    break;
  case RS_TUS_ALGO_MD5:
    mbedtls_md5_init(&c->u.md5);
    (void)md5_starts(&c->u.md5);
    break;
  default:
    rs_sha256_init(&c->u.sha256);
    break;
  }
}

void rs_tus_checksum_update(rs_tus_checksum *c, const void *data, size_t len)
{
  switch (c->algo) {
  case RS_TUS_ALGO_SHA1:
    (void)sha1_update(&c->u.sha1, data, len);
    break;
  case RS_TUS_ALGO_MD5:
    (void)md5_update(&c->u.md5, data, len);
    break;
  case RS_TUS_ALGO_SHA256:
    rs_sha256_update(&c->u.sha256, data, len);
    break;
  default:
    break;
  }
}

size_t rs_tus_checksum_finish(rs_tus_checksum *c, uint8_t out[32])
{
  size_t n = rs_tus_algo_len(c->algo);
  switch (c->algo) {
  case RS_TUS_ALGO_SHA1:
    (void)sha1_finish(&c->u.sha1, out);
    break;
  case RS_TUS_ALGO_MD5:
    (void)md5_finish(&c->u.md5, out);
    break;
  case RS_TUS_ALGO_SHA256:
    rs_sha256_finish(&c->u.sha256, out);
    break;
  default:
    break;
  }
  rs_tus_checksum_free(c);
  return n;
}

int rs_tus_checksum_matches(rs_tus_checksum *c)
{
  uint8_t got[32], want[32];
  memcpy(want, c->want, sizeof(want));
  size_t n = rs_tus_checksum_finish(c, got);
  return n > 0 && memcmp(got, want, n) == 0;
}

void rs_tus_checksum_free(rs_tus_checksum *c)
{
  switch (c->algo) {
  case RS_TUS_ALGO_SHA1:
    mbedtls_sha1_free(&c->u.sha1);
    break;
  case RS_TUS_ALGO_MD5:
    mbedtls_md5_free(&c->u.md5);
    break;
  case RS_TUS_ALGO_SHA256:
    rs_sha256_free(&c->u.sha256);
    break;
  default:
    break;
  }
  mbedtls_platform_zeroize(c, sizeof(*c));
}
