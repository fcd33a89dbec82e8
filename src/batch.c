/* A batch pulls items from the caller one at a time and keeps only the
 * client's in-flight window plus a lookahead outstanding, so a list of a
 * million URLs costs the same memory as a list of ten. It aggregates the
 * per-request outcomes into an adl_summary_t with a fixed-size histogram.
 * Its first pull and its end run on the client's pump (deferred work),
 * never inside adl_batch_start or adl_batch_cancel. */
#include "client.h"
#include "histogram.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot_s {
  adl__queue_t node;
  adl_batch_t *batch;
  void *item;
  adl_request_id_t id;
} slot_t;

struct adl_batch_s {
  adl__deferred_t first_pull; /* the first refill, on the pump */
  adl__deferred_t end;        /* the done callback, on the pump */
  adl_client_t *client;
  adl_batch_opts_t o;
  adl__queue_t slots;
  size_t outstanding;
  size_t window;
  int exhausted;
  int cancelled;
  int finishing;
  int refilling;
  uint64_t t_start, t_end;
  adl_summary_t sum;
  adl__hist_t hist;
};

static void finish(adl_batch_t *b) {
  if (b->finishing)
    return;
  b->finishing = 1;
  adl_summary_t *s = &b->sum;
  if (b->t_end == 0)
    b->t_end = uv_hrtime();
  s->wall_us = (b->t_end - b->t_start) / 1000;
  s->p50_us = adl__hist_quantile(&b->hist, 0.50);
  s->p95_us = adl__hist_quantile(&b->hist, 0.95);
  s->max_us = b->hist.max;
  if (s->wall_us > 0) {
    s->requests_per_s = (double)s->requests * 1e6 / (double)s->wall_us;
    s->bytes_per_s = (double)s->bytes * 1e6 / (double)s->wall_us;
  }
  adl__exec_defer(b->client, &b->end);
}

static void deliver_end(adl__deferred_t *d) {
  adl_batch_t *b = ADL_QUEUE_DATA(d, adl_batch_t, end);
  b->o.done(b, &b->sum);
  free(b);
}

void adl_summary_add(adl_summary_t *s, const adl_result_t *res) {
  s->requests++;
  if (res->status == 0)
    s->ok++;
  else
    s->failed++;
  s->bytes += res->bytes;
  s->wire_bytes += res->wire_bytes;
  s->connections += res->new_connections;
  s->dns_us_total += res->dns_us;
  if (res->disk_max_us > s->disk_max_us)
    s->disk_max_us = res->disk_max_us;
}

static void account(adl_batch_t *b, const adl_result_t *res) {
  adl_summary_add(&b->sum, res);
  adl__hist_add(&b->hist, res->total_us);
  b->t_end = uv_hrtime();
}

static void refill(adl_batch_t *b);

static void on_item_done(adl_request_t *r, const adl_result_t *res) {
  slot_t *slot = adl_request_get_data(r);
  adl_batch_t *b = slot->batch;
  account(b, res);
  adl__queue_remove(&slot->node);
  b->outstanding--;
  if (b->o.result)
    b->o.result(b, slot->item, res);
  free(slot);
  refill(b);
}

/* An item that could not even be submitted still gets its one outcome. */
static void report_unsubmitted(adl_batch_t *b, const char *url, void *item,
                               int status) {
  adl_result_t res;
  memset(&res, 0, sizeof(res));
  res.status = status;
  res.url = url;
  res.message = adl_strerror(status);
  account(b, &res);
  if (b->o.result)
    b->o.result(b, item, &res);
}

static void refill(adl_batch_t *b) {
  if (b->refilling)
    return; /* a synchronous report below re-entered us */
  b->refilling = 1;
  while (!b->exhausted && !b->cancelled && b->outstanding < b->window) {
    const char *url = NULL, *path = NULL;
    void *item = NULL;
    int rc = b->o.next(b, &url, &path, &item);
    if (rc <= 0) {
      b->exhausted = 1;
      break;
    }
    slot_t *slot = calloc(1, sizeof(*slot));
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.sink = b->o.sink == ADL_SINK_FILE && path != NULL ? ADL_SINK_FILE
                                                         : ADL_SINK_DISCARD;
    ro.path = path;
    ro.on_done = on_item_done;
    ro.data = slot;
    int st = slot ? adl_request_start(b->client, url, &ro, &slot->id)
                  : ADL_ENOMEM;
    if (st != 0) {
      free(slot);
      report_unsubmitted(b, url, item, st);
      if (st == ADL_ECLOSING)
        b->exhausted = 1;
      continue;
    }
    slot->batch = b;
    slot->item = item;
    adl__queue_insert_tail(&b->slots, &slot->node);
    b->outstanding++;
  }
  b->refilling = 0;
  if ((b->exhausted || b->cancelled) && b->outstanding == 0)
    finish(b);
}

static void first_pull(adl__deferred_t *d) {
  refill(ADL_QUEUE_DATA(d, adl_batch_t, first_pull));
}

int adl_batch_start(adl_client_t *c, const adl_batch_opts_t *opts,
                    adl_batch_t **out) {
  adl_batch_opts_t o;
  if (c == NULL || opts == NULL || adl__read_batch_opts(&o, opts) != 0 ||
      o.next == NULL || o.done == NULL)
    return ADL_EINVAL;
  if (c->closing)
    return ADL_ECLOSING;
  adl_batch_t *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return ADL_ENOMEM;
  b->client = c;
  b->o = o;
  b->first_pull.run = first_pull;
  b->end.run = deliver_end;
  adl__queue_init(&b->slots);
  adl__hist_init(&b->hist);
  /* K in flight, and as many again (at least 16) waiting: the scheduler
   * can then give a freed connection to a waiting request of the same
   * origin instead of opening one for the next line of the list, which
   * on a list alternating hosts would churn connections (98 opened for
   * K = 6 over 4 hosts with one request of lookahead, measured). */
  b->window = (size_t)c->policy.max_inflight * 2 + 16;
  b->sum.strategy = c->opts.strategy;
  b->sum.max_connections = c->policy.max_inflight;
  b->t_start = uv_hrtime();
  if (out != NULL)
    *out = b;
  adl__exec_defer(c, &b->first_pull);
  return 0;
}

void adl_batch_cancel(adl_batch_t *b) {
  if (b == NULL || b->cancelled || b->finishing)
    return;
  b->cancelled = 1;
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &b->slots) {
    adl_request_cancel(b->client, ADL_QUEUE_DATA(q, slot_t, node)->id);
  }
  if (b->outstanding == 0)
    finish(b);
}

void *adl_batch_get_data(const adl_batch_t *b) { return b->o.data; }
