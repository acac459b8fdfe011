/* FIPS 180-2 / NIST CSRC example vectors for SHA-256, kept as data: `text` repeated `repeat`
 * times has digest `hex`. Shared by every test that checks a SHA-256 path. */
#ifndef RESUMABLE_TEST_SHA256_KAT_H
#define RESUMABLE_TEST_SHA256_KAT_H

#include <stddef.h>

static const struct {
  const char *text;
  size_t repeat;
  const char *hex;
} kat[] = {
  {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
  {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
   "qrsmnopqrstnopqrstu",
   1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
  {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

#endif
