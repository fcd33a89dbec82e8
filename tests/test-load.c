/* Load: 1,000 concurrent connections to a real nginx on loopback (from
 * with-nginx.sh), 3,000 distinct documents in one batch. Every item has
 * one successful outcome, the pool really went wide, and once the client
 * has closed, the process holds exactly the file descriptors it held
 * before: no socket, poll or timer leaks. Skips (77) without nginx. */
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
  adl_library_shutdown();
  printf("test-load: passed\n");
  return 0;
}
