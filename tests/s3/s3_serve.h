/* resumable-serve --store s3 as a child process of a test: started on port 0 over the env's
 * bucket and a key prefix, its log in a file, stopped or killed by the test. */
#ifndef RS_TEST_S3_SERVE_H
#define RS_TEST_S3_SERVE_H

#include <stdint.h>
#include <sys/types.h>

#include "s3_env.h"

typedef struct s3_serve {
  pid_t pid;
  uint16_t port;
  char url[128]; /* "http://127.0.0.1:PORT/v1/files/" */
  char log[128]; /* its stderr */
} s3_serve;

/* Start `exe` on e's bucket under `prefix` ("" for none) with 5 MiB parts and `extra` options
 * (NULL-terminated, may be NULL). 0, or -1 (its log says why). */
int s3_serve_start(s3_serve *s, const char *exe, const s3_env *e, const char *prefix,
                   const char *const *extra);
/* Send `sig` and reap. Returns the wait status, -1 if it was not running. */
int s3_serve_stop(s3_serve *s, int sig);

#endif
