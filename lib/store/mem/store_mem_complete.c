/* The memory store's complete files: immutable versions. A reader holds a reference to the
 * version it opened, so it reads the same bytes to the end whatever commits or removes happen
 * meanwhile; the bytes are freed (and leave the budget) when the last holder lets go. */
#include "store_mem.h"

#include <string.h>

#include "resumable/error.h"

int rs_mem_complete_stat(void *self, const char *key, resumable_complete_info *out)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key) || out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  int rc = n != NULL && n->complete != NULL ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK)
    *out = n->complete->info;
  pthread_mutex_unlock(&m->mu);
  return rc;
}

int rs_mem_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key) || reader == NULL)
    return RESUMABLE_E_INVALID_ARG;
  *reader = NULL;
  pthread_mutex_lock(&m->mu);
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  int rc = n != NULL && n->complete != NULL ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK) {
    n->complete->refs++;
    *reader = n->complete;
    if (out != NULL)
      *out = n->complete->info;
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

int rs_mem_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                         size_t *got)
{
  (void)self;
  const rs_mem_file *f = reader;
  if (f == NULL || got == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  *got = rs_mem_buf_read(&f->buf, offset, buf, len); /* a version never changes: no lock */
  return RESUMABLE_OK;
}

void rs_mem_complete_close(void *self, void *reader)
{
  rs_mem *m = self;
  if (reader == NULL)
    return;
  pthread_mutex_lock(&m->mu);
  rs_mem_file_unref(m, reader);
  pthread_mutex_unlock(&m->mu);
}

int rs_mem_complete_remove(void *self, const char *key)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key))
    return RESUMABLE_E_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  int rc = n != NULL && n->complete != NULL ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK) {
    rs_mem_file *f = n->complete;
    n->complete = NULL;
    rs_mem_settle(m, n, 1);
    rs_mem_file_unref(m, f);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}
