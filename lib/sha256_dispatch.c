/* Which SHA-256 block function runs: chosen once per process from the CPU and the
 * RESUMABLE_SHA256 environment variable, overridable by rs_sha256_force_impl(). */
#include "sha256_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int always(void)
{
  return 1;
}

/* Fastest last, so the automatic choice is the last supported entry. */
static const rs_sha256_impl impls[] = {
    {"portable", rs_sha256_compress_portable, rs_sha256_compress2_portable, always},
#if RS_SHA256_HAVE_X86
    {"sha-ni", rs_sha256_compress_x86, rs_sha256_compress2_x86, rs_sha256_x86_supported},
#endif
};
#define N_IMPLS (sizeof(impls) / sizeof(impls[0]))

static _Atomic(const rs_sha256_impl *) active;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
  const char *env = getenv("RESUMABLE_SHA256");
  const rs_sha256_impl *pick = &impls[0];
  if (env == NULL || strcmp(env, "portable") != 0) {
    for (size_t i = N_IMPLS; i-- > 0;) {
      if (impls[i].supported()) {
        pick = &impls[i];
        break;
      }
    }
  }
  atomic_store(&active, pick);
}

static const rs_sha256_impl *current(void)
{
  /* pthread_once also orders the store in choose() before this load. */
  (void)pthread_once(&chosen, choose);
  return atomic_load_explicit(&active, memory_order_acquire);
}

rs_sha256_compress_fn *rs_sha256_compress_active(void)
{
  return current()->compress;
}

const rs_sha256_impl *rs_sha256_impl_active(void)
{
  return current();
}

const char *rs_sha256_impl_name(void)
{
  return current()->name;
}

const rs_sha256_impl *rs_sha256_impls(size_t *count)
{
  *count = N_IMPLS;
  return impls;
}

int rs_sha256_force_impl(const char *name)
{
  (void)current(); /* so the first-use choice cannot overwrite this one later */
  for (size_t i = 0; name != NULL && i < N_IMPLS; i++) {
    if (strcmp(impls[i].name, name) == 0) {
      if (!impls[i].supported())
        return -1;
      atomic_store_explicit(&active, &impls[i], memory_order_release);
      return 0;
    }
  }
  return -1;
}
