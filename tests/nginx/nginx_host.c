/* nginx-host: start Debian's nginx with the resumable module on a free loopback port, as the
 * user who runs it, with its configuration in a scratch directory; print the URL; serve in the
 * foreground.
 *
 *   nginx-host --nginx /usr/sbin/nginx --module build/.../ngx_http_resumable_module.so \
 *              [--dir SCRATCH] --root ROOT [--port 0] [--prefix /v1/files/] [--token T]
 *              [--max-size N]
 *              [--expose-paths] [--hash-threads N] [--partial-ttl S] [--workers N]
 *              [--directive 'nginx directive;' (in the location, repeatable)]
 *              [--http-directive 'nginx directive;' (in http{}, repeatable)]
 *              [--main-directive 'nginx directive;' (at the top, repeatable)]
 *   or nginx-host --nginx ... --dir SCRATCH --conf-template FILE
 *              (FILE as the whole configuration, with @PORT@ and @DIR@ replaced)
 *
 * prints "listening on http://127.0.0.1:PORT/" once nginx's worker answers (so its upload root is
 * open), and exits with nginx's status when nginx does (daemon off, a master and its workers, run
 * as its child; SIGTERM or SIGINT to this process stops nginx; all of them are in a process
 * group of their own so that kill(-pid, SIGKILL) takes them all, like a crash). nginx's error log is SCRATCH/error.log, its access log
 * SCRATCH/access.log. Without --dir, SCRATCH is a new directory in $TMPDIR, removed at the end.
 *
 * The port: nginx cannot bind port 0 and report it. This program binds 127.0.0.1:0 and listens
 * itself, then hands the socket to nginx the way nginx's binary upgrade does (the NGINX
 * environment variable names inherited listening sockets; nginx adopts the one whose address
 * its `listen` names). So no other process can take the port between picking and binding (no
 * retry loop on EADDRINUSE), and connections queue in the kernel until nginx accepts them.
 *
 * Run as root (CI), nginx would start its workers as "nobody", who cannot write the test's
 * directories: the configuration then says `user root;`. Otherwise nginx runs as the caller.
 * RS_NGINX_PRELOAD, when set, becomes nginx's LD_PRELOAD (the sanitizer runtimes an
 * instrumented module needs in a binary that is not instrumented); their reports then go to
 * SCRATCH/sanitizer-*. */
#define _DEFAULT_SOURCE /* realpath */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_fs.h"

#define MAX_DIRECTIVES 16

typedef struct host_opts {
  const char *nginx, *module, *dir, *root, *prefix, *token, *max_size, *hash_threads, *ttl;
  const char *workers, *conf_template;
  int expose_paths;
  const char *loc[MAX_DIRECTIVES];
  size_t nloc;
  const char *http[MAX_DIRECTIVES];
  size_t nhttp;
  const char *main[MAX_DIRECTIVES];
  size_t nmain;
} host_opts;

static int usage(const char *why)
{
  fprintf(stderr, "nginx-host: %s (see the top of tests/nginx/nginx_host.c)\n", why);
  return 2;
}

static int parse(int argc, char **argv, host_opts *o)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--expose-paths") == 0) {
      o->expose_paths = 1;
      continue;
    }
    if (i + 1 >= argc)
      return usage("an option needs a value");
    const char *v = argv[++i];
    const char **slot = strcmp(a, "--nginx") == 0           ? &o->nginx
                        : strcmp(a, "--module") == 0        ? &o->module
                        : strcmp(a, "--dir") == 0           ? &o->dir
                        : strcmp(a, "--root") == 0          ? &o->root
                        : strcmp(a, "--prefix") == 0        ? &o->prefix
                        : strcmp(a, "--token") == 0         ? &o->token
                        : strcmp(a, "--max-size") == 0      ? &o->max_size
                        : strcmp(a, "--hash-threads") == 0  ? &o->hash_threads
                        : strcmp(a, "--partial-ttl") == 0   ? &o->ttl
                        : strcmp(a, "--workers") == 0       ? &o->workers
                        : strcmp(a, "--conf-template") == 0 ? &o->conf_template
                                                            : NULL;
    if (strcmp(a, "--port") == 0 && strcmp(v, "0") == 0) {
      continue; /* resumable-serve's way to ask for a free port: always so here */
    } else if (slot != NULL) {
      *slot = v;
    } else if (strcmp(a, "--directive") == 0 && o->nloc < MAX_DIRECTIVES) {
      o->loc[o->nloc++] = v;
    } else if (strcmp(a, "--http-directive") == 0 && o->nhttp < MAX_DIRECTIVES) {
      o->http[o->nhttp++] = v;
    } else if (strcmp(a, "--main-directive") == 0 && o->nmain < MAX_DIRECTIVES) {
      o->main[o->nmain++] = v;
    } else {
      return usage("unknown option");
    }
  }
  if (o->nginx == NULL || (o->dir == NULL && o->root == NULL) ||
      (o->conf_template == NULL && (o->module == NULL || o->root == NULL)))
    return usage("--nginx, and --module and --root or --dir and --conf-template are required");
  return -1;
}

