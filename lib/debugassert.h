/* RS_DEBUGASSERT(cond): an internal invariant (curl's DEBUGASSERT habit). Debug builds abort
 * with the failed condition; release builds (NDEBUG: meson's b_ndebug=true, or if-release with
 * buildtype=release) evaluate nothing, and the code after the assertion is the safe fallback
 * for a broken invariant (an error code, a skipped step), never a crash. The default buildtype
 * (debugoptimized) keeps the checks on, so CI runs with them.
 *
 * Use it only for what the library itself guarantees: input from the network, a store, the
 * file system or the caller is checked with an error, not asserted. */
#ifndef RESUMABLE_DEBUGASSERT_H
#define RESUMABLE_DEBUGASSERT_H

#include <assert.h>

#ifdef NDEBUG
#define RS_DEBUGASSERT(cond) ((void)0)
#else
#define RS_DEBUGASSERT(cond) assert(cond)
#endif

#endif
