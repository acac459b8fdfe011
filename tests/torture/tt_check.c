/* What must hold after every kill and restart (docs/storage.md, PROTOCOL.md "State of a key"):
 * a final path holds a whole uploaded version or nothing, an acknowledged version is never lost,
 * HEAD agrees with the bytes, and a restart leaves no stale staging or orphan partial files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "sha256.h"
#include "tt.h"

int tt_check_init(tt_run *t)
{
  (void)t; /* the root is made by setup() */
  return 0;
}

void tt_partial_name(const char *key, const char *ext, char *out, size_t cap)
{
  uint8_t d[32];
  char hex[65];
  rs_sha256_digest(key, strlen(key), d);
  tt_hex(d, hex);
  snprintf(out, cap, "%s.%s", hex, ext);
}

/* The SHA-256 of the file at k's final path (cached while its inode, size and mtime hold).
 * 1 present, 0 absent, -1 unreadable or not a regular file. */
static int final_hash(tt_run *t, tt_key *k, uint8_t sha[32], uint64_t *size)
{
  char path[PATH_MAX * 2];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", t->root, k->name);
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISREG(st.st_mode))
    return -1;
  int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if (!(k->c_valid && k->c_dev == st.st_dev && k->c_ino == st.st_ino && k->c_mtime_ns == mt &&
        k->c_size == (uint64_t)st.st_size)) {
    uint64_t got = 0;
    if (tt_hash_file(AT_FDCWD, path, k->c_sha, &got) != 0)
      return -1;
    k->c_valid = got == (uint64_t)st.st_size;
    k->c_dev = st.st_dev;
    k->c_ino = st.st_ino;
    k->c_mtime_ns = mt;
    k->c_size = got;
  }
  memcpy(sha, k->c_sha, 32);
  *size = k->c_size;
  return 1;
}

static tt_key *key_named(tt_run *t, const char *rel)
{
  for (unsigned i = 0; i < t->o.files; i++)
    if (strcmp(t->keys[i].name, rel) == 0)
      return &t->keys[i];
  return NULL;
}

/* Every regular file under dir (relative name rel) belongs to a key. */
static void walk(tt_run *t, const char *dir, const char *rel, tt_check_counts *c)
{
  DIR *d = opendir(dir);
  if (d == NULL) {
    tt_fail(t, "cannot list %s: %s", dir, strerror(errno));
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
        (rel[0] == '\0' && strcmp(e->d_name, ".resumable") == 0))
      continue;
    char path[PATH_MAX * 2], sub[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
    if (lstat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      walk(t, path, sub, c);
    } else if (!S_ISREG(st.st_mode) || key_named(t, sub) == NULL) {
      c->stray++;
      tt_fail(t, "stray entry at a final path: %s", sub);
    }
  }
  closedir(d);
}

static void check_key(tt_run *t, tt_key *k, tt_check_counts *c)
{
  uint8_t sha[32];
  uint64_t size = 0;
  int r = final_hash(t, k, sha, &size);
  if (r < 0) {
    c->torn++;
    tt_fail(t, "%s: unreadable or not a regular file", k->name);
  } else if (r == 0) {
    if (k->have_acked) {
      c->lost++;
      tt_fail(t, "%s: acknowledged v%u is gone", k->name, k->acked.number);
    }
  } else if (k->have_acked && memcmp(sha, k->acked.sha, 32) == 0) {
    /* the last acknowledged version */
  } else if (k->have_cur && k->cur_started && memcmp(sha, k->cur.sha, 32) == 0) {
    /* committed, maybe not acknowledged yet */
  } else {
    c->torn++;
    tt_fail(t,
            "%s: %llu bytes match no allowed version (acked v%d %llu bytes, current v%d %llu "
            "bytes)",
            k->name, (unsigned long long)size, k->have_acked ? (int)k->acked.number : -1,
            (unsigned long long)(k->have_acked ? k->acked.size : 0),
            k->have_cur ? (int)k->cur.number : -1,
            (unsigned long long)(k->have_cur ? k->cur.size : 0));
  }
}

