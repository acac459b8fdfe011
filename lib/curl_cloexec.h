/* libcurl's sockets, close-on-exec from their creation (CURLOPT_OPENSOCKETFUNCTION): a program
 * the host process execs while a transfer runs must not hold the connection open after the
 * library closes it, or the peer would wait for an end that never comes. The stager and the S3
 * store both set it. */
#ifndef RESUMABLE_CURL_CLOEXEC_H
#define RESUMABLE_CURL_CLOEXEC_H

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/socket.h>

static inline curl_socket_t rs_curl_open_cloexec(void *ud, curlsocktype purpose,
                                                 struct curl_sockaddr *a)
{
  (void)ud;
  (void)purpose;
#ifdef SOCK_CLOEXEC
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
#else
  curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
  if (fd != CURL_SOCKET_BAD)
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#endif
}

#endif
