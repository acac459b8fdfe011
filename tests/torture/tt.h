/* The kill -9 torture: shared state of the harness (see README.md).
 *
 * One thread per key uploads that key's versions one after another with the stager; the main
 * thread owns the resumable-serve child, SIGKILLs it (after a seeded delay, or when an armed
 * event fires in an uploader), checks the root while it is dead, restarts it and checks again. */
#ifndef TT_H
#define TT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- tt_rng.c: splitmix64, so every choice replays from --seed ---- */
typedef struct tt_rng {
  uint64_t s;
} tt_rng;
uint64_t tt_next(tt_rng *r);
/* Uniform in [lo, hi] (hi >= lo). */
uint64_t tt_range(tt_rng *r, uint64_t lo, uint64_t hi);
/* A generator for one purpose, derived from the run seed and up to two indices. */
tt_rng tt_derive(uint64_t seed, uint64_t a, uint64_t b);

/* ---- tt_version.c: the local files ---- */
typedef struct tt_version {
  unsigned number; /* 0, 1, ... per key */
  uint64_t size;
  uint64_t chunk;        /* stager chunk size, 0 = one PUT */
  int legacy;            /* one whole-file PUT without Content-Range, not the stager */
  uint64_t content_seed; /* the byte stream */
  uint64_t flip;         /* 0, or 1 + the offset of a byte flipped in the stream */
  uint8_t sha[32];
  char path[PATH_MAX]; /* the local file */
} tt_version;

/* Pick the next version of key `key_index` (seeded), write it under `dir` and hash it. `prev`
 * is the previous version or NULL: some versions copy it with one byte changed, so that a torn
 * mix of the two would have the right size but neither hash. Returns 0 or -1 (errno). */
int tt_version_make(uint64_t seed, unsigned key_index, const tt_version *prev, uint64_t max_size,
                    const char *dir, tt_version *out);
void tt_hex(const uint8_t sha[32], char out[65]);
/* SHA-256 of a whole file; -1 if it cannot be read. */
int tt_hash_file(int dirfd, const char *path, uint8_t sha[32], uint64_t *size);

/* ---- tt_serve.c: the resumable-serve children (one root, --servers of them), or those of a
 * host launcher such as nginx-host. Each runs in a process group of its own, which every kill
 * targets: a host of several processes (nginx's master and worker) dies whole, as in a crash. */
#define TT_MAX_SERVERS 2
typedef struct tt_serve {
  const char *exe;
  const char *root;
  const char *const *extra; /* more arguments for it (NULL-terminated), or NULL */
  int log_fd;               /* its stderr */
  pid_t pid;                /* 0 when not running */
  char base_url[128];       /* "http://127.0.0.1:PORT/v1/files/" */
  /* run state, under tt_run.mu */
  int alive;        /* answers at base_url */
  unsigned epoch;   /* bumped at every (re)start */
  unsigned running; /* uploader runs through it now */
  pid_t last_pid;   /* the pid it had before its last kill (names of its temp files) */
} tt_serve;

/* fork/exec `exe --port 0 --root root [extra...]`, wait (poll) for its ready line. 0 or -1. */
int tt_serve_start(tt_serve *s, int timeout_ms);
/* Send `sig` to the server's process group. 0, or -1 (errno). */
int tt_serve_kill(const tt_serve *s, int sig);
/* Reap the child (already killed or told to stop), and every process of its group (this process
 * is their subreaper: see tt_serve_start). Returns the child's wait status. */
int tt_serve_reap(tt_serve *s);

/* ---- the shared run state (tt_upload.c) ---- */
typedef enum tt_trigger {
  TT_TRIG_NONE = 0,
  TT_TRIG_TIMED,     /* the main thread kills after its seeded delay */
  TT_TRIG_PROGRESS,  /* an upload has sent a seeded fraction of what it had left */
  TT_TRIG_FINAL,     /* an upload's last bytes are on the wire (the server is about to commit) */
  TT_TRIG_AFTER_200, /* an upload has just been answered 200 */
  TT_TRIG_COUNT
} tt_trigger;

struct tt_run;

typedef struct tt_key {
  struct tt_run *run;
  unsigned index;
  char name[64];
  int via;         /* the server of the run in progress, or -1 */
  int twin_via;    /* with --servers 2: the server of a twin run beside it, or -1 */
  tt_rng twin_rng; /* which runs get a twin (seeded) */
  tt_version cur;  /* the version being uploaded (valid when have_cur) */
  int have_cur;
  int cur_started;     /* a run of cur has begun: it may appear on the server */
  int cur_seen_placed; /* a kill already found cur at the final path (counted once) */
  tt_version acked;    /* the last version answered 200 (valid when have_acked) */
  int have_acked;
  unsigned versions_done;
  int finished;         /* no more versions */
  uint64_t bytes_acked; /* sum of sizes of acknowledged versions */
  uint64_t wire_bytes;  /* body bytes the stager sent, all runs */
  unsigned runs;
  /* check cache: hash of the file at the final path as last seen */
  dev_t c_dev;
  ino_t c_ino;
  int64_t c_mtime_ns;
  uint64_t c_size;
  uint8_t c_sha[32];
  int c_valid;
} tt_key;

