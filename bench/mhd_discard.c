/* mhd_discard: a libmicrohttpd server that reads every request body and throws it away, then
 * answers 200 with an empty body. The ceiling for resumable-serve's ingest: the same
 * libmicrohttpd with the same tuning as resumable-serve's host (thread per connection, 2 MiB
 * connection memory limit, 60 s timeout), and no storage or hashing at all.
 * Usage: mhd_discard [PORT]  (default 0: a free port). Prints 'listening on
 * http://127.0.0.1:PORT/' when ready; SIGINT or SIGTERM stop it. Used by bench/run.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* con_cls is set to this marker after the first call, so the body calls can be told apart. */
static int started_marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  (void)cls;
  (void)url;
  (void)method;
  (void)version;
  (void)upload_data;
  if (*con_cls == NULL) {
    *con_cls = &started_marker;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    *upload_data_size = 0; /* discarded */
    return MHD_YES;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ok;
}

static struct MHD_Daemon *start(unsigned short port)
{
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL, on_request,
      NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)2 * 1024 * 1024, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
  unsigned long port = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
  if (port > 65535) {
    fprintf(stderr, "usage: mhd_discard [PORT]\n");
    return 2;
  }
  /* Block the stop signals in every thread (MHD's inherit the mask) and take them here. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  struct MHD_Daemon *d = start((unsigned short)port);
  const union MHD_DaemonInfo *info =
      d != NULL ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  if (info == NULL || info->port == 0) {
    fprintf(stderr, "mhd_discard: cannot listen on 127.0.0.1 port %lu\n", port);
    if (d != NULL)
      MHD_stop_daemon(d);
    return 1;
  }
  printf("listening on http://127.0.0.1:%u/\n", (unsigned)info->port);
  fflush(stdout);
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  MHD_stop_daemon(d);
  return 0;
}
