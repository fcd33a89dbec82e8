/* Loop tests of the fixture server: HTTP behaviour, keep-alive,
 * pipelining, emulated latency, limits and hardening, driven by the raw
 * client of fixture-client.h. The fault routes are in
 * test-fixture-faults.c. Waits are bounded by a guard timer; nothing
 * sleeps. */
#include "fixture-client.h"

#include <signal.h>

/* ---- tests --------------------------------------------------------------- */

static void test_keepalive(void) {
  env_t e;
  client_t c;
  env_init(&e, NULL);
  cl_connect(&e, &c);
  cl_get(&c, "GET", "/api/v2/pokemon/pikachu", NULL);
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "pikachu");
  ASSERT(find_header(&c, &c.resp[0], "Connection", &(size_t){0}) == NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/mew/?i=123", NULL);
  cl_wait(&c, 2);
  expect_pokemon(&c, 1, "mew");
  cl_get(&c, "GET", "/health", NULL);
  cl_wait(&c, 3);
  ASSERT_EQ(c.resp[2].status, 200);
  ASSERT(c.resp[2].body_len == 2 && memcmp(c.rx + c.resp[2].body_off, "ok", 2) == 0);
  /* HEAD: GET's headers, no body, and the connection stays in sync. */
  c.head_only = 1u << 3;
  cl_get(&c, "HEAD", "/api/v2/pokemon/ditto", NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/ditto", NULL);
  cl_wait(&c, 5);
  ASSERT_EQ(c.resp[3].status, 200);
  ASSERT_EQ(c.resp[3].clen, (long long)c.resp[4].body_len);
  expect_pokemon(&c, 4, "ditto");
  ASSERT(!c.eof && !c.err);

  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_EQ(st.requests, 5);
  ASSERT_EQ(st.responses_ok, 5);
  ASSERT_EQ(st.bad_requests, 0);
  ASSERT_EQ(st.open_connections, 1);
  ASSERT_EQ(st.inflight, 0);
  ASSERT_EQ(st.max_inflight, 1);
  cl_close(&c);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

static void test_connection_close(void) {
  env_t e;
  client_t c;
  env_init(&e, NULL);

  cl_connect(&e, &c);
  cl_get(&c, "GET", "/api/v2/pokemon/eevee", "Connection: close\r\n");
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "eevee");
  ASSERT(header_is(&c, 0, "Connection", "close"));
  cl_wait_gone(&c);
  ASSERT(c.eof && !c.err);
  cl_close(&c);

  /* HTTP/1.0 closes by default ... */
  cl_connect(&e, &c);
  cl_send(&c, "GET /api/v2/pokemon/onix HTTP/1.0\r\n\r\n");
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "onix");
  cl_wait_gone(&c);
  ASSERT(c.eof);
  cl_close(&c);

  /* ... unless it asks for keep-alive. */
  cl_connect(&e, &c);
  cl_send(&c, "GET /api/v2/pokemon/onix HTTP/1.0\r\nConnection: Keep-Alive"
              "\r\n\r\nGET /health HTTP/1.0\r\n\r\n");
  cl_wait(&c, 2);
  ASSERT(header_is(&c, 0, "Connection", "keep-alive"));
  ASSERT(header_is(&c, 1, "Connection", "close"));
  cl_wait_gone(&c);
  cl_close(&c);

  /* Half-close after the request (like `printf ... | nc`): answered. */
  cl_connect(&e, &c);
  cl_get(&c, "GET", "/api/v2/pokemon/abra", NULL);
  uv_shutdown_t sh;
  ASSERT_EQ(uv_shutdown(&sh, (uv_stream_t *)&c.tcp, NULL), 0);
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "abra");
  cl_wait_gone(&c);
  ASSERT(c.eof);
  cl_close(&c);

  run_until(&e, server_idle, &e);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 4);
  ASSERT_EQ(st.requests, 5);
  env_finish(&e);
}

