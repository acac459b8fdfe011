/* RFC 9530 Content-Digest: a strict parser for the dictionary form and the per-request verifier.
 * Debian 12 ships mbedTLS 2.28, whose non-deprecated calls carry a _ret suffix; 3.x dropped it. */
#include "req_digest.h"

#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "tus_header.h" /* rs_base64_decode */

#if MBEDTLS_VERSION_MAJOR >= 3
#define sha512_starts mbedtls_sha512_starts
#define sha512_update mbedtls_sha512_update
#define sha512_finish mbedtls_sha512_finish
#else
#define sha512_starts mbedtls_sha512_starts_ret
#define sha512_update mbedtls_sha512_update_ret
#define sha512_finish mbedtls_sha512_finish_ret
#endif

void rs_rd_hdr_add(rs_rd_hdr *h, const char *value)
{
  size_t n = strlen(value);
  size_t need = h->seen ? h->len + 2 + n : n;
  if (h->too_long || need >= sizeof(h->value)) {
    h->seen = 1;
    h->too_long = 1;
    return;
  }
  if (h->seen) {
    memcpy(h->value + h->len, ", ", 2);
    h->len += 2;
  }
  memcpy(h->value + h->len, value, n + 1);
  h->len += n;
  h->seen = 1;
}

size_t rs_rd_algo_len(rs_rd_algo algo)
{
  return algo == RS_RD_SHA256 ? 32 : algo == RS_RD_SHA512 ? 64 : 0;
}

static int lcalpha(char c)
{
  return c >= 'a' && c <= 'z';
}
static int digit(char c)
{
  return c >= '0' && c <= '9';
}

/* An RFC 8941 key at s[*i]; returns its length (0: none). */
static size_t key_at(const char *s, size_t len, size_t *i)
{
  size_t b = *i;
  if (b >= len || !(lcalpha(s[b]) || s[b] == '*'))
    return 0;
  size_t e = b + 1;
  while (e < len && (lcalpha(s[e]) || digit(s[e]) || strchr("_-.*", s[e]) != NULL))
    e++;
  *i = e;
  return e - b;
}

static int b64char(char c)
{
  return lcalpha(c) || (c >= 'A' && c <= 'Z') || digit(c) || c == '+' || c == '/' || c == '=';
}

/* A parameter value we skip: a token, integer, decimal, boolean or byte sequence (no strings). */
static int skip_param_value(const char *s, size_t len, size_t *i)
{
  size_t j = *i;
  if (j < len && s[j] == ':') {
    for (j++; j < len && b64char(s[j]); j++)
      ;
    if (j >= len || s[j] != ':')
      return -1;
    *i = j + 1;
    return 0;
  }
  size_t b = j;
  while (j < len && s[j] != ';' && s[j] != ',' && s[j] != ' ' && s[j] != '\t' && s[j] != '"' &&
         s[j] > 0x20 && s[j] < 0x7f)
    j++;
  if (j == b || (j < len && s[j] == '"'))
    return -1;
  *i = j;
  return 0;
}

static int skip_params(const char *s, size_t len, size_t *i)
{
  while (*i < len && s[*i] == ';') {
    (*i)++;
    while (*i < len && s[*i] == ' ')
      (*i)++;
    if (key_at(s, len, i) == 0)
      return -1;
    if (*i < len && s[*i] == '=') {
      (*i)++;
      if (skip_param_value(s, len, i) != 0)
        return -1;
    }
  }
  return 0;
}

static rs_rd_algo algo_of(const char *k, size_t n)
{
  if (n == 7 && memcmp(k, "sha-256", 7) == 0)
    return RS_RD_SHA256;
  if (n == 7 && memcmp(k, "sha-512", 7) == 0)
    return RS_RD_SHA512;
  return RS_RD_NONE;
}

