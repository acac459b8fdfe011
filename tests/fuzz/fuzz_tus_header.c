/* Fuzz the tus header parsers (lib/tus_header.h) on arbitrary bytes; the first byte picks the
 * parser. Invariants: base64 round-trips; a checked Upload-Metadata can be searched; a parsed
 * Upload-Checksum has its algorithm's digest length; a final Upload-Concat lists at least one
 * URL without blanks; a key made from bytes encodes and decodes back to itself. Buffers are
 * exactly sized so ASan catches a write past them. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "key.h"
#include "tus_header.h"

static void base64(const char *s, size_t n)
{
  uint8_t *dec = malloc(n + 1);
  size_t len = 0;
  if (rs_base64_decode(s, n, dec, n + 1, &len) == 0) {
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *enc = malloc(cap);
    FUZZ_CHECK(rs_base64_encode(dec, len, enc, cap) == (int)cap - 1);
    uint8_t *again = malloc(len + 1);
    size_t len2 = 0;
    FUZZ_CHECK(rs_base64_decode(enc, cap - 1, again, len + 1, &len2) == 0);
    FUZZ_CHECK(len2 == len && memcmp(again, dec, len) == 0);
    free(again);
    free(enc);
  }
  free(dec);
}

static void metadata(const char *s, size_t n)
{
  static const char *const names[] = {"filename", "key", "a", "type"};
  if (rs_tus_metadata_check(s, n) != 0)
    return;
  for (size_t i = 0; i < 4; i++) {
    uint8_t out[64];
    size_t len = 99;
    int r = rs_tus_metadata_get(s, n, names[i], out, sizeof(out), &len);
    FUZZ_CHECK(r == 0 || r == -1 || (r == 1 && len <= sizeof(out)));
  }
}

static void checksum(const char *s, size_t n)
{
  rs_tus_algo a = RS_TUS_ALGO_NONE;
  uint8_t d[32];
  int r = rs_tus_checksum_parse(s, n, &a, d);
  FUZZ_CHECK(r == 0 || r == -1 || r == -2);
  if (r == 0)
    FUZZ_CHECK(rs_tus_algo_len(a) > 0);
}

static void concat(const char *s, size_t n)
{
  const char *urls = NULL, *u;
  size_t ul = 0, pos = 0, len, count = 0;
  if (rs_tus_concat_parse(s, n, &urls, &ul) != RS_TUS_CONCAT_FINAL)
    return;
  while (rs_tus_concat_next(urls, ul, &pos, &u, &len)) {
    FUZZ_CHECK(len > 0 && memchr(u, ' ', len) == NULL && u >= urls && u + len <= urls + ul);
    char key[RS_TUS_PART_KEY_LEN + 1];
    if (rs_tus_part_url(u, len, "/v1/files/", 10, key) == 0)
      FUZZ_CHECK(strlen(key) == RS_TUS_PART_KEY_LEN);
    count++;
  }
  FUZZ_CHECK(count > 0);
}

static void key(const char *s, size_t n)
{
  char *out = malloc(RS_KEY_MAX + 1);
  if (rs_tus_key_from_bytes((const uint8_t *)s, n, out, RS_KEY_MAX + 1) == RS_KEY_OK) {
    FUZZ_CHECK(strlen(out) == n && memcmp(out, s, n) == 0);
    size_t cap = 3 * n + 1;
    char *enc = malloc(cap);
    int k = rs_tus_key_encode(out, enc, cap);
    FUZZ_CHECK(k >= 0);
    char *back = malloc(RS_KEY_MAX + 1);
    FUZZ_CHECK(rs_key_decode(enc, (size_t)k, back, RS_KEY_MAX + 1) == RS_KEY_OK);
    FUZZ_CHECK(strcmp(back, out) == 0);
    free(back);
    free(enc);
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  /* an exactly sized copy: a read past the input is caught */
  char *s = malloc(size - 1 ? size - 1 : 1);
  memcpy(s, data + 1, size - 1);
  size_t n = size - 1;
  switch (data[0] % 6) {
  case 0:
    base64(s, n);
    break;
  case 1:
    metadata(s, n);
    break;
  case 2:
    checksum(s, n);
    break;
  case 3:
    concat(s, n);
    break;
  case 4:
    key(s, n);
    break;
  default: {
    int64_t t = 0;
    memcpy(&t, data, size < sizeof(t) ? size : sizeof(t));
    char d[RS_HTTP_DATE_LEN + 1];
    if (rs_http_date(t, d) == 0)
      FUZZ_CHECK(strlen(d) == RS_HTTP_DATE_LEN);
    FUZZ_CHECK(rs_tus_content_type_ok(s, n) == 0 || n >= 31);
  }
  }
  free(s);
  return 0;
}
