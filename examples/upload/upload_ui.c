#include "upload_ui.h"

#include <stdio.h>
#include <string.h>

#define UPLOAD_TEXT_ROOM 66 /* columns kept for the text after the bar */

void upload_format_bytes(uint64_t n, char *buf, size_t cap)
{
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) {
    snprintf(buf, cap, "%u B", (unsigned)n);
    return;
  }
  double v = (double)n / 1024;
  int u = 0;
  while (v >= 1024 && u < 5)
    v /= 1024, u++;
  snprintf(buf, cap, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void upload_format_eta(double s, char *buf, size_t cap)
{
  if (!(s >= 0) || s > 360000) { /* also catches NaN */
    snprintf(buf, cap, "--:--");
    return;
  }
  unsigned t = (unsigned)(s + 0.5), h = t / 3600, m = t / 60 % 60, sec = t % 60;
  if (h)
    snprintf(buf, cap, "%u:%02u:%02u", h, m, sec);
  else
    snprintf(buf, cap, "%u:%02u", m, sec);
}

static unsigned percent(uint64_t part, uint64_t total)
{
  if (total == 0)
    return 100;
  if (part >= total)
    return 100;
  return (unsigned)((double)part * 100.0 / (double)total);
}

/* "[#####-----] " of `cells` cells. */
static void bar_cells(unsigned pct, int cells, char *buf, size_t cap)
{
  if (cells < 1 || (size_t)cells + 3 > cap) {
    buf[0] = '\0';
    return;
  }
  int filled = (int)(pct * (unsigned)cells / 100);
  buf[0] = '[';
  for (int i = 0; i < cells; i++)
    buf[1 + i] = i < filled ? '#' : '-';
  buf[cells + 1] = ']';
  buf[cells + 2] = '\0';
}

void upload_format_bar(const resumable_progress *p, double rate, int width, char *buf, size_t cap)
{
  char done[32], total[32], r[32], eta[32], text[200];
  upload_format_bytes(p->total, total, sizeof total);
  switch (p->phase) {
  case RESUMABLE_PHASE_HASHING:
    upload_format_bytes(p->hashed, done, sizeof done);
    snprintf(text, sizeof text, "hashing %3u%% %s / %s", percent(p->hashed, p->total), done, total);
    break;
  case RESUMABLE_PHASE_PROBING:
    upload_format_bytes(p->held, done, sizeof done);
    snprintf(text, sizeof text, "probing the server (attempt %u, held %s / %s)", p->attempt, done,
             total);
    break;
  case RESUMABLE_PHASE_WAITING:
    upload_format_bytes(p->held, done, sizeof done);
    snprintf(text, sizeof text, "waiting %.1f s before attempt %u (server holds %s / %s)",
             (double)p->wait_ms / 1000.0, p->attempt + 1, done, total);
    break;
  default:
    upload_format_bytes(p->position, done, sizeof done);
    upload_format_bytes((uint64_t)(rate > 0 ? rate : 0), r, sizeof r);
    upload_format_eta(rate > 0 ? (double)(p->total - p->position) / rate : -1, eta, sizeof eta);
    snprintf(text, sizeof text, "%3u%% %s / %s  %s/s  ETA %s  attempt %u",
             percent(p->position, p->total), done, total, r, eta, p->attempt);
    break;
  }
  /* The bar keeps one width whatever the text says, so it does not jump while redrawn. */
  int room = width - UPLOAD_TEXT_ROOM;
  char cells[128] = "";
  if (room >= 12)
    bar_cells(p->phase == RESUMABLE_PHASE_HASHING ? percent(p->hashed, p->total)
                                                  : percent(p->position, p->total),
              (room - 3) < 40 ? room - 3 : 40, cells, sizeof cells);
  snprintf(buf, cap, "%s%s%s", cells, cells[0] ? " " : "", text);
  if (width > 0 && (size_t)width < cap && strlen(buf) > (size_t)width)
    buf[width] = '\0';
}

void upload_json_string(const char *s, char *buf, size_t cap)
{
  size_t o = 0;
  if (cap < 3) {
    if (cap)
      buf[0] = '\0';
    return;
  }
  buf[o++] = '"';
  for (; *s && o + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o++] = '"';
  buf[o] = '\0';
}
