/* The kill loop and the end-of-run checks (tt_loop.c), with their counters. */
#ifndef TT_LOOP_H
#define TT_LOOP_H

#include "tt.h"

typedef struct tt_stats {
  unsigned kills;
  unsigned both_kills;   /* with --servers 2: kills that took both servers down */
  unsigned commit_kills; /* kills with an upload inside its commit window (see tt_classify_kill) */
  unsigned by_trigger[TT_TRIG_COUNT];
  unsigned fallbacks; /* armed events that did not come in time: timed kills instead */
  tt_commit_evidence ev;
  unsigned restart_failures;
  unsigned bad_exits;
  unsigned unfinished;
  tt_check_counts checks;
} tt_stats;

/* Kill and restart until o.iterations kills; then let the uploads finish. 0 or -1. */
int tt_kill_loop(tt_run *t, tt_stats *st);
/* After the uploaders ended: kill, restart, check everything, stop the server. 0 or -1. */
int tt_final_checks(tt_run *t, tt_stats *st);

#endif
