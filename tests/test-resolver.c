/* The resolver against a real DNS server on loopback: dnsmasq, started by
 * tests/with-dnsmasq.sh, which passes its address in ADL_DNS_SERVER and
 * serves pokeapi.test -> 127.0.0.1 with a 60 s TTL and NXDOMAIN for other
 * .test names. Exercises the resolver module directly and then through
 * the client (name resolved by c-ares, request succeeds; unknown name fails
 * that URL only with a DNS error). Skips (77) without ADL_DNS_SERVER. */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"
#include "fixture.h"
#include "client.h" /* the client's resolver, to count its queries */
#include "pokedex.h"
#include "resolver.h"

#include <stdlib.h>
#include <string.h>

typedef struct answer_s {
  int calls;
  int status;
  char addrs[256];
  uint64_t dns_us;
} answer_t;

static void on_answer(void *arg, const adl__dns_answer_t *a) {
  answer_t *x = arg;
  x->calls++;
  x->status = a->status;
  x->dns_us = a->dns_us;
  snprintf(x->addrs, sizeof(x->addrs), "%s", a->addrs ? a->addrs : "");
}

static void on_closed(void *arg) { ++*(int *)arg; }

static void noop(uv_check_t *h) { (void)h; }

/* The resolver's handles are unreferenced (the client owns "is there
 * work"), so the test keeps the loop alive itself while it waits. */
static void resolve_sync(uv_loop_t *loop, adl__resolver_t *r,
                         const char *host, answer_t *x) {
  memset(x, 0, sizeof(*x));
  uv_check_t keep;
  ASSERT_EQ(uv_check_init(loop, &keep), 0);
  ASSERT_EQ(uv_check_start(&keep, noop), 0);
  adl__dnsq_t *q = NULL;
  ASSERT_EQ(adl__resolve(r, host, on_answer, x, &q), 0);
  while (x->calls == 0)
    uv_run(loop, UV_RUN_ONCE);
  ASSERT_EQ(x->calls, 1);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void test_module(const char *server) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  adl__resolver_t *r;
  adl__resolver_opts_t o = {.servers = server, .timeout_ms = 300,
                            .tries = 1, .cache_max = 8,
                            .ttl_ceiling_ms = 3600000};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);

  answer_t a;
  resolve_sync(&loop, r, "pokeapi.test", &a);
  ASSERT_EQ(a.status, 0);
  ASSERT_STR_EQ(a.addrs, "127.0.0.1");
  adl__dns_view_t v;
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_FRESH);
  ASSERT_STR_EQ(v.addrs, "127.0.0.1");
  ASSERT_GT(v.gen, 0);
  ASSERT_EQ(adl__resolver_peek(r, "other.test", &v), ADL__DNS_MISS);

  resolve_sync(&loop, r, "nosuchname.test", &a);
  ASSERT_EQ(a.status, ADL_ENOTFOUND);

  /* A cancelled query never calls back, even when its answer arrives. */
  answer_t c;
  memset(&c, 0, sizeof(c));
  adl__dnsq_t *q = NULL;
  ASSERT_EQ(adl__resolve(r, "pokeapi.test", on_answer, &c, &q), 0);
  ASSERT(q != NULL);
  adl__resolve_cancel(q);
  resolve_sync(&loop, r, "pokeapi.test", &a); /* lets the answer in */
  ASSERT_EQ(c.calls, 0);

  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
}

static int stale_fresh_again(adl__resolver_t *r, uint64_t gen) {
  adl__dns_view_t v;
  return adl__resolver_peek(r, "pokeapi.test", &v) == ADL__DNS_FRESH &&
         v.gen == gen;
}

/* TTLs are clamped to [floor, ceiling]; an expired answer is served as
 * stale within max_stale while a background refresh makes it fresh again
 * (same addresses: same generation), and is dropped after. */
