/* Command-line parsing shared by resumable-serve and resumable-upload: one option syntax
 * (`--name VALUE` or `--name=VALUE`), one number syntax. */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>

/* Is argv[*i] the option `name` (given with its dashes, "--port")? Returns 1 with *value set
 * (advancing *i past a separate value), 0 if it is another option, -1 if it is this option
 * with no value left on the command line. */
int cli_value(int argc, char **argv, int *i, const char *name, const char **value);

/* One or more decimal digits and nothing else. Returns 0, or -1 (empty, a sign, a space,
 * another character, or over UINT64_MAX). */
int cli_parse_count(const char *s, uint64_t *out);

/* A byte count: digits with an optional K, M, G or T (either case; powers of 1024), which may
 * be followed by "iB" or "B" ("64M", "64MiB", "64mb"). Returns 0, or -1 (malformed, or over
 * 2^63 - 1, the largest size a file or an HTTP length can have). */
int cli_parse_size(const char *s, uint64_t *out);

/* Seconds with up to three decimals ("90", "2.5") into milliseconds. Returns 0, or -1. */
int cli_parse_seconds(const char *s, uint64_t *ms);

#endif
