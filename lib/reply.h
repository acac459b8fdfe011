/* A reply being built: status, a short list of headers, and a body that is either a short
 * owned text (error text, JSON) or a byte range of a complete file read through the store. */
#ifndef RESUMABLE_REPLY_H
#define RESUMABLE_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "resumable/store.h"

#define RS_REPLY_MAX_HEADERS 10

typedef struct rs_reply {
  int status;
  size_t count;
  const char *names[RS_REPLY_MAX_HEADERS]; /* static strings */
  char *values[RS_REPLY_MAX_HEADERS];      /* owned */
  char *text;                              /* owned short body, or NULL */
  uint64_t length;                         /* body length to advertise */
  uint64_t pos;                            /* bytes of the body read so far */
  int no_body;                             /* HEAD: advertise `length`, send nothing */
  /* file body: bytes [first, first + length) of an open complete file */
  const resumable_store_ops *ops;
  void *self;
  void *reader;
  uint64_t first;
} rs_reply;

/* Free everything and close the reader; leaves an empty reply (status 0). */
void rs_reply_clear(rs_reply *r);

/* Add a header; the value is formatted (printf). Out of memory or a full list turns the reply
 * into a bare 500 (see rs_reply_oom). Returns RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int rs_reply_header(rs_reply *r, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clear, then a `status` reply with Content-Type: text/plain and body `text` + "\n". */
int rs_reply_text(rs_reply *r, int status, const char *text);

/* Set the body to an owned copy of `body` with Content-Type `type`. */
int rs_reply_body(rs_reply *r, const char *type, const char *body, size_t len);

/* Replace whatever was built with a 500 that needs no allocation. */
void rs_reply_oom(rs_reply *r);

/* Read the next body bytes. Returns RESUMABLE_OK or RESUMABLE_E_IO. */
int rs_reply_read(rs_reply *r, void *buf, size_t cap, size_t *got);

/* Append `s` JSON-escaped (without quotes) into buf at *len, within cap (NUL kept). Valid
 * UTF-8 passes through; any other byte >= 0x80 becomes \ufffd, so the result is valid JSON.
 * Returns 0, or -1 if it does not fit. Pure. */
int rs_json_escape(const char *s, char *buf, size_t cap, size_t *len);

#endif
