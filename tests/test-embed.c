/* Embedding: a host program with its own 1 ms repeating timer and its own
 * TCP echo server (with a client pinging it) shares the loop with a
 * 151-request parallel download. The host's handles must keep working
 * during the download, uv_run must return once the client is idle (an idle
 * client holds no referenced handle), and after adl_client_close no
 * asyncdl handle is left: uv_loop_close returns 0.
 *
 * The handles are told apart by address: the host knows its own (and keeps
 * one, an unreferenced check handle, open to the end), the handles
 * adl_client_new adds are the library's. A library handle left open after
 * adl_client_close, one of its handles closed while the client is still
 * open, or a referenced one while it is idle, fails the test. */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"
#include "fixture.h"
#include "pokedex.h"

#include <string.h>

typedef struct host_s {
  uv_loop_t loop;
  uv_timer_t tick;
  uv_tcp_t server;
  uv_tcp_t peer;   /* accepted side */
  uv_tcp_t client; /* connecting side */
  uv_connect_t conn_req;
  uv_check_t sentinel; /* the host's own, open until after the client */
  uint64_t ticks;
  uint64_t ticks_during_download;
  uint64_t echoes;
  uint64_t echoes_during_download;
  int downloading;
  char rbuf[64], pbuf[64];
  fixture_t *fx;
  adl_client_t *dl;
  adl_summary_t sum;
  int batch_done;
  unsigned next_idx;
  char urls[POKEDEX_COUNT][160];
  int client_closed;
  int fixture_closed;
} host_t;

static host_t H;

static void alloc_r(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)sz;
  *b = uv_buf_init(h == (uv_handle_t *)&H.peer ? H.pbuf : H.rbuf, 64);
}

static void ping(void);

static void on_written(uv_write_t *w, int st) {
  ASSERT_EQ(st, 0);
  free(w);
}

static void send_str(uv_tcp_t *t, const char *s) {
  uv_write_t *w = malloc(sizeof(*w));
  ASSERT(w != NULL);
  uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
  ASSERT_EQ(uv_write(w, (uv_stream_t *)t, &b, 1, on_written), 0);
}

/* The server echoes; the client counts echoes and pings again. */
static void on_peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n > 0)
    send_str((uv_tcp_t *)s, "pong");
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)s;
  (void)b;
  if (n > 0) {
    H.echoes++;
    if (H.downloading)
      H.echoes_during_download++;
    ping();
  }
}

static void ping(void) {
  if (!uv_is_closing((uv_handle_t *)&H.client))
    send_str(&H.client, "ping");
}

static void on_conn(uv_stream_t *srv, int st) {
  ASSERT_EQ(st, 0);
  ASSERT_EQ(uv_tcp_init(&H.loop, &H.peer), 0);
  ASSERT_EQ(uv_accept(srv, (uv_stream_t *)&H.peer), 0);
  uv_read_start((uv_stream_t *)&H.peer, alloc_r, on_peer_read);
}

static void on_connected(uv_connect_t *r, int st) {
  (void)r;
  ASSERT_EQ(st, 0);
  uv_read_start((uv_stream_t *)&H.client, alloc_r, on_client_read);
  ping();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  H.ticks++;
  if (H.downloading)
    H.ticks_during_download++;
}

static int next(adl_batch_t *b, const char **url, const char **path,
                void **item) {
  (void)b;
  (void)path;
  if (H.next_idx >= POKEDEX_COUNT)
    return 0;
  *item = NULL;
  *url = H.urls[H.next_idx++];
  return 1;
}

static void stop_host(void) {
  uv_close((uv_handle_t *)&H.tick, NULL);
  uv_close((uv_handle_t *)&H.server, NULL);
  uv_close((uv_handle_t *)&H.peer, NULL);
  uv_close((uv_handle_t *)&H.client, NULL);
  /* The sentinel stays open: it is closed after the client. */
}

static void on_fixture_closed(void *arg) {
  (void)arg;
  H.fixture_closed = 1;
}

static void on_batch(adl_batch_t *b, const adl_summary_t *s) {
  (void)b;
  H.sum = *s;
  H.batch_done = 1;
  H.downloading = 0;
  /* The host winds down its own handles and the test server; the asyncdl
   * client stays open but idle, so uv_run must return by itself. */
  stop_host();
  fixture_close(H.fx, on_fixture_closed, NULL);
}

static void on_client_closed(adl_client_t *c) {
  (void)c;
  H.client_closed++;
}

static int is_host_handle(const uv_handle_t *h) {
  return h == (uv_handle_t *)&H.tick || h == (uv_handle_t *)&H.server ||
         h == (uv_handle_t *)&H.peer || h == (uv_handle_t *)&H.client ||
         h == (uv_handle_t *)&H.sentinel;
}

/* Handles on the loop, split into the host's and the others (the fixture's
 * and the library's); among the others, the ones that keep uv_run going
 * (active and referenced) and the closing ones. */
typedef struct census_s {
  unsigned host, other, other_ref, other_closing;
} census_t;

