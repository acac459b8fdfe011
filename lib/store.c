/* A store: an ops table and the implementation's state, checked once at creation so the handler
 * can call every op without NULL checks. The table is copied into a full-size one, so that a
 * caller built against an older, shorter resumable_store_ops is never read past its end. */
#include "store_internal.h"

#include "resumable/error.h"

#include <stdlib.h>
#include <string.h>

struct resumable_store {
  resumable_store_ops ops; /* ops beyond the caller's struct_size are NULL */
  void *self;
};

static int ops_complete(const resumable_store_ops *o)
{
  /* complete_path, partial_scan and the key_* group (all or none) are optional. */
  int keys = (o->key_lock != NULL) + (o->key_unlock != NULL) + (o->key_release != NULL);
  return o->complete_stat && o->complete_open && o->complete_read && o->complete_close &&
         o->partial_stat && o->partial_open && o->partial_write && o->partial_read &&
         o->partial_sync && o->partial_commit && o->partial_close && o->partial_remove &&
         o->complete_remove && o->destroy && (keys == 0 || keys == 3);
}

int resumable_store_new(resumable_store **out, const resumable_store_ops *ops, void *self)
{
  if (out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (ops == NULL || ops->struct_size < RESUMABLE_STORE_OPS_MIN_SIZE)
    return RESUMABLE_E_INVALID_ARG;
  /* Read no more of the caller's table than it says it has; a newer caller's longer table
   * has ops this library does not know, which it leaves unused. */
  resumable_store_ops copy;
  memset(&copy, 0, sizeof(copy));
  size_t n = ops->struct_size < sizeof(copy) ? ops->struct_size : sizeof(copy);
  memcpy(&copy, ops, n);
  copy.struct_size = sizeof(copy);
  if (!ops_complete(&copy))
    return RESUMABLE_E_INVALID_ARG;
  resumable_store *s = malloc(sizeof(*s));
  if (s == NULL)
    return RESUMABLE_E_NOMEM;
  s->ops = copy;
  s->self = self;
  *out = s;
  return RESUMABLE_OK;
}

void resumable_store_free(resumable_store *store)
{
  if (store == NULL)
    return;
  store->ops.destroy(store->self);
  free(store);
}

const resumable_store_ops *resumable_store_ops_of(const resumable_store *store)
{
  return &store->ops;
}

void *resumable_store_self(const resumable_store *store)
{
  return store->self;
}
