/* The part pipeline of one writing handle: a single buffer holds the part being filled, and a
 * thread of the handle streams it to S3 as UploadPart while it fills (the part's length is
 * declared up front; curl's read callback waits for bytes that have not arrived yet). So the
 * upload of a part overlaps the arrival of its bytes, memory stays at one part, and the buffer
 * keeps every byte of the part until S3 acknowledged it: a failed attempt is sent again from the
 * buffer, and bytes of a part cut short (the request ended mid-part) go to a tail object.
 *
 * Before each part the thread reads the writer's next state record: if another writer created it,
 * this writer was superseded and the part is not sent. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resumable/error.h"
#include "store_s3.h"

typedef enum job_state { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

struct s3_pipe {
  s3_store *s;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* any change of the fields below */
  pthread_t thread;
  int started, quit;
  uint8_t *buf;
  size_t cap;
  size_t fill; /* bytes of the current part in buf */
  /* the part job */
  job_state state;
  char object[S3_NAME_MAX];
  char upload[S3_ID_MAX];
  uint32_t number;
  size_t len;  /* declared length */
  size_t sent; /* the thread's read position */
  int abort;
  int result;
  char etag[S3_ETAG_MAX];
  /* the superseded check */
  char guard[S3_NAME_MAX];
  char writer[33];
  CURL *easy;
};

int s3_pipe_new(s3_pipe **out, s3_store *s, size_t cap)
{
  s3_pipe *p = calloc(1, sizeof(*p));
  if (!p)
    return RESUMABLE_E_NOMEM;
  p->buf = malloc(cap ? cap : 1);
  if (!p->buf) {
    free(p);
    return RESUMABLE_E_NOMEM;
  }
  p->s = s;
  p->cap = cap;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  *out = p;
  return RESUMABLE_OK;
}

uint8_t *s3_pipe_buf(s3_pipe *p)
{
  return p->buf;
}

size_t s3_pipe_fill(const s3_pipe *p)
{
  return p->fill;
}

/* ---- the thread ---- */

static size_t read_part(char *dst, size_t size, size_t nitems, void *arg)
{
  s3_pipe *p = arg;
  size_t want = size * nitems;
  pthread_mutex_lock(&p->mu);
  while (p->sent >= p->fill && !p->abort && p->sent < p->len)
    pthread_cond_wait(&p->cv, &p->mu);
  if (p->abort) {
    pthread_mutex_unlock(&p->mu);
    return CURL_READFUNC_ABORT;
  }
  size_t avail = p->fill - p->sent, from = p->sent;
  size_t n = want < avail ? want : avail;
  p->sent += n;
  pthread_mutex_unlock(&p->mu);
  /* the owner writes only past `fill`, so these bytes stay put while we copy */
  memcpy(dst, p->buf + from, n);
  return n;
}

static int seek_part(void *arg, curl_off_t offset, int origin)
{
  s3_pipe *p = arg;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > p->len)
    return CURL_SEEKFUNC_FAIL;
  pthread_mutex_lock(&p->mu);
  int ok = (size_t)offset <= p->fill;
  if (ok)
    p->sent = (size_t)offset;
  pthread_mutex_unlock(&p->mu);
  return ok ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

/* Was the writer's next record created by another writer? 1, 0, or a negative code. */
static int superseded(s3_pipe *p, const char *guard, const char *writer)
{
  char buf[8192];
  s3_request rq = {.method = "GET", .object = guard, .out = buf, .out_cap = sizeof(buf)};
  s3_response rs;
  int rc = s3_call(p->s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_status_code(&rs);
  if (rc == RESUMABLE_E_NOT_FOUND)
    return 0;
  if (rc != RESUMABLE_OK)
    return rc;
  /* "writer <hex>" is the record's third line; our own record (a sync racing this check)
   * does not count */
  char line[48];
  snprintf(line, sizeof(line), "\nwriter %s\n", writer);
  return strstr(buf, line) ? 0 : 1;
}

static void pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) /* a signal: sleep the rest */
    ;
}