void tt_check_root(tt_run *t, tt_check_counts *c)
{
  walk(t, t->root, "", c);
  for (unsigned i = 0; i < t->o.files; i++)
    check_key(t, &t->keys[i], c);
}

/* ---- after a restart ---- */

static int is_hex_name(const char *name, const char **ext)
{
  size_t n = strlen(name);
  if (n != 64 + 5 || name[64] != '.')
    return 0;
  for (size_t i = 0; i < 64; i++)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
      return 0;
  *ext = name + 65;
  return strcmp(*ext, "data") == 0 || strcmp(*ext, "meta") == 0;
}

/* Is a run of this key going on through a live server (so its files may be mid-change)? */
static int key_busy(const tt_run *t, const tt_key *k)
{
  return (k->via >= 0 && t->srv[k->via].alive) || (k->twin_via >= 0 && t->srv[k->twin_via].alive);
}

/* The key whose partial files are called `name` (<hex>.<ext>), or NULL. */
static const tt_key *key_of_partial(tt_run *t, const char *name)
{
  char want[80];
  for (unsigned i = 0; i < t->o.files; i++) {
    tt_partial_name(t->keys[i].name, "data", want, sizeof want);
    if (strncmp(want, name, 64) == 0)
      return &t->keys[i];
  }
  return NULL;
}

/* Temp names are "<what>-<hex pid>-...": was it made by one of the dead processes in `mask`? */
static int made_by(const tt_run *t, unsigned mask, const char *name)
{
  const char *dash = strchr(name, '-');
  unsigned long pid = dash != NULL ? strtoul(dash + 1, NULL, 16) : 0;
  for (unsigned i = 0; i < t->o.servers; i++)
    if ((mask & (1u << i)) && pid != 0 && pid == (unsigned long)t->srv[i].last_pid)
      return 1;
  return 0;
}

/* Once the servers in `restarted` are up again, tmp/ holds no file of their dead processes
 * (with every server restarted and the uploaders parked: nothing at all); in partial/ every
 * .data has its .meta and back, but for keys an upload through a live server is changing. */
static void check_state_dirs(tt_run *t, unsigned restarted, tt_check_counts *c)
{
  char dir[PATH_MAX * 2];
  int all = restarted == (1u << t->o.servers) - 1;
  snprintf(dir, sizeof dir, "%s/.resumable/tmp", t->root);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
        (all || made_by(t, restarted, e->d_name))) {
      c->leftovers++;
      tt_fail(t, "stale file after restart: .resumable/tmp/%s", e->d_name);
    }
  }
  if (d != NULL)
    closedir(d);
  snprintf(dir, sizeof dir, "%s/.resumable/partial", t->root);
  d = opendir(dir);
  while (d != NULL && (e = readdir(d)) != NULL) {
    const char *ext = NULL;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char other[PATH_MAX * 3];
    struct stat st;
    int ours = is_hex_name(e->d_name, &ext);
    const tt_key *k = ours ? key_of_partial(t, e->d_name) : NULL;
    if (k != NULL && key_busy(t, k))
      continue;
    if (ours)
      snprintf(other, sizeof other, "%s/%.64s.%s", dir, e->d_name,
               strcmp(ext, "data") == 0 ? "meta" : "data");
    if (!ours || lstat(other, &st) != 0) {
      c->leftovers++;
      tt_fail(t, "orphan after restart: .resumable/partial/%s", e->d_name);
    }
  }
  if (d != NULL)
    closedir(d);
}

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

