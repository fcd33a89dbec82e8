/* Compression against the tests' nginx (with-nginx.sh; its gzip port
 * compresses JSON) and the fixture's gzip bomb:
 *   - by default the request lists every coding Debian's libcurl decodes
 *     (nginx logs Accept-Encoding with gzip, deflate, br and zstd); the
 *     saved files are the decoded documents, byte-identical to the files;
 *     bytes counts decoded bytes, wire_bytes the gzip body nginx sent
 *     (its $body_bytes_sent, give or take the chunked framing) and is
 *     smaller for every document;
 *   - no_compress: no Accept-Encoding at all, wire_bytes == bytes;
 *   - max_size counts decoded bytes: a document whose gzip body is far
 *     under the limit but whose decoded body is over it ends ADL_ETOOLARGE
 *     and leaves no file; exactly at the limit it is fine, one byte over
 *     it is not;
 *   - /fault/gzip-bomb (1 GiB of zeros in about 1 MB of gzip) with
 *     max_size 10 MB: ADL_ETOOLARGE, at most 10 MB decoded, decoding
 *     stopped long before the end of the bomb, and the process's peak RSS
 *     grew by less than 32 MB (not measured under ASan or valgrind).
 * Skips (77) outside with-nginx.sh; the bomb part skips (77) while the
 * fixture answers 404 for its route. */
#include "nginx-test.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include "fixture.h"
#include "pokedex.h"

#define N POKEDEX_COUNT
#define BOMB_LIMIT (10u * 1000 * 1000)
#define RSS_GROWTH_MAX (32ull << 20)

typedef struct item_s {
  const char *name;
  char file[600], want[600];
  uint64_t size;
  unsigned calls;
  adl_result_t res;
  char msg[256];
} item_t;

static item_t g_items[N];
static unsigned g_done;
static const char *g_root, *g_log;

static void on_done(adl_request_t *r, const adl_result_t *res) {
  item_t *it = adl_request_get_data(r);
  it->calls++;
  it->res = *res;
  it->res.message = it->res.url = it->res.final_url = NULL;
  snprintf(it->msg, sizeof(it->msg), "%s", res->message);
  g_done++;
}

static void reset_items(void) {
  memset(g_items, 0, sizeof(g_items));
  g_done = 0;
  for (unsigned i = 0; i < N; i++) {
    item_t *it = &g_items[i];
    it->name = pokedex_names[i];
    snprintf(it->want, sizeof(it->want), "%s/api/v2/pokemon/%s", g_root,
             it->name);
    it->size = file_size(it->want);
  }
}

static void start_file(sys_t *s, const char *url, item_t *it,
                       const char *dir) {
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.data = it;
  snprintf(it->file, sizeof(it->file), "%s/%s", dir, it->name);
  ro.sink = ADL_SINK_FILE;
  ro.path = it->file;
  int rc = adl_request_start(s->c, url, &ro, NULL);
  if (rc != 0)
    ADL_FAIL_("adl_request_start %s: %s", url, adl_err_name(rc));
}

/* Every coding listed, in any order ("deflate, gzip, br, zstd"). */
static int lists_coding(const char *ae, const char *coding) {
  size_t n = strlen(coding);
  for (const char *p = ae; (p = strstr(p, coding)) != NULL; p += n) {
    int starts = p == ae || p[-1] == ' ' || p[-1] == ',';
    int ends = p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == ';';
    if (starts && ends)
      return 1;
  }
  return 0;
}

