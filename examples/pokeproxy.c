/* pokeproxy: a caching HTTP/1.1 proxy for PokeAPI-style documents, built
 * on asyncdl as an example of embedding it in a service. See
 * examples/README.md.
 *
 *   pokeproxy --upstream=http://HOST:PORT [--listen=IP:PORT] [options]
 *
 * GET /pokemon/<name> fetches UPSTREAM/api/v2/pokemon/<name> (coalesced,
 * cached, revalidated with ETag, streamed with backpressure). GET /stats
 * returns counters and the loop's own lateness (?reset=1 starts a new
 * lateness window). The first line on stdout is
 *   pokeproxy: listening on http://IP:PORT/
 * SIGINT or SIGTERM closes everything and exits 0. */
#include "pokeproxy.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loop lateness: a 1 ms repeating timer; a tick's lateness is the time
 * since the previous tick minus 1 ms (bench/host-lateness.c measures the
 * same). 10 us buckets up to 100 ms, then one overflow bucket. */
#define LATE_BUCKET_US 10
#define LATE_BUCKETS 10000

typedef struct {
  uv_timer_t timer;
  uint64_t prev_ns;
  uint64_t ticks, max_us;
  uint32_t counts[LATE_BUCKETS + 1];
} lateness_t;

static px_proxy_t proxy;
static lateness_t late;
static uv_signal_t sigint_h, sigterm_h;

static void on_tick(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  if (late.prev_ns != 0) {
    int64_t ns = (int64_t)(now - late.prev_ns) - 1000000;
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    uint64_t b = us / LATE_BUCKET_US;
    late.counts[b < LATE_BUCKETS ? b : LATE_BUCKETS]++;
    late.ticks++;
    if (us > late.max_us)
      late.max_us = us;
  }
  late.prev_ns = now;
}

/* Upper edge of the bucket holding the given quantile (in thousandths,
 * nearest rank). */
static uint64_t late_quantile(unsigned permille) {
  if (late.ticks == 0)
    return 0;
  uint64_t rank = (late.ticks * permille + 999) / 1000, seen = 0;
  for (size_t b = 0; b < LATE_BUCKETS; b++) {
    seen += late.counts[b];
    if (seen >= rank)
      return (b + 1) * LATE_BUCKET_US;
  }
  return late.max_us;
}

char *px_stats_json(px_proxy_t *px, int reset) {
  const px_stats_t *s = &px->stats;
  char *buf = malloc(2048);
  if (buf == NULL)
    return NULL;
  snprintf(buf, 2048,
           "{\"requests\":%" PRIu64 ",\"upstream_fetches\":%" PRIu64
           ",\"upstream_304\":%" PRIu64 ",\"revalidations\":%" PRIu64
           ",\"cache_hits\":%" PRIu64 ",\"coalesced\":%" PRIu64
           ",\"misses\":%" PRIu64 ",\"not_modified\":%" PRIu64
           ",\"responses_502\":%" PRIu64 ",\"responses_504\":%" PRIu64
           ",\"responses_4xx\":%" PRIu64 ",\"upstream_pauses\":%" PRIu64
           ",\"clients_dropped\":%" PRIu64 ",\"evictions\":%" PRIu64
           ",\"clients\":%" PRIu64 ",\"cache_entries\":%zu"
           ",\"cache_bytes\":%" PRIu64 ",\"lateness_us\":{\"ticks\":%" PRIu64
           ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
           ",\"max\":%" PRIu64 ",\"resolution\":%d}}\n",
           s->requests, s->upstream_fetches, s->upstream_304,
           s->revalidations, s->cache_hits, s->coalesced, s->misses,
           s->not_modified, s->responses_502, s->responses_504,
           s->responses_4xx, s->upstream_pauses, s->clients_dropped,
           s->evictions, s->clients, px->cache.count, px->cache.bytes,
           late.ticks, late_quantile(500), late_quantile(990),
           late_quantile(999), late.max_us, LATE_BUCKET_US);
  if (reset) {
    memset(late.counts, 0, sizeof late.counts);
    late.ticks = late.max_us = 0;
  }
  return buf;
}

