/* Per-chunk Content-Digest (RFC 9530) for the stager's LocalAI PUTs. The header goes before the
 * body, so the digest must be known before the first byte is sent; rather than hash the chunk
 * in one pass over the file and send it in another, the chunk is read once into memory, hashed
 * as it is read, and the body is served from there (a resend after a 422 reads nothing). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sha256.h"
#include "stager_impl.h"
#include "tus_header.h" /* rs_base64_encode */

#define READ_BLOCK ((size_t)1 << 20) /* hashed as each block arrives: still in the cache */

static int fill(rs_run *run, uint64_t start, uint64_t end)
{
  size_t len = (size_t)(end - start);
  if (len > run->dcap) {
    uint8_t *b = realloc(run->dbuf, len);
    if (!b)
      return RESUMABLE_E_NOMEM;
    run->dbuf = b;
    run->dcap = len;
  }
  run->dvalid = 0;
  rs_sha256 h;
  rs_sha256_init(&h);
  for (size_t off = 0; off < len;) {
    size_t want = len - off < READ_BLOCK ? len - off : READ_BLOCK;
    ssize_t n = pread(run->s->fd, run->dbuf + off, want, (off_t)(start + off));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) { /* an error, or the file shrank: never send a torn body */
      rs_sha256_free(&h);
      rs_run_msg(run, "cannot read the local file");
      return RESUMABLE_E_FILE;
    }
    rs_sha256_update(&h, run->dbuf + off, (size_t)n);
    off += (size_t)n;
  }
  uint8_t d[32];
  rs_sha256_finish(&h, d);
  rs_sha256_free(&h);
  rs_base64_encode(d, sizeof d, run->db64, sizeof run->db64);
  run->dstart = start;
  run->dend = end;
  run->dvalid = 1;
  return RESUMABLE_OK;
}

static int digest_line(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra,
                       int tus)
{
  char line[128];
  if (!run->dvalid || run->dstart != start || run->dend != end) {
    int rc = fill(run, start, end);
    if (rc != RESUMABLE_OK)
      return rc;
  }
  snprintf(line, sizeof line, tus ? "Upload-Checksum: sha256 %s" : "Content-Digest: sha-256=:%s:",
           run->db64);
  struct curl_slist *l = curl_slist_append(*extra, line);
  if (!l)
    return RESUMABLE_E_NOMEM;
  *extra = l;
  return RESUMABLE_OK;
}

int rs_digest_chunk(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra)
{
  return digest_line(run, start, end, extra, 0);
}

int rs_digest_chunk_tus(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra)
{
  return digest_line(run, start, end, extra, 1);
}

void rs_digest_free(rs_run *run)
{
  free(run->dbuf);
  run->dbuf = NULL;
  run->dcap = 0;
  run->dvalid = 0;
}
