#ifndef RESUMABLE_VERSION_H
#define RESUMABLE_VERSION_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Releases with the same major version are ABI compatible. */
#define RESUMABLE_VERSION_MAJOR 0
#define RESUMABLE_VERSION_MINOR 1
#define RESUMABLE_VERSION_PATCH 0
#define RESUMABLE_VERSION_STRING "0.1.0"
#define RESUMABLE_VERSION_HEX \
  ((RESUMABLE_VERSION_MAJOR << 16) | (RESUMABLE_VERSION_MINOR << 8) | RESUMABLE_VERSION_PATCH)

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH". Never NULL; static
 * storage; thread-safe. */
RESUMABLE_EXPORT const char *resumable_version(void);

/* RESUMABLE_VERSION_HEX of the linked library. Thread-safe. */
RESUMABLE_EXPORT unsigned resumable_version_hex(void);

#ifdef __cplusplus
}
#endif
#endif
