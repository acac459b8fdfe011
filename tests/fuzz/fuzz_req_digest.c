/* Fuzz the RFC 9530 Content-Digest parser (lib/req_digest.h) on arbitrary bytes. Invariants: it
 * returns 0 or -1; -1 always names a reason; 0 picks an algorithm it supports or none; a parsed
 * sha-256 digest, written back as the field, parses to the same bytes. The input is an exactly
 * sized copy so ASan catches a read past it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "req_digest.h"
#include "tus_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size ? size : 1);
  memcpy(s, data, size);
  rs_rd_algo a = RS_RD_SHA512;
  uint8_t want[64];
  const char *why = NULL;
  int r = rs_rd_parse(s, size, &a, want, &why);
  FUZZ_CHECK(r == 0 || r == -1);
  if (r == -1)
    FUZZ_CHECK(why != NULL && why[0] != '\0');
  else
    FUZZ_CHECK(a == RS_RD_NONE || a == RS_RD_SHA256 || a == RS_RD_SHA512);
  if (r == 0 && a != RS_RD_NONE) {
    char b64[100], field[128];
    size_t n = rs_rd_algo_len(a);
    FUZZ_CHECK(rs_base64_encode(want, n, b64, sizeof(b64)) > 0);
    int fl =
        snprintf(field, sizeof(field), "%s=:%s:", a == RS_RD_SHA256 ? "sha-256" : "sha-512", b64);
    rs_rd_algo a2 = RS_RD_NONE;
    uint8_t again[64];
    FUZZ_CHECK(rs_rd_parse(field, (size_t)fl, &a2, again, &why) == 0);
    FUZZ_CHECK(a2 == a && memcmp(again, want, n) == 0);
  }
  free(s);
  return 0;
}
