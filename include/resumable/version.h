#ifndef RESUMABLE_VERSION_H
#define RESUMABLE_VERSION_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Versions and what they promise.
 *
 * The shared library's soname carries the major version (libresumable.so.1). Within one major
 * version, a program built against release 1.x runs unchanged, without recompiling, against any
 * release 1.y with y >= x (and against an older 1.y if it uses nothing added after 1.y):
 *   - no exported function disappears or changes its prototype, and none changes its
 *     documented behaviour (fixing behaviour that contradicts its documentation is a fix);
 *   - the public structs keep their layout: resumable_complete_info, resumable_partial_info and
 *     resumable_progress never change, and resumable_store_ops only grows at its end, by
 *     optional ops, read up to the caller's struct_size (resumable/store.h, "Growing the
 *     interface");
 *   - no enumerator or macro value changes; error codes are never renumbered.
 * A minor release (1.x.0) may add functions, error codes, enumerators (an unknown one must be
 * handled as the enum's documentation says) and optional store ops. A patch release (1.x.y)
 * adds nothing to the API. Anything else takes a new major version and a new soname.
 * The check that keeps this honest: abi/libresumable.abi lists every exported symbol with its
 * prototype, and the public structs, enums and callback types; the suite's `abi` test fails
 * when the library or the headers differ from it.
 */
#define RESUMABLE_VERSION_MAJOR 1
#define RESUMABLE_VERSION_MINOR 0
#define RESUMABLE_VERSION_PATCH 0
#define RESUMABLE_VERSION_STRING "1.0.0"
#define RESUMABLE_VERSION_HEX \
  ((RESUMABLE_VERSION_MAJOR << 16) | (RESUMABLE_VERSION_MINOR << 8) | RESUMABLE_VERSION_PATCH)

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH" (may be newer than
 * RESUMABLE_VERSION_STRING, the one compiled against). Never NULL; static storage;
 * thread-safe. */
RESUMABLE_EXPORT const char *resumable_version(void);

/* RESUMABLE_VERSION_HEX of the linked library, e.g. 0x010000 for 1.0.0. Thread-safe. */
RESUMABLE_EXPORT unsigned resumable_version_hex(void);

#ifdef __cplusplus
}
#endif
#endif
