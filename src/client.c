/* The public façade: a client owns one resolver and one pool on the caller's
 * loop, admits requests into the strategy's in-flight window, and delivers
 * every done callback from a deferred "pump" (an idle handle, so the loop
 * never blocks while work is queued), never from inside an API call or a
 * curl callback. A referenced check handle is active exactly while requests
 * exist, so an idle client never holds the host's uv_run open. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#define VALIDATE(cond)                                                         \
  do {                                                                         \
    if (!(cond))                                                               \
      return ADL_EINVAL;                                                       \
  } while (0)

void adl_options_init(adl_options_t *o) {
  memset(o, 0, sizeof(*o));
  o->strategy = ADL_STRATEGY_PARALLEL;
  o->max_connections = 6;
  o->timeout_ms = 30000;
  o->connect_timeout_ms = 10000;
  o->low_speed_time_ms = 0;
  o->low_speed_bytes = 0;
  o->dns_timeout_ms = 1000;
  o->dns_tries = 2;
  o->retries = 2;
  o->retry_base_ms = 250;
  o->retry_max_ms = 30000;
  o->max_redirects = 5;
}

void adl_request_opts_init(adl_request_opts_t *o) { memset(o, 0, sizeof(*o)); }

uint64_t adl__client_random(adl_client_t *c) {
  /* xorshift64*: jitter only needs to spread clients apart. */
  uint64_t x = c->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  c->rng = x;
  return x * 2685821657736338717ull;
}

static void on_pump(uv_idle_t *h);
static void update_keepalive(adl_client_t *c);

void adl__client_defer_batch(adl_client_t *c, adl__queue_t *node) {
  adl__queue_insert_tail(&c->batches_done, node);
  c->nreq++; /* a pending callback is work: it keeps the loop alive */
  update_keepalive(c);
  adl__client_kick(c);
}
static void keepalive_cb(uv_check_t *h) { (void)h; }

void adl__client_kick(adl_client_t *c) {
  if (!c->torn_down)
    uv_idle_start(&c->pump_idle, on_pump);
}

static void update_keepalive(adl_client_t *c) {
  if (c->torn_down)
    return;
  if (c->nreq > 0)
    uv_check_start(&c->keepalive, keepalive_cb);
  else
    uv_check_stop(&c->keepalive);
}

CURL *adl__client_take_easy(adl_client_t *c) {
  if (c->nspare > 0) {
    CURL *e = c->spare_easy[--c->nspare];
    curl_easy_reset(e);
    return e;
  }
  return curl_easy_init();
}

void adl__client_give_easy(adl_client_t *c, CURL *easy) {
  if (easy == NULL)
    return;
  if (c->nspare < sizeof(c->spare_easy) / sizeof(c->spare_easy[0]) &&
      !c->closing)
    c->spare_easy[c->nspare++] = easy;
  else
    curl_easy_cleanup(easy);
}

static void arm_retry_timer(adl_client_t *c);

static void on_retry_timer(uv_timer_t *t) {
  adl_client_t *c = t->data;
  uint64_t now = uv_hrtime();
  while (!adl__queue_empty(&c->backoff)) {
    adl_request_t *r =
        ADL_QUEUE_DATA(adl__queue_head(&c->backoff), adl_request_t, state_node);
    if (r->retry_at_ns > now)
      break;
    adl__queue_remove(&r->state_node);
    r->state = RQ_RESTART;
    adl__queue_insert_tail(&c->restart, &r->state_node);
  }
  arm_retry_timer(c);
  adl__client_kick(c);
}

static void arm_retry_timer(adl_client_t *c) {
  if (adl__queue_empty(&c->backoff)) {
    uv_timer_stop(&c->retry_timer);
    return;
  }
  adl_request_t *r =
      ADL_QUEUE_DATA(adl__queue_head(&c->backoff), adl_request_t, state_node);
  uint64_t now = uv_hrtime();
  uint64_t ms = r->retry_at_ns > now ? (r->retry_at_ns - now + 999999) / 1000000 : 0;
  uv_timer_start(&c->retry_timer, on_retry_timer, ms, 0);
}

