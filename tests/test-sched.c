/* Scheduler tests against several in-process fixture servers on one loop
 * (each on its own port, so each is its own origin). The servers count
 * what they see, so the limits are checked from the other side of the
 * socket: K caps sockets open at once across every origin, max_per_host
 * caps one origin, session keeps one connection per origin, serial opens
 * one per request, a request in retry backoff holds no slot, a slow origin
 * does not hold the whole window, and a request that fails inside curl's
 * first call neither doubles a callback nor corrupts the in-flight count.
 *
 * Sockets open at once are sampled by a uv_check handle, after every poll
 * phase: by then the server has handled every accept and every EOF that
 * the client's previous syscalls caused (loopback delivers them at once). */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"
#include "fixture.h"
#include "pokedex.h"

#include <stdlib.h>
#include <string.h>

#define MAXFX 4
#define MAXREQ 64
#define WATCHDOG_MS 8000

typedef struct req_s {
  int fx;                  /* fixture index, -1 for another host */
  const char *name;        /* pokedex name, NULL for a fault route */
  char url[160];
  adl_request_id_t id;
  unsigned done_calls;
  unsigned order;          /* 1-based completion rank */
  uint64_t submit_ns, done_ns;
  adl_result_t res;
  struct ctx_s *ctx;
} req_t;

typedef struct ctx_s {
  const char *test;
  uv_loop_t loop;
  fixture_t *fx[MAXFX];
  unsigned nfx;
  adl_client_t *client;
  req_t req[MAXREQ];
  unsigned nreq, ndone;
  unsigned close_calls;
  uv_timer_t watchdog;
  uv_check_t sampler;
  uv_timer_t tick; /* wakes UV_RUN_ONCE while polling a condition */
  unsigned max_sum_open;     /* sockets open at once, all fixtures */
  unsigned max_sum_inflight; /* requests in flight at once, all fixtures */
  uint64_t t0;
  /* test 6: on the first done callback, cancel these */
  int cancel_on_first;
  unsigned cancel_from; /* the request whose done callback cancels */
  int cancel_rc[MAXREQ];
  int cancel_done;
} ctx_t;

static void on_watchdog(uv_timer_t *t) {
  ctx_t *x = t->data;
  size_t pending = x->client ? adl_client_pending(x->client) : 0;
  ADL_FAIL_("watchdog: %s stalled after %d ms: %u of %u done, pending %zu",
            x->test, WATCHDOG_MS, x->ndone, x->nreq, pending);
}

static void on_sample(uv_check_t *h) {
  ctx_t *x = h->data;
  unsigned open = 0, inflight = 0;
  for (unsigned i = 0; i < x->nfx; i++) {
    fixture_stats_t st;
    fixture_get_stats(x->fx[i], &st);
    open += st.open_connections;
    inflight += st.inflight;
  }
  if (open > x->max_sum_open)
    x->max_sum_open = open;
  if (inflight > x->max_sum_inflight)
    x->max_sum_inflight = inflight;
}

static void setup(ctx_t *x, const char *test, unsigned nfx,
                  const unsigned *rtt) {
  memset(x, 0, sizeof(*x));
  x->test = test;
  ASSERT_EQ(uv_loop_init(&x->loop), 0);
  ASSERT(nfx <= MAXFX);
  for (unsigned i = 0; i < nfx; i++) {
    fixture_opts_t fo;
    fixture_opts_init(&fo);
    fo.rtt_ms = rtt != NULL ? rtt[i] : 0;
    ASSERT_EQ(fixture_start(&x->loop, &fo, &x->fx[i]), 0);
  }
  x->nfx = nfx;
  ASSERT_EQ(uv_timer_init(&x->loop, &x->watchdog), 0);
  x->watchdog.data = x;
  ASSERT_EQ(uv_timer_start(&x->watchdog, on_watchdog, WATCHDOG_MS, 0), 0);
  ASSERT_EQ(uv_timer_init(&x->loop, &x->tick), 0);
  ASSERT_EQ(uv_check_init(&x->loop, &x->sampler), 0);
  x->sampler.data = x;
  ASSERT_EQ(uv_check_start(&x->sampler, on_sample), 0);
  x->t0 = uv_hrtime();
}