static void test_stale(const char *server) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  adl__resolver_t *r;
  adl__resolver_opts_t o = {.servers = server, .timeout_ms = 300, .tries = 1,
                            .cache_max = 8, .ttl_floor_ms = 0,
                            .ttl_ceiling_ms = 100, .max_stale_ms = 300};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);
  answer_t a;
  resolve_sync(&loop, r, "pokeapi.test", &a);
  ASSERT_EQ(a.status, 0);
  uint64_t q0 = adl__resolver_queries(r);
  adl__dns_view_t v;
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_FRESH);
  uint64_t gen = v.gen;
  uv_sleep(150); /* dnsmasq says 60 s; the ceiling says 100 ms */
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_STALE);
  ASSERT_STR_EQ(v.addrs, "127.0.0.1");
  ASSERT_EQ(adl__resolver_refresh(r, "pokeapi.test"), 0);
  ASSERT_EQ(adl__resolver_refresh(r, "pokeapi.test"), 0); /* coalesced */
  ASSERT_EQ(adl__resolver_queries(r), q0 + 1);
  uv_check_t keep;
  ASSERT_EQ(uv_check_init(&loop, &keep), 0);
  ASSERT_EQ(uv_check_start(&keep, noop), 0);
  uint64_t t0 = uv_hrtime();
  while (!stale_fresh_again(r, gen) && uv_hrtime() - t0 < 2000000000u)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT(stale_fresh_again(r, gen));
  uv_close((uv_handle_t *)&keep, NULL);
  uv_sleep(450); /* past TTL + max_stale: gone */
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_MISS);
  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
}

/* A server that never answers: the lookup must fail after about
 * timeout x tries, not c-ares' default 5 s x 4. */
static void test_timeout(void) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uv_udp_t silent;
  ASSERT_EQ(uv_udp_init(&loop, &silent), 0);
  struct sockaddr_in sa;
  ASSERT_EQ(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
  ASSERT_EQ(uv_udp_bind(&silent, (struct sockaddr *)&sa, 0), 0);
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  ASSERT_EQ(uv_udp_getsockname(&silent, (struct sockaddr *)&bound, &blen), 0);
  char server[64];
  snprintf(server, sizeof(server), "127.0.0.1:%d",
           ntohs(((struct sockaddr_in *)&bound)->sin_port));
  adl__resolver_t *r;
  adl__resolver_opts_t o = {
      .servers = server, .timeout_ms = 200, .tries = 2, .cache_max = 8};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);
  answer_t a;
  uint64_t t0 = uv_hrtime();
  resolve_sync(&loop, r, "pokeapi.test", &a);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_EQ(a.status, ADL_EDNSTIMEOUT);
  ASSERT_GE(ms, 150);
  ASSERT_LE(ms, 2000);
  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  uv_close((uv_handle_t *)&silent, NULL);
  ADL_TEST_LOOP_CLOSE(&loop);
}

/* SERVFAIL from a minimal UDP responder of our own (dnsmasq has no switch
 * for it): the lookup fails at once with a DNS error, not a timeout. */
static void on_dns_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)h;
  static char buf[512];
  (void)sz;
  *b = uv_buf_init(buf, sizeof(buf));
}

static void on_dns_sent(uv_udp_send_t *req, int st) {
  (void)st;
  free(req);
}

static unsigned g_queries; /* datagrams the SERVFAIL responder saw */
static unsigned g_answer_first; /* queries answered properly before that */

/* Turns the query in buf (n bytes) into a good answer: 127.0.0.1 with TTL
 * 0 for A, no records for anything else. Returns the new length. */
static size_t good_answer(char *buf, size_t n) {
  size_t q = 12;
  while (q < n && buf[q] != 0)
    q += 1 + (unsigned char)buf[q];
  size_t qend = q + 5; /* root label, QTYPE, QCLASS */
  if (qend > n)
    return n;
  int is_a = buf[q + 1] == 0 && buf[q + 2] == 1;
  buf[2] = (char)(buf[2] | 0x80);
  buf[3] = (char)(buf[3] & 0xF0);
  if (!is_a)
    return qend;
  static const char rr[] = {(char)0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0,
                            0, 4, 127, 0, 0, 1};
  memcpy(buf + qend, rr, sizeof(rr));
  buf[7] = 1; /* ANCOUNT */
  return qend + sizeof(rr);
}

