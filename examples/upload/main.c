/* resumable-upload: put one file onto a libresumable (or LocalAI) server, resuming where the
 * server stands, whatever the network does. See usage() or --help. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "resumable.h"
#include "upload_args.h"
#include "upload_ui.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
  (void)sig;
  interrupted = 1; /* the progress callback turns this into a clean cancel */
}

static void usage(FILE *out)
{
  fputs("usage: resumable-upload [options] FILE URL\n"
        "\n"
        "Upload FILE to URL (e.g. http://host:8080/v1/files/models/x.bin) with the libresumable\n"
        "protocol: hash it, ask the server what it holds, send only the rest, and retry through\n"
        "network failures until the time budget ends. Running it again after an interruption\n"
        "resumes where the server stands. It also speaks tus 1.0.0 to any tus server (tusd,\n"
        "@tus/server, resumable-serve): then URL is the server's creation endpoint (e.g.\n"
        "https://host/files/; for resumable-serve its prefix, or the URL of the key).\n"
        "\n"
        "options:\n"
        "  --budget SECONDS      overall time budget, hashing included (default 3600; 1.5 ok)\n"
        "  --chunk-size BYTES    send PUTs of at most BYTES (default 0: the rest in one PUT)\n"
        "  --chunk-digest        every chunk carries its own digest (LocalAI and ietf:\n"
        "                        Content-Digest, tus: Upload-Checksum); one that arrives\n"
        "                        damaged is resent alone. Default: when the server asks and\n"
        "                        --chunk-size is set (tus: whenever offered);\n"
        "                        PUTs are then at most 64M (16M without --chunk-size)\n"
        "  --no-chunk-digest     never send per-chunk digests\n"
        "  --sha256 HEX          the file's SHA-256, when known: skips the hashing pass\n"
        "  --header 'K: V'       extra request header (repeatable)\n"
        "  --token TOKEN         send Authorization: Bearer TOKEN\n"
        "  --backoff-min MS      first wait after a transient failure (default 1000)\n"
        "  --backoff-max MS      longest wait between attempts (default 30000)\n"
        "  --limit-rate BYTES    upload at most BYTES per second (default unlimited)\n"
        "  --cacert FILE         CA certificate(s) to verify the server with (PEM)\n"
        "  --capath DIR          directory of CA certificates\n"
        "  --cert FILE, --key FILE  TLS client certificate and key (PEM)\n"
        "  --insecure, -k        do not verify the server's certificate (tests only)\n"
        "  --json                print one JSON object with the result on stdout: status,\n"
        "                        sha256, size, resumed_from, wire_bytes, attempts, restarts,\n"
        "                        chunk_resends (chunks resent after a damaged digest),\n"
        "                        seconds, already_there, hash_cached (the SHA-256 came from the\n"
        "                        hash cache), held, error (null or a name like \"E_TIMEOUT\"),\n"
        "                        protocol (\"localai\", \"tus\" or \"ietf\"), upload_url (tus,\n"
        "                        ietf), message\n"
        "  --quiet, -q           no progress bar and no summary line\n"
        "  --no-hash-cache       do not read or write the hash cache (see below)\n"
        "  --protocol P          localai, tus, ietf or auto (default auto: one OPTIONS request;\n"
        "                        a tus server answers it with Tus-Version, an IETF draft server\n"
        "                        with Accept-Patch: application/partial-upload); ietf is the\n"
        "                        IETF draft \"Resumable Uploads for HTTP\" (interop version 8)\n"
        "  --metadata K=V        tus Upload-Metadata pair (repeatable; 'filename' defaults to\n"
        "                        FILE's base name)\n"
        "  --parallel N          tus: N connections (1..16), when the server offers\n"
        "                        concatenation; each part resumes on its own\n"
        "  --no-url-store        tus: do not remember upload URLs (see below)\n"
        "  --cancel-remote       tus: on Ctrl-C, delete the upload on the server (termination)\n"
        "  --verbose, -v         log every decision (probe, answers, waits) on stderr\n"
        "  --help, -h            this text\n"
        "\n",
        out);
  fputs("BYTES accept K, M, G, T suffixes (powers of 1024): 64M, 1G.\n"
        "The SHA-256 of FILE is kept in a cache, $XDG_CACHE_HOME/libresumable/hashes-v1 (or\n"
        "~/.cache/libresumable/hashes-v1), keyed by device, inode, size, mtime and ctime: a\n"
        "second run on an unchanged file (e.g. after an interruption) skips the hashing pass;\n"
        "an edited or replaced file is hashed again. At most 1024 files are remembered; a file\n"
        "changed in the last moment (100 ms, 2 s on whole-second file systems) is not cached.\n"
        "tus upload URLs are kept in $XDG_STATE_HOME/libresumable/tus-urls-v1 (or\n"
        "~/.local/state/libresumable/), keyed by URL, file identity and SHA-256 (at most 256),\n"
        "so that a later run resumes the same upload; a tus server that offers the checksum\n"
        "extension gets an Upload-Checksum on every request, and a corrupted one is resent.\n"
        "On a terminal a progress bar is drawn on stderr; a summary line always ends the run on\n"
        "stderr (bytes, resumed-from, wire bytes, attempts, seconds, sha256) unless --quiet.\n"
        "Ctrl-C stops cleanly; the server keeps what it received.\n"
        "A relay that cuts every connection after about the same number of bytes is\n"
        "recognised after two such cuts: from then on each PUT fits under that count on a\n"
        "new connection, and cuts are retried without a backoff wait once the server's\n"
        "count stands still (HEAD every 40 ms until two answers agree).\n"
        "\n"
        "exit status:\n"
        "  0    success (also when the server already had the file)\n"
        "  1    refused by the server, or another failure that retrying cannot fix\n"
        "       (TLS certificate, protocol error, hash mismatch)\n"
        "  2    usage error (bad option, bad URL)\n"
        "  3    time budget exhausted (network failures are retried until then)\n"
        "  4    local file error: cannot read FILE, or it changed during the upload (it\n"
        "       grew or shrank, was rewritten, even with its mtime put back, or FILE now names\n"
        "       another file); checked before each request and after the final answer, when\n"
        "       the server may already hold the version that was hashed\n"
        "  130  interrupted (SIGINT); run again to resume\n",
        out);
}

