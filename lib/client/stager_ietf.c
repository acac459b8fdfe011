/* The stager in the IETF draft dialect (stager.h, RESUMABLE_PROTOCOL_IETF): the tus machinery
 * of stager_tus.c (URL store, HEAD after every failure, creation with the first bytes, PATCH from
 * the offset held, budget, backoff, progress) with the draft's headers: interop version 8,
 * Upload-Complete, Upload-Length, Repr-Digest at creation, application/partial-upload (and
 * Content-Digest on requests, sent where stager_tus.c sends tus checksums). */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stager_tus.h"
#include "tus_header.h"

static int add(struct curl_slist **l, const char *line)
{
  struct curl_slist *x = curl_slist_append(*l, line);
  if (!x)
    return -1;
  *l = x;
  return 0;
}

int rs_ietf_add_headers(rs_run *run, int create, uint64_t start, uint64_t end,
                        struct curl_slist **l)
{
  char line[4200];
  int bad = 0;
  /* the request that carries the file's last byte completes the upload */
  bad |= add(l, end == run->size ? "Upload-Complete: ?1" : "Upload-Complete: ?0");
  if (create) {
    char b64[48];
    snprintf(line, sizeof line, "Upload-Length: %" PRIu64, run->size);
    bad |= add(l, line);
    if (rs_base64_encode(run->sha, 32, b64, sizeof b64) > 0) {
      snprintf(line, sizeof line, "Repr-Digest: sha-256=:%s:", b64);
      bad |= add(l, line);
    }
    if (run->s->o.tus_metadata) { /* resumable-serve takes the key from "filename" */
      int n = snprintf(line, sizeof line, "Upload-Metadata: %s", run->s->o.tus_metadata);
      bad |= n < 0 || (size_t)n >= sizeof line || add(l, line);
    }
  } else {
    snprintf(line, sizeof line, "Upload-Offset: %" PRIu64, start);
    bad |= add(l, line);
    bad |= add(l, "Content-Type: application/partial-upload");
  }
  return bad ? RESUMABLE_E_NOMEM : RESUMABLE_OK;
}

int rs_ietf_upload(rs_run *run, const rs_tus_server *found)
{
  resumable_stager *s = run->s;
  run->ietf = 1;
  s->r.protocol = RESUMABLE_PROTOCOL_IETF;
  if (found->has_max && run->size > found->max) {
    rs_run_msg(run,
               "the file is larger than the server's Upload-Limit max-size (%" PRIu64 " bytes)",
               found->max);
    return RESUMABLE_E_TOO_LARGE;
  }
  if (s->o.parallel > 1)
    rs_run_log(run, RESUMABLE_LOG_INFO, "the IETF draft has no concatenation: one connection");
  /* what the draft always offers, in tus terms; no tus Upload-Checksum (the draft's per-request
   * digest is Content-Digest: stager_tus.c sends it when run->ietf) */
  rs_tus_server srv = *found;
  srv.ext = RS_TUSX_CREATION | RS_TUSX_WITH_UPLOAD | RS_TUSX_TERMINATION;
  srv.algos = 0;
  return rs_tus_single(run, &srv);
}
