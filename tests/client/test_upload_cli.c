/* examples/upload: resumable-upload's argument parsing, exit codes and output formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "upload_args.h"
#include "upload_ui.h"

static void size_accepts_plain_and_1024_suffixes(void **state)
{
  (void)state;
  uint64_t v = 0;
  assert_int_equal(cli_parse_size("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(cli_parse_size("1048576", &v), 0);
  assert_int_equal(v, 1048576);
  assert_int_equal(cli_parse_size("64K", &v), 0);
  assert_int_equal(v, 64 * 1024);
  assert_int_equal(cli_parse_size("64M", &v), 0);
  assert_int_equal(v, UINT64_C(64) << 20);
  assert_int_equal(cli_parse_size("1g", &v), 0);
  assert_int_equal(v, UINT64_C(1) << 30);
  assert_int_equal(cli_parse_size("2T", &v), 0);
  assert_int_equal(v, UINT64_C(2) << 40);
  assert_int_equal(cli_parse_size("16MiB", &v), 0);
  assert_int_equal(v, UINT64_C(16) << 20);
  assert_int_equal(cli_parse_size("3kb", &v), 0);
  assert_int_equal(v, 3072);
}

static void size_rejects_garbage_and_overflow(void **state)
{
  (void)state;
  uint64_t v = 42;
  const char *bad[] = {"",         "M",
                       "-1",       "+1",
                       "1.5G",     "12Q",
                       "1 M",      "1MM",
                       "1Mx",      "9223372036854775808",
                       "8388608T", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(cli_parse_size(bad[i], &v), -1);
  assert_int_equal(v, 42);
  assert_int_equal(cli_parse_size("8388607T", &v), 0); /* just below 2^63 */
}

static void seconds_accept_up_to_three_decimals(void **state)
{
  (void)state;
  uint64_t ms = 0;
  assert_int_equal(cli_parse_seconds("90", &ms), 0);
  assert_int_equal(ms, 90000);
  assert_int_equal(cli_parse_seconds("1.5", &ms), 0);
  assert_int_equal(ms, 1500);
  assert_int_equal(cli_parse_seconds("0.025", &ms), 0);
  assert_int_equal(ms, 25);
  assert_int_equal(cli_parse_seconds("1.", &ms), -1);
  assert_int_equal(cli_parse_seconds(".5", &ms), -1);
  assert_int_equal(cli_parse_seconds("1.0001", &ms), -1);
  assert_int_equal(cli_parse_seconds("1s", &ms), -1);
}

static int parse(upload_args *a, char *err, int argc, ...)
{
  char *argv[32];
  va_list ap;
  va_start(ap, argc);
  argv[0] = "resumable-upload";
  for (int i = 1; i < argc; i++)
    argv[i] = va_arg(ap, char *);
  va_end(ap);
  return upload_parse_args(argc, argv, a, err, 256);
}

/* cli.h: the option syntax and plain counts that both tools share. */
static void cli_values_and_counts(void **state)
{
  (void)state;
  char *argv[] = {"tool", "--port", "80", "--port=81", "--portal", "--port", NULL};
  int argc = 6, i = 1;
  const char *v = NULL;
  assert_int_equal(cli_value(argc, argv, &i, "--port", &v), 1);
  assert_string_equal(v, "80");
  assert_int_equal(i, 2);
  i = 3;
  assert_int_equal(cli_value(argc, argv, &i, "--port", &v), 1);
  assert_string_equal(v, "81");
  assert_int_equal(i, 3);
  i = 4;
  assert_int_equal(cli_value(argc, argv, &i, "--port", &v), 0);
  i = 5;
  assert_int_equal(cli_value(argc, argv, &i, "--port", &v), -1);
  uint64_t n = 0;
  assert_int_equal(cli_parse_count("18446744073709551615", &n), 0);
  assert_true(n == UINT64_MAX);
  assert_int_equal(cli_parse_count("18446744073709551616", &n), -1);
  assert_int_equal(cli_parse_count("1K", &n), -1);
  assert_int_equal(cli_parse_count("", &n), -1);
  assert_int_equal(cli_parse_count("-1", &n), -1);
}

