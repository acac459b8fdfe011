/* Every SHA-256 path compiled in (portable = mbedTLS, sha-ni on x86_64) against the NIST
 * known answers and against mbedTLS's own one-shot function on random inputs split at random
 * update boundaries; the two-state update (update2) against two plain ones; and a running
 * state saved on one path resumes on any other.
 * Test cases are generated per path (and per pair of paths) this CPU runs; a path it lacks gets
 * one case saying so (TAP "not ok # SKIP" would count as a failure in meson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "sha256_impl.h"

#include "sha256_kat.h"

/* splitmix64: a seeded, reproducible stream, so a failure replays exactly. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
  uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void random_bytes(uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)rnd();
}

static void unhex(const char *hex, uint8_t out[32])
{
  for (int i = 0; i < 32; i++) {
    char b[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
    out[i] = (uint8_t)strtoul(b, NULL, 16);
  }
}

/* Run the rest of the test on this path (main() generates cases only for paths this CPU runs). */
static void use(const rs_sha256_impl *impl)
{
  assert_int_equal(rs_sha256_force_impl(impl->name), 0);
  assert_string_equal(rs_sha256_impl_name(), impl->name);
}

/* The mbedTLS one-shot function: the reference, independent of our buffering and padding. */
static void reference(const uint8_t *msg, size_t len, uint8_t out[32])
{
  assert_int_equal(mbedtls_sha256_ret(msg, len, out, 0), 0);
}

/* A chunk length: often tiny or around a block, sometimes many blocks, sometimes zero. */
static size_t chunk(size_t left, size_t big)
{
  size_t n;
  switch (rnd() % 4) {
  case 0:
    n = (size_t)(rnd() % 4);
    break;
  case 1:
    n = 1 + (size_t)(rnd() % 64);
    break;
  case 2:
    n = (size_t)(rnd() % 300);
    break;
  default:
    n = 1 + (size_t)(rnd() % big);
    break;
  }
  return n < left ? n : left;
}

static void update_split(rs_sha256 *h, const uint8_t *msg, size_t len, size_t big)
{
  for (size_t off = 0; off < len;) {
    size_t n = chunk(len - off, big);
    rs_sha256_update(h, msg + off, n);
    off += n;
  }
}

static void hash_split(const uint8_t *msg, size_t len, size_t big, uint8_t out[32])
{
  rs_sha256 h;
  rs_sha256_init(&h);
  update_split(&h, msg, len, big);
  assert_int_equal(rs_sha256_length(&h), len);
  rs_sha256_finish(&h, out);
  rs_sha256_free(&h);
}

static void nist_vectors_on_path(void **state)
{
  use(*state);
  for (size_t v = 0; v < sizeof(kat) / sizeof(kat[0]); v++) {
    uint8_t want[32], got[32];
    unhex(kat[v].hex, want);
    size_t n = strlen(kat[v].text);
    rs_sha256 h;
    rs_sha256_init(&h);
    for (size_t r = 0; r < kat[v].repeat; r++)
      rs_sha256_update(&h, kat[v].text, n);
    rs_sha256_finish(&h, got);
    assert_memory_equal(got, want, 32);
    if (kat[v].repeat == 1) {
      rs_sha256_digest(kat[v].text, n, got);
      assert_memory_equal(got, want, 32);
    }
  }
}

/* Every length up to 1 KiB, then 2000 random lengths up to 10 KiB, at random (unaligned)
 * offsets in a random pool, each split at random update boundaries. */
static void path_matches_mbedtls_on_random_splits(void **state)
{
  use(*state);
  enum { POOL = 64 * 1024, MAXLEN = 10 * 1024 };
  uint8_t *pool = malloc(POOL);
  assert_non_null(pool);
  rng_state = 0x5eed0001;
  random_bytes(pool, POOL);
  for (size_t i = 0; i < 1025 + 2000; i++) {
    size_t len = i <= 1024 ? i : (size_t)(rnd() % (MAXLEN + 1));
    const uint8_t *msg = pool + rnd() % (POOL - len);
    uint8_t want[32], got[32];
    reference(msg, len, want);
    hash_split(msg, len, 4096, got);
    assert_memory_equal(got, want, 32);
  }
  free(pool);
}

static void path_matches_mbedtls_on_mib_messages(void **state)
{
  use(*state);
  enum { MAXLEN = 4 * 1024 * 1024 + 123 };
  enum { SLACK = 8 }; /* message i starts at buf + i: unaligned */
  uint8_t *buf = malloc(MAXLEN + SLACK);
  assert_non_null(buf);
  rng_state = 0x5eed0002;
  random_bytes(buf, MAXLEN + SLACK);
  size_t lens[] = {1024 * 1024, 3 * 1024 * 1024 - 1, MAXLEN};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    uint8_t want[32], got[32];
    reference(buf + i, lens[i], want);
    hash_split(buf + i, lens[i], 300 * 1024, got);
    assert_memory_equal(got, want, 32);
  }
  free(buf);
}

