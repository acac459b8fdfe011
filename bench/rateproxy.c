/* rateproxy: the e2e fault proxy (tests/e2e/faultproxy.h) limiting each connection's upstream
 * rate, like a relay or per-flow shaping, for bench/run.sh's parallel-connections row.
 * Usage: rateproxy UPSTREAM_PORT BYTES_PER_SEC_PER_CONNECTION. Prints
 * 'listening on http://127.0.0.1:PORT/' when ready; on SIGINT or SIGTERM prints
 * 'upstream_bytes N connections N' and exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "faultproxy.h"

int main(int argc, char **argv)
{
  char *end = NULL;
  unsigned long long port = argc == 3 ? strtoull(argv[1], &end, 10) : 0;
  unsigned long long rate = argc == 3 && *end == '\0' ? strtoull(argv[2], &end, 10) : 0;
  if (port == 0 || port > 65535 || rate == 0 || *end != '\0') {
    fprintf(stderr, "usage: rateproxy UPSTREAM_PORT BYTES_PER_SEC_PER_CONNECTION\n");
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  fp_proxy *p = NULL;
  if (fp_start(&p, "127.0.0.1", (uint16_t)port) != 0) {
    perror("rateproxy: start");
    return 1;
  }
  fp_set_conn_rate(p, rate);
  printf("listening on http://127.0.0.1:%u/\n", (unsigned)fp_port(p));
  fflush(stdout);
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  printf("upstream_bytes %llu connections %u\n", (unsigned long long)fp_upstream_bytes(p),
         fp_accepted(p));
  fflush(stdout);
  fp_stop(p);
  return 0;
}
