/* UTF-8 validity (RFC 3629): shared by key validation and JSON escaping. */
#ifndef RESUMABLE_UTF8_H
#define RESUMABLE_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at p, of which `avail` bytes may be read; 0 if the
 * bytes there are not one: a stray continuation byte, a truncated sequence, an overlong form, a
 * UTF-16 surrogate (U+D800..U+DFFF) or a code point above U+10FFFF. Pure. */
size_t rs_utf8_len(const unsigned char *p, size_t avail);

/* 1 if s[0..len) is valid UTF-8 throughout, else 0. Pure. */
int rs_utf8_valid(const char *s, size_t len);

#endif
