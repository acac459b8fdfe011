#include "upload_args.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "resumable/error.h"

/* Options that take a value. */
enum opt_id {
  O_BUDGET,
  O_CHUNK,
  O_SHA,
  O_HEADER,
  O_TOKEN,
  O_BMIN,
  O_BMAX,
  O_RATE,
  O_CACERT,
  O_CAPATH,
  O_CERT,
  O_KEY,
  O_PROTOCOL,
  O_METADATA,
  O_PARALLEL
};
static const struct {
  const char *name;
  enum opt_id id;
} value_opts[] = {
    {"budget", O_BUDGET},     {"chunk-size", O_CHUNK},  {"sha256", O_SHA},
    {"header", O_HEADER},     {"token", O_TOKEN},       {"backoff-min", O_BMIN},
    {"backoff-max", O_BMAX},  {"limit-rate", O_RATE},   {"cacert", O_CACERT},
    {"capath", O_CAPATH},     {"cert", O_CERT},         {"key", O_KEY},
    {"protocol", O_PROTOCOL}, {"metadata", O_METADATA}, {"parallel", O_PARALLEL},
};

static int all_digits(const char *v)
{
  return v[0] && strspn(v, "0123456789") == strlen(v);
}

static int set_value(upload_args *a, enum opt_id id, const char *v, char *err, size_t cap)
{
  int bad = 0;
  switch (id) {
  case O_BUDGET:
    bad = cli_parse_seconds(v, &a->budget_ms) || a->budget_ms == 0;
    a->has_budget = 1;
    break;
  case O_CHUNK:
    bad = cli_parse_size(v, &a->chunk);
    a->has_chunk = 1;
    break;
  case O_SHA:
    a->sha256 = v;
    break;
  case O_HEADER:
    if (a->n_headers == UPLOAD_MAX_HEADERS) {
      snprintf(err, cap, "too many --header options (at most %d)", UPLOAD_MAX_HEADERS);
      return -1;
    }
    a->headers[a->n_headers++] = v;
    break;
  case O_TOKEN:
    a->token = v;
    break;
  case O_BMIN:
    bad = !all_digits(v) || cli_parse_size(v, &a->backoff_min_ms);
    a->has_backoff_min = 1;
    break;
  case O_BMAX:
    bad = !all_digits(v) || cli_parse_size(v, &a->backoff_max_ms);
    a->has_backoff_max = 1;
    break;
  case O_RATE:
    bad = cli_parse_size(v, &a->limit_rate);
    break;
  case O_CACERT:
    a->cacert = v;
    break;
  case O_CAPATH:
    a->capath = v;
    break;
  case O_CERT:
    a->cert = v;
    break;
  case O_KEY:
    a->key = v;
    break;
  case O_PROTOCOL:
    if (strcmp(v, "auto") == 0)
      a->protocol = UPLOAD_PROTOCOL_AUTO;
    else if (strcmp(v, "localai") == 0)
      a->protocol = UPLOAD_PROTOCOL_LOCALAI;
    else if (strcmp(v, "tus") == 0)
      a->protocol = UPLOAD_PROTOCOL_TUS;
    else if (strcmp(v, "ietf") == 0)
      a->protocol = UPLOAD_PROTOCOL_IETF;
    else
      bad = 1;
    break;
  case O_METADATA:
    if (a->n_metadata == UPLOAD_MAX_METADATA) {
      snprintf(err, cap, "too many --metadata options (at most %d)", UPLOAD_MAX_METADATA);
      return -1;
    }
    bad = strchr(v, '=') == NULL || v[0] == '=';
    a->metadata[a->n_metadata++] = v;
    break;
  case O_PARALLEL: {
    uint64_t n = 0;
    bad = !all_digits(v) || cli_parse_size(v, &n) || n < 1 || n > 16;
    a->parallel = (unsigned)n;
    break;
  }
  }
  if (bad)
    snprintf(err, cap, "invalid value '%s'", v);
  return bad ? -1 : 0;
}

