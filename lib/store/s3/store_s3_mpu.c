/* The multipart-upload calls and the two listings the store needs. Every call here sends a
 * memory body at most, so s3_call may repeat it after a lost answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

#define LIST_PAGE_MAX ((size_t)2 << 20)

int s3_put_object(s3_store *s, const char *name, const void *data, size_t len, const char *token,
                  const char *if_none_match)
{
  char tok[64], cond[32];
  s3_request rq = {.method = "PUT", .object = name, .body = data, .body_len = len};
  size_t h = 0;
  if (token) {
    snprintf(tok, sizeof(tok), "x-amz-meta-rs-token: %s", token);
    rq.headers[h++] = tok;
  }
  if (if_none_match) {
    snprintf(cond, sizeof(cond), "If-None-Match: %s", if_none_match);
    rq.headers[h++] = cond;
  }
  rq.headers[h++] = "Content-Type: application/octet-stream";
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  if (rs.status == 412)
    return RESUMABLE_E_SUPERSEDED;
  rc = s3_status_code(&rs);
  return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rc; /* 404 here: no such bucket */
}

int s3_mpu_create(s3_store *s, const char *name, const char *token, char *upload, size_t cap)
{
  char tok[64], out[2048];
  snprintf(tok, sizeof(tok), "x-amz-meta-rs-token: %s", token);
  s3_request rq = {.method = "POST",
                   .object = name,
                   .query = "uploads=",
                   .headers = {tok},
                   .out = out,
                   .out_cap = sizeof(out)};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_status_code(&rs);
  if (rc != RESUMABLE_OK)
    return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rc;
  size_t pos = 0;
  long n = s3_xml_text(out, rs.out_len, &pos, "UploadId", upload, cap);
  if (n <= 0)
    return RESUMABLE_E_IO;
  for (long i = 0; i < n; i++)
    if ((unsigned char)upload[i] <= 0x20 || (unsigned char)upload[i] >= 0x7f || upload[i] == '"')
      return RESUMABLE_E_IO; /* we keep it in a line of the state record */
  return RESUMABLE_OK;
}

static int upload_query(const char *upload, char *out, size_t cap)
{
  char enc[S3_ID_MAX * 3];
  if (s3_encode(upload, strlen(upload), 0, enc, sizeof(enc)) == 0)
    return -1;
  int n = snprintf(out, cap, "uploadId=%s", enc);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static char *complete_body(const s3_part *parts, uint32_t nparts, size_t *len)
{
  size_t cap = 128 + (size_t)nparts * (S3_ETAG_MAX + 80);
  char *b = malloc(cap);
  if (!b)
    return NULL;
  size_t n = (size_t)snprintf(b, cap, "<CompleteMultipartUpload>");
  for (uint32_t i = 0; i < nparts; i++)
    n += (size_t)snprintf(b + n, cap - n,
                          "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
                          (unsigned)parts[i].number, parts[i].etag);
  n += (size_t)snprintf(b + n, cap - n, "</CompleteMultipartUpload>");
  *len = n;
  return b;
}

int s3_mpu_complete(s3_store *s, const char *name, const char *upload, const s3_part *parts,
                    uint32_t nparts)
{
  char query[S3_ID_MAX * 3 + 16], out[4096];
  if (nparts == 0 || upload_query(upload, query, sizeof(query)) != 0)
    return RESUMABLE_E_IO;
  size_t len = 0;
  char *body = complete_body(parts, nparts, &len);
  if (!body)
    return RESUMABLE_E_NOMEM;
  s3_request rq = {.method = "POST",
                   .object = name,
                   .query = query,
                   .body = body,
                   .body_len = len,
                   .out = out,
                   .out_cap = sizeof(out)};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  free(body);
  if (rc != RESUMABLE_OK)
    return rc;
  if (strcmp(rs.code, "InvalidPart") == 0 || strcmp(rs.code, "InvalidPartOrder") == 0 ||
      strcmp(rs.code, "EntityTooSmall") == 0)
    return RESUMABLE_E_CONFLICT;
  if (strcmp(rs.code, "NoSuchUpload") == 0)
    return RESUMABLE_E_NOT_FOUND;
  rc = s3_status_code(&rs);
  if (rc == RESUMABLE_E_NOT_FOUND)
    rc = RESUMABLE_E_IO;
  /* S3 may answer 200 and then report a failure in the body. */
  if (rc == RESUMABLE_OK && strstr(out, "<Error>") != NULL)
    rc = RESUMABLE_E_IO;
  return rc;
}

int s3_mpu_abort(s3_store *s, const char *name, const char *upload)
{
  char query[S3_ID_MAX * 3 + 16];
  if (upload_query(upload, query, sizeof(query)) != 0)
    return RESUMABLE_E_IO;
  s3_request rq = {.method = "DELETE", .object = name, .query = query};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_status_code(&rs);
  return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_OK : rc;
}

/* One page of a listing into a malloc'ed buffer. */
static int list_page(s3_store *s, const char *query, char **out, size_t *len)
{
  char *b = malloc(LIST_PAGE_MAX);
  if (!b)
    return RESUMABLE_E_NOMEM;
  s3_request rq = {.method = "GET", .query = query, .out = b, .out_cap = LIST_PAGE_MAX};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc == RESUMABLE_OK)
    rc = s3_status_code(&rs);
  if (rc == RESUMABLE_OK && rs.out_truncated)
    rc = RESUMABLE_E_IO;
  if (rc != RESUMABLE_OK) {
    free(b);
    return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rc;
  }
  *out = b;
  *len = rs.out_len;
  return RESUMABLE_OK;
}