/* The block function alone, from arbitrary chaining words rather than the initial value. */
static void path_compress_matches_portable_from_random_states(void **state)
{
  const rs_sha256_impl *impl = *state;
  use(impl);
  rng_state = 0x5eed0003;
  for (int i = 0; i < 2000; i++) {
    uint32_t a[8], b[8];
    uint8_t blocks[8 * 64 + 1];
    size_t n = 1 + (size_t)(rnd() % 8), off = (size_t)(rnd() % 2);
    for (int w = 0; w < 8; w++)
      a[w] = b[w] = (uint32_t)rnd();
    random_bytes(blocks, sizeof(blocks));
    rs_sha256_compress_portable(a, blocks + off, n);
    impl->compress(b, blocks + off, n);
    assert_memory_equal(a, b, sizeof(a));
  }
}

/* Both streams of compress2, from random chaining words, one message for both (the shared
 * schedule) and two: each equals the portable block function on its own. */
static void path_compress2_matches_compress_twice(void **state)
{
  const rs_sha256_impl *impl = *state;
  use(impl);
  rng_state = 0x5eed0006;
  for (int i = 0; i < 2000; i++) {
    uint32_t a[8], b[8], ra[8], rb[8];
    uint8_t blocks[2 * 8 * 64 + 1];
    size_t n = (size_t)(rnd() % 9), off = (size_t)(rnd() % 2);
    for (int w = 0; w < 8; w++) {
      a[w] = ra[w] = (uint32_t)rnd();
      b[w] = rb[w] = (uint32_t)rnd();
    }
    random_bytes(blocks, sizeof(blocks));
    const uint8_t *pa = blocks + off, *pb = i % 2 ? pa : blocks + 8 * 64 + (size_t)(rnd() % 2);
    rs_sha256_compress_portable(ra, pa, n);
    rs_sha256_compress_portable(rb, pb, n);
    impl->compress2(a, pa, b, pb, n);
    assert_memory_equal(a, ra, sizeof(a));
    assert_memory_equal(b, rb, sizeof(b));
  }
}

static void assert_same_state(const rs_sha256 *x, const rs_sha256 *y)
{
  uint8_t a[RS_SHA256_STATE_MAX], b[RS_SHA256_STATE_MAX];
  size_t la = rs_sha256_export(x, a, sizeof(a)), lb = rs_sha256_export(y, b, sizeof(b));
  assert_int_equal(la, lb);
  assert_memory_equal(a, b, la);
}

/* update2 against two plain updates of the same pieces, the two states started at random
 * lengths: the same fill (0 most often, as a whole-file hash and a chunk digest both at a
 * multiple of 64), different fills, and pieces that end inside one state's partial block. */
static void path_update2_matches_two_updates(void **state)
{
  use(*state);
  enum { POOL = 64 * 1024, MAXLEN = 12 * 1024 };
  uint8_t *pool = malloc(POOL);
  assert_non_null(pool);
  rng_state = 0x5eed0007;
  random_bytes(pool, POOL);
  for (int i = 0; i < 3000; i++) {
    size_t pre_a = (size_t)(rnd() % 300), pre_b;
    switch (i % 3) {
    case 0:
      pre_a = pre_a / 64 * 64;
      pre_b = (size_t)(rnd() % 4) * 64; /* both aligned */
      break;
    case 1:
      pre_b = pre_a % 64 + (size_t)(rnd() % 3) * 64; /* same fill */
      break;
    default:
      pre_b = (size_t)(rnd() % 300); /* any fill */
      break;
    }
    rs_sha256 a, b, ra, rb;
    rs_sha256_init(&a);
    rs_sha256_init(&b);
    rs_sha256_update(&a, pool, pre_a);
    rs_sha256_update(&b, pool + 1000, pre_b);
    ra = a;
    rb = b;
    size_t len = (size_t)(rnd() % (MAXLEN + 1));
    const uint8_t *msg = pool + rnd() % (POOL - len);
    for (size_t off = 0; off < len;) {
      size_t n = chunk(len - off, 4096);
      rs_sha256_update2(&a, &b, msg + off, n);
      rs_sha256_update(&ra, msg + off, n);
      rs_sha256_update(&rb, msg + off, n);
      off += n;
    }
    assert_same_state(&a, &ra);
    assert_same_state(&b, &rb);
    uint8_t da[32], db[32], want[32];
    rs_sha256_finish(&a, da);
    rs_sha256_finish(&ra, want);
    assert_memory_equal(da, want, 32);
    rs_sha256_finish(&b, db);
    rs_sha256_finish(&rb, want);
    assert_memory_equal(db, want, 32);
  }
  free(pool);
}

