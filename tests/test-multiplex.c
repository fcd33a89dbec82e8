/* The multiplex strategy against the tests' nginx (with-nginx.sh, no extra
 * documents), counted on the server side through its access log:
 *   - over TLS with HTTP/2 (ALPN): all 151 documents byte-identical to the
 *     files nginx serves, every result HTTP/2 ("HTTP/2 200"), and nginx
 *     saw ONE connection carrying all 151 requests;
 *   - streams really overlap, and max_streams caps them: slow documents
 *     (nginx's /slow/, about 1 s each) count the streams whose body has
 *     begun and not ended. A stream with part of its body received is open
 *     at the server, so more than max_streams of them at once is a
 *     violation, and with all requests submitted together the count must
 *     reach the cap (30 of 30 by default, 10 with max_streams 10), still
 *     on one connection;
 *   - a server without HTTP/2 (TLS, HTTP/1.1 only) runs as parallel:
 *     everything succeeds as HTTP/1.1 over 2..max_per_host connections;
 *     plain http without prior knowledge is HTTP/1.1 too;
 *   - prior knowledge against a plain HTTP/1.1 port fails at once (nginx
 *     logs the HTTP/2 preface as a 400), it neither hangs nor succeeds.
 * Every phase runs under a watchdog and checks the client's fds come back
 * after close. Skips (77) outside with-nginx.sh. */
#include "nginx-test.h"

#include <signal.h>
#include "pokedex.h"

#define N POKEDEX_COUNT
#define SLOW 30 /* slow documents per overlap phase */

typedef struct item_s {
  const char *name;
  char file[600];        /* where the file sink writes */
  char want[600];        /* the file nginx serves */
  uint64_t size;         /* its size */
  unsigned calls;        /* done callbacks */
  adl_result_t res;      /* copied; message and urls not kept */
  char msg[256];
  char status_line[64];
  uint64_t got;          /* bytes through on_data */
} item_t;

static item_t g_items[N];
static unsigned g_done;
static unsigned g_active, g_max_active; /* streams mid-body */
static const char *g_root, *g_log, *g_ca;

static void on_done(adl_request_t *r, const adl_result_t *res) {
  item_t *it = adl_request_get_data(r);
  it->calls++;
  it->res = *res;
  it->res.message = it->res.url = it->res.final_url = NULL;
  snprintf(it->msg, sizeof(it->msg), "%s", res->message);
  const char *sl = adl_request_status_line(r);
  snprintf(it->status_line, sizeof(it->status_line), "%s",
           sl ? sl : "(null)");
  if (res->status != 0)
    fprintf(stderr, "  %s: %s (%s)\n", it->name, adl_err_name(res->status),
            res->message);
  g_done++;
}

/* A stream is "active" from its first body byte to its last. */
static int on_data(adl_request_t *r, const char *buf, size_t len) {
  item_t *it = adl_request_get_data(r);
  (void)buf;
  if (len == 0)
    return 0;
  if (it->got == 0 && ++g_active > g_max_active)
    g_max_active = g_active;
  it->got += len;
  if (it->got > it->size)
    ADL_FAIL_("%s: %llu bytes, the file has %llu", it->name,
              (unsigned long long)it->got, (unsigned long long)it->size);
  if (it->got == it->size)
    g_active--;
  return 0;
}

static void reset_items(void) {
  memset(g_items, 0, sizeof(g_items));
  g_done = g_active = g_max_active = 0;
  for (unsigned i = 0; i < N; i++) {
    item_t *it = &g_items[i];
    it->name = pokedex_names[i];
    snprintf(it->want, sizeof(it->want), "%s/api/v2/pokemon/%s", g_root,
             it->name);
    it->size = file_size(it->want);
  }
}

static void base_options(adl_options_t *o) {
  adl_options_init(o);
  o->strategy = ADL_STRATEGY_MULTIPLEX;
  o->cacert = g_ca;
  o->timeout_ms = 60000;
}

