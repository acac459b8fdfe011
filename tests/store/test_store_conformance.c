/* The store conformance suite: every case of conformance_*.c against every store of
 * conformance_kinds.c, as one cmocka group whose tests are named "<store>: <case>".
 * `test_store_conformance <store>` runs one store's cases only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "store_internal.h"

typedef struct binding {
  const store_kind *kind;
  const cf_case *cs;
} binding;

/* A case's fixture and the case it runs. */
typedef struct running {
  cf c;
  const cf_case *cs;
} running;

static int setup(void **state)
{
  const binding *b = *state;
  running *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -1;
  r->cs = b->cs;
  r->c.kind = b->kind;
  if (r->c.kind->open(&r->c.ctx, &r->c.store) != 0) {
    fprintf(stderr, "%s: cannot open a store\n", r->c.kind->name);
    free(r);
    return -1;
  }
  r->c.ops = resumable_store_ops_of(r->c.store);
  r->c.self = resumable_store_self(r->c.store);
  *state = r;
  return 0;
}

static int teardown(void **state)
{
  running *r = *state;
  resumable_store_free(r->c.store);
  r->c.kind->cleanup(r->c.ctx);
  free(r);
  return 0;
}

static void run(void **state)
{
  running *r = *state;
  r->cs->fn(&r->c);
}

int main(int argc, char **argv)
{
  const struct {
    const cf_case *cases;
    size_t n;
  } lists[] = {
      {cf_complete_cases, cf_complete_count},
      {cf_partial_cases, cf_partial_count},
      {cf_tree_cases, cf_tree_count},
      {cf_thread_cases, cf_thread_count},
  };
  size_t max = 0;
  for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
    max += lists[l].n;
  max *= conformance_kind_count;
  struct CMUnitTest *tests = calloc(max, sizeof(*tests));
  binding *b = calloc(max, sizeof(*b));
  char **names = calloc(max, sizeof(*names));
  size_t n = 0;
  if (tests == NULL || b == NULL || names == NULL)
    return 1;
  for (size_t k = 0; k < conformance_kind_count; k++) {
    const store_kind *kind = &conformance_kinds[k];
    if (argc > 1 && strcmp(argv[1], kind->name) != 0)
      continue;
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
      for (size_t i = 0; i < lists[l].n; i++) {
        const cf_case *cs = &lists[l].cases[i];
        if ((cs->needs & kind->caps) != cs->needs)
          continue; /* not registered at all: the store has no such feature */
        size_t len = strlen(kind->name) + strlen(cs->name) + 3;
        names[n] = malloc(len);
        if (names[n] == NULL)
          return 1;
        snprintf(names[n], len, "%s: %s", kind->name, cs->name);
        b[n] = (binding){kind, cs};
        tests[n] = (struct CMUnitTest){names[n], run, setup, teardown, &b[n]};
        n++;
      }
  }
  int rc = _cmocka_run_group_tests("store_conformance", tests, n, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  free(tests);
  free(b);
  return rc;
}
