/* tus 1.0.0 on the wire: the real handler behind the real libmicrohttpd host (the code of
 * resumable-serve), driven by libcurl. Every rule of docs/protocol.md "Dialects: tus" except
 * concatenation (test_tus_concat.c) and the cross-dialect cases (test_tus_cross.c), malformed
 * requests included: each of those must leave the store as it was. */
#include "it_tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TTL 3600
#define MAX (1 << 20)

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->partial_ttl = TTL;
  s->max_size = MAX;
  it_server_start(s);
  *state = s;
  return 0;
}

static char *file_of(const it_server *s, const char *key, size_t *len)
{
  char path[512];
  return it_read_file(it_key_path(s, key, path, sizeof path), len);
}

/* The bytes of `key`'s partial data file on disk, or -1. */
static long long partial_data_size(const it_server *s, const char *key)
{
  char hex[65], path[512];
  struct stat st;
  it_sha256_hex(key, strlen(key), hex);
  snprintf(path, sizeof path, "%s/.resumable/partial/%s.data", s->root, hex);
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void options_lists_version_extensions_and_limits(void **state)
{
  it_server *s = *state;
  it_resp r;
  /* OPTIONS needs no Tus-Resumable and answers on the prefix and on any key alike */
  it_req rq = {.method = "OPTIONS", .key = ""};
  it_request(s, &rq, &r);
  char v[256];
  assert_int_equal(r.status, 204);
  assert_string_equal(it_header(&r, "Tus-Version", v, sizeof v), "1.0.0");
  assert_string_equal(it_header(&r, "Tus-Resumable", v, sizeof v), "1.0.0");
  assert_non_null(it_header(&r, "Tus-Extension", v, sizeof v));
  static const char *const ext[] = {"creation",     "creation-with-upload", "creation-defer-length",
                                    "termination",  "expiration",           "checksum",
                                    "concatenation"};
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    assert_non_null(strstr(v, ext[i]));
  assert_string_equal(it_header(&r, "Tus-Checksum-Algorithm", v, sizeof v), "sha1,sha256,md5");
  assert_int_equal(it_header_num(&r, "Tus-Max-Size"), MAX);
  it_resp_free(&r);
  rq.key = "some/key";
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 204);
  it_resp_free(&r);
  char *tree = it_tree(s->root);
  assert_null(strstr(tree, "some"));
  free(tree);
}

static void other_version_is_412_with_tus_version(void **state)
{
  it_server *s = *state;
  it_resp r;
  it_req rq = {
      .method = "HEAD", .key = "x", .headers = (const char *const[]){"Tus-Resumable: 0.2.2", NULL}};
  it_request(s, &rq, &r);
  char v[64];
  assert_int_equal(r.status, 412);
  assert_string_equal(it_header(&r, "Tus-Version", v, sizeof v), "1.0.0");
  it_resp_free(&r);
}

static void creation_at_a_key_then_patches_to_completion(void **state)
{
  it_server *s = *state;
  char data[3000], hex[65], v[128];
  it_fill(data, sizeof data, 1);
  it_resp r;
  assert_int_equal(it_tus_create(s, "dir/a.bin", sizeof data, NULL, NULL, 0, &r), 201);
  assert_string_equal(it_header(&r, "Location", v, sizeof v), IT_PREFIX "dir/a.bin");
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 0);
  assert_non_null(it_header(&r, "Upload-Expires", v, sizeof v)); /* the partial TTL is set */
  assert_non_null(strstr(v, " GMT"));
  it_resp_free(&r);
  long long off = -1;
  assert_int_equal(it_tus_head(s, "dir/a.bin", &off), 200);
  assert_int_equal(off, 0);
  assert_int_equal(it_tus_patch(s, "dir/a.bin", 0, NULL, data, 1000, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 1000);
  assert_non_null(it_header(&r, "Upload-Expires", v, sizeof v));
  it_resp_free(&r);
  it_resp h;
  assert_int_equal(it_tus(s, "HEAD", "dir/a.bin", NULL, NULL, 0, &h), 200);
  assert_int_equal(it_header_num(&h, "Upload-Offset"), 1000);
  assert_int_equal(it_header_num(&h, "Upload-Length"), (long long)sizeof data);
  assert_string_equal(it_header(&h, "Cache-Control", v, sizeof v), "no-store");
  assert_string_equal(it_header(&h, "Tus-Resumable", v, sizeof v), "1.0.0");
  it_resp_free(&h);
  assert_int_equal(it_tus_patch(s, "dir/a.bin", 1000, NULL, data + 1000, 2000, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)sizeof data);
  assert_null(it_header(&r, "Upload-Expires", v, sizeof v)); /* complete: it never expires */
  it_resp_free(&r);
  size_t len = 0;
  char *got = file_of(s, "dir/a.bin", &len);
  assert_non_null(got);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(got, data, len);
  free(got);
  /* a finished upload: HEAD says offset == length; LocalAI's HEAD has its SHA-256 */
  assert_int_equal(it_tus_head(s, "dir/a.bin", &off), 200);
  assert_int_equal(off, (long long)sizeof data);
  assert_int_equal(it_head(s, "dir/a.bin", &h), 200);
  it_sha256_hex(data, sizeof data, hex);
  assert_string_equal(it_header(&h, "X-Content-SHA256", v, sizeof v), hex);
  it_resp_free(&h);
  /* a repeated last PATCH of zero bytes at the end is answered, not refused */
  assert_int_equal(it_tus_patch(s, "dir/a.bin", sizeof data, NULL, NULL, 0, NULL), 204);
}

