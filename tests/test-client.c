/* Engine integration tests against the in-process fixture server, which
 * counts accepted connections and requests: the three strategies (with
 * their connection counts and byte-identical bodies), cancel, close while
 * busy, close from inside a callback, file sinks, retries and URL errors. */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"
#include "fixture.h"
#include "pokedex.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXREQ 256

typedef struct body_s {
  char *buf;
  size_t len, cap;
  const char *name;
} body_t;

typedef struct ctx_s {
  uv_loop_t loop;
  fixture_t *fx;
  adl_client_t *client;
  body_t bodies[MAXREQ];
  adl_result_t results[MAXREQ];
  unsigned done_calls[MAXREQ];
  unsigned ndone;
  unsigned close_calls;
  int close_on_first_done;
  char base[128];
} ctx_t;

static ctx_t *g_ctx; /* only to index results from callbacks */
static void on_closed_fwd(adl_client_t *c);

static int g_close_in_data; /* close the client from inside curl's callback */

static int on_data(adl_request_t *r, const char *buf, size_t len) {
  body_t *b = adl_request_get_data(r);
  if (g_close_in_data) {
    g_close_in_data = 0;
    adl_client_close(g_ctx->client, on_closed_fwd);
  }
  if (b->len + len > b->cap) {
    size_t cap = (b->len + len) * 2;
    char *nb = realloc(b->buf, cap);
    ASSERT(nb != NULL);
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->len, buf, len);
  b->len += len;
  return 0;
}

static void on_closed(adl_client_t *c) {
  ctx_t *x = adl_client_get_data(c);
  x->close_calls++;
}

static void on_closed_fwd(adl_client_t *c) { on_closed(c); }

static void on_done(adl_request_t *r, const adl_result_t *res) {
  ctx_t *x = g_ctx;
  body_t *b = adl_request_get_data(r);
  size_t i = (size_t)(b - x->bodies);
  ASSERT(i < MAXREQ);
  x->done_calls[i]++;
  x->results[i] = *res;
  x->results[i].message = NULL; /* borrowed: do not keep */
  x->results[i].url = NULL;
  x->ndone++;
  if (x->close_on_first_done && x->ndone == 1)
    adl_client_close(x->client, on_closed);
}

static void fixture_closed(void *arg) { *(int *)arg = 1; }

/* The fixture's listener keeps the loop alive, so run until n outcomes. */
static void run_until(ctx_t *x, unsigned n) {
  while (x->ndone < n)
    uv_run(&x->loop, UV_RUN_ONCE);
}

static int g_server_keep_alive = 1; /* 0: the fixture closes each time */

static void setup(ctx_t *x, unsigned rtt) {
  memset(x, 0, sizeof(*x));
  g_ctx = x;
  ASSERT_EQ(uv_loop_init(&x->loop), 0);
  fixture_opts_t fo;
  fixture_opts_init(&fo);
  fo.rtt_ms = rtt;
  fo.keep_alive = g_server_keep_alive;
  ASSERT_EQ(fixture_start(&x->loop, &fo, &x->fx), 0);
  snprintf(x->base, sizeof(x->base), "http://127.0.0.1:%d",
           fixture_port(x->fx));
}

static void new_client(ctx_t *x, adl_strategy_t s, unsigned k,
                       unsigned retries) {
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = s;
  o.max_connections = k;
  o.retries = retries;
  o.retry_base_ms = 5;
  o.timeout_ms = 10000;
  ASSERT_EQ(adl_client_new(&x->loop, &o, &x->client), 0);
  adl_client_set_data(x->client, x);
}

static adl_request_id_t submit(ctx_t *x, unsigned i, const char *path,
                               const char *name) {
  char url[256];
  snprintf(url, sizeof(url), "%s%s", x->base, path);
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.sink = ADL_SINK_CALLBACK;
  ro.on_data = on_data;
  ro.on_done = on_done;
  ro.data = &x->bodies[i];
  x->bodies[i].name = name;
  adl_request_id_t id = 0;
  ASSERT_EQ(adl_request_start(x->client, url, &ro, &id), 0);
  ASSERT(id != 0);
  return id;
}

