/* RFC 9530 Content-Digest over one request's body: parsing the field and verifying the body as
 * it streams in. Shared by the dialects that carry it (a LocalAI PUT, an IETF-draft PATCH).
 *
 * sha-256 rides as a tee on the pipe that feeds the whole-file hash (rs_req_digest_tee,
 * hash_pipe.h): one copy, and one pool pass hashes both (rs_sha256_update2). Without a host pipe
 * it has a pipe of its own; sha-512 (mbedTLS) is hashed inline. Either way each byte is hashed
 * while it passes through: no second pass over the data. */
#ifndef RESUMABLE_REQ_DIGEST_H
#define RESUMABLE_REQ_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha512.h>

#include "hash_pipe.h"
#include "sha256.h"

typedef enum rs_rd_algo {
  RS_RD_NONE = 0, /* no supported digest: the request is not verified */
  RS_RD_SHA256,
  RS_RD_SHA512
} rs_rd_algo;

/* Longest Content-Digest value kept (a sha-512 member alone is 98 bytes); longer is malformed. */
#define RS_RD_HDR_MAX 512

/* The raw field as received (header lines of one name combine with ", ", RFC 9110 5.3). */
typedef struct rs_rd_hdr {
  int seen;
  int too_long;
  size_t len;
  char value[RS_RD_HDR_MAX];
} rs_rd_hdr;

/* Append one header line's value to h. */
void rs_rd_hdr_add(rs_rd_hdr *h, const char *value);

/* Parse a Content-Digest (or Repr-Digest) value: an RFC 8941 dictionary whose members are
 * `<algorithm>=:<base64>:` byte sequences, parameters allowed and ignored. Strict: any other
 * shape is malformed. Picks sha-256 when present, else sha-512; other algorithms are ignored
 * (RFC 9530 lets a recipient ignore any digest). Returns 0 with *algo (NONE when no supported
 * algorithm is listed) and want[] filled, or -1 with a short reason in *why. A supported
 * algorithm whose digest has the wrong length is malformed. A repeated key: the last wins. */
int rs_rd_parse(const char *s, size_t len, rs_rd_algo *algo, uint8_t want[64], const char **why);

/* The digest length of algo (32, 64; 0 for NONE). */
size_t rs_rd_algo_len(rs_rd_algo algo);

/* A digest being computed over one request's body. Zero it before first use. */
typedef struct rs_req_digest {
  rs_rd_algo algo; /* NONE: idle */
  uint8_t want[64];
  rs_sha256 sha256;
  mbedtls_sha512_context sha512;
  rs_hash_pipe pipe;  /* feeds sha256 (bound while algo is SHA256 and host is NULL) */
  rs_hash_pipe *host; /* the pipe sha256 is a tee of (rs_req_digest_tee), or NULL */
} rs_req_digest;

/* Start verifying `algo` against `want`, sha-256 through `pool` (NULL: inline). An idle d is
 * left idle for NONE. Any earlier run is freed first. */
void rs_req_digest_start(rs_req_digest *d, rs_rd_algo algo, const uint8_t want[64],
                         rs_hash_pool *pool);
/* Before any body byte: take the body's bytes from `host` instead (a tee, hash_pipe.h), whose
 * owner gives it every byte of the body; rs_req_digest_update is then a no-op. Calls on d from
 * here to its end (matches or free) follow host's rules: under its owner's lock, while host is
 * bound. sha-256 only; otherwise, or when host has a tee already, d keeps its own way. */
void rs_req_digest_tee(rs_req_digest *d, rs_hash_pipe *host);
/* Hash `len` more body bytes (copied when piped). No-op when idle or tee'd. */
void rs_req_digest_update(rs_req_digest *d, const void *data, size_t len);
/* Finish: 1 if the body's digest equals the one sent, else 0 (idle: 1; tee'd: 0 as well when
 * a discard of host dropped bytes of it). d is idle after. */
int rs_req_digest_matches(rs_req_digest *d);
/* Stop without finishing (queued bytes dropped; a tee still on host is detached, host's own
 * bytes drained, not dropped); d is idle after. Idle or zeroed: no-op. */
void rs_req_digest_free(rs_req_digest *d);

#endif