void adl__client_schedule_retry(adl_client_t *c, adl_request_t *r,
                                uint64_t delay_ms) {
  r->retry_at_ns = uv_hrtime() + delay_ms * 1000000u;
  r->state = RQ_BACKOFF;
  /* Keep the list ordered by deadline; it holds at most the window. */
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &c->backoff) {
    adl_request_t *o = ADL_QUEUE_DATA(q, adl_request_t, state_node);
    if (o->retry_at_ns > r->retry_at_ns)
      break;
  }
  adl__queue_insert_before(q, &r->state_node);
  arm_retry_timer(c);
}

void adl__request_abort(adl_request_t *r) {
  adl_client_t *c = r->client;
  switch (r->state) {
  case RQ_RESOLVING:
    adl__resolve_cancel(r->dnsq);
    r->dnsq = NULL;
    break;
  case RQ_RUNNING:
    adl__pool_remove(c->pool, r->easy);
    break;
  case RQ_QUEUED:
  case RQ_RESTART:
  case RQ_BACKOFF:
    adl__queue_remove(&r->state_node);
    break;
  case RQ_IDLE:
  case RQ_DONE:
    break;
  }
}

void adl__request_complete(adl_request_t *r, int status, const char *msg) {
  adl_client_t *c = r->client;
  if (r->state == RQ_DONE)
    return;
  adl__request_abort(r);
  adl__queue_remove(&r->state_node); /* e.g. a pending in-curl cancel */
  if (r->state != RQ_QUEUED)
    c->inflight--;
  if (r->t_admit == 0)
    r->t_admit = uv_hrtime();
  r->state = RQ_DONE;
  if (!r->commit_pending)
    adl__request_drop_temp(r); /* never leave a partial file behind */
  adl__client_give_easy(c, r->easy);
  r->easy = NULL;
  uint64_t now = uv_hrtime();
  r->res.status = status;
  r->res.queue_us = (r->t_admit - r->t_submit) / 1000;
  r->res.total_us = (now - r->t_admit) / 1000;
  if (msg != NULL)
    snprintf(r->message, sizeof(r->message), "%s", msg);
  else if (r->message[0] == '\0') {
    if (status == ADL_EHTTP)
      snprintf(r->message, sizeof(r->message), "HTTP %ld",
               r->res.http_status);
    else if (status != 0 && r->errbuf[0] != '\0')
      snprintf(r->message, sizeof(r->message), "%s", r->errbuf);
    else
      snprintf(r->message, sizeof(r->message), "%s", adl_strerror(status));
  }
  r->res.message = r->message;
  r->res.url = r->url;
  adl__queue_insert_tail(&c->done, &r->state_node);
  adl__client_kick(c);
}

void adl__request_free(adl_request_t *r) {
  adl__queue_remove(&r->all_node);
  curl_slist_free_all(r->resolve);
  free(r->url);
  free(r->cur_url);
  free(r->host);
  free((char *)r->opts.path);
  free(r);
}

static void on_pool_done(void *arg, CURL *easy, CURLcode rc) {
  (void)arg;
  adl_request_t *r = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
  if (r != NULL) {
    r->state = RQ_IDLE; /* the pool has already let go of the handle */
    adl__request_on_curl_done(r, rc);
  }
}

static void on_part_closed(void *arg);
static void on_handle_closed(uv_handle_t *h) { on_part_closed(h->data); }

static void on_part_closed(void *arg) {
  adl_client_t *c = arg;
  if (--c->closes_pending > 0)
    return;
  /* Like uv_close: the callback may still read the client's data. */
  if (c->close_cb)
    c->close_cb(c);
  free(c->dns_servers);
  free(c->user_agent);
  free(c->cacert);
  free(c);
}

/* Every request has reported: release curl, c-ares and our handles. */
static void teardown(adl_client_t *c) {
  c->torn_down = 1;
  while (c->nspare > 0)
    curl_easy_cleanup(c->spare_easy[--c->nspare]);
  c->closes_pending = 5;
  adl__pool_close(c->pool, on_part_closed, c);
  adl__resolver_close(c->resolver, on_part_closed, c);
  uv_close((uv_handle_t *)&c->pump_idle, on_handle_closed);
  uv_close((uv_handle_t *)&c->keepalive, on_handle_closed);
  uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
}