/* MiB pieces, as the hash pool feeds them: the digests equal mbedTLS's, aligned or not. */
static void path_update2_matches_mbedtls_on_mib_pieces(void **state)
{
  use(*state);
  enum { LEN = 3 * 1024 * 1024 + 77, PIECE = 1024 * 1024 };
  uint8_t *buf = malloc(LEN);
  assert_non_null(buf);
  rng_state = 0x5eed0008;
  random_bytes(buf, LEN);
  for (size_t skew = 0; skew < 3; skew++) {
    size_t pre = skew == 0 ? 0 : skew == 1 ? 64 : 5; /* a's head start: aligned, or not */
    uint8_t want_a[32], want_b[32], got[32];
    reference(buf, LEN, want_a);
    reference(buf + pre, LEN - pre, want_b);
    rs_sha256 a, b;
    rs_sha256_init(&a);
    rs_sha256_init(&b);
    rs_sha256_update(&a, buf, pre);
    for (size_t off = pre; off < LEN; off += PIECE)
      rs_sha256_update2(&a, &b, buf + off, LEN - off < PIECE ? LEN - off : PIECE);
    rs_sha256_finish(&a, got);
    assert_memory_equal(got, want_a, 32);
    rs_sha256_finish(&b, got);
    assert_memory_equal(got, want_b, 32);
  }
  free(buf);
}

struct pair {
  const rs_sha256_impl *from, *to;
};

/* A state exported mid-stream on one path, imported and finished on another. */
static void state_saved_on_one_path_resumes_on_other(void **state)
{
  const struct pair *p = *state;
  enum { LEN = 3000 };
  uint8_t msg[LEN], want[32], got[32], buf[RS_SHA256_STATE_MAX];
  rng_state = 0x5eed0004;
  random_bytes(msg, LEN);
  reference(msg, LEN, want);
  for (size_t cut = 0; cut <= LEN; cut += cut < 300 ? 1 : 97) {
    rs_sha256 h;
    use(p->from);
    rs_sha256_init(&h);
    update_split(&h, msg, cut, 512);
    size_t n = rs_sha256_export(&h, buf, sizeof(buf));
    assert_int_equal(n, 48 + cut % 64);
    rs_sha256_free(&h);
    use(p->to);
    assert_int_equal(rs_sha256_import(&h, buf, n), 0);
    update_split(&h, msg + cut, LEN - cut, 512);
    rs_sha256_finish(&h, got);
    assert_memory_equal(got, want, 32);
  }
}

/* Switching paths under a live context (what rs_sha256_force_impl promises is harmless). */
static void switching_path_mid_stream_keeps_digest(void **state)
{
  const struct pair *p = *state;
  enum { LEN = 5000 };
  uint8_t msg[LEN], want[32], got[32];
  rng_state = 0x5eed0005;
  random_bytes(msg, LEN);
  reference(msg, LEN, want);
  rs_sha256 h;
  rs_sha256_init(&h);
  for (size_t off = 0, turn = 0; off < LEN; turn++) {
    use(turn % 2 ? p->to : p->from);
    size_t n = chunk(LEN - off, 700);
    rs_sha256_update(&h, msg + off, n);
    off += n;
  }
  rs_sha256_finish(&h, got);
  assert_memory_equal(got, want, 32);
}

/* Stands in for the cases of a path this CPU lacks, so the output says so. */
static void path_unsupported_here_is_refused(void **state)
{
  const rs_sha256_impl *impl = *state;
  print_message("# path %s: not supported by this CPU; its cases are not run\n", impl->name);
  const char *before = rs_sha256_impl_name();
  assert_int_equal(rs_sha256_force_impl(impl->name), -1);
  assert_string_equal(rs_sha256_impl_name(), before);
}

static void force_rejects_unknown_path_and_keeps_choice(void **state)
{
  (void)state;
  const char *before = rs_sha256_impl_name();
  assert_int_equal(rs_sha256_force_impl("md5"), -1);
  assert_int_equal(rs_sha256_force_impl(""), -1);
  assert_int_equal(rs_sha256_force_impl(NULL), -1);
  assert_string_equal(rs_sha256_impl_name(), before);
  assert_int_equal(rs_sha256_force_impl("portable"), 0);
  assert_string_equal(rs_sha256_impl_name(), "portable");
}

