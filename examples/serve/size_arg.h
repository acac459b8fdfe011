/* Command-line numbers: plain bytes, or with a K/M/G/T suffix (powers of 1024). */
#ifndef SIZE_ARG_H
#define SIZE_ARG_H

#include <stdint.h>

/* Parse one or more decimal digits, nothing else, into *out. Returns 0, or -1 (empty, a sign,
 * a space, another character, or over UINT64_MAX). */
int size_arg_parse_plain(const char *s, uint64_t *out);

/* Like size_arg_parse_plain, with an optional single K, M, G or T suffix (either case)
 * multiplying by 1024, 1024^2, 1024^3 or 1024^4. Returns 0, or -1 (also on overflow). */
int size_arg_parse(const char *s, uint64_t *out);

#endif
