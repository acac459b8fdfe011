#include "resumable/version.h"

const char *resumable_version(void)
{
  return RESUMABLE_VERSION_STRING;
}

unsigned resumable_version_hex(void)
{
  return RESUMABLE_VERSION_HEX;
}
