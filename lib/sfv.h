/* Structured Field Values for HTTP (RFC 8941): a strict parser for the fields the IETF
 * resumable-upload dialect reads (Upload-Complete, Upload-Offset, Upload-Length,
 * Upload-Draft-Interop-Version, Repr-Digest, Want-Repr-Digest) and for RFC 9530 digests.
 *
 * Pure: no I/O, no allocation. Input is one field value (several field lines joined with ", "
 * by the caller when the field is a list or dictionary); leading and trailing spaces are
 * ignored as RFC 8941 section 4.2 says, anything else that does not parse fails the whole
 * field. RFC 9651's additions (Date, Display String) are not accepted. */
#ifndef RESUMABLE_SFV_H
#define RESUMABLE_SFV_H

#include <stddef.h>
#include <stdint.h>

typedef enum rs_sfv_type {
  RS_SFV_INTEGER = 1, /* i: -999999999999999..999999999999999 */
  RS_SFV_DECIMAL,     /* no value kept (not used by any field we read) */
  RS_SFV_STRING,      /* str/len: the quoted text, escapes still in */
  RS_SFV_TOKEN,       /* str/len */
  RS_SFV_BYTES,       /* str/len: the base64 text between the colons (validated) */
  RS_SFV_BOOLEAN,     /* i: 0 or 1 */
  RS_SFV_INNER_LIST   /* str/len: the whole "(...)" text (validated) */
} rs_sfv_type;

/* A bare item (or an inner list) as parsed; points into the input. */
typedef struct rs_sfv_value {
  rs_sfv_type type;
  int64_t i;
  const char *str;
  size_t len;
} rs_sfv_value;

/* An Item (bare item plus parameters; the parameters are validated and ignored) of the given
 * type. Returns 0 with *out filled, -1 if the field is not an Item or is an Item of another
 * type. An Inner List is not an Item here. */
int rs_sfv_item(const char *s, size_t len, rs_sfv_type want, rs_sfv_value *out);

/* An Item that is a non-negative Integer (Upload-Offset, Upload-Length, interop versions).
 * Returns 0 or -1. */
int rs_sfv_uint(const char *s, size_t len, uint64_t *out);

/* An Item that is a Boolean (Upload-Complete: ?0 / ?1). Returns 0 with *out 0 or 1, or -1. */
int rs_sfv_bool(const char *s, size_t len, int *out);

/* Walk a Dictionary: `fn` sees each member in order (key NUL-terminated, at most 64 bytes;
 * a bare key is Boolean true). A later member with the same key overrides an earlier one
 * (RFC 8941 4.2.2): the caller keeps the last it saw. A nonzero return from fn stops the walk
 * and is returned. Returns 0 when the whole field parsed, -1 when it is not a Dictionary. */
typedef int (*rs_sfv_member_fn)(void *arg, const char *key, const rs_sfv_value *v);
int rs_sfv_dict(const char *s, size_t len, rs_sfv_member_fn fn, void *arg);

/* Decode a validated byte sequence (v->type == RS_SFV_BYTES) into out. Returns 0 with
 * *out_len, or -1 if it holds more than `cap` bytes. */
int rs_sfv_bytes(const rs_sfv_value *v, uint8_t *out, size_t cap, size_t *out_len);

/* A digest dictionary (RFC 9530 Repr-Digest, Content-Digest): the value of member `algo`
 * (e.g. "sha-256"), which must be a Byte Sequence of exactly `n` bytes (32 for sha-256, 64 for
 * sha-512). Returns 1 with out filled, 0 if the field parsed but has no such member, -1 if the
 * field is not a Dictionary or the member is not `n` bytes. NUL-terminated `header`. */
int rs_sfv_digest_n(const char *header, const char *algo, uint8_t *out, size_t n);

/* rs_sfv_digest_n(header, algo, out32, 32): the SHA-256 case. */
int rs_sfv_digest(const char *header, const char *algo, uint8_t out32[32]);

#endif