/* One part, up to 3 attempts from the buffer. Runs on the thread, without p->mu. */
static int run_part(s3_pipe *p, const char *object, const char *upload, uint32_t number, size_t len,
                    char *etag)
{
  char query[S3_ID_MAX * 3 + 64], enc[S3_ID_MAX * 3];
  if (s3_encode(upload, strlen(upload), 0, enc, sizeof(enc)) == 0)
    return RESUMABLE_E_IO;
  snprintf(query, sizeof(query), "partNumber=%u&uploadId=%s", (unsigned)number, enc);
  int rc = RESUMABLE_E_IO;
  for (int attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0)
      pause_ms(200L << attempt);
    pthread_mutex_lock(&p->mu);
    /* A retry waits for the whole part: an attempt that failed while it waited for a slow
     * client (S3 closes idle uploads) must not fail again the same way. */
    while (attempt > 0 && p->fill < len && !p->abort)
      pthread_cond_wait(&p->cv, &p->mu);
    p->sent = 0;
    int aborted = p->abort;
    pthread_mutex_unlock(&p->mu);
    if (aborted)
      return RESUMABLE_E_CANCELLED;
    s3_request rq = {.method = "PUT",
                     .object = object,
                     .query = query,
                     .read_fn = read_part,
                     .seek_fn = seek_part,
                     .read_arg = p,
                     .read_len = len,
                     .quiet_timeouts = 1};
    s3_response rs;
    rc = s3_perform(p->s, p->easy, &rq, &rs);
    pthread_mutex_lock(&p->mu);
    aborted = p->abort;
    pthread_mutex_unlock(&p->mu);
    if (aborted)
      return RESUMABLE_E_CANCELLED;
    if (rc == RESUMABLE_OK && rs.status >= 200 && rs.status < 300) {
      if (rs.etag[0] == '\0')
        return RESUMABLE_E_IO;
      snprintf(etag, S3_ETAG_MAX, "%s", rs.etag);
      return RESUMABLE_OK;
    }
    if (rc == RESUMABLE_OK && strcmp(rs.code, "NoSuchUpload") == 0)
      return RESUMABLE_E_SUPERSEDED; /* the partial was removed or replaced meanwhile */
    if (rc == RESUMABLE_OK && rs.status != 500 && rs.status != 503 && rs.status != 408)
      return s3_status_code(&rs) == RESUMABLE_E_NOSPACE ? RESUMABLE_E_NOSPACE : RESUMABLE_E_IO;
  }
  return rc;
}

