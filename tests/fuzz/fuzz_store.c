/* Fuzz a store on its own, through its ops table, against a model of store.h's contract:
 * fuzz_store_fs (the POSIX store on a fresh root per input; -DFUZZ_STORE_FS) and
 * fuzz_store_mem (the memory store). Smaller and faster than the handler harness, and it
 * reaches what the handler rarely does: syncs that cut a written tail, partials reopened after
 * unsynced writes, readers held across commits and removes, restarts between any two ops.
 *
 * The input is a sequence of ops, two bytes each (op, argument), on four keys whose places
 * collide ("a", "a/b", "c", "a/b/d"). Like the handler, it uses at most one upload handle per
 * key at a time and appends only at the end. The model holds, per key, the complete file's bytes
 * and info, and the partial's synced info with the bytes written so far. After every op:
 * - every code is the one the model expects (NOT_FOUND, STATE, IO, and CONFLICT exactly where the
 *   key cannot be placed: under or over a complete file or a partial, see conflict());
 * - complete_stat and a full read agree with the model's file; partial_stat with its synced
 *   info; partial_read with the bytes written; partial_scan lists exactly the model's partials;
 * - a reader reads the version it opened, whatever happened to the key since.
 * A restart (POSIX: a new store on the root) keeps complete files and synced partials. */
#ifdef FUZZ_STORE_FS
#define _XOPEN_SOURCE 700 /* mkdtemp */
#endif
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "resumable/error.h"
#include "resumable/store.h"
#include "store_internal.h"
#ifdef FUZZ_STORE_FS
#include "test_fs.h"
#endif

#define NKEYS 4
#define NREADERS 3
#define MAXDATA 512

static const char *const keys[NKEYS] = {"a", "a/b", "c", "a/b/d"};

typedef struct model_key {
  int complete;
  size_t csize;
  uint8_t cdata[MAXDATA];
  resumable_complete_info cinfo;
  int partial;
  resumable_partial_info pinfo; /* as synced */
  size_t written;               /* bytes in the partial (>= pinfo.held) */
  uint8_t pdata[MAXDATA];
  /* the open upload handle (one at most) */
  void *h;
  int staging, committed;
  size_t swritten; /* staging bytes */
  uint8_t sdata[MAXDATA];
  int loose; /* written or reopened since the last sync: a store may drop the hash state */
} model_key;

typedef struct model_reader {
  void *r;
  size_t size;
  uint8_t data[MAXDATA];
} model_reader;

static model_key m[NKEYS];
static model_reader readers[NREADERS];
static resumable_store *store;
static const resumable_store_ops *ops;
static void *self;

/* -- the store under test -------------------------------------------------------------------- */

#ifdef FUZZ_STORE_FS
static char root[64];
static void open_store(void)
{
  if (root[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/rs-fuzz-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(root) != NULL);
  }
  FUZZ_CHECK(resumable_store_fs_new(&store, root) == RESUMABLE_OK);
}
static void drop_store(void)
{
  resumable_store_free(store);
  FUZZ_CHECK(test_remove_tree(root) == 0); /* made again by the next open */
}
/* Restarts keep what is on disk. A partial's hash state is tied to its data file's identity, so
 * a write after the last sync drops it (docs/storage.md), and so does reopening it: the cut of
 * any unsynced tail is an ftruncate, which changes ctime even at the same size (the handler's
 * key_* ops record the identity again when an owner lets go; this harness does not use them). */
static const int can_restart = 1, drops_state = 1;
#else
static void open_store(void)
{
  FUZZ_CHECK(resumable_store_mem_new(&store, 0) == RESUMABLE_OK);
}
static void drop_store(void)
{
  resumable_store_free(store);
}
static const int can_restart = 0, drops_state = 0;
#endif

static void bind_store(void)
{
  ops = resumable_store_ops_of(store);
  self = resumable_store_self(store);
}

/* -- placement ------------------------------------------------------------------------------- */

/* Is key i a directory above key j? */
static int above(int i, int j)
{
  size_t n = strlen(keys[i]);
  return strlen(keys[j]) > n && memcmp(keys[i], keys[j], n) == 0 && keys[j][n] == '/';
}

