/* resumable-serve: a resumable upload server on the POSIX store, over libmicrohttpd. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <resumable/error.h>
#include <resumable/server.h>

#include "mhd_host.h"
#include "cli.h"
#include "store_args.h"

typedef struct serve_options {
  const char *listen;
  uint16_t port;
  const char *root;
  const char *prefix;
  uint64_t max_size;
  const char *token;
  int expose_paths;
  int verbose;
  uint64_t idle_timeout;  /* seconds */
  uint64_t body_timeout;  /* seconds: the minimum-rate window */
  uint64_t min_body_rate; /* bytes/s; 0 = no rate check */
  uint64_t max_connections;
  uint64_t max_per_ip;     /* 0 = no cap */
  uint64_t threads;        /* 0 = one per connection */
  uint64_t partial_ttl;    /* seconds; 0 = never expire */
  uint64_t hash_threads;   /* the handler's SHA-256 threads; 0 = hash inline */
  uint64_t conn_memory;    /* bytes per connection */
  uint64_t header_timeout; /* seconds for a request's whole header phase */
  uint64_t max_header;     /* bytes of request line + header section */
  store_args store;        /* --store, --s3-* */
} serve_options;

static void usage(FILE *out)
{
  fputs("usage: resumable-serve [options]\n"
        "Serve resumable uploads (PUT/HEAD/GET/DELETE <prefix><key>) from a directory.\n"

        "\n"
        "  --listen ADDR      numeric IPv4 or IPv6 address to bind (default 127.0.0.1;\n"
        "                     0.0.0.0 or :: for every interface)\n"
        "  --port N           TCP port, 0 picks a free one (default 8080)\n"
        "  --root DIR         storage directory, created if missing (default ./uploads);\n"
        "                     upload state lives in DIR/.resumable/\n"
        "  --prefix PATH      URL prefix of the files, starts and ends with '/'\n"
        "                     (default /v1/files/)\n"
        "  --max-size BYTES   largest accepted file, with an optional K, M, G or T suffix\n"
        "                     (powers of 1024; \"64M\", \"64MiB\" and \"64mb\" are the same, as\n"
        "                     in resumable-upload); larger uploads get 413 (default: no limit)\n"
        "  --token TOKEN      require 'Authorization: Bearer TOKEN' on every request\n"
        "                     (default: no authentication)\n"
        "  --expose-paths     tell clients where files are stored (X-Local-Path header,\n"
        "                     \"local_path\" in the final reply) (default: off).\n"
        "                     LocalAI's client REQUIRES it: it skips an upload only when\n"
        "                     HEAD carries X-Local-Path, and it takes the stored file's\n"
        "                     path from \"local_path\" (without it an upload \"succeeds\"\n"
        "                     with an empty path)\n"
        "  --idle-timeout S   close a connection that sends and receives nothing for S\n"
        "                     seconds; an upload cut this way keeps its bytes (default 60)\n"
        "  --header-timeout S a request's line and headers must all arrive within S\n"
        "                     seconds (from the connection's opening, or on a kept-alive\n"
        "                     connection from the request's first byte), however steadily\n"
        "                     they trickle; otherwise the connection is closed (default 20)\n"
        "  --max-header-size B\n"
        "                     largest request line + header section (K suffix allowed);\n"
        "                     a larger one gets 431 and the connection is closed; at most\n"
        "                     half of --connection-memory (default 16K)\n"
        "  --body-timeout S   window of the minimum body rate, in seconds (default 60)\n"
        "  --min-body-rate B  bytes per second (K or M suffix allowed) a request body must\n"
        "                     average over each window, or the connection is closed and\n"
        "                     the upload keeps the bytes that arrived; 0 turns the check\n"
        "                     off (default 500)\n"
        "  --max-connections N\n"
        "                     concurrent connections; more are closed at once (default 256).\n"
        "                     Each may hold about 2 file descriptors (its socket, its\n"
        "                     upload's file): a warning at start says when 2N + 32 exceeds\n"
        "                     'ulimit -n'. Out of descriptors, accepting pauses and new\n"
        "                     connections and uploads get 503 with Retry-After\n"
        "  --max-connections-per-ip N\n"
        "                     concurrent connections from one client address, 0 for no\n"
        "                     cap (default 0: behind a proxy all clients share an address;\n"
        "                     set it when clients connect directly, so that one client\n"
        "                     cannot take every connection)\n"
        "  --connection-memory B\n"
        "                     memory per connection (K or M suffix allowed); the request\n"
        "                     line and headers must fit in it, larger ones get 431\n"
        "                     (default 256K)\n",
        out);
  fputs("  --threads N        0: one thread per connection; N: a pool of N epoll threads\n"
        "                     shared by all connections (default 0)\n"
        "  --hash-threads N   threads that hash request bodies beside the receiving ones,\n"
        "                     0 hashes on the receiving thread (default 2)\n"
        "  --partial-ttl S    remove partial uploads unchanged for S seconds, checked every\n"
        "                     S/4 seconds (at least every hour); 0 keeps them forever\n"
        "                     (default 86400, one day); tus clients see it as Upload-Expires\n"
        "  --verbose          also log libmicrohttpd's own errors (default: off)\n"
        "  --help             show this help and exit\n"
        "\n"
        "When ready it prints 'listening on http://ADDR:PORT/' on stdout. One line per\n"
        "request (method, key, status, bytes received) goes to stderr. SIGINT or SIGTERM\n"
        "stop it cleanly; uploads cut off keep the bytes that arrived.\n"
        "\n"
        "Answers decided from the headers alone (an 'already there' 200, 400, 409, 413,\n"
        "416) go out at once to a client that sent 'Expect: 100-continue', and it sends\n"
        "no body. Other clients (LocalAI's among them) send the body anyway: it is read\n"
        "to its end and discarded (nothing is stored), bounded only by --idle-timeout\n"
        "and --min-body-rate, and then the answer is sent, so the client sees it rather\n"
        "than a reset it would retry. Two exceptions are read for at most 5 s and then\n"
        "closed without an answer: a 401 (an unauthenticated client must not make the\n"
        "server read unbounded data) and a chunked body (it has no declared end).\n"
        "An upload superseded by a newer request for the same key learns it when its\n"
        "client next sends: it gets 423 if its body then ends within 1 s, otherwise its\n"
        "connection is closed (its bytes so far are kept either way).\n",
        out);
  fputs("\n"
        "It also speaks tus 1.0.0 on the same prefix and store (creation, termination,\n"
        "expiration, checksum, concatenation...): point a tus client (tus-js-client, Uppy)\n"
        "at the endpoint http://ADDR:PORT<prefix>; an upload created there is stored\n"
        "under the key from its metadata 'key', else 'filename' (or a generated one). The\n"
        "endpoint http://ADDR:PORT<prefix><key> names the key itself.\n",
        out);
}

