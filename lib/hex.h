/* SHA-256 digests as lower-case hex. */
#ifndef RESUMABLE_HEX_H
#define RESUMABLE_HEX_H

#include <stddef.h>
#include <stdint.h>

#define RS_SHA256_HEX_LEN 64

/* The value 0..15 of one ASCII hex digit (either case), or -1. ASCII only on purpose:
 * isxdigit() depends on the locale. Pure. */
int rs_hex_digit(unsigned char c);

/* Parse exactly 64 hex digits (either case) of a `len`-byte string into 32 bytes.
 * Returns 0, or -1 if len != 64 or any byte is not a hex digit (out untouched). Pure. */
int rs_sha256_hex_parse(const char *s, size_t len, uint8_t out[32]);

/* Write 64 lower-case hex digits and a NUL into out. Pure. */
void rs_sha256_hex_format(const uint8_t digest[32], char out[RS_SHA256_HEX_LEN + 1]);

#endif
