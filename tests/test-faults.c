/* Every fault the fixture server can inject, through the engine with a file
 * sink: each URL gets exactly one outcome, the expected one, after the
 * expected number of attempts, and nothing is ever left under the final
 * file name (nor any temporary file) unless the download succeeded. */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"
#include "fixture.h"

#include <sys/stat.h>
#include <unistd.h>

typedef struct fault_s {
  const char *path;
  int status;         /* expected outcome */
  long http;          /* expected HTTP status, -1 = do not check */
  unsigned attempts;  /* expected attempts, 0 = do not check */
  unsigned calls;     /* done callbacks seen */
  adl_result_t res;
  char file[256];
} fault_t;

static fault_t *g_faults;
static unsigned g_done;
static unsigned g_injected, g_outcomes, g_attempts; /* for the summary */
static unsigned g_lost, g_duplicated; /* counted per fault, not derived */

/* A lost done callback must fail the test within seconds, not hang it until
 * meson's timeout: the loop runs until every request has reported or this
 * watchdog fires. The longest scenario (a trickle cut by the low-speed
 * limit, a capped Retry-After) takes a few seconds. */
#define WATCHDOG_MS 20000
static int g_watchdog_fired;
static void on_watchdog(uv_timer_t *t) {
  (void)t;
  g_watchdog_fired = 1;
}

/* Faults in faults[0..n) that have not had their done callback yet. */
static unsigned pending(const fault_t *faults, unsigned n) {
  unsigned k = 0;
  for (unsigned i = 0; i < n; i++)
    k += faults[i].calls == 0;
  return k;
}

/* Entries of dir: final files (item*.json) and temporaries (*.part-*). */
static void count_files(const char *dir, unsigned *finals, unsigned *temps) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  *finals = *temps = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (strstr(e->d_name, ".part-") != NULL) {
      fprintf(stderr, "temporary file left: %s/%s\n", dir, e->d_name);
      ++*temps;
    } else {
      ++*finals;
    }
  }
  closedir(d);
}

/* Outcomes must name their cause: these words in the message. */
static const struct {
  const char *path, *words;
} g_reasons[] = {
    {"/fault/redirect-scheme", "only http and https"},
    {"/fault/length-overflow", "Content-Length"},
    {"/fault/http09", "HTTP/0.9"},
    {"/fault/huge-header", "header"},
};

static void check_reason(const fault_t *f, const adl_result_t *res) {
  for (size_t i = 0; i < sizeof(g_reasons) / sizeof(g_reasons[0]); i++)
    if (strcmp(f->path, g_reasons[i].path) == 0 &&
        strstr(res->message, g_reasons[i].words) == NULL)
      ADL_FAIL_("%s: message \"%s\" does not say \"%s\"", f->path,
                res->message, g_reasons[i].words);
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  fault_t *f = adl_request_get_data(r);
  check_reason(f, res);
  f->calls++;
  f->res = *res;
  f->res.message = NULL;
  f->res.url = NULL;
  g_done++;
  if (res->status != f->status)
    fprintf(stderr, "%s: got %s (%s), want %s\n", f->path,
            adl_err_name(res->status), res->message, adl_err_name(f->status));
}

static void fx_closed(void *arg) { ++*(int *)arg; }
static void cl_closed(adl_client_t *c) { ++*(int *)adl_client_get_data(c); }

