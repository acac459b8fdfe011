/* The legacy client: one whole-file PUT without Content-Range (as `curl -T` or LocalAI's
 * client sends), so the server's staging files in .resumable/tmp/ are on disk when it dies. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <resumable/error.h>

#include "tt_legacy.h"

typedef struct legacy {
  resumable_progress_fn fn;
  void *ud;
  uint64_t size;
  char sha[80];
} legacy;

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
  legacy *l = ud;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  resumable_progress p = {.phase = RESUMABLE_PHASE_SENDING,
                          .total = l->size,
                          .position = (uint64_t)ulnow,
                          .wire_bytes = (uint64_t)ulnow};
  return l->fn(l->ud, &p);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  legacy *l = ud;
  size_t len = size * n;
  if (len > 18 && len < 120 && strncasecmp(buf, "X-Content-SHA256: ", 18) == 0) {
    snprintf(l->sha, sizeof l->sha, "%.*s", (int)(len - 18), buf + 18);
    l->sha[strcspn(l->sha, "\r\n")] = '\0';
  }
  return len;
}

static size_t discard(char *buf, size_t size, size_t n, void *ud)
{
  (void)buf;
  (void)ud;
  return size * n;
}

static int perform(CURL *c, FILE *f, struct curl_slist *hdrs, legacy *l, uint64_t *sent,
                   long *status)
{
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READDATA, f);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)l->size);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, l);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, l);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(c);
  curl_off_t up = 0;
  curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  *sent = (uint64_t)up;
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return RESUMABLE_E_CANCELLED;
  if (rc != CURLE_OK)
    return RESUMABLE_E_NETWORK;
  return *status == 200 ? RESUMABLE_OK : RESUMABLE_E_REFUSED;
}

int tt_legacy_put(const char *url, const char *path, uint64_t size, const char *hex,
                  resumable_progress_fn fn, void *ud, uint64_t *sent, long *status)
{
  legacy l = {.fn = fn, .ud = ud, .size = size};
  char hdr[128];
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  *sent = 0;
  *status = 0;
  FILE *f = fopen(path, "rb");
  CURL *c = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, hdr);
  int rc = RESUMABLE_E_NOMEM;
  if (f != NULL && c != NULL && hdrs != NULL) {
    curl_easy_setopt(c, CURLOPT_URL, url);
    rc = perform(c, f, hdrs, &l, sent, status);
  }
  if (rc == RESUMABLE_OK && strcasecmp(l.sha, hex) != 0)
    rc = RESUMABLE_E_HASH_MISMATCH;
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  if (f != NULL)
    fclose(f);
  return rc;
}