/* "name=<encoded value>&" appended when value is non-empty. */
static int add_param(char *q, size_t cap, const char *name, const char *value)
{
  size_t n = strlen(q);
  char enc[S3_NAME_MAX * 3];
  if (!value || !*value)
    return 0;
  if (s3_encode(value, strlen(value), 0, enc, sizeof(enc)) == 0)
    return -1;
  int k = snprintf(q + n, cap - n, "%s%s=%s", n ? "&" : "", name, enc);
  return k < 0 || (size_t)k >= cap - n ? -1 : 0;
}

static int parse_objects(const char *xml, size_t len, s3_object_visit_fn fn, void *arg, char *next,
                         size_t next_cap)
{
  size_t pos = 0, a, b;
  char key[S3_NAME_MAX], when[64], size[32], flag[16];
  while (s3_xml_element(xml, len, &pos, "Contents", &a, &b) == 0) {
    size_t p = a;
    if (s3_xml_text(xml, b, &p, "Key", key, sizeof(key)) < 0)
      continue;
    p = a;
    if (s3_xml_text(xml, b, &p, "LastModified", when, sizeof(when)) < 0)
      when[0] = '\0';
    p = a;
    if (s3_xml_text(xml, b, &p, "Size", size, sizeof(size)) < 0)
      size[0] = '\0';
    if (fn(arg, key, strtoull(size, NULL, 10), s3_iso8601(when)) != 0)
      return 1;
  }
  pos = 0;
  next[0] = '\0';
  if (s3_xml_text(xml, len, &pos, "IsTruncated", flag, sizeof(flag)) >= 0 &&
      strcmp(flag, "true") == 0) {
    pos = 0;
    if (s3_xml_text(xml, len, &pos, "NextContinuationToken", next, next_cap) <= 0)
      return -1;
  }
  return 0;
}

int s3_list(s3_store *s, const char *prefix, s3_object_visit_fn fn, void *arg)
{
  char token[2048] = "";
  for (;;) {
    char query[S3_NAME_MAX * 3 + 4096] = "";
    if (add_param(query, sizeof(query), "continuation-token", token) != 0 ||
        add_param(query, sizeof(query), "list-type", "2") != 0 ||
        add_param(query, sizeof(query), "prefix", prefix) != 0)
      return RESUMABLE_E_IO;
    char *xml = NULL;
    size_t len = 0;
    int rc = list_page(s, query, &xml, &len);
    if (rc != RESUMABLE_OK)
      return rc;
    int r = parse_objects(xml, len, fn, arg, token, sizeof(token));
    free(xml);
    if (r < 0)
      return RESUMABLE_E_IO;
    if (r > 0 || token[0] == '\0')
      return RESUMABLE_OK;
  }
}

typedef struct upload_page {
  char key_marker[S3_NAME_MAX], id_marker[S3_ID_MAX];
} upload_page;

static int parse_uploads(const char *xml, size_t len, s3_upload_visit_fn fn, void *arg,
                         upload_page *next, int *more)
{
  size_t pos = 0, a, b;
  char key[S3_NAME_MAX], id[S3_ID_MAX], when[64], flag[16];
  while (s3_xml_element(xml, len, &pos, "Upload", &a, &b) == 0) {
    size_t p = a;
    if (s3_xml_text(xml, b, &p, "Key", key, sizeof(key)) < 0)
      continue;
    p = a;
    if (s3_xml_text(xml, b, &p, "UploadId", id, sizeof(id)) <= 0)
      continue;
    p = a;
    if (s3_xml_text(xml, b, &p, "Initiated", when, sizeof(when)) < 0)
      when[0] = '\0';
    if (fn(arg, key, id, s3_iso8601(when)) != 0)
      return 1;
  }
  *more = 0;
  pos = 0;
  if (s3_xml_text(xml, len, &pos, "IsTruncated", flag, sizeof(flag)) >= 0 &&
      strcmp(flag, "true") == 0) {
    *more = 1;
    size_t p = 0;
    if (s3_xml_text(xml, len, &p, "NextKeyMarker", next->key_marker, sizeof(next->key_marker)) <= 0)
      return -1;
    p = 0;
    if (s3_xml_text(xml, len, &p, "NextUploadIdMarker", next->id_marker, sizeof(next->id_marker)) <
        0)
      next->id_marker[0] = '\0';
  }
  return 0;
}

int s3_mpu_list(s3_store *s, const char *prefix, s3_upload_visit_fn fn, void *arg)
{
  upload_page page = {"", ""};
  for (;;) {
    char query[S3_NAME_MAX * 6 + 1024] = "";
    if (add_param(query, sizeof(query), "key-marker", page.key_marker) != 0 ||
        add_param(query, sizeof(query), "prefix", prefix) != 0 ||
        add_param(query, sizeof(query), "upload-id-marker", page.id_marker) != 0)
      return RESUMABLE_E_IO;
    size_t n = strlen(query);
    snprintf(query + n, sizeof(query) - n, "%suploads=", n ? "&" : "");
    char *xml = NULL;
    size_t len = 0;
    int rc = list_page(s, query, &xml, &len);
    if (rc != RESUMABLE_OK)
      return rc;
    int more = 0;
    int r = parse_uploads(xml, len, fn, arg, &page, &more);
    free(xml);
    if (r < 0)
      return RESUMABLE_E_IO;
    if (r > 0 || !more)
      return RESUMABLE_OK;
  }
}
