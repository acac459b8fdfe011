/* The host conformance kit: the wire-level tests run against any HTTP host of the handler,
 * started by a host launcher instead of in-process.
 *
 * A launcher is a command that, given `--root DIR` (and the options below), starts a host on a
 * free loopback port with that upload root, prints "listening on http://127.0.0.1:PORT/" once
 * it serves, and serves until SIGTERM. resumable-serve is one (`resumable-serve --port 0`),
 * tests/nginx/nginx-host another (nginx with the module). Options: `--token T`,
 * `--max-size N`.
 *
 * The environment chooses the host (meson sets it per test run):
 *  - RS_KIT_HOST: the launcher's command, one argument per line. Unset: the tests keep their
 *    in-process host.
 *  - RS_KIT_CAPS: what the host can do, comma-separated names. A test whose outcome depends on
 *    a capability asserts the behaviour that goes with having it or not; none is skipped.
 *    "reply-mid-body": the host sends a reply decided before the request body ended at once
 *    (nginx); without it the reply waits for the body's end (libmicrohttpd).
 *    "routes-normalized-target": the host resolves "..", "." and percent-encoding in the target
 *    before it routes, so a target that climbs out of the upload prefix never reaches the
 *    handler and gets the host's own answer for that path (nginx: 404 or 405), not 400. */
#ifndef RESUMABLE_KIT_HOST_H
#define RESUMABLE_KIT_HOST_H

#include <stdint.h>

#include "test_proc.h"

typedef struct kit_host {
  test_child child;
  uint16_t port;
} kit_host;

typedef struct kit_opts {
  const char *token; /* NULL: none */
  uint64_t max_size; /* 0: no limit */
} kit_opts;

/* 1 when RS_KIT_HOST names a launcher. */
int kit_active(void);
/* 1 when the host has `capability` (RS_KIT_CAPS). */
int kit_has(const char *capability);
/* Start the launcher on `root`; 0 with h->port set, or -1 (its stderr is printed). */
int kit_host_start(kit_host *h, const char *root, const kit_opts *o);
/* SIGTERM to the host (its process group when it has one), then reap it. */
void kit_host_stop(kit_host *h);

#endif
