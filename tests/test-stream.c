/* The streaming API against the in-process fixture: the response head
 * before the first body byte, pause and resume (from on_data and from
 * outside), progress events at a bounded rate, per-request limits that
 * override the client's, and a slow consumer of a 100 MB body that keeps
 * the library's memory flat. Every run has a watchdog. */
#include "adl-test.h"
#include "asyncdl.h"
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCHDOG_MS 30000

static uv_loop_t loop;
static uv_timer_t watchdog;
static fixture_t *fx;
static int port;
static int fixture_closed;

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  ADL_FAIL_("watchdog: a callback never came");
}

/* One request's observations. */
typedef struct probe_s {
  adl_client_t *c;
  adl_request_id_t id;
  int headers_calls;
  long head_status;
  char head_ctype[64];
  char head_status_line[64];
  uint64_t data_bytes;  /* consumed */
  int data_before_head; /* a body byte came before on_headers */
  int bad_pattern;      /* a byte that is not the fixture's pattern */
  unsigned pauses;      /* ADL_DATA_PAUSE returned */
  uint64_t paused_len;  /* the chunk refused; must come again first */
  int redelivered_ok;
  /* slow consumer */
  uint64_t budget;      /* bytes it may take until the next tick */
  int slow;
  uv_timer_t tick;
  int tick_active;
  /* progress */
  unsigned progress_calls;
  uint64_t progress_last;
  int64_t progress_expected;
  uint64_t progress_first_ns, progress_prev_ns, progress_min_gap_ns;
  int progress_backwards;
  /* outcome */
  int done;
  adl_result_t res;
  /* memory */
  long rss_base_kb, rss_max_kb;
} probe_t;

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  if (f != NULL)
    fclose(f);
  return kb;
}

static int on_headers(adl_request_t *r, long status) {
  probe_t *p = adl_request_get_data(r);
  p->headers_calls++;
  p->head_status = status;
  const char *ct = adl_request_header(r, "content-type");
  snprintf(p->head_ctype, sizeof(p->head_ctype), "%s", ct ? ct : "");
  const char *sl = adl_request_status_line(r);
  snprintf(p->head_status_line, sizeof(p->head_status_line), "%s",
           sl ? sl : "");
  return 0;
}

static void on_tick(uv_timer_t *t) {
  probe_t *p = t->data;
  p->budget = 256u << 10; /* 256 KiB per ms tick: 256 MB/s at most */
  long kb = rss_kb();
  if (kb > p->rss_max_kb)
    p->rss_max_kb = kb;
  ASSERT_EQ(adl_request_resume(p->c, p->id), 0);
}

static int on_data(adl_request_t *r, const char *buf, size_t len) {
  probe_t *p = adl_request_get_data(r);
  if (p->headers_calls == 0)
    p->data_before_head = 1;
  if (p->paused_len != 0) {
    /* The chunk refused last time comes again, whole, before anything. */
    p->redelivered_ok = len >= p->paused_len;
    p->paused_len = 0;
  }
  int pause = p->slow ? len > p->budget : p->pauses == 0;
  if (pause) {
    p->pauses++;
    p->paused_len = len;
    if (!p->slow) { /* resumed from outside, later */
      uv_timer_start(&p->tick, on_tick, 50, 0);
      p->tick_active = 1;
    }
    return ADL_DATA_PAUSE;
  }
  if (p->slow)
    p->budget -= len;
  for (size_t i = 0; i < len; i += 997)
    if ((unsigned char)buf[i] != fixture_pattern_byte(p->data_bytes + i))
      p->bad_pattern = 1;
  p->data_bytes += len;
  return 0;
}

static void on_progress(adl_request_t *r, uint64_t bytes, int64_t expected) {
  probe_t *p = adl_request_get_data(r);
  uint64_t now = uv_hrtime();
  if (p->progress_calls > 0) {
    uint64_t gap = now - p->progress_prev_ns;
    if (p->progress_calls == 1 || gap < p->progress_min_gap_ns)
      p->progress_min_gap_ns = gap;
    if (bytes < p->progress_last)
      p->progress_backwards = 1;
  } else {
    p->progress_first_ns = now;
  }
  p->progress_prev_ns = now;
  p->progress_calls++;
  p->progress_last = bytes;
  p->progress_expected = expected;
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  probe_t *p = adl_request_get_data(r);
  p->done++;
  p->res = *res;
  p->res.message = NULL;
  p->res.url = p->res.final_url = NULL;
  if (p->tick_active) {
    uv_timer_stop(&p->tick);
    p->tick_active = 0;
  }
}

static void client_closed(adl_client_t *c) {
  *(int *)adl_client_get_data(c) = 1;
}

static void fixture_closed_cb(void *arg) { *(int *)arg = 1; }

