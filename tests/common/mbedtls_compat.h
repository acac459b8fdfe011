/* The tests compute reference digests with mbedTLS. 2.28 (Debian 12) names its int-returning
 * calls with a _ret suffix; 3.x dropped the suffix (and the void-returning 2.x names). The tests
 * are written against the _ret names; under 3.x they map to the new ones. */
#ifndef RESUMABLE_TEST_MBEDTLS_COMPAT_H
#define RESUMABLE_TEST_MBEDTLS_COMPAT_H

#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define mbedtls_sha256_ret mbedtls_sha256
#define mbedtls_sha256_starts_ret mbedtls_sha256_starts
#define mbedtls_sha256_update_ret mbedtls_sha256_update
#define mbedtls_sha256_finish_ret mbedtls_sha256_finish
#define mbedtls_sha1_ret mbedtls_sha1
#define mbedtls_md5_ret mbedtls_md5
#endif

#endif
