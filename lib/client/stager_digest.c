/* Per-chunk digests for the stager's requests: LocalAI `Content-Digest` (RFC 9530) and, with
 * resumable_stager_set_chunk_digest(1), tus `Upload-Checksum: sha256`. The header goes before
 * the body, so the digest must be known before the first byte is sent; rather than hash a chunk
 * in one pass over the file and send it in another, each chunk is read once into memory, hashed
 * as it is read, and the body is served from there (a resend after a mismatch reads nothing).
 * While a chunk is sent, a helper thread reads and hashes the next one into a second buffer, so
 * on two cores the hashing is off the sending path. When the stager hashed the file itself, that
 * pass also took each chunk's digest (rs_hash_grid), so a chunk on that grid is only read (the
 * tus checksum path in stager_tus.c takes its sha256 from the grid too). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sha256.h"
#include "stager_impl.h"
#include "tus_header.h" /* rs_base64_encode */

#define READ_BLOCK ((size_t)1 << 20) /* hashed as each block arrives: still in the cache */

/* The digest of [start, end) from the hash pass's grid, or NULL when the range is off it. The
 * grid is not written once sending begins, so the helper thread may read it. */
const uint8_t *rs_digest_on_grid(const rs_run *run, uint64_t start, uint64_t end)
{
  const rs_hash_grid *g = &run->grid;
  if (!g->digest || start % g->chunk != 0 || start / g->chunk >= g->count)
    return NULL;
  uint64_t cell_end = run->size - start > g->chunk ? start + g->chunk : run->size;
  return end == cell_end ? g->digest[start / g->chunk] : NULL;
}

/* Read file bytes [start, end) into b and hash them, unless `known` gives their digest. Safe on
 * the helper thread (pread only). */
static int fill(int fd, rs_dbuf *b, uint64_t start, uint64_t end, const uint8_t *known)
{
  size_t len = (size_t)(end - start);
  b->valid = 0;
  if (len > b->cap) {
    uint8_t *p = realloc(b->data, len);
    if (!p)
      return RESUMABLE_E_NOMEM;
    b->data = p;
    b->cap = len;
  }
  rs_sha256 h;
  rs_sha256_init(&h);
  for (size_t off = 0; off < len;) {
    size_t want = len - off < READ_BLOCK ? len - off : READ_BLOCK;
    ssize_t n = pread(fd, b->data + off, want, (off_t)(start + off));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) { /* an error, or the file shrank: never send a torn body */
      rs_sha256_free(&h);
      return RESUMABLE_E_FILE;
    }
    if (!known)
      rs_sha256_update(&h, b->data + off, (size_t)n);
    off += (size_t)n;
  }
  uint8_t d[32];
  rs_sha256_finish(&h, d);
  rs_sha256_free(&h);
  rs_base64_encode(known ? known : d, sizeof d, b->b64, sizeof b->b64);
  b->start = start;
  b->end = end;
  b->valid = 1;
  return RESUMABLE_OK;
}

static void *ahead_main(void *arg)
{
  rs_run *run = arg;
  run->ahead_rc = fill(run->s->fd, &run->dnext, run->ahead_start, run->ahead_end,
                       rs_digest_on_grid(run, run->ahead_start, run->ahead_end));
  return NULL;
}

static void ahead_join(rs_run *run)
{
  if (run->ahead_running)
    pthread_join(run->ahead_thread, NULL);
  run->ahead_running = 0;
}

/* Read and hash [start, end) into the second buffer on a helper thread (no-op if it fails to
 * start: the chunk is then read when it is needed). */
static void ahead_start(rs_run *run, uint64_t start, uint64_t end)
{
  ahead_join(run);
  run->dnext.valid = 0;
  run->ahead_start = start;
  run->ahead_end = end;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* no signal of the caller's lands on it */
  run->ahead_running = pthread_create(&run->ahead_thread, NULL, ahead_main, run) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void count_grid(rs_run *run, uint64_t start, uint64_t end)
{
  if (rs_digest_on_grid(run, start, end))
    run->grid_used++;
  else
    run->grid_missed++;
}

/* Make run->dcur hold [start, end): already there (a resend), read ahead, or read now. */
static int take(rs_run *run, uint64_t start, uint64_t end)
{
  rs_dbuf *c = &run->dcur;
  if (c->valid && c->start == start && c->end == end)
    return RESUMABLE_OK;
  if (run->ahead_running && run->ahead_start == start && run->ahead_end == end) {
    ahead_join(run);
    if (run->ahead_rc == RESUMABLE_OK && run->dnext.valid) {
      rs_dbuf t = *c;
      *c = run->dnext;
      run->dnext = t;
      run->dnext.valid = 0;
      count_grid(run, start, end);
      return RESUMABLE_OK;
    }
  }
  ahead_join(run); /* another range, or it failed: read it here */
  int rc = fill(run->s->fd, c, start, end, rs_digest_on_grid(run, start, end));
  if (rc == RESUMABLE_OK)
    count_grid(run, start, end);
  if (rc == RESUMABLE_E_FILE)
    rs_run_msg(run, "cannot read the local file");
  return rc;
}

static int digest_line(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra,
                       int tus)
{
  char line[128];
  int rc = take(run, start, end);
  if (rc != RESUMABLE_OK)
    return rc;
  /* The next chunk of the same size, most likely the next request's body. */
  uint64_t len = end - start, next_end = run->size - end > len ? end + len : run->size;
  if (end < run->size && !(run->ahead_running && run->ahead_start == end))
    ahead_start(run, end, next_end);
  snprintf(line, sizeof line,
           tus ? "Upload-Checksum: sha256 %s" : "Content-Digest: sha-256=:%s:", run->dcur.b64);
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
  ahead_join(run);
  free(run->dcur.data);
  free(run->dnext.data);
  run->dcur = (rs_dbuf){0};
  run->dnext = (rs_dbuf){0};
  free(run->grid.digest);
  run->grid = (rs_hash_grid){0};
}

void rs_digest_grid_alloc(rs_run *run)
{
  const rs_stager_opts *o = &run->s->o;
  free(run->grid.digest);
  run->grid = (rs_hash_grid){0};
  if (o->chunk_digest == 0 || (o->chunk_digest == -1 && !o->chunk_size) || run->size == 0)
    return;
  /* The planners' chunk: LocalAI (plan_put) caps a digested request at RS_DIGEST_CHUNK_MAX and
   * defaults to RS_DIGEST_CHUNK_DEFAULT; tus and the draft (plan_end) take the chunk size as
   * set and default to 64 MiB (CHECKSUM_CHUNK, equal to RS_DIGEST_CHUNK_MAX). */
  int tus = o->protocol == RESUMABLE_PROTOCOL_TUS || o->protocol == RESUMABLE_PROTOCOL_IETF;
  uint64_t chunk = o->chunk_size;
  if (!chunk)
    chunk = tus ? RS_DIGEST_CHUNK_MAX : RS_DIGEST_CHUNK_DEFAULT;
  else if (!tus && chunk > RS_DIGEST_CHUNK_MAX)
    chunk = RS_DIGEST_CHUNK_MAX;
  uint64_t n = (run->size + chunk - 1) / chunk;
  if (n > RS_DIGEST_GRID_MAX)
    return;
  run->grid.digest = malloc((size_t)n * sizeof *run->grid.digest);
  if (run->grid.digest) {
    run->grid.chunk = chunk;
    run->grid.count = (size_t)n;
  }
}
