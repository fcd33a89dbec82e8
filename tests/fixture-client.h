/* Test support for the fixture server tests: a guard-timed loop
 * environment and a tiny raw uv_tcp HTTP client (deliberately not curl:
 * the tests must see exact bytes, EOF vs RST, and connection reuse).
 * Header-only; everything is static inline, so each test program keeps
 * only what it uses. */
#ifndef ADL_FIXTURE_CLIENT_H
#define ADL_FIXTURE_CLIENT_H

#include "adl-test.h"
#include "fixture.h"
#include "pokedex.h"

#include <strings.h>
#include <uv.h>

#define GUARD_MS 10000
#define MAX_RESP 16

/* ---- harness ----------------------------------------------------------- */

typedef struct env_s {
  uv_loop_t loop;
  uv_timer_t guard, tick;
  int guard_fired, tick_fired, fx_closed;
  fixture_t *fx;
  int port;
} env_t;

typedef int (*pred_fn)(void *arg);

static inline void on_guard(uv_timer_t *t) { ((env_t *)t->data)->guard_fired = 1; }
static inline void on_tick(uv_timer_t *t) { ((env_t *)t->data)->tick_fired = 1; }

static inline void env_init(env_t *e, const fixture_opts_t *o) {
  memset(e, 0, sizeof *e);
  ASSERT_EQ(uv_loop_init(&e->loop), 0);
  uv_timer_init(&e->loop, &e->guard);
  uv_timer_init(&e->loop, &e->tick);
  e->guard.data = e->tick.data = e;
  ASSERT_EQ(fixture_start(&e->loop, o, &e->fx), 0);
  e->port = fixture_port(e->fx);
  ASSERT_GT(e->port, 0);
}

/* Runs the loop until pred(arg) holds; fails after GUARD_MS. */
static inline void run_until_(env_t *e, pred_fn pred, void *arg, int line) {
  e->guard_fired = 0;
  uv_timer_start(&e->guard, on_guard, GUARD_MS, 0);
  while (!pred(arg) && !e->guard_fired)
    uv_run(&e->loop, UV_RUN_ONCE);
  uv_timer_stop(&e->guard);
  if (e->guard_fired && !pred(arg))
    ADL_FAIL_("line %d: condition not reached within %d ms", line, GUARD_MS);
}
#define run_until(e, pred, arg) run_until_((e), (pred), (arg), __LINE__)

static inline int tick_fired(void *arg) { return ((env_t *)arg)->tick_fired; }

/* Lets the loop run for ms of loop time (a timer, not a sleep). */
static inline void run_for(env_t *e, unsigned ms) {
  e->tick_fired = 0;
  uv_timer_start(&e->tick, on_tick, ms, 0);
  run_until(e, tick_fired, e);
}

static inline void on_fx_closed(void *arg) { ((env_t *)arg)->fx_closed++; }
static inline int fx_closed(void *arg) { return ((env_t *)arg)->fx_closed != 0; }

static inline void env_finish(env_t *e) {
  if (e->fx != NULL) {
    fixture_close(e->fx, on_fx_closed, e);
    fixture_close(e->fx, on_fx_closed, e); /* second call is ignored */
    run_until(e, fx_closed, e);
  }
  uv_close((uv_handle_t *)&e->guard, NULL);
  uv_close((uv_handle_t *)&e->tick, NULL);
  ADL_TEST_LOOP_CLOSE(&e->loop);
  if (e->fx != NULL)
    ASSERT_EQ(e->fx_closed, 1);
}

typedef struct {
  env_t *e;
  fixture_stats_t st;
} stat_wait_t;

static inline fixture_stats_t stats(env_t *e) {
  fixture_stats_t st;
  fixture_get_stats(e->fx, &st);
  return st;
}

static inline int server_idle(void *arg) {
  env_t *e = arg;
  fixture_stats_t st = stats(e);
  return st.open_connections == 0 && st.inflight == 0;
}

/* ---- raw client ---------------------------------------------------------- */

