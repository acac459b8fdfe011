/* The stores the conformance suite runs against. To add one, write its open (and reopen,
 * cleanup) below and add one line to the table. */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "test_fs.h"

/* ---- POSIX: a fresh mkdtemp root ---- */
static int posix_open(void **ctx, resumable_store **out)
{
  char *root = malloc(64);
  if (root == NULL)
    return -1;
  snprintf(root, 64, "/tmp/rs-conform-XXXXXX");
  if (mkdtemp(root) == NULL || resumable_store_fs_new(out, root) != RESUMABLE_OK) {
    free(root);
    return -1;
  }
  *ctx = root;
  return 0;
}

static int posix_reopen(void *ctx, resumable_store **out)
{
  return resumable_store_fs_new(out, ctx) == RESUMABLE_OK ? 0 : -1;
}

static void posix_cleanup(void *ctx)
{
  test_remove_tree(ctx);
  free(ctx);
}

/* ---- memory: nothing outside the process ---- */
static int mem_open(void **ctx, resumable_store **out)
{
  *ctx = NULL;
  return resumable_store_mem_new(out, 0) == RESUMABLE_OK ? 0 : -1;
}

static void mem_cleanup(void *ctx)
{
  (void)ctx;
}

const store_kind conformance_kinds[] = {
    {"posix", CF_REOPEN | CF_TREE | CF_SCAN, posix_open, posix_reopen, posix_cleanup},
    {"mem", CF_TREE | CF_SCAN, mem_open, NULL, mem_cleanup},
};
const size_t conformance_kind_count = sizeof(conformance_kinds) / sizeof(conformance_kinds[0]);
