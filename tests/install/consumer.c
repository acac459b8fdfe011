/* A program that knows libresumable only through its installed header and pkg-config. */
#include <resumable.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: consumer ROOT\n");
    return 2;
  }
  if (strcmp(resumable_version(), RESUMABLE_VERSION_STRING) != 0) {
    fprintf(stderr, "header says %s, library says %s\n", RESUMABLE_VERSION_STRING,
            resumable_version());
    return 1;
  }
  resumable_server *srv = NULL;
  int rc = resumable_server_new(&srv, argv[1]);
  if (rc != RESUMABLE_OK) {
    fprintf(stderr, "resumable_server_new: %s\n", resumable_strerror(rc));
    return 1;
  }
  resumable_exchange *ex = NULL;
  rc = resumable_exchange_begin(srv, "HEAD", "/v1/files/absent", &ex);
  int decided = rc == RESUMABLE_OK ? resumable_exchange_headers_done(ex) : rc;
  int status = resumable_exchange_status(ex);
  resumable_exchange_free(ex);
  resumable_server_free(srv);
  if (decided != 1 || status != 404) {
    fprintf(stderr, "HEAD of an absent key: decided=%d status=%d, want 1 and 404\n", decided,
            status);
    return 1;
  }
  printf("consumer ok: libresumable %s\n", resumable_version());
  return 0;
}
