/* SHA-256 digests as hex: parse either case, format lower-case. */
#include "hex.h"

int rs_hex_digit(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int rs_sha256_hex_parse(const char *s, size_t len, uint8_t out[32])
{
  uint8_t tmp[32];

  if (s == NULL || len != RS_SHA256_HEX_LEN)
    return -1;
  for (size_t i = 0; i < 32; i++) {
    int hi = rs_hex_digit((unsigned char)s[2 * i]);
    int lo = rs_hex_digit((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1; /* out stays untouched: we only copy after the whole string checked out */
    tmp[i] = (uint8_t)(hi << 4 | lo);
  }
  for (size_t i = 0; i < 32; i++)
    out[i] = tmp[i];
  return 0;
}

void rs_sha256_hex_format(const uint8_t digest[32], char out[RS_SHA256_HEX_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";

  for (size_t i = 0; i < 32; i++) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 0x0f];
  }
  out[RS_SHA256_HEX_LEN] = '\0';
}
