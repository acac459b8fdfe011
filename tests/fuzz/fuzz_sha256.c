/* Differential fuzzing of the SHA-256 paths: every compress function this CPU can run must give
 * mbedTLS's digest (the reference) for the same message, fed through rs_sha256 split at the
 * update boundaries the input chooses, and a state exported mid-stream must resume on another
 * path. The first bytes of the input pick the split points; the rest is the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "sha256.h"
#include "sha256_impl.h"

#define MAX_SPLITS 8

static void reference(const uint8_t *msg, size_t len, uint8_t out[32])
{
  if (mbedtls_sha256_ret(msg, len, out, 0) != 0)
    abort();
}

/* Hash msg on path `impl`, cutting updates at splits[]; export after the first piece, import
 * the state again on path `resume_on` and finish there. */
static void hash_split(const char *impl, const char *resume_on, const uint8_t *msg, size_t len,
                       const size_t *splits, size_t nsplits, uint8_t out[32])
{
  rs_sha256 h;
  if (rs_sha256_force_impl(impl) != 0)
    abort();
  rs_sha256_init(&h);
  size_t at = 0;
  for (size_t i = 0; i <= nsplits; i++) {
    size_t end = i < nsplits ? splits[i] : len;
    rs_sha256_update(&h, msg + at, end - at);
    at = end;
    if (i == 0) {
      uint8_t state[RS_SHA256_STATE_MAX];
      size_t n = rs_sha256_export(&h, state, sizeof(state));
      if (n == 0 || rs_sha256_force_impl(resume_on) != 0 || rs_sha256_import(&h, state, n) != 0)
        abort();
    }
  }
  rs_sha256_finish(&h, out);
  rs_sha256_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t nsplits = data[0] % (MAX_SPLITS + 1);
  if (size < 1 + 2 * nsplits)
    return 0;
  const uint8_t *msg = data + 1 + 2 * nsplits;
  size_t len = size - 1 - 2 * nsplits;
  size_t splits[MAX_SPLITS];
  for (size_t i = 0; i < nsplits; i++) {
    size_t v = ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]);
    splits[i] = len ? v % (len + 1) : 0;
  }
  /* Split points must not go backwards. */
  for (size_t i = 1; i < nsplits; i++)
    for (size_t j = i; j > 0 && splits[j - 1] > splits[j]; j--) {
      size_t t = splits[j];
      splits[j] = splits[j - 1];
      splits[j - 1] = t;
    }

  uint8_t want[32];
  reference(msg, len, want);
  size_t count = 0;
  const rs_sha256_impl *impls = rs_sha256_impls(&count);
  for (size_t a = 0; a < count; a++) {
    if (!impls[a].supported())
      continue;
    for (size_t b = 0; b < count; b++) {
      if (!impls[b].supported())
        continue;
      uint8_t got[32];
      hash_split(impls[a].name, impls[b].name, msg, len, splits, nsplits, got);
      if (memcmp(got, want, 32) != 0)
        abort(); /* a path disagrees with mbedTLS */
    }
  }
  return 0;
}
