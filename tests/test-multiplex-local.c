/* multiplex against the in-process fixture's HTTP/2 (prior knowledge),
 * counted on the server side: every document a stream of ONE connection,
 * streams overlapping, and never more streams open than the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS or max_streams allow, whichever is
 * lower. Each run has a watchdog. */
#include "adl-test.h"
#include "asyncdl.h"
#include "fixture.h"
#include "pokedex.h"

#include <stdio.h>
#include <string.h>

#define WATCHDOG_MS 20000

static uv_loop_t loop;
static unsigned done, ok, h2, left;
static uint64_t bytes;

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  ADL_FAIL_("watchdog: %u of the requests never completed", left);
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  (void)r;
  done++;
  left--;
  ok += res->status == 0;
  h2 += res->http_version == 20;
  bytes += res->bytes;
  if (res->status != 0)
    fprintf(stderr, "  %s: %s (%s)\n", res->url, adl_err_name(res->status),
            res->message);
}

static void closed(adl_client_t *c) { *(int *)adl_client_get_data(c) = 1; }
static void fx_closed(void *arg) { *(int *)arg = 1; }

/* Fetches n documents with multiplex from a fixture advertising
 * server_streams; returns the fixture's counters. */
static fixture_stats_t run(unsigned n, unsigned server_streams,
                           unsigned max_streams, unsigned rtt_ms) {
  fixture_opts_t fo;
  fixture_opts_init(&fo);
  fo.h2_max_streams = server_streams;
  fo.rtt_ms = rtt_ms;
  fixture_t *fx;
  ASSERT_EQ(fixture_start(&loop, &fo, &fx), 0);
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_MULTIPLEX;
  o.h2_prior_knowledge = 1;
  o.max_streams = max_streams;
  o.retries = 0; /* a refused stream must not hide behind a retry */
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  done = ok = h2 = 0;
  bytes = 0;
  left = n;
  for (unsigned i = 0; i < n; i++) {
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/pokemon/%s",
             fixture_port(fx), pokedex_names[i % POKEDEX_COUNT]);
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.on_done = on_done;
    ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
  }
  uv_timer_t wd;
  uv_timer_init(&loop, &wd);
  uv_timer_start(&wd, on_watchdog, WATCHDOG_MS, 0);
  while (left > 0)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&wd, NULL);
  fixture_stats_t st;
  fixture_get_stats(fx, &st);
  int c_closed = 0, f_closed = 0;
  adl_client_set_data(c, &c_closed);
  adl_client_close(c, closed);
  fixture_close(fx, fx_closed, &f_closed);
  while (!c_closed || !f_closed)
    uv_run(&loop, UV_RUN_ONCE);
  printf("%u docs, server streams %u, max_streams %u: %u ok, %u HTTP/2, "
         "%llu connection(s), at most %u streams open\n",
         n, server_streams, max_streams, ok, h2,
         (unsigned long long)st.connections_accepted,
         st.h2_max_open_streams);
  ASSERT_EQ(ok, n);
  if (max_streams <= server_streams) {
    ASSERT_EQ(h2, n);
    ASSERT_EQ(st.connections_accepted, 1);
    ASSERT_EQ(st.h2_connections, 1);
    ASSERT_EQ(st.h2_streams, n);
  }
  return st;
}

int main(void) {
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ASSERT_EQ(adl_library_init(), 0);
  /* The whole list on one connection, streams overlapping. */
  fixture_stats_t st = run(POKEDEX_COUNT, 128, 100, 50);
  ASSERT(st.h2_max_open_streams > 10); /* about 100; fewer under valgrind */
  ASSERT(st.h2_max_open_streams <= 100);
  /* max_streams 3 below the server's 128: at most 3 open. */
  st = run(40, 128, 3, 5);
  ASSERT(st.h2_max_open_streams >= 2 && st.h2_max_open_streams <= 3);
  /* The server's 4 with max_streams 4: at most 4, one connection. */
  st = run(40, 4, 4, 5);
  ASSERT(st.h2_max_open_streams >= 2 && st.h2_max_open_streams <= 4);
  /* A limit known: the server's SETTINGS after the first answer. The
   * first burst goes before them, so a server allowing fewer than
   * max_streams refuses the excess (REFUSED_STREAM) and libcurl 7.88
   * retries it on a connection of its own (documented in asyncdl.h):
   * every document still arrives, and the server never has more open. */
  st = run(40, 4, 100, 5);
  ASSERT(st.h2_max_open_streams <= 4);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  adl_library_shutdown();
  printf("test-multiplex-local: passed\n");
  return 0;
}