/* HEAD (or, with `get`, GET of the first byte) of a key, through server `via`. */
static int request(tt_run *t, unsigned via, tt_key *k, int get, int with_range, head_reply *h)
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
  if (get && with_range)
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
  int present = final_hash(t, k, sha, &size);
  tt_hex(sha, hex);
  if (request(t, via, k, 0, 0, &h) != 0 || (h.status != 200 && h.status != 404)) {
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
      tt_fail(t, "%s: HEAD says complete (%s) but no file is there", k->name, h.sha);
    }
    return;
  }
  int via_get = h.total >= 0; /* complete and partial: the file's hash comes with GET */
  if (via_get)
    request(t, via, k, 1, size > 0, &h);
  if ((h.status != 200 && h.status != 206) || strcasecmp(h.sha, hex) != 0 ||
      (!via_get && h.size != (long long)size)) {
    c->head_bad++;
    tt_fail(t, "%s: server says %ld sha '%s' size %lld, the file has %s, %llu bytes", k->name,
            h.status, h.sha, h.size, hex, (unsigned long long)size);
  }
}

void tt_check_restarted(tt_run *t, unsigned restarted, tt_check_counts *c)
{
  unsigned via = 0;
  while (via + 1 < t->o.servers && !(restarted & (1u << via)))
    via++;
  check_state_dirs(t, restarted, c);
  for (unsigned i = 0; i < t->o.files; i++)
    if (!key_busy(t, &t->keys[i]))
      check_head(t, via, &t->keys[i], c);
}

void tt_check_no_partials(tt_run *t, tt_check_counts *c)
{
  for (unsigned i = 0; i < t->o.files; i++) {
    static const char *const exts[] = {"data", "meta"};
    for (int j = 0; j < 2; j++) {
      char name[80], path[PATH_MAX * 2];
      struct stat st;
      tt_partial_name(t->keys[i].name, exts[j], name, sizeof name);
      snprintf(path, sizeof path, "%s/.resumable/partial/%s", t->root, name);
      if (lstat(path, &st) == 0) {
        c->partial_left++;
        tt_fail(t, "%s finished but .resumable/partial/%s remains", t->keys[i].name, name);
      }
    }
  }
}

/* ---- where the kill landed ---- */

static unsigned count_tmp(tt_run *t)
{
  char dir[PATH_MAX * 2];
  unsigned n = 0;
  snprintf(dir, sizeof dir, "%s/.resumable/tmp", t->root);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  if (d != NULL)
    closedir(d);
  return n;
}

void tt_classify_kill(tt_run *t, tt_commit_evidence *e)
{
  e->staged = count_tmp(t);
  for (unsigned i = 0; i < t->o.files; i++) {
    tt_key *k = &t->keys[i];
    if (!k->have_cur || !k->cur_started || k->cur.size == 0 || key_busy(t, k))
      continue;
    char name[80], data[PATH_MAX * 2], meta[PATH_MAX * 2];
    struct stat ds, ms;
    uint8_t sha[32];
    uint64_t size = 0;
    tt_partial_name(k->name, "data", name, sizeof name);
    snprintf(data, sizeof data, "%s/.resumable/partial/%s", t->root, name);
    tt_partial_name(k->name, "meta", name, sizeof name);
    snprintf(meta, sizeof meta, "%s/.resumable/partial/%s", t->root, name);
    int have_data = lstat(data, &ds) == 0, have_meta = lstat(meta, &ms) == 0;
    if (final_hash(t, k, sha, &size) == 1 && memcmp(sha, k->cur.sha, 32) == 0) {
      if (k->cur_seen_placed)
        continue; /* placed before an earlier kill: this one did not land in its commit */
      k->cur_seen_placed = 1;
      if (have_meta && !have_data)
        e->renamed++;
      else
        e->unacked++;
      if (t->o.verbose)
        tt_note(t, "  %s v%u (%llu bytes%s) committed, not acknowledged", k->name, k->cur.number,
                (unsigned long long)k->cur.size, k->cur.legacy ? ", whole" : "");
    } else if (have_data && (uint64_t)ds.st_size == k->cur.size) {
      e->landed++;
      if (t->o.verbose)
        tt_note(t, "  %s v%u (%llu bytes, chunk %llu): all bytes in partial/, meta %s", k->name,
                k->cur.number, (unsigned long long)k->cur.size, (unsigned long long)k->cur.chunk,
                have_meta ? "present" : "missing");
    }
  }
}