static void args_parse_every_option(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err, 24, "--budget", "90", "--chunk-size=64M", "--sha256", "ab",
                         "--header", "X-A: 1", "--header", "X-B: 2", "--token", "t",
                         "--backoff-min", "10", "--backoff-max=20", "--limit-rate", "1K",
                         "--cacert", "ca.pem", "-k", "--json", "--quiet", "f.bin",
                         "http://h/v1/files/x"),
                   0);
  assert_true(a.has_budget);
  assert_int_equal(a.budget_ms, 90000);
  assert_int_equal(a.chunk, UINT64_C(64) << 20);
  assert_string_equal(a.sha256, "ab");
  assert_int_equal(a.n_headers, 2);
  assert_string_equal(a.headers[1], "X-B: 2");
  assert_string_equal(a.token, "t");
  assert_int_equal(a.backoff_min_ms, 10);
  assert_int_equal(a.backoff_max_ms, 20);
  assert_int_equal(a.limit_rate, 1024);
  assert_string_equal(a.cacert, "ca.pem");
  assert_true(a.insecure && a.json && a.quiet);
  assert_string_equal(a.file, "f.bin");
  assert_string_equal(a.url, "http://h/v1/files/x");
}

static void args_report_usage_errors(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err, 2, "f.bin"), -1);
  assert_non_null(strstr(err, "FILE and URL"));
  assert_int_equal(parse(&a, err, 4, "--bogus", "f", "u"), -1);
  assert_non_null(strstr(err, "--bogus"));
  assert_int_equal(parse(&a, err, 3, "f", "--budget"), -1);
  assert_non_null(strstr(err, "needs a value"));
  assert_int_equal(parse(&a, err, 5, "--budget", "soon", "f", "u"), -1);
  assert_int_equal(parse(&a, err, 5, "--budget", "0", "f", "u"), -1);
  assert_int_equal(parse(&a, err, 5, "--backoff-min", "1K", "f", "u"), -1);
  assert_int_equal(parse(&a, err, 4, "f", "u", "extra"), -1);
  assert_int_equal(parse(&a, err, 4, "--json=yes", "f", "u"), -1);
}

static void args_help_needs_no_file_and_dash_dash_ends_options(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err, 2, "--help"), 0);
  assert_true(a.help);
  assert_int_equal(parse(&a, err, 4, "--", "-odd-name", "http://h/x"), 0);
  assert_string_equal(a.file, "-odd-name");
}

static void args_no_hash_cache_is_a_flag(void **state)
{
  (void)state;
  upload_args a;
  char err[256];
  assert_int_equal(parse(&a, err, 3, "f", "u"), 0);
  assert_false(a.no_hash_cache);
  assert_int_equal(parse(&a, err, 4, "--no-hash-cache", "f", "u"), 0);
  assert_true(a.no_hash_cache);
  assert_int_equal(parse(&a, err, 4, "--no-hash-cache=1", "f", "u"), -1);
}

static void cache_dir_prefers_absolute_xdg_then_home(void **state)
{
  (void)state;
  char b[64];
  assert_int_equal(upload_default_cache_dir("/x/cache", "/home/u", b, sizeof b), 0);
  assert_string_equal(b, "/x/cache/libresumable");
  assert_int_equal(upload_default_cache_dir(NULL, "/home/u", b, sizeof b), 0);
  assert_string_equal(b, "/home/u/.cache/libresumable");
  assert_int_equal(upload_default_cache_dir("", "/home/u", b, sizeof b), 0);
  assert_string_equal(b, "/home/u/.cache/libresumable");
  assert_int_equal(upload_default_cache_dir("rel/cache", "/home/u", b, sizeof b), 0);
  assert_string_equal(b, "/home/u/.cache/libresumable"); /* the XDG spec ignores relative ones */
  assert_int_equal(upload_default_cache_dir(NULL, NULL, b, sizeof b), -1);
  assert_int_equal(upload_default_cache_dir(NULL, "", b, sizeof b), -1);
  char tiny[8];
  assert_int_equal(upload_default_cache_dir("/x/cache", NULL, tiny, sizeof tiny), -1);
}

