/* A tus Upload-Checksum being computed over one request's body (sha1 and md5 through mbedTLS,
 * sha256 through the library's own SHA-256). */
#ifndef RESUMABLE_TUS_CHECKSUM_H
#define RESUMABLE_TUS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/md5.h>
#include <mbedtls/sha1.h>

#include "sha256.h"
#include "tus_header.h"

typedef struct rs_tus_checksum {
  rs_tus_algo algo; /* NONE: no checksum requested */
  uint8_t want[32];
  union {
    mbedtls_sha1_context sha1;
    mbedtls_md5_context md5;
    rs_sha256 sha256;
  } u;
} rs_tus_checksum;

/* Start computing `algo` (NONE leaves c idle); `want` is the digest the client sent. */
void rs_tus_checksum_start(rs_tus_checksum *c, rs_tus_algo algo, const uint8_t want[32]);
void rs_tus_checksum_update(rs_tus_checksum *c, const void *data, size_t len);
/* Finish into out (rs_tus_algo_len bytes, returned). The context is freed (zeroised). */
size_t rs_tus_checksum_finish(rs_tus_checksum *c, uint8_t out[32]);
/* Finish: 1 if the digest equals the client's, else 0. The context is freed (zeroised). */
int rs_tus_checksum_matches(rs_tus_checksum *c);
/* Free without finishing (no-op when idle). */
void rs_tus_checksum_free(rs_tus_checksum *c);

#endif
