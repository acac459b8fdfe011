/* See failmalloc.h. */
#include "failmalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long fail_at = -1;
static long count;
static int hit;
static int held;

/* Live blocks: an open-addressed set of pointers (tombstones for removals). Far larger than any
 * scenario needs; a full set aborts the test rather than miscounting. */
#define SLOTS (1u << 16)
#define GONE ((void *)1)
static void *slots[SLOTS];
static size_t live;

static size_t slot_of(const void *p)
{
  uintptr_t h = (uintptr_t)p;
  h ^= h >> 17;
  h *= 0x9e3779b97f4a7c15u;
  return (size_t)(h >> 7) & (SLOTS - 1);
}

static void track(void *p) /* under lock */
{
  for (size_t i = slot_of(p), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++)
    if (slots[i] == NULL || slots[i] == GONE) {
      slots[i] = p;
      live++;
      return;
    }
  abort();
}

static void untrack(const void *p) /* under lock; a block from elsewhere is ignored */
{
  for (size_t i = slot_of(p), n = 0; n < SLOTS && slots[i] != NULL; i = (i + 1) & (SLOTS - 1), n++)
    if (slots[i] == p) {
      slots[i] = GONE;
      live--;
      return;
    }
}

/* 1 if this allocation is the one that fails. */
static int next_fails(void)
{
  pthread_mutex_lock(&lock);
  if (held) {
    pthread_mutex_unlock(&lock);
    return 0;
  }
  int fail = count++ == fail_at;
  if (fail)
    hit = 1;
  pthread_mutex_unlock(&lock);
  return fail;
}

static void *keep(void *p)
{
  if (p != NULL) {
    pthread_mutex_lock(&lock);
    track(p);
    pthread_mutex_unlock(&lock);
  }
  return p;
}

void fm_arm(long n)
{
  pthread_mutex_lock(&lock);
  fail_at = n;
  count = 0;
  hit = 0;
  pthread_mutex_unlock(&lock);
}

int fm_disarm(void)
{
  pthread_mutex_lock(&lock);
  fail_at = -1;
  int h = hit;
  pthread_mutex_unlock(&lock);
  return h;
}

void fm_hold(int on)
{
  pthread_mutex_lock(&lock);
  held = on;
  pthread_mutex_unlock(&lock);
}

long fm_count(void)
{
  pthread_mutex_lock(&lock);
  long c = count;
  pthread_mutex_unlock(&lock);
  return c;
}

size_t fm_live(void)
{
  pthread_mutex_lock(&lock);
  size_t l = live;
  pthread_mutex_unlock(&lock);
  return l;
}

void *__wrap_malloc(size_t n)
{
  return next_fails() ? NULL : keep(__real_malloc(n));
}

void *__wrap_calloc(size_t k, size_t n)
{
  return next_fails() ? NULL : keep(__real_calloc(k, n));
}

void *__wrap_realloc(void *p, size_t n)
{
  if (next_fails())
    return NULL; /* p stays valid and tracked */
  pthread_mutex_lock(&lock);
  if (p != NULL)
    untrack(p);
  pthread_mutex_unlock(&lock);
  void *q = __real_realloc(p, n);
  if (q == NULL && p != NULL) {
    pthread_mutex_lock(&lock);
    track(p);
    pthread_mutex_unlock(&lock);
    return NULL;
  }
  return keep(q);
}

void __wrap_free(void *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock(&lock);
  untrack(p);
  pthread_mutex_unlock(&lock);
  __real_free(p);
}

char *__wrap_strdup(const char *s)
{
  return __wrap_strndup(s, SIZE_MAX);
}

char *__wrap_strndup(const char *s, size_t n)
{
  size_t len = strnlen(s, n);
  char *c = __wrap_malloc(len + 1);
  if (c != NULL) {
    memcpy(c, s, len);
    c[len] = '\0';
  }
  return c;
}
