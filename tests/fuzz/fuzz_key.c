/* Fuzz rs_key_decode (lib/key.h) on arbitrary raw paths.
 *
 * A reference decoder and validator written here from PROTOCOL.md "Keys" must agree with the
 * library on acceptance and on the decoded bytes; an accepted key is re-checked rule by rule;
 * the output buffer is exactly `cap` bytes so ASan catches any write past it. */
#include <string.h>

#include "fuzz_check.h"
#include "key.h"

static int ref_hex(uint8_t c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decode once into out (at least len bytes). Returns the length, or -1 on a bad escape. */
static long ref_decode(const uint8_t *raw, size_t len, uint8_t *out)
{
  size_t n = 0;

  for (size_t i = 0; i < len;) {
    if (raw[i] != '%') {
      out[n++] = raw[i++];
      continue;
    }
    if (i + 2 >= len || ref_hex(raw[i + 1]) < 0 || ref_hex(raw[i + 2]) < 0)
      return -1;
    out[n++] = (uint8_t)(ref_hex(raw[i + 1]) * 16 + ref_hex(raw[i + 2]));
    i += 3;
  }
  return (long)n;
}

static int starts_reserved(const uint8_t *seg, size_t len)
{
  static const char word[] = ".resumable";
  if (len < 10)
    return 0;
  for (size_t i = 0; i < 10; i++) {
    uint8_t c = seg[i];
    if (c >= 'A' && c <= 'Z')
      c = (uint8_t)(c - 'A' + 'a');
    if (c != (uint8_t)word[i])
      return 0;
  }
  return 1;
}

/* UTF-8 by code points: the shortest form, no surrogate, nothing above U+10FFFF. */
static int ref_utf8(const uint8_t *k, size_t n)
{
  static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < n;) {
    size_t len = k[i] < 0x80         ? 1
                 : (k[i] >> 5) == 6  ? 2
                 : (k[i] >> 4) == 14 ? 3
                 : (k[i] >> 3) == 30 ? 4
                                     : 0;
    if (len == 0 || len > n - i)
      return 0;
    uint32_t cp = len == 1 ? k[i] : (uint32_t)(k[i] & (0x7fu >> len));
    for (size_t j = 1; j < len; j++) {
      if ((k[i + j] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (k[i + j] & 0x3fu);
    }
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

/* Every key rule, applied to decoded bytes. Returns 1 if k[0..n) is a valid key. */
static int ref_valid(const uint8_t *k, size_t n)
{
  size_t seg = 0;

  if (n < 1 || n > 1024)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (k[i] < 0x20 || k[i] == 0x7f || k[i] == '\\')
      return 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && k[i] != '/')
      continue;
    size_t len = i - seg;
    if (len < 1 || len > 255)
      return 0;
    if ((len == 1 && k[seg] == '.') || (len == 2 && k[seg] == '.' && k[seg + 1] == '.'))
      return 0;
    if (starts_reserved(k + seg, len))
      return 0;
    seg = i + 1;
  }
  return ref_utf8(k, n);
}

static void check_with_cap(const uint8_t *data, size_t size, size_t cap, int want_ok,
                           const uint8_t *want, long want_len)
{
  char *out = malloc(cap);
  FUZZ_CHECK(out != NULL);
  memset(out, 0xaa, cap);
  rs_key_status st = rs_key_decode((const char *)data, size, out, cap);
  FUZZ_CHECK(st >= RS_KEY_OK && st <= RS_KEY_BAD_UTF8);
  FUZZ_CHECK(rs_key_status_text(st) != NULL);
  if (size == 0)
    FUZZ_CHECK(st == RS_KEY_EMPTY);
  if (st != RS_KEY_OK) {
    FUZZ_CHECK(out[0] == '\0'); /* never a half-checked key left behind */
    /* with a contract-sized buffer, a valid key is never refused */
    FUZZ_CHECK(!(want_ok && cap >= RS_KEY_MAX + 1));
    free(out);
    return;
  }
  size_t n = strlen(out);
  FUZZ_CHECK(want_ok);                        /* accepted only if valid */
  FUZZ_CHECK(n < cap && (long)n == want_len); /* NUL-terminated within cap, no embedded NUL */
  FUZZ_CHECK(memcmp(out, want, n) == 0);
  FUZZ_CHECK(ref_valid((const uint8_t *)out, n)); /* re-check what was actually written */
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *want = malloc(size + 1);
  FUZZ_CHECK(want != NULL);
  long want_len = ref_decode(data, size, want);
  int want_ok = want_len >= 0 && ref_valid(want, (size_t)want_len);

  check_with_cap(data, size, RS_KEY_MAX + 1, want_ok, want, want_len);
  /* Below the contract's cap the decoder must still never write past the buffer. */
  check_with_cap(data, size, 1 + size % 16, want_ok, want, want_len);
  free(want);
  return 0;
}
