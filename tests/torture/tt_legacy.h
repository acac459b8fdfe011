/* A whole-file PUT without Content-Range over plain libcurl (tt_legacy.c). */
#ifndef TT_LEGACY_H
#define TT_LEGACY_H

#include <stdint.h>

#include <resumable/stager.h>

/* PUT the file at `path` (size bytes) to `url` with X-Content-SHA256: hex. `fn` sees SENDING
 * reports (position = body bytes sent) and may cancel by returning non-zero. *sent gets the
 * body bytes sent, *status the HTTP status (0 when none came). Returns RESUMABLE_OK on a 200 carrying the same hash, RESUMABLE_E_CANCELLED
 * when fn stopped it, RESUMABLE_E_NETWORK on a transport error, RESUMABLE_E_REFUSED on another
 * status, RESUMABLE_E_HASH_MISMATCH on a 200 with another hash, RESUMABLE_E_NOMEM. */
int tt_legacy_put(const char *url, const char *path, uint64_t size, const char *hex,
                  resumable_progress_fn fn, void *ud, uint64_t *sent, long *status);

#endif