static int bad_usage(const char *what, const char *value)
{
  fprintf(stderr, "resumable-serve: invalid %s: '%s'\n", what, value != NULL ? value : "");
  fputs("try 'resumable-serve --help'\n", stderr);
  return 2;
}

/* `--name VALUE` or `--name=VALUE` at argv[*i] (cli.h): the value, advancing *i, or NULL if
 * argv[*i] is not this option. *missing is set when the value is absent. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *missing)
{
  const char *v = NULL;
  int r = cli_value(argc, argv, i, name, &v);
  if (r < 0)
    *missing = 1;
  return r > 0 ? v : NULL;
}

/* A plain number within [lo, hi] (with K/M/G/T suffixes when `suffix`). */
static int bounded(const char *v, int suffix, uint64_t lo, uint64_t hi, uint64_t *out)
{
  uint64_t n;
  if ((suffix ? cli_parse_size(v, &n) : cli_parse_count(v, &n)) != 0 || n < lo || n > hi)
    return -1;
  *out = n;
  return 0;
}

typedef struct number_flag {
  const char *name;
  const char *what; /* for the usage error */
  int suffix;
  uint64_t lo, hi;
  size_t offset; /* of the uint64_t in serve_options */
} number_flag;

#define DAY_S 86400u
static const number_flag number_flags[] = {
    {"--idle-timeout", "timeout", 0, 1, 7 * DAY_S, offsetof(serve_options, idle_timeout)},
    {"--body-timeout", "timeout", 0, 1, 7 * DAY_S, offsetof(serve_options, body_timeout)},
    {"--header-timeout", "timeout", 0, 1, 3600, offsetof(serve_options, header_timeout)},
    {"--max-header-size", "size", 1, 1024, (uint64_t)32 << 20, offsetof(serve_options, max_header)},
    {"--min-body-rate", "rate", 1, 0, (uint64_t)1 << 40, offsetof(serve_options, min_body_rate)},
    {"--max-connections", "count", 0, 1, 1000000, offsetof(serve_options, max_connections)},
    {"--max-connections-per-ip", "count", 0, 0, 1000000, offsetof(serve_options, max_per_ip)},
    {"--threads", "count", 0, 0, 1024, offsetof(serve_options, threads)},
    {"--connection-memory", "size", 1, 64 * 1024, (uint64_t)64 << 20,
     offsetof(serve_options, conn_memory)},
    {"--hash-threads", "count", 0, 0, 64, offsetof(serve_options, hash_threads)},
    {"--partial-ttl", "ttl", 0, 0, 3650 * (uint64_t)DAY_S, offsetof(serve_options, partial_ttl)},
};

