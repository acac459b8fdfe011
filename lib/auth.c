/* Bearer-token check; see auth.h. */
#include "auth.h"

#include <stdint.h>
#include <strings.h>

int rs_ct_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
  /* Walk the whole expected token whatever the candidate's length; a length mismatch only
   * changes which bytes are compared, never how many. */
  volatile unsigned char diff = (unsigned char)(got_len != want_len);
  for (size_t i = 0; i < want_len; i++) {
    unsigned char g = got_len ? (unsigned char)got[i < got_len ? i : i % got_len] : 0;
    diff |= (unsigned char)(g ^ (unsigned char)want[i]);
  }
  return diff == 0;
}

int rs_auth_bearer_ok(const char *value, const char *token, size_t token_len)
{
  if (!value || strncasecmp(value, "Bearer ", 7) != 0)
    return 0;
  const char *p = value + 7;
  while (*p == ' ')
    p++;
  size_t n = 0;
  while (p[n])
    n++;
  return rs_ct_equal(p, n, token, token_len);
}
