/* Load: 1,000 concurrent connections to a real nginx on loopback (from
 * with-nginx.sh), 3,000 distinct documents in one batch. Every item has
 * one successful outcome, the pool really went wide, and once the client
 * has closed, the process holds exactly the file descriptors it held
 * before: no socket, poll or timer leaks. Then TLS: the connections of one
 * client resume the TLS session of its first (nginx logs "r" per resumed
 * connection in tls.log beside the document root), serial's never do.
 * Skips (77) without nginx. */
#include "adl-test.h"

#include <signal.h>
#include "asyncdl.h"

#include <dirent.h>
#include <sys/resource.h>

#define ITEMS 3000
#define CONNS 1000

static char g_urls[ITEMS][160];
static unsigned g_next;
static adl_summary_t g_sum;
static int g_done, g_closed;

static unsigned count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  ASSERT(d != NULL);
  unsigned n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static int next(adl_batch_t *b, const char **url, const char **path,
                void **item) {
  (void)b;
  (void)path;
  if (g_next >= ITEMS)
    return 0;
  *item = NULL;
  *url = g_urls[g_next++];
  return 1;
}

static void on_result(adl_batch_t *b, void *item, const adl_result_t *res) {
  (void)b;
  (void)item;
  if (res->status != 0)
    fprintf(stderr, "%s: %s (%s)\n", res->url, adl_err_name(res->status),
            res->message);
}

static void on_done(adl_batch_t *b, const adl_summary_t *s) {
  (void)b;
  g_sum = *s;
  g_done = 1;
}

static void on_closed(adl_client_t *c) {
  (void)c;
  g_closed = 1;
}

static int g_tls_done;
static void on_tls_done(adl_request_t *r, const adl_result_t *res) {
  (void)r;
  if (res->status != 0)
    fprintf(stderr, "%s: %s (%s)\n", res->url, adl_err_name(res->status),
            res->message);
  ASSERT_EQ(res->status, 0);
  if (getenv("ADL_TLS_DEBUG"))
    fprintf(stderr, "  %s: new=%u port=%d\n", res->url, res->new_connections,
            res->local_port);
  g_tls_done++;
}

