/* The e2e fixture shared by the dialect tests: resumable-serve on a temporary root, reached
 * through the fault proxy, with a directory for the stager's state. */
#ifndef E2E_FIXTURE_H
#define E2E_FIXTURE_H

#include <stdint.h>

#include "e2e_util.h"
#include "faultproxy.h"

typedef struct e2e_fx {
  char *dir, root[512], store[512], endpoint[256]; /* endpoint: the proxy's /v1/files/ */
  e2e_server srv;
  fp_proxy *proxy;
} e2e_fx;

/* cmocka setup and teardown: *state is the e2e_fx. */
int e2e_fx_setup(void **state);
int e2e_fx_teardown(void **state);

/* A file of `size` pseudo-random bytes (seed) in the fixture's directory, its SHA-256 hex in
 * sha. Returns its path (free it). Fails the test if it cannot be made. */
char *e2e_fx_file(e2e_fx *f, const char *name, uint64_t size, uint32_t seed, char sha[65]);

#endif