static void creation_at_the_prefix_names_the_key(void **state)
{
  it_server *s = *state;
  it_resp r;
  char loc[256];
  /* "key" wins over "filename"; the Location is percent-encoded */
  assert_int_equal(it_tus_create(s, "", 3,
                                 (const char *const[]){"Upload-Metadata: filename Zi5iaW4=,key "
                                                       "ZGlyL2EgYi5iaW4=",
                                                       NULL},
                                 "abc", 3, &r),
                   201);
  char v[256];
  assert_string_equal(it_header(&r, "Location", v, sizeof v), IT_PREFIX "dir/a%20b.bin");
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3);
  it_resp_free(&r);
  size_t len;
  char *got = file_of(s, "dir/a b.bin", &len);
  assert_non_null(got);
  assert_int_equal(len, 3);
  free(got);
  /* filename alone */
  assert_int_equal(it_tus_create(s, "", 5,
                                 (const char *const[]){"Upload-Metadata: filename "
                                                       "Zi5iaW4=",
                                                       NULL},
                                 NULL, 0, &r),
                   201);
  assert_string_equal(it_tus_location(&r, loc, sizeof loc), "f.bin");
  it_resp_free(&r);
  /* neither: a generated key of 32 hex digits */
  assert_int_equal(it_tus_create(s, "", 5, NULL, NULL, 0, &r), 201);
  it_tus_location(&r, loc, sizeof loc);
  assert_int_equal(strlen(loc), 32);
  assert_int_equal(strspn(loc, "0123456789abcdef"), 32);
  it_resp_free(&r);
  assert_int_equal(it_tus_head(s, loc, NULL), 200);
}

