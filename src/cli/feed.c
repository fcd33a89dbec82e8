/* The tool's batch (see feed.h). The first pull and the end run from a
 * zero-delay timer, never inside the call that caused them, like adl_batch;
 * skipped items are delivered at most SKIPS_PER_PASS per loop iteration so
 * that a long list of files already there does not hold the loop. */
#include "feed.h"

#include "url.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIPS_PER_PASS 256

typedef struct slot_s {
  struct slot_s *prev, *next;
  cli_feed_t *feed;
  void *data;
  adl_request_id_t id;
} slot_t;

struct cli_feed_s {
  uv_timer_t timer; /* deferred pulls and the end */
  cli_feed_opts_t o;
  slot_t *slots; /* outstanding requests, for cancel */
  size_t outstanding;
  int exhausted, cancelled, finishing, refilling;
  uint64_t t_start, t_end;
  cli_feed_summary_t sum;
  adl__hist_t hist;
};

size_t cli_feed_window(unsigned inflight) { return (size_t)inflight * 2 + 16; }

static void on_closed(uv_handle_t *h) { free(h->data); }

static void deliver_end(uv_timer_t *t) {
  cli_feed_t *f = t->data;
  f->o.done(f, &f->sum, &f->hist);
  uv_close((uv_handle_t *)&f->timer, on_closed);
}

static void finish(cli_feed_t *f) {
  if (f->finishing)
    return;
  f->finishing = 1;
  adl_summary_t *s = &f->sum.s;
  if (f->t_end == 0)
    f->t_end = uv_hrtime();
  s->wall_us = (f->t_end - f->t_start) / 1000;
  s->p50_us = adl__hist_quantile(&f->hist, 0.50);
  s->p95_us = adl__hist_quantile(&f->hist, 0.95);
  s->max_us = f->hist.max;
  if (s->wall_us > 0) {
    s->requests_per_s = (double)s->requests * 1e6 / (double)s->wall_us;
    s->bytes_per_s = (double)s->bytes * 1e6 / (double)s->wall_us;
  }
  uv_timer_start(&f->timer, deliver_end, 0, 0);
}

/* "scheme://host:port" of url, masked, into out. */
static void note_origin(char *out, size_t cap, const char *url) {
  char m[1024];
  size_t n = cli_mask_credentials(url, m, sizeof(m));
  const char *sep = strstr(m, "://");
  if (n >= sizeof(m) || sep == NULL) {
    snprintf(out, cap, "the server");
    return;
  }
  size_t end = (size_t)(sep + 3 - m) + strcspn(sep + 3, "/?#");
  snprintf(out, cap, "%.*s", (int)end, m);
}

int cli_feed_ran_as_parallel(const cli_feed_summary_t *s) {
  return s->s.strategy == ADL_STRATEGY_MULTIPLEX && s->http2 == 0 &&
         s->http1 > 0;
}

