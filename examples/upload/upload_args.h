/* Command line of resumable-upload: parsed into a struct without side effects, so that
 * tests/client can pin it. */
#ifndef UPLOAD_ARGS_H
#define UPLOAD_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define UPLOAD_MAX_HEADERS 64
#define UPLOAD_MAX_METADATA 32

/* --protocol */
#define UPLOAD_PROTOCOL_AUTO 0
#define UPLOAD_PROTOCOL_LOCALAI 1
#define UPLOAD_PROTOCOL_TUS 2
#define UPLOAD_PROTOCOL_IETF 3

typedef struct upload_args {
  int help;
  int has_budget;
  uint64_t budget_ms;
  int has_chunk;
  uint64_t chunk;
  const char *sha256;
  const char *headers[UPLOAD_MAX_HEADERS];
  int n_headers;
  const char *token;
  int has_backoff_min;
  uint64_t backoff_min_ms;
  int has_backoff_max;
  uint64_t backoff_max_ms;
  uint64_t limit_rate;
  const char *cacert;
  const char *capath;
  const char *cert;
  const char *key;
  int insecure;
  int json;
  int quiet;
  int verbose;
  int no_hash_cache;
  int protocol;                              /* UPLOAD_PROTOCOL_*; default AUTO */
  const char *metadata[UPLOAD_MAX_METADATA]; /* "K=V" */
  int n_metadata;
  int no_url_store;
  unsigned parallel; /* 0: not given */
  int cancel_remote;
  int chunk_digest; /* 0: not given (auto); 1: --chunk-digest; -1: --no-chunk-digest */
  const char *file;
  const char *url;
} upload_args;

/* Sizes and seconds are parsed by cli.h (cli_parse_size, cli_parse_seconds), shared with
 * resumable-serve. */

/* Parse argv (argv[0] is the program). Options take "--opt VALUE" or "--opt=VALUE"; "--" ends
 * them. Returns 0, or -1 with a one-line reason in err. The struct points into argv. */
int upload_parse_args(int argc, char **argv, upload_args *a, char *err, size_t errcap);

/* The default hash cache directory, from the values of XDG_CACHE_HOME and HOME (either may be
 * NULL): "$XDG_CACHE_HOME/libresumable" when that is an absolute path (the XDG base directory
 * spec ignores relative ones), else "$HOME/.cache/libresumable". Returns 0, or -1 when there is
 * neither (or the result does not fit in cap): then no cache is used. */
int upload_default_cache_dir(const char *xdg_cache_home, const char *home, char *buf, size_t cap);

/* The default tus URL store directory: "$XDG_STATE_HOME/libresumable" when absolute, else
 * "$HOME/.local/state/libresumable". Returns 0, or -1 (no store is used). */
int upload_default_state_dir(const char *xdg_state_home, const char *home, char *buf, size_t cap);

/* The process exit code for a resumable error code (see --help). */
int upload_exit_code(int resumable_rc);

#define UPLOAD_EXIT_OK 0
#define UPLOAD_EXIT_FAILED 1 /* refused by the server, or another permanent failure */
#define UPLOAD_EXIT_USAGE 2
#define UPLOAD_EXIT_BUDGET 3
#define UPLOAD_EXIT_FILE 4
#define UPLOAD_EXIT_INTERRUPTED 130

#endif
