/* A byte buffer in fixed blocks: appending never moves what is already stored (a GiB upload is
 * not copied at each doubling), and the first block starts small and grows to the block size,
 * so the many small files of a test or a fuzz run stay small. */
#include "store_mem.h"

#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"

#define FIRST_CAP ((size_t)64)

static uint64_t capacity(const rs_mem_buf *b)
{
  return b->nblocks == 0 ? 0 : b->cap0 + (uint64_t)(b->nblocks - 1) * RS_MEM_BLOCK;
}

static int grow_slots(rs_mem_buf *b, size_t want)
{
  if (want <= b->slots)
    return RESUMABLE_OK;
  size_t slots = b->slots ? b->slots : 4;
  while (slots < want)
    slots *= 2;
  if (slots > SIZE_MAX / sizeof(*b->blocks))
    return RESUMABLE_E_NOMEM;
  uint8_t **bigger = realloc(b->blocks, slots * sizeof(*bigger));
  if (bigger == NULL)
    return RESUMABLE_E_NOMEM;
  b->blocks = bigger;
  b->slots = slots;
  return RESUMABLE_OK;
}

/* Resize block 0 to cap bytes (creating it if needed). */
static int size_first(rs_mem_buf *b, size_t cap)
{
  int rc = grow_slots(b, 1);
  if (rc != RESUMABLE_OK)
    return rc;
  uint8_t *p = realloc(b->nblocks ? b->blocks[0] : NULL, cap);
  if (p == NULL)
    return RESUMABLE_E_NOMEM;
  b->blocks[0] = p;
  b->nblocks = b->nblocks ? b->nblocks : 1;
  b->cap0 = cap;
  return RESUMABLE_OK;
}

/* Room for `need` bytes. Blocks allocated before a failure stay as spare capacity. */
static int ensure(rs_mem_buf *b, uint64_t need)
{
  if (need <= capacity(b))
    return RESUMABLE_OK;
  if (need <= RS_MEM_BLOCK) { /* still one block: double it */
    size_t cap = b->cap0 ? b->cap0 : FIRST_CAP;
    while (cap < need)
      cap *= 2;
    return size_first(b, cap < RS_MEM_BLOCK ? cap : RS_MEM_BLOCK);
  }
  uint64_t count = (need - 1) / RS_MEM_BLOCK + 1;
  if (count > SIZE_MAX / sizeof(*b->blocks))
    return RESUMABLE_E_NOMEM;
  int rc = grow_slots(b, (size_t)count);
  if (rc == RESUMABLE_OK && b->cap0 < RS_MEM_BLOCK)
    rc = size_first(b, RS_MEM_BLOCK);
  while (rc == RESUMABLE_OK && b->nblocks < count) {
    uint8_t *p = malloc(RS_MEM_BLOCK);
    if (p == NULL)
      return RESUMABLE_E_NOMEM;
    b->blocks[b->nblocks++] = p;
  }
  return rc;
}

int rs_mem_buf_write(rs_mem_buf *b, uint64_t off, const void *src, size_t len)
{
  if (off > b->len || len > UINT64_MAX - off)
    return RESUMABLE_E_INVALID_ARG;
  int rc = ensure(b, off + len);
  if (rc != RESUMABLE_OK)
    return rc;
  const uint8_t *s = src;
  for (size_t done = 0; done < len;) {
    uint64_t at = off + done;
    size_t in = (size_t)(at % RS_MEM_BLOCK);
    size_t n = RS_MEM_BLOCK - in < len - done ? RS_MEM_BLOCK - in : len - done;
    memcpy(b->blocks[at / RS_MEM_BLOCK] + in, s + done, n);
    done += n;
  }
  if (off + len > b->len)
    b->len = off + len;
  return RESUMABLE_OK;
}

size_t rs_mem_buf_read(const rs_mem_buf *b, uint64_t off, void *dst, size_t len)
{
  if (off >= b->len)
    return 0;
  if (len > b->len - off)
    len = (size_t)(b->len - off);
  uint8_t *d = dst;
  for (size_t done = 0; done < len;) {
    uint64_t at = off + done;
    size_t in = (size_t)(at % RS_MEM_BLOCK);
    size_t n = RS_MEM_BLOCK - in < len - done ? RS_MEM_BLOCK - in : len - done;
    memcpy(d + done, b->blocks[at / RS_MEM_BLOCK] + in, n);
    done += n;
  }
  return len;
}

void rs_mem_buf_truncate(rs_mem_buf *b, uint64_t len)
{
  if (len >= b->len)
    return;
  size_t keep = len == 0 ? 0 : (size_t)((len - 1) / RS_MEM_BLOCK + 1);
  while (b->nblocks > keep)
    free(b->blocks[--b->nblocks]);
  if (keep == 0)
    b->cap0 = 0;
  b->len = len;
}

void rs_mem_buf_free(rs_mem_buf *b)
{
  while (b->nblocks > 0) /* also spare blocks beyond len */
    free(b->blocks[--b->nblocks]);
  free(b->blocks);
  memset(b, 0, sizeof(*b));
}
