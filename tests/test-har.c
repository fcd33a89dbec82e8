/* The HAR writer (src/cli/har.c) on a made-up trace: string escaping
 * (control characters, quotes, invalid UTF-8), the timings arithmetic
 * (-1 for phases that did not happen, wait and receive never negative,
 * time = the sum of what is written), dates, versions, failures, the query
 * string, and the file handling (temporary name, rename over a symlink,
 * errors naming the file, nothing left behind). */
#include "adl-test.h"
#include "har.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[300], err[512];
static char buf[1 << 16];

static const char *slurp(const char *p) {
  FILE *f = fopen(p, "rb");
  ASSERT(f != NULL);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  ASSERT(!ferror(f));
  fclose(f);
  buf[n] = '\0';
  return buf;
}

#define HAS(s) ASSERT(strstr(buf, (s)) != NULL)

static void add(cli_trace_t *t, const adl_result_t *r) {
  ASSERT_EQ(cli_trace_add(t, r), 0);
}

static void make_trace(cli_trace_t *t) {
  cli_trace_init(t);
  ASSERT_EQ(cli_trace_begin_run(t, ADL_STRATEGY_PARALLEL, 1, 6, 1000000,
                                1700000000123456ull), 0);
  adl_result_t r = {0};
  /* a fresh TLS connection whose first byte came before setup ended */
  r.url = "https://h/x?a=1&b&&c=%41#f";
  r.http_status = 200, r.bytes = 42, r.http_version = 20;
  r.queue_us = 700, r.backoff_us = 500, r.dns_us = 1000;
  r.connect_us = 2000, r.tls_us = 3000, r.ttfb_us = 4000, r.total_us = 10000;
  r.new_connections = 1, r.local_port = 4242, r.attempts = 2;
  r.admitted_at_us = 1000000 + 2000000;
  add(t, &r);
  /* a reused connection, and a URL with characters JSON must escape */
  memset(&r, 0, sizeof(r));
  r.url = "http://h/\x01\"\\\t\xff\xc3\xa9";
  r.http_status = 404, r.status = ADL_EHTTP, r.http_version = 10;
  r.ttfb_us = 3000, r.total_us = 3500, r.bytes = 7, r.attempts = 1;
  r.admitted_at_us = 1000000;
  add(t, &r);
  /* a failure without any response */
  memset(&r, 0, sizeof(r));
  r.url = "http://h/slow";
  r.status = ADL_ETIMEDOUT, r.total_us = 9000, r.attempts = 1;
  r.admitted_at_us = 1000000 + 5;
  add(t, &r);
  cli_trace_end_run(t, 25000);
}

