/* The store conformance suite: one set of cases on the contract of include/resumable/store.h,
 * run against every store in the table of conformance_kinds.c (adding a store is one line
 * there). Each case gets a fresh, empty store of one kind and talks to it only through its ops
 * table, as the handler does. */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/store.h"

/* What a kind of store can do beyond the common contract; cases that need it run only there. */
enum {
  CF_REOPEN = 1, /* a second store can be opened on the same storage (a restart) */
  CF_TREE = 2,   /* keys form a tree: a file "e" and a file "e/f" cannot both exist */
  CF_SCAN = 4,   /* has the optional partial_scan */
};

typedef struct store_kind {
  const char *name;
  unsigned caps; /* CF_* */
  /* A fresh, empty store; *ctx is the kind's own state (a temp dir, a peer). 0 or -1. */
  int (*open)(void **ctx, resumable_store **out);
  /* Another store on the storage of `ctx` (the old one is freed first); NULL without
   * CF_REOPEN. 0 or -1. */
  int (*reopen)(void *ctx, resumable_store **out);
  /* Remove what open left behind; the store is freed already. */
  void (*cleanup)(void *ctx);
} store_kind;

extern const store_kind conformance_kinds[];
extern const size_t conformance_kind_count;

/* A case's state. */
typedef struct cf {
  const store_kind *kind;
  void *ctx;
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
} cf;

typedef struct cf_case {
  const char *name;
  void (*fn)(cf *c);
  unsigned needs; /* CF_* the kind must have */
} cf_case;

/* The case lists, one per file. */
extern const cf_case cf_complete_cases[];
extern const size_t cf_complete_count;
extern const cf_case cf_partial_cases[];
extern const size_t cf_partial_count;
extern const cf_case cf_tree_cases[];
extern const size_t cf_tree_count;
extern const cf_case cf_thread_cases[];
extern const size_t cf_thread_count;

/* ---- helpers (conformance_util.c); each asserts on failure unless it returns a code ---- */
/* A restart: free the store, open another on the same storage (CF_REOPEN kinds). */
void cf_reopen(cf *c);
resumable_partial_info cf_info(uint64_t total);
/* `len` bytes of a pattern that differs with `seed` and with the offset. */
void cf_fill(uint8_t *buf, size_t len, unsigned seed, uint64_t offset);
/* A whole-file upload through a staging handle, committed with the true size and SHA-256.
 * Returns the commit's (or the first failing op's) code. */
int cf_put(cf *c, const char *key, const void *data, size_t len);
/* Assert the complete file at `key` is exactly data[0..len) with the matching recorded info,
 * read through a reader in pieces of `piece` bytes. */
void cf_assert_complete(cf *c, const char *key, const void *data, size_t len, size_t piece);
/* How many partials partial_scan visits (key NULL: all), and the first visited key. */
size_t cf_scan_count(cf *c, const char *key, char *first, size_t cap);
/* Seconds on the clock that partial_scan's mtimes use. */
int64_t cf_now(void);

#endif