static void creation_refusals_change_nothing(void **state)
{
  it_server *s = *state;
  char *before = it_tree(s->parent);
  static const char big_meta[] = "Upload-Metadata: k ";
  char *huge = malloc(6000);
  assert_non_null(huge);
  memcpy(huge, big_meta, sizeof big_meta - 1);
  memset(huge + sizeof big_meta - 1, 'Q', 5000 - 4);
  memcpy(huge + sizeof big_meta - 1 + 5000 - 4, "QQ==", 5);
  static const struct {
    const char *path;
    long long length;
    const char *h1, *h2;
    long want;
  } cases[] = {
      {"n1", -1, NULL, NULL, 400},                    /* no length */
      {"n2", 5, "Upload-Defer-Length: 1", NULL, 400}, /* both */
      {"n3", -1, "Upload-Defer-Length: 2", NULL, 400},
      {"n4", -1, "Upload-Length: -5", NULL, 400},
      {"n5", -1, "Upload-Length: 5x", NULL, 400},
      {"n6", MAX + 1, NULL, NULL, 413},
      {"n7", 5, "Upload-Metadata: name !!!", NULL, 400},      /* not base64 */
      {"n8", 5, "Upload-Metadata: a YQ==,a YQ==", NULL, 400}, /* repeated key */
      {"n9", 5, "Upload-Metadata: a YQ==,", NULL, 400},
      {"", 5, "Upload-Metadata: key Li4vZXNjYXBl", NULL, 400},          /* "../escape" */
      {"", 5, "Upload-Metadata: filename LnJlc3VtYWJsZS94", NULL, 400}, /* ".resumable/x" */
      {"n10", 5, "Upload-Checksum: crc32 AAAAAA==", NULL, 400},         /* unknown algorithm */
      {"n11", 5, "Upload-Checksum: sha1 !!", NULL, 400},
      {"n12", 5, "Upload-Concat: whole", NULL, 400},
      {"n13", 5, "X-Content-SHA256: 12", NULL, 400},
      {"n14", 5, "Upload-Offset: 1", "Upload-Offset: 2", 400}, /* repeated */
      {"a/../b", 5, NULL, NULL, 400},
      {".resumable/x", 5, NULL, NULL, 400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *h[] = {cases[i].h1, cases[i].h2, NULL};
    long st = it_tus_create(s, cases[i].path, cases[i].length, h, NULL, 0, NULL);
    if (st != cases[i].want)
      fail_msg("case %zu: got %ld, want %ld", i, st, cases[i].want);
  }
  it_resp r;
  assert_int_equal(it_tus_create(s, "m", 5, (const char *const[]){huge, NULL}, NULL, 0, &r), 400);
  assert_non_null(strstr(r.body, "4096"));
  it_resp_free(&r);
  /* a body with another Content-Type */
  assert_int_equal(
      it_tus(s, "POST", "w",
             (const char *const[]){"Upload-Length: 5", "Content-Type: text/plain", NULL}, "hello",
             5, NULL),
      415);
  /* a body longer than Upload-Length */
  assert_int_equal(it_tus_create(s, "w", 3, NULL, "hello", 5, NULL), 413);
  /* PUT in the tus dialect */
  assert_int_equal(it_tus(s, "PUT", "w", NULL, NULL, 0, &r), 405);
  char v[128];
  assert_non_null(strstr(it_header(&r, "Allow", v, sizeof v), "PATCH"));
  it_resp_free(&r);
  char *after = it_tree(s->parent);
  assert_string_equal(before, after);
  free(before);
  free(after);
  free(huge);
}

static void patch_refusals_leave_the_offset(void **state)
{
  it_server *s = *state;
  char data[200]; /* a body may be longer than the upload (the 413 case) */
  it_fill(data, sizeof data, 2);
  assert_int_equal(it_tus_create(s, "p", 100, NULL, data, 40, NULL), 201);
  char *before = it_tree(s->parent);
  static const struct {
    const char *h1, *h2, *h3;
    size_t len;
    long want;
  } cases[] = {
      {"Upload-Offset: 40", "Content-Type: application/octet-stream", NULL, 10, 415},
      {"Upload-Offset: 40", NULL, NULL, 10, 415}, /* no Content-Type */
      {IT_TUS_CT, NULL, NULL, 10, 400},           /* no Upload-Offset */
      {IT_TUS_CT, "Upload-Offset: abc", NULL, 10, 400},
      {IT_TUS_CT, "Upload-Offset: -40", NULL, 10, 400},
      {IT_TUS_CT, "Upload-Offset: +40", NULL, 10, 400},
      {IT_TUS_CT, "Upload-Offset: 4 0", NULL, 10, 400},
      {IT_TUS_CT, "Upload-Offset: 99999999999999999999", NULL, 10, 400},
      {IT_TUS_CT, "Upload-Offset: 39", NULL, 10, 409},
      {IT_TUS_CT, "Upload-Offset: 41", NULL, 10, 409},
      {IT_TUS_CT, "Upload-Offset: 40", "Upload-Length: 99", 10, 400}, /* length changes */
      {IT_TUS_CT, "Upload-Offset: 40", NULL, 61, 413},                /* past the length */
      {IT_TUS_CT, "Upload-Offset: 40", "Upload-Checksum: crc32 AAAAAA==", 10, 400},
      {IT_TUS_CT, "Upload-Offset: 40", "Upload-Checksum: sha1 AAAA", 10, 400},
      {IT_TUS_CT, "Upload-Offset: 40", "Tus-Resumable: 2.0.0", 10, 400}, /* conflicting */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *h[] = {cases[i].h1, cases[i].h2, cases[i].h3, NULL};
    long st = it_tus(s, "PATCH", "p", h, data + 40, cases[i].len, NULL);
    if (st != cases[i].want)
      fail_msg("case %zu: got %ld, want %ld", i, st, cases[i].want);
  }
  assert_int_equal(it_tus_patch(s, "nope", 0, NULL, data, 10, NULL), 404);
  char *after = it_tree(s->parent);
  assert_string_equal(before, after);
  free(before);
  free(after);
  long long off;
  assert_int_equal(it_tus_head(s, "p", &off), 200);
  assert_int_equal(off, 40);
}

static void metadata_is_kept_and_returned(void **state)
{
  it_server *s = *state;
  const char *md = "Upload-Metadata: filename aGVsbG8udHh0,type dGV4dC9wbGFpbg==,flag";
  assert_int_equal(it_tus_create(s, "md", 10, (const char *const[]){md, NULL}, NULL, 0, NULL), 201);
  it_server_restart(s); /* kept with the partial in the store, not in memory */
  it_resp h;
  char v[256];
  assert_int_equal(it_tus(s, "HEAD", "md", NULL, NULL, 0, &h), 200);
  assert_string_equal(it_header(&h, "Upload-Metadata", v, sizeof v), md + 17);
  it_resp_free(&h);
}

static void deferred_length(void **state)
{
  it_server *s = *state;
  char data[50], v[64];
  it_fill(data, sizeof data, 3);
  it_resp h;
  assert_int_equal(it_tus_create(s, "d", -1, (const char *const[]){"Upload-Defer-Length: 1", NULL},
                                 data, 20, NULL),
                   201);
  assert_int_equal(it_tus(s, "HEAD", "d", NULL, NULL, 0, &h), 200);
  assert_string_equal(it_header(&h, "Upload-Defer-Length", v, sizeof v), "1");
  assert_null(it_header(&h, "Upload-Length", v, sizeof v));
  it_resp_free(&h);
  /* the LocalAI probe shows the held bytes, and no total while it is unknown */
  assert_int_equal(it_head(s, "d", &h), 200);
  assert_int_equal(it_header_num(&h, "X-File-Size"), 20);
  assert_null(it_header(&h, "X-Upload-Total", v, sizeof v));
  it_resp_free(&h);
  assert_int_equal(it_tus_patch(s, "d", 20, NULL, data + 20, 10, NULL), 204);
  /* the length arrives with the last bytes */
  assert_int_equal(it_tus_patch(s, "d", 30, (const char *const[]){"Upload-Length: 50", NULL},
                                data + 30, 20, NULL),
                   204);
  size_t len;
  char *got = file_of(s, "d", &len);
  assert_non_null(got);
  assert_int_equal(len, 50);
  assert_memory_equal(got, data, 50);
  free(got);
  /* a length below what is held is refused */
  assert_int_equal(it_tus_create(s, "d2", -1, (const char *const[]){"Upload-Defer-Length: 1", NULL},
                                 data, 20, NULL),
                   201);
  assert_int_equal(
      it_tus_patch(s, "d2", 20, (const char *const[]){"Upload-Length: 19", NULL}, NULL, 0, NULL),
      400);
  /* and a length given without bytes completes an upload that holds them all */
  assert_int_equal(
      it_tus_patch(s, "d2", 20, (const char *const[]){"Upload-Length: 20", NULL}, NULL, 0, NULL),
      204);
  got = file_of(s, "d2", &len);
  assert_non_null(got);
  assert_int_equal(len, 20);
  free(got);
}

static void checksum_mismatch_discards_the_request_durably(void **state)
{
  it_server *s = *state;
  char data[300];
  it_fill(data, sizeof data, 4);
  assert_int_equal(it_tus_create(s, "c", 300, NULL, data, 100, NULL), 201);
  /* sha1 of 100 other bytes */
  char other[100];
  it_fill(other, sizeof other, 99);
  assert_int_equal(it_tus_patch(s, "c", 100,
                                (const char *const[]){"Upload-Checksum: sha1 "
                                                      "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
                                                      NULL},
                                data + 100, 100, NULL),
                   460);
  long long off;
  assert_int_equal(it_tus_head(s, "c", &off), 200);
  assert_int_equal(off, 100);
  assert_int_equal(partial_data_size(s, "c"), 100); /* the bytes are gone from the disk too */
  it_server_restart(s);
  assert_int_equal(it_tus_head(s, "c", &off), 200);
  assert_int_equal(off, 100);
  /* the same bytes with their right sha256, md5 and sha1 are taken */
  static const char *const algos[] = {"sha256", "md5", "sha1"};
  for (int i = 0; i < 3; i++) {
    char hdr[128];
    uint8_t dg[32];
    size_t dlen = 0;
    const char *chunk = data + 100 + 50 * i;
    size_t n = i < 2 ? 50 : 100;
    it_digest(algos[i], chunk, n, dg, &dlen);
    char b64[64];
    it_base64(dg, dlen, b64, sizeof b64);
    snprintf(hdr, sizeof hdr, "Upload-Checksum: %s %s", algos[i], b64);
    assert_int_equal(it_tus_patch(s, "c", 100 + 50 * (uint64_t)i, (const char *const[]){hdr, NULL},
                                  chunk, n, NULL),
                     204);
  }
  size_t len;
  char *got = file_of(s, "c", &len);
  assert_non_null(got);
  assert_int_equal(len, 300);
  assert_memory_equal(got, data, 300);
  free(got);
}

static void whole_file_hash_mismatch_is_460_and_keeps_the_old_file(void **state)
{
  it_server *s = *state;
  char old[64], data[64], hex[65], hdr[128];
  it_fill(old, sizeof old, 5);
  it_fill(data, sizeof data, 6);
  it_sha256_hex(old, sizeof old, hex); /* the hash of other bytes */
  assert_int_equal(it_tus_create(s, "h", 64, NULL, old, 64, NULL), 201);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(it_tus_create(s, "h", 64, (const char *const[]){hdr, NULL}, data, 32, NULL),
                   201);
  assert_int_equal(it_tus_patch(s, "h", 32, NULL, data + 32, 32, NULL), 460);
  size_t len;
  char *got = file_of(s, "h", &len);
  assert_non_null(got);
  assert_memory_equal(got, old, 64);
  free(got);
  assert_int_equal(it_tus_head(s, "h", NULL), 200); /* the old file, no partial */
  assert_int_equal(it_tus_partial_files(s), 0);
}

static void termination(void **state)
{
  it_server *s = *state;
  assert_int_equal(it_tus_create(s, "t", 10, NULL, "hello", 5, NULL), 201);
  assert_int_equal(it_tus(s, "DELETE", "t", NULL, NULL, 0, NULL), 204);
  assert_int_equal(it_tus_head(s, "t", NULL), 404);
  assert_int_equal(it_tus(s, "DELETE", "t", NULL, NULL, 0, NULL), 404);
  assert_int_equal(it_tus_create(s, "t", 5, NULL, "hello", 5, NULL), 201);
  assert_int_equal(it_tus(s, "DELETE", "t", NULL, NULL, 0, NULL), 403); /* a complete file */
  size_t len;
  char *got = file_of(s, "t", &len);
  assert_non_null(got);
  free(got);
  /* a partial over a complete file: termination drops the partial, the file stays */
  assert_int_equal(it_tus_create(s, "t", 10, NULL, "hel", 3, NULL), 201);
  assert_int_equal(it_tus(s, "DELETE", "t", NULL, NULL, 0, NULL), 204);
  long long off;
  assert_int_equal(it_tus_head(s, "t", &off), 200);
  assert_int_equal(off, 5);
}

static void method_override(void **state)
{
  it_server *s = *state;
  assert_int_equal(it_tus_create(s, "o", 10, NULL, NULL, 0, NULL), 201);
  assert_int_equal(it_tus(s, "POST", "o",
                          (const char *const[]){"X-HTTP-Method-Override: PATCH", IT_TUS_CT,
                                                "Upload-Offset: 0", NULL},
                          "0123456789", 10, NULL),
                   204);
  long long off;
  assert_int_equal(it_tus_head(s, "o", &off), 200);
  assert_int_equal(off, 10);
  assert_int_equal(it_tus_create(s, "o2", 10, NULL, NULL, 0, NULL), 201);
  assert_int_equal(it_tus(s, "POST", "o2",
                          (const char *const[]){"X-HTTP-Method-Override: DELETE", NULL}, NULL, 0,
                          NULL),
                   204);
  assert_int_equal(it_tus_head(s, "o2", NULL), 404);
  /* without Tus-Resumable the override means nothing: a LocalAI POST is 405 */
  it_req rq = {.method = "POST",
               .key = "o3",
               .headers = (const char *const[]){"X-HTTP-Method-Override: DELETE", NULL}};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 405);
  it_resp_free(&r);
}