static adl_request_id_t start(sys_t *s, const char *url, item_t *it,
                              const char *dir) {
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.data = it;
  if (dir != NULL) {
    snprintf(it->file, sizeof(it->file), "%s/%s", dir, it->name);
    ro.sink = ADL_SINK_FILE;
    ro.path = it->file;
  } else {
    ro.sink = ADL_SINK_CALLBACK;
    ro.on_data = on_data;
  }
  adl_request_id_t id = 0;
  int rc = adl_request_start(s->c, url, &ro, &id);
  if (rc != 0)
    ADL_FAIL_("adl_request_start %s: %s", url, adl_err_name(rc));
  return id;
}

/* All 151 through client options o from base into files; each must be
 * the file nginx serves, with HTTP version want_ver. */
static void fetch_all(const adl_options_t *o, const char *base,
                      int want_ver, const char *what) {
  sys_t s;
  reset_items();
  char dir[] = "/tmp/adl-mux-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  sys_open(&s, o);
  for (unsigned i = 0; i < N; i++) {
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, g_items[i].name);
    start(&s, url, &g_items[i], dir);
  }
  sys_run(&s, &g_done, N, 60000, what);
  sys_close(&s);
  for (unsigned i = 0; i < N; i++) {
    item_t *it = &g_items[i];
    if (it->calls != 1)
      ADL_FAIL_("%s: %s: %u done callbacks", what, it->name, it->calls);
    if (it->res.status != 0)
      ADL_FAIL_("%s: %s: %s (%s)", what, it->name,
                adl_err_name(it->res.status), it->msg);
    ASSERT_EQ(it->res.http_status, 200);
    ASSERT_EQ(it->res.bytes, it->size);
    ASSERT_EQ(it->res.wire_bytes, it->size); /* nginx compresses nothing */
    if (it->res.http_version != want_ver)
      ADL_FAIL_("%s: %s: http_version %d, want %d", what, it->name,
                it->res.http_version, want_ver);
    const char *sl = want_ver == 20 ? "HTTP/2 200" : "HTTP/1.1 200";
    if (strncmp(it->status_line, sl, strlen(sl)) != 0)
      ADL_FAIL_("%s: %s: status line \"%s\", want \"%s...\"", what,
                it->name, it->status_line, sl);
    expect_same_file(it->file, it->want);
  }
  ASSERT_EQ(adl_test_dir_entries(dir), N); /* no temporary left */
  rm_dir(dir);
}

/* 1. HTTP/2 over TLS: byte-identical, one connection for all 151. */
static void test_h2_all(const char *https) {
  adl_options_t o;
  base_options(&o);
  long mark = ngx_mark(g_log);
  fetch_all(&o, https, 20, "multiplex over h2");
  unsigned new_conns = 0;
  for (unsigned i = 0; i < N; i++)
    new_conns += g_items[i].res.new_connections;
  static ngx_line_t lines[N + 8];
  unsigned n = ngx_lines(g_log, mark, url_port(https), N, lines, N + 8);
  ASSERT_EQ(n, N);
  unsigned conns = ngx_connections(lines, n);
  unsigned long max_reqs = 0;
  for (unsigned i = 0; i < n; i++) {
    ASSERT_STR_EQ(lines[i].proto, "HTTP/2.0");
    ASSERT_EQ(lines[i].status, 200);
    if (lines[i].reqs > max_reqs)
      max_reqs = lines[i].reqs;
  }
  fprintf(stderr,
          "h2: 151/151 identical, HTTP/2; nginx saw %u connection(s), up to "
          "%lu requests on one; the library counted %u new\n",
          conns, max_reqs, new_conns);
  if (conns != 1)
    ADL_FAIL_("multiplex used %u connections, want 1", conns);
  ASSERT_EQ(max_reqs, N);
  ASSERT_EQ(new_conns, 1);
}