/* Runs faults[0..n) concurrently through one client with options o. */
static void run(fault_t *faults, unsigned n, const adl_options_t *o,
                unsigned rtt) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  fixture_t *fx;
  fixture_opts_t fo;
  fixture_opts_init(&fo);
  fo.rtt_ms = rtt;
  ASSERT_EQ(fixture_start(&loop, &fo, &fx), 0);
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, o, &c), 0);
  char dir[] = "/tmp/adl-faults-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  g_faults = faults;
  g_done = 0;
  unsigned want_files = 0;
  for (unsigned i = 0; i < n; i++) {
    char url[256];
    if (faults[i].path[0] == '/')
      snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fixture_port(fx),
               faults[i].path);
    else
      snprintf(url, sizeof(url), "%s", faults[i].path);
    snprintf(faults[i].file, sizeof(faults[i].file), "%s/item%u.json", dir,
             i);
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.sink = ADL_SINK_FILE;
    ro.path = faults[i].file;
    ro.on_done = on_done;
    ro.data = &faults[i];
    ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
    if (faults[i].status == 0)
      want_files++;
  }
  uv_timer_t watchdog;
  ASSERT_EQ(uv_timer_init(&loop, &watchdog), 0);
  g_watchdog_fired = 0;
  ASSERT_EQ(uv_timer_start(&watchdog, on_watchdog, WATCHDOG_MS, 0), 0);
  while (pending(faults, n) > 0 && !g_watchdog_fired)
    uv_run(&loop, UV_RUN_ONCE);
  /* A few more turns of the loop, so that a second done callback for a
   * request already reported has its chance to show up. */
  for (int k = 0; k < 20 && !g_watchdog_fired; k++)
    uv_run(&loop, UV_RUN_NOWAIT);
  uv_timer_stop(&watchdog);
  uv_close((uv_handle_t *)&watchdog, NULL);
  /* Every request reports exactly once: count each kind of miss from the
   * callbacks themselves. A lost one is counted before the client is
   * closed (closing could report it as cancelled). */
  unsigned lost = 0, duplicated = 0;
  for (unsigned i = 0; i < n; i++) {
    fault_t *f = &faults[i];
    g_injected++;
    g_outcomes += f->calls;
    g_attempts += f->res.attempts;
    if (f->calls == 0) {
      fprintf(stderr, "%s: no outcome after %d ms\n", f->path,
              g_watchdog_fired ? WATCHDOG_MS : 0);
      lost++;
    } else if (f->calls > 1) {
      fprintf(stderr, "%s: %u outcomes\n", f->path, f->calls);
      duplicated++;
    }
  }
  g_lost += lost;
  g_duplicated += duplicated;
  ASSERT_EQ(lost, 0);
  ASSERT_EQ(duplicated, 0);
  ASSERT_EQ(g_done, n);
  /* Exactly the successful downloads are in the directory under their final
   * names, and no temporary file is left. */
  unsigned finals, temps;
  count_files(dir, &finals, &temps);
  ASSERT_EQ(temps, 0);
  ASSERT_EQ(finals, want_files);
  for (unsigned i = 0; i < n; i++) {
    fault_t *f = &faults[i];
    if (f->calls != 1 || f->res.status != f->status)
      ADL_FAIL_("%s: %u calls, outcome %s, want %s", f->path, f->calls,
                adl_err_name(f->res.status), adl_err_name(f->status));
    if (f->http >= 0 && f->res.http_status != f->http)
      ADL_FAIL_("%s: HTTP %ld, want %ld", f->path, f->res.http_status,
                f->http);
    if (f->attempts && f->res.attempts != f->attempts)
      ADL_FAIL_("%s: %u attempts, want %u", f->path, f->res.attempts,
                f->attempts);
    struct stat sb;
    int exists = stat(f->file, &sb) == 0;
    if (exists != (f->status == 0))
      ADL_FAIL_("%s: final file %s", f->path, exists ? "exists" : "missing");
    if (exists)
      unlink(f->file);
  }
  /* Nothing else in the directory: no temporary file survived. */
  ASSERT_EQ(adl_test_dir_entries(dir), 0);
  rmdir(dir);
  int closed = 0, fclosed = 0;
  adl_client_set_data(c, &closed);
  adl_client_close(c, cl_closed);
  fixture_close(fx, fx_closed, &fclosed);
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(closed, 1);
  ASSERT_EQ(fclosed, 1);
  /* Closing the client reports nothing more: every request had its one
   * outcome already. */
  for (unsigned i = 0; i < n; i++)
    if (faults[i].calls != 1)
      ADL_FAIL_("%s: %u outcomes after close", faults[i].path,
                faults[i].calls);
  ASSERT_EQ(g_done, n);
}

static void base_options(adl_options_t *o) {
  adl_options_init(o);
  o->strategy = ADL_STRATEGY_PARALLEL;
  o->max_connections = 8;
  o->retries = 2;
  o->retry_base_ms = 10;
  o->retry_max_ms = 100;
  o->timeout_ms = 5000;
}

