/* The memory store: creation, the ops table, the byte budget. See store_mem.h for the layout
 * and the locking, store.h for the contract. */
#include "store_mem.h"

#include <stdlib.h>
#include <time.h>

#include "resumable/error.h"
#include "store_internal.h"

int rs_mem_reserve(rs_mem *m, uint64_t n)
{
  if (m->max_bytes != 0 && (n > m->max_bytes || m->used > m->max_bytes - n))
    return RESUMABLE_E_NOSPACE;
  m->used += n;
  return RESUMABLE_OK;
}

void rs_mem_release(rs_mem *m, uint64_t n)
{
  m->used -= n;
}

void rs_mem_file_unref(rs_mem *m, rs_mem_file *f)
{
  if (--f->refs > 0)
    return;
  rs_mem_release(m, f->buf.len);
  rs_mem_buf_free(&f->buf);
  free(f);
}

void rs_mem_part_unref(rs_mem *m, rs_mem_part *p)
{
  if (--p->refs > 0)
    return;
  rs_mem_release(m, p->buf.len);
  rs_mem_buf_free(&p->buf);
  free(p);
}

int64_t rs_mem_now(void)
{
  /* CLOCK_REALTIME, not time(): resumable_server_sweep compares with this clock, and time()
   * reads a coarser one that can lag it by a tick. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

static void mem_destroy(void *self)
{
  rs_mem *m = self;
  if (m == NULL)
    return;
  rs_mem_table_free(m);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static const resumable_store_ops mem_ops = {
    RESUMABLE_STORE_OPS_INIT,
    .complete_stat = rs_mem_complete_stat,
    .complete_open = rs_mem_complete_open,
    .complete_read = rs_mem_complete_read,
    .complete_close = rs_mem_complete_close,
    .complete_path = NULL, /* no file to name */
    .partial_stat = rs_mem_partial_stat,
    .partial_open = rs_mem_partial_open,
    .partial_write = rs_mem_partial_write,
    .partial_read = rs_mem_partial_read,
    .partial_sync = rs_mem_partial_sync,
    .partial_commit = rs_mem_partial_commit,
    .partial_close = rs_mem_partial_close,
    .partial_remove = rs_mem_partial_remove,
    .complete_remove = rs_mem_complete_remove,
    .destroy = mem_destroy,
    .partial_scan = rs_mem_partial_scan,
};

int resumable_store_mem_new(resumable_store **out, uint64_t max_bytes)
{
  if (out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  rs_mem *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return RESUMABLE_E_NOMEM;
  if (pthread_mutex_init(&m->mu, NULL) != 0) {
    free(m);
    return RESUMABLE_E_NOMEM;
  }
  m->max_bytes = max_bytes;
  int rc = resumable_store_new(out, &mem_ops, m);
  if (rc != RESUMABLE_OK)
    mem_destroy(m);
  return rc;
}

int resumable_store_mem_usage(const resumable_store *store, uint64_t *bytes)
{
  if (store == NULL || bytes == NULL || resumable_store_ops_of(store)->destroy != mem_destroy)
    return RESUMABLE_E_INVALID_ARG;
  rs_mem *m = resumable_store_self(store);
  pthread_mutex_lock(&m->mu);
  *bytes = m->used;
  pthread_mutex_unlock(&m->mu);
  return RESUMABLE_OK;
}
