/* The stager's tus dialect, shared by stager_tus.c (discovery, one connection) and
 * stager_tus_parallel.c (concatenation over several). */
#ifndef RESUMABLE_STAGER_TUS_H
#define RESUMABLE_STAGER_TUS_H

#include <stdint.h>

#include "stager_impl.h"
#include "tus_header.h"

/* What OPTIONS said. */
typedef struct rs_tus_server {
  int tus;        /* Tus-Version lists 1.0.0 */
  int ietf;       /* not tus, but the IETF draft's Accept-Patch or Upload-Limit */
  unsigned ext;   /* RS_TUSX_* */
  unsigned algos; /* RS_TUSA_* */
  int has_max;
  uint64_t max;
  int want_digest; /* IETF: Want-Content-Digest lists sha-256 (RFC 9530): send Content-Digest */
} rs_tus_server;

/* One tus request through rs_http_perform: Tus-Resumable and X-Content-SHA256 are added to
 * `extra`; `url` NULL is the stager's URL; a POST or PATCH sends file bytes [start, end).
 * Returns as rs_http_perform. */
int rs_tus_request(rs_run *run, const char *method, const char *url, struct curl_slist *extra,
                   uint64_t start, uint64_t end);
/* OPTIONS (retried through transient failures). RESUMABLE_OK or a run error. */
int rs_tus_discover(rs_run *run, rs_tus_server *srv);
/* The Upload-Checksum algorithm to use with this server (NONE without the extension). */
rs_tus_algo rs_tus_pick_algo(const rs_tus_server *srv);
/* Append "Upload-Checksum: ..." of file bytes [start, end) to *l (nothing for NONE).
 * RESUMABLE_OK, RESUMABLE_E_FILE (message set), RESUMABLE_E_NOMEM. */
int rs_tus_add_checksum(rs_run *run, rs_tus_algo algo, uint64_t start, uint64_t end,
                        struct curl_slist **l);

/* URL store entries of this file at this URL (`what` tells entries apart: "" for one upload,
 * "#parts" for a parallel one). Problems are logged, never returned. */
void rs_tus_store_key(rs_run *run, const char *what, uint8_t key[32]);
void rs_tus_store_put(rs_run *run, const uint8_t key[32], const char *const *urls, size_t n);
void rs_tus_store_drop(rs_run *run, const uint8_t key[32]);

/* The IETF draft dialect (stager_ietf.c), on the same machinery: the headers of a creation
 * (`create`) or PATCH of file bytes [start, end) into *l. RESUMABLE_OK or E_NOMEM. */
int rs_ietf_add_headers(rs_run *run, int create, uint64_t start, uint64_t end,
                        struct curl_slist **l);
/* The upload in the draft dialect, after discovery. */
int rs_ietf_upload(rs_run *run, const rs_tus_server *srv);

/* The upload over one connection (stager_tus.c). */
int rs_tus_single(rs_run *run, const rs_tus_server *srv);
/* The upload over s->o.parallel connections (stager_tus_parallel.c). */
int rs_tus_parallel(rs_run *run, const rs_tus_server *srv);

#endif