static void expired_upload_is_410_then_gone(void **state)
{
  it_server *s = *state;
  assert_int_equal(it_tus_create(s, "e", 10, NULL, "hello", 5, NULL), 201);
  it_resp h;
  char v[64];
  assert_int_equal(it_tus(s, "HEAD", "e", NULL, NULL, 0, &h), 200);
  assert_non_null(it_header(&h, "Upload-Expires", v, sizeof v));
  it_resp_free(&h);
  it_tus_age_partial(s, "e", TTL + 5);
  assert_int_equal(it_tus_patch(s, "e", 5, NULL, "world", 5, NULL), 410);
  assert_int_equal(it_tus_head(s, "e", NULL), 404);
  assert_int_equal(it_head(s, "e", NULL), 404); /* removed for the LocalAI dialect too */
  /* not yet expired: kept */
  assert_int_equal(it_tus_create(s, "e2", 10, NULL, "hello", 5, NULL), 201);
  it_tus_age_partial(s, "e2", TTL - 60);
  assert_int_equal(it_tus_head(s, "e2", NULL), 200);
}

static void empty_upload_completes_at_creation(void **state)
{
  it_server *s = *state;
  it_resp r;
  assert_int_equal(it_tus_create(s, "empty", 0, NULL, NULL, 0, &r), 201);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 0);
  it_resp_free(&r);
  size_t len = 1;
  char *got = file_of(s, "empty", &len);
  assert_non_null(got);
  assert_int_equal(len, 0);
  free(got);
  assert_int_equal(it_tus_partial_files(s), 0);
}

