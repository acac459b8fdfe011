/* The store's fault hook state (see store_fs_fault.h). Linked only into the test-only static
 * library built with -DRS_FAULT_INJECTION; never part of the shipped libraries. */
#include "store_fs_fault.h"

#include <pthread.h>

typedef struct call_fault {
  int err;            /* 0: not armed */
  unsigned long nth;  /* the first failing call, 1-based */
  unsigned long last; /* the last failing call; 0: none (until lifted) */
  unsigned long calls;
  unsigned long fired;
} call_fault;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static call_fault calls[RS_FAULT_KINDS];
static int bytes_err; /* 0: no byte limit */
static uint64_t room; /* bytes still writable under the limit */

int rs_fs_fault(rs_fault_kind kind, size_t *len)
{
  int err = 0;
  if ((unsigned)kind >= RS_FAULT_KINDS)
    return 0;
  pthread_mutex_lock(&mu);
  call_fault *c = &calls[kind];
  c->calls++;
  if (c->err && c->calls >= c->nth && (c->last == 0 || c->calls <= c->last))
    err = c->err;
  if (!err && kind == RS_FAULT_WRITE && bytes_err && len) {
    if (room == 0)
      err = bytes_err;
    else if (*len > room)
      *len = (size_t)room;
    if (!err)
      room -= *len;
  }
  if (err)
    c->fired++;
  pthread_mutex_unlock(&mu);
  return err;
}

void rs_fault_fail_call(rs_fault_kind kind, unsigned nth, unsigned times, int err)
{
  if ((unsigned)kind >= RS_FAULT_KINDS)
    return;
  pthread_mutex_lock(&mu);
  call_fault *c = &calls[kind];
  c->err = err;
  c->nth = nth ? nth : 1;
  c->last = times ? c->nth + times - 1 : 0;
  c->calls = 0;
  c->fired = 0;
  pthread_mutex_unlock(&mu);
}

void rs_fault_fail_after_bytes(uint64_t bytes, int err)
{
  pthread_mutex_lock(&mu);
  bytes_err = err;
  room = bytes;
  calls[RS_FAULT_WRITE].fired = 0;
  pthread_mutex_unlock(&mu);
}

void rs_fault_lift(void)
{
  pthread_mutex_lock(&mu);
  for (int k = 0; k < RS_FAULT_KINDS; k++)
    calls[k] = (call_fault){0, 0, 0, 0, 0};
  bytes_err = 0;
  room = 0;
  pthread_mutex_unlock(&mu);
}

/* One counter of `kind`, read under the lock. */
static unsigned long counter(rs_fault_kind kind, int fired)
{
  if ((unsigned)kind >= RS_FAULT_KINDS)
    return 0;
  pthread_mutex_lock(&mu);
  unsigned long n = fired ? calls[kind].fired : calls[kind].calls;
  pthread_mutex_unlock(&mu);
  return n;
}

unsigned long rs_fault_fired(rs_fault_kind kind)
{
  return counter(kind, 1);
}

unsigned long rs_fault_calls(rs_fault_kind kind)
{
  return counter(kind, 0);
}
