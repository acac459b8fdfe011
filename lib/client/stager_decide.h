/* What the stager does next, given a response: pure functions of the status, the parsed headers
 * (stager_headers.h) and what we know of the file. PROTOCOL.md, "Client (stager) behaviour".
 * Named rs_stager_decide_*: the server's decision core (lib/decide.h) is rs_decide*. */
#ifndef RESUMABLE_STAGER_DECIDE_H
#define RESUMABLE_STAGER_DECIDE_H

#include <stdint.h>

#include "hash_cache.h" /* rs_hc_key: what identifies one version of one file */
#include "stager_headers.h"

typedef enum rs_probe_next {
  RS_PROBE_SEND,      /* PUT from *offset (0: start over; == size: finish a held upload) */
  RS_PROBE_DONE,      /* the complete file with our hash is there: nothing to send */
  RS_PROBE_WHOLE,     /* no range support (405, no Accept-Ranges: bytes): one whole-file PUT */
  RS_PROBE_TRANSIENT, /* 408, 423, 429, 5xx: wait and probe again */
  RS_PROBE_REFUSED,   /* any other 4xx (401, 403, ...) */
  RS_PROBE_PROTOCOL   /* a status that makes no sense for HEAD (1xx, 3xx, ...) */
} rs_probe_next;

/* Decide from a HEAD answer. `size` and `sha` describe the local file. */
rs_probe_next rs_stager_decide_probe(int status, const rs_resp *r, uint64_t size,
                                     const uint8_t sha[32], uint64_t *offset);

/* The PUT whose answer is being judged. */
typedef struct rs_put_req {
  int whole;      /* no Content-Range (whole file, or an empty file) */
  uint64_t start; /* first byte sent (0 for whole) */
  uint64_t end;   /* one past the last byte sent (size for whole) */
  int finish;     /* the finish PUT: every byte is held, the server commits without our body */
} rs_put_req;

typedef enum rs_put_next {
  RS_PUT_DONE,        /* the server has the complete file */
  RS_PUT_CONTINUE,    /* send from *offset (308, a 2xx to a middle chunk that says what it holds) */
  RS_PUT_UNCONFIRMED, /* a 2xx or 308 to a chunk that did not reach the end of the file claims
                         the whole file without our X-Content-SHA256: not a success (nothing
                         vouches for bytes we never sent); send from *offset, the chunk's end */
  RS_PUT_WHOLE,       /* a 2xx to a middle chunk that does not say what it holds: the server
                       ignores Content-Range (each PUT replaced the file), so send the whole file
                       without Content-Range from byte 0 */
  RS_PUT_COMMITTING,  /* 416 with X-File-Size == size to the finish PUT: the server holds every
                        byte and is committing (an older LocalAI): wait, then probe again */
  RS_PUT_RESYNC,      /* 416: like CONTINUE from *offset, but counted against re-sync loops */
  RS_PUT_REPROBE,     /* 416 without X-File-Size: ask with HEAD */
  RS_PUT_RESTART,     /* 409, or 400 to a chunk that ended at the total: start over from 0 */
  RS_PUT_TRANSIENT,   /* 408, 423, 429, 5xx */
  RS_PUT_REFUSED,     /* any other 4xx (and 400 to a middle chunk) */
  RS_PUT_TOO_LARGE,   /* 413 */
  RS_PUT_PROTOCOL     /* a 2xx that contradicts us (other hash or size), offsets past the file,
                       or a status that makes no sense */
} rs_put_next;

rs_put_next rs_stager_decide_put(int status, const rs_resp *r, const rs_put_req *req, uint64_t size,
                                 const uint8_t sha[32], uint64_t *offset);

/* Did the local file change since it was hashed? `then` and `fd_now` come from fstat of the
 * stager's descriptor; `path_now` from stat of the path it was opened by (NULL when there is no
 * path, e.g. resumable_stager_new_fd, or stat failed other than with ENOENT), `path_gone` set
 * when stat said ENOENT. ctime moves on every write and on chmod, link, unlink and rename, and no
 * unprivileged program can set it back, so it catches an edit whose mtime was restored. */
typedef enum rs_file_change {
  RS_FILE_SAME,
  RS_FILE_REPLACED, /* the path names another file (replaced by rename, or recreated) */
  RS_FILE_GONE,     /* the path names nothing */
  RS_FILE_RESIZED,  /* it grew or shrank */
  RS_FILE_MODIFIED, /* same size, another mtime */
  RS_FILE_STATUS    /* only ctime moved: rewritten with its mtime put back, renamed, chmod... */
} rs_file_change;

rs_file_change rs_stager_decide_file(const rs_hc_key *then, const rs_hc_key *fd_now,
                                     const rs_hc_key *path_now, int path_gone);