static void on_dns_query(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
                         const struct sockaddr *from, unsigned flags) {
  (void)flags;
  if (n < 12 || from == NULL || (size_t)n > 400)
    return;
  g_queries++;
  uv_udp_send_t *req = malloc(sizeof(*req) + 512);
  ASSERT(req != NULL);
  char *copy = (char *)(req + 1);
  memcpy(copy, b->base, (size_t)n);
  size_t len = (size_t)n;
  if (g_answer_first > 0) {
    g_answer_first--;
    len = good_answer(copy, len);
  } else {
    /* Echo the query with QR set and RCODE 2; no answers. */
    copy[2] = (char)(copy[2] | 0x80);
    copy[3] = (char)((copy[3] & 0xF0) | 2);
  }
  uv_buf_t out = uv_buf_init(copy, (unsigned)len);
  ASSERT_EQ(uv_udp_send(req, h, &out, 1, from, on_dns_sent), 0);
}

/* Our DNS responder on a free loopback port; its "IP:PORT" in server. */
static void start_responder(uv_loop_t *loop, uv_udp_t *srv, char *server,
                            size_t cap) {
  ASSERT_EQ(uv_udp_init(loop, srv), 0);
  struct sockaddr_in sa;
  ASSERT_EQ(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
  ASSERT_EQ(uv_udp_bind(srv, (struct sockaddr *)&sa, 0), 0);
  ASSERT_EQ(uv_udp_recv_start(srv, on_dns_alloc, on_dns_query), 0);
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  ASSERT_EQ(uv_udp_getsockname(srv, (struct sockaddr *)&bound, &blen), 0);
  snprintf(server, cap, "127.0.0.1:%d",
           ntohs(((struct sockaddr_in *)&bound)->sin_port));
}

static int refresh_failed(adl__resolver_t *r) {
  adl__dns_view_t v;
  return adl__resolver_peek(r, "pokeapi.test", &v) == ADL__DNS_STALE &&
         v.refresh_status != 0;
}

/* A name answered once (TTL 0), then SERVFAIL: the expired answer is still
 * served within max_stale, the failed refresh is recorded on it, and the
 * failing server is not asked again for a while. */
static void test_failed_refresh(void) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uv_udp_t srv;
  char server[64];
  start_responder(&loop, &srv, server, sizeof(server));
  g_queries = 0;
  g_answer_first = 2; /* A and AAAA of the first lookup */
  adl__resolver_t *r;
  adl__resolver_opts_t o = {.servers = server, .timeout_ms = 300, .tries = 1,
                            .cache_max = 8, .max_stale_ms = 5000};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);
  answer_t a;
  resolve_sync(&loop, r, "pokeapi.test", &a);
  ASSERT_EQ(a.status, 0);
  ASSERT_STR_EQ(a.addrs, "127.0.0.1");
  adl__dns_view_t v;
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_STALE);
  ASSERT_EQ(v.refresh_status, 0);
  ASSERT_EQ(adl__resolver_refresh(r, "pokeapi.test"), 0);
  uint64_t t0 = uv_hrtime();
  while (!refresh_failed(r) && uv_hrtime() - t0 < 2000000000u)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(adl__resolver_peek(r, "pokeapi.test", &v), ADL__DNS_STALE);
  ASSERT_STR_EQ(v.addrs, "127.0.0.1"); /* kept */
  ASSERT_EQ(v.refresh_status, ADL_EDNS);
  uint64_t q = adl__resolver_queries(r);
  ASSERT_EQ(adl__resolver_refresh(r, "pokeapi.test"), 0);
  ASSERT_EQ(adl__resolver_queries(r), q); /* not again so soon */
  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  uv_close((uv_handle_t *)&srv, NULL);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
}

