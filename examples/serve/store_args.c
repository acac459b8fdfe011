/* See store_args.h. */
#include "store_args.h"

#include <string.h>

#include <resumable/error.h>
#include <resumable/store_s3.h>

#include "cli.h"

/* `--name VALUE` or `--name=VALUE` at argv[*i] (cli.h): the value, advancing *i, or NULL. */
static const char *value_of(int argc, char **argv, int *i, const char *name, int *missing)
{
  const char *v = NULL;
  int r = cli_value(argc, argv, i, name, &v);
  if (r < 0)
    *missing = 1;
  return r > 0 ? v : NULL;
}

static int bad(const char *what, const char *value)
{
  fprintf(stderr, "resumable-serve: invalid %s: '%s'\ntry 'resumable-serve --help'\n", what,
          value ? value : "");
  return -1;
}

int store_args_parse(int argc, char **argv, int *i, store_args *a)
{
  int missing = 0;
  const char *v;
  if (strcmp(argv[*i], "--s3-virtual-host") == 0) {
    a->virtual_host = 1;
    return 1;
  }
  if ((v = value_of(argc, argv, i, "--store", &missing)) != NULL) {
    if (strcmp(v, "s3") != 0 && strcmp(v, "fs") != 0)
      return bad("store (fs or s3)", v);
    a->s3 = strcmp(v, "s3") == 0;
  } else if ((v = value_of(argc, argv, i, "--s3-endpoint", &missing)) != NULL) {
    a->endpoint = v;
  } else if ((v = value_of(argc, argv, i, "--s3-bucket", &missing)) != NULL) {
    a->bucket = v;
  } else if ((v = value_of(argc, argv, i, "--s3-region", &missing)) != NULL) {
    a->region = v;
  } else if ((v = value_of(argc, argv, i, "--s3-prefix", &missing)) != NULL) {
    a->prefix = v;
  } else if ((v = value_of(argc, argv, i, "--s3-part-size", &missing)) != NULL) {
    if (cli_parse_size(v, &a->part_size) != 0)
      return bad("part size", v);
  } else {
    return missing ? bad("missing value for option", argv[*i]) : 0;
  }
  return 1;
}

void store_args_usage(FILE *out)
{
  fputs("\n"
        "Storage (default: the POSIX store under --root):\n"
        "  --store fs|s3      s3 keeps uploads in an S3 bucket (AWS S3, Ceph RGW, MinIO)\n"
        "                     so that several servers on the bucket resume each other's\n"
        "                     uploads; credentials from AWS_ACCESS_KEY_ID,\n"
        "                     AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN\n"
        "  --s3-endpoint URL  http(s)://host[:port] of the S3 service (required with s3)\n"
        "  --s3-bucket B      an existing bucket (required with s3)\n"
        "  --s3-region R      signing region (default us-east-1)\n"
        "  --s3-prefix P      key prefix of every object, e.g. uploads/ (default none)\n"
        "  --s3-part-size B   multipart part size and per-upload buffer, 5M to 1G\n"
        "                     (default 8M)\n"
        "  --s3-virtual-host  address the bucket as <bucket>.<host> (default: path style)\n"
        "Servers sharing one bucket work behind one load balancer; route each key to one\n"
        "server when you can (nginx: hash $request_uri consistent;).\n",
        out);
}

static int configure(const store_args *a, resumable_s3_config *c)
{
  if (resumable_s3_config_set_endpoint(c, a->endpoint) != RESUMABLE_OK)
    return bad("--s3-endpoint", a->endpoint);
  if (resumable_s3_config_set_bucket(c, a->bucket) != RESUMABLE_OK)
    return bad("--s3-bucket", a->bucket);
  if (a->region && resumable_s3_config_set_region(c, a->region) != RESUMABLE_OK)
    return bad("--s3-region", a->region);
  if (a->prefix && resumable_s3_config_set_prefix(c, a->prefix) != RESUMABLE_OK)
    return bad("--s3-prefix", a->prefix);
  if (a->part_size && resumable_s3_config_set_part_size(c, a->part_size) != RESUMABLE_OK)
    return bad("--s3-part-size (5M to 1G)", "");
  if (a->virtual_host &&
      resumable_s3_config_set_addressing(c, RESUMABLE_S3_VIRTUAL_HOST) != RESUMABLE_OK)
    return -1;
  return 0;
}

int store_args_s3_server(const store_args *a, resumable_server **srv)
{
  if (!a->endpoint || !a->bucket) {
    fputs("resumable-serve: --store s3 needs --s3-endpoint and --s3-bucket\n", stderr);
    return -1;
  }
  resumable_s3_config *c = NULL;
  resumable_store *store = NULL;
  int rc = resumable_s3_config_new(&c);
  if (rc != RESUMABLE_OK) {
    fprintf(stderr, "resumable-serve: no S3 store: %s\n",
            rc == RESUMABLE_E_STATE ? "this build has none (meson -Ds3=disabled)"
                                    : resumable_strerror(rc));
    return -1;
  }
  if (configure(a, c) != 0) {
    resumable_s3_config_free(c);
    return -1;
  }
  rc = resumable_store_s3_new(&store, c);
  resumable_s3_config_free(c);
  if (rc == RESUMABLE_E_INVALID_ARG)
    fputs("resumable-serve: no S3 credentials: set AWS_ACCESS_KEY_ID and "
          "AWS_SECRET_ACCESS_KEY\n",
          stderr);
  else if (rc != RESUMABLE_OK)
    fprintf(stderr, "resumable-serve: cannot make the S3 store: %s\n", resumable_strerror(rc));
  if (rc == RESUMABLE_OK && (rc = resumable_server_new_with_store(srv, store)) != RESUMABLE_OK) {
    resumable_store_free(store);
    fprintf(stderr, "resumable-serve: cannot start: %s\n", resumable_strerror(rc));
  }
  /* Checkpoints cost the S3 store one tail object (under a part) and a record, not an fsync of
   * the whole window: take one every part (and second), so that a server that dies mid-body
   * leaves at most about a part for the next server to receive again. */
  if (rc == RESUMABLE_OK)
    resumable_server_set_checkpoint(*srv, a->part_size ? a->part_size : (uint64_t)8 << 20, 1000);
  return rc == RESUMABLE_OK ? 0 : -1;
}