/* A listening socket on 127.0.0.1 and a port the kernel picked; -1 on failure. */
static int listen_any(unsigned *port)
{
  /* No CLOEXEC: nginx inherits it. Non-blocking, as nginx makes the sockets it opens itself: it
   * leaves inherited ones as they come, and with two workers woken for one connection the one
   * that loses the race would block in accept() with its other connections unserved. */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 511) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    perror("nginx-host: listening socket");
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

/* The template with @PORT@ and @DIR@ replaced. */
static int write_from_template(const host_opts *o, FILE *f, unsigned port)
{
  FILE *t = fopen(o->conf_template, "r");
  if (t == NULL) {
    perror(o->conf_template);
    return -1;
  }
  int ch;
  char word[8];
  while ((ch = fgetc(t)) != EOF) {
    if (ch != '@') {
      fputc(ch, f);
      continue;
    }
    size_t n = 0;
    while (n + 1 < sizeof word && (ch = fgetc(t)) != EOF && ch != '@')
      word[n++] = (char)ch;
    word[n] = '\0';
    if (strcmp(word, "PORT") == 0)
      fprintf(f, "%u", port);
    else if (strcmp(word, "DIR") == 0)
      fputs(o->dir, f);
    else
      fprintf(f, "@%s%s", word, ch == '@' ? "@" : "");
  }
  fclose(t);
  return 0;
}

