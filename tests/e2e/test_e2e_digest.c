/* Per-chunk digests end to end: the real stager and the real server through a proxy that
 * flips a byte in one request body in 20. With digests only the damaged chunks are sent again
 * (LocalAI and the IETF draft: Content-Digest and 422; tus: Upload-Checksum and 460), nothing restarts, the stored
 * file is right and the wire carries less than 1.1 times the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "e2e_fixture.h"
#include "e2e_util.h"
#include "test_fs.h"
#include "faultproxy.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define FILE_SIZE (4 * MIB)
#define CHUNK (64 * KIB)

static int setup(void **state)
{
  if (e2e_fx_setup(state) != 0)
    return -1;
  e2e_fx *f = *state;
  fp_set_flip(f->proxy, 20, 10); /* bodies 10, 30, 50, ...: never two in a row */
  return 0;
}

static char *make_file(e2e_fx *f, const char *name, uint32_t seed, char sha[65])
{
  return e2e_fx_file(f, name, FILE_SIZE, seed, sha);
}

static void check_stored(e2e_fx *f, const char *key, const char *sha)
{
  char path[700], got[65];
  snprintf(path, sizeof path, "%s/%s", f->root, key);
  assert_int_equal(e2e_sha256_file(path, got), 0);
  assert_string_equal(got, sha);
}

/* The stager's own count of where each chunk's digest came from (its DEBUG log line): the pass
 * that hashed the whole file (no second read and hash), or a hash when the chunk was read. */
typedef struct grid_log {
  int seen;
  unsigned from_pass, when_read;
} grid_log;

static void on_log(void *ud, resumable_log_level level, const char *msg)
{
  grid_log *g = ud;
  (void)level;
  if (sscanf(msg, "per-request digests: %u from the hash pass, %u hashed when read", &g->from_pass,
             &g->when_read) == 2)
    g->seen = 1;
}

static void watch_grid(resumable_stager *st, grid_log *g)
{
  *g = (grid_log){0};
  assert_int_equal(resumable_stager_set_log(st, on_log, g), RESUMABLE_OK);
}

/* Every chunk once, each digest from the hash pass (resends reuse the chunk in memory). */
static void check_one_pass(const grid_log *g)
{
  print_message("# chunk digests: %u from the hash pass, %u hashed when read\n", g->from_pass,
                g->when_read);
  assert_true(g->seen);
  assert_int_equal(g->from_pass, FILE_SIZE / CHUNK);
  assert_int_equal(g->when_read, 0);
}

/* Only the damaged chunks went again, and the wire stayed under 1.1x the file. */
static void check_resends(e2e_fx *f, resumable_stager *st)
{
  unsigned flips = fp_flips(f->proxy);
  print_message("# %u of %u bodies flipped, %u chunks resent, %llu wire bytes for %llu\n", flips,
                fp_bodies(f->proxy), resumable_stager_chunk_resends(st),
                (unsigned long long)resumable_stager_wire_bytes(st), (unsigned long long)FILE_SIZE);
  assert_true(flips >= 2);
  assert_int_equal(resumable_stager_chunk_resends(st), flips);
  assert_int_equal(resumable_stager_restarts(st), 0);
  assert_true(resumable_stager_wire_bytes(st) < FILE_SIZE + FILE_SIZE / 10);
}

