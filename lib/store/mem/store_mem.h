/* The memory store's internals, shared by its files:
 *   store_mem.c          creation, the ops table, the byte budget, usage
 *   store_mem_buf.c      a growable byte buffer in blocks (no copy when it grows)
 *   store_mem_table.c    the key table and the namespace (which keys can be placed)
 *   store_mem_partial.c  partial_* ops
 *   store_mem_scan.c     partial_scan
 *   store_mem_complete.c complete_* ops
 *
 * State: one table of nodes, one per key that has a complete file, a partial, or keys below it
 * ("<key>/..."). A complete file is an immutable, reference-counted version: readers hold it, so
 * a commit or remove never changes what an open reader sees. A partial (or staging upload) is a
 * record shared by its handles and, while it is the key's partial, by the node.
 *
 * Locking: one mutex (rs_mem.mu) guards the table, every node, reference counts, the budget and
 * each record's metadata and mtime. Bytes are copied outside it: a version's bytes never change,
 * and a record's bytes are only touched through its handles, which the handler never uses
 * concurrently for one key. */
#ifndef RESUMABLE_STORE_MEM_H
#define RESUMABLE_STORE_MEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "resumable/store.h"

/* ---- store_mem_buf.c ---- */
/* Bytes live in blocks of this size, so a long upload grows without copying and holds at most
 * one partly used block; a short one uses a single block sized to fit. */
#define RS_MEM_BLOCK ((size_t)256 << 10)
typedef struct rs_mem_buf {
  uint8_t **blocks;
  size_t nblocks; /* blocks allocated */
  size_t slots;   /* capacity of `blocks` */
  size_t cap0;    /* capacity of blocks[0] (RS_MEM_BLOCK once there is a second block) */
  uint64_t len;   /* bytes held */
} rs_mem_buf;
/* Write len bytes at off (off <= b->len). All or nothing: on RESUMABLE_E_NOMEM nothing changed. */
int rs_mem_buf_write(rs_mem_buf *b, uint64_t off, const void *src, size_t len);
/* Copy up to len bytes from off; returns the count (0 at or past the end). */
size_t rs_mem_buf_read(const rs_mem_buf *b, uint64_t off, void *dst, size_t len);
/* Shorten to len (no-op if not shorter), freeing the blocks no longer needed. */
void rs_mem_buf_truncate(rs_mem_buf *b, uint64_t len);
void rs_mem_buf_free(rs_mem_buf *b);

/* ---- records ---- */
typedef struct rs_mem_node rs_mem_node;

/* A complete file's version. */
typedef struct rs_mem_file {
  size_t refs; /* the node while current, plus open readers */
  rs_mem_buf buf;
  resumable_complete_info info;
} rs_mem_file;

/* A partial upload or a staging upload. */
typedef struct rs_mem_part {
  size_t refs;       /* open handles, plus the node while it is the key's partial */
  rs_mem_node *node; /* the node whose partial this is; NULL for staging or once dropped */
  rs_mem_buf buf;    /* bytes written: the synced `held` and any unsynced tail */
  resumable_partial_info info; /* as of the last sync (held <= buf.len) */
  int64_t mtime;               /* last write or sync, seconds since the epoch */
} rs_mem_part;

struct rs_mem_node {
  rs_mem_node *next; /* hash chain */
  uint64_t hash;
  rs_mem_file *complete; /* NULL: no complete file */
  rs_mem_part *partial;  /* NULL: no partial */
  size_t below;          /* placed keys (complete or partial) under "<key>/" */
  size_t klen;
  char key[];
};

typedef struct rs_mem {
  pthread_mutex_t mu;
  rs_mem_node **buckets;
  size_t nbuckets; /* a power of two */
  size_t nodes;
  uint64_t max_bytes; /* 0: no budget */
  uint64_t used;      /* bytes in every buffer (partials, staging uploads, versions) */
} rs_mem;

/* ---- store_mem.c (all under mu) ---- */
/* Account for `n` more bytes: RESUMABLE_OK or RESUMABLE_E_NOSPACE (nothing accounted). */
int rs_mem_reserve(rs_mem *m, uint64_t n);
void rs_mem_release(rs_mem *m, uint64_t n);
/* Drop a reference; the last one frees the version or record and its bytes. */
void rs_mem_file_unref(rs_mem *m, rs_mem_file *f);
void rs_mem_part_unref(rs_mem *m, rs_mem_part *p);
/* Seconds since the epoch on the clock resumable_server_sweep compares with. */
int64_t rs_mem_now(void);

/* ---- store_mem_table.c (all under mu) ---- */
/* 1..RS_KEY_MAX bytes. */
int rs_mem_key_ok(const char *key);
/* The node of key[0..klen), or NULL. */
rs_mem_node *rs_mem_find(rs_mem *m, const char *key, size_t klen);
/* Can `key` become a complete file or partial? RESUMABLE_OK (also when it already is one), or
 * RESUMABLE_E_CONFLICT: a malformed key (empty, "." or ".." segment, a segment starting with
 * ".resumable", as the POSIX store refuses), a segment above it that is a file or partial, or
 * keys below it. */
int rs_mem_placeable(rs_mem *m, const char *key);
/* The node of `key` and of each segment above it, created if missing (so that placing the key
 * cannot fail later); RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int rs_mem_prepare(rs_mem *m, const char *key, rs_mem_node **out);
/* Call after setting or clearing node->complete / node->partial: `was` is whether the key was
 * placed before. Counts the key in the nodes above it, and frees nodes left empty. */
void rs_mem_settle(rs_mem *m, rs_mem_node *node, int was);
/* Free every node (destroy). */
void rs_mem_table_free(rs_mem *m);

/* ---- the ops ---- */
int rs_mem_partial_stat(void *self, const char *key, resumable_partial_info *out);
int rs_mem_partial_open(void *self, const char *key, resumable_partial_mode mode,
                        const resumable_partial_info *info, void **handle,
                        resumable_partial_info *out);
int rs_mem_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len);
int rs_mem_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                        size_t *got);
int rs_mem_partial_sync(void *self, void *handle, const resumable_partial_info *info);
int rs_mem_partial_commit(void *self, void *handle, const resumable_complete_info *info);
void rs_mem_partial_close(void *self, void *handle);
int rs_mem_partial_remove(void *self, const char *key);
/* store_mem_scan.c */
int rs_mem_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg);

int rs_mem_complete_stat(void *self, const char *key, resumable_complete_info *out);
int rs_mem_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out);
int rs_mem_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                         size_t *got);
void rs_mem_complete_close(void *self, void *reader);
int rs_mem_complete_remove(void *self, const char *key);

#endif
