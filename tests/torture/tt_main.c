/* resumable-torture: SIGKILL resumable-serve at random and event-chosen moments while the
 * stager uploads, restart it on the same root, and check the store after every restart.
 * Prints TAP (one line per check group). See README.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <resumable/stager.h>

#include "tt.h"
#include "tt_loop.h"
#include "test_fs.h"

static pthread_mutex_t print_mu = PTHREAD_MUTEX_INITIALIZER;

void tt_fail(tt_run *t, const char *fmt, ...)
{
  va_list ap;
  pthread_mutex_lock(&print_mu);
  t->failures++;
  fputs("# FAIL: ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
  /* and on stderr: meson's --print-errorlogs (CI's console) shows a TAP test's stderr only */
  fputs("FAIL: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  pthread_mutex_unlock(&print_mu);
}

void tt_note(tt_run *t, const char *fmt, ...)
{
  va_list ap;
  (void)t;
  pthread_mutex_lock(&print_mu);
  fputs("# ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
  pthread_mutex_unlock(&print_mu);
}

static int usage(void)
{
  fputs(
      "usage: resumable-torture --serve PATH [--serve-arg ARG]... [--seed N] [--iterations KILLS]\n"
      "         [--files N]\n"
      "         [--size BYTES] [--min-versions N] [--max-delay-ms MS] [--fallback-ms MS]\n"
      "         [--servers 1|2] [--keep] [--verbose]\n",
      stderr);
  return 2;
}

static int num(const char *s, uint64_t *out)
{
  char *end = NULL;
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static int parse(int argc, char **argv, tt_opts *o, int *have_seed)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    if (strcmp(a, "--keep") == 0 || strcmp(a, "--verbose") == 0) {
      *(a[2] == 'k' ? &o->keep : &o->verbose) = 1;
      continue;
    }
    size_t nargs = 0;
    while (o->serve_args[nargs] != NULL)
      nargs++;
    if (strcmp(a, "--serve") == 0 && v != NULL)
      o->serve_exe = v;
    else if (strcmp(a, "--serve-arg") == 0 && v != NULL && nargs + 1 < 9)
      o->serve_args[nargs] = v;
    else if (num(v, &n) != 0)
      return -1;
    else if (strcmp(a, "--seed") == 0)
      o->seed = n, *have_seed = 1;
    else if (strcmp(a, "--iterations") == 0 && n > 0 && n < 1000000)
      o->iterations = (unsigned)n;
    else if (strcmp(a, "--files") == 0 && n > 0 && n <= 64)
      o->files = (unsigned)n;
    else if (strcmp(a, "--size") == 0)
      o->size = n;
    else if (strcmp(a, "--min-versions") == 0 && n > 0 && n < 1000)
      o->min_versions = (unsigned)n;
    else if (strcmp(a, "--max-delay-ms") == 0 && n < 600000)
      o->max_delay_ms = (unsigned)n;
    else if (strcmp(a, "--fallback-ms") == 0 && n > 0 && n < 600000)
      o->fallback_ms = (unsigned)n;
    else if (strcmp(a, "--servers") == 0 && n >= 1 && n <= TT_MAX_SERVERS)
      o->servers = (unsigned)n;
    else
      return -1;
    i++;
  }
  return o->serve_exe != NULL ? 0 : -1;
}

/* Keys at the root, nested, and sharing a directory. */
static void name_key(tt_key *k, unsigned i)
{
  if (i % 3 == 0)
    snprintf(k->name, sizeof k->name, "k%u.bin", i);
  else if (i % 3 == 1)
    snprintf(k->name, sizeof k->name, "dir%u/sub/k%u.bin", i, i);
  else
    snprintf(k->name, sizeof k->name, "shared/k%u.dat", i);
}

