#ifndef RESUMABLE_EXPORT_H
#define RESUMABLE_EXPORT_H

/* Only declarations marked RESUMABLE_EXPORT are visible outside the shared library; the build
 * compiles everything else with hidden visibility. */
#if defined(RESUMABLE_BUILDING) && defined(__GNUC__)
#define RESUMABLE_EXPORT __attribute__((visibility("default")))
#else
#define RESUMABLE_EXPORT
#endif

#endif
