/* Running SHA-256 behind one small interface (our own block functions, sha256_impl.h), with an
 * exportable state so a partial upload can be resumed after a restart without re-reading its
 * prefix. */
#ifndef RESUMABLE_SHA256_H
#define RESUMABLE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Holds rs_sha256_state (104 bytes: chaining words, count, partial block; sha256.c asserts it
 * fits); opaque to callers. */
typedef struct rs_sha256 {
  _Alignas(16) unsigned char opaque[112];
} rs_sha256;

void rs_sha256_init(rs_sha256 *h);
void rs_sha256_update(rs_sha256 *h, const void *data, size_t len);
/* rs_sha256_update(a, ...) and rs_sha256_update(b, ...) of the same bytes in one pass, the two
 * states at any fill (a and b must differ). On SHA-NI their rounds run interleaved: two
 * independent chains cost little more than one. */
void rs_sha256_update2(rs_sha256 *a, rs_sha256 *b, const void *data, size_t len);
/* Writes the digest; the context must be re-initialised before further use. */
void rs_sha256_finish(rs_sha256 *h, uint8_t digest[32]);
/* Zeroise. */
void rs_sha256_free(rs_sha256 *h);

/* Number of bytes hashed so far. */
uint64_t rs_sha256_length(const rs_sha256 *h);

/* Serialise the running state into buf (a versioned, portable format, at most
 * RS_SHA256_STATE_MAX bytes). Returns the length written, or 0 if cap is too small. */
#define RS_SHA256_STATE_MAX 128
size_t rs_sha256_export(const rs_sha256 *h, uint8_t *buf, size_t cap);
/* Restore a state written by rs_sha256_export. Returns 0, or -1 if buf is malformed (h is then
 * freshly initialised). */
int rs_sha256_import(rs_sha256 *h, const uint8_t *buf, size_t len);

/* One-shot digest. */
void rs_sha256_digest(const void *data, size_t len, uint8_t digest[32]);

#endif