static int setup(tt_run *t)
{
  const char *tmp = getenv("TMPDIR");
  snprintf(t->work, sizeof t->work, "%s/resumable-torture-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(t->work) == NULL)
    return -1;
  snprintf(t->root, sizeof t->root, "%s/root", t->work);
  snprintf(t->src, sizeof t->src, "%s/src", t->work);
  char log[PATH_MAX + 16];
  snprintf(log, sizeof log, "%s/serve.log", t->work);
  if (mkdir(t->root, 0755) != 0 || mkdir(t->src, 0755) != 0)
    return -1;
  int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  for (unsigned i = 0; i < t->o.servers; i++) { /* one log: lines carry no server, order does */
    t->srv[i].exe = t->o.serve_exe;
    t->srv[i].extra = t->o.serve_args;
    t->srv[i].root = t->root;
    t->srv[i].log_fd = log_fd;
  }
  if (log_fd < 0 || pipe(t->wake) != 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    (void)fcntl(t->wake[i], F_SETFD, FD_CLOEXEC);
    (void)fcntl(t->wake[i], F_SETFL, O_NONBLOCK);
  }
  t->keys = calloc(t->o.files, sizeof *t->keys);
  if (t->keys == NULL)
    return -1;
  for (unsigned i = 0; i < t->o.files; i++) {
    t->keys[i].run = t;
    t->keys[i].index = i;
    t->keys[i].via = t->keys[i].twin_via = -1;
    t->keys[i].twin_rng = tt_derive(t->o.seed, 7, i);
    name_key(&t->keys[i], i);
  }
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  return tt_check_init(t);
}

static int tap_line(unsigned n, int ok, const char *what)
{
  printf("%sok %u - %s\n", ok ? "" : "not ", n, what);
  return ok;
}

static int report(tt_run *t, const tt_stats *s, double secs)
{
  const tt_check_counts *c = &s->checks;
  printf("# seed %llu: %u kills (%u in the commit window; timed %u, progress %u, final-bytes %u, "
         "after-200 %u, of which %u fallbacks)\n",
         (unsigned long long)t->o.seed, s->kills, s->commit_kills, s->by_trigger[TT_TRIG_TIMED],
         s->by_trigger[TT_TRIG_PROGRESS], s->by_trigger[TT_TRIG_FINAL],
         s->by_trigger[TT_TRIG_AFTER_200], s->fallbacks);
  if (t->o.servers > 1)
    printf("# %u servers on one root: %u kills took one down (the other kept serving), %u took "
           "all\n",
           t->o.servers, s->kills - s->both_kills, s->both_kills);
  printf("# commit evidence at the kills: all bytes landed %u, renamed before meta removed %u, "
         "committed but unacknowledged %u, right after a 200 %u; tmp files left for the "
         "restart to sweep %u\n",
         s->ev.landed, s->ev.renamed, s->ev.unacked, s->ev.after_200, s->ev.staged);
  printf("# uploads acknowledged %llu (%llu MiB), stager runs %llu, wire %llu MiB, %.1f s, "
         "failures %u\n",
         t->uploads_acked, t->bytes_acked >> 20, t->upload_runs, t->wire_bytes >> 20, secs,
         t->failures);
  printf("1..8\n");
  int ok = 1;
  ok &= tap_line(1, s->kills >= t->o.iterations, "the planned number of SIGKILLs happened");
  ok &= tap_line(2, s->restart_failures == 0 && s->bad_exits == 0,
                 "the server restarted after every kill and never died on its own");
  ok &= tap_line(3, c->torn == 0 && c->stray == 0,
                 "final paths hold only whole uploaded versions, never a torn mix");
  ok &= tap_line(4, c->lost == 0, "acknowledged versions survive every kill");
  ok &= tap_line(5, c->head_bad == 0, "X-Content-SHA256 from the server matches the file");
  ok &= tap_line(6, c->leftovers == 0, "restarts leave no stale staging file or orphan partial");
  ok &= tap_line(7, t->upload_failures == 0 && s->unfinished == 0 && c->partial_left == 0,
                 "every upload finished with its hash, nothing left in .resumable/partial");
  ok &= tap_line(8, t->failures == 0, "no other failure");
  return ok;
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
  static tt_run t;
  int have_seed = 0;
  t.o = (tt_opts){.iterations = 50,
                  .files = 6,
                  .size = 32 << 20,
                  .min_versions = 2,
                  .max_delay_ms = 300,
                  .fallback_ms = 2000,
                  .ready_ms = 60000,
                  .servers = 1};
  if (parse(argc, argv, &t.o, &have_seed) != 0)
    return usage();
  if (!have_seed)
    t.o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  printf("# resumable-torture --seed %llu --iterations %u --files %u --size %llu --servers %u\n",
         (unsigned long long)t.o.seed, t.o.iterations, t.o.files, (unsigned long long)t.o.size,
         t.o.servers);
  fflush(stdout);
  signal(SIGPIPE, SIG_IGN);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (resumable_global_init() != 0 || setup(&t) != 0) {
    printf("Bail out! setup: %s\n", strerror(errno));
    return 1;
  }
  pthread_t *ids = calloc(t.o.files, sizeof *ids);
  unsigned started = 0;
  tt_stats st = {0};
  int rc = -1;
  unsigned up = 0;
  while (ids != NULL && up < t.o.servers && tt_serve_start(&t.srv[up], (int)t.o.ready_ms) == 0) {
    t.srv[up].alive = 1;
    t.srv[up].epoch = 1;
    up++;
  }
  if (up == t.o.servers) {
    rc = tt_uploaders_start(&t, ids, &started);
    if (rc == 0)
      rc = tt_kill_loop(&t, &st);
    for (unsigned i = 0; i < started; i++)
      pthread_join(ids[i], NULL);
    if (rc == 0)
      rc = tt_final_checks(&t, &st);
  }
  for (unsigned i = 0; rc != 0 && i < t.o.servers; i++) {
    if (t.srv[i].pid > 0) {
      tt_serve_kill(&t.srv[i], SIGKILL);
      tt_serve_reap(&t.srv[i]);
    }
  }
  if (ids == NULL || (rc != 0 && st.kills == 0 && started == 0))
    printf("Bail out! cannot start %s (see %s/serve.log)\n", t.o.serve_exe, t.work);
  int ok = report(&t, &st, seconds_since(&t0)) && rc == 0;
  if (ok && !t.o.keep)
    test_remove_tree(t.work);
  else
    printf("# work directory kept: %s\n", t.work);
  free(ids);
  free(t.keys);
  if (t.srv[0].log_fd >= 0)
    close(t.srv[0].log_fd);
  resumable_global_cleanup();
  return ok ? 0 : 1;
}