/* ---- shutdown ---------------------------------------------------------- */

static void on_client_closed(adl_client_t *c) {
  (void)c;
  proxy.client = NULL;
  px_cache_clear(&proxy.cache);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  fprintf(stderr, "pokeproxy: signal %d, closing\n", signum);
  if (proxy.stopping)
    return;
  px_server_stop(&proxy);
  uv_close((uv_handle_t *)&late.timer, NULL);
  uv_close((uv_handle_t *)&sigint_h, NULL);
  uv_close((uv_handle_t *)&sigterm_h, NULL);
  adl_client_close(proxy.client, on_client_closed);
}

/* ---- options ----------------------------------------------------------- */

static int usage(FILE *f) {
  fprintf(f,
    "usage: pokeproxy --upstream=http://HOST:PORT [options]\n"
    "  --listen=IP:PORT          default 127.0.0.1:8080 (port 0: any)\n"
    "  --path-prefix=PATH        upstream path before the name\n"
    "                            (default /api/v2/pokemon/)\n"
    "  --cacert=FILE             CA bundle for an https upstream\n"
    "  --max-age-ms=N            freshness of a cached answer (60000)\n"
    "  --cache-entries=N         cached answers at most (1024)\n"
    "  --cache-bytes=N           cache memory at most (67108864)\n"
    "  --max-object=N            larger bodies stream through uncached\n"
    "                            (1048576)\n"
    "  --write-bound=N           per-client write queue bound (262144)\n"
    "  --stall-ms=N              over the bound this long while holding\n"
    "                            a streaming body: dropped (1000)\n"
    "  --idle-ms=N               no progress this long: closed (30000)\n"
    "  --upstream-timeout-ms=N   whole upstream request (10000)\n"
    "  --upstream-connections=K  (32)\n"
    "  --max-clients=N           (10000)\n");
  return 2;
}

static int num(const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
    return -1;
  *out = n;
  return 0;
}

static int parse_listen(char *v, px_config_t *cfg) {
  char *colon = strrchr(v, ':');
  uint64_t port;
  if (colon == NULL || num(colon + 1, &port) != 0 || port > 65535)
    return -1;
  *colon = '\0';
  cfg->listen_ip = v;
  cfg->listen_port = (int)port;
  return 0;
}

static int parse_args(int argc, char **argv, px_config_t *cfg) {
  for (int i = 1; i < argc; i++) {
    char *a = argv[i], *v = strchr(a, '=');
    uint64_t n = 0;
    if (strcmp(a, "--help") == 0)
      return usage(stdout), 1;
    if (v == NULL)
      return usage(stderr);
    *v++ = '\0';
    int isnum = num(v, &n) == 0;
/* Every numeric option is a count or a duration; only --max-age-ms may be
 * 0 (never fresh: every request revalidates). */
#define NUMOPT(opt, field, zero_ok)                                        \
  if (strcmp(a, opt) == 0) {                                               \
    if (!isnum || (n == 0 && !(zero_ok)))                                  \
      return fprintf(stderr, "pokeproxy: bad %s\n", opt), 2;               \
    cfg->field = n;                                                        \
    continue;                                                              \
  }
    NUMOPT("--max-age-ms", max_age_ms, 1)
    NUMOPT("--cache-entries", cache_entries, 0)
    NUMOPT("--cache-bytes", cache_bytes, 0)
    NUMOPT("--max-object", max_object, 0)
    NUMOPT("--write-bound", write_bound, 0)
    NUMOPT("--stall-ms", stall_ms, 0)
    NUMOPT("--idle-ms", idle_ms, 0)
    NUMOPT("--upstream-timeout-ms", upstream_timeout_ms, 0)
    NUMOPT("--upstream-connections", upstream_connections, 0)
    NUMOPT("--max-clients", max_clients, 0)
#undef NUMOPT
    if (strcmp(a, "--upstream") == 0) {
      size_t len = strlen(v);
      while (len > 0 && v[len - 1] == '/')
        v[--len] = '\0';
      cfg->upstream = v;
    } else if (strcmp(a, "--path-prefix") == 0) {
      cfg->path_prefix = v;
    } else if (strcmp(a, "--cacert") == 0) {
      cfg->cacert = v;
    } else if (strcmp(a, "--listen") == 0) {
      if (parse_listen(v, cfg) != 0)
        return fprintf(stderr, "pokeproxy: bad --listen\n"), 2;
    } else {
      return usage(stderr);
    }
  }
  if (cfg->upstream == NULL)
    return fprintf(stderr, "pokeproxy: --upstream is required\n"), 2;
  if (cfg->max_object > cfg->cache_bytes)
    cfg->max_object = cfg->cache_bytes;
  return 0;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "pokeproxy: %s: %s\n", what, adl_strerror(rc));
  return 1;
}