static adl_client_t *new_client_with(unsigned retries, int h2) {
  adl_options_t o;
  adl_options_init(&o);
  if (h2) { /* the fixture speaks HTTP/2 with prior knowledge */
    o.strategy = ADL_STRATEGY_MULTIPLEX;
    o.h2_prior_knowledge = 1;
  }
  o.retries = retries;
  o.retry_base_ms = 10;
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  return c;
}

static adl_client_t *new_client(unsigned retries) {
  return new_client_with(retries, 0);
}

static void close_client(adl_client_t *c) {
  int closed = 0;
  adl_client_set_data(c, &closed);
  adl_client_close(c, client_closed);
  while (!closed)
    uv_run(&loop, UV_RUN_ONCE);
}

/* Starts path on c with p observing; opts tweaked by the caller. */
static void start(adl_client_t *c, probe_t *p, const char *path,
                  adl_request_opts_t *ro) {
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  p->c = c;
  uv_timer_init(&loop, &p->tick);
  p->tick.data = p;
  ro->sink = ADL_SINK_CALLBACK;
  ro->on_data = on_data;
  ro->on_done = on_done;
  ro->data = p;
  ASSERT_EQ(adl_request_start(c, url, ro, &p->id), 0);
}

static void run_until_done(probe_t *p) {
  while (!p->done)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&p->tick, NULL);
}

/* The head comes first, with its fields readable; one pause from on_data
 * resumed 50 ms later from a timer redelivers the refused chunk. */
static void test_head_and_pause(void) {
  adl_client_t *c = new_client(0);
  probe_t p = {0};
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_headers = on_headers;
  start(c, &p, "/fault/big/1000000", &ro);
  uint64_t t0 = uv_hrtime();
  run_until_done(&p);
  ASSERT_EQ(p.res.status, 0);
  ASSERT_EQ(p.headers_calls, 1);
  ASSERT_EQ(p.head_status, 200);
  ASSERT(strncmp(p.head_status_line, "HTTP/1.1 200", 12) == 0);
  ASSERT(p.head_ctype[0] != '\0');
  ASSERT_EQ(p.data_before_head, 0);
  ASSERT_EQ(p.pauses, 1);
  ASSERT_EQ(p.redelivered_ok, 1);
  ASSERT_EQ(p.bad_pattern, 0);
  ASSERT_EQ(p.data_bytes, 1000000);
  ASSERT_EQ(p.res.bytes, 1000000);
  ASSERT((uv_hrtime() - t0) / 1000000 >= 50); /* it really waited */
  /* The id is gone once done: pause and resume say so. */
  ASSERT_EQ(adl_request_pause(c, p.id), ADL_ENOENT);
  ASSERT_EQ(adl_request_resume(c, p.id), ADL_ENOENT);
  close_client(c);
}

/* Paused before it starts, resumed from outside: nothing is delivered
 * while paused, everything after. Resuming twice is harmless. */
static void test_pause_from_outside(void) {
  adl_client_t *c = new_client(0);
  probe_t p = {0};
  p.pauses = 1; /* on_data never pauses by itself */
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  start(c, &p, "/fault/big/300000", &ro);
  ASSERT_EQ(adl_request_pause(c, p.id), 0);
  /* Run 100 ms of loop time: the transfer must not progress. */
  uint64_t until = uv_hrtime() + 100000000u;
  while (uv_hrtime() < until && !p.done)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(p.done, 0);
  ASSERT_EQ(p.data_bytes, 0);
  ASSERT_EQ(adl_request_resume(c, p.id), 0);
  ASSERT_EQ(adl_request_resume(c, p.id), 0);
  ASSERT_EQ(p.data_bytes, 0); /* never inside the call */
  run_until_done(&p);
  ASSERT_EQ(p.res.status, 0);
  ASSERT_EQ(p.data_bytes, 300000);
  ASSERT_EQ(p.bad_pattern, 0);
  close_client(c);
}

/* A consumer slower than the network (256 KiB per ms tick, pausing when its
 * budget is out) reads a 100 MB body: the library holds at most a chunk,
 * so the process grows by far less than the body. */
static void test_slow_consumer(int h2) {
  const uint64_t size = 100000000;
  adl_client_t *c = new_client_with(0, h2);
  probe_t p = {0};
  p.slow = 1;
  p.budget = 256u << 10;
  p.rss_base_kb = p.rss_max_kb = rss_kb();
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  char path[64];
  snprintf(path, sizeof(path), "/fault/big/%llu", (unsigned long long)size);
  start(c, &p, path, &ro);
  uv_timer_start(&p.tick, on_tick, 1, 1);
  p.tick_active = 1;
  run_until_done(&p);
  ASSERT_EQ(p.res.status, 0);
  ASSERT_EQ(p.res.http_version, h2 ? 20 : 11);
  ASSERT_EQ(p.data_bytes, size);
  ASSERT_EQ(p.bad_pattern, 0);
  ASSERT(p.pauses > 10); /* it really was the slower side */
  long grew = p.rss_max_kb - p.rss_base_kb;
  printf("slow consumer (%s): 100 MB in %u pauses, RSS %ld -> %ld kB "
         "(+%ld)\n", h2 ? "HTTP/2" : "HTTP/1.1", p.pauses, p.rss_base_kb,
         p.rss_max_kb, grew);
  /* ASan's quarantine and valgrind's own bookkeeping move RSS by
   * themselves: measured only in a plain build. */
  const char *pre = getenv("LD_PRELOAD");
  if (!UNDER_ASAN && (pre == NULL || strstr(pre, "vgpreload") == NULL))
    ASSERT(grew < 16 * 1024);
  close_client(c);
}