/* 1 if argv[*i] is one of number_flags (stored into o), 0 if not, -1 with *bad set. */
static int number_option(int argc, char **argv, int *i, serve_options *o, int *missing,
                         const number_flag **bad, const char **bad_value)
{
  for (size_t f = 0; f < sizeof number_flags / sizeof number_flags[0]; f++) {
    const number_flag *nf = &number_flags[f];
    const char *v = option_value(argc, argv, i, nf->name, missing);
    if (*missing)
      return 0;
    if (v == NULL)
      continue;
    uint64_t *dst = (uint64_t *)(void *)((char *)o + nf->offset);
    if (bounded(v, nf->suffix, nf->lo, nf->hi, dst) != 0) {
      *bad = nf;
      *bad_value = v;
      return -1;
    }
    return 1;
  }
  return 0;
}

/* Parses argv into o. Returns -1 to go on, or an exit status (0 for --help, 2 for errors). */
static int parse_args(int argc, char **argv, serve_options *o)
{
  for (int i = 1; i < argc; i++) {
    int missing = 0;
    const char *v;
    const number_flag *bad = NULL;
    int num = number_option(argc, argv, &i, o, &missing, &bad, &v);
    if (num < 0)
      return bad_usage(bad->what, v);
    if (num > 0)
      continue;
    if (missing) {
      return bad_usage("missing value for option", argv[i]);
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      store_args_usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--expose-paths") == 0) {
      o->expose_paths = 1;
    } else if (strcmp(argv[i], "--verbose") == 0) {
      o->verbose = 1;
    } else if ((v = option_value(argc, argv, &i, "--listen", &missing)) != NULL) {
      o->listen = v;
    } else if ((v = option_value(argc, argv, &i, "--port", &missing)) != NULL) {
      uint64_t port;
      if (cli_parse_count(v, &port) != 0 || port > 65535)
        return bad_usage("port", v);
      o->port = (uint16_t)port;
    } else if ((v = option_value(argc, argv, &i, "--root", &missing)) != NULL) {
      o->root = v;
    } else if ((v = option_value(argc, argv, &i, "--prefix", &missing)) != NULL) {
      o->prefix = v;
    } else if ((v = option_value(argc, argv, &i, "--max-size", &missing)) != NULL) {
      if (cli_parse_size(v, &o->max_size) != 0)
        return bad_usage("size", v);
    } else if ((v = option_value(argc, argv, &i, "--token", &missing)) != NULL) {
      o->token = v;
    } else if ((num = store_args_parse(argc, argv, &i, &o->store)) != 0) {
      if (num < 0)
        return 2;
    } else {
      return bad_usage(missing ? "missing value for option" : "option", argv[i]);
    }
  }
  return -1;
}

