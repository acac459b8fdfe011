#include "backoff.h"

#include <curl/curl.h>
#include <string.h>

#include "range.h"
#include "resumable/stager.h"

void rs_backoff_init(rs_backoff *b, uint64_t min_ms, uint64_t max_ms, int jitter, rs_random_fn rnd,
                     void *rnd_ud)
{
  b->min_ms = min_ms;
  b->max_ms = max_ms;
  b->step_ms = min_ms;
  b->jitter = jitter;
  b->rnd = rnd;
  b->rnd_ud = rnd_ud;
}

/* Uniform in [0, n] without modulo bias worth caring about for waits (n < 2^37). */
static uint64_t uniform_upto(rs_backoff *b, uint64_t n)
{
  if (!b->rnd || n == 0)
    return 0;
  return b->rnd(b->rnd_ud) % (n + 1);
}

uint64_t rs_backoff_next(rs_backoff *b)
{
  uint64_t d = b->step_ms, wait;
  switch (b->jitter) {
  case RESUMABLE_JITTER_FULL:
    wait = uniform_upto(b, d);
    break;
  case RESUMABLE_JITTER_EQUAL:
    wait = d / 2 + uniform_upto(b, d - d / 2);
    break;
  default:
    wait = d;
    break;
  }
  b->step_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
  return wait;
}

void rs_backoff_reset(rs_backoff *b)
{
  b->step_ms = b->min_ms;
}

int rs_retry_after_parse(const char *v, size_t len, time_t now, uint64_t *ms)
{
  if (len == 0)
    return -1;
  uint64_t secs;
  if (v[0] >= '0' && v[0] <= '9') {
    if (rs_parse_u63(v, len, &secs) != 0)
      return -1;
    if (secs > (UINT64_C(1) << 31))
      secs = UINT64_C(1) << 31;
    *ms = secs * 1000;
    return 0;
  }
  /* An HTTP-date (IMF-fixdate, or the obsolete RFC 850 / asctime forms): libcurl parses all. */
  char buf[64];
  if (len >= sizeof buf || memchr(v, '\0', len))
    return -1;
  memcpy(buf, v, len);
  buf[len] = '\0';
  time_t t = curl_getdate(buf, NULL);
  if (t == (time_t)-1)
    return -1;
  *ms = t > now ? (uint64_t)(t - now) * 1000 : 0;
  return 0;
}

uint64_t rs_splitmix64(void *state)
{
  uint64_t *s = state;
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}