static void exit_codes_follow_the_documented_table(void **state)
{
  (void)state;
  assert_int_equal(upload_exit_code(RESUMABLE_OK), 0);
  assert_int_equal(upload_exit_code(RESUMABLE_E_REFUSED), 1);
  assert_int_equal(upload_exit_code(RESUMABLE_E_TOO_LARGE), 1);
  assert_int_equal(upload_exit_code(RESUMABLE_E_HASH_MISMATCH), 1);
  assert_int_equal(upload_exit_code(RESUMABLE_E_NETWORK), 1);
  assert_int_equal(upload_exit_code(RESUMABLE_E_TIMEOUT), 3);
  assert_int_equal(upload_exit_code(RESUMABLE_E_FILE), 4);
  assert_int_equal(upload_exit_code(RESUMABLE_E_CANCELLED), 130);
}

static void bytes_and_eta_format_for_humans(void **state)
{
  (void)state;
  char b[32];
  upload_format_bytes(999, b, sizeof b);
  assert_string_equal(b, "999 B");
  upload_format_bytes(1536, b, sizeof b);
  assert_string_equal(b, "1.50 KiB");
  upload_format_bytes(UINT64_C(64) << 20, b, sizeof b);
  assert_string_equal(b, "64.0 MiB");
  upload_format_bytes(UINT64_C(300) << 30, b, sizeof b);
  assert_string_equal(b, "300 GiB");
  upload_format_eta(7, b, sizeof b);
  assert_string_equal(b, "0:07");
  upload_format_eta(3723, b, sizeof b);
  assert_string_equal(b, "1:02:03");
  upload_format_eta(-1, b, sizeof b);
  assert_string_equal(b, "--:--");
}

static void bar_shows_percent_rate_eta_and_attempt_within_width(void **state)
{
  (void)state;
  resumable_progress p = {0};
  p.phase = RESUMABLE_PHASE_SENDING;
  p.total = 1000 * 1024;
  p.position = 500 * 1024;
  p.attempt = 2;
  char line[512];
  upload_format_bar(&p, 100 * 1024, 100, line, sizeof line);
  assert_non_null(strstr(line, " 50%"));
  assert_non_null(strstr(line, "100 KiB/s"));
  assert_non_null(strstr(line, "ETA 0:05"));
  assert_non_null(strstr(line, "attempt 2"));
  assert_non_null(strchr(line, '['));
  assert_true(strlen(line) <= 100);
  upload_format_bar(&p, 100 * 1024, 30, line, sizeof line);
  assert_true(strlen(line) <= 30);
}

static void json_string_escapes_quotes_and_controls(void **state)
{
  (void)state;
  char b[64];
  upload_json_string("a\"b\\c\nd", b, sizeof b);
  assert_string_equal(b, "\"a\\\"b\\\\c\\u000ad\"");
  char small[12];
  upload_json_string("a long message that does not fit", small, sizeof small);
  assert_int_equal(small[0], '"');
  assert_int_equal(small[strlen(small) - 1], '"');
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(size_accepts_plain_and_1024_suffixes),
      cmocka_unit_test(size_rejects_garbage_and_overflow),
      cmocka_unit_test(seconds_accept_up_to_three_decimals),
      cmocka_unit_test(cli_values_and_counts),
      cmocka_unit_test(args_parse_every_option),
      cmocka_unit_test(args_report_usage_errors),
      cmocka_unit_test(args_help_needs_no_file_and_dash_dash_ends_options),
      cmocka_unit_test(args_no_hash_cache_is_a_flag),
      cmocka_unit_test(cache_dir_prefers_absolute_xdg_then_home),
      cmocka_unit_test(exit_codes_follow_the_documented_table),
      cmocka_unit_test(bytes_and_eta_format_for_humans),
      cmocka_unit_test(bar_shows_percent_rate_eta_and_attempt_within_width),
      cmocka_unit_test(json_string_escapes_quotes_and_controls),
  };
  return cmocka_run_group_tests_name("upload_cli", tests, NULL, NULL);
}
