/* The tus 1.0.0 request headers the handler reads (docs/protocol.md, "Dialects: tus"), and the
 * few strings it writes: parsers and formatters only. Pure: no I/O, no allocation, no clock. */
#ifndef RESUMABLE_TUS_HEADER_H
#define RESUMABLE_TUS_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "resumable/store.h"

#define RS_TUS_VERSION "1.0.0"
#define RS_TUS_EXTENSIONS                                                                \
  "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum," \
  "concatenation"
#define RS_TUS_CHECKSUM_ALGORITHMS "sha1,sha256,md5"
#define RS_TUS_CONTENT_TYPE "application/offset+octet-stream"

/* A concatenation part lives at <prefix>RS_TUS_PART_DIR<32 hex>: the segment starts with
 * ".resumable", so no key can name it (key.h, RS_KEY_RESERVED). Its store key is the same text. */
#define RS_TUS_PART_DIR RESUMABLE_PART_PREFIX
#define RS_TUS_PART_ID_LEN 32
#define RS_TUS_PART_KEY_LEN (sizeof(RS_TUS_PART_DIR) - 1 + RS_TUS_PART_ID_LEN)

/* Decode standard base64 (RFC 4648 section 4) of exactly `len` bytes into out. Padding is
 * optional, but '=' only at the end and at most two; trailing bits must be zero.
 * Returns 0 with *out_len, or -1 (malformed, or more than `cap` bytes). */
int rs_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Encode `len` bytes as padded standard base64 into out (NUL-terminated). Returns the length,
 * or -1 if cap is too small (needs 4 * ceil(len / 3) + 1). */
int rs_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Upload-Metadata (tus "creation"): comma-separated pairs "key[ base64]", optional blanks
 * around each pair; keys 1+ printable ASCII bytes without space or comma, all distinct; values
 * valid base64 (possibly empty). An empty header value holds no pair. Returns 0 or -1. */
int rs_tus_metadata_check(const char *s, size_t len);

/* The decoded value of pair `name` of a checked Upload-Metadata value into out (not
 * terminated). Returns 1 with *out_len, 0 if absent, -1 if the value does not fit `cap`. */
int rs_tus_metadata_get(const char *s, size_t len, const char *name, uint8_t *out, size_t cap,
                        size_t *out_len);

/* Upload-Checksum: "<algorithm> <base64 digest>". */
typedef enum rs_tus_algo {
  RS_TUS_ALGO_NONE = 0,
  RS_TUS_ALGO_SHA1,   /* 20-byte digest */
  RS_TUS_ALGO_SHA256, /* 32 */
  RS_TUS_ALGO_MD5     /* 16 */
} rs_tus_algo;
/* Returns 0 (algorithm and digest filled), -1 malformed (no single space, bad base64, a digest
 * of the wrong length for a known algorithm), -2 an algorithm we do not offer. */
int rs_tus_checksum_parse(const char *s, size_t len, rs_tus_algo *algo, uint8_t digest[32]);
/* Digest length of an algorithm (0 for NONE). */
size_t rs_tus_algo_len(rs_tus_algo a);

/* Upload-Concat. */
typedef enum rs_tus_concat {
  RS_TUS_CONCAT_NONE = 0,
  RS_TUS_CONCAT_PARTIAL, /* "partial" */
  RS_TUS_CONCAT_FINAL,   /* "final;<url> <url>..." */
  RS_TUS_CONCAT_MALFORMED
} rs_tus_concat;
/* Classify a value; for FINAL, *urls and *urls_len delimit the URL list after ';'. A FINAL
 * list must hold at least one URL (separated by one or more spaces). */
rs_tus_concat rs_tus_concat_parse(const char *s, size_t len, const char **urls, size_t *urls_len);
/* The next space-separated URL of a FINAL list at *pos (advanced); 0 at the end. */
int rs_tus_concat_next(const char *urls, size_t len, size_t *pos, const char **url,
                       size_t *url_len);

/* Match a part URL by its path: `url` is absolute ("http://host:port/path") or a path;
 * a query or fragment is ignored. If its path is `prefix` + RS_TUS_PART_DIR + 32 lower-case hex
 * digits, write the part's store key into key (NUL-terminated) and return 0; else -1. */
int rs_tus_part_url(const char *url, size_t len, const char *prefix, size_t prefix_len,
                    char key[RS_TUS_PART_KEY_LEN + 1]);
/* The same test for the raw path after the prefix (query already removed). */
int rs_tus_part_path(const char *raw, size_t len, char key[RS_TUS_PART_KEY_LEN + 1]);

/* A key made of arbitrary `len` bytes (a metadata value): validated by the same rules as a
 * key in a URL (key.h), without percent-decoding. Returns the status; out holds the key on OK.
 * `cap` >= RS_KEY_MAX + 1. */
rs_key_status rs_tus_key_from_bytes(const uint8_t *b, size_t len, char *out, size_t cap);

/* Percent-encode a key for a URL path: every byte but A-Z a-z 0-9 - . _ ~ and '/' becomes %XX.
 * Returns the length written (NUL-terminated), or -1 if cap is too small (3 * len + 1 fits). */
int rs_tus_key_encode(const char *key, char *out, size_t cap);

/* Content-Type is application/offset+octet-stream (case-insensitive, parameters ignored). */
int rs_tus_content_type_ok(const char *s, size_t len);

/* An IMF-fixdate (RFC 9110 5.6.7) of `t` seconds since the epoch: "Sun, 06 Nov 1994 08:49:37
 * GMT". Locale-independent. Returns 0, or -1 for a time outside years 1970..9999. */
#define RS_HTTP_DATE_LEN 29
int rs_http_date(int64_t t, char out[RS_HTTP_DATE_LEN + 1]);

#endif