static void test_servfail(void) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uv_udp_t srv;
  char server[64];
  start_responder(&loop, &srv, server, sizeof(server));
  adl__resolver_t *r;
  adl__resolver_opts_t o = {
      .servers = server, .timeout_ms = 2000, .tries = 2, .cache_max = 8};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);
  answer_t a;
  g_queries = 0;
  uint64_t t0 = uv_hrtime();
  resolve_sync(&loop, r, "pokeapi.test", &a);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_EQ(a.status, ADL_EDNS);
  ASSERT_LT(ms, 1000); /* an answer, not a timeout */
  unsigned one_lookup = g_queries;
  ASSERT_GT(one_lookup, 0);

  /* Three concurrent lookups of one name put one lookup on the wire; a
   * cancelled waiter is never called, the others all are. */
  answer_t w[3];
  memset(w, 0, sizeof(w));
  adl__dnsq_t *q[3];
  g_queries = 0;
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(adl__resolve(r, "pokeapi.test", on_answer, &w[i], &q[i]), 0);
  adl__resolve_cancel(q[1]);
  while (w[0].calls + w[2].calls < 2)
    resolve_sync(&loop, r, "other.test", &a); /* runs the loop meanwhile */
  ASSERT_EQ(w[0].calls, 1);
  ASSERT_EQ(w[1].calls, 0);
  ASSERT_EQ(w[2].calls, 1);
  ASSERT_EQ(w[0].status, ADL_EDNS);
  ASSERT_EQ(w[2].status, ADL_EDNS);
  /* other.test was looked up too: subtract its share. */
  ASSERT_EQ(g_queries, one_lookup * 2);
  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  uv_close((uv_handle_t *)&srv, NULL);
  ADL_TEST_LOOP_CLOSE(&loop);
}

/* dnsmasq never answers *.noanswer.test: our timeout, not c-ares' 20 s. */
static void test_noanswer(const char *server) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  adl__resolver_t *r;
  adl__resolver_opts_t o = {
      .servers = server, .timeout_ms = 250, .tries = 2, .cache_max = 8};
  ASSERT_EQ(adl__resolver_new(&loop, &o, &r), 0);
  answer_t a;
  uint64_t t0 = uv_hrtime();
  resolve_sync(&loop, r, "x.noanswer.test", &a);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_EQ(a.status, ADL_EDNSTIMEOUT);
  ASSERT_GE(ms, 200);
  ASSERT_LE(ms, 2000);
  int closed = 0;
  adl__resolver_close(r, on_closed, &closed);
  ADL_TEST_LOOP_CLOSE(&loop);
}

typedef struct req_s {
  adl_result_t res;
  int calls;
} req_t;

static void on_done(adl_request_t *r, const adl_result_t *res) {
  req_t *x = adl_request_get_data(r);
  x->calls++;
  x->res = *res;
}

static void on_client_closed(adl_client_t *c) {
  ++*(int *)adl_client_get_data(c);
}

static void fixture_closed(void *arg) { ++*(int *)arg; }

static void test_client(const char *server, adl_strategy_t s) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  fixture_t *fx;
  ASSERT_EQ(fixture_start(&loop, NULL, &fx), 0);
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = s;
  o.dns_servers = server;
  o.dns_timeout_ms = 500;
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  req_t reqs[4];
  memset(reqs, 0, sizeof(reqs));
  const char *hosts[] = {"pokeapi.test", "unknown-host.test", "pokeapi.test",
                         "POKEAPI.test"};
  for (int i = 0; i < 4; i++) {
    char url[160];
    snprintf(url, sizeof(url), "http://%s:%d/api/v2/pokemon/mew", hosts[i],
             fixture_port(fx));
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.on_done = on_done;
    ro.data = &reqs[i];
    ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
  }
  /* The fixture's listener keeps the loop alive: wait for four outcomes. */
  while (reqs[0].calls + reqs[1].calls + reqs[2].calls + reqs[3].calls < 4)
    uv_run(&loop, UV_RUN_ONCE);
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(reqs[i].calls, 1);
  ASSERT_EQ(reqs[0].res.status, 0);
  ASSERT_GT(reqs[0].res.dns_us, 0);
  ASSERT_EQ(reqs[1].res.status, ADL_ENOTFOUND);
  ASSERT_EQ(reqs[2].res.status, 0);
  ASSERT_EQ(reqs[3].res.status, 0);
  if (s == ADL_STRATEGY_SERIAL) {
    /* serial looks every name up afresh, like requests.get() */
    ASSERT_EQ(reqs[2].res.dns_cached, 0);
    ASSERT_GT(reqs[2].res.dns_us, 0);
  } else if (s == ADL_STRATEGY_SESSION) {
    /* one at a time: the second lookup of the name hits the TTL cache */
    ASSERT_EQ(reqs[2].res.dns_cached, 1);
    ASSERT_EQ(reqs[2].res.dns_us, 0);
  }
  int closed = 0, fclosed = 0;
  adl_client_set_data(c, &closed);
  adl_client_close(c, on_client_closed);
  fixture_close(fx, fixture_closed, &fclosed);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
  ASSERT_EQ(fclosed, 1);
}