int main(int argc, char **argv) {
  px_config_t *cfg = &proxy.cfg;
  *cfg = (px_config_t){
      .path_prefix = "/api/v2/pokemon/", .listen_ip = "127.0.0.1",
      .listen_port = 8080, .max_age_ms = 60000, .cache_entries = 1024,
      .cache_bytes = 64u << 20, .max_object = 1u << 20,
      .write_bound = 256u << 10, .stall_ms = 1000, .idle_ms = 30000,
      .upstream_timeout_ms = 10000, .upstream_connections = 32,
      .max_clients = 10000};
  int rc = parse_args(argc, argv, cfg);
  if (rc != 0)
    return rc == 1 ? 0 : rc;
  signal(SIGPIPE, SIG_IGN);

  uv_loop_t loop;
  uv_loop_init(&loop);
  proxy.loop = &loop;
  if ((rc = adl_library_init()) != 0)
    return fail("adl_library_init", rc);
  adl_options_t o;
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_PARALLEL;
  o.max_connections = cfg->upstream_connections;
  o.max_per_host = cfg->upstream_connections;
  o.timeout_ms = cfg->upstream_timeout_ms;
  o.retries = 0;
  o.no_compress = 1; /* bodies pass through as the upstream's Content-Length
                        says; decoding would change their length */
  o.cacert = cfg->cacert;
  o.user_agent = "pokeproxy (asyncdl/" ADL_VERSION_STRING ")";
  if ((rc = adl_client_new(&loop, &o, &proxy.client)) != 0)
    return fail("adl_client_new", rc);
  if ((rc = px_cache_init(&proxy.cache, cfg->cache_entries, cfg->cache_bytes,
                          &proxy.stats)) != 0)
    return fail("cache", rc);

  int port = 0;
  if ((rc = px_server_start(&proxy, &port)) != 0)
    return fail("listen", rc);
  uv_timer_init(&loop, &late.timer);
  uv_timer_start(&late.timer, on_tick, 1, 1);
  uv_signal_init(&loop, &sigint_h);
  uv_signal_start(&sigint_h, on_signal, SIGINT);
  uv_signal_init(&loop, &sigterm_h);
  uv_signal_start(&sigterm_h, on_signal, SIGTERM);
  printf("pokeproxy: listening on http://%s:%d/ (upstream %s%s)\n",
         cfg->listen_ip, port, cfg->upstream, cfg->path_prefix);
  fflush(stdout);

  uv_run(&loop, UV_RUN_DEFAULT);
  px_cache_free(&proxy.cache);
  rc = uv_loop_close(&loop);
  adl_library_shutdown();
  if (rc != 0)
    return fail("uv_loop_close", rc);
  return 0;
}
