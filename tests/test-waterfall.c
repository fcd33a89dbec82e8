/* The waterfall writer (src/cli/waterfall.c) on made-up traces: what the
 * --local fixture never produces (failures before connecting, retries with
 * backoff, a port handed out again, markup in URLs), write errors, and
 * aggregation at 10,000 requests. tests/test-waterfall.sh checks real runs
 * and renders them. */
#include "adl-test.h"
#include "waterfall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[300], err[512];

static char *slurp(const char *p) {
  FILE *f = fopen(p, "rb");
  ASSERT(f != NULL);
  ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  ASSERT(s != NULL);
  ASSERT_EQ(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static size_t count(const char *s, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Sum of N over `class="agg" data-requests="N"`. */
static size_t aggregated(const char *s) {
  static const char key[] = "class=\"agg\" data-requests=\"";
  size_t n = 0;
  for (const char *p = strstr(s, key); p != NULL; p = strstr(p + 1, key))
    n += strtoul(p + sizeof(key) - 1, NULL, 10);
  return n;
}

static void add(cli_trace_t *t, const char *url, uint64_t at, int port,
                unsigned newc, int status, uint64_t ttfb, uint64_t total,
                uint64_t backoff) {
  adl_result_t r = {0};
  r.url = url;
  r.message = "";
  r.admitted_at_us = t->runs[t->nruns - 1].start_mono_us + at;
  r.local_port = port;
  r.new_connections = newc;
  r.status = status;
  r.http_status = status == 0 ? 200 : 0;
  r.ttfb_us = ttfb;
  r.total_us = total;
  r.backoff_us = backoff;
  r.connect_us = newc ? 100 : 0;
  r.attempts = backoff ? 2 : 1;
  ASSERT_EQ(cli_trace_add(t, &r), 0);
}

static void test_small(void) {
  cli_trace_t t;
  cli_trace_init(&t);
  t.local = 1;
  t.rtt_ms = 2;
  ASSERT_EQ(cli_trace_begin_run(&t, ADL_STRATEGY_PARALLEL, 1, 2, 1000, 0), 0);
  add(&t, "http://h/a?x=1&y=<2>\"", 0, 5000, 1, 0, 4000, 4200, 0);
  add(&t, "http://h/b", 0, 5001, 1, 0, 4000, 4100, 0);
  add(&t, "http://h/c", 4300, 5000, 0, 0, 2000, 2100, 0);
  add(&t, "http://h/d", 4400, 0, 0, ADL_ECONNREFUSED, 0, 0, 0);
  add(&t, "http://h/e", 7000, 5000, 1, 0, 4000, 4100, 0); /* port again */
  add(&t, "http://h/f", 4200, 5001, 0, 0, 1000, 5000, 3000);
  cli_trace_end_run(&t, 11500);
  ASSERT_EQ(cli_waterfall_write(&t, path, err, sizeof(err)), 0);
  char *s = slurp(path);
  ASSERT(strstr(s, "http://h/a?x=1&amp;y=&lt;2&gt;&quot;") != NULL);
  ASSERT(strstr(s, "y=<2>") == NULL);
  ASSERT_EQ(count(s, "class=\"req"), 6);
  ASSERT_EQ(aggregated(s), 0);
  ASSERT_EQ(count(s, "class=\"req fail\""), 1);
  ASSERT(strstr(s, "data-requests=\"6\" data-lanes=\"4\"") != NULL);
  ASSERT_EQ(count(s, "<g class=\"lane\" data-lanes=\"1\">"), 4);
  ASSERT(strstr(s, ">no connection<") != NULL);
  ASSERT(strstr(s, "<rect class=\"b\" x=") != NULL); /* backoff drawn */
  ASSERT(strstr(s, "<rect class=\"f\" x=") != NULL); /* zero-time failure */
  ASSERT(strstr(s, "connection refused") != NULL);
  ASSERT(strstr(s, "model: r + ") != NULL);
  ASSERT(strstr(s, "</svg>\n") != NULL);
  free(s);
  ASSERT_EQ(adl_test_dir_entries(dir), 1);
  ASSERT_EQ(unlink(path), 0);
  cli_trace_free(&t);
}

static void test_errors(void) {
  cli_trace_t t;
  cli_trace_init(&t);
  char bad[400];
  snprintf(bad, sizeof(bad), "%s/missing/w.svg", dir);
  ASSERT_EQ(cli_waterfall_write(&t, bad, err, sizeof(err)), -ENOENT);
  ASSERT(strstr(err, bad) != NULL);
  snprintf(bad, sizeof(bad), "%s/sub", dir);
  ASSERT_EQ(mkdir(bad, 0700), 0);
  ASSERT(cli_waterfall_write(&t, bad, err, sizeof(err)) < 0); /* rename */
  ASSERT(strstr(err, bad) != NULL);
  ASSERT_EQ(adl_test_dir_entries(dir), 1); /* no temporary file left */
  ASSERT_EQ(rmdir(bad), 0);
  /* No runs at all: still a picture. */
  ASSERT_EQ(cli_waterfall_write(&t, path, err, sizeof(err)), 0);
  char *s = slurp(path);
  ASSERT(strstr(s, "0 runs, 0 requests") != NULL);
  ASSERT(strstr(s, "model: n/a") != NULL);
  free(s);
  ASSERT_EQ(unlink(path), 0);
}

/* 10,000 requests per strategy: everything adds up, the file stays small. */
static void test_scale(void) {
  cli_trace_t t;
  cli_trace_init(&t);
  const unsigned n = 10000;
  for (int st = 0; st < 3; st++) {
    ASSERT_EQ(cli_trace_begin_run(&t, (adl_strategy_t)st, 1, 6, 50, 0), 0);
    for (unsigned i = 0; i < n; i++) {
      int serial = st == ADL_STRATEGY_SERIAL;
      int port = serial ? 1024 + (int)(i % 40000)
                        : 2000 + (st == ADL_STRATEGY_PARALLEL ? (int)i % 6 : 0);
      uint64_t at = serial ? i * 1000ull : st == 1 ? i * 500ull : i / 6 * 500ull;
      unsigned newc = serial || i < (st == ADL_STRATEGY_SESSION ? 1u : 6u);
      add(&t, "http://h/x", at, port, newc, 0, 400, 450, 0);
    }
    cli_trace_end_run(&t, n * (st == 0 ? 1000ull : st == 1 ? 500ull : 90ull));
  }
  ASSERT_EQ(cli_waterfall_write(&t, path, err, sizeof(err)), 0);
  char *s = slurp(path);
  size_t len = strlen(s);
  ASSERT_LT(len, 3000000);
  ASSERT_EQ(count(s, "class=\"req") + aggregated(s), 3 * n);
  ASSERT(strstr(s, "data-requests=\"10000\" data-lanes=\"10000\"") != NULL);
  ASSERT(strstr(s, "data-requests=\"10000\" data-lanes=\"1\"") != NULL);
  ASSERT(strstr(s, "data-requests=\"10000\" data-lanes=\"6\"") != NULL);
  printf("10,000 x 3 requests: %zu bytes, %zu bars\n", len,
         count(s, "class=\"req"));
  free(s);
  ASSERT_EQ(unlink(path), 0);
  cli_trace_free(&t);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/adl-test-waterfall-XXXXXX",
           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/w.svg", dir);
  test_small();
  test_errors();
  test_scale();
  ASSERT_EQ(rmdir(dir), 0);
  printf("ok\n");
  return 0;
}