static void pump(adl_client_t *c) {
  int progress = 1;
  while (progress) {
    progress = 0;
    while (!adl__queue_empty(&c->cancels)) {
      adl_request_t *r = ADL_QUEUE_DATA(adl__queue_head(&c->cancels),
                                        adl_request_t, state_node);
      adl__queue_remove(&r->state_node);
      adl__request_complete(r, ADL_ECANCELED, NULL);
      progress = 1;
    }
    while (!adl__queue_empty(&c->restart)) {
      adl_request_t *r = ADL_QUEUE_DATA(adl__queue_head(&c->restart),
                                        adl_request_t, state_node);
      adl__queue_remove(&r->state_node);
      r->state = RQ_IDLE;
      adl__request_start_attempt(r);
      progress = 1;
    }
    while (!c->closing && c->inflight < c->policy.max_inflight &&
           !adl__queue_empty(&c->waiting)) {
      adl_request_t *r = ADL_QUEUE_DATA(adl__queue_head(&c->waiting),
                                        adl_request_t, state_node);
      adl__queue_remove(&r->state_node);
      r->state = RQ_IDLE;
      r->t_admit = uv_hrtime();
      c->inflight++;
      adl__request_start_attempt(r);
      progress = 1;
    }
    while (!adl__queue_empty(&c->done)) {
      adl_request_t *r =
          ADL_QUEUE_DATA(adl__queue_head(&c->done), adl_request_t, state_node);
      adl__queue_remove(&r->state_node);
      if (r->commit_pending) {
        r->commit_pending = 0;
        int st = adl__request_commit_temp(r);
        if (st != 0) {
          r->res.status = st;
          snprintf(r->message, sizeof(r->message), "%s",
                   "cannot publish the file");
        }
      }
      /* The callback may start, cancel or close: all of that only touches
       * the lists, which this loop re-reads. */
      r->opts.on_done(r, &r->res);
      adl__request_free(r);
      c->nreq--;
      progress = 1;
    }
    while (!adl__queue_empty(&c->batches_done)) {
      adl__queue_t *node = adl__queue_head(&c->batches_done);
      adl__queue_remove(node);
      adl__batch_deliver(node);
      c->nreq--;
      progress = 1;
    }
  }
}

static void on_pump(uv_idle_t *h) {
  adl_client_t *c = h->data;
  uv_idle_stop(&c->pump_idle);
  if (c->pumping)
    return;
  c->pumping = 1;
  pump(c);
  c->pumping = 0;
  update_keepalive(c);
  if (c->closing && c->nreq == 0 && !c->torn_down)
    teardown(c);
}

static char *dup_or_null(const char *s, int *failed) {
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  if (d == NULL)
    *failed = 1;
  return d;
}

int adl_client_new(uv_loop_t *loop, const adl_options_t *o,
                   adl_client_t **out) {
  VALIDATE(loop != NULL && o != NULL && out != NULL);
  adl__policy_t pol;
  unsigned k = o->strategy == ADL_STRATEGY_PARALLEL ? o->max_connections : 1;
  VALIDATE(adl__policy_for(o->strategy, k, &pol) == 0);
  adl_client_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return ADL_ENOMEM;
  c->loop = loop;
  c->opts = *o;
  c->policy = pol;
  int failed = 0;
  c->dns_servers = dup_or_null(o->dns_servers, &failed);
  c->user_agent = dup_or_null(
      o->user_agent ? o->user_agent : "asyncdl/" ADL_VERSION_STRING, &failed);
  c->cacert = dup_or_null(o->cacert, &failed);
  c->opts.dns_servers = c->dns_servers;
  c->opts.user_agent = c->user_agent;
  c->opts.cacert = c->cacert;
  c->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull;
  if (c->rng == 0)
    c->rng = 1;
  adl__queue_init(&c->all);
  adl__queue_init(&c->waiting);
  adl__queue_init(&c->restart);
  adl__queue_init(&c->backoff);
  adl__queue_init(&c->cancels);
  adl__queue_init(&c->done);
  adl__queue_init(&c->batches_done);
  int rc = failed ? ADL_ENOMEM : 0;
  adl__resolver_opts_t ro = {.servers = c->dns_servers,
                             .timeout_ms = o->dns_timeout_ms,
                             .tries = o->dns_tries,
                             .cache_max = 64};
  if (rc == 0)
    rc = adl__resolver_new(loop, &ro, &c->resolver);
  if (rc == 0) {
    rc = adl__pool_new(loop, &c->policy, on_pool_done, c, &c->pool);
    if (rc != 0) {
      adl__resolver_close(c->resolver, NULL, NULL);
    }
  }
  if (rc != 0) {
    free(c->dns_servers);
    free(c->user_agent);
    free(c->cacert);
    free(c);
    return rc;
  }
  /* These inits cannot fail on a live loop (libuv only fills structs). */
  uv_idle_init(loop, &c->pump_idle);
  uv_check_init(loop, &c->keepalive);
  uv_timer_init(loop, &c->retry_timer);
  c->pump_idle.data = c;
  c->keepalive.data = c;
  c->retry_timer.data = c;
  uv_unref((uv_handle_t *)&c->retry_timer);
  *out = c;
  return 0;
}