/* ---- relays that cut every connection after about the same number of bytes ----
 * A cut is a PUT whose connection broke while its body was going out, with no answer. What
 * counts is what the connection carried: the body bytes of the requests it served before, plus
 * what reached the server from the cut one (what HEAD says is held now minus where it started).
 * A first cut is followed by a test: a PUT slightly larger than that count (an eighth, at most
 * RS_CAP_TEST_OVER), on a new connection. A relay that caps connections cuts it again near the
 * same count, which confirms the cap: from then on every PUT fits under it, each on a new
 * connection. Cuts at scattered counts, or that moved little, are ordinary failures; a test
 * that moved nothing is repeated once. A suspect refuted (a PUT answered after its connection
 * carried more) was a wrong count: the PUT after it goes on a new connection too.
 * Bytes in flight when a cut comes are lost (they sat in the relay's and the kernels' buffers,
 * megabytes on a fast path), but some may still be on their way into the server: a PUT that
 * takes the key over then would lose those too. So a cut is judged once the server's count has
 * settled (rs_settle_probe): when two probes RS_SETTLE_GAP_MS apart give the same count, or
 * when the count accounts for every byte the cut request wrote. (Even a few KiB unaccounted for
 * may still be on their way: judged early, the count would be short, and a test PUT sized on it
 * could fit under the cap and refute it.) A settled cut that tests or fits a cap goes on at
 * once, without a backoff wait; a count still moving after RS_SETTLE_PROBES probes is judged as
 * it stands, and the next PUT waits as after any failure. */
#define RS_CAP_MIN (16u << 10)        /* cuts of connections that carried less are ordinary */
#define RS_CAP_TEST_OVER (128u << 10) /* a test PUT carries up to this much more than the count */
#define RS_SETTLE_GAP_MS 40u          /* between the probes that wait for the count to settle */
#define RS_SETTLE_PROBES 12u          /* probes after a cut before the count counts as unsettled */

/* After a cut: where the cut PUT started and what it wrote, and the probes since. */
typedef struct rs_settle {
  uint64_t start;  /* the cut PUT's first byte */
  uint64_t base;   /* body bytes its connection had carried before it */
  uint64_t sent;   /* body bytes it had written when the connection broke */
  uint64_t last;   /* the count of the last probe since the cut */
  unsigned probes; /* probes since the cut */
} rs_settle;

typedef enum rs_settle_next {
  RS_SETTLE_JUDGE, /* the count has settled: judge the cut (rs_cap_cut, settled) */
  RS_SETTLE_PROBE, /* it may still move: probe again after RS_SETTLE_GAP_MS */
  RS_SETTLE_UNSURE /* still moving after RS_SETTLE_PROBES probes: judge it, unsettled */
} rs_settle_next;

/* A probe after the cut described by `s` says the server holds `held` bytes. *carried gets the
 * body bytes the cut's connection carried by that count. */
rs_settle_next rs_settle_probe(rs_settle *s, uint64_t held, uint64_t *carried);

typedef struct rs_cap {
  uint64_t suspect; /* bytes the connection of the last cut carried, not refuted yet (0: none) */
  uint64_t cap;     /* confirmed: a connection carries about this many body bytes (0: none) */
  int testing;      /* `suspect` is being tested: PUTs go on new connections */
  int retested;     /* a test delivered nothing and is being repeated (once) */
  int refuted;      /* the last answer refuted `suspect`: the next PUT, too, goes on a new
                       connection, so that a cut of it counts its own bytes only */
} rs_cap;

typedef enum rs_cut_next {
  RS_CUT_WAIT, /* an ordinary failure: back off, probe again */
  RS_CUT_TEST, /* the next PUT tests for a cap near `suspect` */
  RS_CUT_FIT   /* a cap near `cap` is confirmed: every PUT fits under it */
} rs_cut_next;

/* A cut of a connection that carried `carried` body bytes in all, judged on a count that has
 * `settled` (rs_settle_probe) or not. *at_once says whether to go on without a wait (never for
 * RS_CUT_WAIT, nor when unsettled). */
rs_cut_next rs_cap_cut(rs_cap *c, uint64_t carried, int settled, int *at_once);

/* A PUT was answered; its connection has carried `carried` body bytes in all (0 when it
 * delivered nothing). More than the suspected cap refutes it. */
void rs_cap_delivered(rs_cap *c, uint64_t carried);

/* Body bytes the next PUT may carry (0: no limit, the rest of the file or the chunk size), and
 * in *fresh whether it needs a connection of its own (closed after it: a reused one has spent
 * part of the relay's allowance). */
uint64_t rs_put_limit(const rs_cap *c, int *fresh);

/* 408, 423, 429 and 5xx: worth retrying after a wait. */
int rs_status_transient(int status);

#endif