static void localai_resends_only_damaged_chunks(void **state)
{
  e2e_fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "l.bin", 1, sha);
  e2e_url(url, sizeof url, fp_port(f->proxy), "l.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, RESUMABLE_PROTOCOL_LOCALAI), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(st, CHUNK), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 1), RESUMABLE_OK);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  check_one_pass(&g);
  check_stored(f, "l.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* The default: the server asks (Want-Content-Digest) and a chunk size is set. */
static void localai_digests_when_the_server_asks(void **state)
{
  e2e_fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "a.bin", 2, sha);
  e2e_url(url, sizeof url, fp_port(f->proxy), "a.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, RESUMABLE_PROTOCOL_LOCALAI), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(st, CHUNK), RESUMABLE_OK);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  check_one_pass(&g);
  check_stored(f, "a.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* With the file's hash given there is no pass over the file before sending: each chunk is
 * hashed once, as it is read to be sent. */
static void localai_given_hash_hashes_chunks_when_read(void **state)
{
  e2e_fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "g.bin", 8, sha);
  e2e_url(url, sizeof url, fp_port(f->proxy), "g.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_sha256(st, sha), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(st, CHUNK), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 1), RESUMABLE_OK);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  assert_true(g.seen);
  assert_int_equal(g.from_pass, 0);
  assert_int_equal(g.when_read, FILE_SIZE / CHUNK);
  check_stored(f, "g.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* Without digests a damaged chunk is only caught by the whole-file hash: a restart from 0. */
static void localai_without_digests_restarts(void **state)
{
  e2e_fx *f = *state;
  char sha[65], url[256];
  char *path = make_file(f, "n.bin", 3, sha);
  e2e_url(url, sizeof url, fp_port(f->proxy), "n.bin");
  resumable_stager *st = e2e_stager(url, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, RESUMABLE_PROTOCOL_LOCALAI), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(st, 1 * MIB), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 0), RESUMABLE_OK);
  fp_set_flip(f->proxy, 20, 2); /* the second body only, once */
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_flips(f->proxy), 1);
  assert_int_equal(resumable_stager_restarts(st), 1);
  assert_int_equal(resumable_stager_chunk_resends(st), 0);
  assert_true(resumable_stager_wire_bytes(st) >= FILE_SIZE + 1 * MIB);
  check_stored(f, "n.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* A stager for tus or the IETF draft (`protocol`) through the proxy, in CHUNK requests, its
 * upload URL kept in the fixture's store. */
static resumable_stager *upload_stager(e2e_fx *f, resumable_protocol protocol, const char *name,
                                       const char *path)
{
  char endpoint[256];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u/v1/files/", (unsigned)fp_port(f->proxy));
  resumable_stager *st = e2e_stager(endpoint, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, protocol), RESUMABLE_OK);
  assert_int_equal(resumable_stager_add_metadata(st, "filename", name), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_url_store_dir(st, f->store), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(st, CHUNK), RESUMABLE_OK);
  return st;
}

static void tus_resends_only_damaged_chunks(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = make_file(f, "t.bin", 4, sha);
  resumable_stager *st = upload_stager(f, RESUMABLE_PROTOCOL_TUS, "t.bin", path);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 1), RESUMABLE_OK);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  check_one_pass(&g);
  check_stored(f, "t.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* The default (-1) with a chunk size: the server announces the checksum extension with sha256,
 * so every PATCH carries Upload-Checksum, each digest from the hash pass (no helper thread
 * hashes the next chunk), and a damaged chunk (460) is sent again from the file. */
static void tus_checksums_by_default_come_from_the_hash_pass(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = make_file(f, "c.bin", 9, sha);
  resumable_stager *st = upload_stager(f, RESUMABLE_PROTOCOL_TUS, "c.bin", path);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  /* this path takes the digest per request: a resend takes it from the grid again */
  print_message("# checksums: %u from the hash pass, %u hashed when read\n", g.from_pass,
                g.when_read);
  assert_true(g.seen);
  assert_int_equal(g.from_pass, FILE_SIZE / CHUNK + resumable_stager_chunk_resends(st));
  assert_int_equal(g.when_read, 0);
  check_stored(f, "c.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* The IETF draft: Content-Digest on every PATCH (and the creation), 422 to a damaged one. */
static void ietf_resends_only_damaged_chunks(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = make_file(f, "i.bin", 5, sha);
  resumable_stager *st = upload_stager(f, RESUMABLE_PROTOCOL_IETF, "i.bin", path);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 1), RESUMABLE_OK);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  check_one_pass(&g);
  check_stored(f, "i.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* The default (-1): the draft server's OPTIONS asks with Want-Content-Digest. */
static void ietf_digests_when_the_server_asks(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = make_file(f, "j.bin", 6, sha);
  resumable_stager *st = upload_stager(f, RESUMABLE_PROTOCOL_IETF, "j.bin", path);
  grid_log g;
  watch_grid(st, &g);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  check_resends(f, st);
  check_one_pass(&g);
  check_stored(f, "j.bin", sha);
  resumable_stager_free(st);
  free(path);
}

/* Without digests the draft catches a damaged request only at completion, with its whole-file
 * 400: the upload is lost and the run ends refused. What the digests are for. */
static void ietf_without_digests_loses_the_upload(void **state)
{
  e2e_fx *f = *state;
  char sha[65], stored[700];
  char *path = make_file(f, "k.bin", 7, sha);
  resumable_stager *st = upload_stager(f, RESUMABLE_PROTOCOL_IETF, "k.bin", path);
  assert_int_equal(resumable_stager_set_chunk_digest(st, 0), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_E_REFUSED);
  assert_true(fp_flips(f->proxy) >= 1);
  assert_int_equal(resumable_stager_chunk_resends(st), 0);
  snprintf(stored, sizeof stored, "%s/k.bin", f->root);
  struct stat sb;
  assert_int_not_equal(stat(stored, &sb), 0); /* nothing torn or wrong was committed */
  resumable_stager_free(st);
  free(path);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(localai_resends_only_damaged_chunks, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(localai_digests_when_the_server_asks, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(localai_given_hash_hashes_chunks_when_read, setup,
                                      e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(localai_without_digests_restarts, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(tus_resends_only_damaged_chunks, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(tus_checksums_by_default_come_from_the_hash_pass, setup,
                                      e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(ietf_resends_only_damaged_chunks, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(ietf_digests_when_the_server_asks, setup, e2e_fx_teardown),
      cmocka_unit_test_setup_teardown(ietf_without_digests_loses_the_upload, setup,
                                      e2e_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
