/* partial_scan of the S3 store. With a key: that key's newest record, if it is a live partial.
 * Without: one listing of ".resumable/up/", every key's newest record read once (for its key
 * and state), and the housekeeping nobody else does, limited to things older than the orphan
 * age so that no writer still at work is disturbed:
 *   - records and tails that the newest record does not name (left by crashed writers),
 *   - chains that end in a tombstone (a removed or committed partial; for a removed
 *     concatenation part, its sealed object too),
 *   - multipart uploads under the prefix that no newest record names (a writer died between
 *     creating one and recording it, or a whole-file PUT never finished). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

typedef struct entry {
  char *name;
  int64_t mtime;
} entry;

typedef struct listing {
  entry *e;
  size_t n, cap;
  int nomem;
} listing;

static int add_entry(void *arg, const char *name, uint64_t size, int64_t mtime)
{
  listing *l = arg;
  (void)size;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    entry *b = realloc(l->e, cap * sizeof(*b));
    if (!b) {
      l->nomem = 1;
      return 1;
    }
    l->e = b;
    l->cap = cap;
  }
  size_t k = strlen(name) + 1;
  if (!(l->e[l->n].name = malloc(k))) {
    l->nomem = 1;
    return 1;
  }
  memcpy(l->e[l->n].name, name, k);
  l->e[l->n++].mtime = mtime;
  return 0;
}

static void listing_free(listing *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->e[i].name);
  free(l->e);
}

/* Upload ids still in use, kept sorted for the orphan check. */
typedef struct idset {
  char **ids;
  size_t n, cap;
} idset;

static int idset_add(idset *s, const char *id)
{
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **b = realloc(s->ids, cap * sizeof(*b));
    if (!b)
      return -1;
    s->ids = b;
    s->cap = cap;
  }
  size_t k = strlen(id) + 1;
  if (!(s->ids[s->n] = malloc(k)))
    return -1;
  memcpy(s->ids[s->n++], id, k);
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void idset_free(idset *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->ids[i]);
  free(s->ids);
}

typedef struct scan_ctx {
  s3_store *s;
  resumable_partial_visit_fn fn;
  void *arg;
  int stopped;
  int64_t old; /* things last changed at or before this are orphans */
  idset live;
  int nomem;
} scan_ctx;

/* The part of a listed name after "<P>.resumable/up/<hex>/", or NULL. */
static const char *leaf_of(const char *name, size_t dir_len)
{
  return strlen(name) > dir_len ? name + dir_len : NULL;
}

/* One key's directory: entries [a, b) of the listing, all under the same <hex>/. */
static void visit_dir(scan_ctx *c, const listing *l, size_t a, size_t b, size_t dir_len)
{
  char dir[S3_NAME_MAX], key_hex[S3_HEX_KEY + 1];
  memcpy(dir, l->e[a].name, dir_len);
  dir[dir_len] = '\0';
  memcpy(key_hex, dir + dir_len - S3_HEX_KEY - 1, S3_HEX_KEY);
  key_hex[S3_HEX_KEY] = '\0';
  /* the newest record: the last "state-" name in listing order */
  size_t newest = b;
  for (size_t i = a; i < b; i++) {
    const char *leaf = leaf_of(l->e[i].name, dir_len);
    if (leaf && strncmp(leaf, "state-", 6) == 0)
      newest = i;
  }
  if (newest == b)
    return; /* tails without a record: a crashed first sync; left to age out below */
  /* the listing names keys by their hash: the record says which key it is */
  s3_state st;
  char *buf = NULL;
  size_t len = 0;
  int rc = s3_get_record(c->s, l->e[newest].name, &buf, &len);
  if (rc == RESUMABLE_OK) {
    rc = s3_state_decode(buf, len, &st);
    free(buf);
  }
  if (rc != RESUMABLE_OK)
    return;
  char hex[S3_HEX_KEY + 1];
  s3_key_hex(st.key, hex);
  int64_t mtime = l->e[newest].mtime;
  if (strcmp(hex, key_hex) != 0) {
    s3_state_free(&st);
    return; /* a record that does not belong here: never applied */
  }
  if (st.gone) {
    char object[S3_NAME_MAX];
    if (mtime <= c->old) {
      for (size_t i = a; i < b; i++)
        s3_delete_quiet(c->s, l->e[i].name);
      /* a removed concatenation part's sealed object, if its removal stopped before it */
      if (s3_part_key(st.key) && s3_object(c->s, st.key, object, sizeof(object)) == 0)
        s3_delete_quiet(c->s, object);
    }
    s3_state_free(&st);
    return;
  }
  if (st.upload[0] && idset_add(&c->live, st.upload) != 0)
    c->nomem = 1;
  for (size_t i = a; i < b; i++) {
    const char *leaf = leaf_of(l->e[i].name, dir_len);
    if (i == newest || !leaf || (st.tail[0] && strcmp(leaf, st.tail) == 0))
      continue;
    if (l->e[i].mtime <= c->old)
      s3_delete_quiet(c->s, l->e[i].name);
  }
  if (!c->stopped && c->fn(c->arg, st.key, mtime) != 0)
    c->stopped = 1;
  s3_state_free(&st);
}

