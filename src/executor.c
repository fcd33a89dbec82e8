/* The executor: the only code that writes a request's state, moves it
 * between lists or changes a counter. Every change goes through apply():
 * an event is fed to the pure transition function (request_fsm.c), the new
 * state is stored first, then the actions are performed in order. An
 * action that can re-enter (handing a transfer to curl, a lookup that
 * c-ares answers at once) may apply a later event to the same request; the
 * epoch tells, and the older apply() then stops.
 *
 * The pump runs on an idle handle, so deferred work never blocks the loop,
 * and does a bounded amount per loop iteration (completions delivered,
 * attempts and new connections started); what is left waits for the next
 * iteration, after the host's own timers and sockets had their turn. */
#include "client.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void perform(adl_request_t *r, const adl__rq_action_t *a,
                    adl__rq_state_t from, const char *addrs);

/* ---- ids --------------------------------------------------------------- */

int adl__idtab_add(adl__idtab_t *t, adl_request_t *r) {
  if (t->free_head == 0 && t->n == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 64;
    adl__idslot_t *s = realloc(t->slots, cap * sizeof(*s));
    if (s == NULL)
      return ADL_ENOMEM;
    t->slots = s;
    t->cap = cap;
  }
  uint32_t i;
  if (t->free_head != 0) { /* free_head is index + 1 */
    i = t->free_head - 1;
    t->free_head = t->slots[i].next_free;
  } else {
    i = t->n++;
    t->slots[i].gen = 0;
  }
  t->slots[i].gen++;
  t->slots[i].req = r;
  r->id = ((uint64_t)t->slots[i].gen << 32) | (uint64_t)(i + 1);
  return 0;
}

adl_request_t *adl__idtab_find(const adl__idtab_t *t, adl_request_id_t id) {
  uint64_t i = (id & 0xffffffffu);
  if (i == 0 || i > t->n)
    return NULL;
  const adl__idslot_t *s = &t->slots[i - 1];
  return s->req != NULL && s->gen == (uint32_t)(id >> 32) ? s->req : NULL;
}

void adl__idtab_remove(adl__idtab_t *t, adl_request_id_t id) {
  uint32_t i = (uint32_t)(id & 0xffffffffu) - 1;
  t->slots[i].req = NULL;
  t->slots[i].next_free = t->free_head;
  t->free_head = i + 1;
}

void adl__idtab_free(adl__idtab_t *t) {
  free(t->slots);
  memset(t, 0, sizeof(*t));
}

/* ---- loop handles ------------------------------------------------------ */

static void on_pump(uv_idle_t *h);
static void keepalive_cb(uv_check_t *h) { (void)h; }

void adl__exec_kick(adl_client_t *c) {
  if (!c->torn_down)
    uv_idle_start(&c->pump_idle, on_pump);
}

void adl__exec_update_keepalive(adl_client_t *c) {
  if (c->torn_down)
    return;
  if (c->nreq > 0)
    uv_check_start(&c->keepalive, keepalive_cb);
  else
    uv_check_stop(&c->keepalive);
}

void adl__exec_defer(adl_client_t *c, adl__deferred_t *d) {
  adl__queue_insert_tail(&c->deferred, &d->node);
  c->nreq++; /* pending work keeps the loop alive */
  adl__exec_update_keepalive(c);
  adl__exec_kick(c);
}

/* xorshift64*: jitter only needs to spread clients apart. */
static uint64_t next_random(adl_client_t *c) {
  uint64_t x = c->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  c->rng = x;
  return x * 2685821657736338717ull;
}

/* ---- easy handles: recycled still configured --------------------------- */

static CURL *take_easy(adl_client_t *c) {
  if (c->nspare > 0)
    return c->spare_easy[--c->nspare];
  CURL *e = curl_easy_init();
  if (e != NULL)
    adl__easy_template(c, e);
  return e;
}

static void give_easy(adl_client_t *c, CURL *e) {
  if (c->nspare < sizeof(c->spare_easy) / sizeof(c->spare_easy[0]) &&
      !c->closing)
    c->spare_easy[c->nspare++] = e;
  else
    curl_easy_cleanup(e);
}

