/* The kill -9 torture's checks for resumable-serve --store s3 (tests/torture/README.md): the
 * same promises as on a POSIX root, read from the bucket instead of the disk. The server runs on
 * a fresh bucket of the cluster that with_ceph.sh started (RS_S3_* in the environment).
 *   - every object at a key is a whole uploaded version (its SHA-256, read with a GET), an
 *     acknowledged version is never lost, no object sits at a name no key owns;
 *   - after a restart each key's state record is readable (a partial or none) and HEAD/GET
 *     agree with the object;
 *   - at the end no key has a partial left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "resumable/error.h"
#include "s3_env.h"
#include "tt.h"
#include "store_internal.h"

static s3_env env;
static resumable_store *store; /* reads the state records as any server would */
static const char *serve_args[16];

int tt_check_init(tt_run *t)
{
  if (s3_env_init(&env, "rs-torture") != 0 || s3_env_store(&env, "", 5u << 20, &store) != 0)
    return -1;
  /* the server takes its credentials from the environment, like any deployment */
  setenv("AWS_ACCESS_KEY_ID", env.access, 1);
  setenv("AWS_SECRET_ACCESS_KEY", env.secret, 1);
  const char *a[] = {"--store",        "s3",          "--s3-endpoint",
                     env.endpoint,     "--s3-bucket", env.bucket,
                     "--s3-part-size", "5M",          NULL};
  memcpy(serve_args, a, sizeof(a));
  for (unsigned i = 0; i < TT_MAX_SERVERS; i++)
    t->srv[i].extra = serve_args;
  return 0;
}

void tt_partial_name(const char *key, const char *ext, char *out, size_t cap)
{
  snprintf(out, cap, "%s.%s", key, ext); /* (no partial files on S3: used only in messages) */
}

/* 1 present, 0 absent, -1 unreadable. */
static int final_hash(tt_key *k, uint8_t sha[32], uint64_t *size)
{
  return s3_env_hash_object(&env, k->name, sha, size);
}

static tt_key *key_named(tt_run *t, const char *name)
{
  for (unsigned i = 0; i < t->o.files; i++)
    if (strcmp(t->keys[i].name, name) == 0)
      return &t->keys[i];
  return NULL;
}

typedef struct stray_ctx {
  tt_run *t;
  tt_check_counts *c;
} stray_ctx;

static void stray(void *arg, const char *name)
{
  stray_ctx *x = arg;
  if (strncmp(name, ".resumable/", 11) == 0 || key_named(x->t, name))
    return;
  x->c->stray++;
  tt_fail(x->t, "stray object at a final name: %s", name);
}

static void check_key(tt_run *t, tt_key *k, tt_check_counts *c)
{
  uint8_t sha[32];
  uint64_t size = 0;
  int r = final_hash(k, sha, &size);
  if (r < 0) {
    c->torn++;
    tt_fail(t, "%s: the object cannot be read", k->name);
  } else if (r == 0) {
    if (k->have_acked) {
      c->lost++;
      tt_fail(t, "%s: acknowledged v%u is gone", k->name, k->acked.number);
    }
  } else if (!(k->have_acked && memcmp(sha, k->acked.sha, 32) == 0) &&
             !(k->have_cur && k->cur_started && memcmp(sha, k->cur.sha, 32) == 0)) {
    c->torn++;
    tt_fail(t, "%s: %llu bytes match no allowed version", k->name, (unsigned long long)size);
  }
}

void tt_check_root(tt_run *t, tt_check_counts *c)
{
  stray_ctx x = {t, c};
  if (s3_env_list(&env, "", stray, &x) != 0)
    tt_fail(t, "cannot list the bucket");
  for (unsigned i = 0; i < t->o.files; i++)
    check_key(t, &t->keys[i], c);
}

/* ---- after a restart: the records, and what the server says ---- */

typedef struct head_reply {
  long status;
  char sha[80];
  long long size, total;
} head_reply;

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  head_reply *h = ud;
  size_t len = size * n;
  char line[256];
  if (len >= sizeof line)
    return len;
  memcpy(line, buf, len);
  line[len] = '\0';
  line[strcspn(line, "\r\n")] = '\0';
  if (strncasecmp(line, "X-Content-SHA256: ", 18) == 0)
    snprintf(h->sha, sizeof h->sha, "%.79s", line + 18);
  else if (strncasecmp(line, "X-File-Size: ", 13) == 0)
    h->size = atoll(line + 13);
  else if (strncasecmp(line, "X-Upload-Total: ", 16) == 0)
    h->total = atoll(line + 16);
  return len;
}