/* All 151 from the gzip port into files, compressed or not. */
static void fetch_all(const char *gzip_base, int no_compress) {
  adl_options_t o;
  adl_options_init(&o);
  o.no_compress = no_compress;
  o.timeout_ms = 60000;
  reset_items();
  char dir[] = "/tmp/adl-gz-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  long mark = ngx_mark(g_log);
  sys_t s;
  sys_open(&s, &o);
  for (unsigned i = 0; i < N; i++) {
    char url[512];
    snprintf(url, sizeof(url), "%s%s", gzip_base, g_items[i].name);
    start_file(&s, url, &g_items[i], dir);
  }
  sys_run(&s, &g_done, N, 60000, no_compress ? "no_compress" : "gzip");
  sys_close(&s);
  static ngx_line_t lines[N + 8];
  unsigned n = ngx_lines(g_log, mark, url_port(gzip_base), N, lines, N + 8);
  ASSERT_EQ(n, N);
  uint64_t bytes = 0, wire = 0;
  for (unsigned i = 0; i < N; i++) {
    item_t *it = &g_items[i];
    ASSERT_EQ(it->calls, 1);
    if (it->res.status != 0)
      ADL_FAIL_("%s: %s (%s)", it->name, adl_err_name(it->res.status),
                it->msg);
    ASSERT_EQ(it->res.http_status, 200);
    expect_same_file(it->file, it->want);
    if (it->res.bytes != it->size)
      ADL_FAIL_("%s: bytes %llu, the decoded document has %llu", it->name,
                (unsigned long long)it->res.bytes,
                (unsigned long long)it->size);
    char uri[256];
    snprintf(uri, sizeof(uri), "/api/v2/pokemon/%s", it->name);
    const ngx_line_t *l = ngx_find(lines, n, uri);
    if (l == NULL)
      ADL_FAIL_("nginx logged no request for %s", uri);
    if (no_compress) {
      if (strcmp(l->ae, "-") != 0)
        ADL_FAIL_("no_compress: %s sent Accept-Encoding \"%s\"", it->name,
                  l->ae);
      if (it->res.wire_bytes != it->res.bytes)
        ADL_FAIL_("no_compress: %s: wire_bytes %llu != bytes %llu", it->name,
                  (unsigned long long)it->res.wire_bytes,
                  (unsigned long long)it->res.bytes);
      ASSERT_EQ(l->sent, it->size);
    } else {
      static const char *const codings[] = {"gzip", "deflate", "br", "zstd"};
      for (unsigned k = 0; k < 4; k++)
        if (!lists_coding(l->ae, codings[k]))
          ADL_FAIL_("%s: Accept-Encoding \"%s\" lacks %s", it->name, l->ae,
                    codings[k]);
      if (it->res.wire_bytes == 0 || it->res.wire_bytes >= it->res.bytes)
        ADL_FAIL_("%s: wire_bytes %llu, decoded %llu: not compressed?",
                  it->name, (unsigned long long)it->res.wire_bytes,
                  (unsigned long long)it->res.bytes);
      /* nginx counts the chunked framing too (12 bytes for one chunk). */
      if (it->res.wire_bytes > l->sent || l->sent - it->res.wire_bytes > 64)
        ADL_FAIL_("%s: wire_bytes %llu, nginx sent a body of %lu", it->name,
                  (unsigned long long)it->res.wire_bytes, l->sent);
    }
    bytes += it->res.bytes;
    wire += it->res.wire_bytes;
  }
  ASSERT_EQ(adl_test_dir_entries(dir), N);
  rm_dir(dir);
  fprintf(stderr, "%s: 151/151 identical, %llu bytes decoded, %llu on the "
                  "wire\n", no_compress ? "no_compress" : "default (gzip)",
          (unsigned long long)bytes, (unsigned long long)wire);
}

/* An ETOOLARGE outcome must name its cause (as test-faults asks of the
 * others), not read like a disk error. Checked at the end, so that the
 * other checks still run. */
static unsigned g_bad_messages;
static void check_too_large_message(const char *msg) {
  if (strcasestr(msg, "size") != NULL || strcasestr(msg, "limit") != NULL ||
      strcasestr(msg, "large") != NULL)
    return;
  fprintf(stderr, "ETOOLARGE with message \"%s\": names no size limit\n",
          msg);
  g_bad_messages++;
}

/* One document with max_size limit: its outcome, and nothing left behind
 * on failure. */