void adl__exec_drop_easies(adl_client_t *c) {
  while (c->nspare > 0)
    curl_easy_cleanup(c->spare_easy[--c->nspare]);
}

/* ---- the one place state changes --------------------------------------- */

static int apply_with(adl_request_t *r, const adl__rq_event_t *ev,
                      const char *addrs) {
  adl__rq_state_t from = r->fsm.state;
  adl__rq_step_t st = adl__rq_step(&r->fsm, &r->limits, ev);
  if (st.act[0].kind == ADL__ACT_REFUSED) {
    /* Only a late cancel may meet a finished request; anything else is a
     * lost or doubled event, which must never happen. */
    assert(from == ADL__RQ_DONE && (ev->kind == ADL__EV_CANCEL ||
                                    ev->kind == ADL__EV_CLOSE));
    return ADL_ENOENT;
  }
  r->fsm = st.next;
  unsigned epoch = ++r->epoch;
  for (unsigned i = 0; i < st.n && r->epoch == epoch; i++)
    perform(r, &st.act[i], from, addrs);
  return 0;
}

static int apply(adl_request_t *r, adl__rq_event_kind_t kind, int status) {
  adl__rq_event_t ev = {.kind = kind, .status = status, .retry_after_ms = -1};
  return apply_with(r, &ev, NULL);
}

/* ---- actions ----------------------------------------------------------- */

static void arm_retry_timer(adl_client_t *c);

static void on_retry_timer(uv_timer_t *t) {
  adl_client_t *c = t->data;
  uint64_t now = uv_hrtime();
  while (!adl__queue_empty(&c->backoff)) {
    adl_request_t *r =
        ADL_QUEUE_DATA(adl__queue_head(&c->backoff), adl_request_t, node);
    if (r->retry_at_ns > now)
      break;
    adl__queue_remove(&r->node);
    apply(r, ADL__EV_TIMER, 0);
  }
  arm_retry_timer(c);
}

static void arm_retry_timer(adl_client_t *c) {
  if (c->torn_down)
    return;
  if (adl__queue_empty(&c->backoff)) {
    uv_timer_stop(&c->retry_timer);
    return;
  }
  adl_request_t *r =
      ADL_QUEUE_DATA(adl__queue_head(&c->backoff), adl_request_t, node);
  uint64_t now = uv_hrtime();
  uint64_t ms =
      r->retry_at_ns > now ? (r->retry_at_ns - now + 999999) / 1000000 : 0;
  uv_timer_start(&c->retry_timer, on_retry_timer, ms, 0);
}

static void start_backoff(adl_request_t *r, uint64_t ms) {
  adl_client_t *c = r->client;
  r->t_backoff = uv_hrtime();
  r->retry_at_ns = r->t_backoff + ms * 1000000u;
  /* Ordered by deadline; it holds at most the requests in backoff. */
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &c->backoff) {
    if (ADL_QUEUE_DATA(q, adl_request_t, node)->retry_at_ns > r->retry_at_ns)
      break;
  }
  adl__queue_insert_before(q, &r->node);
  arm_retry_timer(c);
}

static void requeue(adl_request_t *r) {
  if (r->next_origin != NULL) { /* redirected to another origin */
    adl__sched_unref(r->origin);
    r->origin = r->next_origin;
    r->next_origin = NULL;
  }
  if (r->t_backoff != 0) {
    r->res.backoff_us += (uv_hrtime() - r->t_backoff) / 1000;
    r->t_backoff = 0;
  }
  adl__sched_enqueue(r->origin, &r->node, 1);
  adl__exec_kick(r->client);
}

static void on_resolved(void *arg, const adl__dns_answer_t *ans) {
  adl_request_t *r = arg;
  r->dnsq = NULL;
  r->res.dns_us += ans->dns_us;
  r->origin->curl_dns_gen = 0; /* this answer goes to curl explicitly */
  if (ans->status != 0) {
    r->res.lib_code = ans->ares_status;
    snprintf(r->message, sizeof(r->message), "cannot resolve '%s'",
             r->origin->host);
    apply(r, ADL__EV_DNS_FAIL, ans->status);
    return;
  }
  adl__rq_event_t ev = {.kind = ADL__EV_DNS_OK, .retry_after_ms = -1};
  apply_with(r, &ev, ans->addrs);
}