/* Key i cannot be placed: a complete file or a partial is above or below it. */
static int conflict(int i)
{
  for (int j = 0; j < NKEYS; j++)
    if ((m[j].complete || m[j].partial) && (above(j, i) || above(i, j)))
      return 1;
  return 0;
}

/* -- checks ---------------------------------------------------------------------------------- */

static void check_complete(int i)
{
  resumable_complete_info ci;
  uint8_t buf[MAXDATA + 8];
  size_t got = 0, n = 0;
  void *r = NULL;
  int rc = ops->complete_stat(self, keys[i], &ci);
  if (!m[i].complete) {
    FUZZ_CHECK(rc == RESUMABLE_E_NOT_FOUND); /* also when it is a directory */
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK && memcmp(&ci, &m[i].cinfo, sizeof ci) == 0);
  FUZZ_CHECK(ops->complete_open(self, keys[i], &r, NULL) == RESUMABLE_OK);
  do {
    FUZZ_CHECK(ops->complete_read(self, r, got, buf + got, 13, &n) == RESUMABLE_OK);
    got += n;
  } while (n == 13 && got <= MAXDATA);
  ops->complete_close(self, r);
  FUZZ_CHECK(got == m[i].csize && memcmp(buf, m[i].cdata, got) == 0);
}

static void check_partial(int i)
{
  resumable_partial_info pi;
  int rc = ops->partial_stat(self, keys[i], &pi);
  if (!m[i].partial) {
    FUZZ_CHECK(rc == RESUMABLE_E_NOT_FOUND);
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK);
  FUZZ_CHECK(pi.total == m[i].pinfo.total && pi.held == m[i].pinfo.held);
  FUZZ_CHECK(pi.has_target == m[i].pinfo.has_target &&
             memcmp(pi.target_sha256, m[i].pinfo.target_sha256, 32) == 0);
  if (!(pi.hash_state_len == 0 && m[i].loose && drops_state))
    FUZZ_CHECK(pi.hash_state_len == m[i].pinfo.hash_state_len &&
               memcmp(pi.hash_state, m[i].pinfo.hash_state, pi.hash_state_len) == 0);
  if (m[i].h != NULL && !m[i].staging && !m[i].committed) {
    uint8_t buf[MAXDATA + 8];
    size_t n = 0;
    FUZZ_CHECK(ops->partial_read(self, m[i].h, 0, buf, sizeof buf, &n) == RESUMABLE_OK);
    FUZZ_CHECK(n == m[i].written && memcmp(buf, m[i].pdata, n) == 0);
  }
}

static int scan_visit(void *arg, const char *key, int64_t mtime)
{
  int *seen = arg;
  (void)mtime;
  for (int i = 0; i < NKEYS; i++)
    if (strcmp(key, keys[i]) == 0) {
      FUZZ_CHECK(m[i].partial && !seen[i]);
      seen[i] = 1;
      return 0;
    }
  FUZZ_CHECK(0); /* a key nobody used */
  return 1;
}

static void check_all(void)
{
  int seen[NKEYS] = {0};
  for (int i = 0; i < NKEYS; i++) {
    check_complete(i);
    check_partial(i);
  }
  FUZZ_CHECK(ops->partial_scan(self, NULL, scan_visit, seen) == RESUMABLE_OK);
  for (int i = 0; i < NKEYS; i++)
    FUZZ_CHECK(seen[i] == m[i].partial);
  for (int k = 0; k < NREADERS; k++) {
    if (readers[k].r == NULL)
      continue;
    uint8_t buf[MAXDATA + 8];
    size_t n = 0;
    FUZZ_CHECK(ops->complete_read(self, readers[k].r, 0, buf, sizeof buf, &n) == RESUMABLE_OK);
    FUZZ_CHECK(n == readers[k].size && memcmp(buf, readers[k].data, n) == 0);
  }
}

/* -- ops ------------------------------------------------------------------------------------- */

