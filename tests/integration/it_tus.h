/* tus requests for the integration tests (on top of itest.h). Each helper sends
 * "Tus-Resumable: 1.0.0" and the `headers` given ("Name: value" lines, NULL-terminated, may be
 * NULL), and returns the status; the response is kept in *out when out is not NULL (free it
 * with it_resp_free). Paths are the raw path after IT_PREFIX ("" is the prefix itself). */
#ifndef IT_TUS_H
#define IT_TUS_H

#include "itest.h"

#define IT_TUS_CT "Content-Type: application/offset+octet-stream"

/* Any method; a body is sent for POST and PATCH when len > 0. */
long it_tus(const it_server *s, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, it_resp *out);
/* POST with Upload-Length (a negative length sends none) and the body (with the tus
 * Content-Type when there is one). */
long it_tus_create(const it_server *s, const char *path, long long length,
                   const char *const *headers, const void *body, size_t len, it_resp *out);
/* PATCH with Upload-Offset and the tus Content-Type. */
long it_tus_patch(const it_server *s, const char *path, uint64_t offset, const char *const *headers,
                  const void *body, size_t len, it_resp *out);
/* HEAD; *offset gets Upload-Offset (-1 if absent) when offset is not NULL. */
long it_tus_head(const it_server *s, const char *path, long long *offset);
/* The path after IT_PREFIX of a response's Location (must be under the prefix) into buf. */
const char *it_tus_location(const it_resp *r, char *buf, size_t cap);
/* Move a partial's files (meta and data) `seconds` into the past, as if it were idle. */
void it_tus_age_partial(const it_server *s, const char *store_key, long seconds);
/* Digest of `algo` ("sha1", "sha256", "md5") into out (*len bytes), and standard base64. */
void it_digest(const char *algo, const void *data, size_t n, uint8_t out[32], size_t *len);
void it_base64(const uint8_t *in, size_t n, char *out, size_t cap);
/* Number of files under <root>/.resumable/partial. */
int it_tus_partial_files(const it_server *s);

#endif
