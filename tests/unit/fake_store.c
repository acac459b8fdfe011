/* In-memory resumable_store_ops for the handler tests; see fake_store.h. Single-threaded use. */
#include "fake_store.h"

#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "sha256.h"

typedef struct fake_handle {
  fake_store *f;
  char key[128];
  int staging;
  uint8_t *data;
  size_t len, cap;
  resumable_partial_info info;
} fake_handle;

fake_slot *fake_slot_of(fake_store *f, const char *key)
{
  for (int i = 0; i < FAKE_SLOTS; i++)
    if (f->slots[i].key[0] && strcmp(f->slots[i].key, key) == 0)
      return &f->slots[i];
  return NULL;
}

static fake_slot *slot_make(fake_store *f, const char *key)
{
  fake_slot *s = fake_slot_of(f, key);
  for (int i = 0; !s && i < FAKE_SLOTS; i++)
    if (!f->slots[i].key[0]) {
      s = &f->slots[i];
      strncpy(s->key, key, sizeof(s->key) - 1);
    }
  return s;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
  uint8_t *d = malloc(n ? n : 1);
  if (d && n)
    memcpy(d, p, n);
  return d;
}

void fake_put_complete(fake_store *f, const char *key, const void *data, size_t len)
{
  fake_slot *s = slot_make(f, key);
  free(s->cdata);
  s->cdata = dup_bytes(data, len);
  s->clen = len;
  s->has_complete = 1;
  s->ci.size = len;
  rs_sha256_digest(data, len, s->ci.sha256);
}

void fake_store_clear(fake_store *f)
{
  for (int i = 0; i < FAKE_SLOTS; i++) {
    free(f->slots[i].cdata);
    free(f->slots[i].pdata);
  }
  memset(f, 0, sizeof(*f));
}

static int complete_stat(void *self, const char *key, resumable_complete_info *out)
{
  fake_slot *s = fake_slot_of(self, key);
  if (!s || !s->has_complete)
    return RESUMABLE_E_NOT_FOUND;
  *out = s->ci;
  return RESUMABLE_OK;
}

typedef struct fake_reader {
  uint8_t *data;
  size_t len;
} fake_reader;

static int complete_open(void *self, const char *key, void **reader, resumable_complete_info *out)
{
  fake_slot *s = fake_slot_of(self, key);
  if (!s || !s->has_complete)
    return RESUMABLE_E_NOT_FOUND;
  fake_reader *r = malloc(sizeof(*r));
  r->data = dup_bytes(s->cdata, s->clen);
  r->len = s->clen;
  *reader = r;
  if (out)
    *out = s->ci;
  return RESUMABLE_OK;
}

static int complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                         size_t *got)
{
  (void)self;
  fake_reader *r = reader;
  size_t n = offset >= r->len ? 0 : r->len - (size_t)offset;
  n = n < len ? n : len;
  memcpy(buf, r->data + offset, n);
  *got = n;
  return RESUMABLE_OK;
}

static void complete_close(void *self, void *reader)
{
  (void)self;
  fake_reader *r = reader;
  free(r->data);
  free(r);
}

static int complete_path(void *self, const char *key, char *buf, size_t cap)
{
  (void)self;
  size_t n = strlen(key) + 6;
  if (n + 1 > cap)
    return RESUMABLE_E_INVALID_ARG;
  strcpy(buf, "/data/");
  strcat(buf, key);
  return RESUMABLE_OK;
}

static int partial_stat(void *self, const char *key, resumable_partial_info *out)
{
  fake_store *f = self;
  fake_slot *s = fake_slot_of(f, key);
  if (!s || !s->has_partial)
    return RESUMABLE_E_NOT_FOUND;
  *out = s->pi;
  if (f->forget_hash_state)
    out->hash_state_len = 0;
  return RESUMABLE_OK;
}

static int partial_open(void *self, const char *key, resumable_partial_mode mode,
                        const resumable_partial_info *info, void **handle,
                        resumable_partial_info *out)
{
  fake_store *f = self;
  fake_handle *h = calloc(1, sizeof(*h));
  strncpy(h->key, key, sizeof(h->key) - 1);
  h->f = f;
  fake_slot *s = slot_make(f, key);
  if (mode == RESUMABLE_PARTIAL_EXISTING) {
    if (!s->has_partial) {
      free(h);
      return RESUMABLE_E_NOT_FOUND;
    }
    h->info = s->pi;
    if (f->forget_hash_state)
      h->info.hash_state_len = 0;
    h->data = dup_bytes(s->pdata, (size_t)s->pi.held);
    h->len = (size_t)s->pi.held;
    h->cap = h->len;
  } else {
    h->info = *info;
    h->info.held = 0;
    h->data = dup_bytes("", 0);
    h->staging = mode == RESUMABLE_PARTIAL_STAGING;
    if (!h->staging) { /* CREATE: the empty partial exists at once */
      free(s->pdata);
      s->pdata = dup_bytes("", 0);
      s->pi = h->info;
      s->has_partial = 1;
    }
  }
  if (out)
    *out = h->info;
  f->open_handles++;
  *handle = h;
  return RESUMABLE_OK;
}