static void resolve(adl_request_t *r) {
  adl_client_t *c = r->client;
  unsigned epoch = r->epoch;
  adl__dnsq_t *q = NULL;
  int st = adl__resolve(c->resolver, r->origin->host, on_resolved, r, &q);
  if (st != 0) {
    apply(r, ADL__EV_FAIL, st);
    return;
  }
  /* A synchronous answer has already moved r on. */
  if (q != NULL && r->epoch == epoch)
    r->dnsq = q;
}

static void transfer(adl_request_t *r, const char *addrs, int fresh) {
  adl_client_t *c = r->client;
  CURL *e = take_easy(c);
  int st = e != NULL ? adl__attempt_prepare(r, e, addrs, fresh) : ADL_ENOMEM;
  if (st == 0)
    st = adl__pool_add(c->pool, e);
  if (st != 0) {
    if (e != NULL)
      give_easy(c, e);
    r->easy = NULL;
    snprintf(r->message, sizeof(r->message), "cannot start the transfer: %s",
             adl_strerror(st));
    apply(r, ADL__EV_FAIL, st);
    return;
  }
  adl__sched_running(r->origin, +1);
  c->kick_curl = 1;
  adl__exec_kick(c);
}

/* Stops whatever the state `from` had going. */
static void abort_from(adl_request_t *r, adl__rq_state_t from) {
  adl_client_t *c = r->client;
  switch (from) {
  case ADL__RQ_QUEUED:
    adl__sched_dequeue(r->origin, &r->node);
    break;
  case ADL__RQ_READY:
    adl__queue_remove(&r->node);
    break;
  case ADL__RQ_RESOLVING:
    adl__resolve_cancel(r->dnsq);
    r->dnsq = NULL;
    break;
  case ADL__RQ_RUNNING:
    if (r->easy != NULL) {
      adl__pool_remove(c->pool, r->easy);
      give_easy(c, r->easy);
      r->easy = NULL;
      adl__sched_running(r->origin, -1);
    }
    break;
  case ADL__RQ_BACKOFF:
    adl__queue_remove(&r->node);
    arm_retry_timer(c);
    break;
  case ADL__RQ_DONE:
    break;
  }
  if (r->cancel_pending) {
    adl__queue_remove(&r->node);
    r->cancel_pending = 0;
  }
  if (r->resume_pending) {
    adl__queue_remove(&r->flow_node);
    r->resume_pending = 0;
  }
}

