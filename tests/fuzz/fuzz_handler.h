/* Shared by the handler harness's files: fuzz_handler.c drives the exchanges,
 * fuzz_handler_plan.c decodes the input into requests, fuzz_handler_reply.c checks each reply,
 * fuzz_handler_state.c checks what the store holds through its ops, and one backend provides
 * the store and checks its own invariants: fuzz_handler_mem.c (the memory store: fuzz_handler)
 * or fuzz_handler_fs.c (the POSIX store: fuzz_handler_fs). */
#ifndef RESUMABLE_FUZZ_HANDLER_H
#define RESUMABLE_FUZZ_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_check.h"
#include "key.h"
#include "resumable/server.h"
#include "resumable/store.h"

#define MAX_REQUESTS 8
#define MAX_BODY 4096
#define MAX_KEYS MAX_REQUESTS
#define MAX_HEADERS 10
#define TOKEN "s3cret-token"
#define MAX_SIZE 100
#define MAX_FILE (MAX_BODY + 16) /* the largest complete file an input can make */
#define SWEEP_OP 0xe0            /* 0xe0..0xef: resumable_server_sweep */
#define RESTART_OP 0xf0          /* 0xf0..0xff: close and reopen the server on the same root */

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

typedef struct request {
  const char *method;
  int is_put, is_get;
  int is_draft; /* an IETF draft request (plan_draft): none of the LocalAI checks apply */
  char path[160];
  char key[RS_KEY_MAX + 1]; /* decoded, "" if invalid */
  size_t nhdr;
  char names[MAX_HEADERS][32];
  char values[MAX_HEADERS][128];
  int auth_good;
  int has_range;   /* a well-formed, non-query range was sent */
  uint64_t total;  /* the total the request announces */
  uint8_t seed;    /* content seed */
  uint64_t offset; /* first content byte of the body */
  size_t body_len; /* bytes actually sent */
  size_t piece;
  int dropped;
  int pause;
  int sent_good_hash;
  int sent_hash; /* a well-formed X-Content-SHA256 (right or wrong), in `sha` */
  uint8_t sha[32];
  int digest; /* Content-Digest: 0 none, 1 of the bytes sent, 2 wrong, 3 malformed */
} request;

typedef struct fuzz_ctx {
  resumable_server *srv;
  const resumable_store_ops *ops;
  void *self;
  int token;
  uint64_t max_size;
  const char *prefix;
  int expose;
  char keys[MAX_KEYS][RS_KEY_MAX + 1];
  size_t nkeys;
  size_t budget;   /* body bytes left for this input */
  int may_run_out; /* the store has a byte budget (memory backend) */
} fuzz_ctx;

/* What the store holds for each key used so far. */
typedef struct key_state {
  int partial, complete, has_target, pad;
  uint64_t held, total, size;
  uint8_t sha[32], target[32];
} key_state;

extern int trace; /* RESUMABLE_FUZZ_TRACE=1: print every step (when replaying) */

/* The backend (fuzz_handler_mem.c or fuzz_handler_fs.c). */
/* Fresh, empty storage for an input; `config` is the input's first byte. Sets c->ops and
 * c->self if the storage has one store for good (see backend_keeps_server). */
void backend_begin(fuzz_ctx *c, uint8_t config);
/* Whether a server may stay up from one input to the next (the storage is emptied under it). */
int backend_keeps_server(void);
/* The first server is up: take any snapshot the checks compare with. */
void backend_started(fuzz_ctx *c);
/* A store on that storage for a new server, which takes it; sets c->ops and c->self. */
resumable_store *backend_store(fuzz_ctx *c);
/* The backend's own invariants; `full` when no exchange is open (also slower checks). */
void backend_check(fuzz_ctx *c, int full);
/* Drop the storage (the server is idle, or freed). */
void backend_end(fuzz_ctx *c);
/* The directory X-Local-Path names files under, or NULL if the store names no files. */
const char *backend_local_root(void);
/* Whether the store may run out of space in this input (a 507 is then allowed). */
int backend_may_run_out(const fuzz_ctx *c);

/* fuzz_handler_plan.c */
uint8_t rd_u8(reader *r);
int plan_request(fuzz_ctx *c, reader *r, request *q);
uint8_t content_byte(uint8_t seed, uint64_t i);
void hex_of(const uint8_t d[32], char out[65], int upper);
uint64_t held_of(fuzz_ctx *c, const char *key);

/* fuzz_handler_reply.c */
const char *reply_header(resumable_exchange *ex, const char *name);
uint64_t header_u64(const char *v);
size_t read_reply(resumable_exchange *ex, uint8_t *buf, size_t cap);
void check_reply(fuzz_ctx *c, const request *q, resumable_exchange *ex, int alone);

/* fuzz_handler_state.c */
/* The complete file at `key` read through the store into buf (at least MAX_FILE bytes): its
 * length, and the info complete_open gave. 0 if there is none. */
int read_complete(fuzz_ctx *c, const char *key, uint8_t *buf, size_t *len,
                  resumable_complete_info *info);
void check_state(fuzz_ctx *c, int full);
void snapshot(fuzz_ctx *c, key_state *out);
/* Add a key to the ones the checks follow (a draft creation at the prefix names its own). */
void remember_key(fuzz_ctx *c, const char *key);
void check_effect(fuzz_ctx *c, const request *q, const key_state *before, const key_state *after,
                  int st, int at_headers, const resumable_exchange *ex);

#endif