static size_t discard(char *buf, size_t size, size_t n, void *ud)
{
  (void)buf;
  (void)ud;
  return size * n;
}

static int request(tt_run *t, unsigned via, tt_key *k, int get, head_reply *h)
{
  char url[256];
  snprintf(url, sizeof url, "%s%s", t->srv[via].base_url, k->name);
  memset(h, 0, sizeof *h);
  h->size = h->total = -1;
  CURL *c = curl_easy_init();
  if (c == NULL)
    return -1;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOBODY, get ? 0L : 1L);
  if (get)
    curl_easy_setopt(c, CURLOPT_RANGE, "0-0");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
  curl_easy_cleanup(c);
  return rc == CURLE_OK ? 0 : -1;
}

static void check_head(tt_run *t, unsigned via, tt_key *k, tt_check_counts *c)
{
  uint8_t sha[32];
  char hex[65];
  uint64_t size = 0;
  head_reply h;
  int present = final_hash(k, sha, &size);
  tt_hex(sha, hex);
  const resumable_store_ops *ops = resumable_store_ops_of(store);
  int ps = ops->partial_stat(resumable_store_self(store), k->name, NULL);
  if (ps != RESUMABLE_OK && ps != RESUMABLE_E_NOT_FOUND) {
    c->leftovers++;
    tt_fail(t, "%s: the partial's state cannot be read: %s", k->name, resumable_strerror(ps));
  }
  if (request(t, via, k, 0, &h) != 0 || (h.status != 200 && h.status != 404)) {
    c->head_bad++;
    tt_fail(t, "%s: HEAD failed (status %ld)", k->name, h.status);
    return;
  }
  if (h.total >= 0 && (h.sha[0] != '\0' || h.size > h.total)) {
    c->head_bad++;
    tt_fail(t, "%s: HEAD of a partial: held %lld of %lld, X-Content-SHA256 '%s'", k->name, h.size,
            h.total, h.sha);
  }
  if (present <= 0) {
    if (h.status == 200 && h.total < 0) {
      c->head_bad++;
      tt_fail(t, "%s: HEAD says complete (%s) but there is no object", k->name, h.sha);
    }
    return;
  }
  int via_get = h.total >= 0;
  if (via_get)
    request(t, via, k, size > 0, &h);
  if ((h.status != 200 && h.status != 206) || strcasecmp(h.sha, hex) != 0 ||
      (!via_get && h.size != (long long)size)) {
    c->head_bad++;
    tt_fail(t, "%s: server says %ld sha '%s' size %lld, the object has %s, %llu bytes", k->name,
            h.status, h.sha, h.size, hex, (unsigned long long)size);
  }
}

void tt_check_restarted(tt_run *t, unsigned restarted, tt_check_counts *c)
{
  unsigned via = 0; /* ask through a server that was restarted */
  while (via + 1 < t->o.servers && !(restarted & (1u << via)))
    via++;
  for (unsigned i = 0; i < t->o.files; i++)
    check_head(t, via, &t->keys[i], c);
}

void tt_check_no_partials(tt_run *t, tt_check_counts *c)
{
  const resumable_store_ops *ops = resumable_store_ops_of(store);
  for (unsigned i = 0; i < t->o.files; i++) {
    int rc = ops->partial_stat(resumable_store_self(store), t->keys[i].name, NULL);
    if (rc != RESUMABLE_E_NOT_FOUND) {
      c->partial_left++;
      tt_fail(t, "%s finished but a partial remains (%s)", t->keys[i].name, resumable_strerror(rc));
    }
  }
}

void tt_classify_kill(tt_run *t, tt_commit_evidence *e)
{
  const resumable_store_ops *ops = resumable_store_ops_of(store);
  for (unsigned i = 0; i < t->o.files; i++) {
    tt_key *k = &t->keys[i];
    if (!k->have_cur || !k->cur_started || k->cur.size == 0)
      continue;
    uint8_t sha[32];
    uint64_t size = 0;
    resumable_partial_info pi;
    if (final_hash(k, sha, &size) == 1 && memcmp(sha, k->cur.sha, 32) == 0) {
      if (!k->cur_seen_placed) {
        k->cur_seen_placed = 1;
        e->unacked++;
      }
    } else if (ops->partial_stat(resumable_store_self(store), k->name, &pi) == RESUMABLE_OK &&
               pi.held == k->cur.size && pi.total == k->cur.size) {
      e->landed++;
    }
  }
}
