/* What resumable-upload prints: the progress bar line, the summary line and the JSON result.
 * Pure formatting into caller buffers, so tests/client can pin it. */
#ifndef UPLOAD_UI_H
#define UPLOAD_UI_H

#include <stddef.h>
#include <stdint.h>

#include "resumable/stager.h"

/* "999 B", "1.5 KiB", "64.0 MiB", "1.00 GiB". */
void upload_format_bytes(uint64_t n, char *buf, size_t cap);

/* "0:07", "12:03", "1:02:03"; "--:--" for a negative or absurd value. */
void upload_format_eta(double seconds, char *buf, size_t cap);

/* One progress line (no newline) for a terminal `width` columns wide (clipped to it).
 * `rate` is bytes/s on the wire (0 if unknown). */
void upload_format_bar(const resumable_progress *p, double rate, int width, char *buf, size_t cap);

/* Write `s` as a JSON string literal (with quotes) into buf; truncates safely. */
void upload_json_string(const char *s, char *buf, size_t cap);

#endif
