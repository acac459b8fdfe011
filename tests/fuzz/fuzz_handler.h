/* Shared by the handler harness's files: fuzz_handler.c drives the exchanges,
 * fuzz_handler_plan.c decodes the input into requests, fuzz_handler_reply.c checks each reply and
 * fuzz_handler_state.c checks what the store holds. */
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
#define SWEEP_OP 0xe0   /* 0xe0..0xef: resumable_server_sweep */
#define RESTART_OP 0xf0 /* 0xf0..0xff: close and reopen the server on the same root */

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

typedef struct request {
  const char *method;
  int is_put, is_get;
  char path[160];
  char key[RS_KEY_MAX + 1]; /* decoded, "" if invalid */
  size_t nhdr;
  char names[MAX_HEADERS][32];
  char values[MAX_HEADERS][128];
  int auth_good;
  int has_range;    /* a well-formed, non-query range was sent */
  uint64_t total;   /* the total the request announces */
  uint8_t seed;     /* content seed */
  uint64_t offset;  /* first content byte of the body */
  size_t body_len;  /* bytes actually sent */
  size_t piece;
  int dropped;
  int pause;
  int sent_good_hash;
  int sent_hash;    /* a well-formed X-Content-SHA256 (right or wrong), in `sha` */
  uint8_t sha[32];
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
  size_t budget; /* body bytes left for this input */
} fuzz_ctx;

/* What the store holds for each key used so far. */
typedef struct key_state {
  int partial, complete, has_target, pad;
  uint64_t held, total, size;
  uint8_t sha[32], target[32];
} key_state;

extern char parent_dir[256];
extern char root_dir[300];
extern char real_root[4096]; /* root_dir without symbolic links, as X-Local-Path shows it */
extern int trace;            /* RESUMABLE_FUZZ_TRACE=1: print every step (when replaying) */

/* fuzz_handler_plan.c */
uint8_t rd_u8(reader *r);
int plan_request(fuzz_ctx *c, reader *r, request *q);
uint8_t content_byte(uint8_t seed, uint64_t i);
void hex_of(const uint8_t d[32], char out[65], int upper);
uint64_t held_of(fuzz_ctx *c, const char *key);

/* fuzz_handler_reply.c */
const char *reply_header(resumable_exchange *ex, const char *name);
uint64_t header_u64(const char *v);
int open_final(const char *key);
uint64_t hash_fd(int fd, uint8_t out[32]);
size_t read_reply(resumable_exchange *ex, uint8_t *buf, size_t cap);
void check_reply(fuzz_ctx *c, const request *q, resumable_exchange *ex, int alone);

/* fuzz_handler_state.c */
void snapshot_parent(void);
void check_state(fuzz_ctx *c, int full);
void snapshot(fuzz_ctx *c, key_state *out);
void check_effect(fuzz_ctx *c, const request *q, const key_state *before,
                  const key_state *after, int st, int at_headers, const resumable_exchange *ex);

#endif