static int by_size_desc(const void *a, const void *b) {
  const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
  return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

/* Starts the n largest documents from base's /slow/ location (the same
 * files, rate-limited) on s; order gets the items, largest first. */
static void start_slow(sys_t *s, const char *base, unsigned n,
                       item_t **order) {
  reset_items();
  for (unsigned i = 0; i < N; i++)
    order[i] = &g_items[i];
  qsort(order, N, sizeof(order[0]), by_size_desc);
  const char *api = strstr(base, "api/v2/pokemon/");
  ASSERT(api != NULL);
  for (unsigned i = 0; i < n; i++) {
    char url[512];
    snprintf(url, sizeof(url), "%.*sslow/%s", (int)(api - base), base,
             order[i]->name);
    start(s, url, order[i], NULL);
  }
}

/* 2. The SLOW largest documents from /slow/ at once: how many streams were
 * mid-body together (must be exactly want_max), on one connection. */
static void test_overlap(const char *https, unsigned max_streams,
                         unsigned want_max) {
  adl_options_t o;
  base_options(&o);
  if (max_streams > 0)
    o.max_streams = max_streams;
  item_t *order[N];
  long mark = ngx_mark(g_log);
  sys_t s;
  sys_open(&s, &o);
  start_slow(&s, https, SLOW, order);
  uint64_t t0 = uv_hrtime();
  sys_run(&s, &g_done, SLOW, 60000, "slow documents");
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  sys_close(&s);
  for (unsigned i = 0; i < SLOW; i++) {
    item_t *it = order[i];
    if (it->res.status != 0)
      ADL_FAIL_("slow %s: %s (%s)", it->name, adl_err_name(it->res.status),
                it->msg);
    ASSERT_EQ(it->got, it->size);
    ASSERT_EQ(it->res.bytes, it->size);
    ASSERT_EQ(it->res.http_version, 20);
  }
  ASSERT_EQ(g_active, 0);
  ngx_line_t lines[SLOW + 8];
  unsigned n = ngx_lines(g_log, mark, url_port(https), SLOW, lines, SLOW + 8);
  ASSERT_EQ(n, SLOW);
  unsigned conns = ngx_connections(lines, n);
  fprintf(stderr,
          "overlap (max_streams %u): %u slow documents in %.2f s, at most "
          "%u streams mid-body at once (want %u), %u connection(s)\n",
          max_streams ? max_streams : 100, SLOW, secs, g_max_active, want_max,
          conns);
  if (g_max_active > want_max)
    ADL_FAIL_("%u streams were open at once, the cap is %u", g_max_active,
              want_max);
  if (g_max_active < want_max)
    ADL_FAIL_("only %u streams overlapped, want %u", g_max_active, want_max);
  ASSERT_EQ(conns, 1);
}

/* 3b. The six largest documents, slowly (nginx sends the first 8 KB of a
 * rate-limited answer at once: only documents well above that are slow),
 * from an HTTP/1.1-only server: run as parallel, they need exactly
 * max_per_host (3) connections at once. */
static void test_fallback_slow(const adl_options_t *o, const char *https1) {
  item_t *order[N];
  long mark = ngx_mark(g_log);
  sys_t s;
  sys_open(&s, o);
  enum { SLOW_H1 = 6 };
  start_slow(&s, https1, SLOW_H1, order); /* about 1-2 s each */
  sys_run(&s, &g_done, SLOW_H1, 60000, "slow documents over HTTP/1.1");
  sys_close(&s);
  for (unsigned i = 0; i < SLOW_H1; i++) {
    item_t *it = order[i];
    ASSERT_EQ(it->res.status, 0);
    ASSERT_EQ(it->got, it->size);
    ASSERT_EQ(it->res.http_version, 11);
  }
  ngx_line_t lines[SLOW_H1 + 8];
  unsigned n = ngx_lines(g_log, mark, url_port(https1), SLOW_H1, lines,
                         SLOW_H1 + 8);
  ASSERT_EQ(n, SLOW_H1);
  unsigned conns = ngx_connections(lines, n);
  fprintf(stderr, "fallback, slow: %u documents over HTTP/1.1 on %u "
                  "connections (max_per_host 3)\n", SLOW_H1, conns);
  ASSERT_EQ(conns, 3);
}

/* 3. No HTTP/2 at the server: parallel, HTTP/1.1, several connections but
 * no more than max_per_host. */
static void test_fallback(const char *https1) {
  adl_options_t o;
  base_options(&o);
  o.max_connections = 6;
  o.max_per_host = 3;
  long mark = ngx_mark(g_log);
  fetch_all(&o, https1, 11, "multiplex against HTTP/1.1 only");
  static ngx_line_t lines[N + 8];
  unsigned n = ngx_lines(g_log, mark, url_port(https1), N, lines, N + 8);
  ASSERT_EQ(n, N);
  for (unsigned i = 0; i < n; i++)
    ASSERT_STR_EQ(lines[i].proto, "HTTP/1.1");
  unsigned conns = ngx_connections(lines, n);
  fprintf(stderr, "fallback: 151/151 identical over HTTP/1.1, %u "
                  "connections (max_per_host 3)\n", conns);
  /* Fast answers may all fit one connection on a loaded machine; slow
   * ones cannot (HTTP/1.1 carries one at a time): */
  ASSERT_LE(conns, 3);
  test_fallback_slow(&o, https1);
}

/* 4. Plain http without prior knowledge: HTTP/1.1, all fine. */
static void test_plain(const char *http) {
  adl_options_t o;
  base_options(&o);
  fetch_all(&o, http, 11, "multiplex over plain http");
  fprintf(stderr, "plain http without prior knowledge: 151/151 over "
                  "HTTP/1.1\n");
}

/* 5. Prior knowledge against an HTTP/1.1-only port: a prompt, clear
 * failure (the watchdog is far below the request timeout). */
static void test_prior_knowledge_refused(const char *http) {
  adl_options_t o;
  base_options(&o);
  o.h2_prior_knowledge = 1;
  o.retries = 0;
  o.timeout_ms = 120000;
  reset_items();
  long mark = ngx_mark(g_log);
  sys_t s;
  sys_open(&s, &o);
  char url[512];
  snprintf(url, sizeof(url), "%smew", http);
  start(&s, url, &g_items[0], NULL);
  uint64_t t0 = uv_hrtime();
  sys_run(&s, &g_done, 1, 15000, "prior knowledge against HTTP/1.1");
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  sys_close(&s);
  const adl_result_t *r = &g_items[0].res;
  fprintf(stderr, "prior knowledge against HTTP/1.1: %s (%s) after %.0f ms\n",
          adl_err_name(r->status), g_items[0].msg, ms);
  if (r->status == 0)
    ADL_FAIL_("HTTP/2 prior knowledge against an HTTP/1.1-only server "
              "succeeded (http_version %d): was HTTP/2 spoken at all?",
              r->http_version);
  ASSERT(r->status == ADL_EPROTO || r->status == ADL_ECONNRESET);
  ASSERT(g_items[0].msg[0] != '\0');
  ASSERT_NE(r->http_status, 200);
  /* nginx got the HTTP/2 connection preface and refused it. */
  ngx_line_t lines[8];
  unsigned n = ngx_lines(g_log, mark, url_port(http), 1, lines, 8);
  ASSERT_GE(n, 1);
  ASSERT_EQ(lines[0].status, 400);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char *https = need_env("ADL_NGINX_HTTPS");
  const char *https1 = need_env("ADL_NGINX_HTTPS1");
  const char *http = need_env("ADL_NGINX_HTTP");
  g_root = need_env("ADL_NGINX_ROOT");
  g_log = need_env("ADL_NGINX_LOG");
  g_ca = need_env("ADL_NGINX_CA");
  ASSERT_EQ(adl_library_init(), 0);
  adl_strategy_t st;
  ASSERT_EQ(adl_strategy_parse("multiplex", &st), 0);
  ASSERT_EQ(st, ADL_STRATEGY_MULTIPLEX);
  ASSERT_STR_EQ(adl_strategy_name(ADL_STRATEGY_MULTIPLEX), "multiplex");
  test_h2_all(https);
  test_overlap(https, 0, SLOW);
  test_overlap(https, 10, 10);
  test_fallback(https1);
  test_plain(http);
  test_prior_knowledge_refused(http);
  adl_library_shutdown();
  printf("test-multiplex: passed\n");
  return 0;
}