static void test_errors(void) {
  env_t e;
  client_t c;
  fixture_opts_t o;
  fixture_opts_init(&o);
  ASSERT_EQ(o.keep_alive, 1);
  ASSERT_EQ(o.max_request_bytes, 8192);
  ASSERT_EQ(o.max_connections, 1024);
  env_init(&e, &o);

  cl_connect(&e, &c);
  cl_get(&c, "GET", "/api/v2/pokemon/missingno", NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/PIKACHU", NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/pika%63hu", NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/", NULL);
  cl_get(&c, "GET", "/nope", NULL);
  cl_get(&c, "POST", "/api/v2/pokemon/pikachu", NULL);
  cl_get(&c, "GET", "/api/v2/pokemon/extra-42?x=1", NULL);
  cl_wait(&c, 7);
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(c.resp[i].status, 404);
    ASSERT(header_is(&c, i, "Content-Type", "application/json"));
    ASSERT(body_has(&c, i, "Not found"));
  }
  ASSERT_EQ(c.resp[5].status, 405);
  ASSERT(header_is(&c, 5, "Allow", "GET, HEAD"));
  expect_pokemon(&c, 6, "extra-42");
  ASSERT(!c.eof);

  /* A request with a body is answered, then the connection closes. */
  cl_send(&c, "PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  cl_wait(&c, 8);
  ASSERT_EQ(c.resp[7].status, 405);
  ASSERT(header_is(&c, 7, "Connection", "close"));
  cl_wait_gone(&c);
  cl_close(&c);

  static const char *garbage[] = {
      "garbage\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS hello, no CRLF */
      "GET /health HTTP/2.0\r\n\r\n",
      "GET  /health HTTP/1.1\r\n\r\n",
      "GET /health HTTP/1.1\r\n folded: x\r\n\r\n",
      "GET /health HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      ("GET /health HTTP/1.1\r\nContent-Length: 1\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"),
      "GET /health HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET health HTTP/1.1\r\n\r\n",
      "GET /health HTTP/1.1\r\nX: a\x01b\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    cl_connect(&e, &c);
    cl_send(&c, garbage[i]);
    cl_wait(&c, 1);
    ASSERT_EQ(c.resp[0].status, i == 2 ? 505 : 400);
    ASSERT(header_is(&c, 0, "Connection", "close"));
    cl_wait_gone(&c);
    ASSERT(c.eof);
    cl_close(&c);
  }
  /* A NUL inside the request line. */
  cl_connect(&e, &c);
  cl_send_n(&c, "GET /he\0lth HTTP/1.1\r\n\r\n", 25);
  cl_wait(&c, 1);
  ASSERT_EQ(c.resp[0].status, 400);
  cl_close(&c);

  /* Oversized heads: a long request line, then many headers. */
  char *big = malloc(20000);
  ASSERT(big != NULL);
  for (int k = 0; k < 2; k++) {
    if (k == 0) {
      strcpy(big, "GET /");
      memset(big + 5, 'a', 9000);
      strcpy(big + 9005, " HTTP/1.1\r\n\r\n");
    } else {
      strcpy(big, "GET /health HTTP/1.1\r\n");
      for (int h = 0; h < 400; h++)
        strcat(big, "X-Filler: 0123456789\r\n");
      strcat(big, "\r\n");
    }
    cl_connect(&e, &c);
    cl_send(&c, big);
    cl_wait(&c, 1);
    ASSERT_EQ(c.resp[0].status, 431);
    cl_wait_gone(&c);
    cl_close(&c);
  }
  free(big);

  run_until(&e, server_idle, &e);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.bad_requests, 14);
  ASSERT_EQ(st.requests, 8);
  ASSERT_EQ(st.responses_ok, 1);
  env_finish(&e);
}