int rs_rd_parse(const char *s, size_t len, rs_rd_algo *algo, uint8_t want[64], const char **why)
{
  uint8_t got256[32], got512[64];
  int have256 = 0, have512 = 0;
  size_t i = 0;
  *algo = RS_RD_NONE;
  *why = NULL;
  while (i < len && s[i] == ' ')
    i++;
  if (i == len) {
    *why = "empty Content-Digest";
    return -1;
  }
  for (;;) {
    size_t kb = i, kn = key_at(s, len, &i);
    if (kn == 0) {
      *why = "Content-Digest: a member must start with an algorithm name (a-z or *)";
      return -1;
    }
    if (i >= len || s[i] != '=' || i + 1 >= len || s[i + 1] != ':') {
      *why = "Content-Digest: each algorithm needs a byte sequence value (=:base64:)";
      return -1;
    }
    size_t vb = i + 2, ve = vb;
    while (ve < len && b64char(s[ve]))
      ve++;
    if (ve >= len || s[ve] != ':') {
      *why = "Content-Digest: a byte sequence must be base64 between colons";
      return -1;
    }
    i = ve + 1;
    if (skip_params(s, len, &i) != 0) {
      *why = "Content-Digest: malformed parameter";
      return -1;
    }
    rs_rd_algo a = algo_of(s + kb, kn);
    if (a != RS_RD_NONE) {
      uint8_t tmp[64];
      size_t n = 0;
      if (rs_base64_decode(s + vb, ve - vb, tmp, sizeof(tmp), &n) != 0 || n != rs_rd_algo_len(a)) {
        *why = a == RS_RD_SHA256 ? "Content-Digest: sha-256 needs 32 bytes of valid base64"
                                 : "Content-Digest: sha-512 needs 64 bytes of valid base64";
        return -1;
      }
      if (a == RS_RD_SHA256) {
        memcpy(got256, tmp, 32);
        have256 = 1;
      } else {
        memcpy(got512, tmp, 64);
        have512 = 1;
      }
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i == len)
      break;
    if (s[i] != ',') {
      *why = "Content-Digest: members must be separated by commas";
      return -1;
    }
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i == len) {
      *why = "Content-Digest: trailing comma";
      return -1;
    }
  }
  if (have256) {
    *algo = RS_RD_SHA256;
    memcpy(want, got256, 32);
  } else if (have512) {
    *algo = RS_RD_SHA512;
    memcpy(want, got512, 64);
  }
  return 0;
}

void rs_req_digest_start(rs_req_digest *d, rs_rd_algo algo, const uint8_t want[64],
                         rs_hash_pool *pool)
{
  rs_req_digest_free(d);
  if (algo == RS_RD_NONE)
    return;
  d->algo = algo;
  memcpy(d->want, want, rs_rd_algo_len(algo));
  if (algo == RS_RD_SHA256) {
    rs_sha256_init(&d->sha256);
    (void)rs_hash_pipe_bind(&d->pipe, pool, &d->sha256); /* NOMEM: hashes inline */
  } else {
    mbedtls_sha512_init(&d->sha512);
    (void)sha512_starts(&d->sha512, 0);
  }
}

void rs_req_digest_tee(rs_req_digest *d, rs_hash_pipe *host)
{
  if (d->algo != RS_RD_SHA256 || d->host != NULL)
    return;
  rs_hash_pipe_drain(&d->pipe); /* idle if given nothing; sha256 is ours to read after it */
  if (rs_sha256_length(&d->sha256) != 0)
    return; /* bytes came first: the tee would miss them */
  if (rs_hash_pipe_tee(host, &d->sha256) != 0)
    return;                    /* host feeds another tee: keep our own pipe */
  rs_hash_pipe_fini(&d->pipe); /* given nothing yet: idle */
  d->host = host;
}

void rs_req_digest_update(rs_req_digest *d, const void *data, size_t len)
{
  if (d->host)
    return; /* the host pipe's owner feeds it */
  if (d->algo == RS_RD_SHA256)
    rs_hash_pipe_update(&d->pipe, data, len);
  else if (d->algo == RS_RD_SHA512)
    (void)sha512_update(&d->sha512, data, len);
}

int rs_req_digest_matches(rs_req_digest *d)
{
  uint8_t got[64];
  size_t n = rs_rd_algo_len(d->algo);
  if (d->algo == RS_RD_NONE)
    return 1;
  int whole = 1;
  if (d->host) {
    whole = rs_hash_pipe_untee(d->host, &d->sha256); /* drained: every byte hashed */
    d->host = NULL;
    rs_sha256_finish(&d->sha256, got);
  } else if (d->algo == RS_RD_SHA256) {
    rs_hash_pipe_drain(&d->pipe); /* every byte hashed before the digest is read */
    rs_sha256_finish(&d->sha256, got);
  } else {
    (void)sha512_finish(&d->sha512, got);
  }
  int ok = whole && memcmp(got, d->want, n) == 0;
  rs_req_digest_free(d);
  return ok;
}

void rs_req_digest_free(rs_req_digest *d)
{
  if (d->host)
    (void)rs_hash_pipe_untee(d->host, &d->sha256); /* no pool thread touches sha256 after it */
  if (d->algo == RS_RD_SHA256) {
    rs_hash_pipe_fini(&d->pipe); /* no pool thread touches sha256 after this */
    rs_sha256_free(&d->sha256);
  } else if (d->algo == RS_RD_SHA512) {
    mbedtls_sha512_free(&d->sha512);
  }
  mbedtls_platform_zeroize(d, sizeof(*d));
}