size_t cli_feed_summary_text(const cli_feed_summary_t *s, char *buf,
                             size_t cap) {
  int n = 0;
  if (cap == 0)
    return 0;
  buf[0] = '\0';
  if (s->skipped > 0)
    n = snprintf(buf, cap, ", %" PRIu64 " skipped", s->skipped);
  if (s->not_modified > 0 && n >= 0 && (size_t)n < cap)
    n += snprintf(buf + n, cap - (size_t)n, ", %" PRIu64 " not modified",
                  s->not_modified);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t cli_feed_summary_json(const cli_feed_summary_t *s, char *buf,
                             size_t cap) {
  int n = snprintf(buf, cap,
                   "\"wire_bytes\": %" PRIu64 ", \"skipped\": %" PRIu64
                   ", \"not_modified\": %" PRIu64
                   ", \"http2_responses\": %" PRIu64 ", \"ran_as\": %s",
                   s->s.wire_bytes, s->skipped, s->not_modified, s->http2,
                   cli_feed_ran_as_parallel(s) ? "\"parallel\"" : "null");
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void account(cli_feed_t *f, const adl_result_t *res) {
  adl_summary_add(&f->sum.s, res);
  f->sum.not_modified += res->not_modified != 0;
  f->sum.http2 += res->http_version == 20;
  if ((res->http_version == 10 || res->http_version == 11) &&
      f->sum.http1++ == 0 && res->url != NULL)
    note_origin(f->sum.h1_origin, sizeof(f->sum.h1_origin), res->url);
  adl__hist_add(&f->hist, res->total_us);
  f->t_end = uv_hrtime();
}

static void refill(cli_feed_t *f);
static void on_pull(uv_timer_t *t);

static void unlink_slot(cli_feed_t *f, slot_t *slot) {
  if (slot->prev != NULL)
    slot->prev->next = slot->next;
  else
    f->slots = slot->next;
  if (slot->next != NULL)
    slot->next->prev = slot->prev;
  f->outstanding--;
}

static void on_item_done(adl_request_t *r, const adl_result_t *res) {
  slot_t *slot = adl_request_get_data(r);
  cli_feed_t *f = slot->feed;
  account(f, res);
  unlink_slot(f, slot);
  if (f->o.result != NULL)
    f->o.result(f, slot->data, r, res, 0);
  free(slot);
  refill(f);
}

/* An outcome without a request: skipped, or refused at submission. */
static void report_without_request(cli_feed_t *f, const char *url, void *data,
                                   int status) {
  adl_result_t res;
  memset(&res, 0, sizeof(res));
  res.status = status;
  res.url = url;
  res.final_url = url;
  res.admitted_at_us = uv_hrtime() / 1000;
  if (status == 0) {
    res.message = "skipped: the file is already there";
    f->sum.skipped++;
  } else {
    res.message = adl_strerror(status);
    account(f, &res);
  }
  if (f->o.result != NULL)
    f->o.result(f, data, NULL, &res, status == 0);
}

static int start_one(cli_feed_t *f, const cli_feed_item_t *it) {
  slot_t *slot = calloc(1, sizeof(*slot));
  if (slot == NULL)
    return ADL_ENOMEM;
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.sink = it->path != NULL ? ADL_SINK_FILE : ADL_SINK_DISCARD;
  ro.path = it->path;
  ro.headers = it->headers;
  ro.on_done = on_item_done;
  ro.data = slot;
  int st = adl_request_start(f->o.client, it->url, &ro, &slot->id);
  if (st != 0) {
    free(slot);
    return st;
  }
  slot->feed = f;
  slot->data = it->data;
  slot->next = f->slots;
  if (f->slots != NULL)
    f->slots->prev = slot;
  f->slots = slot;
  f->outstanding++;
  return 0;
}

static void refill(cli_feed_t *f) {
  if (f->refilling)
    return; /* a synchronous outcome below re-entered us */
  f->refilling = 1;
  unsigned skips = 0;
  while (!f->exhausted && !f->cancelled && f->outstanding < f->o.window) {
    if (skips >= SKIPS_PER_PASS) {
      /* The rest on a later iteration; the loop gets its turn. */
      uv_timer_start(&f->timer, on_pull, 0, 0);
      break;
    }
    cli_feed_item_t it;
    memset(&it, 0, sizeof(it));
    int rc = f->o.next(f, &it);
    if (rc <= 0) {
      f->exhausted = 1;
      break;
    }
    if (it.skip) {
      skips++;
      report_without_request(f, it.url, it.data, 0);
      continue;
    }
    int st = start_one(f, &it);
    if (st != 0) {
      report_without_request(f, it.url, it.data, st);
      if (st == ADL_ECLOSING)
        f->exhausted = 1;
    }
  }
  f->refilling = 0;
  if ((f->exhausted || f->cancelled) && f->outstanding == 0)
    finish(f);
}

static void on_pull(uv_timer_t *t) { refill(t->data); }

int cli_feed_start(uv_loop_t *loop, const cli_feed_opts_t *o,
                   cli_feed_t **out) {
  if (loop == NULL || o == NULL || o->client == NULL || o->next == NULL ||
      o->done == NULL || o->window == 0)
    return ADL_EINVAL;
  cli_feed_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return ADL_ENOMEM;
  f->o = *o;
  adl__hist_init(&f->hist);
  f->sum.s.strategy = o->strategy;
  f->sum.s.max_connections = o->max_connections;
  uv_timer_init(loop, &f->timer);
  f->timer.data = f;
  f->t_start = uv_hrtime();
  uv_timer_start(&f->timer, on_pull, 0, 0);
  if (out != NULL)
    *out = f;
  return 0;
}

void cli_feed_cancel(cli_feed_t *f) {
  if (f == NULL || f->cancelled || f->finishing)
    return;
  f->cancelled = 1;
  for (slot_t *s = f->slots; s != NULL; s = s->next)
    adl_request_cancel(f->o.client, s->id);
  if (f->outstanding == 0 && !f->refilling)
    uv_timer_start(&f->timer, on_pull, 0, 0); /* finishes from there */
}

void *cli_feed_get_data(const cli_feed_t *f) { return f->o.data; }