static void unauthorized_tus_request_is_401(void **state)
{
  it_server *s = *state;
  s->token = "sekrit";
  it_server_restart(s);
  it_resp r;
  assert_int_equal(it_tus_create(s, "u", 5, NULL, NULL, 0, &r), 401);
  char v[64];
  assert_string_equal(it_header(&r, "WWW-Authenticate", v, sizeof v), "Bearer");
  assert_string_equal(it_header(&r, "Tus-Resumable", v, sizeof v), "1.0.0");
  it_resp_free(&r);
  assert_int_equal(it_tus_create(s, "u", 5,
                                 (const char *const[]){"Authorization: Bearer sekrit", NULL}, NULL,
                                 0, NULL),
                   201);
  s->token = NULL;
  it_server_restart(s);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_ALL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(options_lists_version_extensions_and_limits, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(other_version_is_412_with_tus_version, setup, it_teardown),
      cmocka_unit_test_setup_teardown(creation_at_a_key_then_patches_to_completion, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(creation_at_the_prefix_names_the_key, setup, it_teardown),
      cmocka_unit_test_setup_teardown(creation_refusals_change_nothing, setup, it_teardown),
      cmocka_unit_test_setup_teardown(patch_refusals_leave_the_offset, setup, it_teardown),
      cmocka_unit_test_setup_teardown(metadata_is_kept_and_returned, setup, it_teardown),
      cmocka_unit_test_setup_teardown(deferred_length, setup, it_teardown),
      cmocka_unit_test_setup_teardown(checksum_mismatch_discards_the_request_durably, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(whole_file_hash_mismatch_is_460_and_keeps_the_old_file, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(termination, setup, it_teardown),
      cmocka_unit_test_setup_teardown(method_override, setup, it_teardown),
      cmocka_unit_test_setup_teardown(expired_upload_is_410_then_gone, setup, it_teardown),
      cmocka_unit_test_setup_teardown(empty_upload_completes_at_creation, setup, it_teardown),
      cmocka_unit_test_setup_teardown(unauthorized_tus_request_is_401, setup, it_teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