static void log_line(void *user_data, const char *line)
{
  (void)user_data;
  fprintf(stderr, "%s\n", line);
}

static void handler_log(void *user_data, resumable_log_level level, const char *msg)
{
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)user_data;
  fprintf(stderr, "%s: %s\n", (unsigned)level < 4 ? names[level] : "log", msg);
}

/* The store's root, made absolute (local paths must be absolute) and created if missing. */
static int prepare_root(const char *root, char *abs, size_t cap)
{
  if (mkdir(root, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "resumable-serve: cannot create %s: %s\n", root, strerror(errno));
    return -1;
  }
  char cwd[PATH_MAX];
  int n;
  if (root[0] == '/')
    n = snprintf(abs, cap, "%s", root);
  else if (getcwd(cwd, sizeof cwd) != NULL)
    n = snprintf(abs, cap, "%s/%s", cwd, root);
  else
    n = -1;
  if (n < 0 || (size_t)n >= cap) {
    fprintf(stderr, "resumable-serve: cannot resolve %s\n", root);
    return -1;
  }
  return 0;
}

static int configure(resumable_server *srv, const serve_options *o)
{
  int rc = resumable_server_set_prefix(srv, o->prefix);
  if (rc != RESUMABLE_OK) {
    fprintf(stderr, "resumable-serve: bad prefix '%s' (must start and end with '/')\n", o->prefix);
    return -1;
  }
  if (resumable_server_set_max_size(srv, o->max_size) != RESUMABLE_OK ||
      resumable_server_set_token(srv, o->token) != RESUMABLE_OK ||
      resumable_server_set_expose_paths(srv, o->expose_paths) != RESUMABLE_OK ||
      resumable_server_set_hash_threads(srv, (unsigned)o->hash_threads) != RESUMABLE_OK ||
      resumable_server_set_partial_ttl(srv, o->partial_ttl) != RESUMABLE_OK ||
      resumable_server_set_log(srv, handler_log, NULL) != RESUMABLE_OK) {
    fputs("resumable-serve: cannot configure the server\n", stderr);
    return -1;
  }
  return 0;
}

/* Each connection may hold about two descriptors (its socket, its upload's file) beside a few
 * dozen of the server's own: say so at start when the connection cap cannot fit the limit,
 * rather than meet it later as refused connections. */
static void warn_descriptors(const serve_options *o)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return;
  uint64_t need = o->max_connections * 2 + 32;
  if (need <= (uint64_t)rl.rlim_cur)
    return;
  fprintf(stderr,
          "resumable-serve: warning: --max-connections %llu may need about %llu file "
          "descriptors, more than the limit of %llu (ulimit -n); when they run out, new "
          "connections wait and get 503: raise the limit or lower --max-connections\n",
          (unsigned long long)o->max_connections, (unsigned long long)need,
          (unsigned long long)rl.rlim_cur);
}

static void print_ready(const mhd_host *h)
{
  const char *addr = mhd_host_address(h);
  if (strchr(addr, ':') != NULL)
    printf("listening on http://[%s]:%u/\n", addr, (unsigned)mhd_host_port(h));
  else
    printf("listening on http://%s:%u/\n", addr, (unsigned)mhd_host_port(h));
  fflush(stdout);
}

static void sweep(resumable_server *srv, uint64_t ttl)
{
  size_t removed = 0;
  int rc = resumable_server_sweep(srv, ttl, &removed);
  if (rc != RESUMABLE_OK)
    fprintf(stderr, "resumable-serve: sweep of old partials: %s\n", resumable_strerror(rc));
  if (removed > 0)
    fprintf(stderr, "resumable-serve: sweep removed %zu abandoned partial(s)\n", removed);
}

