/* Parallel tus uploads (concatenation). Placeholder until the engine lands: one connection. */
#include "stager_tus.h"

int rs_tus_parallel(rs_run *run, const rs_tus_server *srv)
{
  return rs_tus_single(run, srv);
}