/* Answers with TTL 0 (dnsmasq --local-ttl=0, like every /etc/hosts name):
 * session over one name must reuse its one connection with no lookup in
 * front of any request but the first. With the default TTL floor the name
 * is asked once; with the floor at 0 every request still goes at once on
 * the idle connection while the answer is refreshed in the background. */
static void test_ttl0(const char *server, uint64_t floor_ms) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  fixture_t *fx;
  fixture_opts_t fo;
  fixture_opts_init(&fo);
  fo.rtt_ms = 2;
  ASSERT_EQ(fixture_start(&loop, &fo, &fx), 0);
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_SESSION;
  o.dns_servers = server;
  o.dns_ttl_floor_ms = floor_ms;
  if (floor_ms == 0)
    o.dns_max_stale_ms = 0;
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  enum { N = 20 };
  req_t reqs[N];
  memset(reqs, 0, sizeof(reqs));
  for (int i = 0; i < N; i++) {
    char url[160];
    snprintf(url, sizeof(url), "http://pokeapi.test:%d/api/v2/pokemon/%s",
             fixture_port(fx), pokedex_names[i]);
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.on_done = on_done;
    ro.data = &reqs[i];
    ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
  }
  int got = 0;
  while (got < N) {
    uv_run(&loop, UV_RUN_ONCE);
    got = 0;
    for (int i = 0; i < N; i++)
      got += reqs[i].calls;
  }
  uint64_t dns_after_first = 0;
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(reqs[i].calls, 1);
    ASSERT_EQ(reqs[i].res.status, 0);
    if (i > 0)
      dns_after_first += reqs[i].res.dns_us;
  }
  ASSERT_GT(reqs[0].res.dns_us, 0);
  ASSERT_EQ(dns_after_first, 0); /* nobody waited for DNS again */
  fixture_stats_t st;
  fixture_get_stats(fx, &st);
  ASSERT_EQ(st.connections_accepted, 1);
  uint64_t queries = adl__resolver_queries(c->resolver);
  if (floor_ms > 0)
    ASSERT_EQ(queries, 1);
  else
    ASSERT_LE(queries, N); /* background refreshes, coalesced */
  fprintf(stderr,
          "ttl0 (floor %llu ms): %d requests, 1 connection, %llu DNS "
          "queries, DNS wait after the first: 0 us\n",
          (unsigned long long)floor_ms, N, (unsigned long long)queries);
  int closed = 0, fclosed = 0;
  adl_client_set_data(c, &closed);
  adl_client_close(c, on_client_closed);
  fixture_close(fx, fixture_closed, &fclosed);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
}

int main(int argc, char **argv) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  const char *server = getenv("ADL_DNS_SERVER");
  ASSERT_EQ(adl_library_init(), 0);
  test_timeout();
  test_servfail();
  test_failed_refresh();
  if (server == NULL || server[0] == '\0') {
    fprintf(stderr, "ADL_DNS_SERVER not set (run via with-dnsmasq.sh)\n");
    adl_library_shutdown();
    return ADL_TEST_SKIP;
  }
  if (argc > 1 && strcmp(argv[1], "--ttl0") == 0) {
    test_ttl0(server, 30000);
    test_ttl0(server, 0);
    adl_library_shutdown();
    printf("test-resolver --ttl0: passed\n");
    return 0;
  }
  test_module(server);
  test_stale(server);
  test_noanswer(server);
  test_client(server, ADL_STRATEGY_SERIAL);
  test_client(server, ADL_STRATEGY_SESSION);
  test_client(server, ADL_STRATEGY_PARALLEL);
  adl_library_shutdown();
  printf("test-resolver: passed\n");
  return 0;
}