static void *worker(void *arg)
{
  s3_pipe *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->quit && p->state != JOB_QUEUED)
      pthread_cond_wait(&p->cv, &p->mu);
    if (p->quit)
      break;
    p->state = JOB_RUNNING;
    char object[S3_NAME_MAX], upload[S3_ID_MAX], guard[S3_NAME_MAX], writer[33], etag[S3_ETAG_MAX];
    memcpy(object, p->object, sizeof(object));
    memcpy(upload, p->upload, sizeof(upload));
    memcpy(guard, p->guard, sizeof(guard));
    memcpy(writer, p->writer, sizeof(writer));
    uint32_t number = p->number;
    size_t len = p->len;
    int aborted = p->abort;
    pthread_mutex_unlock(&p->mu);
    int rc = aborted ? RESUMABLE_E_CANCELLED : RESUMABLE_OK;
    if (rc == RESUMABLE_OK && guard[0]) {
      int sup = superseded(p, guard, writer);
      rc = sup == 1 ? RESUMABLE_E_SUPERSEDED : sup < 0 ? sup : RESUMABLE_OK;
    }
    if (rc == RESUMABLE_OK)
      rc = run_part(p, object, upload, number, len, etag);
    pthread_mutex_lock(&p->mu);
    p->result = rc;
    if (rc == RESUMABLE_OK)
      memcpy(p->etag, etag, sizeof(etag));
    p->state = JOB_DONE;
    pthread_cond_broadcast(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static int start_thread(s3_pipe *p)
{
  if (p->started)
    return RESUMABLE_OK;
  if (!p->easy && !(p->easy = curl_easy_init()))
    return RESUMABLE_E_NOMEM;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&p->thread, NULL, worker, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return RESUMABLE_E_NOMEM;
  p->started = 1;
  return RESUMABLE_OK;
}

/* ---- the owner's side ---- */

/* Stop the job in flight (if any) and wait until the thread let go of it. Under p->mu. */
static void stop_job(s3_pipe *p)
{
  if (p->state == JOB_QUEUED || p->state == JOB_RUNNING) {
    p->abort = 1;
    pthread_cond_broadcast(&p->cv);
    while (p->state != JOB_DONE)
      pthread_cond_wait(&p->cv, &p->mu);
  }
  p->abort = 0;
  p->state = JOB_IDLE;
}

void s3_pipe_reset(s3_pipe *p, size_t fill)
{
  pthread_mutex_lock(&p->mu);
  stop_job(p);
  p->fill = fill <= p->cap ? fill : p->cap;
  pthread_mutex_unlock(&p->mu);
}

void s3_pipe_guard(s3_pipe *p, const char *next_state_name)
{
  pthread_mutex_lock(&p->mu);
  snprintf(p->guard, sizeof(p->guard), "%s", next_state_name ? next_state_name : "");
  pthread_mutex_unlock(&p->mu);
}

void s3_pipe_writer(s3_pipe *p, const char *writer)
{
  pthread_mutex_lock(&p->mu);
  snprintf(p->writer, sizeof(p->writer), "%s", writer);
  pthread_mutex_unlock(&p->mu);
}

/* Queue the part job. Under p->mu. */
static int queue_job(s3_pipe *p, const char *object, const char *upload, uint32_t number,
                     size_t len)
{
  int rc = start_thread(p);
  if (rc != RESUMABLE_OK)
    return rc;
  snprintf(p->object, sizeof(p->object), "%s", object);
  snprintf(p->upload, sizeof(p->upload), "%s", upload);
  p->number = number;
  p->len = len;
  p->sent = 0;
  p->abort = 0;
  p->state = JOB_QUEUED;
  pthread_cond_broadcast(&p->cv);
  return RESUMABLE_OK;
}

int s3_pipe_write(s3_pipe *p, const char *object, const char *upload, uint32_t number, size_t len,
                  const void *buf, size_t n)
{
  pthread_mutex_lock(&p->mu);
  int rc = RESUMABLE_OK;
  if (len > p->cap || p->fill + n > len)
    rc = RESUMABLE_E_IO;
  else if (p->state == JOB_DONE && p->result != RESUMABLE_OK)
    rc = p->result; /* fail fast: superseded, or S3 refused the part */
  else if (p->state == JOB_IDLE && upload && n > 0)
    rc = queue_job(p, object, upload, number, len);
  size_t at = p->fill;
  pthread_mutex_unlock(&p->mu);
  if (rc != RESUMABLE_OK)
    return rc;
  memcpy(p->buf + at, buf, n);
  pthread_mutex_lock(&p->mu);
  p->fill = at + n;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return RESUMABLE_OK;
}

/* Wait for the job to end and take its result; the pipe is idle afterwards, its bytes kept. */
static int wait_job(s3_pipe *p, char *etag)
{
  while (p->state == JOB_QUEUED || p->state == JOB_RUNNING)
    pthread_cond_wait(&p->cv, &p->mu);
  int rc = p->state == JOB_DONE ? p->result : RESUMABLE_E_IO;
  if (rc == RESUMABLE_OK)
    memcpy(etag, p->etag, S3_ETAG_MAX);
  p->state = JOB_IDLE;
  return rc;
}

int s3_pipe_finish(s3_pipe *p, char etag[S3_ETAG_MAX])
{
  pthread_mutex_lock(&p->mu);
  int rc = wait_job(p, etag);
  if (rc == RESUMABLE_OK)
    p->fill = 0;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int s3_pipe_flush_part(s3_pipe *p, const char *object, const char *upload, uint32_t number,
                       char etag[S3_ETAG_MAX])
{
  pthread_mutex_lock(&p->mu);
  int rc = RESUMABLE_OK;
  if (p->state == JOB_DONE || p->len != p->fill || p->number != number ||
      strcmp(p->upload, upload) != 0)
    stop_job(p); /* a stream declared longer (or a failed one) is sent again, whole */
  if (p->state == JOB_IDLE)
    rc = queue_job(p, object, upload, number, p->fill);
  if (rc == RESUMABLE_OK)
    rc = wait_job(p, etag);
  if (rc == RESUMABLE_OK)
    p->fill = 0;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

void s3_pipe_free(s3_pipe *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  stop_job(p);
  p->quit = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (p->started)
    pthread_join(p->thread, NULL);
  if (p->easy)
    curl_easy_cleanup(p->easy);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->buf);
  free(p);
}
