/* Loop tests of the fixture's HTTP/2 (prior knowledge) side: libcurl's
 * multi interface, driven on the fixture's own loop through the socket
 * API, multiplexes requests over one connection (CURLPIPE_MULTIPLEX,
 * CURLOPT_PIPEWAIT), and the server's counters prove what happened:
 * one connection, overlapping streams, every body byte-identical to the
 * HTTP/1.1 one, the emulated delay per stream, the stream limit, the gzip
 * bomb, the faults that become stream resets, a clean close with streams
 * open. Every wait is bounded by run_until's guard timer.
 *
 * libcurl before 8.0.0 fails every request that reuses a prior-knowledge
 * connection with CURLE_HTTP2 (curl issue 10634, fixed by commit
 * 86d4578741); Debian 12 ships 7.88.1. There only the request that opens
 * the connection asks for prior knowledge, and the others ask for
 * CURL_HTTP_VERSION_2_0, which rides the connection once it is HTTP/2
 * (PIPEWAIT makes them wait for it). CURLINFO_HTTP_VERSION checks that
 * every response did come over HTTP/2.
 *
 * libcurl 7.88 driven by curl_multi_socket_action can also stall an
 * HTTP/2 transfer for good when DATA arrives for a stream whose receive
 * buffer (CURLOPT_BUFFERSIZE, 16 KiB by default) is full: it pauses
 * nghttp2 for the whole connection and nothing wakes the transfers again
 * (seen here against nginx as well, never with curl_multi_perform).
 * Buffers of 512 KiB, the largest allowed, hold any document whole. */
#include "fixture-client.h"

#include <curl/curl.h>

/* ---- libcurl multi on the loop ------------------------------------------ */

typedef struct xfer_s {
  CURL *h;
  char url[160];
  int check; /* CHECK_* : what the body must be */
  char *body;
  size_t len, cap;
  uint64_t nbytes; /* bytes delivered (decoded) */
  int bad_byte;    /* a CHECK_ZEROS / CHECK_PATTERN byte was wrong */
  int done;
  CURLcode result;
  long code, version;
  curl_off_t pre_us, start_us, total_us;
} xfer_t;

enum { CHECK_KEEP = 0, CHECK_ZEROS, CHECK_PATTERN };

typedef struct multi_s {
  env_t *e;
  CURLM *m;
  uv_timer_t timer;
  int timer_closed;
  unsigned done;
} multi_t;

typedef struct sock_s {
  uv_poll_t poll;
  multi_t *mu;
  curl_socket_t fd;
} sock_t;

static void mu_check(multi_t *mu) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(mu->m, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    xfer_t *x;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    x->result = msg->data.result;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
    curl_easy_getinfo(x->h, CURLINFO_HTTP_VERSION, &x->version);
    curl_easy_getinfo(x->h, CURLINFO_PRETRANSFER_TIME_T, &x->pre_us);
    curl_easy_getinfo(x->h, CURLINFO_STARTTRANSFER_TIME_T, &x->start_us);
    curl_easy_getinfo(x->h, CURLINFO_TOTAL_TIME_T, &x->total_us);
    x->done = 1;
    mu->done++;
    curl_multi_remove_handle(mu->m, x->h);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_t *s = p->data;
  int flags = status < 0 ? CURL_CSELECT_ERR : 0, running;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  multi_t *mu = s->mu;
  curl_multi_socket_action(mu->m, s->fd, flags, &running);
  mu_check(mu);
}

static void on_mu_timer(uv_timer_t *t) {
  multi_t *mu = t->data;
  int running;
  curl_multi_socket_action(mu->m, CURL_SOCKET_TIMEOUT, 0, &running);
  mu_check(mu);
}

static void free_sock(uv_handle_t *h) { free(h->data); }

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                   void *socketp) {
  multi_t *mu = userp;
  sock_t *s = socketp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, free_sock);
      curl_multi_assign(mu->m, fd, NULL);
    }
    return 0;
  }
  if (s == NULL) {
    s = calloc(1, sizeof *s);
    ASSERT(s != NULL);
    ASSERT_EQ(uv_poll_init_socket(&mu->e->loop, &s->poll, fd), 0);
    s->poll.data = s;
    s->mu = mu;
    s->fd = fd;
    curl_multi_assign(mu->m, fd, s);
  }
  int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) |
           (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
  uv_poll_start(&s->poll, ev, on_poll);
  return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp) {
  multi_t *mu = userp;
  (void)m;
  if (ms < 0)
    uv_timer_stop(&mu->timer);
  else
    uv_timer_start(&mu->timer, on_mu_timer, (uint64_t)ms, 0);
  return 0;
}