static unsigned count_lines(const char *log) {
  FILE *f = fopen(log, "r");
  ASSERT(f != NULL);
  unsigned n = 0;
  int ch;
  while ((ch = getc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

/* Connections nginx saw since the log was emptied: full and resumed. nginx
 * writes a request's line after its response went out, so wait (2 s at
 * most) until all `requests` lines are there. */
static void tls_counts(const char *log, unsigned requests, unsigned *full,
                       unsigned *resumed) {
  *full = *resumed = 0;
  for (int i = 0; i < 200 && count_lines(log) < requests; i++)
    uv_sleep(10);
  ASSERT_EQ(count_lines(log), requests);
  FILE *f = fopen(log, "r");
  ASSERT(f != NULL);
  char line[128], seen[64][32];
  unsigned nseen = 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    char conn[32], flag[8];
    if (sscanf(line, "%31s %7s", conn, flag) != 2)
      continue;
    int dup = 0;
    for (unsigned i = 0; i < nseen; i++)
      dup |= strcmp(seen[i], conn) == 0;
    if (dup || nseen == 64)
      continue;
    snprintf(seen[nseen++], sizeof(seen[0]), "%s", conn);
    if (getenv("ADL_TLS_DEBUG"))
      fprintf(stderr, "  log: %s", line);
    if (strcmp(flag, "r") == 0)
      ++*resumed;
    else
      ++*full;
  }
  fclose(f);
  f = fopen(log, "w"); /* empty it for the next run */
  ASSERT(f != NULL);
  fclose(f);
}

/* One request, then 6 slow ones at once: one takes the first connection,
 * the others need new ones that, but for serial's, resume the client's
 * TLS session. */
static void test_tls_resume(adl_strategy_t s, const char *https,
                            const char *ca, const char *log) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = s;
  o.cacert = ca;
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_tls_done;
  char url[200];
  g_tls_done = 0;
  snprintf(url, sizeof(url), "%smew", https);
  ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(g_tls_done, 1);
  /* Slow 20 KB documents (about 1 s each), so the six overlap and
   * five need connections of their own: at RTT 0 curl would otherwise run
   * them one after another on the first connection. */
  const char *api = strstr(https, "api/v2/pokemon/");
  ASSERT(api != NULL);
  for (int i = 1; i <= 6; i++) {
    snprintf(url, sizeof(url), "%.*sslow/nidoking?i=%d", (int)(api - https),
             https, i);
    ASSERT_EQ(adl_request_start(c, url, &ro, NULL), 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(g_tls_done, 7);
  g_closed = 0;
  adl_client_close(c, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  unsigned full, resumed;
  tls_counts(log, 7, &full, &resumed);
  fprintf(stderr, "tls %s: %u full handshakes, %u resumed\n",
          adl_strategy_name(s), full, resumed);
  if (s == ADL_STRATEGY_SERIAL) {
    ASSERT_EQ(full, 7);
    ASSERT_EQ(resumed, 0);
  } else {
    /* A new connection racing a ticket refresh may still do a full
     * handshake: what must hold is that the client shares its sessions. */
    ASSERT_GE(resumed, 1);
    ASSERT_EQ(full + resumed, 6);
  }
}

int main(void) {
  /* A peer closing first must not kill the test: ignore SIGPIPE, as any
   * program writing to sockets with libuv should. */
  signal(SIGPIPE, SIG_IGN);
  const char *base = getenv("ADL_NGINX_HTTP");
  if (base == NULL) {
    fprintf(stderr, "ADL_NGINX_HTTP not set (run via with-nginx.sh)\n");
    return ADL_TEST_SKIP;
  }
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < CONNS + 256) {
    rl.rlim_cur = rl.rlim_max < CONNS + 256 ? rl.rlim_max : CONNS + 256;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < CONNS + 64) {
      fprintf(stderr, "open-file limit too low for %d connections\n", CONNS);
      return ADL_TEST_SKIP;
    }
  }
  for (unsigned i = 0; i < ITEMS; i++)
    snprintf(g_urls[i], sizeof(g_urls[i]), "%sextra-%u", base, i + 1);

  ASSERT_EQ(adl_library_init(), 0);
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  unsigned fds_before = count_fds();
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_PARALLEL;
  o.max_connections = CONNS;
  /* All at once: this test is about 1,000 sockets open together, not
   * about pacing the handshakes (the default connects_per_pass would let
   * fast answers reuse connections instead of opening new ones). */
  o.starts_per_pass = CONNS;
  o.connects_per_pass = CONNS;
  adl_client_t *c;
  ASSERT_EQ(adl_client_new(&loop, &o, &c), 0);
  adl_batch_opts_t bo;
  adl_batch_opts_init(&bo);
  bo.next = next;
  bo.result = on_result;
  bo.done = on_done;
  ASSERT_EQ(adl_batch_start(c, &bo, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(g_done, 1);
  ASSERT_EQ(g_sum.requests, ITEMS);
  ASSERT_EQ(g_sum.ok, ITEMS);
  /* The window really was wide: far more than a handful of connections. */
  ASSERT_GE(g_sum.connections, CONNS / 2);
  ASSERT_LE(g_sum.connections, ITEMS);
  unsigned fds_busy = count_fds();
  adl_client_close(c, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(g_closed, 1);
  unsigned fds_after = count_fds();
  fprintf(stderr,
          "load: %llu requests, %llu connections, %.0f req/s; fds %u before, "
          "%u idle-open, %u after close\n",
          (unsigned long long)g_sum.requests,
          (unsigned long long)g_sum.connections, g_sum.requests_per_s,
          fds_before, fds_busy, fds_after);
  ASSERT_EQ(fds_after, fds_before);
  ASSERT_EQ(uv_loop_close(&loop), 0);

  const char *https = getenv("ADL_NGINX_HTTPS"), *root = getenv("ADL_NGINX_ROOT");
  if (https != NULL && root != NULL) {
    char log[512];
    snprintf(log, sizeof(log), "%s/../tls.log", root);
    FILE *f = fopen(log, "w");
    ASSERT(f != NULL);
    fclose(f);
    test_tls_resume(ADL_STRATEGY_PARALLEL, https, getenv("ADL_NGINX_CA"), log);
    test_tls_resume(ADL_STRATEGY_SERIAL, https, getenv("ADL_NGINX_CA"), log);
  }
  adl_library_shutdown();
  printf("test-load: passed\n");
  return 0;
}
