/* The per-request trace (see trace.h). */
#include "trace.h"

#include "url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cli_trace_init(cli_trace_t *t) { memset(t, 0, sizeof(*t)); }

void cli_trace_free(cli_trace_t *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->reqs[i].url);
  free(t->reqs);
  free(t->runs);
  memset(t, 0, sizeof(*t));
}

static int grow(void **p, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 64;
  void *np = realloc(*p, c * size);
  if (np == NULL)
    return -ENOMEM;
  *p = np;
  *cap = c;
  return 0;
}

int cli_trace_begin_run(cli_trace_t *t, adl_strategy_t s, unsigned repeat,
                        unsigned max_connections, uint64_t mono_us,
                        uint64_t wall_us) {
  if (grow((void **)&t->runs, &t->runs_cap, t->nruns, sizeof(*t->runs)) != 0)
    return -ENOMEM;
  cli_trace_run_t *r = &t->runs[t->nruns++];
  memset(r, 0, sizeof(*r));
  r->strategy = s;
  r->repeat = repeat;
  r->max_connections = max_connections;
  r->start_mono_us = mono_us;
  r->start_wall_us = wall_us;
  r->first = t->n;
  return 0;
}

int cli_trace_add(cli_trace_t *t, const adl_result_t *res) {
  if (t->nruns == 0 ||
      grow((void **)&t->reqs, &t->cap, t->n, sizeof(*t->reqs)) != 0)
    return -ENOMEM;
  cli_trace_run_t *run = &t->runs[t->nruns - 1];
  /* Masked once here: the waterfall and the archive never see a password. */
  char *url = cli_mask_dup(res->url != NULL ? res->url : "");
  if (url == NULL)
    return -ENOMEM;
  cli_trace_req_t *q = &t->reqs[t->n++];
  memset(q, 0, sizeof(*q));
  q->url = url;
  /* A request that never started (interrupted) sits at the run's start. */
  q->start_us = res->admitted_at_us > run->start_mono_us
                    ? res->admitted_at_us - run->start_mono_us
                    : 0;
  q->queue_us = res->queue_us;
  q->dns_us = res->dns_us;
  q->connect_us = res->connect_us;
  q->tls_us = res->tls_us;
  q->ttfb_us = res->ttfb_us;
  q->total_us = res->total_us;
  q->backoff_us = res->backoff_us;
  q->bytes = res->bytes;
  q->status = res->status;
  q->http_status = res->http_status;
  q->local_port = res->local_port;
  q->new_connections = res->new_connections;
  q->http_version = res->http_version;
  q->server_closed = res->server_closed;
  q->attempts = res->attempts;
  q->wire_bytes = res->wire_bytes;
  run->count++;
  return 0;
}

void cli_trace_end_run(cli_trace_t *t, uint64_t wall_us) {
  if (t->nruns > 0)
    t->runs[t->nruns - 1].wall_us = wall_us;
}
