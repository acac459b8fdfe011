/* The tus URL store: which upload URL(s) an earlier run created for a file, so that a later
 * run resumes that upload instead of creating another (like tus-js-client's fingerprints).
 *
 * One text file, <dir>/tus-urls-v1: a header line, then one line per entry, newest first,
 * "<64 hex key> <n> <url> ... <url>", then "checksum <64 hex>" (the SHA-256 of everything before
 * it). A store rewrites the whole file into a temporary file in the same directory (fsync) and
 * renames it into place (then fsyncs the directory): readers and concurrent writers only see a
 * complete file; of two concurrent stores one may be lost, never mixed. A file that does not
 * check out is treated as empty and replaced at the next store. Errors never fail an upload: the
 * caller only loses the shortcut. */
#ifndef RESUMABLE_URL_STORE_H
#define RESUMABLE_URL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "stager_tus_resp.h"

#define RS_US_FILE "tus-urls-v1"
#define RS_US_MAX_ENTRIES 256
#define RS_US_MAX_URLS 16 /* per entry: a parallel upload's parts */

/* The entry key: the SHA-256 of the creation URL, the file identity and its SHA-256. */
void rs_us_key(const char *endpoint, uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_sec,
               uint32_t mtime_nsec, int64_t ctime_sec, uint32_t ctime_nsec, const uint8_t sha[32],
               uint8_t key[32]);

/* The URLs stored for `key`: returns their count (0 when none, or the store is unreadable);
 * each is copied into urls[i] (RS_TUS_URL_MAX + 1 bytes each, up to `max`). */
size_t rs_us_lookup(const char *dir, const uint8_t key[32], char (*urls)[RS_TUS_URL_MAX + 1],
                    size_t max);

/* Record `n` (1..RS_US_MAX_URLS) URLs for `key` as the newest entry (replacing its older one;
 * the oldest beyond RS_US_MAX_ENTRIES are dropped). Creates `dir` (and parents, 0700). Each URL
 * must be http(s) without blanks or control bytes. Returns 0, or an errno value. */
int rs_us_store(const char *dir, const uint8_t key[32], const char *const *urls, size_t n);

/* Forget `key`. Returns 0 (also when it was not there), or an errno value. */
int rs_us_remove(const char *dir, const uint8_t key[32]);

#endif