static int write_config(const host_opts *o, const char *path, unsigned port)
{
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  if (o->conf_template != NULL) {
    int rc = write_from_template(o, f, port);
    return fclose(f) == 0 ? rc : -1;
  }
  fprintf(f, "daemon off;\nmaster_process on;\nworker_processes %s;\n",
          o->workers != NULL ? o->workers : "1");
  fprintf(f, "pid %s/nginx.pid;\nerror_log %s/error.log info;\nload_module %s;\n", o->dir, o->dir,
          o->module);
  if (geteuid() == 0)
    fprintf(f, "user root;\n");
  for (size_t i = 0; i < o->nmain; i++)
    fprintf(f, "%s\n", o->main[i]);
  fprintf(f, "events { worker_connections 1024; }\nhttp {\n");
  fprintf(f, "  access_log %s/access.log;\n", o->dir);
  static const char *const temps[] = {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"};
  for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
    fprintf(f, "  %s_temp_path %s/tmp_%s;\n", temps[i], o->dir, temps[i]);
  for (size_t i = 0; i < o->nhttp; i++)
    fprintf(f, "  %s\n", o->http[i]);
  fprintf(f, "  server {\n    listen 127.0.0.1:%u;\n", port);
  fprintf(f, "    location %s {\n      resumable on;\n      resumable_root %s;\n",
          o->prefix != NULL ? o->prefix : "/v1/files/", o->root);
  if (o->token != NULL)
    fprintf(f, "      resumable_token %s;\n", o->token);
  if (o->max_size != NULL)
    fprintf(f, "      resumable_max_size %s;\n", o->max_size);
  if (o->hash_threads != NULL)
    fprintf(f, "      resumable_hash_threads %s;\n", o->hash_threads);
  if (o->ttl != NULL)
    fprintf(f, "      resumable_partial_ttl %s;\n", o->ttl);
  if (o->expose_paths)
    fprintf(f, "      resumable_expose_paths on;\n");
  for (size_t i = 0; i < o->nloc; i++)
    fprintf(f, "      %s\n", o->loc[i]);
  fprintf(f, "    }\n  }\n}\n");
  return fclose(f) == 0 ? 0 : -1;
}

/* nginx -t: configuration errors are reported (on stderr) before any URL is printed. */
static int test_config(const host_opts *o, const char *conf)
{
  pid_t pid = fork();
  if (pid == 0) {
    dup2(2, 1);
    execl(o->nginx, o->nginx, "-q", "-t", "-p", o->dir, "-e", "stderr", "-c", conf, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static volatile pid_t nginx_pid;
static volatile int listen_fd = -1;

/* SIGTERM or SIGINT to this process stops nginx the same way (nginx exits, then so does this).
 * The port is closed first, for every process that shares the socket: nginx closes it only once
 * its workers have exited, and a client that connects meanwhile would send its body into a
 * queue that nobody reads (Debian's own stop sends QUIT first, which closes it at once). */
static void forward(int sig)
{
  if (listen_fd >= 0)
    shutdown(listen_fd, SHUT_RDWR);
  if (nginx_pid > 0)
    kill(nginx_pid, sig);
}

/* Ready once a worker answers: workers open their upload roots (init_process) before they
 * accept, so a caller that looks at the root after the URL sees the store already opened. */
static int wait_ready(unsigned port, pid_t pid)
{
  for (int tries = 0; tries < 600; tries++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      return -1; /* nginx exited */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char probe[] = "HEAD / HTTP/1.0\r\n\r\n";
    char ch;
    struct pollfd p = {.fd = s, .events = POLLIN};
    int answered = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                   send(s, probe, sizeof probe - 1, MSG_NOSIGNAL) > 0 && poll(&p, 1, 100) == 1 &&
                   recv(s, &ch, 1, 0) == 1;
    if (s >= 0)
      close(s);
    if (answered)
      return 0;
  }
  return -1;
}

/* Run nginx as a child (it adopts the socket `fd`), print the URL once it answers, and exit
 * with nginx's status. The listening socket is queued meanwhile, so nothing is lost. */
static int supervise(const host_opts *o, const char *conf, int fd, unsigned port)
{
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, &old);
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execl(o->nginx, o->nginx, "-p", o->dir, "-e", "stderr", "-c", conf, (char *)NULL);
    perror(o->nginx);
    _exit(127);
  }
  if (pid < 0)
    return 1;
  listen_fd = fd; /* kept only to close the port at a stop */
  nginx_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (wait_ready(port, pid) != 0) {
    fprintf(stderr, "nginx-host: nginx did not answer (see %s/error.log)\n", o->dir);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  printf("listening on http://127.0.0.1:%u/\n", port);
  fflush(stdout);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
  host_opts o = {0};
  int rc = parse(argc, argv, &o);
  if (rc >= 0)
    return rc;
  /* Without --dir (a host launcher of the conformance kit gets only --root): a fresh one in
   * $TMPDIR, removed when nginx has stopped (left behind by a SIGKILL). Not beside the root:
   * tests compare snapshots of the root's parent. */
  char dir[PATH_MAX];
  int own_dir = o.dir == NULL;
  if (own_dir) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/rs-nginx-host-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
      perror(dir);
      return 1;
    }
    o.dir = dir;
  } else if (mkdir(o.dir, 0700) != 0 && errno != EEXIST) {
    perror(o.dir);
    return 1;
  }
  char module[PATH_MAX];
  if (o.module != NULL) {
    if (realpath(o.module, module) == NULL) { /* nginx resolves a relative one against -p */
      perror(o.module);
      return 1;
    }
    o.module = module;
  }
  char conf[4096];
  snprintf(conf, sizeof conf, "%s/nginx.conf", o.dir);
  unsigned port = 0;
  int fd = listen_any(&port);
  if (fd < 0 || write_config(&o, conf, port) != 0)
    return 1;
  char inherit[32];
  snprintf(inherit, sizeof inherit, "%d;", fd);
  const char *preload = getenv("RS_NGINX_PRELOAD");
  /* Sanitizer reports go to files in the scratch directory, where the tests look for them
   * (nginx's stderr is nobody's to read once it runs). */
  char asan[4200], ubsan[4200];
  snprintf(asan, sizeof asan, "detect_leaks=0:log_path=%s/sanitizer-asan", o.dir);
  snprintf(ubsan, sizeof ubsan, "print_stacktrace=1:log_path=%s/sanitizer-ubsan", o.dir);
  if (setenv("NGINX", inherit, 1) != 0 ||
      (preload != NULL && preload[0] != '\0' &&
       (setenv("LD_PRELOAD", preload, 1) != 0 || setenv("ASAN_OPTIONS", asan, 1) != 0 ||
        setenv("UBSAN_OPTIONS", ubsan, 1) != 0)))
    return 1;
  if (test_config(&o, conf) != 0) {
    fprintf(stderr, "nginx-host: nginx -t refused %s\n", conf);
    return 1;
  }
  if (setpgid(0, 0) != 0)
    perror("nginx-host: setpgid");
  rc = supervise(&o, conf, fd, port);
  if (own_dir)
    test_remove_tree(dir);
  return rc;
}
