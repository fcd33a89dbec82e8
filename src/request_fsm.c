/* The request lifecycle, pure (see request_fsm.h). L0: libc only. */
#include "request_fsm.h"

#include "asyncdl.h"

static const char *const state_names[] = {"QUEUED",  "READY",   "RESOLVING",
                                          "RUNNING", "BACKOFF", "DONE"};

const char *adl__rq_state_name(adl__rq_state_t s) {
  return (unsigned)s < sizeof(state_names) / sizeof(state_names[0])
             ? state_names[s]
             : "?";
}

int adl__rq_holds_slot(adl__rq_state_t s) {
  return s == ADL__RQ_READY || s == ADL__RQ_RESOLVING || s == ADL__RQ_RUNNING;
}

/* Overload and gateway statuses, timeouts, resets and truncated responses
 * are transient; refused connections, DNS, TLS and other 4xx answers would
 * fail the same way again. */
int adl__rq_retryable(int status, long code) {
  if (status == ADL_EHTTP)
    return code == 408 || code == 429 || code == 500 || code == 502 ||
           code == 503 || code == 504;
  return status == ADL_ETIMEDOUT || status == ADL_ECONNRESET ||
         status == ADL_EPROTO;
}

/* Both capped, so a hostile server cannot park a request for hours. */
uint64_t adl__rq_backoff_ms(const adl__rq_limits_t *l, unsigned attempts,
                            long retry_after_ms, uint64_t jitter) {
  uint64_t cap = l->retry_max_ms;
  if (retry_after_ms >= 0)
    return (uint64_t)retry_after_ms < cap ? (uint64_t)retry_after_ms : cap;
  unsigned n = attempts > 0 ? attempts - 1 : 0;
  uint64_t d = l->retry_base_ms << (n < 20 ? n : 20);
  if (d > cap)
    d = cap;
  return d / 2 + (d > 1 ? jitter % (d / 2 + 1) : 0);
}

static void add(adl__rq_step_t *st, adl__rq_action_kind_t kind, int status,
                uint64_t ms, int fresh) {
  adl__rq_action_t a = {.kind = kind, .status = status, .ms = ms,
                        .fresh = fresh};
  st->act[st->n++] = a;
}

static void finish(adl__rq_step_t *st, const adl__rq_fsm_t *s, int status,
                   int abort) {
  st->next.state = ADL__RQ_DONE;
  if (abort)
    add(st, ADL__ACT_ABORT, 0, 0, 0);
  if (adl__rq_holds_slot(s->state))
    add(st, ADL__ACT_RELEASE_SLOT, 0, 0, 0);
  add(st, ADL__ACT_COMPLETE, status, 0, 0);
}

static void transfer(adl__rq_step_t *st) {
  st->next.state = ADL__RQ_RUNNING;
  add(st, ADL__ACT_TRANSFER, 0, 0, (int)st->next.fresh);
  st->next.fresh = 0;
}

static void start(adl__rq_step_t *st, const adl__rq_event_t *ev) {
  if (!st->next.hop)
    st->next.attempts++;
  st->next.hop = 0;
  if (ev->need_dns) {
    st->next.state = ADL__RQ_RESOLVING;
    add(st, ADL__ACT_RESOLVE, 0, 0, 0);
  } else {
    transfer(st);
  }
}

/* The same attempt goes on (a redirect hop, or the one free retry of a
 * request that met a dead kept-alive connection): back to READY. */
static void continue_attempt(adl__rq_step_t *st) {
  st->next.state = ADL__RQ_READY;
  st->next.hop = 1;
  add(st, ADL__ACT_SCHEDULE, 0, 0, 0);
}

static void xfer_done(adl__rq_step_t *st, const adl__rq_fsm_t *s,
                      const adl__rq_limits_t *l, const adl__rq_event_t *ev) {
  if (ev->redirect == 1) {
    continue_attempt(st);
    return;
  }
  if (ev->redirect == 2) { /* another origin: queue there, fairly */
    st->next.state = ADL__RQ_QUEUED;
    st->next.hop = 1;
    add(st, ADL__ACT_RELEASE_SLOT, 0, 0, 0);
    add(st, ADL__ACT_REQUEUE, 0, 0, 0);
    return;
  }
  if (ev->redirect < 0) {
    finish(st, s, ev->redirect, 0);
    return;
  }
  int status = ev->status;
  if (status == 0 && !ev->not_modified &&
      (ev->http_status < 200 || ev->http_status >= 300))
    status = ADL_EHTTP;
  if (status == 0) {
    finish(st, s, 0, 0);
    return;
  }
  if (ev->dead_reuse && !s->free_retry_used) {
    st->next.free_retry_used = 1;
    st->next.fresh = 1;
    continue_attempt(st);
    return;
  }
  if (s->attempts <= l->retries && adl__rq_retryable(status, ev->http_status)) {
    st->next.state = ADL__RQ_BACKOFF;
    add(st, ADL__ACT_RELEASE_SLOT, 0, 0, 0);
    add(st, ADL__ACT_BACKOFF, 0,
        adl__rq_backoff_ms(l, s->attempts, ev->retry_after_ms, ev->jitter), 0);
    return;
  }
  finish(st, s, status, 0);
}

adl__rq_step_t adl__rq_step(const adl__rq_fsm_t *s, const adl__rq_limits_t *l,
                            const adl__rq_event_t *ev) {
  adl__rq_step_t st = {.next = *s, .n = 0};
  adl__rq_state_t q = s->state;
  if (q == ADL__RQ_DONE) {
    add(&st, ADL__ACT_REFUSED, 0, 0, 0);
    return st;
  }
  switch (ev->kind) {
  case ADL__EV_CANCEL:
  case ADL__EV_CLOSE:
    finish(&st, s, ADL_ECANCELED, 1);
    return st;
  case ADL__EV_FAIL:
    finish(&st, s, ev->status != 0 ? ev->status : ADL_ECURL, 1);
    return st;
  case ADL__EV_ADMIT:
    if (q != ADL__RQ_QUEUED)
      break;
    st.next.state = ADL__RQ_READY;
    add(&st, ADL__ACT_TAKE_SLOT, 0, 0, 0);
    add(&st, ADL__ACT_SCHEDULE, 0, 0, 0);
    return st;
  case ADL__EV_START:
    if (q != ADL__RQ_READY)
      break;
    start(&st, ev);
    return st;
  case ADL__EV_DNS_OK:
    if (q != ADL__RQ_RESOLVING)
      break;
    transfer(&st);
    return st;
  case ADL__EV_DNS_FAIL:
    if (q != ADL__RQ_RESOLVING)
      break;
    finish(&st, s, ev->status != 0 ? ev->status : ADL_EDNS, 0);
    return st;
  case ADL__EV_XFER_DONE:
    if (q != ADL__RQ_RUNNING)
      break;
    xfer_done(&st, s, l, ev);
    return st;
  case ADL__EV_TIMER:
    if (q != ADL__RQ_BACKOFF)
      break;
    st.next.state = ADL__RQ_QUEUED;
    add(&st, ADL__ACT_REQUEUE, 0, 0, 0);
    return st;
  }
  st.next = *s;
  st.n = 0;
  add(&st, ADL__ACT_REFUSED, 0, 0, 0);
  return st;
}
