#include "resumable/error.h"

const char *resumable_strerror(int code)
{
  switch ((resumable_error)code) {
#define RESUMABLE_ERR_TEXT_(name, num, text) \
  case RESUMABLE_##name:                     \
    return text;
    RESUMABLE_ERRNO_MAP(RESUMABLE_ERR_TEXT_)
#undef RESUMABLE_ERR_TEXT_
  }
  return "unknown error";
}

const char *resumable_err_name(int code)
{
  switch ((resumable_error)code) {
#define RESUMABLE_ERR_NAME_(name, num, text) \
  case RESUMABLE_##name:                     \
    return #name;
    RESUMABLE_ERRNO_MAP(RESUMABLE_ERR_NAME_)
#undef RESUMABLE_ERR_NAME_
  }
  return "UNKNOWN";
}