/* Wait for SIGINT or SIGTERM and return it; meanwhile, with a partial TTL, sweep at start and
 * then every ttl/4 seconds (1 s to 1 h), on this thread. */
static int wait_and_sweep(resumable_server *srv, const serve_options *o, const sigset_t *stop)
{
  int sig = 0;
  if (o->partial_ttl == 0) {
    while (sigwait(stop, &sig) != 0) {
    }
    return sig;
  }
  uint64_t every = o->partial_ttl / 4;
  every = every < 1 ? 1 : every > 3600 ? 3600 : every;
  sweep(srv, o->partial_ttl);
  for (;;) {
    struct timespec ts = {.tv_sec = (time_t)every, .tv_nsec = 0};
    sig = sigtimedwait(stop, NULL, &ts);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      sweep(srv, o->partial_ttl);
  }
}

/* Serve until SIGINT or SIGTERM. The signals are blocked in every thread (MHD's inherit the
 * mask) and taken synchronously here, so no handler runs in an arbitrary thread. */
static int serve(resumable_server *srv, const serve_options *o, const sigset_t *stop)
{
  mhd_host_config cfg = {.listen_addr = o->listen,
                         .port = o->port,
                         .server = srv,
                         .timeout_s = (unsigned)o->idle_timeout,
                         .memory_limit = (size_t)o->conn_memory,
                         .max_connections = (unsigned)o->max_connections,
                         .max_per_ip = (unsigned)o->max_per_ip,
                         .threads = (unsigned)o->threads,
                         .body_min_rate = o->min_body_rate,
                         .body_window_s = (unsigned)o->body_timeout,
                         .header_timeout_s = (unsigned)o->header_timeout,
                         .max_header_size = (size_t)o->max_header,
                         .verbose = o->verbose,
                         .log = log_line};
  char err[256];
  mhd_host *h = NULL;
  if (mhd_host_start(&cfg, &h, err, sizeof err) != 0) {
    fprintf(stderr, "resumable-serve: %s\n", err);
    return 1;
  }
  print_ready(h);
  int sig = wait_and_sweep(srv, o, stop);
  fprintf(stderr, "resumable-serve: signal %d, stopping\n", sig);
  mhd_host_stop(h);
  return 0;
}

int main(int argc, char **argv)
{
  serve_options o = {.listen = "127.0.0.1",
                     .port = 8080,
                     .root = "./uploads",
                     .prefix = "/v1/files/",
                     .idle_timeout = 60,
                     .body_timeout = 60,
                     .min_body_rate = 500,
                     .max_connections = 256,
                     .partial_ttl = DAY_S,
                     .hash_threads = 2,
                     .conn_memory = 256 * 1024,
                     .header_timeout = 20,
                     .max_header = 16 * 1024};
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0)
    return rc;
  if (o.max_header > o.conn_memory / 2) {
    fprintf(stderr,
            "resumable-serve: --max-header-size (%llu) must be at most half of "
            "--connection-memory (%llu)\n",
            (unsigned long long)o.max_header, (unsigned long long)o.conn_memory);
    return 2;
  }
  warn_descriptors(&o);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  char root[PATH_MAX];
  resumable_server *srv = NULL;
  if (o.store.s3) {
    if (store_args_s3_server(&o.store, &srv) != 0)
      return 1;
  } else if (prepare_root(o.root, root, sizeof root) != 0) {
    return 1;
  } else if ((rc = resumable_server_new(&srv, root)) != RESUMABLE_OK) {
    fprintf(stderr, "resumable-serve: cannot open %s: %s\n", root, resumable_strerror(rc));
    return 1;
  }
  rc = configure(srv, &o) == 0 ? serve(srv, &o, &stop) : 2;
  resumable_server_free(srv);
  return rc;
}