/* Progress: at most one event per progress_ms, growing, the last one the
 * whole body with the declared length. */
static void test_progress(void) {
  adl_client_t *c = new_client(0);
  probe_t p = {0};
  p.pauses = 1;
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_progress = on_progress;
  ro.progress_ms = 40;
  /* 20 KB at 50 KB/s: about 400 ms of body. */
  start(c, &p, "/fault/slow?bps=50000", &ro);
  run_until_done(&p);
  ASSERT_EQ(p.res.status, 0);
  uint64_t span_ms = (p.progress_prev_ns - p.progress_first_ns) / 1000000;
  printf("progress: %u events over %llu ms, min gap %llu ms\n",
         p.progress_calls, (unsigned long long)span_ms,
         (unsigned long long)(p.progress_min_gap_ns / 1000000));
  ASSERT(p.progress_calls >= 3);
  /* The final event may follow the last rate-bound one at once. */
  ASSERT(p.progress_calls <= span_ms / 40 + 2);
  ASSERT_EQ(p.progress_backwards, 0);
  ASSERT_EQ(p.progress_last, p.res.bytes);
  ASSERT_EQ(p.progress_expected, (int64_t)p.res.bytes);
  close_client(c);
}

/* Per-request limits beat the client's: retries, redirects, timeout. */
static void test_overrides(void) {
  adl_client_t *c = new_client(3);
  probe_t a = {0}, b = {0}, d = {0}, e = {0};
  a.pauses = b.pauses = d.pauses = e.pauses = 1;
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.override_mask = ADL_OVERRIDE_RETRIES;
  ro.retries = 0;
  start(c, &a, "/fault/flaky/stream-a?fail=1", &ro);
  adl_request_opts_init(&ro); /* the client's 3 retries */
  start(c, &b, "/fault/flaky/stream-b?fail=1", &ro);
  adl_request_opts_init(&ro);
  ro.override_mask = ADL_OVERRIDE_REDIRECTS;
  ro.max_redirects = 1;
  start(c, &d, "/fault/redirect/3", &ro);
  adl_request_opts_init(&ro);
  ro.override_mask = ADL_OVERRIDE_TIMEOUT;
  ro.timeout_ms = 200;
  start(c, &e, "/fault/stall-body", &ro);
  uint64_t t0 = uv_hrtime();
  run_until_done(&a);
  run_until_done(&b);
  run_until_done(&d);
  run_until_done(&e);
  ASSERT_EQ(a.res.status, ADL_EHTTP);
  ASSERT_EQ(a.res.attempts, 1);
  ASSERT_EQ(b.res.status, 0);
  ASSERT_EQ(b.res.attempts, 2);
  ASSERT_EQ(d.res.status, ADL_EREDIRECT);
  ASSERT_EQ(e.res.status, ADL_ETIMEDOUT);
  ASSERT(e.res.total_us < 5000000); /* not the client's 30 s */
  (void)t0;
  /* Bad overrides are refused at the call. */
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.override_mask = ADL_OVERRIDE_REDIRECTS;
  ro.max_redirects = 64;
  ASSERT_EQ(adl_request_start(c, "http://127.0.0.1:1/", &ro, NULL),
            ADL_EINVAL);
  ro.override_mask = 1u << 7;
  ro.max_redirects = 0;
  ASSERT_EQ(adl_request_start(c, "http://127.0.0.1:1/", &ro, NULL),
            ADL_EINVAL);
  close_client(c);
}

int main(void) {
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ASSERT_EQ(adl_library_init(), 0);
  uv_timer_init(&loop, &watchdog);
  uv_timer_start(&watchdog, on_watchdog, WATCHDOG_MS, 0);
  uv_unref((uv_handle_t *)&watchdog);
  ASSERT_EQ(fixture_start(&loop, NULL, &fx), 0);
  port = fixture_port(fx);
  test_head_and_pause();
  test_pause_from_outside();
  test_progress();
  test_overrides();
  test_slow_consumer(0);
  test_slow_consumer(1);
  fixture_close(fx, fixture_closed_cb, &fixture_closed);
  while (!fixture_closed)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&watchdog, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  adl_library_shutdown();
  printf("test-stream: passed\n");
  return 0;
}