static void teardown(ctx_t *x) {
  if (x->client != NULL && x->close_calls == 0)
    adl_client_close(x->client, on_closed);
  while (x->close_calls == 0)
    uv_run(&x->loop, UV_RUN_ONCE);
  ASSERT_EQ(x->close_calls, 1);
  int fx_closed = 0;
  fixture_close(x->fx, fixture_closed, &fx_closed);
  ADL_TEST_LOOP_CLOSE(&x->loop);
  ASSERT_EQ(fx_closed, 1);
  for (unsigned i = 0; i < MAXREQ; i++)
    free(x->bodies[i].buf);
}

static void check_body(const body_t *b) {
  char *want;
  size_t wlen;
  ASSERT_EQ(pokedex_body(b->name, &want, &wlen), 0);
  ASSERT_EQ(b->len, wlen);
  ASSERT(memcmp(b->buf, want, wlen) == 0);
  free(want);
}

/* Runs n pokemon through strategy s; returns the fixture's counters. */
static void run_list(adl_strategy_t s, unsigned k, unsigned n, unsigned rtt,
                     fixture_stats_t *st) {
  ctx_t x;
  setup(&x, rtt);
  new_client(&x, s, k, 0);
  for (unsigned i = 0; i < n; i++) {
    char path[128];
    snprintf(path, sizeof(path), "/api/v2/pokemon/%s", pokedex_names[i]);
    submit(&x, i, path, pokedex_names[i]);
  }
  run_until(&x, n);
  ASSERT_EQ(x.ndone, n);
  unsigned new_conns = 0;
  for (unsigned i = 0; i < n; i++) {
    ASSERT_EQ(x.done_calls[i], 1);
    ASSERT_EQ(x.results[i].status, 0);
    ASSERT_EQ(x.results[i].http_status, 200);
    ASSERT_EQ(x.results[i].bytes, x.bodies[i].len);
    check_body(&x.bodies[i]);
    new_conns += x.results[i].new_connections;
    ASSERT_EQ(x.results[i].dns_us, 0); /* numeric host: no lookup */
    ASSERT_GT(x.results[i].local_port, 0);
    ASSERT_GT(x.results[i].total_us, 0);
    ASSERT_GT(x.results[i].ttfb_us, 0);
    ASSERT_LE(x.results[i].ttfb_us, x.results[i].total_us);
    if (x.results[i].new_connections > 0)
      ASSERT_GT(x.results[i].connect_us, 0);
    else
      ASSERT_EQ(x.results[i].connect_us, 0);
    /* The fixture answers "Connection: close" exactly when it closes. */
    ASSERT_EQ(x.results[i].server_closed, !g_server_keep_alive);
    ASSERT_GT(x.results[i].admitted_at_us, 0);
    /* One at a time: each is admitted once the one before is done. */
    if (i > 0 && s != ADL_STRATEGY_PARALLEL)
      ASSERT_GE(x.results[i].admitted_at_us + 1,
                x.results[i - 1].admitted_at_us + x.results[i - 1].total_us);
  }
  /* The local port tells connections apart: one for session, a new one
   * for every serial request. */
  unsigned distinct_ports = 0;
  for (unsigned i = 0; i < n; i++) {
    unsigned j = 0;
    while (j < i && x.results[j].local_port != x.results[i].local_port)
      j++;
    distinct_ports += j == i;
  }
  if (s == ADL_STRATEGY_SESSION && g_server_keep_alive)
    ASSERT_EQ(distinct_ports, 1);
  if (s == ADL_STRATEGY_SERIAL)
    ASSERT_EQ(distinct_ports, n);
  fixture_get_stats(x.fx, st);
  /* The client's own count of opened connections agrees with the server. */
  ASSERT_EQ(new_conns, st->connections_accepted);
  ASSERT_EQ(st->requests, n);
  teardown(&x);
}

static void test_serial(void) {
  fixture_stats_t st;
  run_list(ADL_STRATEGY_SERIAL, 1, 20, 0, &st);
  ASSERT_EQ(st.connections_accepted, 20);
  ASSERT_EQ(st.max_inflight, 1);
}

