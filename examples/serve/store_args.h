/* resumable-serve's choice of store: the POSIX store under --root (the default) or the S3 store
 * (--store s3 and the --s3-* options), kept apart from main.c's other options. */
#ifndef RESUMABLE_SERVE_STORE_ARGS_H
#define RESUMABLE_SERVE_STORE_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include <resumable/server.h>

typedef struct store_args {
  int s3; /* --store s3 */
  const char *endpoint, *bucket, *region, *prefix;
  uint64_t part_size; /* 0: the store's default */
  int virtual_host;
} store_args;

/* If argv[*i] is a store option, take it (and its value, advancing *i) and return 1; 0 if it is
 * not one; -1 after printing a usage error. */
int store_args_parse(int argc, char **argv, int *i, store_args *a);

/* The store options' lines of --help. */
void store_args_usage(FILE *out);

/* With --store s3: a server on the S3 store (credentials from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). 0, or -1 after printing why. */
int store_args_s3_server(const store_args *a, resumable_server **srv);

#endif
