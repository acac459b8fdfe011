/* Checked curl_easy_setopt for a run of options: each call keeps the first failure, and the run
 * is judged once at its end (the calls after a failure are harmless: the handle is not
 * performed). A string option fails when libcurl cannot copy it (CURLE_OUT_OF_MEMORY); others
 * when this libcurl lacks the option or the feature (CURLE_UNKNOWN_OPTION, _NOT_BUILT_IN). */
#ifndef RESUMABLE_CURL_SETOPT_H
#define RESUMABLE_CURL_SETOPT_H

#include <curl/curl.h>

#include "resumable/error.h"

#define RS_SETOPT(first, handle, option, value)                             \
  do {                                                                      \
    CURLcode rs_setopt_cc_ = curl_easy_setopt((handle), (option), (value)); \
    if (*(first) == CURLE_OK)                                               \
      *(first) = rs_setopt_cc_;                                             \
  } while (0)

/* The library's error for a failed setopt (CURLE_OK gives RESUMABLE_OK): RESUMABLE_E_NOMEM for
 * CURLE_OUT_OF_MEMORY, RESUMABLE_E_IO for an option this libcurl refuses. */
static inline int rs_setopt_error(CURLcode cc)
{
  return cc == CURLE_OK              ? RESUMABLE_OK
         : cc == CURLE_OUT_OF_MEMORY ? RESUMABLE_E_NOMEM
                                     : RESUMABLE_E_IO;
}

#endif