static void test_transport_and_http(void) {
  fault_t faults[] = {
      {"/api/v2/pokemon/pikachu", 0, 200, 1, 0, {0}, ""},
      {"/fault/big/0", 0, 200, 1, 0, {0}, ""}, /* empty file, still made */
      {"http://127.0.0.1:1/refused", ADL_ECONNREFUSED, -1, 1, 0, {0}, ""},
      {"/fault/reset-before", ADL_ECONNRESET, -1, 3, 0, {0}, ""},
      {"/fault/close", ADL_EPROTO, -1, 3, 0, {0}, ""},
      {"/fault/reset-mid", ADL_ECONNRESET, 200, 3, 0, {0}, ""},
      {"/fault/short", ADL_EPROTO, 200, 3, 0, {0}, ""},
      {"/fault/chunked-cut", ADL_EPROTO, 200, 3, 0, {0}, ""},
      {"/fault/status/500", ADL_EHTTP, 500, 3, 0, {0}, ""},
      {"/fault/status/502", ADL_EHTTP, 502, 3, 0, {0}, ""},
      {"/fault/status/503", ADL_EHTTP, 503, 3, 0, {0}, ""},
      {"/fault/status/504", ADL_EHTTP, 504, 3, 0, {0}, ""},
      {"/fault/status/429", ADL_EHTTP, 429, 3, 0, {0}, ""},
      {"/fault/status/429?retry-after=1", ADL_EHTTP, 429, 3, 0, {0}, ""},
      {"/fault/status/404", ADL_EHTTP, 404, 1, 0, {0}, ""},
      {"/fault/status/403", ADL_EHTTP, 403, 1, 0, {0}, ""},
      {"/fault/flaky/a1?fail=2&code=503", 0, 200, 3, 0, {0}, ""},
      {"/fault/flaky/a2?fail=1&code=429", 0, 200, 2, 0, {0}, ""},
      {"/fault/flaky/a3?fail=3&code=500", ADL_EHTTP, 500, 3, 0, {0}, ""},
      /* Unverifiable or malformed answers are EPROTO, never ok (and no
       * file), whatever libcurl made of them. */
      {"/fault/length-overflow", ADL_EPROTO, 200, 3, 0, {0}, ""},
      {"/fault/length-garbage", ADL_EPROTO, 200, 3, 0, {0}, ""},
      {"/fault/http09", ADL_EPROTO, -1, 3, 0, {0}, ""},
      {"/fault/huge-header", ADL_EPROTO, -1, 3, 0, {0}, ""},
      {"/fault/redirect/3", 0, 200, 1, 0, {0}, ""},
      {"/fault/redirect/9", ADL_EREDIRECT, 302, 1, 0, {0}, ""},
      {"/fault/redirect-loop", ADL_EREDIRECT, 302, 1, 0, {0}, ""},
      {"/fault/redirect-scheme", ADL_EREDIRECT, 302, 1, 0, {0}, ""},
      {"/fault/big/300000", ADL_ETOOLARGE, 200, 1, 0, {0}, ""},
      {"/fault/chunked-cut?x", ADL_ETOOLARGE, 200, 1, 0, {0}, ""},
      {"ftp://127.0.0.1/x", ADL_ESCHEME, 0, 0, 0, {0}, ""},
      {"file:///etc/passwd", ADL_ESCHEME, 0, 0, 0, {0}, ""},
      {"http://", ADL_EURL, 0, 0, 0, {0}, ""},
  };
  unsigned n = sizeof(faults) / sizeof(faults[0]);
  adl_options_t o;
  base_options(&o);
  run(faults, n - 5, &o, 0);
  o.max_size = 2000; /* the big body and the chunked one exceed it */
  run(faults + n - 5, 5, &o, 0);
}

/* Retry-After is honoured, but never beyond the configured cap. */
static void test_retry_after(void) {
  adl_options_t o;
  base_options(&o);
  o.retry_max_ms = 5000;
  fault_t honoured[] = {
      {"/fault/flaky/b1?fail=1&code=503&retry-after=1", 0, 200, 2, 0, {0}, ""}};
  uint64_t t0 = uv_hrtime();
  run(honoured, 1, &o, 0);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_GE(ms, 950);

  o.retry_max_ms = 100;
  fault_t capped[] = {
      {"/fault/flaky/b2?fail=2&code=503&retry-after=60", 0, 200, 3, 0, {0}, ""}};
  t0 = uv_hrtime();
  run(capped, 1, &o, 0);
  ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_GE(ms, 190);
  ASSERT_LT(ms, 3000);
}

/* Stalls end in timeouts within the configured time. */
static void test_stalls(void) {
  adl_options_t o;
  base_options(&o);
  o.retries = 1;
  o.timeout_ms = 300;
  fault_t headers[] = {
      {"/fault/stall-headers", ADL_ETIMEDOUT, -1, 2, 0, {0}, ""},
      {"/fault/stall-body", ADL_ETIMEDOUT, 200, 2, 0, {0}, ""}};
  uint64_t t0 = uv_hrtime();
  run(headers, 2, &o, 0);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_GE(ms, 600);
  ASSERT_LT(ms, 3000);

  /* The low-speed limit catches a trickle long before the total timeout. */
  base_options(&o);
  o.retries = 0;
  o.timeout_ms = 60000;
  o.low_speed_bytes = 4096;
  o.low_speed_time_ms = 1000;
  fault_t slow[] = {{"/fault/slow?bps=200", ADL_ETIMEDOUT, 200, 1, 0, {0}, ""}};
  t0 = uv_hrtime();
  run(slow, 1, &o, 0);
  ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_GE(ms, 900);
  ASSERT_LT(ms, 5000);
}

int main(void) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(adl_library_init(), 0);
  test_transport_and_http();
  test_retry_after();
  test_stalls();
  adl_library_shutdown();
  printf("test-faults: passed: %u fault scenarios, %u outcomes, %u attempts, "
         "%u items lost, %u duplicated\n",
         g_injected, g_outcomes, g_attempts, g_lost, g_duplicated);
  return 0;
}
