/* The S3 tests' view of the cluster that tests/s3/with_ceph.sh started: its endpoint and
 * credentials come from RS_S3_ENDPOINT, RS_S3_ACCESS and RS_S3_SECRET. Each test program makes
 * its own bucket; each case its own key prefix in it, so cases never see each other's objects. */
#ifndef RS_TEST_S3_ENV_H
#define RS_TEST_S3_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "resumable/store.h"
#include "resumable/store_s3.h"

typedef struct s3_env {
  char endpoint[256];
  char access[128];
  char secret[128];
  char bucket[64];
} s3_env;

/* Read the environment and create a fresh bucket named "<tag>-<pid>-<n>" (each call another
 * one). 0, or -1 with a line on stderr (no cluster: run the program through with_ceph.sh). */
int s3_env_init(s3_env *e, const char *tag);
/* A store on the env's bucket under `prefix` ("" for none) with parts of `part_size` bytes
 * (0: the default). 0 or -1. */
int s3_env_store(const s3_env *e, const char *prefix, uint64_t part_size, resumable_store **out);
/* A unique prefix for one case: "<tag>-<counter>/". */
void s3_env_prefix(const char *tag, char *out, size_t cap);

/* Raw S3 calls for the tests, signed like the store's (curl's AWS_SIGV4). `object` is the
 * whole object name; `query` canonical. The answer's status, or -1 without one; body into
 * out (NUL-terminated, cap bytes at most) when given. */
long s3_env_request(const s3_env *e, const char *method, const char *object, const char *query,
                    const void *body, size_t len, const char *extra_header, char *out, size_t cap);
/* How many unfinished multipart uploads whose name starts with `prefix`; -1 on error. */
int s3_env_count_uploads(const s3_env *e, const char *prefix);
/* The SHA-256 and size of an object, read with a GET: 1, 0 if there is no such object, -1. */
int s3_env_hash_object(const s3_env *e, const char *object, uint8_t sha[32], uint64_t *size);
/* The bytes of an object (malloc'ed, *len set), or NULL if it cannot be read or is absent. */
char *s3_env_get_object(const s3_env *e, const char *object, size_t *len);
/* Every object name that starts with `prefix`, to fn(arg, name); 0 or -1. */
int s3_env_list(const s3_env *e, const char *prefix, void (*fn)(void *arg, const char *name),
                void *arg);
/* How many objects whose name starts with `prefix`; -1 on error. */
int s3_env_count_objects(const s3_env *e, const char *prefix);

#endif
