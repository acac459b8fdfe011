/* partial_scan for the memory store: the keys and mtimes are copied under the lock and the
 * visitor is called after it is released, so a visitor may call any op (even one that changes
 * the table) without deadlock or a table changing under the walk. */
#include "store_mem.h"

#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"

typedef struct scan_item {
  const char *key; /* into the snapshot's text */
  int64_t mtime;
} scan_item;

typedef struct snapshot {
  scan_item *items;
  size_t n;
  char *text;
  size_t bytes; /* of text */
} snapshot;

/* Under mu: fn for every node with a partial, or only for `key`'s. */
static void each(rs_mem *m, const char *key, void (*fn)(const rs_mem_node *, snapshot *),
                 snapshot *s)
{
  if (key != NULL) {
    const rs_mem_node *n = rs_mem_find(m, key, strlen(key));
    if (n != NULL && n->partial != NULL)
      fn(n, s);
    return;
  }
  for (size_t i = 0; i < m->nbuckets; i++)
    for (const rs_mem_node *n = m->buckets[i]; n != NULL; n = n->next)
      if (n->partial != NULL)
        fn(n, s);
}

static void count(const rs_mem_node *n, snapshot *s)
{
  s->n++;
  s->bytes += n->klen + 1;
}

static void copy(const rs_mem_node *n, snapshot *s)
{
  char *t = s->text + s->bytes;
  memcpy(t, n->key, n->klen + 1);
  s->items[s->n].key = t;
  s->items[s->n++].mtime = n->partial->mtime;
  s->bytes += n->klen + 1;
}

/* Under mu: the copy, sized in a first pass and filled in a second. */
static int take(rs_mem *m, const char *key, snapshot *s)
{
  each(m, key, count, s);
  if (s->n == 0)
    return RESUMABLE_OK;
  s->items = malloc(s->n * sizeof(*s->items));
  s->text = malloc(s->bytes);
  if (s->items == NULL || s->text == NULL) {
    s->n = 0;
    return RESUMABLE_E_NOMEM;
  }
  s->n = s->bytes = 0;
  each(m, key, copy, s);
  return RESUMABLE_OK;
}

int rs_mem_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg)
{
  rs_mem *m = self;
  snapshot s = {NULL, 0, NULL, 0};
  if (m == NULL || fn == NULL || (key != NULL && !rs_mem_key_ok(key)))
    return RESUMABLE_E_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  int rc = take(m, key, &s);
  pthread_mutex_unlock(&m->mu);
  for (size_t i = 0; rc == RESUMABLE_OK && i < s.n; i++)
    if (fn(arg, s.items[i].key, s.items[i].mtime) != 0)
      break;
  free(s.items);
  free(s.text);
  return rc;
}
