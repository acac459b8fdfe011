#ifndef RESUMABLE_ERROR_H
#define RESUMABLE_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible function returns RESUMABLE_OK (0) or one of these negative codes; each
 * function's documentation lists the codes it can return. A negative value is always an error
 * and 0 always success. Exactly two functions also return a positive value, which is not an
 * error: resumable_exchange_headers_done and resumable_exchange_feed return
 * RESUMABLE_REPLY_DECIDED (1, resumable/server.h) when the reply is decided and the host stops
 * reading the body; no other function returns a positive value, and no function will start to
 * within a major version. Functions that return a count, a size or a pointer (the getters) say
 * so and are not fallible in this sense.
 * Codes are never renumbered: a retired code keeps its number and is renamed
 * RESUMABLE_E_OBSOLETEnn. New codes may be added in a minor release: treat an unknown negative
 * code as a failure (resumable_strerror still names it "unknown error"). */
#define RESUMABLE_ERRNO_MAP(X)                                           \
  X(OK, 0, "success")                                                    \
  X(E_INVALID_ARG, -1, "invalid argument")                               \
  X(E_NOMEM, -2, "out of memory")                                        \
  X(E_STATE, -3, "call not allowed in this state")                       \
  X(E_IO, -4, "storage I/O error")                                       \
  X(E_NOSPACE, -5, "no space left on the storage")                       \
  X(E_NOT_FOUND, -6, "not found")                                        \
  X(E_BAD_KEY, -7, "invalid key")                                        \
  X(E_CONFLICT, -8, "key conflicts with an existing path")               \
  X(E_FILE, -9, "local file error")                                      \
  X(E_REFUSED, -10, "refused by the server")                             \
  X(E_TIMEOUT, -11, "time budget exhausted")                             \
  X(E_CANCELLED, -12, "cancelled by the caller")                         \
  X(E_NETWORK, -13, "network error")                                     \
  X(E_PROTOCOL, -14, "malformed or unexpected server response")          \
  X(E_HASH_MISMATCH, -15, "SHA-256 mismatch")                            \
  X(E_SUPERSEDED, -16, "superseded by a newer request for the same key") \
  X(E_TOO_LARGE, -17, "larger than the configured maximum size")         \
  X(E_NOFD, -18, "out of file descriptors")

typedef enum resumable_error {
#define RESUMABLE_ERR_ENUM_(name, code, text) RESUMABLE_##name = code,
  RESUMABLE_ERRNO_MAP(RESUMABLE_ERR_ENUM_)
#undef RESUMABLE_ERR_ENUM_
} resumable_error;

/* A short English description of `code`, e.g. "invalid key". Never NULL: an unknown code gives
 * "unknown error". Static storage; thread-safe. */
RESUMABLE_EXPORT const char *resumable_strerror(int code);

/* The code's name without prefix, e.g. "E_BAD_KEY" ("UNKNOWN" if unknown). Never NULL; static
 * storage; thread-safe. */
RESUMABLE_EXPORT const char *resumable_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
