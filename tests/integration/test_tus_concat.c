/* tus concatenation on the wire: parts at server-generated URLs no key can name, the final
 * upload assembled, verified and committed, the parts removed after the commit and swept like
 * partials; the malformed and refused cases leave everything as it was. */
#include "it_tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->partial_ttl = 3600;
  it_server_start(s);
  *state = s;
  return 0;
}

/* Create a part of `len` bytes with `data` (all of it, or `send` bytes); its path into loc. */
static void make_part(it_server *s, const char *data, size_t len, size_t send, char *loc,
                      size_t cap)
{
  it_resp r;
  assert_int_equal(it_tus_create(s, "", (long long)len,
                                 (const char *const[]){"Upload-Concat: partial", NULL}, data, send,
                                 &r),
                   201);
  it_tus_location(&r, loc, cap);
  assert_int_equal(strncmp(loc, ".resumable-part/", 16), 0);
  it_resp_free(&r);
}

static long final(it_server *s, const char *path, const char *concat, const char *extra,
                  it_resp *out)
{
  char h[4096];
  snprintf(h, sizeof h, "Upload-Concat: %s", concat);
  return it_tus(s, "POST", path, (const char *const[]){h, extra, NULL}, NULL, 0, out);
}

static void parts_assemble_into_the_final_file(void **state)
{
  it_server *s = *state;
  char data[10000], p1[64], p2[64], p3[64], concat[512], hex[65], hdr[128];
  it_fill(data, sizeof data, 7);
  make_part(s, data, 4000, 4000, p1, sizeof p1);
  make_part(s, data + 4000, 5000, 1000, p2, sizeof p2); /* then finished with PATCHes */
  make_part(s, data + 9000, 1000, 0, p3, sizeof p3);
  assert_int_equal(it_tus_patch(s, p2, 1000, NULL, data + 5000, 4000, NULL), 204);
  /* a part: HEAD says Upload-Concat: partial; X-Content-SHA256 on it binds nothing */
  it_sha256_hex(data, sizeof data, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(
      it_tus_patch(s, p3, 0, (const char *const[]){hdr, NULL}, data + 9000, 1000, NULL), 204);
  it_resp h;
  char v[128];
  assert_int_equal(it_tus(s, "HEAD", p3, NULL, NULL, 0, &h), 200);
  assert_string_equal(it_header(&h, "Upload-Concat", v, sizeof v), "partial");
  assert_int_equal(it_header_num(&h, "Upload-Offset"), 1000);
  it_resp_free(&h);
  /* no key can name a part: the LocalAI dialect refuses its URL */
  assert_int_equal(it_head(s, p1, NULL), 400);
  assert_int_equal(it_put(s, p1, NULL, NULL, "x", 1, NULL), 400);
  /* absolute URLs (any host, as through a proxy) and a relative one, in this order */
  snprintf(concat, sizeof concat,
           "final;http://proxy.example:1234" IT_PREFIX "%s  " IT_PREFIX "%s https://other" IT_PREFIX
           "%s",
           p1, p2, p3);
  it_resp r;
  assert_int_equal(final(s, "", concat, "Upload-Metadata: filename Y2F0LmJpbg==", &r), 201);
  char loc[256];
  assert_string_equal(it_tus_location(&r, loc, sizeof loc), "cat.bin");
  it_resp_free(&r);
  char path[512];
  size_t len;
  char *got = it_read_file(it_key_path(s, "cat.bin", path, sizeof path), &len);
  assert_non_null(got);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(got, data, len);
  free(got);
  long long off;
  assert_int_equal(it_tus_head(s, "cat.bin", &off), 200);
  assert_int_equal(off, (long long)sizeof data);
  /* the parts are gone after the commit */
  assert_int_equal(it_tus_head(s, p1, NULL), 404);
  assert_int_equal(it_tus_head(s, p3, NULL), 404);
  assert_int_equal(it_tus_partial_files(s), 0);
  assert_int_equal(it_head(s, "cat.bin", &h), 200);
  assert_string_equal(it_header(&h, "X-Content-SHA256", v, sizeof v), hex);
  it_resp_free(&h);
}

static void final_verifies_the_bound_hash(void **state)
{
  it_server *s = *state;
  char data[3000], p1[64], p2[64], concat[256], hex[65], hdr[128];
  it_fill(data, sizeof data, 8);
  make_part(s, data, 1000, 1000, p1, sizeof p1);
  make_part(s, data + 1000, 2000, 2000, p2, sizeof p2);
  snprintf(concat, sizeof concat, "final;" IT_PREFIX "%s " IT_PREFIX "%s", p2, p1); /* swapped */
  it_sha256_hex(data, sizeof data, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(final(s, "f.bin", concat, hdr, NULL), 460);
  assert_int_equal(it_tus_head(s, "f.bin", NULL), 404); /* nothing committed, nothing left */
  assert_int_equal(it_tus_partial_files(s), 4);         /* the two parts stay */
  snprintf(concat, sizeof concat, "final;" IT_PREFIX "%s " IT_PREFIX "%s", p1, p2);
  assert_int_equal(final(s, "f.bin", concat, hdr, NULL), 201);
  assert_int_equal(it_tus_partial_files(s), 0);
}

static void final_refusals_change_nothing(void **state)
{
  it_server *s = *state;
  char data[100], p1[64], p2[64], concat[512];
  it_fill(data, sizeof data, 9);
  make_part(s, data, 50, 50, p1, sizeof p1);
  make_part(s, data, 50, 20, p2, sizeof p2); /* unfinished */
  assert_int_equal(it_tus_create(s, "k", 10, NULL, "0123456789", 10, NULL), 201);
  assert_int_equal(it_tus_create(s, "kp", 10, NULL, "01234", 5, NULL), 201);
  char *before = it_tree(s->parent);
  static const char *const bad[] = {
      "final;", /* no URL */
      "final; ",
      "final",
      "final;" IT_PREFIX "k",                                              /* a key, not a part */
      "final;" IT_PREFIX "kp",                                             /* a partial key */
      "final;/elsewhere/.resumable-part/0123456789abcdef0123456789abcdef", /* another prefix */
      "final;" IT_PREFIX ".resumable-part/0123456789ABCDEF0123456789abcdef",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long st = final(s, "x", bad[i], NULL, NULL);
    if (st != 400)
      fail_msg("case %zu: got %ld, want 400", i, st);
  }
  /* unknown part: 404; unfinished part: 400; a length on a final: 400 */
  assert_int_equal(final(s, "x",
                         "final;" IT_PREFIX ".resumable-part/0123456789abcdef0123456789abcdef",
                         NULL, NULL),
                   404);
  snprintf(concat, sizeof concat, "final;" IT_PREFIX "%s " IT_PREFIX "%s", p1, p2);
  assert_int_equal(final(s, "x", concat, NULL, NULL), 400);
  snprintf(concat, sizeof concat, "final;" IT_PREFIX "%s", p1);
  assert_int_equal(final(s, "x", concat, "Upload-Length: 50", NULL), 400);
  /* creation at a part's URL, and a part's URL in GET */
  assert_int_equal(it_tus_create(s, p1, 5, NULL, NULL, 0, NULL), 400);
  assert_int_equal(it_tus(s, "GET", p1, NULL, NULL, 0, NULL), 404);
  char *after = it_tree(s->parent);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* the same part twice is fine: its bytes twice */
  snprintf(concat, sizeof concat, "final;" IT_PREFIX "%s " IT_PREFIX "%s", p1, p1);
  assert_int_equal(final(s, "twice", concat, NULL, NULL), 201);
  char path[512];
  size_t len;
  char *got = it_read_file(it_key_path(s, "twice", path, sizeof path), &len);
  assert_non_null(got);
  assert_int_equal(len, 100);
  assert_memory_equal(got, data, 50);
  assert_memory_equal(got + 50, data, 50);
  free(got);
}

static void parts_are_swept_and_terminated_like_partials(void **state)
{
  it_server *s = *state;
  char data[10], p1[64], p2[64], key[64];
  it_fill(data, sizeof data, 10);
  make_part(s, data, 10, 5, p1, sizeof p1);
  make_part(s, data, 10, 5, p2, sizeof p2);
  assert_int_equal(it_tus(s, "DELETE", p2, NULL, NULL, 0, NULL), 204);
  assert_int_equal(it_tus_head(s, p2, NULL), 404);
  snprintf(key, sizeof key, "%s", p1); /* the store key is the path after the prefix */
  it_tus_age_partial(s, key, 7200);
  size_t removed = 0;
  assert_int_equal(resumable_server_sweep(s->srv, 3600, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(it_tus_head(s, p1, NULL), 404);
  assert_int_equal(it_tus_partial_files(s), 0);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_ALL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(parts_assemble_into_the_final_file, setup, it_teardown),
      cmocka_unit_test_setup_teardown(final_verifies_the_bound_hash, setup, it_teardown),
      cmocka_unit_test_setup_teardown(final_refusals_change_nothing, setup, it_teardown),
      cmocka_unit_test_setup_teardown(parts_are_swept_and_terminated_like_partials, setup,
                                      it_teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
