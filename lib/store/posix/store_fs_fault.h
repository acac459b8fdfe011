/* The POSIX store's fault hook, for tests only.
 *
 * Every write (pwrite), sync (fsync, fdatasync) and rename the store makes goes through one
 * wrapper in store_fs_io.c, and each wrapper first asks rs_fs_fault() whether to fail. In the
 * shipped library (built without RS_FAULT_INJECTION) rs_fs_fault is the constant 0 and no hook
 * code or symbol exists. Only the test-only static library (tests/faults/meson.build) compiles
 * the store with -DRS_FAULT_INJECTION and links store_fs_fault.c, which keeps the armed faults.
 *
 * Faults are process-wide (all stores), thread-safe, and stay armed until rs_fault_lift. */
#ifndef RESUMABLE_STORE_FS_FAULT_H
#define RESUMABLE_STORE_FS_FAULT_H

#include <stddef.h>
#include <stdint.h>

typedef enum rs_fault_kind {
  RS_FAULT_WRITE = 0, /* pwrite of any store file: data, meta, sidecar, staging */
  RS_FAULT_SYNC,      /* fsync or fdatasync, of a file or a directory */
  RS_FAULT_RENAME,    /* renameat: meta and sidecar records, and the commit itself */
  RS_FAULT_FLUSH,     /* the background flusher's fdatasync of a long upload */
  RS_FAULT_KINDS
} rs_fault_kind;

#ifdef RS_FAULT_INJECTION
/* Consulted by the wrappers before each syscall: 0 to go ahead, or the errno to fail with.
 * For RS_FAULT_WRITE, *len is the size about to be written and may be lowered (a short write,
 * as a filling disk gives); other kinds pass NULL. */
int rs_fs_fault(rs_fault_kind kind, size_t *len);

/* From now on, the `nth` call (1-based) of `kind` fails with `err`, and so do the `times`-1
 * calls after it (`times` 0: every call until lifted). Replaces an earlier arming of `kind`. */
void rs_fault_fail_call(rs_fault_kind kind, unsigned nth, unsigned times, int err);

/* From now on writes pass until `bytes` more bytes were written in total (every file); the write
 * that crosses the mark is cut short at it, and every write after fails with `err` until lifted:
 * a disk that fills up. */
void rs_fault_fail_after_bytes(uint64_t bytes, int err);

/* Disarm every fault and reset the counters. */
void rs_fault_lift(void);

/* Failures injected for `kind` since it was armed (or since the last lift). */
unsigned long rs_fault_fired(rs_fault_kind kind);

/* Calls of `kind` (failed or not) since it was armed (or since the last lift). */
unsigned long rs_fault_calls(rs_fault_kind kind);
#else
/* Shipped builds: no hook; the checks fold away. */
#define rs_fs_fault(kind, len) ((void)(kind), (void)(len), 0)
#endif

#endif