static void test_session(void) {
  fixture_stats_t st;
  run_list(ADL_STRATEGY_SESSION, 1, 40, 0, &st);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_EQ(st.max_inflight, 1);
}

/* A server that closes after every response (Connection: close): session
 * cannot reuse, and every result says why. */
static void test_server_closes(void) {
  fixture_stats_t st;
  g_server_keep_alive = 0;
  run_list(ADL_STRATEGY_SESSION, 1, 10, 0, &st);
  g_server_keep_alive = 1;
  ASSERT_EQ(st.connections_accepted, 10);
}

static void test_parallel(void) {
  fixture_stats_t st;
  /* A few ms of emulated latency make the requests overlap for sure. */
  run_list(ADL_STRATEGY_PARALLEL, 6, 60, 3, &st);
  ASSERT_GE(st.connections_accepted, 2);
  ASSERT_LE(st.connections_accepted, 6);
  ASSERT_GE(st.max_inflight, 2);
  ASSERT_LE(st.max_open_connections, 6);
}

static void test_cancel_and_close(void) {
  ctx_t x;
  setup(&x, 0);
  new_client(&x, ADL_STRATEGY_PARALLEL, 4, 0);
  adl_request_id_t r[10];
  for (unsigned i = 0; i < 10; i++)
    r[i] = submit(&x, i, "/fault/stall-headers", NULL);
  /* Let the first four reach the server, then cancel one running and one
   * still queued; close the client with the rest in flight. */
  fixture_stats_t st;
  for (fixture_get_stats(x.fx, &st); st.requests < 4;
       fixture_get_stats(x.fx, &st))
    uv_run(&x.loop, UV_RUN_ONCE);
  ASSERT_EQ(adl_request_cancel(x.client, r[0]), 0);
  ASSERT_EQ(adl_request_cancel(x.client, r[9]), 0);
  /* Twice is harmless: the outcome is already set. */
  ASSERT_EQ(adl_request_cancel(x.client, r[9]), ADL_ENOENT);
  ASSERT_EQ(adl_request_cancel(x.client, 0), ADL_ENOENT);
  adl_client_close(x.client, on_closed);
  ASSERT_EQ(x.ndone, 0); /* never inside the call */
  teardown(&x);
  for (unsigned i = 0; i < 10; i++) {
    ASSERT_EQ(x.done_calls[i], 1);
    ASSERT_EQ(x.results[i].status, ADL_ECANCELED);
  }
}

static void test_close_from_callback(void) {
  ctx_t x;
  setup(&x, 0);
  new_client(&x, ADL_STRATEGY_SERIAL, 1, 0);
  x.close_on_first_done = 1;
  for (unsigned i = 0; i < 5; i++) {
    char path[128];
    snprintf(path, sizeof(path), "/api/v2/pokemon/%s", pokedex_names[i]);
    submit(&x, i, path, pokedex_names[i]);
  }
  run_until(&x, 5);
  teardown(&x);
  ASSERT_EQ(x.results[0].status, 0);
  for (unsigned i = 1; i < 5; i++) {
    ASSERT_EQ(x.done_calls[i], 1);
    ASSERT_EQ(x.results[i].status, ADL_ECANCELED);
  }
}

/* Closing from inside a body callback (curl's write callback): the
 * transfers still end in one cancelled outcome each. */
static void test_close_from_data_callback(void) {
  ctx_t x;
  setup(&x, 0);
  new_client(&x, ADL_STRATEGY_PARALLEL, 3, 0);
  for (unsigned i = 0; i < 3; i++) {
    char path[128];
    snprintf(path, sizeof(path), "/fault/big/%u", 4000000 + i);
    submit(&x, i, path, NULL);
  }
  submit(&x, 3, "/api/v2/pokemon/mew", "mew"); /* still queued */
  g_close_in_data = 1;
  run_until(&x, 4);
  teardown(&x);
  for (unsigned i = 0; i < 4; i++) {
    ASSERT_EQ(x.done_calls[i], 1);
    ASSERT_EQ(x.results[i].status, ADL_ECANCELED);
  }
}

