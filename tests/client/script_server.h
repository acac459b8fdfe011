/* A scripted HTTP server for the stager tests (libmicrohttpd on 127.0.0.1, port 0): the n-th
 * request gets the n-th scripted answer, and every request is recorded. */
#ifndef SCRIPT_SERVER_H
#define SCRIPT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define SCRIPT_MAX 32

typedef struct script_answer {
  int status;
  const char *headers; /* "Name: value\n" lines; "$SHA" is replaced by the server's sha_hex */
  const char *body;
  int early; /* answer from the headers, without reading the body */
} script_answer;

typedef struct script_record {
  char method[8];
  char content_range[96]; /* "" when absent */
  char sha[80];
  char auth[128];
  char extra[128];          /* the X-Extra header */
  int expect;               /* Expect: 100-continue was sent */
  char upload_offset[32];   /* tus: Upload-Offset, "" when absent */
  char upload_checksum[96]; /* tus: Upload-Checksum, "" when absent */
  char content_digest[128]; /* RFC 9530 Content-Digest, "" when absent */
  char interop[16];         /* IETF draft: Upload-Draft-Interop-Version, "" when absent */
  char upload_complete[8];  /* IETF draft: Upload-Complete, "" when absent */
  uint64_t body;            /* body bytes received */
} script_record;

typedef struct script_server script_server;

/* Start a server answering with `answers` (n of them; later requests get 500). */
script_server *script_start(const script_answer *answers, int n, const char *sha_hex);
/* Port bound on 127.0.0.1. */
unsigned script_port(const script_server *s);
/* Requests seen so far, and their records. */
int script_count(const script_server *s);
const script_record *script_at(const script_server *s, int i);
void script_stop(script_server *s);

/* Answer request `idx` only `ms` milliseconds after its body has fully arrived (the server waits
 * on its own clock; script_stop ends the wait). script_held_ms says how long it did wait. */
void script_hold(script_server *s, int idx, unsigned ms);
uint64_t script_held_ms(const script_server *s, int idx);

/* Call fn(ud) on the server's thread once request `idx` has its whole body (before any hold and
 * before the answer goes out): the client has sent everything and waits for the answer. Lets a
 * test change things at that exact point of a request, without sleeping. */
typedef void (*script_hook_fn)(void *ud);
void script_on_body(script_server *s, int idx, script_hook_fn fn, void *ud);

/* Pad the answer to request `idx` with "X-Pad-<n>: aaa..." header lines of `bytes` in all,
 * `line` bytes each (0: one line), to make its header that large. */
void script_pad(script_server *s, int idx, size_t bytes, size_t line);

/* Model a server that ignores Content-Range: from now on, every completed PUT body replaces
 * the stored file. script_stored returns it (NULL before the first PUT) and its length. */
void script_keep_bodies(script_server *s);
const uint8_t *script_stored(const script_server *s, size_t *len);

#endif