#if RS_SHA256_HAVE_X86
/* The cpuid check agrees with the kernel's view of the CPU flags, both ways: so on a CPU with
 * SHA-NI its path is certain to be tested. (Under valgrind, which hides SHA from cpuid but not
 * from /proc/cpuinfo, this case fails by design; the others then test the portable path.) */
static void x86_detection_agrees_with_proc_cpuinfo(void **state)
{
  (void)state;
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) {
    print_message("# no /proc/cpuinfo here: nothing to compare with\n");
    return;
  }
  char line[8192];
  int sha = 0, sse41 = 0, ssse3 = 0, seen = 0;
  while (!seen && fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "flags", 5) != 0)
      continue;
    char *colon = strchr(line, ':');
    seen = colon != NULL;
    for (char *t = seen ? strtok(colon + 1, " \n") : NULL; t != NULL; t = strtok(NULL, " \n")) {
      sha |= strcmp(t, "sha_ni") == 0;
      sse41 |= strcmp(t, "sse4_1") == 0;
      ssse3 |= strcmp(t, "ssse3") == 0;
    }
  }
  fclose(f);
  assert_true(seen);
  print_message("# cpuinfo: sha_ni=%d sse4_1=%d ssse3=%d\n", sha, sse41, ssse3);
  assert_int_equal(rs_sha256_x86_supported(), sha && sse41 && ssse3);
}
#endif

typedef void test_fn(void **);

enum { MAX_TESTS = 64 };
static struct CMUnitTest tests[MAX_TESTS];
static char names[MAX_TESTS][96];
static size_t n_tests;

/* Append a generated case; name_fmt takes up to two path names. */
static void add(test_fn *fn, void *state, const char *name_fmt, const char *a, const char *b)
{
  if (n_tests == MAX_TESTS)
    abort();
  char *name = names[n_tests];
  snprintf(name, sizeof(names[0]), name_fmt, a, b);
  tests[n_tests++] = (struct CMUnitTest){name, fn, NULL, NULL, state};
}

int main(void)
{
  static const struct {
    test_fn *fn;
    const char *name;
    int not_on_reference; /* compares a path with the portable one */
  } per_path[] = {
      {nist_vectors_on_path, "nist_vectors_on_%s", 0},
      {path_matches_mbedtls_on_random_splits, "%s_matches_mbedtls_on_random_splits", 0},
      {path_matches_mbedtls_on_mib_messages, "%s_matches_mbedtls_on_mib_messages", 0},
      {path_compress_matches_portable_from_random_states,
       "%s_compress_matches_portable_from_random_states", 1},
      {path_compress2_matches_compress_twice, "%s_compress2_matches_compress_twice", 0},
      {path_update2_matches_two_updates, "%s_update2_matches_two_updates", 0},
      {path_update2_matches_mbedtls_on_mib_pieces, "%s_update2_matches_mbedtls_on_mib_pieces", 0},
  };
  static struct pair pairs[MAX_TESTS];
  size_t n_impls, np = 0;
  const rs_sha256_impl *impls = rs_sha256_impls(&n_impls);
  for (size_t i = 0; i < n_impls; i++) {
    if (!impls[i].supported()) {
      add(path_unsupported_here_is_refused, (void *)&impls[i], "%s_unsupported_here_is_refused%s",
          impls[i].name, "");
      continue;
    }
    for (size_t k = 0; k < sizeof(per_path) / sizeof(per_path[0]); k++)
      if (!per_path[k].not_on_reference || impls[i].compress != rs_sha256_compress_portable)
        add(per_path[k].fn, (void *)&impls[i], per_path[k].name, impls[i].name, "");
  }
  for (size_t a = 0; a < n_impls; a++)
    for (size_t b = 0; b < n_impls; b++) {
      if (a == b || !impls[a].supported() || !impls[b].supported())
        continue;
      pairs[np] = (struct pair){&impls[a], &impls[b]};
      add(state_saved_on_one_path_resumes_on_other, &pairs[np], "state_saved_on_%s_resumes_on_%s",
          impls[a].name, impls[b].name);
      add(switching_path_mid_stream_keeps_digest, &pairs[np],
          "switching_%s_to_%s_mid_stream_keeps_digest", impls[a].name, impls[b].name);
      np++;
    }
  add(force_rejects_unknown_path_and_keeps_choice, NULL,
      "force_rejects_unknown_path_and_keeps_choice%s%s", "", "");
#if RS_SHA256_HAVE_X86
  add(x86_detection_agrees_with_proc_cpuinfo, NULL, "x86_detection_agrees_with_proc_cpuinfo%s%s",
      "", "");
#endif
  return _cmocka_run_group_tests("sha256_paths", tests, n_tests, NULL, NULL);
}
