#ifndef E2E_SCRIPTED_H
#define E2E_SCRIPTED_H

/*
 * A scripted fake HTTP server, for tests only: it gives answers the real server would not give
 * on demand (a 416 with a chosen offset, a 409, a final-hash 400, a 503 with Retry-After...).
 * One thread, one connection at a time, one request per connection (it always answers
 * "Connection: close"). HEAD and PUT each have their own list of canned answers, used in order;
 * the last one repeats. In an answer, "%SHA%" is replaced by the request's X-Content-SHA256.
 * A PUT's body is read (after "100 Continue" when asked) only for answers below 400; refusals
 * are sent at once, then the rest of the body is drained before closing, as the real host does.
 * Every request is recorded (method, Content-Range, all headers, arrival time).
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SCRIPT_MAX 16
#define SCRIPT_MAX_REQS 64

typedef struct script_answer {
  int status;
  const char *headers; /* extra header lines, each ending in "\r\n"; may be NULL */
  const char *body;    /* may be NULL */
} script_answer;

typedef struct script_request {
  char method[8];
  char content_range[96];
  char headers[2048]; /* the raw header block */
  double at;          /* arrival, mono_now() */
} script_request;

typedef struct scripted {
  int lfd;
  uint16_t port;
  pthread_t thread;
  pthread_mutex_t mu;
  script_answer head[SCRIPT_MAX], put[SCRIPT_MAX];
  size_t nhead, nput, ihead, iput;
  script_request req[SCRIPT_MAX_REQS];
  size_t nreq;
} scripted;

/* Start on 127.0.0.1 port 0 with empty scripts (a HEAD with no script gets 404, a PUT 500). */
int scripted_start(scripted *s);
void scripted_stop(scripted *s);
/* Append an answer to a method's list; call before the client starts. */
void scripted_on_head(scripted *s, int status, const char *headers, const char *body);
void scripted_on_put(scripted *s, int status, const char *headers, const char *body);
/* Number of recorded requests of `method` ("HEAD"/"PUT"), and the i-th of them (or NULL). */
size_t scripted_count(scripted *s, const char *method);
const script_request *scripted_nth(scripted *s, const char *method, size_t i);

#endif