typedef struct resp_s {
  int status;
  size_t head_off, head_len, body_off, body_len;
  long long clen; /* -1 when absent */
  int complete;
  uint64_t done_ns;
} resp_t;

typedef struct client_s {
  env_t *e;
  uv_tcp_t tcp;
  uv_connect_t creq;
  int connect_status; /* 1 until connected */
  char *rx;
  size_t rxlen, rxcap;
  int discard;      /* count bytes only (huge bodies) */
  uint64_t total;   /* bytes received */
  int eof, err, closed;
  unsigned head_only; /* bit i: response i answers a HEAD */
  size_t parsed;
  int nresp;
  resp_t resp[MAX_RESP];
} client_t;

static inline const char *find_header(client_t *c, const resp_t *r, const char *name,
                               size_t *vlen) {
  const char *h = c->rx + r->head_off, *end = h + r->head_len;
  size_t n = strlen(name);
  for (const char *l = h; l < end;) {
    const char *nl = memchr(l, '\n', (size_t)(end - l));
    if (nl == NULL)
      break;
    if ((size_t)(nl - l) > n + 1 && strncasecmp(l, name, n) == 0 &&
        l[n] == ':') {
      const char *v = l + n + 1;
      while (*v == ' ')
        v++;
      *vlen = (size_t)(nl - v) - (nl > v && nl[-1] == '\r');
      return v;
    }
    l = nl + 1;
  }
  return NULL;
}

static inline int header_is(client_t *c, int i, const char *name, const char *want) {
  size_t n;
  const char *v = find_header(c, &c->resp[i], name, &n);
  return v != NULL && n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* Parses complete responses out of rx; a body without a length ends at
 * EOF (then at_eof finalises it). */
static inline void client_parse(client_t *c, int at_eof) {
  while (c->nresp < MAX_RESP && c->parsed < c->rxlen) {
    resp_t *r = &c->resp[c->nresp];
    char *s = c->rx + c->parsed;
    size_t avail = c->rxlen - c->parsed;
    char *hend = memmem(s, avail, "\r\n\r\n", 4);
    if (hend == NULL)
      return;
    memset(r, 0, sizeof *r);
    r->head_off = c->parsed;
    r->head_len = (size_t)(hend - s) + 4;
    r->body_off = r->head_off + r->head_len;
    r->status = strncmp(s, "HTTP/1.1 ", 9) == 0 ? atoi(s + 9) : -1;
    size_t vn;
    const char *v = find_header(c, r, "Content-Length", &vn);
    r->clen = v ? atoll(v) : -1;
    long long need = r->clen;
    if ((c->head_only >> c->nresp) & 1 || r->status == 204 ||
        r->status == 304)
      need = 0;
    if (need < 0) {
      if (!at_eof)
        return;
      need = (long long)(c->rxlen - r->body_off);
    }
    r->complete = (long long)(c->rxlen - r->body_off) >= need;
    if (!r->complete) {
      if (!at_eof)
        return;
      need = (long long)(c->rxlen - r->body_off); /* truncated by EOF */
    }
    r->body_len = (size_t)need;
    r->done_ns = uv_hrtime();
    c->parsed = r->body_off + r->body_len;
    c->nresp++;
  }
}

static inline void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  client_t *c = h->data;
  (void)hint;
  if (c->discard)
    c->rxlen = 0;
  if (c->rxcap - c->rxlen < 65536) {
    c->rxcap = c->rxcap * 2 + 65536;
    c->rx = realloc(c->rx, c->rxcap);
    ASSERT(c->rx != NULL);
  }
  *buf = uv_buf_init(c->rx + c->rxlen, (unsigned)(c->rxcap - c->rxlen));
}

static inline void cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  client_t *c = s->data;
  (void)buf;
  if (n > 0) {
    c->total += (uint64_t)n;
    if (!c->discard) {
      c->rxlen += (size_t)n;
      client_parse(c, 0);
    }
  } else if (n < 0) {
    if (n == UV_EOF) {
      c->eof = 1;
      client_parse(c, 1);
    } else {
      c->err = (int)n;
    }
    uv_read_stop(s);
  }
}