static void complete(adl_request_t *r, int status) {
  adl_client_t *c = r->client;
  uint64_t now = uv_hrtime();
  if (r->next_origin != NULL) {
    adl__sched_unref(r->next_origin);
    r->next_origin = NULL;
  }
  if (r->t_admit == 0) {
    r->t_admit = now;
    r->res.admitted_at_us = now / 1000;
  }
  if (r->t_backoff != 0) {
    r->res.backoff_us += (now - r->t_backoff) / 1000;
    r->t_backoff = 0;
  }
  if (status == 0 && r->opts.sink == ADL_SINK_FILE && !r->res.not_modified)
    r->commit_pending = 1; /* renamed at delivery, after the next send */
  else
    adl__request_drop_temp(r); /* never leave a partial file behind */
  r->res.status = status;
  r->res.attempts = r->fsm.attempts;
  r->res.queue_us = (r->t_admit - r->t_submit) / 1000;
  r->res.total_us = (now - r->t_admit) / 1000;
  if (r->message[0] == '\0') {
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
  r->res.final_url = r->cur_url ? r->cur_url : r->url;
  r->res.id = r->id;
  adl__queue_insert_tail(&c->done, &r->node);
  adl__exec_kick(c);
}

static void perform(adl_request_t *r, const adl__rq_action_t *a,
                    adl__rq_state_t from, const char *addrs) {
  adl_client_t *c = r->client;
  switch (a->kind) {
  case ADL__ACT_TAKE_SLOT:
    adl__sched_take_slot(r->origin);
    if (r->t_admit == 0) {
      r->t_admit = uv_hrtime();
      r->res.admitted_at_us = r->t_admit / 1000;
    }
    break;
  case ADL__ACT_RELEASE_SLOT:
    adl__sched_release_slot(r->origin);
    adl__exec_kick(c); /* someone else may be admitted now */
    break;
  case ADL__ACT_SCHEDULE:
    adl__queue_insert_tail(&c->starts, &r->node);
    adl__exec_kick(c);
    break;
  case ADL__ACT_RESOLVE:
    resolve(r);
    break;
  case ADL__ACT_TRANSFER:
    transfer(r, addrs, a->fresh);
    break;
  case ADL__ACT_BACKOFF:
    start_backoff(r, a->ms);
    break;
  case ADL__ACT_REQUEUE:
    requeue(r);
    break;
  case ADL__ACT_ABORT:
    abort_from(r, from);
    break;
  case ADL__ACT_COMPLETE:
    complete(r, a->status);
    break;
  case ADL__ACT_REFUSED:
    break;
  }
}

/* ---- entry points ------------------------------------------------------ */

void adl__exec_submit(adl_request_t *r, int status, const char *msg) {
  adl_client_t *c = r->client;
  r->fsm.state = ADL__RQ_QUEUED;
  adl__sched_enqueue(r->origin, &r->node, 0);
  c->nreq++;
  adl__exec_update_keepalive(c);
  adl__exec_kick(c);
  if (status != 0) {
    snprintf(r->message, sizeof(r->message), "%s", msg);
    apply(r, ADL__EV_FAIL, status);
  }
}

int adl__exec_cancel(adl_request_t *r) {
  adl_client_t *c = r->client;
  if (r->fsm.state == ADL__RQ_RUNNING) {
    if (!r->cancel_pending) {
      r->cancel_pending = 1; /* the write callback aborts meanwhile */
      adl__queue_insert_tail(&c->cancels, &r->node);
      adl__exec_kick(c);
    }
    return 0;
  }
  return apply(r, c->closing ? ADL__EV_CLOSE : ADL__EV_CANCEL, 0);
}

void adl__exec_on_curl_done(void *arg, CURL *easy, CURLcode rc) {
  adl_client_t *c = arg;
  adl_request_t *r = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
  assert(r != NULL && r->easy == easy && r->fsm.state == ADL__RQ_RUNNING);
  adl__sched_running(r->origin, -1);
  if (r->cancel_pending) {
    give_easy(c, easy);
    r->easy = NULL;
    apply(r, c->closing ? ADL__EV_CLOSE : ADL__EV_CANCEL, 0);
    return;
  }
  adl__url_parts_t target;
  adl__rq_event_t ev;
  adl__attempt_collect(r, rc, &target, &ev);
  ev.jitter = next_random(c);
  give_easy(c, easy);
  r->easy = NULL;
  if (ev.redirect == 2) {
    r->next_origin = adl__sched_ref(&c->sched, target.https, target.host,
                                    target.port);
    if (r->next_origin == NULL)
      ev.redirect = ADL_ENOMEM;
  }
  if (ev.redirect > 0)
    r->numeric_host = target.numeric_host;
  apply_with(r, &ev, NULL);
}

int adl__exec_pause(adl_request_t *r) {
  if (r->fsm.state == ADL__RQ_DONE || r->cancel_pending)
    return ADL_ENOENT;
  if (r->resume_pending) { /* a pause after a resume wins */
    adl__queue_remove(&r->flow_node);
    r->resume_pending = 0;
  }
  if (!r->paused && r->easy != NULL)
    curl_easy_pause(r->easy, CURLPAUSE_RECV);
  r->paused = 1;
  return 0;
}

int adl__exec_resume(adl_request_t *r) {
  if (r->fsm.state == ADL__RQ_DONE || r->cancel_pending)
    return ADL_ENOENT;
  if (r->paused && !r->resume_pending) {
    /* Unpausing makes curl deliver the held chunk at once: on the pump,
     * never inside the caller's call. */
    r->resume_pending = 1;
    adl__queue_insert_tail(&r->client->resumes, &r->flow_node);
    adl__exec_kick(r->client);
  }
  return 0;
}

static void run_resumes(adl_client_t *c) {
  while (!adl__queue_empty(&c->resumes)) {
    adl_request_t *r = ADL_QUEUE_DATA(adl__queue_head(&c->resumes),
                                      adl_request_t, flow_node);
    adl__queue_remove(&r->flow_node);
    r->resume_pending = 0;
    r->paused = 0;
    if (r->easy != NULL) {
      /* on_data may pause again from inside this call. */
      curl_easy_pause(r->easy, CURLPAUSE_CONT);
      c->kick_curl = 1;
    }
  }
}

/* multiplex: an origin that speaks HTTP/1.x runs as parallel, which needs
 * curl's cap of one connection per host lifted (once, outside curl). */
static void follow_protocols(adl_client_t *c) {
  if (c->sched.h1_origins > 0 && !c->host_conns_raised &&
      c->policy.mux_streams > 0) {
    c->host_conns_raised = 1;
    adl__pool_set_host_conns(c->pool, c->policy.max_host_conns);
  }
}

/* ---- the pump ---------------------------------------------------------- */

/* How the next attempt of r starts: 1 when it must wait for a lookup.
 * Otherwise *addrs is the answer to hand to curl, or NULL when curl has it
 * already (or has an idle connection and needs none). */
static int plan_start(adl_request_t *r, char *buf, size_t cap,
                      const char **addrs) {
  adl_client_t *c = r->client;
  adl__origin_t *o = r->origin;
  *addrs = NULL;
  if (r->numeric_host)
    return 0;
  if (c->policy.fresh_dns)
    return 1;
  adl__dns_view_t v;
  adl__dns_hit_t hit = adl__resolver_peek(c->resolver, o->host, &v);
  if (hit == ADL__DNS_MISS) {
    if (!adl__sched_has_idle(o))
      return 1;
    adl__resolver_refresh(c->resolver, o->host); /* serve, don't gate */
    return 0;
  }
  r->res.dns_cached = 1;
  size_t len = strlen(v.addrs);
  if (v.gen != o->curl_dns_gen && len < cap) {
    memcpy(buf, v.addrs, len + 1);
    *addrs = buf;
    o->curl_dns_gen = v.gen;
  }
  if (hit == ADL__DNS_STALE) {
    r->res.dns_stale = 1;
    r->res.dns_refresh_status = v.refresh_status;
    adl__resolver_refresh(c->resolver, o->host);
  }
  return 0;
}

static int likely_new_connection(const adl_request_t *r) {
  return r->client->policy.fresh_connect || r->fsm.fresh ||
         !adl__sched_has_idle(r->origin);
}

static void run_cancels(adl_client_t *c) {
  while (!adl__queue_empty(&c->cancels)) {
    adl_request_t *r =
        ADL_QUEUE_DATA(adl__queue_head(&c->cancels), adl_request_t, node);
    adl__queue_remove(&r->node);
    r->cancel_pending = 0;
    apply(r, c->closing ? ADL__EV_CLOSE : ADL__EV_CANCEL, 0);
  }
}

static void admit(adl_client_t *c) {
  adl__origin_t *o;
  adl__queue_t *node;
  while (!c->closing && (node = adl__sched_next(&c->sched, &o)) != NULL)
    apply(ADL_QUEUE_DATA(node, adl_request_t, node), ADL__EV_ADMIT, 0);
}

/* Whether r may start now: an https request waits until the CA store is
 * parsed, one bounded step per pass. */
static int trust_ready(adl_client_t *c, const adl_request_t *r) {
  if (!r->origin->https || c->castore == NULL ||
      adl__castore_ready(c->castore))
    return 1;
  return adl__castore_step(c->castore, ADL__CASTORE_CERTS_PER_STEP);
}

static void start_some(adl_client_t *c) {
  unsigned starts = c->opts.starts_per_pass;
  unsigned connects = c->opts.connects_per_pass;
  while (starts > 0 && !adl__queue_empty(&c->starts)) {
    adl_request_t *r =
        ADL_QUEUE_DATA(adl__queue_head(&c->starts), adl_request_t, node);
    if (!trust_ready(c, r))
      break; /* the rest of the store on the next iteration */
    int fresh = likely_new_connection(r);
    if (fresh && connects == 0)
      break; /* the handshakes wait for the next iteration */
    adl__queue_remove(&r->node);
    char buf[1024];
    const char *addrs;
    adl__rq_event_t ev = {.kind = ADL__EV_START, .retry_after_ms = -1};
    ev.need_dns = plan_start(r, buf, sizeof(buf), &addrs);
    apply_with(r, &ev, addrs);
    starts--;
    connects -= fresh ? 1 : 0;
  }
}

static void deliver_some(adl_client_t *c) {
  unsigned budget = c->opts.completions_per_pass;
  while (budget-- > 0 && !adl__queue_empty(&c->done)) {
    adl_request_t *r =
        ADL_QUEUE_DATA(adl__queue_head(&c->done), adl_request_t, node);
    adl__queue_remove(&r->node);
    if (r->commit_pending) {
      r->commit_pending = 0;
      int st = adl__request_commit_temp(r);
      if (st != 0) {
        r->res.status = st;
        snprintf(r->message, sizeof(r->message),
                 "cannot publish the file: %s", adl_strerror(st));
      }
    }
    if (r->opts.on_progress != NULL && r->res.status == 0 &&
        !r->res.not_modified) /* the last event: the whole body */
      r->opts.on_progress(r, r->res.bytes, r->declared_length);
    /* The callback may start, cancel or close: all of that only touches
     * lists this loop re-reads. r is this callback's alone now. */
    r->opts.on_done(r, &r->res);
    adl__idtab_remove(&c->ids, r->id);
    adl__sched_unref(r->origin);
    adl__request_free(r);
    c->nreq--;
  }
}

static void run_deferred(adl_client_t *c) {
  /* Only what is queued now: a refill may queue the batch's end. */
  adl__queue_t now;
  adl__queue_init(&now);
  while (!adl__queue_empty(&c->deferred)) {
    adl__queue_t *q = adl__queue_head(&c->deferred);
    adl__queue_remove(q);
    adl__queue_insert_tail(&now, q);
  }
  while (!adl__queue_empty(&now)) {
    adl__deferred_t *d =
        ADL_QUEUE_DATA(adl__queue_head(&now), adl__deferred_t, node);
    adl__queue_remove(&d->node);
    c->nreq--;
    d->run(d);
  }
}

static int work_left(const adl_client_t *c) {
  return !adl__queue_empty(&c->starts) || !adl__queue_empty(&c->done) ||
         !adl__queue_empty(&c->cancels) || !adl__queue_empty(&c->deferred) ||
         !adl__queue_empty(&c->resumes);
}

static void on_pump(uv_idle_t *h) {
  adl_client_t *c = h->data;
  if (c->pumping)
    return;
  c->pumping = 1;
  run_cancels(c);
  run_resumes(c);
  run_deferred(c);
  follow_protocols(c);
  admit(c);
  start_some(c);
  if (c->kick_curl) { /* one pass of curl for every transfer just added */
    c->kick_curl = 0;
    adl__pool_kick(c->pool);
  }
  deliver_some(c);
  admit(c); /* slots freed by this pass: admitted now, started next */
  c->pumping = 0;
  if (!work_left(c))
    uv_idle_stop(&c->pump_idle);
  adl__exec_update_keepalive(c);
  if (c->closing && c->nreq == 0 && !c->torn_down)
    c->on_drained(c);
}

void adl__exec_start_handles(adl_client_t *c) {
  c->pump_idle.data = c;
  c->keepalive.data = c;
  c->retry_timer.data = c;
  uv_unref((uv_handle_t *)&c->retry_timer);
}
