/* A key's chain of state records: ".resumable/up/<hex>/state-<seq>", seq in 16 hex digits so that
 * S3's lexical listing order is the chain's order. Records are never overwritten: the next one is
 * created with If-None-Match: *, which S3 (and Ceph RGW 16) refuses with 412 when the name
 * exists, so of two writers that both continue from record n exactly one creates n + 1. That
 * conditional create is the store's only lock, and it needs no clock and no lease. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "resumable/error.h"
#include "sha256.h"
#include "store_s3.h"

/* A state record is small, but 10000 parts take about 60 bytes each. */
#define STATE_MAX ((size_t)1 << 20)

void s3_key_hex(const char *key, char out[S3_HEX_KEY + 1])
{
  uint8_t d[32];
  rs_sha256_digest(key, strlen(key), d);
  rs_sha256_hex_format(d, out);
}

int s3_state_name(const s3_store *s, const char *hex, uint64_t seq, char *out, size_t cap)
{
  char rest[160];
  snprintf(rest, sizeof(rest), ".resumable/up/%s/state-%016llx", hex, (unsigned long long)seq);
  return s3_object(s, rest, out, cap);
}

int s3_tail_name(const s3_store *s, const char *hex, const char *tail, char *out, size_t cap)
{
  char rest[200];
  snprintf(rest, sizeof(rest), ".resumable/up/%s/%s", hex, tail);
  return s3_object(s, rest, out, cap);
}

void s3_delete_quiet(s3_store *s, const char *name)
{
  s3_request rq = {.method = "DELETE", .object = name};
  s3_response rs;
  (void)s3_call(s, &rq, &rs);
}

typedef struct newest_scan {
  char name[S3_NAME_MAX];
  size_t skip; /* length of the listing prefix */
  uint64_t seq;
  int64_t mtime;
  int found;
} newest_scan;

static int keep_newest(void *arg, const char *name, uint64_t size, int64_t mtime)
{
  newest_scan *n = arg;
  (void)size;
  const char *digits = name + n->skip;
  uint8_t raw[8];
  if (strlen(digits) != 16)
    return 0; /* not one of ours */
  for (int i = 0; i < 16; i++)
    if (rs_hex_digit((unsigned char)digits[i]) < 0)
      return 0;
  for (int i = 0; i < 8; i++)
    raw[i] = (uint8_t)(rs_hex_digit((unsigned char)digits[2 * i]) << 4 |
                       rs_hex_digit((unsigned char)digits[2 * i + 1]));
  uint64_t seq = 0;
  for (int i = 0; i < 8; i++)
    seq = seq << 8 | raw[i];
  if (!n->found || seq > n->seq) {
    n->found = 1;
    n->seq = seq;
    n->mtime = mtime;
    snprintf(n->name, sizeof(n->name), "%s", name);
  }
  return 0;
}

/* GET a record into a malloc'ed buffer. RESUMABLE_OK, E_NOT_FOUND, E_IO, E_NOMEM. */
int s3_get_record(s3_store *s, const char *name, char **buf, size_t *len)
{
  size_t cap = 4096;
  for (;;) {
    char *b = malloc(cap);
    if (!b)
      return RESUMABLE_E_NOMEM;
    s3_request rq = {.method = "GET", .object = name, .out = b, .out_cap = cap};
    s3_response rs;
    int rc = s3_call(s, &rq, &rs);
    if (rc == RESUMABLE_OK)
      rc = s3_status_code(&rs);
    if (rc == RESUMABLE_OK && rs.out_truncated && cap < STATE_MAX) {
      free(b);
      cap = STATE_MAX + 1;
      continue;
    }
    if (rc == RESUMABLE_OK && rs.out_truncated)
      rc = RESUMABLE_E_IO;
    if (rc != RESUMABLE_OK) {
      free(b);
      return rc;
    }
    *buf = b;
    *len = rs.out_len;
    return RESUMABLE_OK;
  }
}

int s3_chain_newest(s3_store *s, const char *key, s3_state *st)
{
  return s3_chain_newest_at(s, key, st, NULL);
}

int s3_chain_newest_at(s3_store *s, const char *key, s3_state *st, int64_t *mtime)
{
  char hex[S3_HEX_KEY + 1], prefix[S3_NAME_MAX];
  s3_key_hex(key, hex);
  s3_state_init(st);
  if (s3_state_name(s, hex, 0, prefix, sizeof(prefix)) != 0)
    return RESUMABLE_E_IO;
  prefix[strlen(prefix) - 16] = '\0'; /* ".../state-" */
  /* A record listed and then removed by its successor's writer is read again. */
  for (int attempt = 0; attempt < 8; attempt++) {
    newest_scan n = {.skip = strlen(prefix)};
    int rc = s3_list(s, prefix, keep_newest, &n);
    if (rc != RESUMABLE_OK)
      return rc;
    if (!n.found)
      return RESUMABLE_E_NOT_FOUND;
    char *buf = NULL;
    size_t len = 0;
    rc = s3_get_record(s, n.name, &buf, &len);
    if (rc == RESUMABLE_E_NOT_FOUND)
      continue;
    if (rc != RESUMABLE_OK)
      return rc;
    rc = s3_state_decode(buf, len, st);
    free(buf);
    if (mtime)
      *mtime = n.mtime;
    if (rc == RESUMABLE_OK && (st->seq != n.seq || strcmp(st->key, key) != 0)) {
      s3_state_free(st);
      rc = RESUMABLE_E_IO; /* a record of another key or place: never applied */
    }
    return rc;
  }
  return RESUMABLE_E_IO;
}

int s3_chain_exists(s3_store *s, const char *hex, uint64_t seq)
{
  char name[S3_NAME_MAX];
  if (s3_state_name(s, hex, seq, name, sizeof(name)) != 0)
    return RESUMABLE_E_IO;
  s3_request rq = {.method = "HEAD", .object = name};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_status_code(&rs);
  return rc == RESUMABLE_OK ? 1 : rc == RESUMABLE_E_NOT_FOUND ? 0 : rc;
}

int s3_chain_create(s3_store *s, const s3_state *st)
{
  char hex[S3_HEX_KEY + 1], name[S3_NAME_MAX];
  s3_key_hex(st->key, hex);
  if (s3_state_name(s, hex, st->seq, name, sizeof(name)) != 0)
    return RESUMABLE_E_IO;
  char *buf = NULL;
  size_t len = 0;
  int rc = s3_state_encode(st, &buf, &len);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_put_object(s, name, buf, len, NULL, "*");
  if (rc == RESUMABLE_E_SUPERSEDED) {
    /* 412 may answer our own first try whose reply was lost and that s3_call sent again: the
     * record is ours if it holds exactly these bytes (our writer id is random). */
    char *got = NULL;
    size_t got_len = 0;
    if (s3_get_record(s, name, &got, &got_len) == RESUMABLE_OK && got_len == len &&
        memcmp(got, buf, len) == 0)
      rc = RESUMABLE_OK;
    free(got);
  }
  free(buf);
  return rc;
}
