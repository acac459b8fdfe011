/* listen-exec TEMPLATE CONF PROGRAM [ARGS...]
 *
 * Bind a listening TCP socket on 127.0.0.1 port 0 (the kernel picks a free port), write CONF as
 * TEMPLATE with every "@PORT@" replaced by that port, print "port N" on stdout, and exec PROGRAM
 * with the socket inherited the way nginx's binary upgrade passes them (the NGINX environment
 * variable names the descriptor; nginx adopts the socket whose address its `listen` names).
 * nginx cannot bind port 0 itself; this way no fixed port is ever chosen, nothing can take the
 * port between choosing and binding, and clients may connect at once (the kernel queues them
 * until nginx accepts). Used by examples/fleet.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
  perror(what);
  return 1;
}

/* TEMPLATE with @PORT@ replaced, into CONF. */
static int write_conf(const char *tpl, const char *conf, unsigned port)
{
  FILE *in = fopen(tpl, "r"), *out = fopen(conf, "w");
  if (!in || !out) {
    if (in)
      fclose(in);
    if (out)
      fclose(out);
    return -1;
  }
  char line[4096];
  while (fgets(line, sizeof line, in)) {
    char *p = line, *at;
    while ((at = strstr(p, "@PORT@")) != NULL) {
      fwrite(p, 1, (size_t)(at - p), out);
      fprintf(out, "%u", port);
      p = at + 6;
    }
    fputs(p, out);
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
  if (argc < 4) {
    fputs("usage: listen-exec TEMPLATE CONF PROGRAM [ARGS...]\n", stderr);
    return 2;
  }
  /* No CLOEXEC: PROGRAM inherits it. Non-blocking: nginx leaves inherited sockets as they come,
   * and a worker woken for a connection another worker took would block in accept(). */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return fail("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 511) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return fail("bind");
  unsigned port = ntohs(a.sin_port);
  if (write_conf(argv[1], argv[2], port) != 0)
    return fail(argv[2]);
  char env[32];
  snprintf(env, sizeof env, "%d;", fd);
  if (setenv("NGINX", env, 1) != 0)
    return fail("setenv");
  printf("port %u\n", port);
  fflush(stdout);
  execv(argv[3], argv + 3);
  return fail(argv[3]);
}
