/* The memory store's keys: a hash table of nodes, and the namespace rules that make it behave
 * like a tree of files. A key is *placed* when it has a complete file or a partial; each node
 * counts the placed keys below it, so "is this key a directory?" is one lookup, and a key can
 * be placed only if no segment above it is placed and nothing is placed below it. A partial
 * takes its place at creation (as the POSIX store's claims do), so an upload of "e/f" and one of
 * "e" cannot both be accepted only for one to fail at its end.
 *
 * Buckets are chosen by the key's SHA-256: keys come from the network, and a hash nobody can
 * aim at keeps every chain short. */
#include "store_mem.h"

#include <stdlib.h>
#include <string.h>

#include "debugassert.h"
#include "key.h"
#include "resumable/error.h"
#include "sha256.h"

#define FIRST_BUCKETS 64

static uint64_t hash_of(const char *key, size_t klen)
{
  uint8_t d[32];
  rs_sha256_digest(key, klen, d);
  uint64_t h = 0;
  for (int i = 0; i < 8; i++)
    h = h << 8 | d[i];
  return h;
}

static int placed(const rs_mem_node *n)
{
  return n->complete != NULL || n->partial != NULL;
}

int rs_mem_key_ok(const char *key)
{
  if (key == NULL)
    return 0;
  size_t n = strnlen(key, RS_KEY_MAX + 1);
  return n >= 1 && n <= RS_KEY_MAX;
}

/* The rules the POSIX store repeats for safety; here they keep the tree well formed. */
static int segment_ok(const char *s, size_t n)
{
  if (n == 0 || n > RS_KEY_SEGMENT_MAX)
    return 0;
  if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
    return 0;
  return !(n >= 10 && memcmp(s, ".resumable", 10) == 0);
}

static int segments_ok(const char *key)
{
  const char *p = key, *slash;
  while ((slash = strchr(p, '/')) != NULL) {
    if (!segment_ok(p, (size_t)(slash - p)))
      return 0;
    p = slash + 1;
  }
  return segment_ok(p, strlen(p));
}

static rs_mem_node *lookup(rs_mem *m, const char *key, size_t klen, uint64_t h)
{
  if (m->buckets == NULL)
    return NULL;
  for (rs_mem_node *n = m->buckets[h & (m->nbuckets - 1)]; n != NULL; n = n->next)
    if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
      return n;
  return NULL;
}

rs_mem_node *rs_mem_find(rs_mem *m, const char *key, size_t klen)
{
  return lookup(m, key, klen, hash_of(key, klen));
}

/* Twice the buckets once there are as many nodes as buckets; without memory, longer chains. */
static void maybe_grow(rs_mem *m)
{
  if (m->buckets != NULL && m->nodes < m->nbuckets)
    return;
  size_t count = m->buckets ? m->nbuckets * 2 : FIRST_BUCKETS;
  rs_mem_node **b = calloc(count, sizeof(*b));
  if (b == NULL)
    return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    rs_mem_node *n = m->buckets[i];
    while (n != NULL) {
      rs_mem_node *next = n->next;
      n->next = b[n->hash & (count - 1)];
      b[n->hash & (count - 1)] = n;
      n = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = count;
}

static rs_mem_node *get_or_make(rs_mem *m, const char *key, size_t klen)
{
  uint64_t h = hash_of(key, klen);
  rs_mem_node *n = lookup(m, key, klen, h);
  if (n != NULL)
    return n;
  maybe_grow(m);
  if (m->buckets == NULL)
    return NULL;
  n = calloc(1, sizeof(*n) + klen + 1);
  if (n == NULL)
    return NULL;
  n->hash = h;
  n->klen = klen;
  memcpy(n->key, key, klen);
  n->key[klen] = '\0';
  n->next = m->buckets[h & (m->nbuckets - 1)];
  m->buckets[h & (m->nbuckets - 1)] = n;
  m->nodes++;
  return n;
}

/* Free the node of key[0..klen) if nothing needs it any more. */
static void prune(rs_mem *m, const char *key, size_t klen)
{
  uint64_t h = hash_of(key, klen);
  if (m->buckets == NULL)
    return;
  for (rs_mem_node **at = &m->buckets[h & (m->nbuckets - 1)]; *at != NULL; at = &(*at)->next) {
    rs_mem_node *n = *at;
    if (n->hash != h || n->klen != klen || memcmp(n->key, key, klen) != 0)
      continue;
    if (!placed(n) && n->below == 0) {
      *at = n->next;
      free(n);
      m->nodes--;
    }
    return;
  }
}

int rs_mem_placeable(rs_mem *m, const char *key)
{
  if (!segments_ok(key))
    return RESUMABLE_E_CONFLICT;
  size_t klen = strlen(key);
  for (size_t i = 0; i < klen; i++) {
    if (key[i] != '/')
      continue;
    rs_mem_node *up = rs_mem_find(m, key, i);
    if (up != NULL && placed(up))
      return RESUMABLE_E_CONFLICT; /* a file where a directory would have to be */
  }
  rs_mem_node *n = rs_mem_find(m, key, klen);
  return n != NULL && n->below > 0 ? RESUMABLE_E_CONFLICT : RESUMABLE_OK;
}

int rs_mem_prepare(rs_mem *m, const char *key, rs_mem_node **out)
{
  size_t klen = strlen(key);
  for (size_t i = 0; i <= klen; i++) {
    if (i < klen && key[i] != '/')
      continue;
    rs_mem_node *n = get_or_make(m, key, i);
    if (n == NULL) {
      for (size_t j = 0; j <= i; j++) /* take back the empty nodes made so far */
        if (j == klen || key[j] == '/')
          prune(m, key, j);
      return RESUMABLE_E_NOMEM;
    }
    *out = n;
  }
  return RESUMABLE_OK;
}

void rs_mem_settle(rs_mem *m, rs_mem_node *node, int was)
{
  int now = placed(node);
  size_t klen = node->klen;
  for (size_t i = 0; i < klen; i++) {
    if (node->key[i] != '/')
      continue;
    rs_mem_node *up = rs_mem_find(m, node->key, i);
    RS_DEBUGASSERT(up != NULL); /* rs_mem_prepare made it, and counted keys keep it */
    if (up == NULL)
      continue; /* release: its count is left as it was */
    if (now && !was)
      up->below++;
    else if (was && !now)
      up->below--;
    prune(m, node->key, i);
  }
  prune(m, node->key, klen); /* last: node->key is the name being read */
}

void rs_mem_table_free(rs_mem *m)
{
  for (size_t i = 0; i < m->nbuckets; i++) {
    rs_mem_node *n = m->buckets[i];
    while (n != NULL) {
      rs_mem_node *next = n->next;
      if (n->complete != NULL)
        rs_mem_file_unref(m, n->complete);
      if (n->partial != NULL) {
        n->partial->node = NULL;
        rs_mem_part_unref(m, n->partial);
      }
      free(n);
      n = next;
    }
  }
  free(m->buckets);
  m->buckets = NULL;
  m->nbuckets = m->nodes = 0;
}
