/* Bearer-token check in constant time. */
#ifndef RESUMABLE_AUTH_H
#define RESUMABLE_AUTH_H

#include <stddef.h>

/* Compare a `len`-byte secret candidate with the `want_len`-byte token without an early exit:
 * the time depends only on want_len. Returns 1 if equal. Pure. */
int rs_ct_equal(const char *got, size_t got_len, const char *want, size_t want_len);

/* Check an Authorization header value ("Bearer <token>", scheme case-insensitive, one or more
 * spaces) against `token`. A NULL value fails. Returns 1 if it grants access. Pure. */
int rs_auth_bearer_ok(const char *value, const char *token, size_t token_len);

#endif