static int abort_orphan(void *arg, const char *name, const char *upload, int64_t initiated)
{
  scan_ctx *c = arg;
  const char *id = upload;
  if (initiated < 0 || initiated > c->old)
    return 0;
  if (c->live.n > 0 && bsearch(&id, c->live.ids, c->live.n, sizeof(*c->live.ids), cmp_str) != NULL)
    return 0;
  s3_mpu_abort(c->s, name, upload);
  return 0;
}

static int scan_all(s3_store *s, resumable_partial_visit_fn fn, void *arg)
{
  char root[S3_NAME_MAX];
  if (s3_object(s, ".resumable/up/", root, sizeof(root)) != 0)
    return RESUMABLE_E_IO;
  listing l = {0};
  int rc = s3_list(s, root, add_entry, &l);
  if (rc == RESUMABLE_OK && l.nomem)
    rc = RESUMABLE_E_NOMEM;
  scan_ctx c = {.s = s, .fn = fn, .arg = arg, .old = s3_now() - (int64_t)s->orphan_age};
  size_t dir_len = strlen(root) + S3_HEX_KEY + 1;
  for (size_t a = 0; rc == RESUMABLE_OK && a < l.n;) {
    size_t b = a + 1;
    if (strlen(l.e[a].name) <= dir_len || l.e[a].name[dir_len - 1] != '/') {
      a = b; /* not <hex>/<leaf>: not ours */
      continue;
    }
    while (b < l.n && strncmp(l.e[b].name, l.e[a].name, dir_len) == 0)
      b++;
    visit_dir(&c, &l, a, b, dir_len);
    a = b;
  }
  listing_free(&l);
  /* orphans only once every live upload is known (a stopped or failed scan knows fewer) */
  if (rc == RESUMABLE_OK && !c.stopped && !c.nomem) {
    if (c.live.n > 1)
      qsort(c.live.ids, c.live.n, sizeof(*c.live.ids), cmp_str);
    char prefix[S3_NAME_MAX];
    if (s3_object(s, "", prefix, sizeof(prefix)) == 0)
      (void)s3_mpu_list(s, prefix, abort_orphan, &c);
  }
  idset_free(&c.live);
  return rc;
}

int s3_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg)
{
  s3_store *s = self;
  if (!key)
    return scan_all(s, fn, arg);
  if (s3_partial_key_check(key, 0) != RESUMABLE_OK)
    return RESUMABLE_OK; /* no partial can exist under such a key */
  s3_state st;
  int64_t mtime = 0;
  int rc = s3_chain_newest_at(s, key, &st, &mtime);
  if (rc == RESUMABLE_E_NOT_FOUND)
    return RESUMABLE_OK;
  if (rc != RESUMABLE_OK)
    return rc;
  if (!st.gone)
    fn(arg, key, mtime);
  s3_state_free(&st);
  return RESUMABLE_OK;
}
