/* resumable_stager_run: placeholder until the upload engine lands. */
#include <stdio.h>
#include <string.h>

#include "stager_impl.h"

int resumable_stager_run(resumable_stager *s)
{
  if (!s)
    return RESUMABLE_E_INVALID_ARG;
  if (s->running)
    return RESUMABLE_E_STATE;
  memset(&s->r, 0, sizeof s->r);
  s->r.error = RESUMABLE_E_STATE;
  snprintf(s->r.msg, sizeof s->r.msg, "the upload engine is not implemented yet");
  return s->r.error;
}