static int flag(upload_args *a, const char *name)
{
  if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0)
    a->help = 1;
  else if (strcmp(name, "insecure") == 0 || strcmp(name, "k") == 0)
    a->insecure = 1;
  else if (strcmp(name, "json") == 0)
    a->json = 1;
  else if (strcmp(name, "quiet") == 0 || strcmp(name, "q") == 0)
    a->quiet = 1;
  else if (strcmp(name, "verbose") == 0 || strcmp(name, "v") == 0)
    a->verbose = 1;
  else if (strcmp(name, "no-hash-cache") == 0)
    a->no_hash_cache = 1;
  else if (strcmp(name, "no-url-store") == 0)
    a->no_url_store = 1;
  else if (strcmp(name, "cancel-remote") == 0)
    a->cancel_remote = 1;
  else if (strcmp(name, "chunk-digest") == 0)
    a->chunk_digest = 1;
  else if (strcmp(name, "no-chunk-digest") == 0)
    a->chunk_digest = -1;
  else
    return -1;
  return 0;
}

/* One option at argv[*i]; may consume the next argument as its value (cli.h's syntax: long
 * options take `--name VALUE` or `--name=VALUE`; flags also have a one-dash short form). */
static int option(int argc, char **argv, int *i, upload_args *a, char *err, size_t cap)
{
  const char *arg = argv[*i];
  for (size_t k = 0; k < sizeof value_opts / sizeof value_opts[0]; k++) {
    char name[32];
    snprintf(name, sizeof name, "--%s", value_opts[k].name);
    const char *v = NULL;
    int r = cli_value(argc, argv, i, name, &v);
    if (r == 0)
      continue;
    if (r < 0) {
      snprintf(err, cap, "option %s needs a value", name);
      return -1;
    }
    if (set_value(a, value_opts[k].id, v, err, cap) != 0) {
      size_t used = strlen(err);
      snprintf(err + used, cap - used, " for %s", name);
      return -1;
    }
    return 0;
  }
  const char *name = arg[1] == '-' ? arg + 2 : arg + 1;
  if (strchr(name, '=') != NULL || flag(a, name) != 0) {
    snprintf(err, cap, "unknown option '%s'", arg);
    return -1;
  }
  return 0;
}

int upload_parse_args(int argc, char **argv, upload_args *a, char *err, size_t cap)
{
  memset(a, 0, sizeof *a);
  err[0] = '\0';
  const char *pos[2];
  int npos = 0, opts_done = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!opts_done && strcmp(arg, "--") == 0) {
      opts_done = 1;
    } else if (!opts_done && arg[0] == '-' && arg[1] != '\0') {
      if (option(argc, argv, &i, a, err, cap) != 0)
        return -1;
    } else if (npos < 2) {
      pos[npos++] = arg;
    } else {
      snprintf(err, cap, "unexpected argument '%s'", arg);
      return -1;
    }
  }
  if (a->help)
    return 0;
  if (npos < 2) {
    snprintf(err, cap, "need FILE and URL");
    return -1;
  }
  a->file = pos[0];
  a->url = pos[1];
  return 0;
}

int upload_default_cache_dir(const char *xdg, const char *home, char *buf, size_t cap)
{
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(buf, cap, "%s/libresumable", xdg);
  else if (home && home[0] == '/')
    n = snprintf(buf, cap, "%s/.cache/libresumable", home);
  else
    return -1;
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int upload_default_state_dir(const char *xdg, const char *home, char *buf, size_t cap)
{
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(buf, cap, "%s/libresumable", xdg);
  else if (home && home[0] == '/')
    n = snprintf(buf, cap, "%s/.local/state/libresumable", home);
  else
    return -1;
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int upload_exit_code(int rc)
{
  switch (rc) {
  case RESUMABLE_OK:
    return UPLOAD_EXIT_OK;
  case RESUMABLE_E_TIMEOUT:
    return UPLOAD_EXIT_BUDGET;
  case RESUMABLE_E_FILE:
    return UPLOAD_EXIT_FILE;
  case RESUMABLE_E_CANCELLED:
    return UPLOAD_EXIT_INTERRUPTED;
  case RESUMABLE_E_INVALID_ARG:
    return UPLOAD_EXIT_USAGE;
  default:
    return UPLOAD_EXIT_FAILED;
  }
}