static void walk_cb(uv_handle_t *h, void *arg) {
  census_t *c = arg;
  if (is_host_handle(h)) {
    c->host++;
    return;
  }
  c->other++;
  if (uv_is_active(h) && uv_has_ref(h)) /* keeps uv_run going */
    c->other_ref++;
  if (uv_is_closing(h))
    c->other_closing++;
}

static census_t census(void) {
  census_t c = {0, 0, 0, 0};
  uv_walk(&H.loop, walk_cb, &c);
  return c;
}

int main(void) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(adl_library_init(), 0);
  ASSERT_EQ(uv_loop_init(&H.loop), 0);
  fixture_opts_t fo;
  fixture_opts_init(&fo);
  fo.rtt_ms = 2; /* long enough for the host to get ticks in */
  ASSERT_EQ(fixture_start(&H.loop, &fo, &H.fx), 0);
  for (unsigned i = 0; i < POKEDEX_COUNT; i++)
    snprintf(H.urls[i], sizeof(H.urls[i]),
             "http://127.0.0.1:%d/api/v2/pokemon/%s", fixture_port(H.fx),
             pokedex_names[i]);

  ASSERT_EQ(uv_timer_init(&H.loop, &H.tick), 0);
  ASSERT_EQ(uv_timer_start(&H.tick, on_tick, 1, 1), 0);
  struct sockaddr_in addr;
  ASSERT_EQ(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ASSERT_EQ(uv_tcp_init(&H.loop, &H.server), 0);
  ASSERT_EQ(uv_tcp_bind(&H.server, (struct sockaddr *)&addr, 0), 0);
  ASSERT_EQ(uv_listen((uv_stream_t *)&H.server, 8, on_conn), 0);
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  ASSERT_EQ(uv_tcp_getsockname(&H.server, (struct sockaddr *)&bound, &blen),
            0);
  ASSERT_EQ(uv_tcp_init(&H.loop, &H.client), 0);
  ASSERT_EQ(uv_tcp_connect(&H.conn_req, &H.client,
                           (struct sockaddr *)&bound, on_connected),
            0);

  ASSERT_EQ(uv_check_init(&H.loop, &H.sentinel), 0);
  uv_unref((uv_handle_t *)&H.sentinel);

  adl_options_t o;
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_PARALLEL;
  o.max_connections = 6;
  census_t pre = census();
  ASSERT_EQ(pre.host, 4); /* tick, server, sentinel, client; no peer yet */
  ASSERT_EQ(adl_client_new(&H.loop, &o, &H.dl), 0);
  census_t post = census();
  ASSERT_EQ(post.host, pre.host);
  /* What adl_client_new added is the library's: it has handles of its own
   * (its timers and loop hooks), none of them keeping uv_run going. */
  unsigned lib_fixed = post.other - pre.other;
  ASSERT_GT(lib_fixed, 0);
  ASSERT_EQ(post.other_ref, pre.other_ref);
  adl_batch_opts_t bo;
  adl_batch_opts_init(&bo);
  bo.next = next;
  bo.done = on_batch;
  H.downloading = 1;
  uint64_t t0 = uv_hrtime();
  ASSERT_EQ(adl_batch_start(H.dl, &bo, NULL), 0);

  uv_run(&H.loop, UV_RUN_DEFAULT);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;

  ASSERT_EQ(H.batch_done, 1);
  ASSERT_EQ(H.sum.requests, POKEDEX_COUNT);
  ASSERT_EQ(H.sum.ok, POKEDEX_COUNT);
  ASSERT_EQ(H.sum.failed, 0);
  ASSERT_LE(H.sum.connections, 6);
  ASSERT_EQ(H.fixture_closed, 1);
  /* The host kept running: its 1 ms timer ticked and its TCP pair echoed
   * while the download was in progress. */
  ASSERT_GE(H.ticks_during_download, 5);
  ASSERT_GE(H.echoes_during_download, 5);
  fprintf(stderr,
          "embed: %llu ms, %llu ticks, %llu echoes during the download\n",
          (unsigned long long)ms, (unsigned long long)H.ticks_during_download,
          (unsigned long long)H.echoes_during_download);

  /* uv_run returned with the client still open. The host closed all its
   * handles but the sentinel, the fixture is closed: every other handle is
   * the library's. Its own handles are all still there (watchers of pooled
   * connections may add some), none active and referenced, none closing. */
  census_t idle = census();
  ASSERT_EQ(idle.host, 1);
  ASSERT_GE(idle.other, lib_fixed);
  ASSERT_EQ(idle.other_ref, 0);
  ASSERT_EQ(idle.other_closing, 0);
  adl_client_close(H.dl, on_client_closed);
  uv_run(&H.loop, UV_RUN_DEFAULT);
  ASSERT_EQ(H.client_closed, 1);
  /* Closing the client closed every library handle and none of the
   * host's: exactly the sentinel remains. */
  census_t after = census();
  ASSERT_EQ(after.other, 0);
  ASSERT_EQ(after.host, 1);
  ASSERT_EQ(uv_is_closing((uv_handle_t *)&H.sentinel), 0);
  uv_close((uv_handle_t *)&H.sentinel, NULL);
  uv_run(&H.loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&H.loop), 0);
  adl_library_shutdown();
  printf("test-embed: passed\n");
  return 0;
}