static resumable_partial_info info_from(uint8_t arg)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof info);
  info.total = arg % 7 == 0 ? UINT64_MAX : MAXDATA + (uint64_t)arg; /* held <= total, as ever */
  info.has_target = arg & 1;
  memset(info.target_sha256, arg, 32);
  info.hash_state_len = arg % 5 == 4 ? RESUMABLE_HASH_STATE_MAX + 1 : (size_t)(arg % 5) * 40;
  memset(info.hash_state, arg ^ 0x5a, sizeof info.hash_state);
  return info;
}

static void op_open(int i, uint8_t arg, resumable_partial_mode mode)
{
  resumable_partial_info info = info_from(arg), got;
  void *h = NULL;
  if (m[i].h != NULL)
    return; /* one handle per key, as the handler does */
  int rc = ops->partial_open(self, keys[i], mode, &info, &h, &got);
  if (mode == RESUMABLE_PARTIAL_EXISTING) {
    FUZZ_CHECK(rc == (m[i].partial ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND));
    if (rc == RESUMABLE_OK) {
      FUZZ_CHECK(got.held == m[i].pinfo.held);
      m[i].written = (size_t)m[i].pinfo.held; /* the unsynced tail is cut */
      m[i].loose = 1;
    }
  } else if (conflict(i)) {
    FUZZ_CHECK(rc == RESUMABLE_E_CONFLICT);
  } else {
    FUZZ_CHECK(rc == RESUMABLE_OK && got.held == 0);
    if (info.hash_state_len > RESUMABLE_HASH_STATE_MAX)
      info.hash_state_len = 0;
    info.held = 0;
    if (mode == RESUMABLE_PARTIAL_CREATE) {
      m[i].partial = 1;
      m[i].pinfo = info;
      m[i].written = 0;
      m[i].loose = 0;
    }
    m[i].swritten = 0;
  }
  if (rc != RESUMABLE_OK)
    FUZZ_CHECK(h == NULL);
  m[i].h = h;
  m[i].staging = mode == RESUMABLE_PARTIAL_STAGING;
  m[i].committed = 0;
}

static void op_write(int i, uint8_t arg)
{
  uint8_t buf[64];
  size_t n = arg % 40;
  if (m[i].h == NULL)
    return;
  size_t *len = m[i].staging ? &m[i].swritten : &m[i].written;
  uint8_t *data = m[i].staging ? m[i].sdata : m[i].pdata;
  if (*len + n > MAXDATA)
    return;
  for (size_t k = 0; k < n; k++)
    buf[k] = (uint8_t)(arg * 31 + *len + k);
  int rc = ops->partial_write(self, m[i].h, *len, buf, n);
  if (m[i].committed) {
    FUZZ_CHECK(rc == RESUMABLE_E_STATE);
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK);
  memcpy(data + *len, buf, n);
  *len += n;
  if (!m[i].staging && n > 0)
    m[i].loose = 1;
}

static void op_sync(int i, uint8_t arg)
{
  if (m[i].h == NULL)
    return;
  resumable_partial_info info = info_from(arg);
  size_t written = m[i].written;
  info.held = arg & 0x80 ? written + 1 + arg % 3 : arg % (written + 1); /* past the end: IO */
  int rc = ops->partial_sync(self, m[i].h, &info);
  if (m[i].staging || m[i].committed) {
    FUZZ_CHECK(rc == RESUMABLE_E_STATE);
    return;
  }
  if (info.held > written) {
    FUZZ_CHECK(rc == RESUMABLE_E_IO);
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK);
  if (info.hash_state_len > RESUMABLE_HASH_STATE_MAX)
    info.hash_state_len = 0;
  m[i].pinfo = info;
  m[i].written = (size_t)info.held; /* bytes past held are discarded */
  m[i].loose = 0;
}

