/* cutproxy: the e2e fault proxy (tests/e2e/faultproxy.h) as a tool for bench/run.sh. It
 * forwards 127.0.0.1:<its port> to 127.0.0.1:UPSTREAM_PORT and cuts the connection carrying
 * the EVERY-th upstream byte, COUNT times (every EVERY bytes; EVERY 0: no such cuts).
 * Options: --rate B forwards at most B upstream bytes per second; --conn-cap B cuts every
 * connection once it has carried B upstream bytes of its own (a relay that caps connections).
 * Usage: cutproxy UPSTREAM_PORT EVERY COUNT [--rate B] [--conn-cap B]. Prints
 * 'listening on http://127.0.0.1:PORT/' when ready; on SIGINT or SIGTERM prints
 * 'upstream_bytes N cuts N connections N' and exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultproxy.h"

static int parse_u64(const char *s, unsigned long long *out)
{
  char *end = NULL;
  if (s == NULL || s[0] < '0' || s[0] > '9')
    return -1;
  *out = strtoull(s, &end, 10);
  return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
  unsigned long long port, every, count, rate = 0, cap = 0;
  int bad = argc < 4 || argc % 2 != 0 || parse_u64(argv[1], &port) != 0 || port == 0 ||
            port > 65535 || parse_u64(argv[2], &every) != 0 || parse_u64(argv[3], &count) != 0 ||
            count > 100000;
  for (int i = 4; !bad && i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--rate") == 0)
      bad = parse_u64(argv[i + 1], &rate) != 0;
    else if (strcmp(argv[i], "--conn-cap") == 0)
      bad = parse_u64(argv[i + 1], &cap) != 0;
    else
      bad = 1;
  }
  if (bad) {
    fprintf(stderr, "usage: cutproxy UPSTREAM_PORT EVERY_BYTES COUNT [--rate B] [--conn-cap B]\n");
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
    perror("cutproxy: start");
    return 1;
  }
  fp_set_cut(p, every, (unsigned)count);
  fp_set_rate(p, rate);
  fp_set_conn_cap(p, cap);
  printf("listening on http://127.0.0.1:%u/\n", (unsigned)fp_port(p));
  fflush(stdout);
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  printf("upstream_bytes %llu cuts %u connections %u\n", (unsigned long long)fp_upstream_bytes(p),
         fp_cuts(p), fp_accepted(p));
  fflush(stdout);
  fp_stop(p);
  return 0;
}