static inline void cl_connected(uv_connect_t *req, int status) {
  client_t *c = req->data;
  c->connect_status = status;
  if (status == 0)
    ASSERT_EQ(uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read), 0);
}

static inline int cl_is_connected(void *arg) {
  return ((client_t *)arg)->connect_status != 1;
}

static inline void cl_connect(env_t *e, client_t *c) {
  struct sockaddr_in a;
  memset(c, 0, sizeof *c);
  c->e = e;
  c->connect_status = 1;
  ASSERT_EQ(uv_ip4_addr("127.0.0.1", e->port, &a), 0);
  ASSERT_EQ(uv_tcp_init(&e->loop, &c->tcp), 0);
  c->tcp.data = c;
  c->creq.data = c;
  ASSERT_EQ(uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a,
                           cl_connected),
            0);
  run_until(e, cl_is_connected, c);
  ASSERT_EQ(c->connect_status, 0);
}

typedef struct {
  uv_write_t req;
  char data[];
} cl_write_t;

static inline void cl_written(uv_write_t *req, int status) {
  (void)status; /* EPIPE / ECONNRESET are expected in fault tests */
  free(req);
}

static inline void cl_send_n(client_t *c, const char *data, size_t n) {
  cl_write_t *w = malloc(sizeof *w + n + 1);
  ASSERT(w != NULL);
  memcpy(w->data, data, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  ASSERT_EQ(uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, cl_written), 0);
}

static inline void cl_send(client_t *c, const char *data) {
  cl_send_n(c, data, strlen(data));
}

/* Sends "GET target HTTP/1.1" with Host and optional extra header lines. */
static inline void cl_get(client_t *c, const char *method, const char *target,
                   const char *extra) {
  char req[1024];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
           method, target, extra ? extra : "");
  cl_send(c, req);
}

typedef struct {
  client_t *c;
  int n;
} want_t;

static inline int got_n(void *arg) {
  want_t *w = arg;
  return w->c->nresp >= w->n || w->c->eof || w->c->err;
}

/* Waits for the response count to reach n; fails on EOF/error before. */
static inline void cl_wait(client_t *c, int n) {
  want_t w = {c, n};
  run_until(c->e, got_n, &w);
  if (c->nresp < n)
    ADL_FAIL_("wanted %d responses, got %d (eof %d err %s)", n, c->nresp,
              c->eof, c->err ? uv_err_name(c->err) : "-");
}

static inline int gone(void *arg) {
  client_t *c = arg;
  return c->eof || c->err;
}

static inline void cl_wait_gone(client_t *c) { run_until(c->e, gone, c); }

static inline void cl_closed(uv_handle_t *h) { ((client_t *)h->data)->closed = 1; }
static inline int is_closed(void *arg) { return ((client_t *)arg)->closed; }

static inline void cl_close(client_t *c) {
  uv_close((uv_handle_t *)&c->tcp, cl_closed);
  run_until(c->e, is_closed, c);
  free(c->rx);
  c->rx = NULL;
}

/* Asserts that response i is status with exactly pokedex_body(name). */
static inline void expect_pokemon(client_t *c, int i, const char *name) {
  char *body;
  size_t len;
  const resp_t *r = &c->resp[i];
  ASSERT(r->complete);
  ASSERT_EQ(pokedex_body(name, &body, &len), 0);
  ASSERT_EQ(r->status, 200);
  ASSERT(header_is(c, i, "Content-Type", "application/json"));
  ASSERT_EQ(r->clen, (long long)len);
  ASSERT_EQ(r->body_len, len);
  ASSERT(memcmp(c->rx + r->body_off, body, len) == 0);
  free(body);
}

static inline int body_has(client_t *c, int i, const char *needle) {
  const resp_t *r = &c->resp[i];
  return memmem(c->rx + r->body_off, r->body_len, needle, strlen(needle)) !=
         NULL;
}

static inline int stats_requests_at_least(void *arg) {
  stat_wait_t *w = arg;
  return stats(w->e).requests >= w->st.requests;
}

#endif /* ADL_FIXTURE_CLIENT_H */