void adl_client_set_data(adl_client_t *c, void *data) { c->data = data; }
void *adl_client_get_data(const adl_client_t *c) { return c->data; }
uv_loop_t *adl_client_loop(const adl_client_t *c) { return c->loop; }
size_t adl_client_pending(const adl_client_t *c) { return c->nreq; }

static void cancel_one(adl_request_t *r) {
  adl_client_t *c = r->client;
  if (r->state == RQ_DONE || r->cancel_requested)
    return;
  r->cancel_requested = 1;
  if (r->state == RQ_RUNNING && c->in_curl_callback) {
    /* curl refuses to remove a handle from inside its own callback: the
     * write callback aborts and the pump finishes the job. */
    adl__queue_insert_tail(&c->cancels, &r->state_node);
    adl__client_kick(c);
    return;
  }
  adl__request_complete(r, ADL_ECANCELED, NULL);
}

void adl_client_close(adl_client_t *c, adl_close_cb cb) {
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &c->all) {
    cancel_one(ADL_QUEUE_DATA(q, adl_request_t, all_node));
  }
  adl__client_kick(c);
}

int adl_request_start(adl_client_t *c, const char *url,
                      const adl_request_opts_t *o, adl_request_t **out) {
  VALIDATE(c != NULL && url != NULL && o != NULL && o->on_done != NULL);
  VALIDATE(o->sink != ADL_SINK_FILE || (o->path != NULL && o->path[0]));
  VALIDATE(o->sink != ADL_SINK_CALLBACK || o->on_data != NULL);
  if (c->closing)
    return ADL_ECLOSING;
  adl_request_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return ADL_ENOMEM;
  r->client = c;
  r->fd = -1;
  r->opts = *o;
  r->opts.path = NULL;
  r->url = strdup(url);
  r->cur_url = strdup(url);
  if (o->sink == ADL_SINK_FILE)
    r->opts.path = strdup(o->path);
  adl__queue_init(&r->state_node);
  adl__queue_init(&r->all_node);
  if (r->url == NULL || r->cur_url == NULL ||
      (o->sink == ADL_SINK_FILE && r->opts.path == NULL)) {
    adl__request_free(r);
    return ADL_ENOMEM;
  }
  r->visited[0] = adl__hash_str(url);
  r->t_submit = uv_hrtime();
  r->state = RQ_QUEUED;
  adl__queue_insert_tail(&c->all, &r->all_node);
  adl__queue_insert_tail(&c->waiting, &r->state_node);
  c->nreq++;
  update_keepalive(c);
  adl__client_kick(c);
  /* A URL we will not fetch is still an outcome, reported like any other. */
  int rc = adl__request_parse_url(r, url);
  if (rc == ADL_ENOMEM) {
    adl__queue_remove(&r->state_node);
    c->nreq--;
    update_keepalive(c);
    adl__request_free(r);
    return rc;
  }
  if (rc != 0)
    adl__request_complete(r, rc, rc == ADL_ESCHEME
                                     ? "unsupported URL scheme (only http and https)"
                                     : "malformed URL");
  if (out != NULL)
    *out = r;
  return 0;
}

int adl_request_cancel(adl_request_t *r) {
  VALIDATE(r != NULL);
  cancel_one(r);
  return 0;
}

void *adl_request_get_data(const adl_request_t *r) { return r->opts.data; }
const char *adl_request_url(const adl_request_t *r) { return r->url; }