static void mu_init(multi_t *mu, env_t *e, long max_conns) {
  memset(mu, 0, sizeof *mu);
  mu->e = e;
  mu->m = curl_multi_init();
  ASSERT(mu->m != NULL);
  uv_timer_init(&e->loop, &mu->timer);
  mu->timer.data = mu;
  curl_multi_setopt(mu->m, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(mu->m, CURLMOPT_SOCKETDATA, mu);
  curl_multi_setopt(mu->m, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(mu->m, CURLMOPT_TIMERDATA, mu);
  curl_multi_setopt(mu->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(mu->m, CURLMOPT_MAX_HOST_CONNECTIONS, max_conns);
}

static void on_timer_closed(uv_handle_t *h) {
  ((multi_t *)h->data)->timer_closed = 1;
}
static int mu_timer_closed(void *arg) { return ((multi_t *)arg)->timer_closed; }

/* Cleans up the multi (closing its connections) and waits for its
 * handles to close. */
static void mu_free(multi_t *mu) {
  curl_multi_cleanup(mu->m);
  uv_close((uv_handle_t *)&mu->timer, on_timer_closed);
  run_until(mu->e, mu_timer_closed, mu);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
  xfer_t *x = arg;
  size_t len = sz * n;
  for (size_t i = 0; i < len && x->check != CHECK_KEEP; i++) {
    unsigned char want = x->check == CHECK_ZEROS
                             ? 0
                             : fixture_pattern_byte(x->nbytes + i);
    if ((unsigned char)p[i] != want)
      x->bad_byte = 1;
  }
  x->nbytes += len;
  if (x->check != CHECK_KEEP)
    return len;
  if (x->len + len > x->cap) {
    size_t cap = (x->len + len) * 2;
    char *b = realloc(x->body, cap);
    ASSERT(b != NULL);
    x->body = b;
    x->cap = cap;
  }
  memcpy(x->body + x->len, p, len);
  x->len += len;
  return len;
}

/* Version 2 is prior knowledge for the first request of a multi and
 * CURL_HTTP_VERSION_2_0 after it on an old libcurl (see the top). */
static void xfer_add(multi_t *mu, xfer_t *x, int port, const char *path,
                     int version, int first) {
  memset(x, 0, sizeof *x);
  snprintf(x->url, sizeof x->url, "http://127.0.0.1:%d%s", port, path);
  x->h = curl_easy_init();
  ASSERT(x->h != NULL);
  long v = CURL_HTTP_VERSION_1_1;
  if (version == 2)
    v = first || curl_version_info(CURLVERSION_NOW)->version_num >= 0x080000
            ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
            : CURL_HTTP_VERSION_2_0;
  curl_easy_setopt(x->h, CURLOPT_URL, x->url);
  curl_easy_setopt(x->h, CURLOPT_HTTP_VERSION, v);
  curl_easy_setopt(x->h, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(x->h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(x->h, CURLOPT_PROXY, "");
  curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(x->h, CURLOPT_PRIVATE, (char *)x);
  if (getenv("ADL_TEST_VERBOSE"))
    curl_easy_setopt(x->h, CURLOPT_VERBOSE, 1L);
  ASSERT_EQ(curl_multi_add_handle(mu->m, x->h), CURLM_OK);
}

static void xfer_free(xfer_t *x) {
  curl_easy_cleanup(x->h);
  free(x->body);
  x->h = NULL;
  x->body = NULL;
}

typedef struct {
  multi_t *mu;
  unsigned n;
} done_wait_t;

static int all_done(void *arg) {
  done_wait_t *w = arg;
  return w->mu->done >= w->n;
}

static void mu_wait(multi_t *mu, unsigned n) {
  done_wait_t w = {mu, n};
  run_until(mu->e, all_done, &w);
}

/* ---- tests -------------------------------------------------------------- */

static char paths[POKEDEX_COUNT][64];

static void fetch_all(env_t *e, xfer_t *xs, int version, long conns) {
  multi_t mu;
  mu_init(&mu, e, conns);
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    snprintf(paths[i], sizeof paths[i], "/api/v2/pokemon/%s",
             pokedex_names[i]);
    xfer_add(&mu, &xs[i], e->port, paths[i], version, i == 0);
  }
  mu_wait(&mu, POKEDEX_COUNT);
  mu_free(&mu);
}

/* All 151 documents over one HTTP/2 connection, then over HTTP/1.1: the
 * same bytes, and pokedex_body's. */
static void test_all_documents(void) {
  static xfer_t h2[POKEDEX_COUNT], h1[POKEDEX_COUNT];
  env_t e;
  env_init(&e, NULL);
  fetch_all(&e, h2, 2, 1);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_EQ(st.h2_connections, 1);
  ASSERT_EQ(st.h2_streams, POKEDEX_COUNT);
  ASSERT_EQ(st.requests, POKEDEX_COUNT);
  ASSERT_EQ(st.responses_ok, POKEDEX_COUNT);
  ASSERT_GT(st.h2_max_open_streams, 1);
  ASSERT_LE(st.h2_max_open_streams, 128);
  ASSERT_EQ(st.bad_requests, 0);
  run_until(&e, server_idle, &e); /* the multi closed its connection */

  fixture_reset_stats(e.fx);
  fetch_all(&e, h1, 1, 6);
  st = stats(&e);
  ASSERT_EQ(st.h2_connections, 0);
  ASSERT_EQ(st.requests, POKEDEX_COUNT);
  ASSERT_LE(st.connections_accepted, 6);
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    char *want;
    size_t wlen;
    ASSERT_EQ(h2[i].result, CURLE_OK);
    ASSERT_EQ(h1[i].result, CURLE_OK);
    ASSERT_EQ(h2[i].version, CURL_HTTP_VERSION_2_0);
    ASSERT_EQ(h1[i].version, CURL_HTTP_VERSION_1_1);
    ASSERT_EQ(h2[i].code, 200);
    ASSERT_EQ(pokedex_body(pokedex_names[i], &want, &wlen), 0);
    ASSERT(h2[i].len == wlen && memcmp(h2[i].body, want, wlen) == 0);
    ASSERT(h1[i].len == h2[i].len &&
           memcmp(h1[i].body, h2[i].body, h1[i].len) == 0);
    free(want);
    xfer_free(&h2[i]);
    xfer_free(&h1[i]);
  }
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

/* rtt 50 ms: every stream waits at least 50 ms after its request went
 * out, the connection's first one 100 ms, and the waits overlap: 151
 * streams take a small fraction of 151 x 50 ms. */
static void test_delay_per_stream(void) {
  static xfer_t xs[POKEDEX_COUNT];
  const unsigned rtt = 50;
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.rtt_ms = rtt;
  env_t e;
  env_init(&e, &o);
  uint64_t t0 = uv_hrtime();
  fetch_all(&e, xs, 2, 1);
  uint64_t wall_ms = (uv_hrtime() - t0) / 1000000u;
  curl_off_t longest = 0;
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    ASSERT_EQ(xs[i].result, CURLE_OK);
    ASSERT_EQ(xs[i].version, CURL_HTTP_VERSION_2_0);
    curl_off_t wait_us = xs[i].start_us - xs[i].pre_us;
    ASSERT_GE(wait_us, (curl_off_t)rtt * 1000);
    if (wait_us > longest)
      longest = wait_us;
    xfer_free(&xs[i]);
  }
  ASSERT_GE(longest, (curl_off_t)2 * rtt * 1000); /* the handshake one */
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_GT(st.h2_max_open_streams, 1);
  ASSERT_GT(st.max_inflight, 1); /* delays overlapped, server side */
  fprintf(stderr, "rtt %u ms: 151 streams in %llu ms (serial: %u ms), "
                  "%u at once at most\n",
          rtt, (unsigned long long)wall_ms, POKEDEX_COUNT * rtt,
          st.h2_max_open_streams);
  ASSERT_LT(wall_ms, POKEDEX_COUNT * rtt / 2);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

/* SETTINGS_MAX_CONCURRENT_STREAMS comes from the option: with 4, the
 * client keeps at most 4 streams open, on the one connection. One request
 * goes first so that the client has the server's SETTINGS before it
 * opens more streams (requests sent earlier beyond the limit would be
 * refused, and libcurl retries those on a new connection). */
static void test_stream_limit(void) {
  static xfer_t xs[24];
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.rtt_ms = 20;
  o.h2_max_streams = 4;
  env_t e;
  env_init(&e, &o);
  multi_t mu;
  mu_init(&mu, &e, 1);
  for (int i = 0; i < 24; i++) {
    snprintf(paths[i], sizeof paths[i], "/api/v2/pokemon/%s",
             pokedex_names[i]);
    xfer_add(&mu, &xs[i], e.port, paths[i], 2, i == 0);
    if (i == 0)
      mu_wait(&mu, 1);
  }
  mu_wait(&mu, 24);
  mu_free(&mu);
  for (int i = 0; i < 24; i++) {
    ASSERT_EQ(xs[i].result, CURLE_OK);
    xfer_free(&xs[i]);
  }
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_EQ(st.h2_streams, 24);
  ASSERT_EQ(st.h2_max_open_streams, 4);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

/* Reads the gzip trailer: ISIZE, the decoded size modulo 2^32. */
static uint32_t gzip_isize(const xfer_t *x) {
  const unsigned char *p = (const unsigned char *)x->body + x->len - 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* /fault/gzip-bomb over HTTP/2 and HTTP/1.1: decoded by libcurl
 * (CURLOPT_ACCEPT_ENCODING) to exactly size zeros; the 1 GiB one fetched
 * as it is: about 1 MB, a gzip member whose trailer says 2^30. */
static void test_gzip_bomb(void) {
  static const uint64_t sizes[] = {0, 1, 1u << 20, 5000000};
  enum { N = sizeof sizes / sizeof sizes[0] };
  static xfer_t xs[2 * N + 2];
  static char p[2 * N + 2][64];
  env_t e;
  env_init(&e, NULL);
  multi_t mu;
  mu_init(&mu, &e, 1);
  for (int i = 0; i < 2 * N; i++) {
    snprintf(p[i], sizeof p[i], "/fault/gzip-bomb?size=%llu",
             (unsigned long long)sizes[i % N]);
    xfer_add(&mu, &xs[i], e.port, p[i], i < N ? 2 : 1, i == 0);
    xs[i].check = CHECK_ZEROS;
    curl_easy_setopt(xs[i].h, CURLOPT_ACCEPT_ENCODING, "");
  }
  mu_wait(&mu, 2 * N);
  /* Alone on its connection: a body over the receive buffer, beside other
   * streams, is what stalls an old libcurl (see the top). */
  xfer_add(&mu, &xs[2 * N], e.port, "/fault/gzip-bomb", 2, 0);
  xfer_add(&mu, &xs[2 * N + 1], e.port, "/fault/gzip-bomb", 1, 0);
  mu_wait(&mu, 2 * N + 2);
  mu_free(&mu);
  for (int i = 0; i < 2 * N; i++) {
    curl_off_t wire = -1;
    ASSERT_EQ(xs[i].result, CURLE_OK);
    ASSERT_EQ(xs[i].code, 200);
    ASSERT_EQ(xs[i].version,
              i < N ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1);
    ASSERT_EQ(xs[i].nbytes, sizes[i % N]);
    ASSERT(!xs[i].bad_byte);
    curl_easy_getinfo(xs[i].h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &wire);
    ASSERT(wire > 0 && (uint64_t)wire < sizes[i % N] / 500 + 64);
    xfer_free(&xs[i]);
  }
  for (int i = 2 * N; i < 2 * N + 2; i++) {
    const xfer_t *x = &xs[i];
    ASSERT_EQ(x->result, CURLE_OK);
    ASSERT(x->len > 900000 && x->len < 1100000); /* ~1 MB for 1 GiB */
    ASSERT((unsigned char)x->body[0] == 0x1f &&
           (unsigned char)x->body[1] == 0x8b);
    ASSERT_EQ(gzip_isize(x), (uint32_t)(UINT64_C(1) << 30));
    xfer_free(&xs[i]);
  }
  ASSERT(memcmp(xs[2 * N].url, xs[2 * N + 1].url, 10) == 0);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

/* The other routes and the faults on one connection: each stream gets its
 * own outcome (see fixture.h), the healthy ones beside them are intact.
 * Every body fits the client's receive buffer: with one that does not,
 * libcurl 7.88 can report a reset stream as a success with no body. */
static void test_routes_and_faults(void) {
  static const struct {
    const char *path;
    int check;
    CURLcode result; /* CURLE_OK or 1 for "some error" */
    long code;
    uint64_t nbytes;
  } cases[] = {
      {"/health", CHECK_KEEP, CURLE_OK, 200, 2},
      {"/nowhere", CHECK_KEEP, CURLE_OK, 404, 0},
      {"/fault/status/503?retry-after=7", CHECK_KEEP, CURLE_OK, 503, 0},
      {"/fault/status/204", CHECK_KEEP, CURLE_OK, 204, 0},
      {"/fault/redirect/2", CHECK_KEEP, CURLE_OK, 302, 0},
      {"/fault/big/400000", CHECK_PATTERN, CURLE_OK, 200, 400000},
      {"/fault/slow?bps=40960", CHECK_PATTERN, CURLE_OK, 200, 20480},
      {"/fault/reset-before", CHECK_KEEP, 1, 0, 0},
      {"/fault/reset-mid", CHECK_PATTERN, 1, 0, 0},
      {"/fault/close", CHECK_KEEP, 1, 0, 0},
      {"/fault/short", CHECK_PATTERN, 1, 0, 0},
      {"/fault/http09", CHECK_KEEP, 1, 0, 0},
      {"/fault/huge-header", CHECK_KEEP, 1, 0, 0},
      {"/fault/length-overflow", CHECK_KEEP, 1, 0, 0},
      {"/fault/chunked-cut", CHECK_KEEP, 1, 0, 0},
      {"/api/v2/pokemon/mew", CHECK_KEEP, CURLE_OK, 200, 0},
  };
  enum { N = sizeof cases / sizeof cases[0] };
  static xfer_t xs[N + 1];
  env_t e;
  env_init(&e, NULL);
  multi_t mu;
  mu_init(&mu, &e, 1);
  for (int i = 0; i < N; i++) {
    xfer_add(&mu, &xs[i], e.port, cases[i].path, 2, i == 0);
    xs[i].check = cases[i].check;
  }
  /* HEAD: GET's fields, no body */
  xfer_add(&mu, &xs[N], e.port, "/api/v2/pokemon/mew", 2, 0);
  curl_easy_setopt(xs[N].h, CURLOPT_NOBODY, 1L);
  mu_wait(&mu, N + 1);
  for (int i = 0; i < N; i++) {
    const xfer_t *x = &xs[i];
    if (cases[i].result == CURLE_OK && x->result != CURLE_OK)
      ADL_FAIL_("%s: %s", cases[i].path, curl_easy_strerror(x->result));
    if (cases[i].result != CURLE_OK && x->result == CURLE_OK)
      ADL_FAIL_("%s: succeeded", cases[i].path);
    if ((cases[i].code != 0 && x->code != cases[i].code) ||
        (cases[i].nbytes != 0 && x->nbytes != cases[i].nbytes) ||
        x->bad_byte)
      ADL_FAIL_("%s: status %ld, %llu bytes%s (%s)", cases[i].path, x->code,
                (unsigned long long)x->nbytes, x->bad_byte ? ", bad" : "",
                curl_easy_strerror(x->result));
  }
  ASSERT(xs[0].len == 2 && memcmp(xs[0].body, "ok", 2) == 0);
  curl_off_t clen = -1;
  curl_easy_getinfo(xs[N].h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
  ASSERT_EQ(xs[N].result, CURLE_OK);
  ASSERT_EQ(xs[N].len, 0);
  ASSERT_EQ(clen, (curl_off_t)xs[N - 1].len);
  /* /fault/slow took its time: 20480 bytes at 40960 bytes/s */
  ASSERT_GE(xs[6].total_us - xs[6].start_us, 300000);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.connections_accepted, 1);
  ASSERT_EQ(st.h2_streams, N + 1);
  mu_free(&mu);
  for (int i = 0; i <= N; i++)
    xfer_free(&xs[i]);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

/* fixture_close with streams open (one stalled, one waiting out a long
 * delay) closes everything; a second client is refused nothing. */
static void test_close_with_streams_open(void) {
  static xfer_t xs[3];
  fixture_opts_t o;
  fixture_opts_init(&o);
  o.rtt_ms = 5000;
  env_t e;
  env_init(&e, &o);
  multi_t mu;
  mu_init(&mu, &e, 1);
  xfer_add(&mu, &xs[0], e.port, "/fault/stall-headers", 2, 1);
  xfer_add(&mu, &xs[1], e.port, "/fault/big/100000000", 2, 0);
  xfer_add(&mu, &xs[2], e.port, "/api/v2/pokemon/mew", 2, 0);
  stat_wait_t w = {&e, {0}};
  w.st.requests = 3;
  run_until(&e, stats_requests_at_least, &w);
  fixture_stats_t st = stats(&e);
  ASSERT_EQ(st.h2_max_open_streams, 3);
  ASSERT_EQ(st.inflight, 3);
  fixture_close(e.fx, on_fx_closed, &e);
  run_until(&e, fx_closed, &e);
  e.fx = NULL;
  mu_wait(&mu, 3); /* every transfer fails: the server went away */
  for (int i = 0; i < 3; i++) {
    ASSERT_NE(xs[i].result, CURLE_OK);
    xfer_free(&xs[i]);
  }
  mu_free(&mu);
  env_finish(&e);
}

static int stats_h2_started(void *arg) {
  return stats(arg).h2_connections >= 2;
}

/* Raw bytes: a preface followed by garbage gets a GOAWAY and a close; a
 * preface with http2 off is an HTTP/1 request line, answered 505. */
static void test_raw_preface(void) {
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  env_t e;
  client_t c;
  env_init(&e, NULL);
  cl_connect(&e, &c);
  cl_send(&c, preface);
  cl_send(&c, "this is not a frame at all, not even close\r\n\r\n");
  cl_wait_gone(&c);
  ASSERT(c.rxlen >= 9 && c.rx[3] == 0x04); /* our SETTINGS came first */
  cl_close(&c);
  /* the preface in pieces, byte by byte, is still HTTP/2 */
  cl_connect(&e, &c);
  for (size_t i = 0; i < sizeof preface - 1; i++) {
    cl_send_n(&c, preface + i, 1);
    run_for(&e, 1);
  }
  cl_send_n(&c, "\0\0\0\4\0\0\0\0\0", 9); /* an empty SETTINGS frame */
  run_until(&e, stats_h2_started, &e);
  cl_close(&c);
  ASSERT_EQ(stats(&e).h2_connections, 2);
  run_until(&e, server_idle, &e);
  env_finish(&e);

  /* almost the preface: HTTP/1 after all, and its line gets the 505 */
  env_init(&e, NULL);
  cl_connect(&e, &c);
  cl_send(&c, "PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n");
  cl_wait(&c, 1);
  ASSERT_EQ(c.resp[0].status, 505);
  cl_wait_gone(&c);
  cl_close(&c);
  ASSERT_EQ(stats(&e).h2_connections, 0);
  run_until(&e, server_idle, &e);
  env_finish(&e);

  fixture_opts_t o;
  fixture_opts_init(&o);
  o.http2 = 0;
  env_init(&e, &o);
  cl_connect(&e, &c);
  cl_send(&c, preface);
  cl_wait(&c, 1);
  ASSERT_EQ(c.resp[0].status, 505);
  cl_wait_gone(&c);
  cl_close(&c);
  ASSERT_EQ(stats(&e).h2_connections, 0);
  ASSERT_EQ(stats(&e).bad_requests, 1);
  run_until(&e, server_idle, &e);
  env_finish(&e);
}

int main(void) {
  ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  test_all_documents();
  test_delay_per_stream();
  test_stream_limit();
  test_gzip_bomb();
  test_routes_and_faults();
  test_close_with_streams_open();
  test_raw_preface();
  curl_global_cleanup();
  printf("test-fixture-h2: ok\n");
  return 0;
}