static void fetch_limited(const char *gzip_base, item_t *it, uint64_t limit,
                          int no_compress, int want_status) {
  adl_options_t o;
  adl_options_init(&o);
  o.no_compress = no_compress;
  o.max_size = limit;
  o.retries = 0;
  char dir[] = "/tmp/adl-gzmax-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  sys_t s;
  sys_open(&s, &o);
  char url[512];
  snprintf(url, sizeof(url), "%s%s", gzip_base, it->name);
  g_done = 0;
  it->calls = 0;
  start_file(&s, url, it, dir);
  sys_run(&s, &g_done, 1, 20000, "max_size");
  sys_close(&s);
  fprintf(stderr, "max_size %llu, %s (%llu bytes decoded)%s: %s (%s)\n",
          (unsigned long long)limit, it->name, (unsigned long long)it->size,
          no_compress ? ", no_compress" : "", adl_err_name(it->res.status),
          it->msg);
  if (it->res.status != want_status)
    ADL_FAIL_("max_size %llu on %s (%llu decoded bytes): %s, want %s",
              (unsigned long long)limit, it->name,
              (unsigned long long)it->size, adl_err_name(it->res.status),
              adl_err_name(want_status));
  if (want_status == ADL_ETOOLARGE)
    check_too_large_message(it->msg);
  if (want_status == 0) {
    expect_same_file(it->file, it->want);
  } else {
    ASSERT_EQ(adl_test_dir_entries(dir), 0);
    ASSERT_LE(it->res.bytes, limit);
  }
  rm_dir(dir);
}

static int by_size(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  return x->size < y->size ? -1 : x->size > y->size;
}

/* max_size counts the decoded bytes. Uses the wire sizes of the default
 * run (which must come just before). */
static void test_max_size(const char *gzip_base) {
  item_t sorted[N];
  memcpy(sorted, g_items, sizeof(sorted));
  qsort(sorted, N, sizeof(sorted[0]), by_size);
  item_t big = sorted[N - 1], small = sorted[0];
  uint64_t limit = big.size / 2;
  /* The precondition that makes this a test of decoded bytes. */
  if (big.res.wire_bytes == 0 || big.res.wire_bytes >= limit)
    ADL_FAIL_("%s: gzip body %llu bytes is not under %llu",
              big.name, (unsigned long long)big.res.wire_bytes,
              (unsigned long long)limit);
  ASSERT_LT(small.size, limit);
  fetch_limited(gzip_base, &big, limit, 0, ADL_ETOOLARGE);
  fetch_limited(gzip_base, &small, limit, 0, 0);
  fetch_limited(gzip_base, &big, big.size, 0, 0);
  fetch_limited(gzip_base, &big, big.size - 1, 0, ADL_ETOOLARGE);
  fetch_limited(gzip_base, &big, limit, 1, ADL_ETOOLARGE);
}

/* ---- the gzip bomb, from the in-process fixture ------------------------- */

static uint64_t status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  ASSERT(f != NULL);
  char line[256];
  uint64_t kb = 0;
  size_t n = strlen(field);
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, field, n) == 0 && line[n] == ':')
      kb = strtoull(line + n + 1, NULL, 10);
  fclose(f);
  return kb;
}

/* Restarts the peak (VmHWM) from the current RSS; 0 when it could. */
static int reset_peak_rss(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0)
    return -1;
  int ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok ? 0 : -1;
}

static int under_valgrind(void) {
  const char *w = getenv("ADL_TEST_WRAPPER");
  const char *p = getenv("LD_PRELOAD");
  return (w != NULL && strstr(w, "valgrind") != NULL) ||
         (p != NULL && strstr(p, "vgpreload") != NULL);
}

static void fx_closed(void *arg) { ++*(unsigned *)arg; }