static int partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len)
{
  fake_store *f = self;
  fake_handle *h = handle;
  if (f->fail_write)
    return f->fail_write;
  if (offset != h->len)
    return RESUMABLE_E_IO;     /* the handler must always append at the end */
  if (h->len + len > h->cap) { /* geometric growth: the 64 MiB test stays fast */
    size_t cap = h->cap ? h->cap : 64;
    while (cap < h->len + len)
      cap *= 2;
    h->data = realloc(h->data, cap);
    h->cap = cap;
  }
  memcpy(h->data + h->len, buf, len);
  h->len += len;
  return RESUMABLE_OK;
}

static int partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                        size_t *got)
{
  fake_store *f = self;
  fake_handle *h = handle;
  f->reads++;
  size_t n = offset >= h->len ? 0 : h->len - (size_t)offset;
  n = n < len ? n : len;
  memcpy(buf, h->data + offset, n);
  *got = n;
  return RESUMABLE_OK;
}

static int partial_sync(void *self, void *handle, const resumable_partial_info *info)
{
  fake_store *f = self;
  fake_handle *h = handle;
  if (f->fail_sync)
    return f->fail_sync;
  if (info->held > h->len)
    return RESUMABLE_E_IO;
  h->len = (size_t)info->held; /* bytes past held are discarded */
  fake_slot *s = fake_slot_of(f, h->key);
  free(s->pdata);
  s->pdata = dup_bytes(h->data, h->len);
  s->pi = *info;
  s->has_partial = 1;
  f->syncs++;
  return RESUMABLE_OK;
}

static int partial_commit(void *self, void *handle, const resumable_complete_info *info)
{
  fake_store *f = self;
  fake_handle *h = handle;
  if (f->fail_commit) {
    int rc = f->fail_commit;
    f->fail_commit = 0;
    return rc;
  }
  fake_slot *s = fake_slot_of(f, h->key);
  free(s->cdata);
  s->cdata = dup_bytes(h->data, h->len);
  s->clen = h->len;
  s->ci = *info;
  s->has_complete = 1;
  if (!h->staging) {
    s->has_partial = 0;
    free(s->pdata);
    s->pdata = NULL;
  }
  f->commits++;
  return RESUMABLE_OK;
}

static void partial_close(void *self, void *handle)
{
  fake_store *f = self;
  fake_handle *h = handle;
  f->open_handles--;
  free(h->data);
  free(h);
}

static int partial_remove(void *self, const char *key)
{
  fake_slot *s = fake_slot_of(self, key);
  if (!s || !s->has_partial)
    return RESUMABLE_E_NOT_FOUND;
  s->has_partial = 0;
  free(s->pdata);
  s->pdata = NULL;
  return RESUMABLE_OK;
}

static int complete_remove(void *self, const char *key)
{
  fake_slot *s = fake_slot_of(self, key);
  if (!s || !s->has_complete)
    return RESUMABLE_E_NOT_FOUND;
  s->has_complete = 0;
  free(s->cdata);
  s->cdata = NULL;
  return RESUMABLE_OK;
}

static void destroy(void *self)
{
  (void)self;
}

static const resumable_store_ops fake_ops = {
    sizeof(resumable_store_ops), /* struct_size */
    complete_stat,
    complete_open,
    complete_read,
    complete_close,
    complete_path,
    partial_stat,
    partial_open,
    partial_write,
    partial_read,
    partial_sync,
    partial_commit,
    partial_close,
    partial_remove,
    complete_remove,
    destroy,
    NULL, /* partial_scan: optional, not needed by the handler tests */
    NULL,
    NULL,
    NULL, /* key_lock, key_unlock, key_release: one process */
};

resumable_store *fake_store_new(fake_store *f)
{
  resumable_store *s = NULL;
  if (resumable_store_new(&s, &fake_ops, f) != RESUMABLE_OK)
    return NULL;
  return s;
}
