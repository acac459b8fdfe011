#ifndef FAULTPROXY_H
#define FAULTPROXY_H

/*
 * A fault-injecting TCP proxy for the end-to-end tests (and the faultproxy tool).
 *
 * It listens on 127.0.0.1 (port 0: the kernel picks one, fp_port reads it back) and forwards
 * every accepted connection to an upstream host:port, in one thread of its own driven by poll().
 * "Upstream" is the client -> server direction: that is where the stager's body bytes go, so
 * that is where faults are injected and bytes counted. Every fp_set_* and fp_wait_* call is
 * thread-safe and takes effect at once (the proxy thread is woken through a pipe).
 *
 * A cut closes the connection that carried the N-th byte: the server side gets a clean EOF after
 * exactly the forwarded bytes (so the server keeps a known prefix), the client side gets a reset.
 */

#include <stdint.h>

typedef struct fp_proxy fp_proxy;

/* Start a proxy to upstream host:port (host is a numeric IPv4 address, e.g. "127.0.0.1").
 * Returns 0 or -1 (errno set). */
int fp_start(fp_proxy **out, const char *host, uint16_t port);

/* Stop the thread, close every socket, free. NULL is a no-op. */
void fp_stop(fp_proxy *p);

/* The port the proxy listens on (127.0.0.1). */
uint16_t fp_port(const fp_proxy *p);

/* Send new connections to another upstream (connections already open keep theirs). */
void fp_set_upstream(fp_proxy *p, const char *host, uint16_t port);

/* Cut the connection after `n` more upstream bytes, then again every `n` bytes, `count` times in
 * all. count 0 (or n 0) disarms. */
void fp_set_cut(fp_proxy *p, uint64_t n, unsigned count);

/* Cut every connection once it has carried `n` upstream bytes of its own (a relay that caps
 * bytes per connection; new connections get a fresh allowance). 0 disarms. Counted in fp_cuts.
 * Independent of fp_set_cut, which counts bytes across connections. */
void fp_set_conn_cap(fp_proxy *p, uint64_t n);

/* Corrupt requests: the upstream stream is followed as HTTP/1.1 requests (bodies framed by
 * Content-Length; chunked bodies are not followed, so set this only for clients that send
 * Content-Length), request bodies are numbered 1, 2, ... across connections, and one byte in the
 * middle of every body whose number is `phase` modulo `every` is flipped. every 0 disarms.
 * Arm it before the traffic to follow starts (a connection already inside a body is misread).
 * Counted in fp_flips (flipped) and fp_bodies (seen). */
void fp_set_flip(fp_proxy *p, unsigned every, unsigned phase);

/* Limit upstream forwarding to `bytes_per_sec` (0: unlimited), shared by all connections. */
void fp_set_rate(fp_proxy *p, uint64_t bytes_per_sec);

/* Limit upstream forwarding on each connection to `bytes_per_sec` (0: unlimited), like a relay
 * or per-flow shaping does: N connections may carry N times as much. Combines with
 * fp_set_rate. */
void fp_set_conn_rate(fp_proxy *p, uint64_t bytes_per_sec);

/* Stall (1) or resume (0): while stalled nothing is forwarded in either direction, but
 * connections stay open (a client that closes its side is let go). */
void fp_set_stall(fp_proxy *p, int on);

/* Stall once `n` more upstream bytes have been forwarded (0 disarms). */
void fp_set_stall_after(fp_proxy *p, uint64_t n);

/* Cut every open connection now, whatever its state (stalled ones too): the server side gets a
 * clean EOF after the bytes already forwarded, the client side a reset. Returns once done.
 * Counted in fp_cuts. For a client that died while the proxy was stalled: its kernel still
 * holds unsent bytes, so its FIN would only come after them. */
void fp_cut_all(fp_proxy *p);

/* Counters since start: upstream bytes forwarded, connections accepted, cuts made. */
uint64_t fp_upstream_bytes(fp_proxy *p);
unsigned fp_accepted(fp_proxy *p);
unsigned fp_cuts(fp_proxy *p);
unsigned fp_flips(fp_proxy *p);
unsigned fp_bodies(fp_proxy *p);
int fp_stalled(fp_proxy *p);

/* Block until the counter reaches at least `n`, or `timeout_ms` passes.
 * Return 0 when reached, -1 on timeout. */
int fp_wait_upstream_bytes(fp_proxy *p, uint64_t n, int timeout_ms);
int fp_wait_accepted(fp_proxy *p, unsigned n, int timeout_ms);
int fp_wait_cuts(fp_proxy *p, unsigned n, int timeout_ms);
int fp_wait_stalled(fp_proxy *p, int timeout_ms);

#endif