typedef struct tt_opts {
  uint64_t seed;
  unsigned iterations; /* kills */
  unsigned files;      /* keys, one uploader thread each */
  uint64_t size;       /* largest file */
  unsigned min_versions;
  unsigned max_delay_ms; /* TIMED kills wait 0..this */
  unsigned fallback_ms;  /* an armed event that has not fired by then becomes a timed kill */
  unsigned ready_ms;     /* server start timeout */
  unsigned servers;      /* resumable-serve processes on the one root (1 or 2) */
  const char *serve_exe;
  const char *serve_args[9]; /* --serve-arg: more arguments for it, NULL-ended */
  int keep;
  int verbose;
} tt_opts;

typedef struct tt_run {
  tt_opts o;
  char work[PATH_MAX]; /* temp dir: root/, src/, serve.log */
  char root[PATH_MAX + 8];
  char src[PATH_MAX + 8];
  tt_serve srv[TT_MAX_SERVERS];

  pthread_mutex_t mu;
  pthread_cond_t cv;
  int no_new_versions; /* the kill target is reached */
  tt_trigger armed;
  unsigned kill_both;  /* this kill takes every server down, not only one */
  unsigned victim;     /* TT_TRIG_TIMED with one server to kill: which */
  unsigned killed;     /* bit i: server i was killed by this kill */
  double frac;         /* TT_TRIG_PROGRESS */
  uint64_t slack;      /* TT_TRIG_FINAL: fire when position + slack >= total */
  unsigned post_ms;    /* TT_TRIG_FINAL: 0 kills at once; else main kills this much later */
  int final_seen;      /* TT_TRIG_FINAL with post_ms: the event came, main's timer runs */
  tt_trigger fired_by; /* what caused the last kill */
  int wake[2];         /* uploaders -> main: "killed" / "a thread ended" */
  tt_key *keys;
  unsigned threads_done;

  /* counters (under mu; failures under the print lock of tt_fail) */
  unsigned failures;
  unsigned upload_failures;
  unsigned long long upload_runs, uploads_acked;
  unsigned long long bytes_acked, wire_bytes;
} tt_run;

/* Record a failure: prints "# FAIL ..." and counts it. Thread-safe. */
void tt_fail(tt_run *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tt_note(tt_run *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SIGKILL server `which` (and, when this kill takes both, the other) if alive (mu held):
 * records `why`, wakes the main thread. */
void tt_kill_locked(tt_run *t, unsigned which, tt_trigger why);
/* Bit mask of the servers that are not alive (mu held). */
unsigned tt_dead_mask(const tt_run *t);
/* Start one uploader thread per key (ids[files]). 0, or -1 (threads already started keep
 * running; the caller joins ids[0..*started-1]). */
int tt_uploaders_start(tt_run *t, pthread_t *ids, unsigned *started);

/* ---- tt_check.c (POSIX root), or tests/s3/tt_check_s3.c (a bucket) ---- */
/* Prepare the checks' storage (and t->srv's arguments for it) once the run is set up. 0 or -1. */
int tt_check_init(tt_run *t);
typedef struct tt_check_counts {
  unsigned torn;         /* a final file that is none of the allowed versions */
  unsigned lost;         /* an acknowledged version missing */
  unsigned stray;        /* a file at a final path that no key owns */
  unsigned head_bad;     /* HEAD disagrees with the file */
  unsigned leftovers;    /* stale tmp files or orphan partial files after a restart */
  unsigned partial_left; /* at the end: partial files of finished keys */
} tt_check_counts;

/* Walk the root (server dead or idle): every final file is an allowed version. */
void tt_check_root(tt_run *t, tt_check_counts *c);
/* After the servers in `restarted` (bit mask) came back: none of their dead processes' temp
 * files is left (with every server restarted: .resumable/tmp is empty), no orphan in partial/,
 * HEAD through them agrees with the disk; keys that an upload through a live server is
 * changing meanwhile are left out. */
void tt_check_restarted(tt_run *t, unsigned restarted, tt_check_counts *c);
/* At the end: nothing under partial/ for any key. */
void tt_check_no_partials(tt_run *t, tt_check_counts *c);

typedef struct tt_commit_evidence {
  unsigned landed;    /* all bytes of an upload held in partial/, not yet renamed */
  unsigned renamed;   /* renamed into place, its meta not yet removed */
  unsigned unacked;   /* committed but the client never got the 200 */
  unsigned after_200; /* the kill came as the client got a 200 (set by the caller) */
  unsigned staged;    /* files the dead server left in .resumable/tmp/ (staging, records) */
} tt_commit_evidence;
/* With the server dead: where each in-flight upload stood at the kill. */
void tt_classify_kill(tt_run *t, tt_commit_evidence *e);

/* Partial file names for a key: <hex of SHA-256(key)>.data / .meta */
void tt_partial_name(const char *key, const char *ext, char *out, size_t cap);

#endif