static void test_content(void) {
  cli_trace_t t;
  make_trace(&t);
  ASSERT_EQ(cli_har_write(&t, path, err, sizeof(err)), 0);
  cli_trace_free(&t);
  slurp(path);
  HAS("\"version\":\"1.2\",\"creator\":{\"name\":\"asyncdl\",\"version\":\"");
  HAS("{\"startedDateTime\":\"2023-11-14T22:13:20.123Z\",\"id\":\"parallel-1\"");
  HAS("\"pageTimings\":{\"onContentLoad\":-1,\"onLoad\":25.000}");
  /* first: submitted 700 µs before admission at +2 s */
  HAS("\"startedDateTime\":\"2023-11-14T22:13:22.122Z\",\"time\":12.700,");
  HAS("\"httpVersion\":\"HTTP/2\"");
  HAS("\"queryString\":[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"b\","
      "\"value\":\"\"},{\"name\":\"c\",\"value\":\"%41\"}]");
  HAS("\"content\":{\"size\":42,\"mimeType\":\"application/json\"}");
  HAS("\"timings\":{\"blocked\":1.200,\"dns\":1.000,\"connect\":5.000,"
      "\"ssl\":3.000,\"send\":0.000,\"wait\":0.000,\"receive\":5.500},"
      "\"connection\":\"4242\",\"_attempts\":2}");
  /* second: escaped, reused, HTTP/1.0, failed with a status */
  HAS("\"url\":\"http://h/\\u0001\\\"\\\\\\t\xef\xbf\xbd\xc3\xa9\"");
  HAS("\"httpVersion\":\"HTTP/1.0\"");
  HAS("\"status\":404,");
  HAS("\"content\":{\"size\":7,\"mimeType\":\"\"}");
  HAS("\"bodySize\":7,\"_error\":\"EHTTP\"}");
  HAS("\"time\":3.500,");
  HAS("{\"blocked\":0.000,\"dns\":-1,\"connect\":-1,\"ssl\":-1,\"send\":0.000,"
      "\"wait\":3.000,\"receive\":0.500}");
  /* third: no response at all; the time went to waiting */
  HAS("\"status\":0,\"statusText\":\"\",\"httpVersion\":\"HTTP/1.1\"");
  HAS("\"bodySize\":-1,\"_error\":\"ETIMEDOUT\"}");
  HAS("\"wait\":9.000,\"receive\":0.000}");
  /* entries by start: the two at the run's start first, in trace order */
  char *a = strstr(buf, "http://h/\\u0001"), *b = strstr(buf, "http://h/slow");
  char *c = strstr(buf, "https://h/x");
  ASSERT(a != NULL && b != NULL && c != NULL && a < b && b < c);
  if (system("command -v python3 >/dev/null 2>&1") == 0) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' %s",
             path);
    ASSERT_EQ(system(cmd), 0);
  }
  ASSERT_EQ(unlink(path), 0);
}

static void test_empty(void) {
  cli_trace_t t;
  cli_trace_init(&t);
  ASSERT_EQ(cli_har_write(&t, path, err, sizeof(err)), 0);
  ASSERT(strstr(slurp(path), "\"pages\":[],\"entries\":[]}}\n") != NULL);
  ASSERT_EQ(unlink(path), 0);
}

static void test_files(void) {
  cli_trace_t t;
  make_trace(&t);
  char target[320], bad[320];
  /* a symlink at the name is replaced, its target left alone */
  snprintf(target, sizeof(target), "%s/target", dir);
  FILE *f = fopen(target, "w");
  ASSERT(f != NULL && fputs("keep", f) >= 0 && fclose(f) == 0);
  ASSERT_EQ(symlink(target, path), 0);
  ASSERT_EQ(cli_har_write(&t, path, err, sizeof(err)), 0);
  struct stat st;
  ASSERT_EQ(lstat(path, &st), 0);
  ASSERT(S_ISREG(st.st_mode));
  ASSERT_STR_EQ(slurp(target), "keep");
  ASSERT_EQ(adl_test_dir_entries(dir), 2);
  /* errors: negative errno, the file named, nothing left behind */
  snprintf(bad, sizeof(bad), "%s/no/such/dir.har", dir);
  ASSERT_EQ(cli_har_write(&t, bad, err, sizeof(err)), -ENOENT);
  ASSERT(strstr(err, bad) != NULL);
  snprintf(bad, sizeof(bad), "%s/a-dir", dir);
  ASSERT_EQ(mkdir(bad, 0700), 0);
  ASSERT_EQ(cli_har_write(&t, bad, err, sizeof(err)), -EISDIR);
  ASSERT(strstr(err, bad) != NULL);
  ASSERT_EQ(adl_test_dir_entries(dir), 3);
  cli_trace_free(&t);
  ASSERT_EQ(rmdir(bad), 0);
  ASSERT_EQ(unlink(path), 0);
  ASSERT_EQ(unlink(target), 0);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/test-har-XXXXXX",
           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/out.har", dir);
  test_content();
  test_empty();
  test_files();
  ASSERT_EQ(rmdir(dir), 0);
  puts("ok: har writer");
  return 0;
}