static void op_commit(int i, uint8_t arg)
{
  resumable_complete_info ci;
  if (m[i].h == NULL)
    return;
  size_t written = m[i].staging ? m[i].swritten : m[i].written;
  /* Every byte written, as the handler commits (or one more, which no store may invent). */
  ci.size = arg & 0x80 ? written + 1 : written;
  memset(ci.sha256, arg, 32);
  int rc = ops->partial_commit(self, m[i].h, &ci);
  if (m[i].committed) {
    FUZZ_CHECK(rc == RESUMABLE_E_STATE);
    return;
  }
  if (ci.size > written) {
    FUZZ_CHECK(rc == RESUMABLE_E_IO);
    return;
  }
  if (conflict(i)) { /* a staging upload holds no place: the key may be taken meanwhile */
    FUZZ_CHECK(rc == RESUMABLE_E_CONFLICT && m[i].staging);
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK);
  m[i].complete = 1;
  m[i].csize = (size_t)ci.size;
  memcpy(m[i].cdata, m[i].staging ? m[i].sdata : m[i].pdata, m[i].csize);
  m[i].cinfo = ci;
  if (!m[i].staging)
    m[i].partial = 0;
  m[i].committed = 1;
}

static void op_close(int i)
{
  if (m[i].h == NULL)
    return;
  ops->partial_close(self, m[i].h);
  m[i].h = NULL; /* a partial keeps its tail until reopened; staging bytes are gone */
}

static void op_remove(int i, int complete)
{
  if (m[i].h != NULL)
    return; /* the handler closes the key's handle first */
  int rc = complete ? ops->complete_remove(self, keys[i]) : ops->partial_remove(self, keys[i]);
  int *has = complete ? &m[i].complete : &m[i].partial;
  if (*has) {
    FUZZ_CHECK(rc == RESUMABLE_OK);
    *has = 0;
  } else {
    FUZZ_CHECK(rc == RESUMABLE_E_NOT_FOUND);
  }
}

static void op_reader(int i, uint8_t arg)
{
  model_reader *rd = &readers[arg % NREADERS];
  if (rd->r != NULL) {
    ops->complete_close(self, rd->r);
    rd->r = NULL;
    return;
  }
  resumable_complete_info ci;
  int rc = ops->complete_open(self, keys[i], &rd->r, &ci);
  if (!m[i].complete) {
    FUZZ_CHECK(rd->r == NULL && rc == RESUMABLE_E_NOT_FOUND);
    return;
  }
  FUZZ_CHECK(rc == RESUMABLE_OK && ci.size == m[i].csize);
  rd->size = m[i].csize;
  memcpy(rd->data, m[i].cdata, rd->size);
}

static void close_all(void)
{
  for (int i = 0; i < NKEYS; i++)
    op_close(i);
  for (int k = 0; k < NREADERS; k++)
    if (readers[k].r != NULL) {
      ops->complete_close(self, readers[k].r);
      readers[k].r = NULL;
    }
}

/* A restart: what was synced or committed is there; unsynced tails are cut on reopen. */
static void op_restart(void)
{
  if (!can_restart)
    return;
  close_all();
  resumable_store_free(store);
  open_store();
  bind_store();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  memset(m, 0, sizeof m);
  memset(readers, 0, sizeof readers);
  open_store();
  bind_store();
  for (size_t at = 0; at + 1 < size && at < 200; at += 2) {
    uint8_t op = data[at], arg = data[at + 1];
    int i = (op >> 4) % NKEYS;
    switch (op % 12) {
    case 0:
      op_open(i, arg, RESUMABLE_PARTIAL_CREATE);
      break;
    case 1:
      op_open(i, arg, RESUMABLE_PARTIAL_EXISTING);
      break;
    case 2:
      op_open(i, arg, RESUMABLE_PARTIAL_STAGING);
      break;
    case 3:
      op_write(i, arg);
      break;
    case 4:
      op_sync(i, arg);
      break;
    case 5:
      op_commit(i, arg);
      break;
    case 6:
      op_close(i);
      break;
    case 7:
      op_remove(i, 0);
      break;
    case 8:
      op_remove(i, 1);
      break;
    case 9:
      op_reader(i, arg);
      break;
    case 10:
      op_restart();
      break;
    default:
      op_write(i, arg);
      break;
    }
    check_all();
  }
  close_all();
  drop_store();
  return 0;
}