typedef struct ui {
  int bar;   /* draw the progress bar */
  int width; /* terminal columns */
  double last_draw;
  double rate_t; /* time and wire bytes of the last rate sample */
  uint64_t rate_wire;
  double rate; /* smoothed bytes/s */
  resumable_phase last_phase;
  int drawn;
} ui;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void update_rate(ui *u, const resumable_progress *p, double t)
{
  if (p->phase != RESUMABLE_PHASE_SENDING) {
    u->rate_t = t;
    u->rate_wire = p->wire_bytes;
    return;
  }
  double dt = t - u->rate_t;
  if (dt < 0.25)
    return;
  double inst = (double)(p->wire_bytes - u->rate_wire) / dt;
  u->rate = u->rate > 0 ? 0.7 * u->rate + 0.3 * inst : inst;
  u->rate_t = t;
  u->rate_wire = p->wire_bytes;
}

static int on_progress(void *ud, const resumable_progress *p)
{
  ui *u = ud;
  double t = now_s();
  update_rate(u, p, t);
  if (u->bar && p->phase != RESUMABLE_PHASE_DONE &&
      (t - u->last_draw >= 0.2 || p->phase != u->last_phase)) {
    char line[512];
    upload_format_bar(p, u->rate, u->width, line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    u->last_draw = t;
    u->drawn = 1;
  }
  u->last_phase = p->phase;
  return interrupted ? 1 : 0;
}

static void on_log(void *ud, resumable_log_level level, const char *msg)
{
  ui *u = ud;
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if (u->drawn)
    fputs("\r\033[K", stderr);
  fprintf(stderr, "resumable-upload: %s: %s\n", names[level & 3], msg);
}

static int terminal_width(void)
{
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

/* Apply the options; returns 0, or prints what was wrong and returns -1. */
static int configure(resumable_stager *s, const upload_args *a, ui *u)
{
  int rc = 0;
  const char *what = "";
#define TRY(call, name) \
  if (rc == 0) {        \
    rc = (call);        \
    what = name;        \
  }
  if (a->has_budget)
    TRY(resumable_stager_set_time_budget_ms(s, a->budget_ms), "--budget");
  if (a->has_chunk)
    TRY(resumable_stager_set_chunk_size(s, a->chunk), "--chunk-size");
  if (a->chunk_digest)
    TRY(resumable_stager_set_chunk_digest(s, a->chunk_digest > 0 ? 1 : 0), "--chunk-digest");
  if (a->sha256)
    TRY(resumable_stager_set_sha256(s, a->sha256), "--sha256 (64 hex digits)");
  for (int i = 0; i < a->n_headers; i++)
    TRY(resumable_stager_add_header(s, a->headers[i]), "--header ('Name: value')");
  if (a->token)
    TRY(resumable_stager_set_bearer_token(s, a->token), "--token");
  if (a->has_backoff_min || a->has_backoff_max)
    TRY(resumable_stager_set_backoff_ms(s, a->has_backoff_min ? a->backoff_min_ms : 1000,
                                        a->has_backoff_max ? a->backoff_max_ms : 30000),
        "--backoff-min/--backoff-max (1 <= min <= max <= 86400000)");
  if (a->limit_rate)
    TRY(resumable_stager_set_max_send_speed(s, a->limit_rate), "--limit-rate");
  if (a->cacert)
    TRY(resumable_stager_set_ca_file(s, a->cacert), "--cacert");
  if (a->capath)
    TRY(resumable_stager_set_ca_path(s, a->capath), "--capath");
  if (a->cert || a->key)
    TRY(resumable_stager_set_client_cert(s, a->cert, a->key), "--cert/--key");
  TRY(resumable_stager_set_insecure(s, a->insecure), "--insecure");
  char cache_dir[4096];
  if (!a->no_hash_cache && !a->sha256 &&
      upload_default_cache_dir(getenv("XDG_CACHE_HOME"), getenv("HOME"), cache_dir,
                               sizeof cache_dir) == 0)
    TRY(resumable_stager_set_hash_cache_dir(s, cache_dir), "hash cache directory");
  static const resumable_protocol protocols[] = {RESUMABLE_PROTOCOL_AUTO,
                                                 RESUMABLE_PROTOCOL_LOCALAI, RESUMABLE_PROTOCOL_TUS,
                                                 RESUMABLE_PROTOCOL_IETF};
  TRY(resumable_stager_set_protocol(s, protocols[a->protocol]), "--protocol");
  int have_filename = 0;
  for (int i = 0; i < a->n_metadata; i++) {
    char k[160];
    const char *eq = strchr(a->metadata[i], '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - a->metadata[i]), a->metadata[i]);
    have_filename |= strcmp(k, "filename") == 0;
    TRY(resumable_stager_add_metadata(s, k, eq + 1), "--metadata (K=V, K without space or comma)");
  }
  if (!have_filename) {
    const char *base = strrchr(a->file, '/');
    TRY(resumable_stager_add_metadata(s, "filename", base ? base + 1 : a->file), "filename");
  }
  if (a->parallel)
    TRY(resumable_stager_set_parallel(s, a->parallel), "--parallel");
  TRY(resumable_stager_set_cancel_remote(s, a->cancel_remote), "--cancel-remote");
  char state_dir[4096];
  if (!a->no_url_store && upload_default_state_dir(getenv("XDG_STATE_HOME"), getenv("HOME"),
                                                   state_dir, sizeof state_dir) == 0)
    TRY(resumable_stager_set_url_store_dir(s, state_dir), "URL store directory");
  TRY(resumable_stager_set_progress(s, on_progress, u), "progress");
  if (a->verbose)
    TRY(resumable_stager_set_log(s, on_log, u), "--verbose");
#undef TRY
  if (rc != 0)
    fprintf(stderr, "resumable-upload: invalid %s: %s\n", what, resumable_strerror(rc));
  return rc == 0 ? 0 : -1;
}

static void print_json(const resumable_stager *s, int rc, double secs)
{
  char msg[1200], sha[80] = "null", url[4200];
  upload_json_string(resumable_stager_message(s), msg, sizeof msg);
  upload_json_string(resumable_stager_upload_url(s), url, sizeof url);
  if (resumable_stager_sha256(s))
    snprintf(sha, sizeof sha, "\"%s\"", resumable_stager_sha256(s));
  char err[40] = "null";
  if (rc != RESUMABLE_OK)
    snprintf(err, sizeof err, "\"%s\"", resumable_err_name(rc));
  printf("{\"status\": %d, \"sha256\": %s, \"size\": %" PRIu64 ", \"resumed_from\": %" PRIu64
         ", \"wire_bytes\": %" PRIu64
         ", \"attempts\": %u, \"restarts\": %u, \"chunk_resends\": %u, \"seconds\": %.3f"
         ", \"already_there\": %s, \"hash_cached\": %s, \"held\": %" PRIu64
         ", \"error\": %s, \"protocol\": \"%s\", \"upload_url\": %s, \"message\": %s}\n",
         resumable_stager_http_status(s), sha, resumable_stager_size(s),
         resumable_stager_resumed_from(s), resumable_stager_wire_bytes(s),
         resumable_stager_attempts(s), resumable_stager_restarts(s),
         resumable_stager_chunk_resends(s), secs,
         resumable_stager_already_there(s) ? "true" : "false",
         resumable_stager_hash_cached(s) ? "true" : "false", resumable_stager_held(s), err,
         resumable_stager_protocol_used(s) == RESUMABLE_PROTOCOL_TUS    ? "tus"
         : resumable_stager_protocol_used(s) == RESUMABLE_PROTOCOL_IETF ? "ietf"
                                                                        : "localai",
         url, msg);
  fflush(stdout);
}

static void print_summary(const resumable_stager *s, int rc, double secs)
{
  const char *sha = resumable_stager_sha256(s);
  fprintf(stderr,
          "resumable-upload: %s: %" PRIu64 " bytes, resumed from %" PRIu64 ", %" PRIu64
          " wire bytes, %u attempts, %.2f s, sha256 %s%s%s%s\n",
          rc == RESUMABLE_OK ? (resumable_stager_already_there(s) ? "already there" : "done")
                             : resumable_err_name(rc),
          resumable_stager_size(s), resumable_stager_resumed_from(s),
          resumable_stager_wire_bytes(s), resumable_stager_attempts(s), secs,
          sha ? sha : "(unknown)", resumable_stager_hash_cached(s) ? " (cached)" : "",
          rc == RESUMABLE_OK ? "" : "\nresumable-upload: ",
          rc == RESUMABLE_OK ? "" : resumable_stager_message(s));
}

static int upload(const upload_args *a)
{
  resumable_stager *s = NULL;
  int rc = resumable_stager_new(&s, a->url, a->file);
  if (rc == RESUMABLE_E_INVALID_ARG) {
    fprintf(stderr, "resumable-upload: invalid URL '%s' (http:// or https:// expected)\n", a->url);
    return UPLOAD_EXIT_USAGE;
  }
  if (rc != RESUMABLE_OK) {
    fprintf(stderr, "resumable-upload: %s: %s\n", a->file,
            rc == RESUMABLE_E_FILE ? "cannot open (or not a regular file)"
                                   : resumable_strerror(rc));
    return upload_exit_code(rc);
  }
  ui u = {0};
  u.bar = !a->quiet && isatty(STDERR_FILENO);
  u.width = u.bar ? terminal_width() : 80;
  u.last_phase = (resumable_phase)-1;
  if (configure(s, a, &u) != 0) {
    resumable_stager_free(s);
    return UPLOAD_EXIT_USAGE;
  }
  double t0 = now_s();
  rc = resumable_stager_run(s);
  double secs = now_s() - t0;
  if (u.drawn)
    fputs("\r\033[K", stderr);
  if (a->json)
    print_json(s, rc, secs);
  if (!a->quiet)
    print_summary(s, rc, secs);
  resumable_stager_free(s);
  return upload_exit_code(rc);
}

int main(int argc, char **argv)
{
  upload_args a;
  char err[256];
  if (upload_parse_args(argc, argv, &a, err, sizeof err) != 0) {
    fprintf(stderr, "resumable-upload: %s\nTry 'resumable-upload --help'.\n", err);
    return UPLOAD_EXIT_USAGE;
  }
  if (a.help) {
    usage(stdout);
    return UPLOAD_EXIT_OK;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  if (resumable_global_init() != RESUMABLE_OK) {
    fprintf(stderr, "resumable-upload: cannot initialise libcurl\n");
    return UPLOAD_EXIT_FAILED;
  }
  int code = upload(&a);
  resumable_global_cleanup();
  return code;
}
