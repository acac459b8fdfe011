/* The handler harness over the memory store (fuzz_handler): one store for the process, emptied
 * after every input, and lent to each server (freeing a server, at a restart, leaves it alone),
 * so a server can stay up from one input to the next. With config bit 5 the store has a byte
 * budget of MEM_BUDGET, small enough that uploads run out (507).
 * Its own invariants, read from the store's internals (store_mem.h) after every request:
 * - the table holds no key that no request named: every placed key (with a complete file or a
 *   partial) is a key used so far, every other node a directory above one;
 * - the namespace: each node's count of placed keys below it is exact, no placed key has a
 *   placed key above or below it, and no node is empty;
 * - records: a version's bytes are its recorded size, a partial's held count is within its
 *   bytes and it points back at its node;
 * - the budget: bytes counted are at least those in the table (exactly those when no exchange
 *   is open, as then no reader or staging upload holds any), never over the budget, and zero
 *   once the input's keys are dropped (a reference held past its exchange would show here). */
#include <string.h>

#include "fuzz_handler.h"
#include "resumable/error.h"
#include "store_mem.h"
#include "store_internal.h"

#define MEM_BUDGET 300

static resumable_store *mem;         /* the store, for the whole process */
static resumable_store_ops lent_ops; /* its ops, but freeing the server leaves it alone */

static void keep(void *self)
{
  (void)self;
}

void backend_begin(fuzz_ctx *c, uint8_t config)
{
  if (mem == NULL) {
    FUZZ_CHECK(resumable_store_mem_new(&mem, 0) == RESUMABLE_OK);
    lent_ops = *resumable_store_ops_of(mem);
    lent_ops.destroy = keep;
  }
  rs_mem *m = resumable_store_self(mem);
  c->may_run_out = (config & 0x20) != 0;
  pthread_mutex_lock(&m->mu);
  m->max_bytes = c->may_run_out ? MEM_BUDGET : 0;
  pthread_mutex_unlock(&m->mu);
  c->ops = &lent_ops;
  c->self = m;
}

int backend_keeps_server(void)
{
  return 1;
}

void backend_started(fuzz_ctx *c)
{
  (void)c;
}

resumable_store *backend_store(fuzz_ctx *c)
{
  resumable_store *store = NULL;
  FUZZ_CHECK(resumable_store_new(&store, &lent_ops, resumable_store_self(mem)) == RESUMABLE_OK);
  c->ops = &lent_ops;
  c->self = resumable_store_self(mem);
  return store;
}

static int placed(const rs_mem_node *n)
{
  return n->complete != NULL || n->partial != NULL;
}

/* Is `a` (alen bytes) a directory above key `b`? */
static int above(const char *a, size_t alen, const char *b)
{
  return strlen(b) > alen && memcmp(a, b, alen) == 0 && b[alen] == '/';
}

static int known(const fuzz_ctx *c, const rs_mem_node *n)
{
  for (size_t i = 0; i < c->nkeys; i++)
    if (placed(n) ? strcmp(c->keys[i], n->key) == 0 : above(n->key, n->klen, c->keys[i]))
      return 1;
  return 0;
}

static size_t count_below(const rs_mem *m, const rs_mem_node *n)
{
  size_t count = 0;
  for (size_t i = 0; i < m->nbuckets; i++)
    for (const rs_mem_node *o = m->buckets[i]; o != NULL; o = o->next)
      count += placed(o) && above(n->key, n->klen, o->key);
  return count;
}

static void check_node(const fuzz_ctx *c, rs_mem *m, const rs_mem_node *n, uint64_t *bytes)
{
  FUZZ_CHECK(placed(n) || n->below > 0);
  if (!known(c, n))
    fprintf(stderr, "the store holds \"%s\", which no request named\n", n->key);
  FUZZ_CHECK(known(c, n));
  FUZZ_CHECK(n->below == count_below(m, n));
  if (placed(n)) {
    FUZZ_CHECK(n->below == 0);
    for (size_t i = 0; i < n->klen; i++) {
      const rs_mem_node *up = n->key[i] == '/' ? rs_mem_find(m, n->key, i) : NULL;
      FUZZ_CHECK(up == NULL || !placed(up));
    }
  }
  if (n->complete != NULL) {
    FUZZ_CHECK(n->complete->refs >= 1 && n->complete->buf.len == n->complete->info.size);
    *bytes += n->complete->buf.len;
  }
  if (n->partial != NULL) {
    FUZZ_CHECK(n->partial->node == n && n->partial->refs >= 1);
    FUZZ_CHECK(n->partial->info.held <= n->partial->buf.len);
    *bytes += n->partial->buf.len;
  }
}

void backend_check(fuzz_ctx *c, int full)
{
  rs_mem *m = resumable_store_self(mem);
  uint64_t bytes = 0, used = 0;
  size_t nodes = 0;
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < m->nbuckets; i++)
    for (const rs_mem_node *n = m->buckets[i]; n != NULL; n = n->next, nodes++)
      check_node(c, m, n, &bytes);
  FUZZ_CHECK(nodes == m->nodes);
  used = m->used;
  pthread_mutex_unlock(&m->mu);
  if (used < bytes || (full && used != bytes))
    fprintf(stderr, "memory store counts %llu bytes, holds %llu in its table\n",
            (unsigned long long)used, (unsigned long long)bytes);
  FUZZ_CHECK(full ? used == bytes : used >= bytes);
  FUZZ_CHECK(!c->may_run_out || used <= MEM_BUDGET);
}

/* Empty the store for the next input: with no exchange open, every byte goes. */
void backend_end(fuzz_ctx *c)
{
  (void)c;
  rs_mem *m = resumable_store_self(mem);
  pthread_mutex_lock(&m->mu);
  rs_mem_table_free(m);
  uint64_t left = m->used;
  pthread_mutex_unlock(&m->mu);
  if (left != 0)
    fprintf(stderr, "memory store still counts %llu bytes with no key\n", (unsigned long long)left);
  FUZZ_CHECK(left == 0);
}

const char *backend_local_root(void)
{
  return NULL; /* no complete_path: nothing to name */
}

int backend_may_run_out(const fuzz_ctx *c)
{
  return c->may_run_out;
}