static void test_pipelining(void) {
  env_t e;
  client_t c;
  env_init(&e, NULL);
  cl_connect(&e, &c);
  cl_send(&c, "\r\nGET /api/v2/pokemon/pikachu HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /api/v2/pokemon/mew HTTP/1.1\nHost: x\n\n"
              "GET /api/v2/pokemon/zubat HTTP/1.1\r\nHost: x\r\n\r\n");
  cl_wait(&c, 3);
  expect_pokemon(&c, 0, "pikachu");
  expect_pokemon(&c, 1, "mew");
  expect_pokemon(&c, 2, "zubat");
  cl_close(&c);

  /* One request split into single-byte writes. */
  cl_connect(&e, &c);
  const char *req = "GET /api/v2/pokemon/snorlax HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const char *p = req; *p; p++)
    cl_send_n(&c, p, 1);
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "snorlax");
  cl_close(&c);

  /* More pipelined requests than fit the 8 KiB input buffer at once: the
   * server must apply backpressure and still answer all, in order. */
  cl_connect(&e, &c);
  size_t one = 0;
  char *burst = malloc(MAX_RESP * 700 + 1);
  ASSERT(burst != NULL);
  burst[0] = '\0';
  for (int i = 0; i < MAX_RESP; i++) {
    char pad[601];
    memset(pad, 'a' + i, 600);
    pad[600] = '\0';
    one = (size_t)sprintf(burst + strlen(burst),
                          "GET /health HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
  }
  ASSERT_GT(strlen(burst), 8192);
  ASSERT_GT(one, 600);
  cl_send(&c, burst);
  free(burst);
  cl_wait(&c, MAX_RESP);
  for (int i = 0; i < MAX_RESP; i++)
    ASSERT_EQ(c.resp[i].status, 200);
  cl_close(&c);

  run_until(&e, server_idle, &e);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 3);
  ASSERT_EQ(st.requests, 4 + MAX_RESP);
  env_finish(&e);
}

static void test_rtt(void) {
  env_t e;
  client_t c, d;
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.rtt_ms = 30;
  env_init(&e, &o);

  cl_connect(&e, &c);
  uint64_t t0 = uv_hrtime();
  cl_get(&c, "GET", "/api/v2/pokemon/lapras", NULL);
  cl_wait(&c, 1);
  uint64_t first_ms = (c.resp[0].done_ns - t0) / 1000000;
  uint64_t t1 = uv_hrtime();
  cl_get(&c, "GET", "/api/v2/pokemon/lapras", NULL);
  cl_wait(&c, 2);
  uint64_t second_ms = (c.resp[1].done_ns - t1) / 1000000;
  fprintf(stderr, "rtt 30: first %llu ms, second %llu ms\n",
          (unsigned long long)first_ms, (unsigned long long)second_ms);
  ASSERT_GE(first_ms, 60);
  ASSERT_GE(second_ms, 30);
  expect_pokemon(&c, 1, "lapras");

  /* Two connections at once: both requests are in flight together. */
  cl_connect(&e, &d);
  cl_get(&c, "GET", "/health", NULL);
  cl_get(&d, "GET", "/health", NULL);
  cl_wait(&c, 3);
  cl_wait(&d, 1);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.max_inflight, 2);
  ASSERT_EQ(st.max_open_connections, 2);
  cl_close(&c);
  cl_close(&d);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

static void test_limits(void) {
  env_t e;
  client_t c[3];
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.max_connections = 2;
  o.keep_alive = 0;
  env_init(&e, &o);
  for (int i = 0; i < 3; i++)
    cl_connect(&e, &c[i]);
  cl_wait_gone(&c[2]); /* over the limit: accepted, closed at once */
  ASSERT_EQ(c[2].total, 0);
  for (int i = 0; i < 2; i++) {
    cl_get(&c[i], "GET", "/api/v2/pokemon/pidgey", NULL);
    cl_wait(&c[i], 1);
    expect_pokemon(&c[i], 0, "pidgey");
    ASSERT(header_is(&c[i], 0, "Connection", "close")); /* keep_alive 0 */
    cl_wait_gone(&c[i]);
  }
  for (int i = 0; i < 3; i++)
    cl_close(&c[i]);
  run_until(&e, server_idle, &e);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 3);
  ASSERT_EQ(st.max_open_connections, 2);
  env_finish(&e);
}