static void new_client(ctx_t *x, adl_strategy_t s, unsigned k,
                       unsigned per_host, unsigned retries) {
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = s;
  o.max_connections = k;
  o.max_per_host = per_host;
  o.retries = retries;
  o.retry_base_ms = 5;
  o.retry_max_ms = 5000;
  o.timeout_ms = 6000;
  ASSERT_EQ(adl_client_new(&x->loop, &o, &x->client), 0);
  adl_client_set_data(x->client, x);
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  req_t *q = adl_request_get_data(r);
  ctx_t *x = q->ctx;
  q->done_calls++;
  ASSERT_EQ(q->done_calls, 1); /* exactly one outcome per request */
  ASSERT_EQ(adl_request_id(r), q->id);
  ASSERT_EQ(res->id, q->id);
  q->res = *res;
  q->res.message = NULL; /* borrowed */
  q->res.url = NULL;
  q->done_ns = uv_hrtime();
  q->order = ++x->ndone;
  if (x->cancel_on_first && !x->cancel_done &&
      (unsigned)(q - x->req) == x->cancel_from) {
    x->cancel_done = 1;
    for (unsigned i = 0; i < x->nreq; i++)
      if (i != x->cancel_from)
        x->cancel_rc[i] = adl_request_cancel(x->client, x->req[i].id);
  }
}

/* Submits GET <fixture fx><path>, or url as is when fx < 0. */
static req_t *submit(ctx_t *x, int fx, const char *path, const char *name) {
  ASSERT(x->nreq < MAXREQ);
  req_t *q = &x->req[x->nreq++];
  memset(q, 0, sizeof(*q));
  q->ctx = x;
  q->fx = fx;
  q->name = name;
  if (fx >= 0)
    snprintf(q->url, sizeof(q->url), "http://127.0.0.1:%d%s",
             fixture_port(x->fx[fx]), path);
  else
    snprintf(q->url, sizeof(q->url), "%s", path);
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.sink = ADL_SINK_DISCARD;
  ro.on_done = on_done;
  ro.data = q;
  q->submit_ns = uv_hrtime();
  ASSERT_EQ(adl_request_start(x->client, q->url, &ro, &q->id), 0);
  ASSERT(q->id != 0);
  ASSERT_EQ(q->done_calls, 0); /* never inside the call */
  return q;
}

static req_t *submit_doc(ctx_t *x, int fx, const char *name) {
  char path[96];
  snprintf(path, sizeof(path), "/api/v2/pokemon/%s", name);
  return submit(x, fx, path, name);
}

