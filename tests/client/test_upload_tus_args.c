/* resumable-upload's tus options: --protocol, --metadata, --parallel, --no-url-store,
 * --cancel-remote, and the URL store's default directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "upload_args.h"

static int parse(upload_args *a, char *err, const char *const *argv)
{
  int argc = 0;
  while (argv[argc])
    argc++;
  return upload_parse_args(argc, (char **)argv, a, err, 256);
}

static void protocol_defaults_to_auto_and_takes_four_values(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err, (const char *const[]){"u", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.protocol, UPLOAD_PROTOCOL_AUTO);
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--protocol", "tus", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.protocol, UPLOAD_PROTOCOL_TUS);
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--protocol=localai", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.protocol, UPLOAD_PROTOCOL_LOCALAI);
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--protocol", "ietf", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.protocol, UPLOAD_PROTOCOL_IETF);
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--protocol", "ftp", "f", "http://h/x", NULL}), -1);
  assert_non_null(strstr(err, "--protocol"));
}

static void metadata_parallel_and_flags(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err,
                         (const char *const[]){"u", "--metadata", "k=v", "--metadata",
                                               "empty=", "--parallel", "4", "--no-url-store",
                                               "--cancel-remote", "f", "http://h/x", NULL}),
                   0);
  assert_int_equal(a.n_metadata, 2);
  assert_string_equal(a.metadata[1], "empty=");
  assert_int_equal(a.parallel, 4);
  assert_true(a.no_url_store && a.cancel_remote);
  assert_int_equal(a.chunk_digest, 0); /* not given: the library's default (auto) */
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--chunk-digest", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.chunk_digest, 1);
  assert_int_equal(
      parse(&a, err, (const char *const[]){"u", "--no-chunk-digest", "f", "http://h/x", NULL}), 0);
  assert_int_equal(a.chunk_digest, -1);
  static const char *const bad[][2] = {{"--metadata", "novalue"},
                                       {"--metadata", "=v"},
                                       {"--parallel", "0"},
                                       {"--parallel", "17"},
                                       {"--parallel", "2k"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(
        parse(&a, err, (const char *const[]){"u", bad[i][0], bad[i][1], "f", "http://h/x", NULL}),
        -1);
}

static void url_store_directory_follows_xdg_state_home(void **state)
{
  (void)state;
  char buf[128];
  assert_int_equal(upload_default_state_dir("/s", "/home/u", buf, sizeof buf), 0);
  assert_string_equal(buf, "/s/libresumable");
  assert_int_equal(upload_default_state_dir("relative", "/home/u", buf, sizeof buf), 0);
  assert_string_equal(buf, "/home/u/.local/state/libresumable");
  assert_int_equal(upload_default_state_dir(NULL, NULL, buf, sizeof buf), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(protocol_defaults_to_auto_and_takes_four_values),
      cmocka_unit_test(metadata_parallel_and_flags),
      cmocka_unit_test(url_store_directory_follows_xdg_state_home),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
