/* The S3 store's public functions in a build without it (-Ds3=disabled): the same symbols, so
 * that programs link against either build, each saying the feature is absent. */
#include "resumable/error.h"
#include "resumable/store_s3.h"

int resumable_s3_config_new(resumable_s3_config **out)
{
  if (out)
    *out = NULL;
  return RESUMABLE_E_STATE;
}

void resumable_s3_config_free(resumable_s3_config *cfg)
{
  (void)cfg;
}

int resumable_s3_config_set_endpoint(resumable_s3_config *cfg, const char *url)
{
  (void)cfg;
  (void)url;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_bucket(resumable_s3_config *cfg, const char *bucket)
{
  (void)cfg;
  (void)bucket;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_region(resumable_s3_config *cfg, const char *region)
{
  (void)cfg;
  (void)region;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_prefix(resumable_s3_config *cfg, const char *prefix)
{
  (void)cfg;
  (void)prefix;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_addressing(resumable_s3_config *cfg, resumable_s3_addressing a)
{
  (void)cfg;
  (void)a;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_credentials(resumable_s3_config *cfg, const char *access_key,
                                        const char *secret_key, const char *session_token)
{
  (void)cfg;
  (void)access_key;
  (void)secret_key;
  (void)session_token;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_part_size(resumable_s3_config *cfg, uint64_t bytes)
{
  (void)cfg;
  (void)bytes;
  return RESUMABLE_E_STATE;
}

int resumable_s3_config_set_orphan_age(resumable_s3_config *cfg, uint64_t seconds)
{
  (void)cfg;
  (void)seconds;
  return RESUMABLE_E_STATE;
}

int resumable_store_s3_new(resumable_store **out, const resumable_s3_config *cfg)
{
  (void)cfg;
  if (out)
    *out = NULL;
  return RESUMABLE_E_STATE;
}
