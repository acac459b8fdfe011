/* The stager's tus options and results (stager.h, "the tus dialect"). */
#include <stdlib.h>
#include <string.h>

#include "stager_impl.h"
#include "tus_header.h"

#define GUARD(s)                      \
  do {                                \
    if (!(s))                         \
      return RESUMABLE_E_INVALID_ARG; \
    if ((s)->running)                 \
      return RESUMABLE_E_STATE;       \
  } while (0)

#define METADATA_MAX 4000 /* the server keeps 4096 bytes; leave room */
#define META_KEY_MAX 128

int resumable_stager_set_protocol(resumable_stager *s, resumable_protocol p)
{
  GUARD(s);
  if (p != RESUMABLE_PROTOCOL_LOCALAI && p != RESUMABLE_PROTOCOL_TUS &&
      p != RESUMABLE_PROTOCOL_AUTO && p != RESUMABLE_PROTOCOL_IETF)
    return RESUMABLE_E_INVALID_ARG;
  s->o.protocol = p;
  return RESUMABLE_OK;
}

static int key_ok(const char *k, const char *existing)
{
  size_t n = strlen(k);
  if (n == 0 || n > META_KEY_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f || k[i] == ',')
      return 0;
  for (const char *p = existing; p && *p;) { /* keys are unique */
    size_t kl = strcspn(p, " ,");
    if (kl == n && memcmp(p, k, n) == 0)
      return 0;
    p += strcspn(p, ",");
    if (*p == ',')
      p++;
  }
  return 1;
}

int resumable_stager_add_metadata(resumable_stager *s, const char *key, const char *value)
{
  GUARD(s);
  if (!key || !value || !key_ok(key, s->o.tus_metadata))
    return RESUMABLE_E_INVALID_ARG;
  size_t vlen = strlen(value), old = s->o.tus_metadata ? strlen(s->o.tus_metadata) : 0;
  size_t need = old + 1 + strlen(key) + 1 + (vlen + 2) / 3 * 4;
  if (need > METADATA_MAX)
    return RESUMABLE_E_INVALID_ARG;
  char *m = malloc(need + 1);
  if (!m)
    return RESUMABLE_E_NOMEM;
  size_t n = 0;
  if (old) {
    memcpy(m, s->o.tus_metadata, old);
    m[old] = ',';
    n = old + 1;
  }
  n += (size_t)strlen(strcpy(m + n, key));
  if (vlen > 0) {
    m[n++] = ' ';
    rs_base64_encode((const uint8_t *)value, vlen, m + n, need + 1 - n);
  } else {
    m[n] = '\0';
  }
  free(s->o.tus_metadata);
  s->o.tus_metadata = m;
  return RESUMABLE_OK;
}

int resumable_stager_set_url_store_dir(resumable_stager *s, const char *dir)
{
  GUARD(s);
  if (dir && !*dir)
    return RESUMABLE_E_INVALID_ARG;
  char *c = NULL;
  if (dir && !(c = strdup(dir)))
    return RESUMABLE_E_NOMEM;
  free(s->o.url_store_dir);
  s->o.url_store_dir = c;
  return RESUMABLE_OK;
}

int resumable_stager_set_parallel(resumable_stager *s, unsigned connections)
{
  GUARD(s);
  if (connections < 1 || connections > 16)
    return RESUMABLE_E_INVALID_ARG;
  s->o.parallel = connections;
  return RESUMABLE_OK;
}

int resumable_stager_set_cancel_remote(resumable_stager *s, int on)
{
  GUARD(s);
  s->o.cancel_remote = on != 0;
  return RESUMABLE_OK;
}

resumable_protocol resumable_stager_protocol_used(const resumable_stager *s)
{
  return s ? s->r.protocol : RESUMABLE_PROTOCOL_LOCALAI;
}

const char *resumable_stager_upload_url(const resumable_stager *s)
{
  return s ? s->r.upload_url : "";
}

void rs_tus_opts_free(rs_stager_opts *o)
{
  free(o->tus_metadata);
  free(o->url_store_dir);
  o->tus_metadata = o->url_store_dir = NULL;
}
