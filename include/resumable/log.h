#ifndef RESUMABLE_LOG_H
#define RESUMABLE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Log lines, shared by the server handler (resumable_server_set_log) and the stager
 * (resumable_stager_set_log): each says which lines it logs and from which threads.
 */

/* How much a line matters; lower is more severe. */
typedef enum resumable_log_level {
  RESUMABLE_LOG_ERROR = 0,
  RESUMABLE_LOG_WARN = 1,
  RESUMABLE_LOG_INFO = 2,
  RESUMABLE_LOG_DEBUG = 3
} resumable_log_level;

/* Called with one line (no trailing newline). `msg` lives only during the call. `user_data` is
 * the pointer given with the callback, never touched by the library. The setter that installs
 * it says which threads call it. */
typedef void (*resumable_log_fn)(void *user_data, resumable_log_level level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