static void run_until(ctx_t *x, unsigned n) {
  while (x->ndone < n)
    uv_run(&x->loop, UV_RUN_ONCE);
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until no fixture has a request in flight, or ms passed;
 * returns the requests still in flight. */
static unsigned wait_servers_idle(ctx_t *x, uint64_t ms) {
  uint64_t until = uv_hrtime() + ms * 1000000u;
  unsigned left;
  uv_timer_start(&x->tick, on_tick, 2, 2);
  for (;;) {
    left = 0;
    for (unsigned i = 0; i < x->nfx; i++) {
      fixture_stats_t st;
      fixture_get_stats(x->fx[i], &st);
      left += st.inflight;
    }
    if (left == 0 || uv_hrtime() >= until)
      break;
    uv_run(&x->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&x->tick);
  return left;
}

static void check_doc(const req_t *q) {
  if (q->res.status != 0)
    ADL_FAIL_("%s: status %s (http %ld)", q->url, adl_err_name(q->res.status),
              q->res.http_status);
  ASSERT_EQ(q->res.http_status, 200);
  char *want;
  size_t wlen;
  ASSERT_EQ(pokedex_body(q->name, &want, &wlen), 0);
  free(want);
  ASSERT_GT(q->res.bytes, 0);
  ASSERT_EQ(q->res.bytes, wlen);
}

static void fx_stats(ctx_t *x, unsigned i, fixture_stats_t *st) {
  ASSERT(i < x->nfx);
  fixture_get_stats(x->fx[i], st);
}

static void on_client_closed(adl_client_t *c) {
  ctx_t *x = adl_client_get_data(c);
  x->close_calls++;
}

static void on_fx_closed(void *arg) { (*(unsigned *)arg)++; }

static void teardown(ctx_t *x) {
  if (x->client != NULL) {
    adl_client_close(x->client, on_client_closed);
    while (x->close_calls == 0)
      uv_run(&x->loop, UV_RUN_ONCE);
    ASSERT_EQ(x->close_calls, 1);
    x->client = NULL;
  }
  unsigned closed = 0;
  for (unsigned i = 0; i < x->nfx; i++)
    fixture_close(x->fx[i], on_fx_closed, &closed);
  uv_close((uv_handle_t *)&x->watchdog, NULL);
  uv_close((uv_handle_t *)&x->sampler, NULL);
  uv_close((uv_handle_t *)&x->tick, NULL);
  ADL_TEST_LOOP_CLOSE(&x->loop);
  ASSERT_EQ(closed, x->nfx);
}

static uint64_t ms_since(uint64_t from_ns, uint64_t to_ns) {
  return (to_ns - from_ns) / 1000000u;
}

/* ---- 1. K caps sockets open at once across origins ---------------------- */

static unsigned t1_k2_max_sum, t1_k2_accepted;
static unsigned t1_k6_max_sum, t1_k6_max_open[3], t1_k6_max_inflight[3];

static void test_total_cap(void) {
  ctx_t x;
  const unsigned k = 2, n = 40, nfx = 4;
  const unsigned rtt4[4] = {5, 5, 5, 5}; /* so requests overlap */
  setup(&x, "total-cap", nfx, rtt4);
  new_client(&x, ADL_STRATEGY_PARALLEL, k, 0, 0);
  /* Mixed order: a fixed shuffle of 10 requests per origin. */
  unsigned target[40];
  for (unsigned i = 0; i < n; i++)
    target[i] = i % nfx;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (unsigned i = n - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned j = (unsigned)((seed >> 33) % (i + 1));
    unsigned t = target[i];
    target[i] = target[j];
    target[j] = t;
  }
  unsigned per_fx[MAXFX] = {0};
  for (unsigned i = 0; i < n; i++) {
    submit_doc(&x, (int)target[i], pokedex_names[i]);
    per_fx[target[i]]++;
  }
  run_until(&x, n);
  ASSERT_EQ(adl_client_pending(x.client), 0);
  unsigned accepted = 0;
  for (unsigned i = 0; i < n; i++)
    check_doc(&x.req[i]);
  for (unsigned i = 0; i < nfx; i++) {
    fixture_stats_t st;
    fx_stats(&x, i, &st);
    ASSERT_EQ(st.requests, per_fx[i]);
    ASSERT_EQ(st.responses_ok, per_fx[i]);
    ASSERT_LE(st.max_open_connections, k);
    ASSERT_LE(st.max_inflight, k);
    accepted += (unsigned)st.connections_accepted;
  }
  ASSERT_GE(x.max_sum_open, 1);
  if (x.max_sum_open > k)
    ADL_FAIL_("K=%u but %u sockets were open at once across %u origins", k,
              x.max_sum_open, nfx);
  ASSERT_LE(x.max_sum_inflight, k);
  ASSERT_EQ(x.max_sum_inflight, k); /* the window was used */
  t1_k2_max_sum = x.max_sum_open;
  t1_k2_accepted = accepted;
  printf("total-cap K=%u: %u requests over %u origins, max sockets open at "
         "once %u, max in flight at once %u, connections accepted %u\n",
         k, n, nfx, x.max_sum_open, x.max_sum_inflight, accepted);
  teardown(&x);

  /* K=6, max_per_host=2, 3 origins with 20 ms RTT: requests overlap. */
  const unsigned k6 = 6, per_host = 2, nfx3 = 3, n3 = 30;
  const unsigned rtt[3] = {20, 20, 20};
  setup(&x, "per-host-cap", nfx3, rtt);
  new_client(&x, ADL_STRATEGY_PARALLEL, k6, per_host, 0);
  for (unsigned i = 0; i < n3; i++)
    submit_doc(&x, (int)((i * 7 + i / 5) % nfx3), pokedex_names[i + 40]);
  run_until(&x, n3);
  for (unsigned i = 0; i < n3; i++)
    check_doc(&x.req[i]);
  unsigned reached = 0;
  for (unsigned i = 0; i < nfx3; i++) {
    fixture_stats_t st;
    fx_stats(&x, i, &st);
    if (st.max_open_connections > per_host || st.max_inflight > per_host)
      ADL_FAIL_("max_per_host=%u but origin %u had %u sockets / %u requests "
                "at once",
                per_host, i, st.max_open_connections, st.max_inflight);
    if (st.max_inflight == per_host || st.max_open_connections == per_host)
      reached++;
    t1_k6_max_open[i] = st.max_open_connections;
    t1_k6_max_inflight[i] = st.max_inflight;
  }
  ASSERT_LE(x.max_sum_open, k6);
  ASSERT_LE(x.max_sum_inflight, k6);
  ASSERT_GE(reached, 1); /* the per-host cap was used, not just respected */
  t1_k6_max_sum = x.max_sum_open;
  printf("per-host-cap K=%u per_host=%u: per-origin max open %u/%u/%u, max "
         "in flight %u/%u/%u, sockets at once %u, in flight at once %u\n",
         k6, per_host, t1_k6_max_open[0], t1_k6_max_open[1], t1_k6_max_open[2],
         t1_k6_max_inflight[0], t1_k6_max_inflight[1], t1_k6_max_inflight[2],
         x.max_sum_open, x.max_sum_inflight);
  teardown(&x);
}

/* ---- 2. session: one kept-alive connection per origin ------------------- */

static unsigned t2_n;

static void test_session_per_origin(void) {
  static const unsigned counts[] = {6, 13, 20};
  for (unsigned c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
    ctx_t x;
    const unsigned n = counts[c];
    setup(&x, "session", 2, NULL);
    new_client(&x, ADL_STRATEGY_SESSION, 6, 0, 0);
    for (unsigned i = 0; i < n; i++)
      submit_doc(&x, (int)(i % 2), pokedex_names[(i * 11 + c) % 151]);
    run_until(&x, n);
    unsigned max_new = 0;
    for (unsigned i = 0; i < n; i++) {
      check_doc(&x.req[i]);
      max_new += x.req[i].res.new_connections;
    }
    for (unsigned i = 0; i < 2; i++) {
      fixture_stats_t st;
      fx_stats(&x, i, &st);
      if (st.connections_accepted != 1)
        ADL_FAIL_("session, %u requests A/B/A/B: origin %u accepted %" PRIu64
                  " connections, want 1",
                  n, i, st.connections_accepted);
      ASSERT_EQ(st.requests, (n + 1 - i) / 2);
      ASSERT_LE(st.max_inflight, 1);
    }
    ASSERT_EQ(max_new, 2); /* the client saw the same: 2 connections */
    ASSERT_LE(x.max_sum_inflight, 1);
    t2_n = n;
    teardown(&x);
  }
  printf("session: A/B alternating lists of 6, 13, 20 requests: 1 "
         "connection per origin each\n");
}

/* ---- 3. serial: a new connection per request ---------------------------- */

static unsigned t3_n, t3_accepted;

static void test_serial(void) {
  ctx_t x;
  const unsigned n = 9;
  setup(&x, "serial", 2, NULL);
  new_client(&x, ADL_STRATEGY_SERIAL, 6, 0, 0);
  /* 6 to A, 3 to B: origins take turns (A B A B A B), then A A A, which
   * a kept-alive connection would serve without reconnecting. */
  for (unsigned i = 0; i < n; i++)
    submit_doc(&x, i % 3 == 2 ? 1 : 0, pokedex_names[i + 90]);
  run_until(&x, n);
  unsigned accepted = 0, reqs = 0;
  for (unsigned i = 0; i < n; i++) {
    check_doc(&x.req[i]);
    ASSERT_EQ(x.req[i].res.new_connections, 1);
  }
  for (unsigned i = 0; i < 2; i++) {
    fixture_stats_t st;
    fx_stats(&x, i, &st);
    accepted += (unsigned)st.connections_accepted;
    reqs += (unsigned)st.requests;
    ASSERT_LE(st.max_inflight, 1);
  }
  ASSERT_EQ(reqs, n);
  ASSERT_EQ(accepted, n);
  ASSERT_LE(x.max_sum_inflight, 1);
  t3_n = n;
  t3_accepted = accepted;
  printf("serial: %u requests over 2 origins, %u connections accepted\n", n,
         accepted);
  teardown(&x);
}

/* ---- 4. backoff on one origin does not delay another -------------------- */

static uint64_t t4_b_max_ms, t4_a_first_ms, t4_a_min_backoff_us;

static void test_backoff_isolation(void) {
  ctx_t x;
  const unsigned k = 2, na = 2, nb = 6;
  setup(&x, "backoff", 2, NULL);
  new_client(&x, ADL_STRATEGY_PARALLEL, k, 0, 1);
  for (unsigned i = 0; i < na; i++)
    submit(&x, 0, "/fault/status/503?retry-after=1", NULL);
  for (unsigned i = 0; i < nb; i++)
    submit_doc(&x, 1, pokedex_names[i + 120]);
  run_until(&x, na + nb);
  uint64_t b_max_ms = 0, b_max_span_us = 0;
  unsigned b_last_order = 0, a_first_order = na + nb + 1;
  uint64_t a_first_ns = UINT64_MAX, a_min_backoff = UINT64_MAX;
  for (unsigned i = na; i < na + nb; i++) {
    req_t *q = &x.req[i];
    check_doc(q);
    ASSERT_EQ(q->res.attempts, 1);
    uint64_t span = q->res.total_us + q->res.queue_us;
    if (span > b_max_span_us)
      b_max_span_us = span;
    uint64_t ms = ms_since(x.t0, q->done_ns);
    if (ms > b_max_ms)
      b_max_ms = ms;
    if (q->order > b_last_order)
      b_last_order = q->order;
  }
  for (unsigned i = 0; i < na; i++) {
    req_t *q = &x.req[i];
    ASSERT_EQ(q->res.status, ADL_EHTTP);
    ASSERT_EQ(q->res.http_status, 503);
    ASSERT_EQ(q->res.attempts, 2);
    ASSERT_GE(q->res.backoff_us, 900000);
    ASSERT_LT(q->res.backoff_us, 2000000);
    if (q->order < a_first_order)
      a_first_order = q->order;
    if (q->done_ns < a_first_ns)
      a_first_ns = q->done_ns;
    if (q->res.backoff_us < a_min_backoff)
      a_min_backoff = q->res.backoff_us;
  }
  if (b_max_span_us >= 500000 || b_last_order > a_first_order)
    ADL_FAIL_("backoff on A delayed B: slowest B took %" PRIu64
              " us (queue+total), last B done #%u, first A done #%u",
              b_max_span_us, b_last_order, a_first_order);
  ASSERT_LT(b_max_ms, 500);
  ASSERT_GE(ms_since(x.t0, a_first_ns), 900);
  fixture_stats_t sa, sb;
  fx_stats(&x, 0, &sa);
  fx_stats(&x, 1, &sb);
  ASSERT_EQ(sa.requests, 2 * na);
  ASSERT_EQ(sb.requests, nb);
  ASSERT_LE(x.max_sum_open, k);
  t4_b_max_ms = b_max_ms;
  t4_a_first_ms = ms_since(x.t0, a_first_ns);
  t4_a_min_backoff_us = a_min_backoff;
  printf("backoff: K=%u, %u B documents all done by %" PRIu64
         " ms (max queue+total %" PRIu64 " us); first A outcome at %" PRIu64
         " ms, A backoff >= %" PRIu64 " us, attempts 2\n",
         k, nb, b_max_ms, b_max_span_us, t4_a_first_ms, a_min_backoff);
  teardown(&x);
}

/* ---- 5. a slow origin does not hold the whole window -------------------- */

#define SLOW_RTT 250
static uint64_t t5_fast_max_ms, t5_slow_first_ms, t5_slow_last_ms;

static void test_fairness(void) {
  ctx_t x;
  const unsigned k = 4, per_host = 2, n = 10;
  const unsigned rtt[2] = {SLOW_RTT, 0};
  setup(&x, "fairness", 2, rtt);
  new_client(&x, ADL_STRATEGY_PARALLEL, k, per_host, 0);
  for (unsigned i = 0; i < n; i++)
    submit_doc(&x, 0, pokedex_names[i]);
  for (unsigned i = 0; i < n; i++)
    submit_doc(&x, 1, pokedex_names[i + 20]);
  run_until(&x, 2 * n);
  uint64_t fast_max = 0, slow_first = UINT64_MAX, slow_last = 0;
  unsigned fast_last_order = 0, slow_first_order = UINT32_MAX;
  for (unsigned i = 0; i < 2 * n; i++) {
    req_t *q = &x.req[i];
    check_doc(q);
    uint64_t ms = ms_since(x.t0, q->done_ns);
    if (i < n) {
      slow_first = ms < slow_first ? ms : slow_first;
      slow_last = ms > slow_last ? ms : slow_last;
      if (q->order < slow_first_order)
        slow_first_order = q->order;
    } else {
      fast_max = ms > fast_max ? ms : fast_max;
      if (q->order > fast_last_order)
        fast_last_order = q->order;
    }
  }
  /* The first response on a slow connection takes 2 RTT (handshake). */
  if (fast_max >= SLOW_RTT || fast_last_order > slow_first_order)
    ADL_FAIL_("slow origin held the window: last fast done at %" PRIu64
              " ms (#%u), first slow at %" PRIu64 " ms (#%u)",
              fast_max, fast_last_order, slow_first, slow_first_order);
  ASSERT_GE(slow_first, 2 * SLOW_RTT - 10);
  fixture_stats_t ss, sf;
  fx_stats(&x, 0, &ss);
  fx_stats(&x, 1, &sf);
  ASSERT_LE(ss.max_inflight, per_host);
  ASSERT_LE(sf.max_inflight, per_host);
  ASSERT_EQ(ss.max_inflight, per_host); /* the slow one used its share */
  ASSERT_LE(x.max_sum_open, k);
  /* n slow requests, per_host at a time: ceil(n / per_host) rounds of
   * one RTT, plus the handshake RTT. */
  ASSERT_GE(slow_last, (uint64_t)((n + per_host - 1) / per_host + 1) *
                           SLOW_RTT - 10);
  t5_fast_max_ms = fast_max;
  t5_slow_first_ms = slow_first;
  t5_slow_last_ms = slow_last;
  printf("fairness: K=%u per_host=%u, slow origin (rtt %d ms) first: fast "
         "origin's %u done by %" PRIu64 " ms; slow ones %" PRIu64
         "..%" PRIu64 " ms\n",
         k, per_host, SLOW_RTT, n, fast_max, slow_first, slow_last);
  teardown(&x);
}

/* ---- 6. a synchronous failure inside curl, cancelled from a callback ---- */

typedef struct sync_case_s {
  unsigned k;
  unsigned bad;         /* index of the 255.255.255.255 request */
  unsigned cancel_from; /* index whose done callback cancels the others */
  unsigned stall;       /* index of a /fault/stall-headers request, or 9 */
} sync_case_t;

static unsigned t6_cases;

static void test_sync_failure(void) {
  static const sync_case_t cases[] = {
      {1, 1, 0, 9}, {2, 1, 0, 2}, {2, 0, 2, 3}, {4, 1, 0, 3},
      {4, 0, 1, 2}, {4, 2, 0, 3}, {2, 3, 0, 1}, {4, 1, 1, 2},
  };
  for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const sync_case_t *sc = &cases[c];
    ctx_t x;
    /* Documents from fixture 0, with RTT so the next batch overlaps; the
     * stalled request from fixture 1, with none: the fixture loses a
     * client's FIN that arrives while a stall route waits out its RTT
     * (ST_DELAY), and would then count that request in flight forever. */
    const unsigned rtt2[2] = {20, 0};
    setup(&x, "sync-failure", 2, rtt2);
    new_client(&x, ADL_STRATEGY_PARALLEL, sc->k, 0, 0);
    x.cancel_on_first = 1;
    x.cancel_from = sc->cancel_from;
    for (unsigned i = 0; i < 4; i++) {
      if (i == sc->bad)
        submit(&x, -1, "http://255.255.255.255/x", NULL);
      else if (i == sc->stall)
        submit(&x, 1, "/fault/stall-headers", NULL);
      else
        submit_doc(&x, 0, pokedex_names[i + 60]);
    }
    run_until(&x, 4);
    /* One more turn of the loop: a doubled callback would show now. */
    for (int spin = 0; spin < 5; spin++)
      uv_run(&x.loop, UV_RUN_NOWAIT);
    ASSERT_EQ(x.cancel_done, 1);
    for (unsigned i = 0; i < 4; i++) {
      req_t *q = &x.req[i];
      ASSERT_EQ(q->done_calls, 1);
      if (i == sc->cancel_from)
        continue;
      int rc = x.cancel_rc[i];
      if (rc != 0 && rc != ADL_ENOENT)
        ADL_FAIL_("case %u: cancel of request %u returned %s", c, i,
                  adl_err_name(rc));
      if (rc == 0)
        ASSERT_EQ(q->res.status, ADL_ECANCELED);
      else
        ASSERT_NE(q->res.status, ADL_ECANCELED);
      if (i == sc->stall) { /* it was waiting on the server */
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(q->res.status, ADL_ECANCELED);
      }
    }
    {
      req_t *b = &x.req[sc->bad];
      ASSERT_NE(b->res.status, 0);
      if (b->res.status == ADL_ECANCELED && sc->bad != sc->cancel_from)
        ASSERT_EQ(x.cancel_rc[sc->bad], 0);
    }
    ASSERT_EQ(adl_client_pending(x.client), 0);

    /* The window must be intact: a new batch is admitted, completes, and
     * still never exceeds K on the server. */
    /* The cancelled transfers were let go: the servers see the sockets
     * close (a document cancelled during its RTT is seen at its end). */
    unsigned left = wait_servers_idle(&x, 500);
    fixture_stats_t st0;
    fx_stats(&x, 0, &st0);
    if (left != 0)
      ADL_FAIL_("case %u (K=%u, failing request #%u, cancels from #%u's "
                "callback, stall #%u): 500 ms after every outcome the "
                "servers still have %u request(s) in flight (%u sockets open "
                "on fixture 0)",
                c, sc->k, sc->bad, sc->cancel_from, sc->stall, left,
                st0.open_connections);
    fixture_reset_stats(x.fx[0]);
    x.max_sum_inflight = 0;
    x.cancel_on_first = 0;
    const unsigned n2 = 3 * sc->k + 1;
    for (unsigned i = 0; i < n2; i++)
      submit_doc(&x, 0, pokedex_names[i + 100]);
    run_until(&x, 4 + n2);
    for (unsigned i = 4; i < 4 + n2; i++) {
      ASSERT_EQ(x.req[i].done_calls, 1);
      check_doc(&x.req[i]);
    }
    ASSERT_EQ(adl_client_pending(x.client), 0);
    fixture_stats_t st;
    fx_stats(&x, 0, &st);
    ASSERT_EQ(st.requests, n2);
    if (st.max_inflight > sc->k)
      ADL_FAIL_("case %u (K=%u, failing request #%u, cancels from #%u's "
                "callback, stall #%u): after it, %u requests were in flight "
                "at once on the server",
                c, sc->k, sc->bad, sc->cancel_from, sc->stall,
                st.max_inflight);
    ASSERT_LE(x.max_sum_inflight, sc->k);
    ASSERT_EQ(st.max_inflight, sc->k); /* and all of it is usable */
    teardown(&x);
    t6_cases++;
  }
  printf("sync-failure: %u cases (K 1..4, failing request at various "
         "places, cancels from a done callback): one callback each, "
         "pending 0, next batch within K\n",
         t6_cases);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  ASSERT_EQ(adl_library_init(), 0);
  test_total_cap();
  test_session_per_origin();
  test_serial();
  test_backoff_isolation();
  test_fairness();
  test_sync_failure();
  adl_library_shutdown();
  printf("test-sched summary: K=2 over 4 origins max sockets at once %u "
         "(%u accepted); K=6/per_host=2 over 3 origins max open %u/%u/%u, "
         "in flight %u/%u/%u, at once %u; session 1 conn/origin (up to %u "
         "reqs); serial %u conns for %u reqs; backoff: B done by %" PRIu64
         " ms vs first A at %" PRIu64 " ms (A backoff >= %" PRIu64
         " us); fairness: fast done by %" PRIu64 " ms, slow %" PRIu64
         "..%" PRIu64 " ms; sync-failure %u cases ok\n",
         t1_k2_max_sum, t1_k2_accepted, t1_k6_max_open[0], t1_k6_max_open[1],
         t1_k6_max_open[2], t1_k6_max_inflight[0], t1_k6_max_inflight[1],
         t1_k6_max_inflight[2], t1_k6_max_sum, t2_n, t3_accepted, t3_n,
         t4_b_max_ms, t4_a_first_ms, t4_a_min_backoff_us, t5_fast_max_ms,
         t5_slow_first_ms, t5_slow_last_ms, t6_cases);
  return 0;
}