static void fx_wait_idle(sys_t *s, fixture_t *fx) {
  fixture_stats_t st;
  s->fired = 0;
  ASSERT_EQ(uv_timer_start(&s->watchdog, sys_on_watchdog, 10000, 0), 0);
  for (;;) {
    fixture_get_stats(fx, &st);
    if (st.open_connections == 0 || s->fired)
      break;
    uv_run(&s->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&s->watchdog);
  ASSERT_EQ(st.open_connections, 0);
}

/* What one run of the bomb left to check. */
typedef struct bomb_run_s {
  item_t it;
  double ms;
  uint64_t rss0, peak; /* kB: VmRSS before, VmHWM after (VmRSS if the
                          peak could not be reset) */
  unsigned left;       /* files left in the target directory */
} bomb_run_t;

/* GET /fault/gzip-bomb from an in-process fixture into a file, with
 * max_size BOMB_LIMIT; the fds come back once client and fixture close. */
static void run_bomb(bomb_run_t *b) {
  adl_options_t o;
  adl_options_init(&o);
  o.max_size = BOMB_LIMIT;
  o.retries = 0;
  o.timeout_ms = 60000;
  sys_t s;
  sys_open_loop(&s);
  fixture_t *fx;
  /* First, so that the fds counted include its listener and libuv's
   * spare fd for EMFILE that the first listen on a loop opens. */
  ASSERT_EQ(fixture_start(&s.loop, NULL, &fx), 0);
  sys_open_client(&s, &o);
  char url[256], dir[] = "/tmp/adl-bomb-XXXXXX";
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/fault/gzip-bomb",
           fixture_port(fx));
  ASSERT(mkdtemp(dir) != NULL);
  memset(b, 0, sizeof(*b));
  b->it.name = "bomb";
  g_done = 0;
  b->rss0 = status_kb("VmRSS");
  int peak_ok = reset_peak_rss() == 0;
  uint64_t t0 = uv_hrtime();
  start_file(&s, url, &b->it, dir);
  sys_run(&s, &g_done, 1, 60000, "gzip bomb");
  b->ms = (double)(uv_hrtime() - t0) / 1e6;
  b->peak = status_kb(peak_ok ? "VmHWM" : "VmRSS");
  /* The client's fds are gone once it closed and the fixture let go of
   * its side of the connection. */
  sys_close_client(&s);
  fx_wait_idle(&s, fx);
  sys_check_fds(&s);
  unsigned fxc = 0;
  fixture_close(fx, fx_closed, &fxc);
  sys_run(&s, &fxc, 1, 10000, "fixture close");
  sys_close_loop(&s);
  b->left = adl_test_dir_entries(dir);
  rm_dir(dir);
}

/* Returns 77 while the fixture has no such route, else 0. */
static int test_bomb(void) {
  int measure = !UNDER_ASAN && !under_valgrind();
  static bomb_run_t b;
  run_bomb(&b);
  const item_t *it = &b.it;
  if (it->res.http_status == 404) {
    fprintf(stderr, "the fixture has no /fault/gzip-bomb yet: skipping\n");
    return ADL_TEST_SKIP;
  }
  fprintf(stderr,
          "gzip bomb, max_size %u: %s (%s) after %.0f ms, %llu bytes "
          "decoded, %llu on the wire; RSS %llu kB before, peak %llu kB%s\n",
          BOMB_LIMIT, adl_err_name(it->res.status), it->msg, b.ms,
          (unsigned long long)it->res.bytes,
          (unsigned long long)it->res.wire_bytes, (unsigned long long)b.rss0,
          (unsigned long long)b.peak,
          measure ? "" : " (not checked: ASan or valgrind)");
  if (it->res.status != ADL_ETOOLARGE)
    ADL_FAIL_("gzip bomb: %s (%s), want ETOOLARGE",
              adl_err_name(it->res.status), it->msg);
  check_too_large_message(it->msg);
  ASSERT_EQ(b.left, 0); /* the partial file is gone */
  ASSERT_LE(it->res.bytes, BOMB_LIMIT);
  /* Decoding stopped near the limit: the 1 GiB bomb is about 1 MB of
   * gzip, 10 MB of zeros about 10 KB of it; curl reads 16 KB at a time. */
  if (it->res.wire_bytes > 256 * 1024)
    ADL_FAIL_("gzip bomb: %llu wire bytes read before stopping",
              (unsigned long long)it->res.wire_bytes);
  if (measure && b.peak > b.rss0 && (b.peak - b.rss0) * 1024 > RSS_GROWTH_MAX)
    ADL_FAIL_("gzip bomb: RSS grew by %llu kB (limit %llu kB)",
              (unsigned long long)(b.peak - b.rss0),
              (unsigned long long)(RSS_GROWTH_MAX >> 10));
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char *gzip_base = need_env("ADL_NGINX_GZIP");
  g_root = need_env("ADL_NGINX_ROOT");
  g_log = need_env("ADL_NGINX_LOG");
  ASSERT_EQ(adl_library_init(), 0);
  fetch_all(gzip_base, 1);
  fetch_all(gzip_base, 0);
  test_max_size(gzip_base); /* uses the default run's wire sizes */
  int rc = test_bomb();
  adl_library_shutdown();
  if (g_bad_messages > 0)
    ADL_FAIL_("%u ETOOLARGE outcomes did not say why", g_bad_messages);
  if (rc != 0)
    return rc;
  printf("test-compress: passed\n");
  return 0;
}