static void test_close_busy(void) {
  env_t e;
  client_t a, b, d;
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.rtt_ms = 20;
  env_init(&e, &o);
  cl_connect(&e, &a);
  a.discard = 1;
  cl_get(&a, "GET", "/fault/big/1073741824", NULL); /* streaming 1 GiB */
  cl_connect(&e, &b);
  cl_get(&b, "GET", "/fault/stall-headers", NULL);
  run_for(&e, 150);
  ASSERT_GT(a.total, 65536); /* a is mid-stream */
  cl_connect(&e, &d);
  cl_get(&d, "GET", "/health", NULL); /* will still be in its delay */
  stat_wait_t sw = {&e, stats(&e)};
  sw.st.requests = 3;
  run_until(&e, stats_requests_at_least, &sw);
  ASSERT_EQ(stats(&e).inflight, 3);
  fixture_close(e.fx, on_fx_closed, &e);
  run_until(&e, fx_closed, &e);
  cl_wait_gone(&a);
  cl_wait_gone(&b);
  cl_wait_gone(&d);
  ASSERT_EQ(d.nresp, 0);
  cl_close(&a);
  cl_close(&b);
  cl_close(&d);
  e.fx = NULL;
  env_finish(&e);
}

static void test_start_errors(void) {
  uv_loop_t loop;
  fixture_t *f = NULL, *g = NULL;
  fixture_opts_t o;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  fixture_opts_init(&o);
  o.port = 70000;
  ASSERT_EQ(fixture_start(&loop, &o, &f), UV_EINVAL);
  fixture_opts_init(&o);
  o.max_request_bytes = 10;
  ASSERT_EQ(fixture_start(&loop, &o, &f), UV_EINVAL);
  fixture_opts_init(&o);
  o.max_connections = 0;
  ASSERT_EQ(fixture_start(&loop, &o, &f), UV_EINVAL);
  ASSERT_EQ(fixture_start(NULL, NULL, &f), UV_EINVAL);
  ASSERT(f == NULL);

  ASSERT_EQ(fixture_start(&loop, NULL, &f), 0);
  fixture_opts_init(&o);
  o.port = fixture_port(f);
  ASSERT_EQ(fixture_start(&loop, &o, &g), UV_EADDRINUSE);
  ASSERT(g == NULL);
  fixture_close(f, NULL, NULL);
  ADL_TEST_LOOP_CLOSE(&loop);
}

/* Deterministic junk and mutated requests: the server must stay up. */
static void test_fuzz(void) {
  env_t e;
  client_t c;
  fixture_opts_t o;
  uint64_t s = 0x1234567887654321ull;
  static const char *seeds[] = {
      "GET /api/v2/pokemon/pikachu HTTP/1.1\r\nHost: x\r\n\r\n",
      "HEAD /fault/big/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET /fault/flaky/x?fail=3&code=500 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
      "GET /fault/status/503?retry-after=9 HTTP/1.1\r\n\r\n",
  };
  fixture_opts_init(&o);
  o.max_request_bytes = 256;
  env_init(&e, &o);
  for (int round = 0; round < 300; round++) {
    char buf[600];
    size_t n;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    if (round % 3 == 0) {
      n = 1 + (size_t)(s >> 33) % sizeof buf;
      for (size_t k = 0; k < n; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        buf[k] = (char)(s >> 56);
      }
    } else {
      const char *seed = seeds[(s >> 40) % 4];
      n = strlen(seed);
      memcpy(buf, seed, n);
      for (int m = 0; m < 1 + (int)((s >> 20) % 4); m++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        buf[(s >> 33) % n] = (char)(s >> 56);
      }
    }
    cl_connect(&e, &c);
    c.discard = 1;
    cl_send_n(&c, buf, n);
    cl_send(&c, "\r\n\r\n");
    run_for(&e, 1);
    cl_close(&c);
  }
  run_until(&e, server_idle, &e);
  cl_connect(&e, &c);
  cl_get(&c, "GET", "/api/v2/pokemon/mewtwo", NULL);
  cl_wait(&c, 1);
  expect_pokemon(&c, 0, "mewtwo");
  cl_close(&c);
  run_until(&e, server_idle, &e);
  ASSERT_EQ(stats(&e).connections_accepted, 301);
  env_finish(&e);
}

int main(void) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  test_keepalive();
  test_connection_close();
  test_errors();
  test_pipelining();
  test_rtt();
  test_limits();
  test_close_busy();
  test_start_errors();
  test_fuzz();
  printf("test-fixture: ok\n");
  return 0;
}
