/* One mapping of the resource errnos to the library's errors, for every place that turns a
 * failed system call into a return code: out of memory is RESUMABLE_E_NOMEM, out of file
 * descriptors (the process's or the system's) is RESUMABLE_E_NOFD, so a host can tell a full
 * descriptor table (wait, retry) from a broken file. Anything else is the caller's `other`. */
#ifndef RESUMABLE_ERRNO_ERROR_H
#define RESUMABLE_ERRNO_ERROR_H

#include <errno.h>

#include "resumable/error.h"

static inline int rs_errno_error(int e, int other)
{
  switch (e) {
  case ENOMEM:
    return RESUMABLE_E_NOMEM;
  case EMFILE:
  case ENFILE:
    return RESUMABLE_E_NOFD;
  default:
    return other;
  }
}

#endif
