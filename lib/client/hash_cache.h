/* A persistent cache of local files' SHA-256, so that uploading the same file again (after an
 * interruption, or to another server) does not read it twice.
 *
 * One file, <dir>/hashes-v1, holds at most `max_entries` fixed-size records, newest first; a
 * store rewrites it whole into a temporary file in the same directory (fsync) and renames it into
 * place, so readers and concurrent writers only ever see a complete file. Two processes storing
 * at once cannot corrupt it; one of the two new entries may be lost (a later run then hashes that
 * file again). The file carries a version and a SHA-256 of its contents: anything that does not
 * check out is ignored as if the cache were empty, and the next store replaces it.
 *
 * An entry is keyed by what identifies one version of one file: device, inode, size, mtime and
 * ctime (nanoseconds). An in-place edit changes mtime; one that puts mtime back (touch -d,
 * rsync -t) still changes ctime, which no unprivileged program can set. Timestamps only move
 * when the file system's clock ticks, so an entry is only worth storing when the file's
 * timestamps are older than the hashing start by more than that tick (see rs_hc_racy): an edit
 * that lands in the same tick as the previous change would otherwise leave the key unchanged. */
#ifndef RESUMABLE_HASH_CACHE_H
#define RESUMABLE_HASH_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define RS_HC_FILE "hashes-v1"
#define RS_HC_MAX_ENTRIES 1024 /* the library's bound: about 90 KiB on disk */

typedef struct rs_hc_key {
  uint64_t dev;
  uint64_t ino;
  uint64_t size;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
  uint32_t ctime_nsec;
  int64_t ctime_sec;
} rs_hc_key;

void rs_hc_key_from_stat(rs_hc_key *k, const struct stat *st);

/* 1 if every field is equal. Pure. */
int rs_hc_key_equal(const rs_hc_key *a, const rs_hc_key *b);

/* Margin used when rs_hc_racy gets a negative one: 2 s for timestamps that look whole-second
 * (a nanosecond field of 0: FAT, ext3, some network file systems), else 100 ms (a coarse kernel
 * clock ticks every 1-10 ms). */
#define RS_HC_MARGIN_COARSE_NS INT64_C(2000000000)
#define RS_HC_MARGIN_FINE_NS INT64_C(100000000)

/* 1 if mtime or ctime is later than `now - margin_ns` (now: CLOCK_REALTIME taken before the
 * file was stat'ed and read): a later edit could then keep the same timestamps, so the hash must
 * not be cached. margin_ns < 0 picks one from the timestamps (above); 0 .. 10 s otherwise. */
int rs_hc_racy(const rs_hc_key *k, const struct timespec *now, int64_t margin_ns);

/* Look `k` up in <dir>/hashes-v1. Returns 1 and fills sha on a hit; 0 on a miss, a missing,
 * unreadable or corrupt cache, or an allocation failure (the cache is an optimisation: it never
 * fails a caller). */
int rs_hc_lookup(const char *dir, const rs_hc_key *k, uint8_t sha[32]);

/* Record (k, sha) as the newest entry; an older entry for the same device and inode is dropped,
 * and the oldest entries beyond max_entries (>= 1) are evicted. Creates `dir` (and missing
 * parents, mode 0700) if needed. A corrupt existing cache is replaced. Returns 0, or an errno
 * value saying why nothing was written (ENOMEM, EINVAL for max_entries 0, or the failing
 * syscall's). */
int rs_hc_store(const char *dir, const rs_hc_key *k, const uint8_t sha[32], size_t max_entries);

/* ---- the file format (hash_cache_format.c), pure ---- */
/* Little-endian. Header: "RSHCACHE", u32 version (1), u32 count. Then `count` records of
 * RS_HC_RECORD bytes: u64 dev, u64 ino, u64 size, i64 mtime_sec, u32 mtime_nsec, u32 ctime_nsec,
 * i64 ctime_sec, u64 stored_at (wall-clock seconds, informative), 32 bytes SHA-256. Trailer: the
 * SHA-256 of everything before it. */
#define RS_HC_VERSION 1
#define RS_HC_HEADER 16
#define RS_HC_RECORD 88
#define RS_HC_TRAILER 32
#define RS_HC_LIMIT 65536 /* more records than this is corruption, whatever max_entries is */

/* Bytes of a file with n records. */
size_t rs_hc_file_size(size_t n);

/* Validate a whole file: magic, version, a length that matches the count (<= RS_HC_LIMIT) and
 * the checksum. Returns 0 and sets *count, or -1. */
int rs_hc_check(const uint8_t *buf, size_t len, size_t *count);

/* Record i of a checked buffer. */
void rs_hc_record_get(const uint8_t *buf, size_t i, rs_hc_key *k, uint8_t sha[32]);

/* Write a record at `rec` (RS_HC_RECORD bytes). */
void rs_hc_record_put(uint8_t *rec, const rs_hc_key *k, const uint8_t sha[32], uint64_t stored_at);

/* Fill the header (count) and the trailer of a buffer of rs_hc_file_size(count) bytes whose
 * records are in place. */
void rs_hc_seal(uint8_t *buf, size_t count);

#endif