static void test_errors_and_retries(void) {
  ctx_t x;
  setup(&x, 0);
  new_client(&x, ADL_STRATEGY_PARALLEL, 4, 2);
  submit(&x, 0, "/fault/flaky/7?fail=2", "7");
  submit(&x, 1, "/fault/flaky/8?fail=5", NULL);
  submit(&x, 2, "/fault/status/404", NULL);
  submit(&x, 3, "/api/v2/pokemon/pikachu", "pikachu");
  char url[64];
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.data = &x.bodies[4];
  ASSERT_EQ(adl_request_start(x.client, "ftp://127.0.0.1/x", &ro, NULL), 0);
  ro.data = &x.bodies[5];
  ASSERT_EQ(adl_request_start(x.client, "http://[::1", &ro, NULL), 0);
  ro.data = &x.bodies[6];
  snprintf(url, sizeof(url), "http://127.0.0.1:1/refused");
  ASSERT_EQ(adl_request_start(x.client, url, &ro, NULL), 0);
  run_until(&x, 7);
  ASSERT_EQ(x.ndone, 7);
  ASSERT_EQ(x.results[0].status, 0);
  ASSERT_EQ(x.results[0].attempts, 3);
  ASSERT_EQ(x.results[1].status, ADL_EHTTP);
  ASSERT_EQ(x.results[1].http_status, 503);
  ASSERT_EQ(x.results[1].attempts, 3);
  ASSERT_EQ(x.results[2].status, ADL_EHTTP);
  ASSERT_EQ(x.results[2].attempts, 1);
  ASSERT_EQ(x.results[3].status, 0);
  check_body(&x.bodies[3]);
  ASSERT_EQ(x.results[4].status, ADL_ESCHEME);
  ASSERT_EQ(x.results[5].status, ADL_EURL);
  ASSERT_EQ(x.results[6].status, ADL_ECONNREFUSED);
  for (unsigned i = 0; i < 7; i++)
    ASSERT_EQ(x.done_calls[i], 1);
  teardown(&x);
}

static void test_file_sink(void) {
  ctx_t x;
  setup(&x, 0);
  new_client(&x, ADL_STRATEGY_SESSION, 1, 0);
  char dir[] = "/tmp/adl-test-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  const char *paths[] = {"/api/v2/pokemon/mew", "/fault/short",
                         "/fault/status/500", "/fault/reset-mid"};
  for (unsigned i = 0; i < 4; i++) {
    char url[256], file[256];
    snprintf(url, sizeof(url), "%s%s", x.base, paths[i]);
    snprintf(file, sizeof(file), "%s/f%u.json", dir, i);
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.sink = ADL_SINK_FILE;
    ro.path = file;
    ro.on_done = on_done;
    ro.data = &x.bodies[i];
    ASSERT_EQ(adl_request_start(x.client, url, &ro, NULL), 0);
  }
  run_until(&x, 4);
  ASSERT_EQ(x.results[0].status, 0);
  ASSERT_NE(x.results[1].status, 0);
  ASSERT_EQ(x.results[2].status, ADL_EHTTP);
  ASSERT_NE(x.results[3].status, 0);
  /* Only the complete download exists, and no temporary file remains. */
  ASSERT_EQ(adl_test_dir_entries(dir), 1);
  char file[256];
  snprintf(file, sizeof(file), "%s/f0.json", dir);
  FILE *f = fopen(file, "rb");
  ASSERT(f != NULL);
  body_t got = {.name = "mew"};
  got.cap = 1 << 16;
  got.buf = malloc(got.cap);
  got.len = fread(got.buf, 1, got.cap, f);
  fclose(f);
  check_body(&got);
  free(got.buf);
  unlink(file);
  rmdir(dir);
  teardown(&x);
}

int main(void) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(adl_library_init(), 0);
  test_serial();
  test_session();
  test_server_closes();
  test_parallel();
  test_cancel_and_close();
  test_close_from_callback();
  test_close_from_data_callback();
  test_errors_and_retries();
  test_file_sink();
  adl_library_shutdown();
  printf("test-client: all passed\n");
  return 0;
}
